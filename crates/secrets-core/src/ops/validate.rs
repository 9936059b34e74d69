//! `nsec validate`: checks a whole secrets store without printing a secret.
//!
//! Every problem has a stable code (documented in `docs/validate.md`; tools
//! may match on it), the file, the key path where relevant, and a one-line
//! fix. The codes:
//!
//! | code | name                 | check |
//! |------|----------------------|-------|
//! | E001 | config-parse         | 1: `.sops.yaml` does not parse |
//! | E002 | config-regex         | 1: a `path_regex` does not compile |
//! | E003 | config-recipient     | 1: a recipient does not parse |
//! | E004 | rule-unreachable     | 1: a rule follows a catch-all rule |
//! | E010 | not-encrypted        | 2: a plaintext file (not in the ignore list) |
//! | E011 | malformed            | 2: a file that is not a well-formed sops file |
//! | E012 | no-rule              | 2: no creation rule matches the file |
//! | E013 | not-a-file           | 2: a symlink, FIFO, device or directory named like a secret |
//! | E020 | plaintext-value      | 3: a value that must be encrypted is plaintext |
//! | E030 | recipient-drift      | 4: recipients differ from the rule's |
//! | E031 | group-drift          | 4: key groups / threshold differ from the rule's |
//! | E040 | data-key             | 5: no identity at hand opens the data key |
//! | E041 | mac                  | 5: the MAC or a value does not verify |
//! | E050 | host-unknown         | 6: `--host NAME` names no recipient |
//! | E051 | host-missing         | 6: the host's rule gives it the file, the file is not re-keyed for it |
//! | E052 | host-not-string      | 6: a value sops-nix would install cannot be (not a string, in a list, `/` in a key) |
//! | E053 | host-ssh-recipient   | 6: the host is a recipient only by an SSH key, which sops-nix cannot open |
//! | E054 | nix-name-clash       | 6: two pinned sops-nix names are the same |
//! | W060 | rotation-due         | 7: its `rotate-after` date passed, or older than `rotation_days` (warning) |
//! | E070 | identity-permissions | 8: an identity file is readable by group or others |
//! | E080 | leftover-temp        | 10: a `.nsec-tmp-*` file of a write that was killed (may hold plaintext) |
//! | E081 | interrupted-change   | 11: a store-wide `rotate`, `revoke` or `host add/rm` was killed and is not finished |
//!
//! Check 9 (`--staged`) limits the file checks to what git has staged.
//!
//! Store settings nsec reads from an `nsec:` section of `.sops.yaml`, which
//! sops ignores: `rotation_days: N` (check 7) and `ignore: [glob, …]` (files
//! of the store that may stay plaintext, check 2).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::crypt;
use crate::error::{ConfigProblem, Error};
use crate::file::{DecryptOptions, SopsFile};
use crate::format::Format;
use crate::fsio;
use crate::keys::discovery::{Env, Identities};
use crate::metadata::Metadata;
use crate::ops::nix;
use crate::ops::rotate_store;
use crate::rules::{Config, CreationRule, CONFIG_NAME};
use crate::store;
use crate::time::Timestamp;
use crate::tree::{Map, Value};

/// How serious a problem is: errors fail validation, warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Fails validation (exit 1).
    Error,
    /// Reported, but the store is still valid.
    Warning,
}

/// One finding. Never holds a secret value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The stable code, e.g. `E020`.
    pub code: &'static str,
    /// The stable short name, e.g. `plaintext-value`.
    pub name: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// The file, relative to the store (or absolute for identity files).
    pub file: Option<PathBuf>,
    /// The key path inside the file, `["a"]["b"]` style.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// A one-line fix.
    pub fix: String,
}

impl Problem {
    fn new(
        code: &'static str,
        name: &'static str,
        file: Option<PathBuf>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Problem {
        Problem {
            code,
            name,
            severity: if code.starts_with('W') {
                Severity::Warning
            } else {
                Severity::Error
            },
            file,
            key: None,
            message: message.into(),
            fix: fix.into(),
        }
    }

    fn at(mut self, key: String) -> Problem {
        self.key = Some(key);
        self
    }
}

/// What to check.
#[derive(Default)]
pub struct ValidateOptions<'a> {
    /// Check 6 for this host (a recipient name from `.sops.yaml`).
    pub host: Option<String>,
    /// Check 9: only these files (absolute paths); `None` checks all.
    pub only: Option<Vec<PathBuf>>,
    /// Check 5 with these identities; `None` is `--keyless`.
    pub identities: Option<&'a Identities>,
    /// Check 8 with the identity file locations of this environment.
    pub env: Option<&'a dyn Env>,
    /// "Now" for check 7 (the current time when `None`).
    pub now: Option<Timestamp>,
    /// Where fixes will be run from: file paths in `fix` commands are
    /// relative to it (absolute when `None`).
    pub cwd: Option<PathBuf>,
}

