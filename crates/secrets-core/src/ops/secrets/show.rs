//! `nsec show` and `nsec list`: a secret's decrypted value, every secret's
//! state against `.sops.yaml`, and re-wrapping the files whose recipients
//! are out of date.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::file::SopsFile;
use crate::format::Format;
use crate::fsio;
use crate::keys::discovery::Identities;
use crate::repo::{Store, EXTENSIONS};
use crate::store;
use crate::tree::Value;

use super::{existing, last_component};

/// The decrypted value of a secret: `field` if given, else the key named
/// after the secret (`openai` for `api-keys/openai`), else the whole
/// document in the file's format.
pub fn show(
    repo: &Store,
    name: &str,
    field: Option<&str>,
    identities: &Identities,
) -> Result<Zeroizing<String>> {
    let path = existing(repo, name)?;
    let opened = crate::ops::open_file(&path, identities)?;
    let doc = opened.documents.first().cloned().unwrap_or_default();
    let key = field
        .map(str::to_string)
        .unwrap_or_else(|| last_component(name));
    match doc.get(&key) {
        Some(Value::Str(s)) => Ok(Zeroizing::new(s.clone())),
        Some(other) => {
            let bytes = store::emit_value(opened.format, other, &repo.config.stores)?;
            Ok(Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned()))
        }
        None if field.is_some() => Err(Error::PathNotFound(format!("{key} (in secret `{name}`)"))),
        None => {
            let bytes = opened.plaintext(opened.format, &repo.config.stores)?;
            Ok(Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned()))
        }
    }
}

/// The state of a secret file relative to `.sops.yaml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Encrypted for exactly the recipients of its rule.
    Ok,
    /// Its recipients differ from its rule's (re-key with `nsec updatekeys`).
    RecipientsOutOfDate,
    /// A plaintext file in the store.
    NotEncrypted,
    /// No creation rule matches it.
    NoMatchingRule,
    /// The file could not be read as its format.
    Unreadable(String),
    /// A value that must be encrypted is in plaintext (validate's E020).
    PlaintextValue,
    /// Its value is due for rotation (validate's W060).
    RotationDue,
    /// Listed under `nsec.ignore`: allowed to stay plaintext.
    Ignored,
}

impl Status {
    /// The word(s) `nsec list` prints.
    pub fn label(&self) -> String {
        match self {
            Status::Ok => "ok".into(),
            Status::RecipientsOutOfDate => "recipients out of date".into(),
            Status::NotEncrypted => "not encrypted".into(),
            Status::NoMatchingRule => "no matching rule".into(),
            Status::Unreadable(m) => format!("unreadable: {m}"),
            Status::PlaintextValue => "plaintext value".into(),
            Status::RotationDue => "rotation due".into(),
            Status::Ignored => "ignored".into(),
        }
    }

    /// The stable machine name (`nsec list --json`).
    pub fn code(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::RecipientsOutOfDate => "recipients-out-of-date",
            Status::NotEncrypted => "not-encrypted",
            Status::NoMatchingRule => "no-matching-rule",
            Status::Unreadable(_) => "unreadable",
            Status::PlaintextValue => "plaintext-value",
            Status::RotationDue => "rotation-due",
            Status::Ignored => "ignored",
        }
    }
}

/// A recipient with its name from `.sops.yaml`, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// The `age1…` (or SSH) recipient.
    pub key: String,
    /// Its anchor or comment name.
    pub name: Option<String>,
}

/// One secret as `nsec list` shows it.
#[derive(Clone, Debug)]
pub struct SecretInfo {
    /// Its name.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// The recipients it is encrypted for.
    pub recipients: Vec<Recipient>,
    /// `sops.lastmodified`.
    pub lastmodified: Option<String>,
    /// Its status.
    pub status: Status,
}

