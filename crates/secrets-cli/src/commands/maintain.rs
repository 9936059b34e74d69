//! validate, store-wide rotate, revoke, nix and git: operations across the
//! whole store. The work is in `secrets_core::ops::{validate,
//! rotate_store, revoke, integrate}`; this module parses, asks, prints.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use secrets_core::fs::FileLock;
use secrets_core::keys::discovery::ProcessEnv;
use secrets_core::ops::integrate::{self, MergeOutcome};
use secrets_core::ops::revoke as revoke_op;
use secrets_core::ops::rotate_store::{self, Job, Plan, Recovery, Selection};
use secrets_core::ops::validate::{self, Severity, ValidateOptions};
use secrets_core::repo::{self, Store};
use secrets_core::{Callbacks, Progress};

use super::{identities, Context};
use crate::cli::keys::RotateArgs;
use crate::cli::maintain::{GitArgs, GitCommand, NixArgs, RevokeArgs, ValidateArgs};
use crate::error::CliError;
use crate::output::write_stdout;

fn store_root(ctx: &Context, dir: Option<&Path>) -> Result<PathBuf, CliError> {
    Ok(repo::find_root(dir, None, &ctx.cwd)?)
}

fn open_repo(ctx: &Context, dir: Option<&Path>) -> Result<Store, CliError> {
    Ok(Store::open(&store_root(ctx, dir)?)?)
}

/// `nsec validate`: exit 0 when clean (warnings allowed), 1 on problems.
pub fn validate(ctx: &Context, args: &ValidateArgs) -> Result<(), CliError> {
    let root = store_root(ctx, args.store.dir.as_deref())?;
    let ids = (!args.keyless).then(identities);
    let only = if args.staged {
        Some(integrate::staged_files(&root)?)
    } else {
        None
    };
    let env = ProcessEnv;
    let opts = ValidateOptions {
        host: args.host.clone(),
        only,
        identities: ids.as_ref(),
        env: Some(&env),
        now: None,
        cwd: Some(ctx.cwd.clone()),
    };
    let report = validate::validate(&root, &opts);
    if args.json {
        let mut text = serde_json::to_string_pretty(&report.to_json()).expect("serialisable");
        text.push('\n');
        write_stdout(text.as_bytes())?;
    } else {
        let mut text = String::new();
        for p in &report.problems {
            let sev = match p.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let file = p
                .file
                .as_ref()
                .map(|f| f.display().to_string())
                .unwrap_or_default();
            let key = p.key.as_ref().map(|k| format!(" {k}")).unwrap_or_default();
            text.push_str(&format!(
                "{} {} [{}] {file}{key}: {}\n    fix: {}\n",
                p.code, sev, p.name, p.message, p.fix
            ));
        }
        let errors = report
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        let warnings = report.problems.len() - errors;
        text.push_str(&format!(
            "{} files checked: {errors} problems, {warnings} warnings\n",
            report.files_checked
        ));
        write_stdout(text.as_bytes())?;
    }
    if report.has_errors() {
        return Err(CliError::Child(1));
    }
    Ok(())
}

/// Progress on stderr: a bar on a terminal, nothing otherwise.
struct Bar {
    tty: bool,
}