impl ValidateOptions<'_> {
    /// Whether check 9 (`only`, the staged files) lets `path` be checked:
    /// as given or with symlinks resolved.
    fn selects(&self, path: &Path) -> bool {
        match &self.only {
            None => true,
            Some(only) => {
                only.iter().any(|o| o == path)
                    || path.canonicalize().is_ok_and(|c| only.contains(&c))
            }
        }
    }
}

/// The result of a validation.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The store checked.
    pub root: PathBuf,
    /// How many files were checked.
    pub files_checked: usize,
    /// The findings, in check order per file.
    pub problems: Vec<Problem>,
}

impl Report {
    /// Are there problems that fail validation?
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| p.severity == Severity::Error)
    }

    /// The report as JSON: `{"store","files_checked","errors","warnings","problems":[…]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let count = |s| self.problems.iter().filter(|p| p.severity == s).count();
        serde_json::json!({
            "store": self.root.display().to_string(),
            "files_checked": self.files_checked,
            "errors": count(Severity::Error),
            "warnings": count(Severity::Warning),
            "problems": self.problems.iter().map(|p| serde_json::json!({
                "code": p.code,
                "name": p.name,
                "severity": match p.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "file": p.file.as_ref().map(|f| f.display().to_string()),
                "key": p.key,
                "message": p.message,
                "fix": p.fix,
            })).collect::<Vec<_>>(),
        })
    }
}

/// nsec's own settings from the `nsec:` section of `.sops.yaml`.
#[derive(Clone, Debug, Default)]
pub(crate) struct StoreSettings {
    /// Maximum age of a secret in days (by its `lastmodified`), if any.
    pub rotation_days: Option<i64>,
    /// Globs (relative to the store) of files that may stay plaintext.
    pub ignore: Vec<String>,
}

/// Reads the `nsec:` section of `.sops.yaml` text (missing: defaults).
pub(crate) fn store_settings(config_text: &[u8]) -> StoreSettings {
    let mut s = StoreSettings::default();
    let Ok(docs) = store::parse(Format::Yaml, config_text) else {
        return s;
    };
    let Some(Value::Map(nsec)) = docs.first().and_then(|d| d.get("nsec")) else {
        return s;
    };
    if let Some(Value::Int(d)) = nsec.get("rotation_days") {
        s.rotation_days = Some(*d);
    }
    if let Some(Value::List(items)) = nsec.get("ignore") {
        s.ignore = Value::list_values(items)
            .filter_map(|v| match v {
                Value::Str(g) => Some(g.clone()),
                _ => None,
            })
            .collect();
    }
    s
}

pub(crate) use crate::repo::glob_match;

/// Is a rule a catch-all (no regex, or one that matches every path)?
fn is_catch_all(rule: &CreationRule) -> bool {
    match &rule.path_regex {
        None => true,
        Some(re) => {
            let s = re.as_str().trim_start_matches('^').trim_end_matches('$');
            s.is_empty() || s == ".*"
        }
    }
}

/// Validates the store at `root`.
pub fn validate(root: &Path, opts: &ValidateOptions<'_>) -> Report {
    validate_seeing(root, opts, &mut |_, _| {})
}

/// Why a secret file is not a sops file, as validate judges it.
pub(crate) enum NotSops {
    /// It could not be read (E011).
    Unreadable(Error),
    /// No sops metadata: plaintext in the store (E010).
    Plaintext,
    /// Not a well-formed sops file (E011).
    Malformed(Error),
}

/// Reads and parses one secret file of the store.
pub(crate) fn read_secret(file: &Path) -> std::result::Result<SopsFile, NotSops> {
    let format = Format::from_path(file);
    let bytes = fsio::read_file(file).map_err(NotSops::Unreadable)?;
    match SopsFile::parse(format, &bytes) {
        Ok(sops) => Ok(sops),
        // A binary-store file that is not sops JSON is plaintext too.
        Err(Error::MetadataNotFound) | Err(Error::ParseEncrypted { .. })
            if format == Format::Binary =>
        {
            Err(NotSops::Plaintext)
        }
        Err(Error::MetadataNotFound) => Err(NotSops::Plaintext),
        Err(e) => Err(NotSops::Malformed(e)),
    }
}

