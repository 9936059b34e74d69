//! The secrets store: `init`, `add`, `show`, `list`, `rm`, `host add/rm`.
//!
//! A store is a directory with a `.sops.yaml` (see [`crate::repo`]). A
//! secret `api-keys/openai` is the file `api-keys/openai.yaml` holding the
//! document `openai: <value>`: the last component of the name is the key,
//! so a sops-nix declaration `sops.secrets.openai.sopsFile = …;` needs no
//! `key` setting. Templates ([`template`]) add fields, generated values
//! ([`generate`]) and plaintext metadata (`*_unencrypted` keys, which sops
//! leaves unencrypted by default).
//!
//! Adding a secret needs only the public keys of `.sops.yaml`; reading one,
//! or re-keying files after a host change, needs an identity.

pub mod generate;
pub mod hosts;
pub mod template;

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::file::{self, EncryptOptions, SopsFile};
use crate::format::Format;
use crate::fsio;
use crate::keys::discovery::{Env, Identities, KEY_FILE_VAR};
use crate::keys::ssh_to_age;
use crate::ops::rotate_store;
use crate::repo::{Repo, EXTENSIONS};
use crate::rules::CONFIG_NAME;
use crate::store;
use crate::time::Timestamp;
use crate::tree::{Item, Map, Value};

use generate::Kind;
use template::{Field, Template};

/// The suffix sops leaves unencrypted by default; metadata and public
/// halves of key pairs get it.
pub const UNENCRYPTED_SUFFIX: &str = "_unencrypted";
/// The suffix of the public half of a generated key pair (before
/// [`UNENCRYPTED_SUFFIX`]): `github` → `github_pub_unencrypted`.
pub const PUBLIC_SUFFIX: &str = "_pub";

/// The `.sops.yaml` that `init` writes, with `{{person}}` and
/// `{{recipient}}` to fill in.
pub const SOPS_YAML_TEMPLATE: &str = include_str!("../../../../templates/sops.yaml");

// ---------------------------------------------------------------- identity

/// Where the user's age identity lives: `$SOPS_AGE_KEY_FILE`, else
/// `$XDG_CONFIG_HOME/sops/age/keys.txt`, else `~/.config/sops/age/keys.txt`
/// (where sops and sops-nix look for it).
pub fn default_identity_file(env: &dyn Env) -> Option<PathBuf> {
    if let Some(f) = env.var(KEY_FILE_VAR).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(f));
    }
    if let Some(x) = env.var("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x).join("sops/age/keys.txt"));
    }
    env.home_dir().map(|h| h.join(".config/sops/age/keys.txt"))
}

/// A new identity file as `age-keygen` writes it (`# created: …`,
/// `# public key: …`, the secret key line) and its public key.
pub fn new_identity_file() -> (Zeroizing<String>, String) {
    use secrecy::ExposeSecret;
    let (secret, public) = ssh_to_age::generate_x25519();
    let text = Zeroizing::new(format!(
        "# created: {}\n# public key: {public}\n{}\n",
        Timestamp::now_utc().to_rfc3339_seconds(),
        secret.expose_secret()
    ));
    (text, public)
}

/// A new post-quantum identity file as `age-keygen -pq` writes it (age 1.3:
/// `# created: …`, `# public key: age1pq1…`, the `AGE-SECRET-KEY-PQ-1…`
/// line) and its public key.
pub fn new_pq_identity_file() -> Result<(Zeroizing<String>, String)> {
    use secrecy::ExposeSecret;
    let identity = crate::keys::pq::PqIdentity::generate()
        .map_err(|e| Error::KeyWrap(format!("the OS random generator failed: {e}")))?;
    let public = identity.to_recipient().to_string();
    let text = Zeroizing::new(format!(
        "# created: {}\n# public key: {public}\n{}\n",
        Timestamp::now_utc().to_rfc3339_seconds(),
        identity.to_secret_string().expose_secret()
    ));
    Ok((text, public))
}

