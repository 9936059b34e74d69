//! sops-nix declarations for a store: the one generator behind `nsec nix`,
//! the snippet `nsec add` prints, and `nsec validate --host`.
//!
//! What is declared is what sops-install-secrets (sops-nix's activation
//! program, `pkgs/sops-install-secrets/main.go`) can install:
//!
//! - YAML and JSON files: one declaration per encrypted string value. The
//!   `key` is the value's path joined with `/`, which is how
//!   sops-install-secrets looks it up (`recurseSecretKey` splits on `/`,
//!   descends through maps and needs a string at the end). Plaintext fields
//!   (`*_unencrypted`, metadata) are not declared unless the store's
//!   settings list them under `keys`; values inside lists, values whose key
//!   contains `/`, and non-string values cannot be looked up and are
//!   reported instead of declared.
//! - dotenv, INI and binary files: one declaration for the whole file
//!   (`key = ""`; sops-install-secrets ignores `key` for them).
//!
//! **Names.** The attribute name of a declaration is what a NixOS config
//! refers to (`config.sops.secrets.NAME.path`) and the file name under
//! `/run/secrets`, so it must be stable and unique. A secret's *prefix* is,
//! in order: the `name` pinned in the store settings, else the last
//! component of its store name (`openai` for `api-keys/openai`). A file with
//! one declared value is declared as the prefix (`openai`; when the value's
//! key is the same, as `nsec add` writes it, no `key` is needed: sops-nix's
//! `key` defaults to the attribute name); a file with several values
//! declares each as `PREFIX/KEY`. When two secrets
//! would get the same attribute, every one of them whose name is not pinned
//! uses its full store name as prefix instead (`api-keys/github`,
//! `ssh-keys/github`). `nsec add` pins the existing secret's name in that
//! case, so adding a secret never renames one that is already deployed.
//!
//! **Settings** a user wants on a declaration live in `.sops.yaml`, which
//! sops ignores past its own keys:
//!
//! ```yaml
//! nsec:
//!   nix:
//!     api-keys/openai:
//!       name: openai            # pinned attribute prefix
//!       owner: openai
//!       group: openai
//!       mode: "0440"
//!       path: /var/lib/openai/key
//!       restartUnits: [openai.service]
//!       reloadUnits: []
//!       neededForUsers: false
//!       keys: [openai, endpoint_unencrypted]   # what to declare (default: every encrypted string)
//! ```
//!
//! **Hosts.** With a host, only files that host can open at boot are
//! declared: files whose age recipients include the host's X25519
//! recipient. A file its rule gives the host but that is not yet re-keyed,
//! and a host named in `.sops.yaml` by an `ssh-ed25519` key (sops-nix turns
//! the host's SSH key into an X25519 identity and cannot open ssh-ed25519
//! stanzas), are reported as [`Note`]s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::file::SopsFile;
use crate::format::Format;
use crate::repo::Store;
use crate::rules::{Config, CONFIG_NAME};
use crate::store;
use crate::tree::{Item, Map, Value};

/// The sops-nix options nsec can keep for a secret (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretSettings {
    /// A pinned attribute prefix.
    pub name: Option<String>,
    /// `owner`.
    pub owner: Option<String>,
    /// `group`.
    pub group: Option<String>,
    /// `mode`, e.g. `"0440"`.
    pub mode: Option<String>,
    /// `path`.
    pub path: Option<String>,
    /// `restartUnits`.
    pub restart_units: Vec<String>,
    /// `reloadUnits`.
    pub reload_units: Vec<String>,
    /// `neededForUsers`.
    pub needed_for_users: Option<bool>,
    /// Which values to declare (key paths joined with `/`); empty: every
    /// encrypted string value.
    pub keys: Vec<String>,
}

/// The `nsec.nix` section of `.sops.yaml`: settings by store name.
pub type NixSettings = BTreeMap<String, SecretSettings>;