impl Callbacks for Bar {
    fn progress(&self, event: Progress<'_>) {
        let Progress::FilePrepared { done, total, name } = event else {
            return;
        };
        if self.tty {
            let width = 30;
            let filled = (done * width).checked_div(total).unwrap_or(width);
            eprint!(
                "\r[{}{}] {done}/{total} {name:<40.40}",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
            if done == total {
                eprintln!();
            }
        }
    }
}

fn print_recovery(r: &Recovery, job: Option<&Job>) {
    let what = match job {
        Some(j) => format!(
            "`nsec {} {}`",
            j.command,
            j.name.as_deref().unwrap_or(&j.recipient)
        ),
        None => "rotation".into(),
    };
    match r {
        Recovery::Clean => {}
        Recovery::RolledBack(n) => eprintln!(
            "nsec: an interrupted {what} was rolled back ({n} prepared files removed; no file was changed)"
        ),
        Recovery::Completed(n) => {
            eprintln!("nsec: an interrupted {what} was completed ({n} files replaced)")
        }
        Recovery::CompletedExcept(n, changed) => {
            eprintln!("nsec: an interrupted {what} was completed ({n} files replaced), except for files changed since, which keep their change and old data key:");
            for f in changed {
                eprintln!("  {}", f.display());
            }
            eprintln!("nsec: check them with `nsec validate`; `nsec rotate --all --yes` gives every file a new data key and its rule's recipients");
        }
    }
}

/// Takes the store lock (one store-wide change at a time) and finishes or
/// undoes an interrupted one, saying so. Returns the lock, the store as it
/// is now (recovery may have replaced `.sops.yaml`), and the job recovery
/// completed, if any: a rerun of that very command is then done.
pub(crate) fn lock_and_recover(repo: Store) -> Result<(FileLock, Store, Option<Job>), CliError> {
    let lock = rotate_store::lock_store(&repo.root)?;
    let (recovery, job) = rotate_store::recover_job(&repo.root)?;
    print_recovery(&recovery, job.as_ref());
    // The job is done unless `.sops.yaml` itself was changed after the
    // crash (and so kept): then the command runs again on that config. A
    // secret changed since keeps its change; the note above says what to do.
    let completed = job.filter(|_| match &recovery {
        Recovery::Completed(_) => true,
        Recovery::CompletedExcept(_, changed) => !changed
            .iter()
            .any(|f| f.file_name() == Some(std::ffi::OsStr::new(secrets_core::rules::CONFIG_NAME))),
        _ => false,
    });
    let repo = if recovery == Recovery::Clean {
        repo
    } else {
        Store::open(&repo.root)?
    };
    Ok((lock, repo, completed))
}

fn print_plan(plan: &Plan) {
    if plan.files.is_empty() {
        eprintln!(
            "Nothing to rotate: every file matches its rule ({} files).",
            plan.unchanged
        );
        return;
    }
    eprintln!("Plan: new data key for {} file(s):", plan.files.len());
    for f in &plan.files {
        let mut changes = Vec::new();
        if !f.added.is_empty() {
            changes.push(format!("add {}", f.added.join(", ")));
        }
        if !f.removed.is_empty() {
            changes.push(format!("remove {}", f.removed.join(", ")));
        }
        let changes = if changes.is_empty() {
            String::new()
        } else {
            format!(" ({})", changes.join("; "))
        };
        eprintln!("  {}{changes}", f.name);
    }
    if plan.unchanged > 0 {
        eprintln!(
            "{} file(s) already match their rules and are left alone.",
            plan.unchanged
        );
    }
}

fn confirmed(yes: bool, question: &str) -> Result<(), CliError> {
    if yes || crate::ui::confirm(question) {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "not a terminal: pass --yes to go ahead".into(),
        ));
    }
    Err(CliError::Other("cancelled; nothing was changed".into()))
}

/// `nsec rotate NAME…|--all` (store mode).
pub fn rotate_store(ctx: &Context, args: &RotateArgs) -> Result<(), CliError> {
    let repo = open_repo(ctx, args.store.dir.as_deref())?;
    // Held until the rotation is done: one store-wide rewrite at a time.
    let (_store_lock, repo) = if args.dry_run {
        (None, repo)
    } else {
        let (lock, repo, _) = lock_and_recover(repo)?;
        (Some(lock), repo)
    };
    let selection = if args.all {
        Selection::All
    } else if !args.targets.is_empty() {
        Selection::Names(args.targets.clone())
    } else {
        Selection::Drifted
    };
    let plan = rotate_store::plan(&repo, &selection)?;
    print_plan(&plan);
    if args.dry_run || plan.files.is_empty() {
        return Ok(());
    }
    confirmed(args.yes, "Rotate these files?")?;
    let bar = Bar {
        tty: std::io::stderr().is_terminal(),
    };
    rotate_store::execute(&repo, &plan, &identities(), &bar)
        .map_err(|e| unfinished(&repo.root, e))?;
    eprintln!("Rotated {} file(s).", plan.files.len());
    Ok(())
}