/// [`validate`], handing every secret file it reads to `seen` (`nsec list`
/// shows what validate read, without reading and parsing each file again).
/// Files under `nsec.ignore` and files outside `opts.only` are not read.
pub(crate) fn validate_seeing(
    root: &Path,
    opts: &ValidateOptions<'_>,
    seen: &mut dyn FnMut(&Path, &std::result::Result<SopsFile, NotSops>),
) -> Report {
    let mut report = Report {
        root: root.to_path_buf(),
        ..Report::default()
    };
    let p = &mut report.problems;
    let config_path = root.join(CONFIG_NAME);
    let cfg_rel = Some(PathBuf::from(CONFIG_NAME));

    // Check 8 first: it does not need the config.
    if let Some(env) = opts.env {
        check_identity_files(env, p);
    }

    // Check 1.
    let text = match fsio::read_small(&config_path) {
        Ok(t) => t,
        Err(e) => {
            p.push(Problem::new(
                "E001",
                "config-parse",
                cfg_rel,
                format!("cannot read .sops.yaml: {e}"),
                "create it with `nsec init`, or point --dir at the store",
            ));
            return report;
        }
    };
    let config = match Config::parse(&config_path, &text) {
        Ok(c) => c,
        Err(e) => {
            let (code, name, fix) = match &e {
                Error::Config {
                    problem: ConfigProblem::PathRegex,
                    ..
                } => (
                    "E002",
                    "config-regex",
                    "fix the path_regex (Go RE2 syntax)",
                ),
                Error::Config {
                    problem: ConfigProblem::Recipient,
                    ..
                } => (
                    "E003",
                    "config-recipient",
                    "replace it with the age1… public key from `age-keygen -y` or `nsec ssh-to-age`",
                ),
                _ => (
                    "E001",
                    "config-parse",
                    "fix the YAML of .sops.yaml (creation_rules must be a list of maps)",
                ),
            };
            p.push(Problem::new(code, name, cfg_rel, e.to_string(), fix));
            return report;
        }
    };
    let settings = store_settings(&text);
    if let Some(pos) = config.creation_rules.iter().position(is_catch_all) {
        for r in &config.creation_rules[pos + 1..] {
            p.push(Problem::new(
                "E004",
                "rule-unreachable",
                cfg_rel.clone(),
                format!(
                    "creation rule {} can never match: rule {} before it matches every file",
                    r.index, pos
                ),
                "move the catch-all rule to the end, or remove the unreachable rule",
            ));
        }
    }

    // Checks 2–7, file by file.
    let repo_files = crate::repo::Store::open(root).and_then(|r| {
        let files = r.secret_files()?;
        Ok((r, files))
    });
    let (repo, files) = match repo_files {
        Ok(rf) => rf,
        Err(e) => {
            p.push(Problem::new(
                "E001",
                "config-parse",
                cfg_rel,
                e.to_string(),
                "check the store directory",
            ));
            return report;
        }
    };
    // Check 6: what `nsec nix --host` declares, and why anything the
    // host's rules give it is left out.
    if let Some(host) = &opts.host {
        let in_scope = |file: &Path| opts.selects(file);
        match nix::plan(&repo, Some(host)) {
            Ok(plan) => host_problems(root, opts.cwd.as_deref(), &plan, &in_scope, p),
            Err(Error::UnknownHost { known, .. }) => p.push(Problem::new(
                "E050",
                "host-unknown",
                cfg_rel.clone(),
                format!(
                    "no recipient in .sops.yaml is named `{host}` (named: {})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
                "name the host's key with an anchor (`- &HOST age1…`) or a `# HOST` comment",
            )),
            Err(e) => p.push(Problem::new(
                "E001",
                "config-parse",
                cfg_rel.clone(),
                e.to_string(),
                "fix the nsec.nix section of .sops.yaml",
            )),
        }
    }
    let now = opts.now.unwrap_or_else(Timestamp::now_utc);
    for file in files {
        if !opts.selects(&file) {
            continue;
        }
        report.files_checked += 1;
        let rel = file.strip_prefix(root).unwrap_or(&file).to_path_buf();
        let rel_str = rel.to_string_lossy().replace('\\', "/");
        if settings.ignore.iter().any(|g| glob_match(g, &rel_str)) {
            continue;
        }
        let read = read_secret(&file);
        seen(&file, &read);
        check_file(
            &config,
            &settings,
            &file,
            read,
            rel,
            opts,
            &now,
            &mut report.problems,
        );
    }
    // Check 2b: things named like secrets that are not regular files; store
    // scans cannot read them, so they are reported, not skipped.
    if let Ok(odd) = repo.odd_entries() {
        for (path, kind) in odd {
            if !opts.selects(&path) {
                continue;
            }
            report.problems.push(Problem::new(
                "E013",
                "not-a-file",
                Some(path.strip_prefix(root).unwrap_or(&path).to_path_buf()),
                format!("is {kind}, not a regular file: nsec does not read or follow it"),
                "put the file itself there (sops-nix needs a file in the repository), or remove it",
            ));
        }
    }
    // Check 10: temporary files of writes that were killed before their
    // rename (a `decrypt --in-place` one holds plaintext). Staged, one is
    // always reported: it is about to be committed.
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut leftovers = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && name != ".git" {
                dirs.push(path);
            } else if !is_dir && name.to_string_lossy().starts_with(fsio::TEMP_PREFIX) {
                leftovers.push(path);
            }
        }
        let stale = fsio::stale_temp_files(&dir);
        for path in leftovers {
            let report_it = match &opts.only {
                Some(_) => opts.selects(&path),
                None => stale.contains(&path),
            };
            if report_it {
                report.problems.push(Problem::new(
                    "E080",
                    "leftover-temp",
                    Some(path.strip_prefix(root).unwrap_or(&path).to_path_buf()),
                    "a temporary file left by a write that was interrupted (it may hold plaintext); the file it was for is intact",
                    format!("rm {}", shell_path(opts.cwd.as_deref(), &path)),
                ));
            }
        }
    }
    check_interrupted_change(root, opts, &mut report.problems);
    report
}