/// Reads the `nsec.nix` section of `.sops.yaml` text. A missing section is
/// empty; a malformed one is an error naming the setting.
pub fn settings(config_path: &Path, text: &[u8]) -> Result<NixSettings> {
    let bad = |message: String| Error::Config {
        path: config_path.into(),
        rule: None,
        problem: crate::error::ConfigProblem::NsecSection,
        message,
    };
    let docs = match store::parse(Format::Yaml, text) {
        Ok(d) => d,
        Err(Error::EmptyFile) => return Ok(NixSettings::new()),
        Err(e) => return Err(bad(e.to_string())),
    };
    let Some(Value::Map(nsec)) = docs.first().and_then(|d| d.get("nsec")) else {
        return Ok(NixSettings::new());
    };
    let nix = match nsec.get("nix") {
        None | Some(Value::Null) => return Ok(NixSettings::new()),
        Some(Value::Map(m)) => m,
        Some(_) => return Err(bad("nsec.nix must be a map of secret names".into())),
    };
    let mut out = NixSettings::new();
    for (name, v) in nix.entries() {
        let at = |field: &str| format!("nsec.nix.{name}.{field}");
        let m = match v {
            Value::Map(m) => m,
            Value::Null => {
                out.insert(name.to_string(), SecretSettings::default());
                continue;
            }
            _ => return Err(bad(format!("nsec.nix.{name} must be a map of settings"))),
        };
        let mut s = SecretSettings::default();
        for (field, v) in m.entries() {
            let string = || match v {
                Value::Str(s) => Ok(s.clone()),
                Value::Int(i) if field == "mode" => Ok(format!("{i:04}")),
                _ => Err(bad(format!("{} must be a string", at(field)))),
            };
            let list = || match v {
                Value::List(items) => Value::list_values(items)
                    .map(|i| match i {
                        Value::Str(s) => Ok(s.clone()),
                        _ => Err(bad(format!("{} must be a list of strings", at(field)))),
                    })
                    .collect::<Result<Vec<_>>>(),
                Value::Str(s) => Ok(vec![s.clone()]),
                _ => Err(bad(format!("{} must be a list of strings", at(field)))),
            };
            match field {
                "name" => s.name = Some(string()?),
                "owner" => s.owner = Some(string()?),
                "group" => s.group = Some(string()?),
                "mode" => {
                    let mode = string()?;
                    if mode.is_empty() || !mode.chars().all(|c| ('0'..='7').contains(&c)) {
                        return Err(bad(format!(
                            "{} must be an octal mode such as \"0440\"",
                            at(field)
                        )));
                    }
                    s.mode = Some(mode)
                }
                "path" => s.path = Some(string()?),
                "restartUnits" => s.restart_units = list()?,
                "reloadUnits" => s.reload_units = list()?,
                "keys" => s.keys = list()?,
                "neededForUsers" => match v {
                    Value::Bool(b) => s.needed_for_users = Some(*b),
                    _ => return Err(bad(format!("{} must be true or false", at(field)))),
                },
                other => {
                    return Err(bad(format!(
                        "nsec.nix.{name}: unknown setting `{other}` (known: name, owner, group, mode, path, restartUnits, reloadUnits, neededForUsers, keys)"
                    )))
                }
            }
        }
        if let Some(n) = &s.name {
            if n.is_empty() || n.starts_with('/') || n.ends_with('/') || n.contains("//") {
                return Err(bad(format!(
                    "{} must be a non-empty name without leading, trailing or double `/`",
                    at("name")
                )));
            }
        }
        out.insert(name.to_string(), s);
    }
    Ok(out)
}

/// One `sops.secrets.<attr>` declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declaration {
    /// The attribute name (`/run/secrets/<attr>`).
    pub attr: String,
    /// The secret's attribute prefix: `attr` itself, or `attr` without
    /// `/KEY` for a file with several values (see the module docs).
    pub prefix: String,
    /// The secret's store name.
    pub secret: String,
    /// The secret file.
    pub file: PathBuf,
    /// Its format.
    pub format: Format,
    /// The value's key path joined with `/` (`""`: the whole file).
    pub key: String,
    /// The user's settings for this secret.
    pub settings: SecretSettings,
}

impl Declaration {
    /// The `format` option's value.
    pub fn format_name(&self) -> &'static str {
        format_name(self.format)
    }

    /// Whether the `key` option must be written (it defaults to the
    /// attribute name).
    pub fn needs_key(&self) -> bool {
        self.key != self.attr
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Yaml => "yaml",
        Format::Json => "json",
        Format::Dotenv => "dotenv",
        Format::Ini => "ini",
        Format::Binary => "binary",
    }
}

