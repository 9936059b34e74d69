//! `nsec add` and `nsec rm`: planning a new secret from its template,
//! encrypting it to the store's recipients (with its sops-nix declaration),
//! and deleting one.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::file::{self, EncryptOptions};
use crate::format::Format;
use crate::fsio;
use crate::repo::{Store, EXTENSIONS};
use crate::time::Timestamp;
use crate::tree::{Map, Value};

use super::generate::{self, Kind};
use super::template::{self, Field, Template};
use super::{existing, last_component, PUBLIC_SUFFIX, UNENCRYPTED_SUFFIX};

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
    /// Whether an existing secret of that name may be replaced (planned
    /// with `force`); without it, a file that appears meanwhile is not
    /// overwritten.
    pub replace: bool,
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

/// Checks the name against the files already in the store: the same file
/// (refused without `force`), the same secret in another format, or a
/// path through an existing file.
fn check_collisions(repo: &Store, name: &str, path: &Path, force: bool) -> Result<()> {
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
    repo: &Store,
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
    let encrypt = crate::ops::encrypt_options(
        Some(&repo.config),
        cwd,
        &path,
        &crate::ops::EncryptOverrides::default(),
    )
    .map_err(|e| e.in_file(&path))?;
    Ok(AddPlan {
        name: name.to_string(),
        path,
        format,
        template,
        fields,
        encrypt,
        replace: force,
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
    pub notes: Vec<crate::ops::nix::Note>,
}

/// Builds, encrypts and writes the secret of `plan` (atomically, 0644).
/// Every value is checked first; on any error nothing is written.
pub fn add(repo: &Store, plan: &AddPlan, inputs: AddInputs, force: bool) -> Result<AddOutcome> {
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
                            "secret `{}`, field `{}`: no value was given; nothing was written",
                            plan.name, pf.key
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
    let before = crate::ops::nix::plan(repo, None)
        .map(|p| crate::ops::nix::prefixes(&p.declarations))
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
    repo: &Store,
    name: &str,
    before: &std::collections::BTreeMap<String, String>,
) -> (String, Vec<(String, String)>, Vec<crate::ops::nix::Note>) {
    use crate::ops::nix;
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

/// Deletes a secret's file. Returns the path removed.
pub fn remove(repo: &Store, name: &str) -> Result<PathBuf> {
    let path = existing(repo, name)?;
    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}