/// Check 11: a store-wide change killed before it finished (its journal
/// is still there). Until the next run finishes it, secrets may differ
/// from `.sops.yaml` (E030), and re-keying them one by one would work
/// against it, so those fixes point to finishing the change too.
fn check_interrupted_change(root: &Path, opts: &ValidateOptions<'_>, p: &mut Vec<Problem>) {
    if !rotate_store::pending(root) {
        return;
    }
    let dir = match opts.cwd.as_deref().and_then(|c| root.strip_prefix(c).ok()) {
        Some(rel) if rel.as_os_str().is_empty() => ".".to_string(),
        _ => shell_path(opts.cwd.as_deref(), root),
    };
    let (what, again) = match rotate_store::journal_job(root) {
        Some(job) => {
            let who = shell_word(job.name.as_deref().unwrap_or(&job.recipient));
            let age = if job.command == "host add" {
                format!(" --age {}", shell_word(&job.recipient))
            } else {
                String::new()
            };
            (
                format!("`nsec {} {who}`", job.command),
                format!("nsec {} {who}{age} --yes --dir {dir}", job.command),
            )
        }
        None => (
            "a store-wide rotation".to_string(),
            format!("nsec rotate --yes --dir {dir}"),
        ),
    };
    for problem in p.iter_mut() {
        if problem.code == "E030" || problem.code == "E031" {
            problem.fix = format!("finish the interrupted change first: {again}");
        }
    }
    let journal = rotate_store::journal_path(root);
    p.push(Problem::new(
        "E081",
        "interrupted-change",
        Some(journal.strip_prefix(root).unwrap_or(&journal).to_path_buf()),
        format!("{what} was interrupted; until it is finished, secrets may differ from .sops.yaml"),
        format!("run it again, which finishes it: {again}"),
    ));
}