/// The public key of the first identity in an identity file, X25519
/// (`AGE-SECRET-KEY-1…`) or post-quantum (`AGE-SECRET-KEY-PQ-1…`).
pub fn identity_file_public(path: &Path) -> Result<String> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?);
    let location = || path.display().to_string();
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| {
            l.starts_with("AGE-SECRET-KEY-1") || l.starts_with(crate::keys::pq::IDENTITY_PREFIX)
        })
        .ok_or_else(|| Error::Identity {
            location: location(),
            reason: "no AGE-SECRET-KEY-1 or AGE-SECRET-KEY-PQ-1 line in the identity file".into(),
        })?;
    if line.starts_with(crate::keys::pq::IDENTITY_PREFIX) {
        let identity = crate::keys::pq::PqIdentity::parse(line).map_err(|e| Error::Identity {
            location: location(),
            reason: format!("invalid post-quantum secret key: {e}"),
        })?;
        return Ok(identity.to_recipient().to_string());
    }
    ssh_to_age::x25519_public(&secrecy::SecretString::from(line.to_string()))
}

/// Creates a directory (and parents) with mode 0700 for new levels.
fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(|e| Error::io(dir, e))
}

// -------------------------------------------------------------------- init

/// What `init` did.
#[derive(Clone, Debug)]
pub struct InitOutcome {
    /// The store's `.sops.yaml`.
    pub config: PathBuf,
    /// Whether it was written now (an existing one is never replaced).
    pub config_created: bool,
    /// The identity file.
    pub identity: PathBuf,
    /// Whether it was created now.
    pub identity_created: bool,
    /// The user's public key.
    pub recipient: String,
}

/// Creates a store at `dir`: the user's identity at `identity_file` if it
/// does not exist (0600, parent 0700), and a commented `.sops.yaml` with
/// rules for `api-keys/` and `ssh-keys/` naming the user `person`, if there
/// is none. Existing files are never overwritten.
pub fn init(dir: &Path, identity_file: &Path, person: &str) -> Result<InitOutcome> {
    if !hosts::valid_host_name(person) {
        return Err(Error::InvalidOption(format!(
            "invalid name `{person}` for the .sops.yaml anchor: use letters, digits, `-` and `_`"
        )));
    }
    let (recipient, identity_created) = if identity_file.exists() {
        (identity_file_public(identity_file)?, false)
    } else {
        if let Some(parent) = identity_file.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir(parent)?;
        }
        let (text, public) = new_identity_file();
        fsio::write_new(identity_file, text.as_bytes(), 0o600)?;
        (public, true)
    };
    let config = dir.join(CONFIG_NAME);
    let config_created = !config.exists();
    if config_created {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let text = SOPS_YAML_TEMPLATE
            .replace("{{person}}", person)
            .replace("{{recipient}}", &recipient);
        fsio::write_new(&config, text.as_bytes(), 0o644)?;
        fsio::ignore_temp_files(dir)?;
    }
    Ok(InitOutcome {
        config,
        config_created,
        identity: identity_file.to_path_buf(),
        identity_created,
        recipient,
    })
}

// --------------------------------------------------------------------- add

/// Where a field's value comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Asked for (hidden when secret), or read from stdin / a file.
    Ask,
    /// Generated.
    Generate(Kind),
}

/// A field of a planned secret, its document key resolved.
#[derive(Clone, Debug)]
pub struct PlannedField {
    /// The key in the document.
    pub key: String,
    /// The template's field.
    pub field: Field,
    /// Where its value comes from.
    pub source: Source,
}

/// Everything about a new secret that can be checked before asking for
/// its value: name, file, template, creation rule.
#[derive(Clone, Debug)]
pub struct AddPlan {
    /// The secret's name.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// The store it is written in.
    pub format: Format,
    /// The template used.
    pub template: Template,
    /// The fields, in document order.
    pub fields: Vec<PlannedField>,
    /// Recipients and selector from the matching creation rule.
    pub encrypt: EncryptOptions,
}

impl AddPlan {
    /// The secret fields whose values must be supplied (prompt, stdin, file).
    pub fn secret_inputs(&self) -> impl Iterator<Item = &PlannedField> {
        self.fields
            .iter()
            .filter(|f| f.field.secret && matches!(f.source, Source::Ask))
    }

    /// The non-secret fields to be supplied (`--field`, visible prompt, default).
    pub fn plain_inputs(&self) -> impl Iterator<Item = &PlannedField> {
        self.fields
            .iter()
            .filter(|f| !f.field.secret && matches!(f.source, Source::Ask))
    }
}

/// The key a secret's value has by default: the last component of its name
/// (or file), without a store extension (`api-keys/openai` → `openai`).
pub fn last_component(name: &str) -> String {
    super::nix::base_name(name).to_string()
}

