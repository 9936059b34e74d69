//! Operations on files, as the CLI and other tools call them.
//!
//! These tie the pieces together: find `.sops.yaml`, pick the creation rule,
//! parse with the right store, recover the data key, and write results
//! atomically. Nothing here prints or prompts.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::file::{self, DecryptOptions, EncryptOptions, SopsFile};
use crate::format::Format;
use crate::keys::age::AgeRecipient;
use crate::keys::discovery::{self, Identities};
use crate::keys::groups::GroupKeys;
use crate::keys::kms::{self, KmsKey};
use crate::metadata::{Selector, SELECTOR_NAMES};
use crate::rules::{self, Config};
use crate::store::{self, StoreOptions};
use crate::tree::Map;

/// Command-line settings that take precedence over the creation rule.
#[derive(Clone, Debug, Default)]
pub struct EncryptOverrides {
    /// `--age` recipients (comma-separated lists already split). Keys on
    /// the command line (`age`, `pgp`) replace the rule's keys entirely.
    pub age: Vec<String>,
    /// `--pgp` fingerprints (lists already split).
    pub pgp: Vec<String>,
    /// `--kms` keys (`ARN[+ROLE]`, lists already split).
    pub kms: Vec<String>,
    /// `--encryption-context k:v,…` for `--kms` keys and a rule's flat
    /// `kms:` keys.
    pub encryption_context: Option<String>,
    /// `--aws-profile` for `--kms` keys.
    pub aws_profile: Option<String>,
    /// A selector given on the command line, by sops name and value.
    pub selector: Option<(String, String)>,
    /// `--mac-only-encrypted`.
    pub mac_only_encrypted: bool,
    /// `--shamir-secret-sharing-threshold`.
    pub shamir_threshold: Option<usize>,
}

impl EncryptOverrides {
    /// Are master keys given on the command line?
    pub fn has_keys(&self) -> bool {
        !self.age.is_empty() || !self.pgp.is_empty() || !self.kms.is_empty()
    }
}

/// Finds and loads the `.sops.yaml` that applies to `target`.
pub fn load_config(
    explicit: Option<&Path>,
    target: Option<&Path>,
    cwd: &Path,
) -> Result<Option<Config>> {
    match rules::find(explicit, target, cwd) {
        Some(path) => Config::load(&path).map(Some),
        None => Ok(None),
    }
}

/// The store options in force: the config's `stores:` section, if any.
pub fn store_options(config: Option<&Config>) -> StoreOptions {
    config.map(|c| c.stores).unwrap_or_default()
}

/// Works out recipients and selector for encrypting `file` (as named for
/// rule matching): command-line keys replace the rule's keys; the rule's
/// selector, threshold and `mac_only_encrypted` apply unless overridden.
pub fn encrypt_options(
    config: Option<&Config>,
    cwd: &Path,
    file: &Path,
    overrides: &EncryptOverrides,
) -> Result<EncryptOptions> {
    let rule = match config {
        // With recipients on the command line a config without a matching
        // rule is fine; sops only needs the rule for keys.
        Some(c) if !c.creation_rules.is_empty() => match c.rule_for(cwd, file) {
            Ok(r) => Some(r),
            Err(e) if !overrides.has_keys() => return Err(e),
            Err(_) => None,
        },
        _ => None,
    };
    let context = kms::parse_context(overrides.encryption_context.as_deref().unwrap_or(""))?;
    let key_groups: Vec<GroupKeys> = if overrides.has_keys() {
        vec![GroupKeys {
            age: overrides
                .age
                .iter()
                .map(|r| AgeRecipient::parse(r))
                .collect::<Result<_>>()?,
            pgp: overrides.pgp.clone(),
            kms: overrides
                .kms
                .iter()
                .map(|k| {
                    KmsKey::parse(
                        k,
                        context.clone(),
                        overrides.aws_profile.as_deref().unwrap_or(""),
                    )
                })
                .collect(),
        }]
    } else if let Some(rule) = rule {
        rule_group_keys(config, rule, &context)?
    } else {
        return Err(Error::NoRecipients);
    };
    let selector = match (&overrides.selector, rule.and_then(|r| r.selector.as_ref())) {
        (Some((name, _)), Some(rule_sel)) if rule_sel.name() != name => {
            return Err(Error::InvalidOption(format!(
                "cannot use more than one of {}: --{} was given and the creation rule sets {}",
                SELECTOR_NAMES.join(", "),
                name.replace('_', "-"),
                rule_sel.name()
            )))
        }
        (Some((name, value)), _) => Some(Selector::new(name, value)?),
        (None, rule_sel) => rule_sel.cloned(),
    };
    Ok(EncryptOptions {
        key_groups,
        shamir_threshold: overrides
            .shamir_threshold
            .or(rule.map(|r| r.shamir_threshold))
            .unwrap_or(0),
        selector,
        mac_only_encrypted: overrides.mac_only_encrypted
            || rule.is_some_and(|r| r.mac_only_encrypted),
    })
}