#[allow(clippy::too_many_arguments)]
fn check_file(
    config: &Config,
    settings: &StoreSettings,
    file: &Path,
    read: std::result::Result<SopsFile, NotSops>,
    rel: PathBuf,
    opts: &ValidateOptions<'_>,
    now: &Timestamp,
    p: &mut Vec<Problem>,
) {
    let f = || Some(rel.clone());
    // The file as the fix commands name it, from where they will be run.
    let arg = shell_path(opts.cwd.as_deref(), file);
    let format = Format::from_path(file);
    if let Err(NotSops::Unreadable(e)) = &read {
        p.push(Problem::new(
            "E011",
            "malformed",
            f(),
            format!("cannot read: {e}"),
            match e {
                Error::NotRegularFile { .. } | Error::TooLarge { .. } => {
                    "replace it with a regular sops file, or remove it"
                }
                _ => "fix the file's permissions",
            },
        ));
        return;
    }
    // Check 2.
    let rule = config.rule_for(config.dir(), file).ok();
    if rule.is_none() {
        p.push(Problem::new(
            "E012",
            "no-rule",
            f(),
            "no creation rule in .sops.yaml matches this file",
            "add a creation rule whose path_regex matches it, or move the file",
        ));
    }
    let sops = match read {
        Ok(s) => s,
        Err(NotSops::Plaintext) => {
            p.push(Problem::new(
                "E010",
                "not-encrypted",
                f(),
                "plaintext file in the secrets store (no sops metadata)",
                format!("nsec encrypt -i {arg}   (or list it under nsec.ignore in .sops.yaml)"),
            ));
            return;
        }
        Err(NotSops::Malformed(e) | NotSops::Unreadable(e)) => {
            p.push(Problem::new(
                "E011",
                "malformed",
                f(),
                format!("not a well-formed sops file: {e}"),
                "restore the file from git, or re-create it",
            ));
            return;
        }
    };
    // Check 3.
    if format != Format::Binary {
        let selector = sops.metadata.effective_selector();
        for doc in &sops.documents {
            crypt::plaintext_leaves(doc, &selector, &mut |path| {
                p.push(
                    Problem::new(
                        "E020",
                        "plaintext-value",
                        f(),
                        "value is plaintext but the file's selector says it must be encrypted",
                        format!(
                            "restore the file without it (git checkout -- {arg}), change the secret at its source (it was in plaintext), then store it encrypted: nsec set {arg} {}",
                            shell_word(&key_path(path))
                        ),
                    )
                    .at(key_path(path)),
                );
            });
        }
    }
    // Check 4.
    if let Some(rule) = rule {
        check_drift(config, rule, &sops.metadata, f(), &arg, p);
    }
    // Check 7: the secret's own `rotate-after` date (plaintext metadata
    // written by the templates), then the store's `rotation_days` policy.
    let modified = Timestamp::parse_rfc3339(&sops.metadata.lastmodified);
    if let Some(due) = rotation_due(&sops.documents, modified.as_ref()) {
        if due.unix_seconds() <= now.unix_seconds() {
            // With a `created` date the clock restarts when the value
            // changes; a fixed date must be moved by hand.
            let created = date_key(&sops.documents, "created");
            let fix = match (created, date_key(&sops.documents, "rotate-after")) {
                (None, Some(key)) => format!(
                    "change the secret at its source, store it (nsec set {arg}), then enter the next date: nsec set {arg} {}",
                    shell_word(&key)
                ),
                _ => format!(
                    "change the secret at its source, then store the new value: nsec set {arg}"
                ),
            };
            p.push(Problem::new(
                "W060",
                "rotation-due",
                f(),
                format!(
                    "its rotate-after date {} has passed",
                    due.to_go_text().get(..10).unwrap_or("")
                ),
                fix,
            ));
        }
    }
    if let Some(days) = settings.rotation_days {
        if let Some(modified) = &modified {
            let age_days = (now.unix_seconds() - modified.unix_seconds()) / 86_400;
            if age_days > days {
                p.push(Problem::new(
                    "W060",
                    "rotation-due",
                    f(),
                    format!("last changed {age_days} days ago; the rotation policy is {days} days"),
                    format!(
                        "change the secret at its source, then store the new value: nsec set {arg}"
                    ),
                ));
            }
        }
    }
    // Check 5.
    if let Some(ids) = opts.identities {
        match sops.open(
            ids,
            DecryptOptions {
                read_only: true,
                ..DecryptOptions::default()
            },
        ) {
            Ok(_) => {}
            Err(Error::NoDataKey { .. }) => {
                p.push(Problem::new(
                    "E040",
                    "data-key",
                    f(),
                    "none of your identities opens the data key",
                    "ask a key holder to run `nsec rotate NAME` after adding you, or use --keyless",
                ));
            }
            Err(e) => p.push(Problem::new(
                "E041",
                "mac",
                f(),
                format!("integrity check failed: {}", safe_message(&e)),
                "the file was changed outside sops: restore it from git",
            )),
        }
    }
}