/// Something about the store that `nsec nix` did not declare, or declared
/// under another name than one might expect. Never holds a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A file of the store is not a sops file (or cannot be read).
    NotSops {
        /// The file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// A value sops-install-secrets cannot install by key.
    NotDeclarable {
        /// The secret.
        secret: String,
        /// The file.
        file: PathBuf,
        /// Its key path, `/`-joined.
        key: String,
        /// Why.
        reason: &'static str,
    },
    /// A key listed in the settings' `keys` that the file does not have as
    /// a string.
    MissingKey {
        /// The secret.
        secret: String,
        /// The file.
        file: PathBuf,
        /// The key path.
        key: String,
    },
    /// A file with nothing to declare.
    NothingToDeclare {
        /// The secret.
        secret: String,
        /// The file.
        file: PathBuf,
    },
    /// Secrets that share an attribute name and so use their full store
    /// names.
    Renamed {
        /// The shared name.
        attr: String,
        /// The secrets now declared by their full names.
        secrets: Vec<String>,
    },
    /// Two pinned names that still clash: only the first is declared.
    Clash {
        /// The attribute.
        attr: String,
        /// The secret that was declared.
        kept: String,
        /// The secret that was left out.
        dropped: String,
    },
    /// The host's rule gives it this file, but the file is not encrypted to
    /// the host yet.
    NotRekeyed {
        /// The secret.
        secret: String,
        /// The file.
        file: PathBuf,
    },
    /// The host is a recipient of this file only through an `ssh-ed25519`
    /// (or `ssh-rsa`) key, which sops-nix cannot open.
    SshRecipient {
        /// The secret.
        secret: String,
        /// The file.
        file: PathBuf,
        /// The SSH recipient.
        recipient: String,
    },
    /// Every recipient `.sops.yaml` names for the host is an SSH key, which
    /// sops-nix cannot open stanzas for.
    SshHost {
        /// The host.
        host: String,
    },
}

/// What `nsec nix` declares for the store or for one host.
#[derive(Clone, Debug, Default)]
pub struct NixPlan {
    /// The host, if the plan is for one.
    pub host: Option<String>,
    /// The declarations, by store name then key.
    pub declarations: Vec<Declaration>,
    /// What was left out, and why.
    pub notes: Vec<Note>,
}

/// A secret file as the generator sees it.
struct Candidate {
    secret: String,
    file: PathBuf,
    format: Format,
    /// Declarable values' keys (`None` for whole-file formats).
    keys: Option<Vec<String>>,
    recipients: Vec<String>,
    settings: SecretSettings,
}

/// A host's recipients, by the name `.sops.yaml` gives them.
pub(crate) fn host_recipients(config: &Config, host: &str) -> Vec<String> {
    let mut r: Vec<String> = config
        .recipient_names
        .iter()
        .filter(|(_, n)| *n == host)
        .map(|(r, _)| r.clone())
        .collect();
    r.sort();
    r
}

/// Whether sops-nix can open an age stanza made for `recipient` with a
/// host's identity (an X25519 key, possibly converted from its SSH key).
pub(crate) fn sops_nix_can_open(recipient: &str) -> bool {
    !(recipient.starts_with("ssh-") || recipient.starts_with("ecdsa-"))
}

/// Plans the declarations for the store, or for `host` only.
pub fn plan(repo: &Store, host: Option<&str>) -> Result<NixPlan> {
    let config_path = repo.root.join(CONFIG_NAME);
    let text = crate::fsio::read_file(&config_path)?;
    let settings = settings(&config_path, &text)?;
    plan_with(repo, &settings, host)
}