/// Every secret file of the store with its recipients and status. Reads
/// only metadata: no identity is needed. The status is what
/// `nsec validate --keyless` reports for the file, its most serious problem
/// first, so the two never disagree. Each file is read and parsed once, by
/// the validation.
pub fn list(repo: &Store, cwd: &Path) -> Result<Vec<SecretInfo>> {
    use crate::ops::validate::{read_secret, validate_seeing, ValidateOptions};
    let mut seen = std::collections::HashMap::new();
    let report = validate_seeing(
        &repo.root,
        &ValidateOptions::default(),
        &mut |path, read| {
            seen.insert(path.to_path_buf(), Seen::of(read));
        },
    );
    let config_text = fsio::read_small(&repo.config.path).unwrap_or_default();
    let ignore = crate::ops::validate::store_settings(&config_text).ignore;
    // Each file's problem codes, looked up once per file (not a scan of
    // the whole report per file).
    let mut codes_of: std::collections::HashMap<&Path, Vec<&str>> =
        std::collections::HashMap::new();
    for p in &report.problems {
        if let Some(file) = p.file.as_deref() {
            codes_of.entry(file).or_default().push(p.code);
        }
    }
    let mut out = Vec::new();
    for path in repo.secret_files()? {
        let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        if !EXTENSIONS.contains(&ext) {
            continue;
        }
        // Validation does not read the files under `nsec.ignore`.
        let read = seen
            .remove(&path)
            .unwrap_or_else(|| Seen::of(&read_secret(&path)));
        let mut i = info(repo, cwd, &path, read);
        let rel = path.strip_prefix(&repo.root).unwrap_or(&path);
        let rel_str = rel.to_string_lossy().replace('\\', "/");
        if ignore
            .iter()
            .any(|g| crate::ops::validate::glob_match(g, &rel_str))
        {
            i.status = Status::Ignored;
        } else if !matches!(i.status, Status::Unreadable(_) | Status::NotEncrypted) {
            let codes = codes_of.get(rel).map(Vec::as_slice).unwrap_or_default();
            let has = |c: &str| codes.contains(&c);
            i.status = if has("E011") {
                Status::Unreadable("not a well-formed sops file".into())
            } else if has("E020") {
                Status::PlaintextValue
            } else if has("E012") {
                Status::NoMatchingRule
            } else if has("E030") || has("E031") {
                Status::RecipientsOutOfDate
            } else if has("W060") {
                Status::RotationDue
            } else {
                i.status
            };
        }
        out.push(i);
    }
    Ok(out)
}

/// What `nsec list` keeps of a file validation read: its metadata's
/// last-modified time and the age recipients of each key group, or why it
/// is not a sops file.
enum Seen {
    Sops {
        lastmodified: String,
        groups: Vec<Vec<String>>,
    },
    NotEncrypted,
    Unreadable(String),
}

impl Seen {
    fn of(read: &std::result::Result<SopsFile, crate::ops::validate::NotSops>) -> Seen {
        use crate::ops::validate::NotSops;
        match read {
            Ok(f) => Seen::Sops {
                lastmodified: f.metadata.lastmodified.clone(),
                groups: f
                    .metadata
                    .key_groups
                    .iter()
                    .map(|g| g.age.iter().map(|k| k.recipient.clone()).collect())
                    .collect(),
            },
            Err(NotSops::Plaintext) => Seen::NotEncrypted,
            Err(NotSops::Unreadable(e) | NotSops::Malformed(e)) => Seen::Unreadable(e.to_string()),
        }
    }
}

fn info(repo: &Store, cwd: &Path, path: &Path, read: Seen) -> SecretInfo {
    let format = Format::from_path(path);
    let name = repo.name_of(path).unwrap_or_default();
    let mut recipients = Vec::new();
    let mut lastmodified = None;
    let status = match read {
        Seen::NotEncrypted => Status::NotEncrypted,
        Seen::Unreadable(e) => Status::Unreadable(e),
        Seen::Sops {
            lastmodified: modified,
            groups,
        } => {
            lastmodified = Some(modified);
            recipients = groups
                .iter()
                .flatten()
                .map(|r| Recipient {
                    key: r.clone(),
                    name: repo.config.name_of(r).map(str::to_string),
                })
                .collect();
            match repo.config.rule_for(cwd, path) {
                Err(_) => Status::NoMatchingRule,
                Ok(rule) => {
                    let norm = |groups: Vec<Vec<String>>| {
                        groups
                            .into_iter()
                            .map(|mut g| {
                                g.sort();
                                g.dedup();
                                g
                            })
                            .collect::<Vec<_>>()
                    };
                    if norm(groups) == norm(rule.key_groups.clone()) {
                        Status::Ok
                    } else {
                        Status::RecipientsOutOfDate
                    }
                }
            }
        }
    };
    SecretInfo {
        name,
        path: path.to_path_buf(),
        format,
        recipients,
        lastmodified,
        status,
    }
}

/// The files whose recipients differ from their rules.
pub fn out_of_date(repo: &Store, cwd: &Path) -> Result<Vec<SecretInfo>> {
    let mut out = Vec::new();
    for path in repo.secret_files()? {
        let known = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e));
        if known {
            let read = match crate::ops::validate::read_secret(&path) {
                Err(crate::ops::validate::NotSops::Unreadable(e)) => return Err(e),
                read => read,
            };
            let i = info(repo, cwd, &path, Seen::of(&read));
            if i.status == Status::RecipientsOutOfDate {
                out.push(i);
            }
        }
    }
    Ok(out)
}