/// Error text that is safe to print (MAC values are digests, not secrets,
/// but keep the report short).
fn safe_message(e: &Error) -> String {
    match e.root() {
        Error::MacMismatch => "MAC mismatch".into(),
        other => other.to_string(),
    }
}

/// Check 6's problems from the host's sops-nix plan.
fn host_problems(
    root: &Path,
    cwd: Option<&Path>,
    plan: &nix::NixPlan,
    in_scope: &dyn Fn(&Path) -> bool,
    p: &mut Vec<Problem>,
) {
    use nix::Note;
    let rel = |f: &Path| Some(f.strip_prefix(root).unwrap_or(f).to_path_buf());
    let shown = |f: &Path| shell_path(cwd, f);
    for note in &plan.notes {
        match note {
            Note::NotRekeyed { file, .. } if in_scope(file) => p.push(Problem::new(
                "E051",
                "host-missing",
                rel(file),
                "the host's rule gives it this file but the file is not encrypted to the host; sops-nix would fail at boot with \"0 successful groups\"",
                format!("nsec updatekeys -y {}", shown(file)),
            )),
            Note::NotDeclarable { file, key, reason, .. } if in_scope(file) => p.push(
                Problem::new(
                    "E052",
                    "host-not-string",
                    rel(file),
                    format!("sops-install-secrets cannot install this value: {reason}"),
                    "store it as a string value of a map (quote numbers and booleans), or move it to its own secret",
                )
                .at(slash_key_path(key)),
            ),
            Note::MissingKey { file, key, secret } if in_scope(file) => p.push(
                Problem::new(
                    "E052",
                    "host-not-string",
                    rel(file),
                    format!("nsec.nix.{secret}.keys lists `{key}`, which is not a string value of the file; sops-install-secrets would fail"),
                    "fix the keys list under nsec.nix in .sops.yaml",
                )
                .at(slash_key_path(key)),
            ),
            Note::SshRecipient { file, .. } if in_scope(file) => p.push(Problem::new(
                "E053",
                "host-ssh-recipient",
                rel(file),
                "the file is encrypted to the host only as an SSH key; sops-nix converts the host's SSH key to an age key and cannot open ssh-ed25519 stanzas (sops-nix issue #955)",
                "in .sops.yaml replace the host's ssh key with the age recipient `nsec ssh-to-age -i HOST_KEY.pub` prints, then run `nsec updatekeys -y FILE`",
            )),
            Note::SshHost { host } => p.push(Problem::new(
                "E053",
                "host-ssh-recipient",
                Some(PathBuf::from(CONFIG_NAME)),
                format!("every recipient .sops.yaml names `{host}` is an SSH key, which sops-nix cannot use"),
                "replace it with the age recipient that `nsec ssh-to-age -i HOST_KEY.pub` prints",
            )),
            Note::Clash { attr, dropped, .. } => p.push(Problem::new(
                "E054",
                "nix-name-clash",
                Some(PathBuf::from(CONFIG_NAME)),
                format!("the pinned sops-nix name `{attr}` of {dropped} is taken by another secret"),
                format!("change nsec.nix.{dropped}.name in .sops.yaml"),
            )),
            _ => {}
        }
    }
}

/// `file` as a shell argument in a fix: relative to `cwd` when inside it,
/// quoted when it holds anything but plain path characters.
fn shell_path(cwd: Option<&Path>, file: &Path) -> String {
    let p = cwd
        .and_then(|c| file.strip_prefix(c).ok())
        .unwrap_or(file)
        .to_string_lossy()
        .into_owned();
    shell_word(&p)
}

/// A `/`-joined key path (sops-nix's form) as a sops index.
fn slash_key_path(key: &str) -> String {
    key_path(&key.split('/').map(str::to_string).collect::<Vec<_>>())
}

fn key_path(path: &[String]) -> String {
    path.iter().map(|k| format!("[{k:?}]")).collect()
}

fn named(config: &Config, r: &str) -> String {
    match config.name_of(r) {
        Some(n) => n.to_string(),
        None => r.to_string(),
    }
}