fn plan_with(repo: &Store, settings: &NixSettings, host: Option<&str>) -> Result<NixPlan> {
    let mut notes = Vec::new();
    let mut candidates = Vec::new();
    for file in repo.secret_files()? {
        let Some(secret) = repo.name_of(&file) else {
            continue;
        };
        let format = Format::from_path(&file);
        let bytes = match crate::fsio::read_file(&file) {
            Ok(b) => b,
            Err(e) => {
                notes.push(Note::NotSops {
                    file,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let sops = match SopsFile::parse(format, &bytes) {
            Ok(s) => s,
            Err(e) => {
                notes.push(Note::NotSops {
                    file,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let s = settings.get(&secret).cloned().unwrap_or_default();
        let keys = match format {
            Format::Yaml | Format::Json => {
                let doc = sops.documents.first().cloned().unwrap_or_default();
                Some(declarable_keys(&secret, &file, &doc, &s.keys, &mut notes))
            }
            _ => None,
        };
        if keys.as_ref().is_some_and(|k| k.is_empty()) {
            notes.push(Note::NothingToDeclare {
                secret: secret.clone(),
                file: file.clone(),
            });
        }
        candidates.push(Candidate {
            secret,
            file,
            format,
            keys,
            recipients: sops.metadata.age_recipients().map(str::to_string).collect(),
            settings: s,
        });
    }

    // Names are decided over the whole store, so they are the same with or
    // without a host.
    let mut declarations = name_all(&candidates, &mut notes);

    if let Some(host) = host {
        let wanted = host_recipients(&repo.config, host);
        if wanted.is_empty() {
            return Err(Error::UnknownHost {
                name: host.to_string(),
                known: known_names(&repo.config),
            });
        }
        let mut readable = BTreeSet::new();
        for c in &candidates {
            let holds: Vec<&String> = c.recipients.iter().filter(|r| wanted.contains(r)).collect();
            if holds.iter().any(|r| sops_nix_can_open(r)) {
                readable.insert(c.secret.clone());
            } else if let Some(r) = holds.first() {
                notes.push(Note::SshRecipient {
                    secret: c.secret.clone(),
                    file: c.file.clone(),
                    recipient: (*r).clone(),
                });
            } else if let Ok(rule) = repo.config.rule_for(repo.config.dir(), &c.file) {
                if rule.recipients().any(|r| wanted.iter().any(|w| w == r)) {
                    notes.push(Note::NotRekeyed {
                        secret: c.secret.clone(),
                        file: c.file.clone(),
                    });
                }
            }
        }
        declarations.retain(|d| readable.contains(&d.secret));
        // What the host cannot read is not its concern.
        notes.retain(|n| match n {
            Note::NotDeclarable { secret, .. }
            | Note::MissingKey { secret, .. }
            | Note::NothingToDeclare { secret, .. } => readable.contains(secret),
            Note::Clash { kept, dropped, .. } => {
                readable.contains(kept) || readable.contains(dropped)
            }
            Note::Renamed { secrets, .. } => secrets.iter().any(|s| readable.contains(s)),
            _ => true,
        });
        if wanted.iter().all(|r| !sops_nix_can_open(r)) {
            notes.push(Note::SshHost {
                host: host.to_string(),
            });
        }
    }
    Ok(NixPlan {
        host: host.map(str::to_string),
        declarations,
        notes,
    })
}

fn known_names(config: &Config) -> Vec<String> {
    let set: BTreeSet<String> = config.recipient_names.values().cloned().collect();
    set.into_iter().collect()
}

/// The keys of `doc` to declare, noting what cannot be.
fn declarable_keys(
    secret: &str,
    file: &Path,
    doc: &Map,
    wanted: &[String],
    notes: &mut Vec<Note>,
) -> Vec<String> {
    let mut found = Vec::new();
    walk_leaves(doc, &mut Vec::new(), &mut |path, leaf| {
        found.push((path, leaf))
    });
    if !wanted.is_empty() {
        let mut out = Vec::new();
        for k in wanted {
            match found.iter().find(|(p, _)| p == k) {
                Some((_, Leaf::EncryptedString | Leaf::PlainString)) => out.push(k.clone()),
                _ => notes.push(Note::MissingKey {
                    secret: secret.to_string(),
                    file: file.to_path_buf(),
                    key: k.clone(),
                }),
            }
        }
        return out;
    }
    let mut out = Vec::new();
    for (path, leaf) in found {
        let reason = match leaf {
            Leaf::EncryptedString => {
                out.push(path);
                continue;
            }
            Leaf::PlainString | Leaf::Plain => continue,
            Leaf::EncryptedOther => {
                "the value is not a string (sops-install-secrets installs only strings)"
            }
            Leaf::InList => {
                "the value is inside a list (sops-install-secrets looks keys up through maps only)"
            }
            Leaf::SlashInKey => {
                "a key contains `/`, which sops-install-secrets reads as a path separator"
            }
        };
        notes.push(Note::NotDeclarable {
            secret: secret.to_string(),
            file: file.to_path_buf(),
            key: path,
            reason,
        });
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaf {
    EncryptedString,
    EncryptedOther,
    PlainString,
    Plain,
    InList,
    SlashInKey,
}

fn is_encrypted(s: &str) -> bool {
    s.starts_with("ENC[") && s.ends_with(']')
}

fn walk_leaves(map: &Map, path: &mut Vec<String>, found: &mut dyn FnMut(String, Leaf)) {
    for item in &map.items {
        let Item::Entry(k, v) = item else { continue };
        path.push(k.clone());
        let joined = path.join("/");
        let slash = path.iter().any(|p| p.contains('/'));
        match v {
            Value::Map(m) => walk_leaves(m, path, found),
            Value::Comment(_) => {}
            Value::List(items) => {
                if Value::list_values(items).any(contains_encrypted) {
                    found(joined, Leaf::InList);
                }
            }
            Value::Str(s) if is_encrypted(s) => {
                let leaf = if slash {
                    Leaf::SlashInKey
                } else if s.contains(",type:str]") {
                    Leaf::EncryptedString
                } else {
                    Leaf::EncryptedOther
                };
                found(joined, leaf);
            }
            Value::Str(_) if !slash => found(joined, Leaf::PlainString),
            _ => found(joined, Leaf::Plain),
        }
        path.pop();
    }
}

fn contains_encrypted(v: &Value) -> bool {
    match v {
        Value::Str(s) => is_encrypted(s),
        Value::Map(m) => m.items.iter().any(|i| match i {
            Item::Entry(_, v) => contains_encrypted(v),
            _ => false,
        }),
        Value::List(items) => Value::list_values(items).any(contains_encrypted),
        _ => false,
    }
}

/// The last component of a store name without its extension (`openai` for
/// `api-keys/openai` and `api-keys/openai.env`): the key `nsec add` stores
/// the value under, and the default sops-nix name.
pub(crate) fn base_name(secret: &str) -> &str {
    let last = secret.rsplit('/').next().unwrap_or(secret);
    match last.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && crate::repo::EXTENSIONS.contains(&ext) => stem,
        _ => last,
    }
}

fn attrs_for(c: &Candidate, prefix: &str) -> Vec<(String, String)> {
    match &c.keys {
        None => vec![(prefix.to_string(), String::new())],
        // One value: the secret's own name.
        Some(keys) if keys.len() == 1 => vec![(prefix.to_string(), keys[0].clone())],
        Some(keys) => keys
            .iter()
            .map(|k| (format!("{prefix}/{k}"), k.clone()))
            .collect(),
    }
}

fn name_all(candidates: &[Candidate], notes: &mut Vec<Note>) -> Vec<Declaration> {
    let pinned = |c: &Candidate| c.settings.name.clone();
    let mut prefix: Vec<String> = candidates
        .iter()
        .map(|c| pinned(c).unwrap_or_else(|| base_name(&c.secret).to_string()))
        .collect();
    // Unpinned secrets that share an attribute with another secret use
    // their full store names.
    let mut owners: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (i, c) in candidates.iter().enumerate() {
        for (attr, _) in attrs_for(c, &prefix[i]) {
            owners.entry(attr).or_default().insert(i);
        }
    }
    let mut renamed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (attr, who) in &owners {
        if who.len() < 2 {
            continue;
        }
        for &i in who {
            if pinned(&candidates[i]).is_none() && prefix[i] != candidates[i].secret {
                prefix[i] = candidates[i].secret.clone();
                renamed
                    .entry(attr.clone())
                    .or_default()
                    .push(candidates[i].secret.clone());
            }
        }
    }
    for (attr, secrets) in renamed {
        notes.push(Note::Renamed { attr, secrets });
    }
    let mut out: Vec<Declaration> = Vec::new();
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    for (i, c) in candidates.iter().enumerate() {
        for (attr, key) in attrs_for(c, &prefix[i]) {
            if let Some(kept) = taken.get(&attr) {
                notes.push(Note::Clash {
                    attr: attr.clone(),
                    kept: kept.clone(),
                    dropped: c.secret.clone(),
                });
                continue;
            }
            taken.insert(attr.clone(), c.secret.clone());
            out.push(Declaration {
                attr,
                prefix: prefix[i].clone(),
                secret: c.secret.clone(),
                file: c.file.clone(),
                format: c.format,
                key,
                settings: c.settings.clone(),
            });
        }
    }
    out
}

// ---------------------------------------------------------------- output

const KEYWORDS: [&str; 9] = [
    "assert", "else", "if", "in", "inherit", "let", "or", "rec", "then",
];

/// An attribute name as Nix source: bare when it is a plain identifier that
/// is not a keyword, quoted otherwise.
pub(crate) fn nix_attr(name: &str) -> String {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_'-".contains(c))
        && !KEYWORDS.contains(&name)
        && name != "with";
    if plain {
        name.to_string()
    } else {
        nix_string(name)
    }
}

/// A Nix string literal.
pub(crate) fn nix_string(s: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Nix path expression for `rel` (relative to the Nix file).
pub(crate) fn nix_path(rel: &str) -> String {
    let safe = rel
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-+/".contains(c));
    if safe && !rel.contains("//") && !rel.ends_with('/') && !rel.is_empty() {
        if rel.starts_with("../") {
            rel.to_string()
        } else {
            format!("./{rel}")
        }
    } else {
        format!("(./. + {})", nix_string(&format!("/{rel}")))
    }
}

/// `path` relative to `base` (both absolute), with `..` where needed.
pub(crate) fn relative_path(path: &Path, base: &Path) -> String {
    let p: Vec<_> = path.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = b[common..].iter().map(|_| "..".to_string()).collect();
    parts.extend(
        p[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// The directory `sopsFile` paths are relative to by default: the nearest
/// directory at or above the store holding `flake.nix` or `.git` (the
/// repository root, where `configuration.nix` or `flake.nix` sits), else the
/// store's parent.
pub fn default_base(repo: &Store) -> PathBuf {
    repo.root
        .ancestors()
        .find(|d| d.join("flake.nix").exists() || d.join(".git").exists())
        .or_else(|| repo.root.parent())
        .unwrap_or(&repo.root)
        .to_path_buf()
}

/// One declaration as Nix attribute-set entries, without the attribute
/// name: `{ sopsFile = …; … }` on one line.
pub(crate) fn render_value(d: &Declaration, base: &Path) -> String {
    let mut parts = vec![format!(
        "sopsFile = {};",
        nix_path(&relative_path(&d.file, base))
    )];
    if d.format != Format::Yaml {
        parts.push(format!("format = {};", nix_string(d.format_name())));
    }
    if d.needs_key() {
        parts.push(format!("key = {};", nix_string(&d.key)));
    }
    let s = &d.settings;
    for (k, v) in [
        ("owner", &s.owner),
        ("group", &s.group),
        ("mode", &s.mode),
        ("path", &s.path),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k} = {};", nix_string(v)));
        }
    }
    for (k, v) in [
        ("restartUnits", &s.restart_units),
        ("reloadUnits", &s.reload_units),
    ] {
        if !v.is_empty() {
            let items: Vec<String> = v.iter().map(|u| nix_string(u)).collect();
            parts.push(format!("{k} = [ {} ];", items.join(" ")));
        }
    }
    if let Some(b) = s.needed_for_users {
        parts.push(format!("neededForUsers = {b};"));
    }
    format!("{{ {} }}", parts.join(" "))
}

/// `sops.secrets.<attr> = { … };` for each declaration, one per line (what
/// `nsec add` prints).
pub(crate) fn render_lines(decls: &[&Declaration], base: &Path) -> String {
    decls
        .iter()
        .map(|d| {
            format!(
                "sops.secrets.{} = {};\n",
                nix_attr(&d.attr),
                render_value(d, base)
            )
        })
        .collect()
}

/// The whole plan as a NixOS module.
pub fn render_module(plan: &NixPlan, base: &Path) -> String {
    let mut out = String::new();
    match &plan.host {
        Some(h) => out.push_str(&format!(
            "# Generated by `nsec nix --host {h}`: the secrets host {h} can decrypt.\n"
        )),
        None => out
            .push_str("# Generated by `nsec nix`; regenerate after adding or removing secrets.\n"),
    }
    out.push_str(
        "# Settings (owner, mode, restartUnits, …) belong in .sops.yaml under nsec.nix.\n",
    );
    out.push_str("{\n  sops.secrets = {\n");
    for d in &plan.declarations {
        out.push_str(&format!(
            "    {} = {};\n",
            nix_attr(&d.attr),
            render_value(d, base)
        ));
    }
    out.push_str("  };\n}\n");
    out
}

// ------------------------------------------------------------- pinning

/// Pins `names` (store name → attribute prefix) in `.sops.yaml` under
/// `nsec.nix.<secret>.name`, keeping every other byte. Used by `nsec add`
/// so that a new secret never renames one already deployed.
pub(crate) fn pin_names(repo: &Store, names: &[(String, String)]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let path = repo.root.join(CONFIG_NAME);
    let original = crate::fsio::read_file(&path)?;
    let text = String::from_utf8(original.clone()).map_err(|_| Error::Config {
        path: path.clone().into(),
        rule: None,
        problem: crate::error::ConfigProblem::NsecSection,
        message: "not UTF-8".into(),
    })?;
    let mut new = text.clone();
    for (secret, prefix) in names {
        new = pin_one(&new, secret, prefix).ok_or_else(|| Error::Config {
            path: path.clone().into(),
            rule: None,
            problem: crate::error::ConfigProblem::NsecSection,
            message: format!(
                "cannot add `nsec: {{nix: {{{secret}: {{name: {prefix}}}}}}}` to this layout; add it by hand"
            ),
        })?;
    }
    // Check the edit: the settings read back, everything else the same.
    let before = settings(&path, original.as_slice())?;
    let after = settings(&path, new.as_bytes())?;
    let mut expected = before;
    for (secret, prefix) in names {
        expected.entry(secret.clone()).or_default().name = Some(prefix.clone());
    }
    let rules_same = Config::parse(&path, new.as_bytes())
        .map(|c| format!("{:?}", c.creation_rules) == format!("{:?}", repo.config.creation_rules))
        .unwrap_or(false);
    if after != expected || !rules_same {
        return Err(Error::Config {
            path: path.clone().into(),
            rule: None,
            problem: crate::error::ConfigProblem::NsecSection,
            message: "pinning sops-nix names would change more than nsec.nix; add them by hand"
                .into(),
        });
    }
    crate::fsio::write_atomic(&path, new.as_bytes(), 0o644)
}

fn yaml_key(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-/.".contains(c))
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        s.to_string()
    } else {
        format!("{s:?}")
    }
}

/// Text with `nsec.nix.<secret>.name: <prefix>` set, for the block layouts
/// nsec writes; `None` when the layout is not understood.
fn pin_one(text: &str, secret: &str, prefix: &str) -> Option<String> {
    let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let top = |l: &str, key: &str| {
        l.trim_end()
            .strip_prefix(key)
            .is_some_and(|r| r == ":" || r.starts_with(": #") || r.starts_with(":  #"))
    };
    let key_line = |l: &str, indent: usize, key: &str| {
        let t = l.trim_end();
        crate::ops::config_edit::indent_of(t) == indent
            && (t.trim_start().strip_prefix(key).is_some_and(|r| r == ":")
                || t.trim_start()
                    .strip_prefix(&format!("{key:?}"))
                    .is_some_and(|r| r == ":"))
    };
    // The end (exclusive) of the block starting at line `i` with children
    // indented more than `indent`.
    let block_end = |i: usize, indent: usize| {
        let mut j = i + 1;
        while j < lines.len() {
            let l = lines[j];
            if !crate::ops::config_edit::is_blank_or_comment(l)
                && crate::ops::config_edit::indent_of(l) <= indent
            {
                break;
            }
            j += 1;
        }
        j
    };
    let entry = |indent: usize| {
        format!(
            "{}{}:{nl}{}name: {}{nl}",
            " ".repeat(indent),
            yaml_key(secret),
            " ".repeat(indent + 2),
            yaml_key(prefix)
        )
    };
    let mut out: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    let Some(nsec) = lines.iter().position(|l| top(l, "nsec")) else {
        // No section yet: append one.
        let mut s = text.to_string();
        if !s.is_empty() && !s.ends_with('\n') {
            s.push_str(nl);
        }
        s.push_str(&format!("nsec:{nl}  nix:{nl}{}", entry(4)));
        return Some(s);
    };
    let nsec_end = block_end(nsec, 0);
    let Some(nix) = (nsec + 1..nsec_end).find(|&i| key_line(lines[i], 2, "nix")) else {
        out.insert(nsec + 1, format!("  nix:{nl}{}", entry(4)));
        return Some(out.concat());
    };
    let nix_end = block_end(nix, 2);
    match (nix + 1..nix_end).find(|&i| key_line(lines[i], 4, secret)) {
        None => {
            out.insert(nix + 1, entry(4));
        }
        Some(at) => {
            let end = block_end(at, 4);
            let is_name = |l: &str| {
                crate::ops::config_edit::indent_of(l) == 6 && l.trim_start().starts_with("name:")
            };
            if let Some(name) = (at + 1..end).find(|&i| is_name(lines[i])) {
                out[name] = format!("      name: {}{nl}", yaml_key(prefix));
            } else {
                out.insert(at + 1, format!("      name: {}{nl}", yaml_key(prefix)));
            }
        }
    }
    Some(out.concat())
}

/// The attribute prefixes each secret has in `decls` (for [`pin_names`]).
pub(crate) fn prefixes(decls: &[Declaration]) -> BTreeMap<String, String> {
    decls
        .iter()
        .map(|d| (d.secret.clone(), d.prefix.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attrs_are_quoted_unless_plain_identifiers() {
        assert_eq!(nix_attr("openai"), "openai");
        assert_eq!(nix_attr("my-key_2'"), "my-key_2'");
        assert_eq!(nix_attr("if"), "\"if\"");
        assert_eq!(nix_attr("with"), "\"with\"");
        assert_eq!(nix_attr("or"), "\"or\"");
        assert_eq!(nix_attr("api-keys/github"), "\"api-keys/github\"");
        assert_eq!(nix_attr("a.b"), "\"a.b\"");
        assert_eq!(nix_attr("2fa"), "\"2fa\"");
        assert_eq!(nix_attr("-x"), "\"-x\"");
        assert_eq!(nix_attr("${x}"), "\"\\${x}\"");
    }

    #[test]
    fn paths() {
        assert_eq!(nix_path("secrets/a.yaml"), "./secrets/a.yaml");
        assert_eq!(nix_path("../secrets/a.yaml"), "../secrets/a.yaml");
        assert_eq!(
            nix_path("secrets/a b.yaml"),
            "(./. + \"/secrets/a b.yaml\")"
        );
    }

    #[test]
    fn settings_parse_and_refuse_bad_types() {
        let p = Path::new(".sops.yaml");
        let s = settings(
            p,
            b"creation_rules: []\nnsec:\n  nix:\n    api-keys/openai:\n      owner: ai\n      mode: \"0440\"\n      restartUnits: [a.service]\n      neededForUsers: true\n",
        )
        .unwrap();
        let o = &s["api-keys/openai"];
        assert_eq!(o.owner.as_deref(), Some("ai"));
        assert_eq!(o.mode.as_deref(), Some("0440"));
        assert_eq!(o.restart_units, vec!["a.service"]);
        assert_eq!(o.needed_for_users, Some(true));
        for bad in [
            "nsec:\n  nix:\n    x:\n      owner: [a]\n",
            "nsec:\n  nix:\n    x:\n      mode: rw\n",
            "nsec:\n  nix:\n    x:\n      colour: red\n",
            "nsec:\n  nix: [x]\n",
        ] {
            let e = settings(p, bad.as_bytes()).unwrap_err().to_string();
            assert!(e.contains("nsec.nix"), "{bad}: {e}");
        }
    }

    #[test]
    fn pinning_keeps_other_bytes() {
        let base = "# c\ncreation_rules:\n  - age: age1x # me\n";
        let a = pin_one(base, "api-keys/github", "github").unwrap();
        assert!(a.starts_with(base));
        let s = settings(Path::new("x"), a.as_bytes()).unwrap();
        assert_eq!(s["api-keys/github"].name.as_deref(), Some("github"));
        // A second pin goes into the same section; an existing entry gets a name.
        let b = pin_one(&a, "ssh-keys/x", "x").unwrap();
        let with_owner = "nsec:\n  rotation_days: 90\n  nix:\n    db:\n      owner: pg\n# end\n";
        let c = pin_one(with_owner, "db", "database").unwrap();
        let s = settings(Path::new("x"), c.as_bytes()).unwrap();
        assert_eq!(s["db"].name.as_deref(), Some("database"));
        assert_eq!(s["db"].owner.as_deref(), Some("pg"));
        assert!(c.ends_with("# end\n"));
        let s = settings(Path::new("x"), b.as_bytes()).unwrap();
        assert_eq!(s.len(), 2);
        let d = pin_one("nsec:\n  rotation_days: 9\n", "a/b", "b").unwrap();
        let s = settings(Path::new("x"), d.as_bytes()).unwrap();
        assert_eq!(s["a/b"].name.as_deref(), Some("b"));
    }
}