/// Checks the name against the files already in the store: the same file
/// (refused without `force`), the same secret in another format, or a
/// path through an existing file.
fn check_collisions(repo: &Repo, name: &str, path: &Path, force: bool) -> Result<()> {
    let bad = |reason: String| Error::InvalidName {
        name: name.to_string(),
        reason,
    };
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == repo.root || !d.starts_with(&repo.root) {
            break;
        }
        if d.exists() && !d.is_dir() {
            return Err(bad(format!("{} is a file, not a directory", d.display())));
        }
        dir = d.parent();
    }
    if path.is_dir() {
        return Err(bad(format!("{} is a directory", path.display())));
    }
    if path.exists() {
        if force {
            return Ok(());
        }
        return Err(Error::AlreadyExists(path.to_path_buf()));
    }
    let stem = path.with_extension("");
    for ext in EXTENSIONS {
        let other = stem.with_extension(ext);
        if other != path && other.exists() {
            return Err(bad(format!(
                "it collides with {}, the same secret in another format",
                other.display()
            )));
        }
    }
    Ok(())
}

/// Plans `nsec add NAME`: checks the name (inside the store, no collision
/// unless `force`), loads the template (default `generic`), applies
/// `generate` to the first field, and finds the creation rule. Nothing is
/// asked for or written yet, so every error comes before the user types a
/// secret.
pub fn plan_add(
    repo: &Repo,
    cwd: &Path,
    name: &str,
    template_name: Option<&str>,
    generate: Option<Kind>,
    force: bool,
) -> Result<AddPlan> {
    let path = repo.secret_path(name)?;
    let format = Format::from_path(&path);
    if format == Format::Binary {
        return Err(Error::InvalidName {
            name: name.to_string(),
            reason: "use a .yaml, .json, .env or .ini name for a store secret".into(),
        });
    }
    check_collisions(repo, name, &path, force)?;
    let template = template::load(template_name.unwrap_or("generic"), Some(&repo.root))?;
    let last = last_component(name);
    let mut fields: Vec<PlannedField> = template
        .fields
        .iter()
        .map(|f| PlannedField {
            key: f.key_for(&last),
            field: f.clone(),
            source: match &f.generate {
                Some(k) => Source::Generate(k.clone()),
                None => Source::Ask,
            },
        })
        .collect();
    if let Some(kind) = generate {
        let first = fields
            .iter_mut()
            .find(|f| f.field.secret)
            .ok_or_else(|| Error::Template {
                name: template.name.clone(),
                message: "it has no secret field to generate".into(),
            })?;
        first.source = Source::Generate(kind);
    }
    for f in &fields {
        if matches!(f.source, Source::Generate(ref k) if k.is_pair()) && format == Format::Dotenv {
            // Multi-line private keys do not fit a dotenv line.
            if matches!(f.source, Source::Generate(Kind::SshEd25519)) {
                return Err(Error::InvalidName {
                    name: name.to_string(),
                    reason: "an SSH private key spans lines and cannot be stored in a .env file; use .yaml".into(),
                });
            }
        }
    }
    let encrypt = super::encrypt_options(
        Some(&repo.config),
        cwd,
        &path,
        &super::EncryptOverrides::default(),
    )
    .map_err(|e| e.in_file(&path))?;
    Ok(AddPlan {
        name: name.to_string(),
        path,
        format,
        template,
        fields,
        encrypt,
    })
}

/// Values supplied for a planned secret.
#[derive(Default)]
pub struct AddInputs {
    /// Values of the secret fields, by document key.
    pub secrets: Vec<(String, Zeroizing<String>)>,
    /// Values of non-secret fields and metadata, by key.
    pub fields: Vec<(String, String)>,
    /// The user, for `$user` in metadata.
    pub user: String,
    /// Secret values were read from a file: keep them as they are
    /// (newlines included) instead of dropping one trailing newline.
    pub verbatim: bool,
}

/// What `add` wrote.
#[derive(Clone, Debug)]
pub struct AddOutcome {
    /// The file written.
    pub path: PathBuf,
    /// Public halves of generated key pairs: (document key, value).
    pub public: Vec<(String, String)>,
    /// The sops-nix declaration to paste (the same `nsec nix` prints).
    pub nix: String,
    /// Secrets whose sops-nix names were pinned in `.sops.yaml` so the new
    /// secret does not rename them: (store name, attribute prefix).
    pub pinned: Vec<(String, String)>,
    /// Why the new secret is declared as it is, when it is not declared
    /// under its last name component (a shared name, values left out).
    pub notes: Vec<super::nix::Note>,
}