/// The differences between a file's recipients and its rule's, by name:
/// `(added, missing)` — added are in the file but not the rule.
pub(crate) fn recipient_drift(
    config: &Config,
    rule: &CreationRule,
    metadata: &Metadata,
) -> (Vec<String>, Vec<String>) {
    let want: BTreeSet<&str> = rule.recipients().collect();
    let have: BTreeSet<&str> = metadata.age_recipients().collect();
    let added = have.difference(&want).map(|r| named(config, r)).collect();
    let missing = want.difference(&have).map(|r| named(config, r)).collect();
    (added, missing)
}

fn check_drift(
    config: &Config,
    rule: &CreationRule,
    m: &Metadata,
    file: Option<PathBuf>,
    arg: &str,
    p: &mut Vec<Problem>,
) {
    let (added, missing) = recipient_drift(config, rule, m);
    if !added.is_empty() || !missing.is_empty() {
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("missing {}", missing.join(", ")));
        }
        if !added.is_empty() {
            parts.push(format!("not in the rule {}", added.join(", ")));
        }
        p.push(Problem::new(
            "E030",
            "recipient-drift",
            file.clone(),
            format!(
                "recipients differ from creation rule {}: {}",
                rule.index,
                parts.join("; ")
            ),
            format!("nsec updatekeys -y {arg}"),
        ));
    }
    let groups_match = rule.key_groups.len() == m.key_groups.len()
        && rule
            .key_groups
            .iter()
            .zip(&m.key_groups)
            .all(|(want, have)| {
                let w: BTreeSet<&str> = want.iter().map(|s| s.as_str()).collect();
                let h: BTreeSet<&str> = have.age.iter().map(|k| k.recipient.as_str()).collect();
                w == h
            });
    if !groups_match && added.is_empty() && missing.is_empty() {
        p.push(Problem::new(
            "E031",
            "group-drift",
            file,
            format!(
                "key groups differ from creation rule {} ({} groups in the rule, {} in the file)",
                rule.index,
                rule.key_groups.len(),
                m.key_groups.len()
            ),
            format!("nsec updatekeys -y {arg}"),
        ));
    }
}

/// Check 8: identity files readable by group or others.
fn check_identity_files(env: &dyn Env, p: &mut Vec<Problem>) {
    let mut paths = Vec::new();
    if let Some(f) = env.var("SOPS_AGE_KEY_FILE").filter(|f| !f.is_empty()) {
        paths.push(PathBuf::from(f));
    }
    if let Some(f) = env
        .var("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
        .filter(|f| !f.is_empty())
    {
        paths.push(PathBuf::from(f));
    }
    let config_dir = env
        .var("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| env.home_dir().map(|h| h.join(".config")));
    if let Some(d) = config_dir {
        paths.push(d.join("sops/age/keys.txt"));
    }
    for path in paths {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(m) = std::fs::metadata(&path) {
                let mode = m.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    p.push(Problem::new(
                        "E070",
                        "identity-permissions",
                        Some(path.clone()),
                        format!("identity file has mode {mode:03o}: group or others can read it"),
                        format!("chmod 600 {}", path.display()),
                    ));
                }
            }
        }
    }
}

/// The date in a document's plaintext `rotate-after` metadata field
/// (`rotate-after_unencrypted` or `rotate_after_unencrypted`), if any.
/// The key of a plaintext date field of the first document (see
/// [`date_field`]).
fn date_key(docs: &[Map], name: &str) -> Option<String> {
    let doc = docs.first()?;
    doc.entries()
        .map(|(k, _)| k)
        .find(|k| {
            k.strip_suffix("_unencrypted")
                .is_some_and(|f| f.replace('_', "-") == name)
        })
        .map(str::to_string)
}

/// A plaintext date field of the first document: `<name>_unencrypted`, with
/// `-` or `_` in the name.
fn date_field(docs: &[Map], name: &str) -> Option<Timestamp> {
    let doc = docs.first()?;
    doc.entries().find_map(|(k, v)| {
        let field = k.strip_suffix("_unencrypted")?;
        if field.replace('_', "-") != name {
            return None;
        }
        match v {
            Value::Str(s) | Value::Time(s) => Timestamp::parse_yaml(s),
            _ => None,
        }
    })
}