/// The master keys of a creation rule, refused when it names keys nsec
/// cannot encrypt to or none at all.
pub(crate) fn rule_group_keys(
    config: Option<&Config>,
    rule: &rules::CreationRule,
    context: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<GroupKeys>> {
    let invalid = |message: String| Error::Config {
        path: config.map(|c| c.path.clone()).unwrap_or_default().into(),
        rule: Some(rule.index),
        problem: crate::error::ConfigProblem::Invalid,
        message,
    };
    if !rule.unsupported_keys.is_empty() {
        // Encrypting to the other keys alone would quietly leave out the
        // people and machines the rule gives those keys.
        return Err(invalid(format!(
            "the rule names {} keys, which nsec cannot encrypt to (use sops for these files, or name the keys to encrypt to explicitly)",
            rule.unsupported_keys.join(", ")
        )));
    }
    if !rule.has_master_keys() {
        return Err(invalid(
            "the rule has no age recipients, pgp or kms keys".into(),
        ));
    }
    rule.group_keys_with_context(context)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    crate::fsio::read_file(path)
}

fn cwd() -> Result<PathBuf> {
    std::env::current_dir().map_err(|e| Error::io(".", e))
}

/// Decrypts a sops file to the plaintext bytes `sops decrypt` would print,
/// using the identities of the environment (`SOPS_AGE_KEY_FILE`, the default
/// `keys.txt`, …) and the store chosen by the file's extension.
///
/// ```no_run
/// let plaintext = secrets_core::ops::decrypt_file("secrets/api-keys/openai.yaml")?;
/// # Ok::<(), secrets_core::Error>(())
/// ```
pub fn decrypt_file(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let format = Format::from_path(path);
    let config = load_config(None, Some(path), &cwd()?)?;
    let identities = discovery::discover(&discovery::ProcessEnv, crate::NoCallbacks);
    let read_only = DecryptOptions {
        read_only: true,
        ..DecryptOptions::default()
    };
    let opened = open_with(path, format, &identities, read_only)?;
    opened
        .plaintext(format, &store_options(config.as_ref()))
        .map_err(|e| e.in_file(path))
}

/// Decrypts a sops file to its documents (one per YAML document).
pub fn decrypt_file_to_tree(path: impl AsRef<Path>) -> Result<Vec<Map>> {
    let path = path.as_ref();
    Ok(open_file(
        path,
        &discovery::discover(&discovery::ProcessEnv, crate::NoCallbacks),
    )?
    .documents)
}

/// Parses and decrypts a file with the given identities, checking the MAC.
pub fn open_file(path: &Path, identities: &Identities) -> Result<file::Opened> {
    open_file_as(path, Format::from_path(path), identities)
}

/// [`open_file`] for a file in the given store (sops' `--input-type`).
pub fn open_file_as(path: &Path, format: Format, identities: &Identities) -> Result<file::Opened> {
    open_with(path, format, identities, DecryptOptions::default())
}

fn open_with(
    path: &Path,
    format: Format,
    identities: &Identities,
    opts: DecryptOptions,
) -> Result<file::Opened> {
    let bytes = read(path)?;
    SopsFile::parse(format, &bytes)
        .and_then(|f| f.open(identities, opts))
        .map_err(|e| e.in_file(path))
}

/// Encrypts a plaintext file by the `.sops.yaml` creation rule that matches
/// it and returns the encrypted bytes (the file itself is not changed).
pub fn encrypt_file(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let cwd = cwd()?;
    let config = load_config(None, Some(path), &cwd)?;
    let format = Format::from_path(path);
    let opts = encrypt_options(config.as_ref(), &cwd, path, &EncryptOverrides::default())
        .map_err(|e| e.in_file(path))?;
    let docs = store::parse(format, &read(path)?).map_err(|e| e.in_file(path))?;
    file::encrypt(format, docs, &opts)
        .and_then(|f| f.to_bytes(&store_options(config.as_ref())))
        .map_err(|e| e.in_file(path))
}

pub(crate) mod config_edit;
pub mod edit;
pub mod exec;
pub mod integrate;
pub mod keys;
pub mod nix;
pub mod revoke;
pub mod rotate_store;
pub mod secrets;
pub mod validate;