/// Builds, encrypts and writes the secret of `plan` (atomically, 0644).
/// Every value is checked first; on any error nothing is written.
pub fn add(repo: &Repo, plan: &AddPlan, inputs: AddInputs, force: bool) -> Result<AddOutcome> {
    let mut doc = Map::new();
    let mut public = Vec::new();
    for pf in &plan.fields {
        let value: Zeroizing<String> = match &pf.source {
            Source::Generate(kind) => {
                let g = generate::generate(kind, &format!("nsec:{}", plan.name))?;
                if let Some(p) = g.public {
                    public.push((format!("{}{PUBLIC_SUFFIX}{UNENCRYPTED_SUFFIX}", pf.key), p));
                }
                g.secret
            }
            Source::Ask if pf.field.secret => {
                let v = inputs
                    .secrets
                    .iter()
                    .find(|(k, _)| *k == pf.key)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| {
                        Error::InvalidValue(format!(
                            "secret `{}`, field `{}`: no value was given; nothing was written",
                            plan.name, pf.key
                        ))
                    })?;
                pf.field.check(&plan.name, &pf.key, v, inputs.verbatim)?
            }
            Source::Ask => {
                let v = inputs
                    .fields
                    .iter()
                    .find(|(k, _)| *k == pf.key)
                    .map(|(_, v)| v.clone())
                    .or_else(|| pf.field.default.clone())
                    .ok_or_else(|| {
                        Error::InvalidValue(format!(
                            "secret `{}`, field `{}`: no value (give --field {}=VALUE); nothing was written",
                            plan.name, pf.key, pf.key
                        ))
                    })?;
                pf.field
                    .check(&plan.name, &pf.key, Zeroizing::new(v), false)?
            }
        };
        doc.insert(pf.key.clone(), Value::Str(value.to_string()));
    }
    for (k, v) in &public {
        doc.insert(k.clone(), Value::Str(v.clone()));
    }
    let now = Timestamp::now_utc();
    let today = now.unix_seconds().div_euclid(86_400);
    let known: Vec<&str> = plan.fields.iter().map(|f| f.key.as_str()).collect();
    let mut metadata: Vec<(String, String)> = plan
        .template
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), template::expand_metadata(v, &inputs.user, today)))
        .collect();
    for (k, v) in &inputs.fields {
        if known.contains(&k.as_str()) {
            continue;
        }
        match metadata.iter_mut().find(|(mk, _)| mk == k) {
            Some(slot) => slot.1 = v.clone(),
            None => metadata.push((k.clone(), v.clone())),
        }
    }
    for (k, v) in metadata {
        if v.is_empty() {
            continue;
        }
        let key = if k.ends_with(UNENCRYPTED_SUFFIX) {
            k
        } else {
            format!("{k}{UNENCRYPTED_SUFFIX}")
        };
        doc.insert(key, Value::Str(v));
    }
    let sops =
        file::encrypt(plan.format, vec![doc], &plan.encrypt).map_err(|e| e.in_file(&plan.path))?;
    let bytes = sops
        .to_bytes(&repo.config.stores)
        .map_err(|e| e.in_file(&plan.path))?;
    check_collisions(repo, &plan.name, &plan.path, force)?;
    // The sops-nix names before the new file: a secret that had one keeps it.
    let before = super::nix::plan(repo, None)
        .map(|p| super::nix::prefixes(&p.declarations))
        .unwrap_or_default();
    if let Some(parent) = plan.path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    if force {
        fsio::write_atomic(&plan.path, &bytes, 0o644)?;
    } else {
        // Never replace a secret that appeared since the check above.
        fsio::write_new(&plan.path, &bytes, 0o644)?;
    }
    let (nix, pinned, notes) = declare_new(repo, &plan.name, &before);
    Ok(AddOutcome {
        path: plan.path.clone(),
        public,
        nix,
        pinned,
        notes,
    })
}