/// When the secret's value is due for rotation, from the `rotate-after`
/// date the templates write. The clock counts from the last change of a
/// value (`lastmodified`; a re-key keeps it): with a `created` date the
/// interval `rotate-after − created` runs again from the last change;
/// without one, the date stands until it is changed.
fn rotation_due(docs: &[Map], modified: Option<&Timestamp>) -> Option<Timestamp> {
    let due = date_field(docs, "rotate-after")?;
    let Some(modified) = modified else {
        return Some(due);
    };
    match date_field(docs, "created") {
        Some(created) if created.unix_seconds() < due.unix_seconds() => {
            let interval = due.unix_seconds() - created.unix_seconds();
            if modified.unix_seconds() + interval > due.unix_seconds() {
                Some(Timestamp::from_unix_seconds(
                    modified.unix_seconds() + interval,
                ))
            } else {
                Some(due)
            }
        }
        // A fixed date with no interval: it stands until it is changed.
        _ => Some(due),
    }
}

/// A word for a POSIX shell: single-quoted unless plain.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+@%:,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_clock_runs_from_the_last_change_of_a_value() {
        let doc = |text: &str| {
            vec![store::parse(Format::Yaml, text.as_bytes())
                .unwrap()
                .remove(0)]
        };
        let day = |d: &str| Timestamp::parse_yaml(d).unwrap();
        let templ = doc(
            "a: x\ncreated_unencrypted: \"2025-01-01\"\nrotate-after_unencrypted: \"2025-04-11\"\n",
        );
        // Unchanged since creation: the template's date.
        assert_eq!(
            rotation_due(&templ, Some(&day("2025-01-01"))),
            Some(day("2025-04-11"))
        );
        // Changed on 2025-03-01: 100 days from then.
        assert_eq!(
            rotation_due(&templ, Some(&day("2025-03-01"))),
            Some(day("2025-06-09"))
        );
        // A fixed date stands.
        let fixed = doc("a: x\nrotate_after_unencrypted: \"2025-04-11\"\n");
        assert_eq!(
            rotation_due(&fixed, Some(&day("2026-01-01"))),
            Some(day("2025-04-11"))
        );
        assert_eq!(rotation_due(&doc("a: x\n"), None), None);
    }

    #[test]
    fn globs() {
        assert!(glob_match("README.md", "README.md"));
        assert!(glob_match("*.md", "README.md"));
        assert!(!glob_match("*.md", "docs/README.md"));
        assert!(glob_match("**.md", "docs/README.md"));
        assert!(glob_match("public/", "public/a.yaml"));
        assert!(glob_match("a/**/b", "a/b"));
        assert!(glob_match("a/**/b", "a/x/y/b"));
        assert!(!glob_match("a/**/b", "ab"));
        assert!(glob_match("**/*.md", "README.md"));
    }

    /// The direct matcher agrees with the anchored regular expression the
    /// glob used to be compiled to, on globs and paths built from the
    /// characters that matter.
    #[test]
    fn globs_match_as_their_regular_expressions() {
        fn regex_of(glob: &str) -> regex::Regex {
            let mut re = String::from("^");
            let mut chars = glob.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '*' if chars.peek() == Some(&'*') => {
                        chars.next();
                        if chars.peek() == Some(&'/') {
                            chars.next();
                            re.push_str("(?:.*/)?");
                        } else {
                            re.push_str(".*");
                        }
                    }
                    '*' => re.push_str("[^/]*"),
                    '?' => re.push_str("[^/]"),
                    c => re.push_str(&regex::escape(&c.to_string())),
                }
            }
            re.push('$');
            regex::Regex::new(&re).unwrap()
        }
        let glob_parts = ["a", "b", "/", "*", "**", "**/", "?", ".", "é"];
        let path_parts = ["a", "b", "/", ".", "\n", "é", "ab"];
        // Every sequence of up to 3 parts, deterministic.
        fn sequences(parts: &[&str], max: usize) -> Vec<String> {
            let mut out = vec![String::new()];
            let mut last = vec![String::new()];
            for _ in 0..max {
                last = last
                    .iter()
                    .flat_map(|s| parts.iter().map(move |p| format!("{s}{p}")))
                    .collect();
                out.extend(last.iter().cloned());
            }
            out
        }
        let globs = sequences(&glob_parts, 3);
        let paths = sequences(&path_parts, 3);
        for glob in globs.iter().filter(|g| !g.ends_with('/')) {
            let re = regex_of(glob);
            for path in &paths {
                assert_eq!(
                    glob_match(glob, path),
                    re.is_match(path),
                    "{glob:?} {path:?}"
                );
            }
        }
    }
}
