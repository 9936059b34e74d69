//! `nsec init`: a new store (its `.sops.yaml`) and the user's age identity
//! (found, or created where sops and sops-nix look for it).

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::fsio;
use crate::keys::discovery::{Env, KEY_FILE_VAR};
use crate::keys::ssh_to_age;
use crate::rules::CONFIG_NAME;
use crate::time::Timestamp;

use super::hosts;

/// The `.sops.yaml` that `init` writes, with `{{person}}` and
/// `{{recipient}}` to fill in.
pub(crate) const SOPS_YAML_TEMPLATE: &str = include_str!("../../../../../templates/sops.yaml");

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
pub(crate) fn identity_file_public(path: &Path) -> Result<String> {
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