/// `nsec revoke`.
pub fn revoke(ctx: &Context, args: &RevokeArgs) -> Result<(), CliError> {
    let repo = open_repo(ctx, args.store.dir.as_deref())?;
    let (_store_lock, repo, done) = lock_and_recover(repo)?;
    // A rerun after a crash during the commit: recovery finished the job.
    if let Some(job) = done.filter(|j| j.is("revoke", &args.who)) {
        let who = job.name.clone().unwrap_or_else(|| job.recipient.clone());
        return print_revoked(&who, &job.secrets);
    }
    let plan = revoke_op::plan(&repo, &args.who)?;
    let who = plan.name.clone().unwrap_or_else(|| plan.recipient.clone());
    eprintln!(
        "Revoke {who} ({}): remove from {} and re-key {} file(s).",
        plan.recipient,
        repo.config.path.display(),
        plan.files.len()
    );
    confirmed(args.yes, "Go ahead?")?;
    let bar = Bar {
        tty: std::io::stderr().is_terminal(),
    };
    revoke_op::execute(&repo, &plan, &identities(), &bar).map_err(|e| unfinished(&repo.root, e))?;
    print_revoked(&who, &plan.readable)
}

fn print_revoked(who: &str, readable: &[String]) -> Result<(), CliError> {
    let mut out = format!(
        "Revoked {who}. They could read these secrets; change each at its source (provider, service), then update it here:\n"
    );
    for name in readable {
        out.push_str(&format!("  {name}\n"));
    }
    write_stdout(out.as_bytes())
}

/// `nsec nix`.
pub fn nix(ctx: &Context, args: &NixArgs) -> Result<(), CliError> {
    let repo = open_repo(ctx, args.store.dir.as_deref())?;
    let base = match &args.relative_to {
        Some(d) => secrets_core::rules::absolute(&ctx.cwd, d),
        None => secrets_core::ops::nix::default_base(&repo),
    };
    let plan = secrets_core::ops::nix::plan(&repo, args.host.as_deref())?;
    for note in &plan.notes {
        eprintln!("note: {}", crate::output::nix_note(ctx, note));
    }
    let text = secrets_core::ops::nix::render_module(&plan, &base);
    write_stdout(text.as_bytes())
}

/// `nsec git`.
pub fn git(ctx: &Context, args: &GitArgs) -> Result<(), CliError> {
    match &args.command {
        GitCommand::Install { command, store } => {
            let repo = open_repo(ctx, store.dir.as_deref())?;
            let done = integrate::git_install(&repo, command)?;
            let mut out = String::new();
            if done.changes.is_empty() {
                out.push_str("git integration already installed; nothing changed\n");
            }
            for c in &done.changes {
                out.push_str(&format!("installed {c}\n"));
            }
            write_stdout(out.as_bytes())
        }
        GitCommand::Textconv { file } => {
            let config = ctx.config_for(Some(file)).ok().flatten();
            let bytes =
                integrate::textconv(file, &identities(), &ctx.store_options(config.as_ref()))?;
            write_stdout(&bytes)
        }
        GitCommand::Merge {
            base,
            ours,
            theirs,
            name,
        } => {
            let config = ctx.config_for(Some(Path::new(name))).ok().flatten();
            let opts = ctx.store_options(config.as_ref());
            match integrate::merge(base, ours, theirs, name, &identities(), &opts)? {
                MergeOutcome::Merged => Ok(()),
                MergeOutcome::Conflict { paths, markers } => {
                    eprintln!(
                        "nsec: merge conflict in {name} at {}\nnsec: conflict markers (plaintext, private) in {}; delete it when resolved",
                        paths.join(", "),
                        markers.display()
                    );
                    Err(CliError::Child(1))
                }
            }
        }
    }
}

/// A store-wide change that failed during its commit (a rename, a full
/// disk) leaves its journal: the same command run again finishes it.
pub(crate) fn unfinished(root: &Path, e: secrets_core::Error) -> CliError {
    if rotate_store::pending(root) {
        CliError::Hinted(
            e,
            "the change is half done and journaled: run the same command again to finish it",
        )
    } else {
        e.into()
    }
}
