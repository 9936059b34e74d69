//! The secrets store: init, keygen, ssh-to-age, add, show, list, rm, host.
//!
//! Values of secrets come from a hidden prompt, standard input or a file,
//! never from the command line, and are never printed except by `show`.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;
use secrets_core::keys::discovery::ProcessEnv;
use secrets_core::keys::ssh_to_age;
use secrets_core::ops::rotate_store::Job;
use secrets_core::ops::secrets::{self as store, generate::Kind, AddInputs};
use secrets_core::repo::Store;
use secrets_core::Error;
use zeroize::Zeroizing;

use super::maintain::lock_and_recover;
use super::{identities, read_input, Context};
use crate::cli::secrets::{
    AddArgs, HostAction, HostArgs, InitArgs, KeygenArgs, ListArgs, RmArgs, ShowArgs, SshToAgeArgs,
};
use crate::error::CliError;
use crate::output::write_stdout;
use crate::ui;

fn user_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| store::hosts::valid_host_name(u))
        .unwrap_or_else(|| "me".into())
}

/// `list` and `host list` read recipients from the files: while a
/// store-wide change is half done they show a mix of old and new, so say
/// so (`validate` names the command that finishes it, E081).
fn warn_if_interrupted(ctx: &Context, repo: &Store) {
    if secrets_core::ops::rotate_store::pending(&repo.root) {
        eprintln!(
            "nsec: warning: a store-wide change (rotate, revoke or host add/rm) was interrupted and is not finished; see: nsec validate --keyless --dir {}",
            crate::error::shell_quote(&crate::output::display_path(&ctx.cwd, &repo.root))
        );
    }
}

fn shown(ctx: &Context, p: &Path) -> String {
    p.strip_prefix(&ctx.cwd).unwrap_or(p).display().to_string()
}

// ------------------------------------------------------------------- init

/// `nsec init`.
pub fn init(ctx: &Context, args: &InitArgs) -> Result<(), CliError> {
    let dir = secrets_core::rules::absolute(
        &ctx.cwd,
        args.dir.as_deref().unwrap_or(Path::new("secrets")),
    );
    let identity = store::default_identity_file(&ProcessEnv).ok_or_else(|| {
        CliError::Other(
            "cannot tell where your age identity goes: set HOME or SOPS_AGE_KEY_FILE".into(),
        )
    })?;
    let name = args.name.clone().unwrap_or_else(user_name);
    let out = store::init(&dir, &identity, &name)?;
    if out.identity_created {
        eprintln!(
            "Created your age identity in {} (keep it safe, back it up)",
            out.identity.display()
        );
    } else {
        eprintln!(
            "Using your existing age identity in {}",
            out.identity.display()
        );
    }
    if out.config_created {
        eprintln!(
            "Created {} with rules for api-keys/ and ssh-keys/",
            shown(ctx, &out.config)
        );
    } else {
        eprintln!("{} exists already; left unchanged", shown(ctx, &out.config));
    }
    eprintln!("Your public key:");
    write_stdout(format!("{}\n", out.recipient).as_bytes())
}

// ----------------------------------------------------------------- keygen

/// `nsec keygen`.
pub fn keygen(_ctx: &Context, args: &KeygenArgs) -> Result<(), CliError> {
    let (text, public) = if args.pq {
        store::new_pq_identity_file()?
    } else {
        store::new_identity_file()
    };
    match &args.output {
        None => write_stdout(text.as_bytes()),
        Some(p) => {
            secrets_core::fs::write_new(p, text.as_bytes(), 0o600)?;
            eprintln!("Public key: {public}");
            Ok(())
        }
    }
}

// ------------------------------------------------------------- ssh-to-age

/// `nsec ssh-to-age`.
pub fn ssh_to_age(_ctx: &Context, args: &SshToAgeArgs) -> Result<(), CliError> {
    let input = Zeroizing::new(read_input(&args.input)?);
    let out = if args.private_key {
        let id = ssh_to_age::ssh_private_to_age(&input)?;
        Zeroizing::new(format!("{}\n", id.expose_secret()))
    } else {
        let text = String::from_utf8_lossy(&input);
        Zeroizing::new(format!("{}\n", store::host_recipient(None, Some(&text))?))
    };
    match &args.output {
        None => write_stdout(out.as_bytes()),
        Some(p) => Ok(secrets_core::fs::write_atomic(
            p,
            out.as_bytes(),
            if args.private_key { 0o600 } else { 0o644 },
        )?),
    }
}