/// The declaration of a just-written secret, pinning the names of secrets
/// it would otherwise rename. Never fails: the secret is already written;
/// what could not be done is in the notes.
fn declare_new(
    repo: &Repo,
    name: &str,
    before: &std::collections::BTreeMap<String, String>,
) -> (String, Vec<(String, String)>, Vec<super::nix::Note>) {
    use super::nix;
    let base = nix::default_base(repo);
    let Ok(mut after) = nix::plan(repo, None) else {
        return (String::new(), Vec::new(), Vec::new());
    };
    let now = nix::prefixes(&after.declarations);
    let pins: Vec<(String, String)> = before
        .iter()
        .filter(|(secret, prefix)| *secret != name && now.get(*secret) != Some(*prefix))
        .map(|(s, p)| (s.clone(), p.clone()))
        .collect();
    let mut pinned = Vec::new();
    if !pins.is_empty() && nix::pin_names(repo, &pins).is_ok() {
        if let Ok(p) = nix::plan(repo, None) {
            after = p;
            pinned = pins;
        }
    }
    let mine: Vec<&nix::Declaration> = after
        .declarations
        .iter()
        .filter(|d| d.secret == name)
        .collect();
    let notes = after
        .notes
        .into_iter()
        .filter(|n| match n {
            nix::Note::Renamed { secrets, .. } => secrets.iter().any(|s| s == name),
            nix::Note::NotDeclarable { secret, .. }
            | nix::Note::NothingToDeclare { secret, .. }
            | nix::Note::MissingKey { secret, .. } => secret == name,
            nix::Note::Clash { dropped, .. } => dropped == name,
            _ => false,
        })
        .collect();
    (nix::render_lines(&mine, &base), pinned, notes)
}

// -------------------------------------------------------------------- show

/// The decrypted value of a secret: `field` if given, else the key named
/// after the secret (`openai` for `api-keys/openai`), else the whole
/// document in the file's format.
pub fn show(
    repo: &Repo,
    name: &str,
    field: Option<&str>,
    identities: &Identities,
) -> Result<Zeroizing<String>> {
    let path = existing(repo, name)?;
    let opened = super::open_file(&path, identities)?;
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

fn existing(repo: &Repo, name: &str) -> Result<PathBuf> {
    let path = repo.secret_path(name)?;
    if !path.is_file() {
        return Err(Error::SecretNotFound {
            name: name.to_string(),
            path,
        });
    }
    Ok(path)
}

// ---------------------------------------------------------------------- rm

/// Deletes a secret's file. Returns the path removed.
pub fn remove(repo: &Repo, name: &str) -> Result<PathBuf> {
    let path = existing(repo, name)?;
    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

// -------------------------------------------------------------------- list

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
/// first, so the two never disagree.
pub fn list(repo: &Repo, cwd: &Path) -> Result<Vec<SecretInfo>> {
    let report =
        super::validate::validate(&repo.root, &super::validate::ValidateOptions::default());
    let config_text = fsio::read_small(&repo.config.path).unwrap_or_default();
    let ignore = super::validate::store_settings(&config_text).ignore;
    let mut out = Vec::new();
    for path in repo.secret_files()? {
        let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        if !EXTENSIONS.contains(&ext) {
            continue;
        }
        let mut i = info(repo, cwd, &path)?;
        let rel = path.strip_prefix(&repo.root).unwrap_or(&path);
        let rel_str = rel.to_string_lossy().replace('\\', "/");
        if ignore
            .iter()
            .any(|g| super::validate::glob_match(g, &rel_str))
        {
            i.status = Status::Ignored;
        } else if !matches!(i.status, Status::Unreadable(_) | Status::NotEncrypted) {
            let codes: Vec<&str> = report
                .problems
                .iter()
                .filter(|p| p.file.as_deref() == Some(rel))
                .map(|p| p.code)
                .collect();
            let has = |c: &str| codes.contains(&c);
            i.status = if has("E011") {
                Status::Unreadable("not a well-formed sops file (see nsec validate)".into())
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

fn info(repo: &Repo, cwd: &Path, path: &Path) -> Result<SecretInfo> {
    let format = Format::from_path(path);
    let name = repo.name_of(path).unwrap_or_default();
    let bytes = crate::fsio::read_file(path)?;
    let mut recipients = Vec::new();
    let mut lastmodified = None;
    let status = match SopsFile::parse(format, &bytes) {
        Err(Error::MetadataNotFound) => Status::NotEncrypted,
        Err(e) => Status::Unreadable(e.to_string()),
        Ok(f) => {
            lastmodified = Some(f.metadata.lastmodified.clone());
            recipients = f
                .metadata
                .age_recipients()
                .map(|r| Recipient {
                    key: r.to_string(),
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
                    let have = norm(
                        f.metadata
                            .key_groups
                            .iter()
                            .map(|g| g.age.iter().map(|k| k.recipient.clone()).collect())
                            .collect(),
                    );
                    if have == norm(rule.key_groups.clone()) {
                        Status::Ok
                    } else {
                        Status::RecipientsOutOfDate
                    }
                }
            }
        }
    };
    Ok(SecretInfo {
        name,
        path: path.to_path_buf(),
        format,
        recipients,
        lastmodified,
        status,
    })
}

/// The files whose recipients differ from their rules.
pub fn out_of_date(repo: &Repo, cwd: &Path) -> Result<Vec<SecretInfo>> {
    let mut out = Vec::new();
    for path in repo.secret_files()? {
        let known = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e));
        if known {
            let i = info(repo, cwd, &path)?;
            if i.status == Status::RecipientsOutOfDate {
                out.push(i);
            }
        }
    }
    Ok(out)
}

/// Re-wraps each file's data key for the recipients of its current rule
/// (values, MAC and `lastmodified` unchanged, like `sops updatekeys`).
/// Returns one result per file; a failure does not stop the others.
pub fn update_recipients(
    repo: &Repo,
    cwd: &Path,
    files: &[PathBuf],
    identities: &Identities,
) -> Vec<(PathBuf, Result<()>)> {
    files
        .iter()
        .map(|path| {
            let r = (|| {
                let _lock = fsio::FileLock::acquire(path)?;
                let bytes = crate::fsio::read_file(path)?;
                let mut f = SopsFile::parse(Format::from_path(path), &bytes)?;
                let opts = super::encrypt_options(
                    Some(&repo.config),
                    cwd,
                    path,
                    &super::EncryptOverrides::default(),
                )?;
                let key = f.data_key(identities)?;
                f.rewrap(&key, &opts.key_groups, opts.shamir_threshold)?;
                fsio::write_atomic(path, &f.to_bytes(&repo.config.stores)?, 0o644)
            })()
            .map_err(|e| e.in_file(path));
            (path.clone(), r)
        })
        .collect()
}

// ------------------------------------------------------------------- hosts

/// A recipient for a host, from an `age1…` string or an SSH ed25519 public
/// key (`ssh-ed25519 AAAA… comment`, e.g. `/etc/ssh/ssh_host_ed25519_key.pub`).
pub fn host_recipient(age: Option<&str>, ssh_public: Option<&str>) -> Result<String> {
    match (age, ssh_public) {
        (Some(a), None) => Ok(crate::keys::age::AgeRecipient::parse(a.trim())?
            .as_str()
            .to_string()),
        (None, Some(text)) => {
            if text.contains("PRIVATE KEY") {
                return Err(Error::InvalidOption(
                    "that is a private key; give the host's public key (e.g. /etc/ssh/ssh_host_ed25519_key.pub or `ssh-keyscan -t ed25519 HOST`)".into(),
                ));
            }
            let line = text
                .lines()
                .map(|l| {
                    // ssh-keyscan prints `host ssh-ed25519 AAAA…`.
                    match l.find("ssh-ed25519 ") {
                        Some(i) => &l[i..],
                        None => l,
                    }
                })
                .find(|l| l.starts_with("ssh-ed25519 "))
                .ok_or_else(|| {
                    Error::InvalidOption(
                        "no ssh-ed25519 public key found (only ed25519 host keys convert to age)"
                            .into(),
                    )
                })?;
            ssh_to_age::ssh_public_to_age(line)
        }
        _ => Err(Error::InvalidOption(
            "give exactly one of --age and --ssh-key".into(),
        )),
    }
}

/// A planned change of hosts: the new `.sops.yaml` and the secrets whose
/// recipients it puts out of date. Nothing is written until
/// [`apply_host_plan`].
#[derive(Clone, Debug)]
pub struct HostPlan {
    /// Whether the host is removed (`host rm`), else added.
    pub removing: bool,
    /// The host's name.
    pub name: String,
    /// The recipient added or removed.
    pub recipient: String,
    /// The `.sops.yaml` text as read.
    pub old_config: String,
    /// The `.sops.yaml` text to write.
    pub new_config: String,
    /// The store with the new `.sops.yaml` (not written yet).
    pub repo: Repo,
    /// Secrets whose recipients differ from their rules under the new
    /// config (and unreadable secrets whose rule changes): what a re-key
    /// must update.
    pub out_of_date: Vec<SecretInfo>,
}

/// What applying a host plan did.
#[derive(Clone, Debug)]
pub struct HostChange {
    /// The recipient added or removed.
    pub recipient: String,
    /// The store, with the new `.sops.yaml`.
    pub repo: Repo,
    /// The secret files re-keyed for their new rules.
    pub updated: Vec<PathBuf>,
    /// Secrets whose recipients still differ from their rules (not
    /// re-keyed: `nsec updatekeys -y FILE…` does it).
    pub out_of_date: Vec<SecretInfo>,
}

/// Plans adding host `name` with `recipient` to `.sops.yaml` (to the rules
/// whose path_regex contains `only`, or all), keeping its comments and
/// layout (see [`hosts::add_host`]).
pub fn plan_host_add(
    repo: &Repo,
    cwd: &Path,
    name: &str,
    recipient: &str,
    only: Option<&str>,
) -> Result<HostPlan> {
    let path = &repo.config.path;
    let text = read_config_text(path)?;
    let new = hosts::add_host(path, &text, name, recipient, only)?;
    host_plan(repo, cwd, false, name, recipient, text, new)
}

/// `.sops.yaml` as text (a regular file of reasonable size, UTF-8).
fn read_config_text(path: &Path) -> Result<String> {
    String::from_utf8(fsio::read_small(path)?).map_err(|_| Error::Config {
        path: path.into(),
        rule: None,
        problem: crate::error::ConfigProblem::Invalid,
        message: "not UTF-8 text".into(),
    })
}

/// Plans removing host `name` from `.sops.yaml`, keeping its comments and
/// layout (see [`hosts::remove_host`]).
pub fn plan_host_rm(repo: &Repo, cwd: &Path, name: &str) -> Result<HostPlan> {
    let path = &repo.config.path;
    let text = read_config_text(path)?;
    let (new, recipient) = hosts::remove_host(path, &text, name)?;
    host_plan(repo, cwd, true, name, &recipient, text, new)
}

fn host_plan(
    repo: &Repo,
    cwd: &Path,
    removing: bool,
    name: &str,
    recipient: &str,
    old_config: String,
    new_config: String,
) -> Result<HostPlan> {
    let config = crate::rules::Config::parse(&repo.config.path, new_config.as_bytes())?;
    let new_repo = Repo {
        root: repo.root.clone(),
        config,
    };
    let rule_changed = |path: &Path| {
        let groups = |r: Result<&crate::rules::CreationRule>| r.ok().map(|r| r.key_groups.clone());
        groups(repo.config.rule_for(cwd, path)) != groups(new_repo.config.rule_for(cwd, path))
    };
    let out_of_date = list(&new_repo, cwd)?
        .into_iter()
        .filter(|i| match i.status {
            Status::RecipientsOutOfDate => true,
            Status::Unreadable(_) => rule_changed(&i.path),
            _ => false,
        })
        .collect();
    Ok(HostPlan {
        removing,
        name: name.to_string(),
        recipient: recipient.to_string(),
        old_config,
        new_config,
        repo: new_repo,
        out_of_date,
    })
}

impl HostPlan {
    /// The journal's name for this change (see [`rotate_store::Job`]).
    pub fn job(&self) -> rotate_store::Job {
        rotate_store::Job {
            command: if self.removing { "host rm" } else { "host add" }.into(),
            name: Some(self.name.clone()),
            recipient: self.recipient.clone(),
            secrets: self.out_of_date.iter().map(|i| i.name.clone()).collect(),
        }
    }
}

/// Writes the planned `.sops.yaml`. With `rekey`, also re-wraps the data
/// key of every out-of-date secret for the recipients of its new rule
/// (values, MAC and `lastmodified` unchanged, like `sops updatekeys`), as
/// one journaled change ([`rotate_store::run_journaled`]): every new file
/// is prepared beside its original first (a secret that cannot be parsed
/// or opened with `rekey` fails the whole change), then the secrets and,
/// last, `.sops.yaml` are renamed into place. A failure before that is
/// [`Error::NothingChanged`]; one during the renames leaves the journal,
/// and the next `nsec host`, `revoke` or `rotate` completes the change
/// (the caller holds [`rotate_store::lock_store`] and has run
/// [`rotate_store::recover`]).
pub fn apply_host_plan(plan: &HostPlan, rekey: Option<&Identities>) -> Result<HostChange> {
    let config_path = plan.repo.config.path.clone();
    let Some(identities) = rekey else {
        fsio::replace_all(&[fsio::Replacement {
            path: config_path,
            original: plan.old_config.as_bytes().to_vec(),
            new: plan.new_config.as_bytes().to_vec(),
        }])?;
        return Ok(HostChange {
            recipient: plan.recipient.clone(),
            repo: plan.repo.clone(),
            updated: Vec::new(),
            out_of_date: plan.out_of_date.clone(),
        });
    };
    let files: Vec<PathBuf> = plan.out_of_date.iter().map(|i| i.path.clone()).collect();
    let root = &plan.repo.root;
    let change = rotate_store::ConfigChange {
        path: &config_path,
        original: plan.old_config.as_bytes(),
        new: plan.new_config.as_bytes(),
    };
    let done = rotate_store::run_journaled(
        root,
        &files,
        Some(change),
        Some(&plan.job()),
        &mut |_, path, tmp| {
            let new = rekeyed(&plan.repo, path, identities).map_err(|e| e.in_file(path))?;
            fsio::write_atomic_like(tmp, &new, path)
        },
    );
    if let Err(e) = done {
        if rotate_store::pending(root) {
            return Err(e);
        }
        return Err(Error::NothingChanged {
            source: Box::new(e),
        });
    }
    Ok(HostChange {
        recipient: plan.recipient.clone(),
        repo: plan.repo.clone(),
        updated: files,
        out_of_date: Vec::new(),
    })
}

/// The new bytes of a secret re-keyed for its rule in `repo`.
fn rekeyed(repo: &Repo, path: &Path, identities: &Identities) -> Result<Vec<u8>> {
    let original = crate::fsio::read_file(path)?;
    let mut f = SopsFile::parse(Format::from_path(path), &original)?;
    let opts = super::encrypt_options(
        Some(&repo.config),
        repo.config.dir(),
        path,
        &super::EncryptOverrides::default(),
    )?;
    let key = f.data_key(identities)?;
    f.rewrap(&key, &opts.key_groups, opts.shamir_threshold)?;
    f.to_bytes(&repo.config.stores)
}

// ------------------------------------------------------------- host list

/// A named recipient of `.sops.yaml` and the secrets it can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostInfo {
    /// Its name (anchor or comment in `.sops.yaml`).
    pub name: String,
    /// The recipient (`age1…`).
    pub recipient: String,
    /// Secrets (by store name) whose files are encrypted for it now.
    pub can_read: Vec<String>,
    /// Secrets its rules give it whose files are not re-keyed for it yet.
    pub pending: Vec<PathBuf>,
    /// The store names of `pending`.
    pub pending_names: Vec<String>,
}

/// Every named recipient of `.sops.yaml`, sorted by name, with the secrets
/// it can read now (from each file's sops metadata: no key is needed) and
/// those its rules give it but whose files are not re-keyed for it yet.
/// Unreadable and plaintext files count for neither.
pub fn host_list(repo: &Repo, cwd: &Path) -> Result<Vec<HostInfo>> {
    let mut hosts: Vec<HostInfo> = repo
        .config
        .recipient_names
        .iter()
        .map(|(recipient, name)| HostInfo {
            name: name.clone(),
            recipient: recipient.clone(),
            can_read: Vec::new(),
            pending: Vec::new(),
            pending_names: Vec::new(),
        })
        .collect();
    hosts.sort_by(|a, b| (&a.name, &a.recipient).cmp(&(&b.name, &b.recipient)));
    for secret in list(repo, cwd)? {
        if matches!(secret.status, Status::NotEncrypted | Status::Unreadable(_)) {
            continue;
        }
        let rule = repo.config.rule_for(cwd, &secret.path).ok();
        for h in &mut hosts {
            if secret.recipients.iter().any(|r| r.key == h.recipient) {
                h.can_read.push(secret.name.clone());
            } else if rule.is_some_and(|r| r.recipients().any(|x| x == h.recipient)) {
                h.pending.push(secret.path.clone());
                h.pending_names.push(secret.name.clone());
            }
        }
    }
    Ok(hosts)
}

/// The entries of a document in order (for callers that print fields).
pub fn document_keys(doc: &Map) -> Vec<String> {
    doc.items
        .iter()
        .filter_map(|i| match i {
            Item::Entry(k, _) => Some(k.clone()),
            _ => None,
        })
        .collect()
}