// -------------------------------------------------------------------- add

/// Asks for a secret twice on the terminal until both entries agree.
pub fn ask_secret(label: &str) -> Result<Zeroizing<String>, CliError> {
    for attempt in 0..3 {
        if attempt > 0 {
            eprintln!("The values do not match; try again.");
        }
        let hidden = |prompt: String| {
            crate::ui::read_hidden(&prompt).map_err(|e| match e {
                crate::ui::HiddenReadError::Interrupted => CliError::Interrupted,
                crate::ui::HiddenReadError::NoTerminal(e) => {
                    CliError::Other(format!("cannot read the value from the terminal: {e}"))
                }
            })
        };
        let first = hidden(format!("{label}: "))?;
        let second = hidden(format!("{label} (again): "))?;
        if first == second {
            return Ok(first);
        }
    }
    Err(CliError::Other(
        "the values did not match three times; nothing was written".into(),
    ))
}

/// `nsec add`.
pub fn add(ctx: &Context, args: &AddArgs) -> Result<(), CliError> {
    let repo = ctx.repo(&args.store)?;
    let kind = args
        .generate
        .as_deref()
        .map(|g| Kind::from_name(g, args.length, args.charset.as_deref()))
        .transpose()?;
    if kind.is_none() && (args.length.is_some() || args.charset.is_some()) {
        return Err(CliError::Usage(
            "--length and --charset need --generate".into(),
        ));
    }
    let plan = store::plan_add(
        &repo,
        &ctx.cwd,
        &args.name,
        args.template.as_deref(),
        kind,
        args.force,
    )
    .map_err(|e| match e {
        e @ secrets_core::Error::AlreadyExists(_) => {
            CliError::Hinted(e, "to replace it, add --force")
        }
        e => e.into(),
    })?;
    let mut fields = Vec::new();
    for f in &args.field {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("--field `{f}`: expected KEY=VALUE")))?;
        if plan.secret_inputs().any(|p| p.key == k)
            || plan.fields.iter().any(|p| p.key == k && p.field.secret)
        {
            return Err(CliError::Usage(format!(
                "field `{k}` is secret: its value is never taken from the command line (use the prompt, stdin or --from-file)"
            )));
        }
        fields.push((k.to_string(), v.to_string()));
    }
    let secret_inputs: Vec<_> = plan
        .secret_inputs()
        .map(|f| (f.key.clone(), f.field.prompt.clone()))
        .collect();
    let terminal = std::io::stdin().is_terminal();
    let mut secrets = Vec::new();
    let mut verbatim = false;
    if let Some(file) = &args.from_file {
        if args.generate.is_some() {
            return Err(CliError::Usage(
                "--from-file and --generate exclude each other".into(),
            ));
        }
        if secret_inputs.len() != 1 {
            return Err(CliError::Usage(format!(
                "--from-file gives one value, but template `{}` asks for {} secret fields",
                plan.template.name,
                secret_inputs.len()
            )));
        }
        let bytes = Zeroizing::new(read_input(&file.to_string_lossy())?);
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
            CliError::Other(format!("{}: the value is not UTF-8 text", file.display()))
        })?;
        secrets.push((secret_inputs[0].0.clone(), Zeroizing::new(text)));
        verbatim = true;
    } else if !secret_inputs.is_empty() && terminal {
        for (key, prompt) in &secret_inputs {
            let label = if secret_inputs.len() == 1 && *key == plan.fields[0].key {
                format!("{prompt} for {}", plan.name)
            } else {
                format!("{prompt} ({key}) for {}", plan.name)
            };
            secrets.push((key.clone(), ask_secret(&label)?));
        }
    } else if !secret_inputs.is_empty() {
        let mut buf = Zeroizing::new(Vec::new());
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| CliError::Other(format!("cannot read standard input: {e}")))?;
        let text = Zeroizing::new(
            String::from_utf8(buf.to_vec())
                .map_err(|_| CliError::Other("standard input is not UTF-8 text".into()))?,
        );
        if secret_inputs.len() == 1 {
            secrets.push((secret_inputs[0].0.clone(), text));
        } else {
            let lines: Vec<&str> = text.lines().collect();
            if lines.len() != secret_inputs.len() {
                return Err(CliError::Other(format!(
                    "template `{}` asks for {} secret values ({}); give one per line on standard input",
                    plan.template.name,
                    secret_inputs.len(),
                    secret_inputs.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            for ((k, _), l) in secret_inputs.iter().zip(lines) {
                secrets.push((k.clone(), Zeroizing::new(l.to_string())));
            }
        }
    }
    for pf in plan.plain_inputs() {
        if fields.iter().any(|(k, _)| *k == pf.key) {
            continue;
        }
        if terminal {
            let default = pf.field.default.clone();
            let prompt = match &default {
                Some(d) => format!("{} [{d}]: ", pf.field.prompt),
                None => format!("{}: ", pf.field.prompt),
            };
            let answer = ui::ask_line(&prompt).ok_or(CliError::Interrupted)?;
            let answer = if answer.is_empty() {
                default.unwrap_or_default()
            } else {
                answer
            };
            fields.push((pf.key.clone(), answer));
        }
    }
    let outcome = store::add(
        &repo,
        &plan,
        AddInputs {
            secrets,
            fields,
            user: user_name(),
            verbatim,
        },
        args.force,
    )?;
    let names: Vec<String> = plan
        .encrypt
        .key_groups
        .iter()
        .flat_map(|g| g.names())
        .map(|r| repo.config.name_of(&r).map(str::to_string).unwrap_or(r))
        .collect();
    eprintln!(
        "Added {} ({}), encrypted for {}",
        plan.name,
        shown(ctx, &outcome.path),
        names.join(", ")
    );
    for (k, v) in &outcome.public {
        eprintln!("Public key ({k}): {v}");
    }
    for (secret, prefix) in &outcome.pinned {
        eprintln!(
            "Kept {secret} deployed as `{prefix}`: pinned under nsec.nix in .sops.yaml (commit it with the new secret)"
        );
    }
    for note in &outcome.notes {
        eprintln!("note: {}", crate::output::nix_note(ctx, note));
    }
    eprintln!(
        "sops-nix declaration (as `nsec nix` declares it; paths relative to {}):",
        crate::output::display_path(&ctx.cwd, &secrets_core::ops::nix::default_base(&repo))
    );
    write_stdout(outcome.nix.as_bytes())
}

// ------------------------------------------------------------------- show

/// `nsec show`.
pub fn show(ctx: &Context, args: &ShowArgs) -> Result<(), CliError> {
    let repo = ctx.repo(&args.store)?;
    let mut value = store::show(&repo, &args.name, args.field.as_deref(), &identities())?;
    if !value.ends_with('\n') {
        value.push('\n');
    }
    write_stdout(value.as_bytes())
}

// ------------------------------------------------------------------- list

/// `nsec list`.
pub fn list(ctx: &Context, args: &ListArgs) -> Result<(), CliError> {
    let repo = ctx.repo(&args.store)?;
    warn_if_interrupted(ctx, &repo);
    let infos = store::list(&repo, &ctx.cwd)?;
    if args.json {
        let items: Vec<serde_json::Value> = infos
            .iter()
            .map(|i| {
                serde_json::json!({
                    "name": i.name,
                    "file": i.path.strip_prefix(&repo.root).unwrap_or(&i.path).display().to_string(),
                    "format": i.format.name(),
                    "recipients": i.recipients.iter().map(|r| serde_json::json!({
                        "recipient": r.key,
                        "name": r.name,
                    })).collect::<Vec<_>>(),
                    "lastmodified": i.lastmodified,
                    "status": i.status.code(),
                })
            })
            .collect();
        let mut s = serde_json::to_string_pretty(&items).unwrap_or_default();
        s.push('\n');
        return write_stdout(s.as_bytes());
    }
    let rows: Vec<[String; 5]> = infos
        .iter()
        .map(|i| {
            let recipients = i
                .recipients
                .iter()
                .map(|r| r.name.clone().unwrap_or_else(|| short(&r.key)))
                .collect::<Vec<_>>()
                .join(",");
            [
                i.name.clone(),
                i.format.name().to_string(),
                if recipients.is_empty() {
                    "-".into()
                } else {
                    recipients
                },
                i.lastmodified.clone().unwrap_or_else(|| "-".into()),
                i.status.label(),
            ]
        })
        .collect();
    let header = ["NAME", "FORMAT", "RECIPIENTS", "LAST MODIFIED", "STATUS"].map(String::from);
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(n, (c, w))| {
                if n == 4 {
                    c.clone()
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    write_stdout(out.as_bytes())
}

fn short(key: &str) -> String {
    if key.len() > 16 {
        format!("{}…", &key[..12])
    } else {
        key.to_string()
    }
}

// --------------------------------------------------------------------- rm

/// `nsec rm`.
pub fn rm(ctx: &Context, args: &RmArgs) -> Result<(), CliError> {
    let repo = ctx.repo(&args.store)?;
    let path = repo.secret_path(&args.name)?;
    if !path.is_file() {
        return Err(Error::SecretNotFound {
            name: args.name.clone(),
            path,
        }
        .into());
    }
    if !args.yes && !ui::confirm(&format!("Remove {} ({})?", args.name, shown(ctx, &path))) {
        return Err(CliError::Other(
            "not removed (confirm on a terminal, or pass --yes)".into(),
        ));
    }
    let removed = store::remove(&repo, &args.name)?;
    eprintln!("Removed {}", shown(ctx, &removed));
    Ok(())
}

// ------------------------------------------------------------------- host

/// A path as a shell word: unchanged when it has only safe characters,
/// else single-quoted (so a printed command works when pasted).
fn shell_word(s: &str) -> String {
    let safe = !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./+,:@=%-".contains(c));
    if safe {
        s.to_string()
    } else if s.starts_with('-') {
        shell_word(&format!("./{s}"))
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The command that re-keys `files` for their rules.
fn updatekeys_command(ctx: &Context, files: &[PathBuf]) -> String {
    let words: Vec<String> = files.iter().map(|f| shell_word(&shown(ctx, f))).collect();
    format!("nsec updatekeys -y {}", words.join(" "))
}

/// `nsec host`.
pub fn host(ctx: &Context, args: &HostArgs) -> Result<(), CliError> {
    // The store lock is held to the end: one store-wide change at a time,
    // after an interrupted one is finished or undone.
    let (plan, yes, _store_lock) = match &args.action {
        HostAction::Add {
            name,
            age,
            ssh_key,
            only,
            yes,
            store: dir,
        } => {
            let ssh_text = ssh_key
                .as_deref()
                .map(|f| read_input(f).map(|b| String::from_utf8_lossy(&b).into_owned()))
                .transpose()?;
            let recipient = store::host_recipient(age.as_deref(), ssh_text.as_deref())?;
            let (lock, repo, done) = lock_and_recover(ctx.repo(dir)?)?;
            if let Some(job) = done.filter(|j| j.is("host add", name) && j.recipient == recipient) {
                return host_job_finished(ctx, &repo, &job);
            }
            let plan = store::plan_host_add(&repo, &ctx.cwd, name, &recipient, only.as_deref())?;
            (plan, *yes, lock)
        }
        HostAction::Rm {
            name,
            yes,
            store: dir,
        } => {
            let (lock, repo, done) = lock_and_recover(ctx.repo(dir)?)?;
            if let Some(job) = done.filter(|j| j.is("host rm", name)) {
                return host_job_finished(ctx, &repo, &job);
            }
            (store::plan_host_rm(&repo, &ctx.cwd, name)?, *yes, lock)
        }
        HostAction::List { json, store: dir } => return host_list(ctx, &ctx.repo(dir)?, *json),
    };
    let config = shown(ctx, &plan.repo.config.path);
    let rekey = if plan.out_of_date.is_empty() {
        false
    } else {
        eprintln!("These secrets' recipients will be out of date:");
        for i in &plan.out_of_date {
            eprintln!("  {}", i.name);
        }
        yes || ui::confirm("Update them now (needs your identity)?")
    };
    let ids = identities();
    let change = store::apply_host_plan(&plan, rekey.then_some(&ids))
        .map_err(|e| super::maintain::unfinished(&plan.repo.root, e))?;
    let names: Vec<String> = plan.out_of_date.iter().map(|i| i.name.clone()).collect();
    host_changed(&plan.job(), &config, &names);
    for path in &change.updated {
        eprintln!("  updated {}", shown(ctx, path));
    }
    if change.out_of_date.is_empty() {
        if change.updated.is_empty() {
            eprintln!("No secret needs new recipients.");
        }
        return Ok(());
    }
    let files: Vec<PathBuf> = change.out_of_date.iter().map(|i| i.path.clone()).collect();
    eprintln!("Not updated. To re-key them (needs your identity):");
    eprintln!("  {}", updatekeys_command(ctx, &files));
    Ok(())
}

/// Says what `host add/rm` did; `out_of_date` are the secrets whose
/// recipients the change affects.
fn host_changed(job: &Job, config: &str, out_of_date: &[String]) {
    let name = job.name.as_deref().unwrap_or_default();
    if job.command == "host add" {
        eprintln!("Added host {name} ({}) to {config}", job.recipient);
        return;
    }
    eprintln!("Removed host {name} ({}) from {config}", job.recipient);
    if !out_of_date.is_empty() {
        let names: Vec<String> = out_of_date
            .iter()
            .map(|n| crate::error::shell_quote(n))
            .collect();
        eprintln!(
            "Note: updating re-wraps the existing data keys; a removed host that kept a copy of a file can still read it. New data keys cut it off (and change the secrets at their source too): nsec rotate --yes {}",
            names.join(" ")
        );
    }
}

/// A rerun of a `host add/rm` whose commit was interrupted: recovery has
/// just completed it.
fn host_job_finished(ctx: &Context, repo: &Store, job: &Job) -> Result<(), CliError> {
    host_changed(job, &shown(ctx, &repo.config.path), &job.secrets);
    for name in &job.secrets {
        eprintln!("  updated {name}");
    }
    Ok(())
}

/// `nsec host list`.
fn host_list(ctx: &Context, repo: &Store, json: bool) -> Result<(), CliError> {
    warn_if_interrupted(ctx, repo);
    let hosts = store::host_list(repo, &ctx.cwd)?;
    if json {
        let items: Vec<serde_json::Value> = hosts
            .iter()
            .map(|h| {
                serde_json::json!({
                    "name": h.name,
                    "recipient": h.recipient,
                    "can_read": h.can_read,
                    "not_yet": h.pending_names,
                })
            })
            .collect();
        let mut s = serde_json::to_string_pretty(&items).unwrap_or_default();
        s.push('\n');
        return write_stdout(s.as_bytes());
    }
    let mut out = String::new();
    let width = hosts
        .iter()
        .map(|h| h.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut pending: Vec<PathBuf> = Vec::new();
    for h in &hosts {
        let list = |v: &[String]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(", ")
            }
        };
        out.push_str(&format!("{:<width$}  {}\n", h.name, h.recipient));
        out.push_str(&format!(
            "{:<width$}    can read: {}\n",
            "",
            list(&h.can_read)
        ));
        if !h.pending_names.is_empty() {
            out.push_str(&format!(
                "{:<width$}    not yet:  {}\n",
                "",
                list(&h.pending_names)
            ));
        }
        for p in &h.pending {
            if !pending.contains(p) {
                pending.push(p.clone());
            }
        }
    }
    write_stdout(out.as_bytes())?;
    if !pending.is_empty() {
        pending.sort();
        eprintln!("To re-key the files not yet readable (needs your identity):");
        eprintln!("  {}", updatekeys_command(ctx, &pending));
    }
    Ok(())
}
