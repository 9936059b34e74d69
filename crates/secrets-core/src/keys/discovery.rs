//! Where age identities come from.
//!
//! sops collects identities from **every** source below, in this order, and
//! decrypts with whichever one matches (spec §12):
//!
//! 1. `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, then `~/.ssh/id_ed25519` and
//!    `~/.ssh/id_rsa` if they exist (OpenSSH private keys; sops 3.11 does
//!    *not* also derive the `ssh-to-age` X25519 identity from an ed25519
//!    key — checked with the real binary — so neither do we);
//! 2. `SOPS_AGE_KEY`: identity lines;
//! 3. `SOPS_AGE_KEY_FILE`: an identity file;
//! 4. `SOPS_AGE_KEY_CMD`: a command (split shell-style, run without a shell)
//!    whose standard output is an identity file;
//! 5. `$XDG_CONFIG_HOME/sops/age/keys.txt` or `~/.config/sops/age/keys.txt`,
//!    read even when the variables above are set.
//!
//! A source that fails (a bad line, an unreadable file, a failing command)
//! is recorded as a [`LoadProblem`] and the other sources still count.
//! Places that yielded no keys are remembered too, so the "no key could
//! decrypt" error can list them the way sops does
//! ([`Identities::report_suffix`]).
//!
//! The environment is read through the [`Env`] trait so tests need no real
//! environment. Passphrases (for passphrase-protected SSH keys and for
//! identity files that are themselves passphrase-encrypted age files) are
//! asked for through [`age::Callbacks::request_passphrase`], lazily: only
//! when a stanza the key could open is seen, and at most once per key.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use age::Callbacks;
use age_core::format::{FileKey, Stanza};
use base64::{engine::general_purpose::STANDARD_NO_PAD, Engine};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::groups::DecryptionOrder;
use super::ssh_to_age;

/// `SOPS_AGE_SSH_PRIVATE_KEY_FILE`: path of an OpenSSH private key.
pub const SSH_PRIVATE_KEY_FILE_VAR: &str = "SOPS_AGE_SSH_PRIVATE_KEY_FILE";
/// `SOPS_AGE_KEY`: identities, one per line.
pub const KEY_VAR: &str = "SOPS_AGE_KEY";
/// `SOPS_AGE_KEY_FILE`: path of an identity file.
pub const KEY_FILE_VAR: &str = "SOPS_AGE_KEY_FILE";
/// `SOPS_AGE_KEY_CMD`: command printing an identity file.
pub const KEY_CMD_VAR: &str = "SOPS_AGE_KEY_CMD";

/// Identity sources larger than this are refused (age's own limit).
const SIZE_LIMIT: u64 = 1 << 24;

/// One loaded identity.
pub type BoxedIdentity = Box<dyn age::Identity + Send + Sync>;

/// The process environment as identity discovery needs it.
pub trait Env {
    /// The variable's value; `Some("")` when it is set but empty (sops
    /// distinguishes set from unset).
    fn var(&self, name: &str) -> Option<String>;
    /// The user's home directory (`$HOME`, as Go's `os.UserHomeDir`).
    fn home_dir(&self) -> Option<PathBuf>;
}

/// The real environment of this process.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }

    fn home_dir(&self) -> Option<PathBuf> {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
    }
}

/// A source of identities that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadProblem {
    /// The variable name or path of the source.
    pub location: String,
    /// What went wrong (never key material).
    pub reason: String,
}

impl fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.reason)
    }
}

/// The identities found, with the places tried and the problems met.
#[derive(Default)]
pub struct Identities {
    identities: Vec<BoxedIdentity>,
    loaded_locations: Vec<String>,
    unused_locations: Vec<String>,
    problems: Vec<LoadProblem>,
    decryption_order: DecryptionOrder,
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the keys themselves: only how many and where we looked.
        f.debug_struct("Identities")
            .field("count", &self.identities.len())
            .field("unused_locations", &self.unused_locations)
            .field("problems", &self.problems)
            .field("decryption_order", &self.decryption_order)
            .finish()
    }
}

impl Identities {
    /// An empty set.
    pub fn new() -> Identities {
        Identities::default()
    }

    /// Adds one identity.
    pub fn push(&mut self, identity: BoxedIdentity) {
        self.identities.push(identity);
    }

    /// The order in which a key group's master keys are tried (from
    /// `SOPS_DECRYPTION_ORDER` when [`discover`] found them).
    pub fn decryption_order(&self) -> &DecryptionOrder {
        &self.decryption_order
    }

    /// Sets the order in which a key group's master keys are tried (sops'
    /// `--decryption-order`).
    pub fn set_decryption_order(&mut self, order: DecryptionOrder) {
        self.decryption_order = order;
    }

    /// The number of identities loaded.
    pub fn len(&self) -> usize {
        self.identities.len()
    }

    /// Whether no identity was loaded.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }

    /// The identities, for [`age::Decryptor::decrypt`].
    pub fn iter(&self) -> impl Iterator<Item = &dyn age::Identity> + '_ {
        self.identities
            .iter()
            .map(|i| i.as_ref() as &dyn age::Identity)
    }

    /// Places identities were loaded from (identity files and variables;
    /// SSH keys are listed as their paths).
    pub fn loaded_locations(&self) -> &[String] {
        &self.loaded_locations
    }

    /// Places that were looked at and yielded no keys, in sops' order
    /// (variable names for unset variables, paths for missing files).
    pub fn unused_locations(&self) -> &[String] {
        &self.unused_locations
    }

    /// Sources that failed to load.
    pub fn problems(&self) -> &[LoadProblem] {
        &self.problems
    }

    /// Records a place that yielded no keys.
    pub fn note_unused(&mut self, location: impl Into<String>) {
        self.unused_locations.push(location.into());
    }

    /// Records a source that failed.
    pub fn note_problem(&mut self, location: impl Into<String>, reason: impl Into<String>) {
        self.problems.push(LoadProblem {
            location: location.into(),
            reason: reason.into(),
        });
    }

    /// Parses an identity file's contents and adds its identities, recording
    /// a problem (and adding nothing) if the source is bad, or an unused
    /// location if it holds no identities.
    pub fn add_source<C: Callbacks>(&mut self, location: &str, contents: &[u8], callbacks: C) {
        match parse_identity_source(location, contents, callbacks) {
            Ok(ids) if ids.is_empty() => self.note_unused(location),
            Ok(ids) => {
                self.loaded_locations.push(location.to_string());
                self.identities.extend(ids)
            }
            Err(reason) => self.note_problem(location, reason),
        }
    }

    /// What sops appends to its "failed to get the data key" message:
    /// `. Errors while loading age identities: …` (if any problems) and
    /// `. Did not find keys in locations 'A', 'B', and 'C'.` (if any unused
    /// locations). Empty when there is nothing to say.
    pub fn report_suffix(&self) -> String {
        let mut out = String::new();
        if !self.problems.is_empty() {
            let joined: Vec<String> = self.problems.iter().map(|p| p.to_string()).collect();
            out.push_str(". Errors while loading age identities: ");
            out.push_str(&joined.join("; "));
        }
        let unused = &self.unused_locations;
        match unused.len() {
            0 => {}
            1 => out.push_str(&format!(". Did not find keys in location '{}'.", unused[0])),
            2 => out.push_str(&format!(
                ". Did not find keys in locations '{}' and '{}'.",
                unused[0], unused[1]
            )),
            n => out.push_str(&format!(
                ". Did not find keys in locations '{}', and '{}'.",
                unused[..n - 1].join("', '"),
                unused[n - 1]
            )),
        }
        out
    }
}

/// Loads identities from every source sops 3.11 reads (see the module docs).
///
/// Never fails: problems are recorded in the result. `callbacks` is used for
/// passphrase prompts and age plugins.
pub fn discover<C: Callbacks>(env: &dyn Env, callbacks: C) -> Identities {
    let mut found = Identities::new();

    // The order keys are tried in. A bad value (a type named twice) is a
    // problem the failure report shows; the CLI refuses it up front, as
    // sops does.
    if let Some(text) = env.var(DecryptionOrder::VAR) {
        match DecryptionOrder::parse(&text) {
            Ok(order) => found.decryption_order = order,
            Err(e) => found.note_problem(DecryptionOrder::VAR, e.to_string()),
        }
    }

    // 1. SSH keys.
    match env.var(SSH_PRIVATE_KEY_FILE_VAR) {
        Some(path) => add_ssh_key_file(&mut found, Path::new(&path), callbacks.clone()),
        None => found.note_unused(SSH_PRIVATE_KEY_FILE_VAR),
    }
    if let Some(home) = env.home_dir() {
        for name in ["id_ed25519", "id_rsa"] {
            let path = home.join(".ssh").join(name);
            if path.exists() {
                add_ssh_key_file(&mut found, &path, callbacks.clone());
            } else {
                found.note_unused(path.display().to_string());
            }
        }
    }

    // 2.–4. Identity files given through the environment. They are read
    // first and parsed afterwards, as sops does, so that whether the
    // default file's absence counts as an unused location depends on
    // whether anything else was found.
    let mut sources: Vec<(String, Zeroizing<Vec<u8>>)> = Vec::new();
    match env.var(KEY_VAR) {
        Some(text) => sources.push((KEY_VAR.to_string(), Zeroizing::new(text.into_bytes()))),
        None => found.note_unused(KEY_VAR),
    }
    match env.var(KEY_FILE_VAR) {
        Some(path) => match read_limited(Path::new(&path)) {
            // Name the file too: "SOPS_AGE_KEY_FILE" alone does not say
            // which file was wrong.
            Ok(contents) => sources.push((format!("{KEY_FILE_VAR} ({path})"), contents)),
            Err(e) => found.note_problem(
                KEY_FILE_VAR,
                format!("failed to open {KEY_FILE_VAR} file {path}: {e}"),
            ),
        },
        None => found.note_unused(KEY_FILE_VAR),
    }
    match env.var(KEY_CMD_VAR) {
        Some(command) => match run_key_command(&command) {
            Ok(output) => sources.push((KEY_CMD_VAR.to_string(), output)),
            Err(reason) => found.note_problem(KEY_CMD_VAR, reason),
        },
        None => found.note_unused(KEY_CMD_VAR),
    }

    // 5. The default keys file.
    match user_config_dir(env) {
        Ok(dir) => {
            let path = dir.join("sops").join("age").join("keys.txt");
            let location = path.display().to_string();
            match read_limited(&path) {
                Ok(contents) => sources.push((location, contents)),
                // sops lists the missing default file only when no other
                // source was given; nsec always says every place it looked.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => found.note_unused(location),
                Err(e) => found.note_problem(location, format!("failed to open file: {e}")),
            }
        }
        Err(reason) => {
            if sources.is_empty() && found.is_empty() {
                found.note_problem(
                    "default keys file",
                    format!("user config directory could not be determined: {reason}"),
                );
            }
        }
    }

    for (location, contents) in &sources {
        found.add_source(location, contents, callbacks.clone());
    }
    found
}

/// The directory holding `sops/age/keys.txt`, as Go's `os.UserConfigDir`
/// (with sops' macOS exception for `XDG_CONFIG_HOME`).
fn user_config_dir(env: &dyn Env) -> Result<PathBuf, String> {
    let xdg = env.var("XDG_CONFIG_HOME").filter(|d| !d.is_empty());
    if cfg!(target_os = "macos") {
        if let Some(dir) = xdg {
            return Ok(PathBuf::from(dir));
        }
        return env
            .home_dir()
            .map(|h| h.join("Library").join("Application Support"))
            .ok_or_else(|| "$HOME is not defined".to_string());
    }
    match xdg {
        Some(dir) if Path::new(&dir).is_absolute() => Ok(PathBuf::from(dir)),
        Some(_) => Err("path in $XDG_CONFIG_HOME is relative".to_string()),
        None => env
            .home_dir()
            .map(|h| h.join(".config"))
            .ok_or_else(|| "neither $XDG_CONFIG_HOME nor $HOME are defined".to_string()),
    }
}

/// Reads a whole file, refusing anything larger than [`SIZE_LIMIT`].
fn read_limited(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // A FIFO named like an identity file must not block nsec.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        nix::fcntl::OFlag::O_NONBLOCK.bits(),
    );
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is {}, not a regular file",
                path.display(),
                crate::fsio::file_kind(&meta)
            ),
        ));
    }
    // Sized up front so that the buffer never grows: a grown buffer would
    // leave a copy of the keys in freed memory, unwiped.
    let len = file.metadata().map_or(0, |m| m.len()).min(SIZE_LIMIT) as usize;
    let mut contents = Zeroizing::new(Vec::with_capacity(len + 1));
    file.take(SIZE_LIMIT + 1).read_to_end(&mut contents)?;
    if contents.len() as u64 > SIZE_LIMIT {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "file too long",
        ));
    }
    Ok(contents)
}

/// Runs `SOPS_AGE_KEY_CMD` without a shell and returns its standard output.
fn run_key_command(command: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let words = split_shell_words(command)
        .map_err(|e| format!("failed to parse command {command} from {KEY_CMD_VAR}: {e}"))?;
    let (program, args) = words
        .split_first()
        .ok_or_else(|| format!("failed to parse command {command} from {KEY_CMD_VAR}: empty"))?;
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("failed to execute command {command} from {KEY_CMD_VAR}: {e}"))?;
    let stdout = Zeroizing::new(output.stdout);
    if !output.status.success() {
        return Err(format!(
            "failed to execute command {command} from {KEY_CMD_VAR}: {}",
            output.status
        ));
    }
    Ok(stdout)
}

/// Splits a command line into words the way sops' shlex does: blanks
/// separate words, `'…'` is literal, `"…"` allows `\"`, `\\`, `\$` and
/// `` \` `` escapes, a backslash outside quotes escapes the next character,
/// and `#` at the start of a word comments out the rest of the line.
pub fn split_shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' if !in_word => {
                // A comment runs to the end of the line.
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unclosed single quote".to_string()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unclosed double quote".to_string()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unclosed double quote".to_string()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("trailing backslash".to_string()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Parses an identity source: an identity file (lines of
/// `AGE-SECRET-KEY-1…`, `AGE-SECRET-KEY-PQ-1…` / `AGE-PLUGIN-…`, `#` comments
/// and blank lines), or
/// an age file encrypted with a passphrase that contains one.
///
/// Returns the reason (naming line numbers, never contents) on failure.
pub fn parse_identity_source<C: Callbacks>(
    location: &str,
    contents: &[u8],
    callbacks: C,
) -> Result<Vec<BoxedIdentity>, String> {
    if contents.starts_with(b"age-encryption") || contents.starts_with(b"-----BEGIN AGE") {
        return encrypted_identity_file(location, contents, callbacks).map(|id| vec![id]);
    }
    plain_identities(location, contents, callbacks)
}

/// Parses a plain identity file: `AGE-SECRET-KEY-PQ-1…` lines here, every
/// other line by the `age` crate (which knows X25519 and plugin identities).
fn plain_identities<C: Callbacks>(
    location: &str,
    contents: &[u8],
    callbacks: C,
) -> Result<Vec<BoxedIdentity>, String> {
    let (pq, rest) = take_pq_identities(location, contents)?;
    let contents = rest.as_deref().map_or(contents, |r| &r[..]);
    let file = age::IdentityFile::from_buffer(contents)
        .map_err(|e| format!("failed to parse '{location}' age identities: {e}"))?;
    let mut identities = file
        .with_callbacks(callbacks)
        .into_identities()
        .map_err(|e| format!("failed to parse '{location}' age identities: {e}"))?;
    identities.extend(pq);
    Ok(identities)
}

/// The post-quantum identities of a file, and the rest of it when it had any.
type PqSplit = (Vec<BoxedIdentity>, Option<Zeroizing<Vec<u8>>>);

/// Takes age 1.3's post-quantum identities (`AGE-SECRET-KEY-PQ-1…`, which
/// the `age` crate does not parse) out of an identity file. Returns them and,
/// when there were any, the rest of the file for the `age` crate, with each
/// such line turned into a `#` comment so that line numbers stay right. A bad
/// line fails the whole source, as any bad line does in age; the reason
/// names the line, never its text.
fn take_pq_identities(location: &str, contents: &[u8]) -> Result<PqSplit, String> {
    let prefix = super::pq::IDENTITY_PREFIX.as_bytes();
    if !contents.windows(prefix.len()).any(|w| w == prefix) {
        return Ok((Vec::new(), None));
    }
    let mut found: Vec<BoxedIdentity> = Vec::new();
    // Never longer than the input, so it never grows (and leaves no copy).
    let mut rest = Zeroizing::new(Vec::with_capacity(contents.len()));
    for (index, line) in contents.split(|&b| b == b'\n').enumerate() {
        if index > 0 {
            rest.push(b'\n');
        }
        let trimmed = line.trim_ascii();
        if !trimmed.starts_with(prefix) {
            rest.extend_from_slice(line);
            continue;
        }
        let fail = |why: &dyn fmt::Display| {
            format!(
                "failed to parse '{location}' age identities: line {}: invalid post-quantum secret key: {why}",
                index + 1
            )
        };
        let text = std::str::from_utf8(trimmed).map_err(|_| fail(&"not UTF-8"))?;
        let identity = super::pq::PqIdentity::parse(text).map_err(|e| fail(&e))?;
        found.push(Box::new(identity));
        rest.push(b'#');
    }
    Ok((found, Some(rest)))
}

/// An identity file that is itself encrypted to a passphrase: the
/// passphrase is asked for the first time a file key is needed.
fn encrypted_identity_file<C: Callbacks>(
    location: &str,
    contents: &[u8],
    callbacks: C,
) -> Result<BoxedIdentity, String> {
    let header_check = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(contents))
        .map_err(|e| format!("failed to read encrypted identity file '{location}': {e}"))?;
    if !header_check.is_scrypt() {
        return Err(format!(
            "'{location}' is an age file that is not encrypted with a passphrase"
        ));
    }
    let contents = contents.to_vec();
    let location = location.to_string();
    let init = move || -> Result<Option<Vec<BoxedIdentity>>, age::DecryptError> {
        let Some(passphrase) =
            callbacks.request_passphrase(&format!("Enter passphrase for identity '{location}':"))
        else {
            return Ok(None);
        };
        let decryptor =
            age::Decryptor::new_buffered(age::armor::ArmoredReader::new(&contents[..]))?;
        let scrypt = age::scrypt::Identity::new(passphrase);
        let mut reader = decryptor.decrypt(std::iter::once(&scrypt as &dyn age::Identity))?;
        // Sized for a usual identity file, so the buffer rarely grows.
        let mut plain = Zeroizing::new(Vec::with_capacity(8192));
        reader.read_to_end(&mut plain)?;
        plain_identities(&location, &plain, callbacks.clone())
            .map(Some)
            .map_err(|reason| {
                age::DecryptError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, reason))
            })
    };
    Ok(Box::new(LazyIdentity {
        applies: Box::new(|_| true),
        init: Box::new(init),
        state: Mutex::new(None),
    }))
}

/// Loads an OpenSSH private key file, recording a problem if it is bad.
fn add_ssh_key_file<C: Callbacks>(found: &mut Identities, path: &Path, callbacks: C) {
    let location = path.display().to_string();
    let contents = match read_limited(path) {
        Ok(c) => c,
        Err(e) => {
            found.note_problem(location, format!("failed to open file: {e}"));
            return;
        }
    };
    match ssh_identities(&location, &contents, callbacks) {
        Ok(ids) => {
            found.loaded_locations.push(location);
            found.identities.extend(ids)
        }
        Err(reason) => found.note_problem(location, reason),
    }
}

/// The identity of an OpenSSH (or PEM RSA) private key file, for
/// `ssh-ed25519` / `ssh-rsa` stanzas. A passphrase-protected key asks for
/// its passphrase only when it meets a stanza carrying its own key tag.
pub fn ssh_identities<C: Callbacks>(
    location: &str,
    contents: &[u8],
    callbacks: C,
) -> Result<Vec<BoxedIdentity>, String> {
    if ssh_to_age::private_key_would_panic_age(contents) {
        return Err(format!(
            "malformed SSH identity in {location:?}: an RSA number is all zero bytes"
        ));
    }
    let parsed = age::ssh::Identity::from_buffer(contents, Some(location.to_string()))
        .map_err(|e| format!("malformed SSH identity in {location:?}: {e}"))?;
    match parsed {
        age::ssh::Identity::Unencrypted(_) => Ok(vec![Box::new(parsed)]),
        age::ssh::Identity::Encrypted(key) => {
            // The public key is stored in the clear, so stanzas for other
            // keys can be skipped without asking for the passphrase.
            let tag = ssh_to_age::parse_openssh_private(contents)
                .ok()
                .map(|k| STANDARD_NO_PAD.encode(&Sha256::digest(&k.public_blob)[..4]));
            let location = location.to_string();
            let applies = move |stanzas: &[Stanza]| {
                stanzas.iter().any(|s| {
                    (s.tag == "ssh-ed25519" || s.tag == "ssh-rsa")
                        && match &tag {
                            Some(tag) => s.args.first() == Some(tag),
                            None => true,
                        }
                })
            };
            let init = move || -> Result<Option<Vec<BoxedIdentity>>, age::DecryptError> {
                let Some(passphrase) =
                    callbacks.request_passphrase(&format!("Enter passphrase for {location:?}:"))
                else {
                    return Ok(None);
                };
                let unlocked = age::ssh::Identity::from(key.decrypt(passphrase)?);
                Ok(Some(vec![Box::new(unlocked) as BoxedIdentity]))
            };
            Ok(vec![Box::new(LazyIdentity {
                applies: Box::new(applies),
                init: Box::new(init),
                state: Mutex::new(None),
            })])
        }
        age::ssh::Identity::Unsupported(kind) => Err(format!(
            "unsupported SSH key in {location:?}: {}",
            describe_unsupported(&kind)
        )),
    }
}

fn describe_unsupported(kind: &age::ssh::UnsupportedKey) -> String {
    match kind {
        age::ssh::UnsupportedKey::EncryptedPem => {
            "passphrase-protected PEM keys are not supported (convert with `ssh-keygen -o -p`)"
                .to_string()
        }
        // Names read from the file are shown only when name-like: a corrupt
        // length may run into key bytes.
        age::ssh::UnsupportedKey::EncryptedSsh(cipher)
            if ssh_to_age::name_like(cipher.as_bytes()) =>
        {
            format!("keys encrypted with cipher {cipher} are not supported")
        }
        age::ssh::UnsupportedKey::EncryptedSsh(_) => {
            "keys encrypted with an unknown cipher are not supported".to_string()
        }
        age::ssh::UnsupportedKey::Hardware(key_type)
            if ssh_to_age::name_like(key_type.as_bytes()) =>
        {
            format!("hardware key type {key_type} is not supported")
        }
        age::ssh::UnsupportedKey::Hardware(_) => {
            "an unknown hardware key type is not supported".to_string()
        }
        age::ssh::UnsupportedKey::Type(key_type) if ssh_to_age::name_like(key_type.as_bytes()) => {
            format!("key type {key_type} is not supported")
        }
        age::ssh::UnsupportedKey::Type(_) => "an unknown key type is not supported".to_string(),
    }
}

/// Decides from the stanzas whether a lazy identity could open them.
type StanzaFilter = Box<dyn Fn(&[Stanza]) -> bool + Send + Sync>;

/// Unlocks a lazy identity: `Ok(None)` when no passphrase could be asked.
type LazyInit =
    Box<dyn Fn() -> Result<Option<Vec<BoxedIdentity>>, age::DecryptError> + Send + Sync>;

/// An identity that needs a passphrase before it can be used. The
/// passphrase is requested once, the first time a stanza it could open is
/// seen; the outcome (keys, "no passphrase available", or failure) is kept.
struct LazyIdentity {
    applies: StanzaFilter,
    init: LazyInit,
    /// `None` until first use; then `Ok(keys)` (empty when no passphrase
    /// could be asked for) or `Err(())` after a failed unlock.
    state: Mutex<Option<Result<Vec<BoxedIdentity>, ()>>>,
}

impl age::Identity for LazyIdentity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        self.unwrap_stanzas(std::slice::from_ref(stanza))
    }

    fn unwrap_stanzas(&self, stanzas: &[Stanza]) -> Option<Result<FileKey, age::DecryptError>> {
        if !(self.applies)(stanzas) {
            return None;
        }
        // A poisoned lock only means another thread panicked mid-prompt;
        // the cached state is still meaningful.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.is_none() {
            *state = Some(match (self.init)() {
                Ok(ids) => Ok(ids.unwrap_or_default()),
                Err(_) => Err(()),
            });
        }
        match state.as_ref() {
            Some(Ok(ids)) => ids.iter().find_map(|id| id.unwrap_stanzas(stanzas)),
            _ => Some(Err(age::DecryptError::KeyDecryptionFailed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const KEY_A_PUB: &str = "age1s57gtcmp6dt42ctny6gcgwsf3fgjd32mjzksulrggvqfzrk65aksxmwzle";

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/vectors");

    /// A map-backed environment.
    #[derive(Default)]
    struct MapEnv {
        vars: HashMap<String, String>,
        home: Option<PathBuf>,
    }

    impl MapEnv {
        fn home(dir: &Path) -> MapEnv {
            MapEnv {
                vars: HashMap::new(),
                home: Some(dir.to_path_buf()),
            }
        }
        fn set(mut self, k: &str, v: impl Into<String>) -> MapEnv {
            self.vars.insert(k.to_string(), v.into());
            self
        }
    }

    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).cloned()
        }
        fn home_dir(&self) -> Option<PathBuf> {
            self.home.clone()
        }
    }

    fn key_text(name: &str) -> String {
        std::fs::read_to_string(format!("{VECTORS}/keys/{name}")).unwrap()
    }

    /// The single AGE-SECRET-KEY line of a vector key file.
    fn key_line(name: &str) -> String {
        key_text(name)
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .unwrap()
            .to_string()
    }

    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    #[test]
    fn nothing_configured_lists_every_location() {
        let home = tempfile::tempdir().unwrap();
        let env = MapEnv::home(home.path());
        let ids = discover(&env, age::NoCallbacks);
        assert!(ids.is_empty());
        assert!(ids.problems().is_empty());
        let h = home.path().display();
        assert_eq!(
            strs(ids.unused_locations()),
            vec![
                "SOPS_AGE_SSH_PRIVATE_KEY_FILE".to_string(),
                format!("{h}/.ssh/id_ed25519"),
                format!("{h}/.ssh/id_rsa"),
                "SOPS_AGE_KEY".to_string(),
                "SOPS_AGE_KEY_FILE".to_string(),
                "SOPS_AGE_KEY_CMD".to_string(),
                format!("{h}/.config/sops/age/keys.txt"),
            ]
        );
        assert_eq!(
            ids.report_suffix(),
            format!(
                ". Did not find keys in locations 'SOPS_AGE_SSH_PRIVATE_KEY_FILE', \
                 '{h}/.ssh/id_ed25519', '{h}/.ssh/id_rsa', 'SOPS_AGE_KEY', \
                 'SOPS_AGE_KEY_FILE', 'SOPS_AGE_KEY_CMD', and '{h}/.config/sops/age/keys.txt'."
            )
        );
    }

    #[test]
    fn each_source_alone() {
        let home = tempfile::tempdir().unwrap();
        let key_file = format!("{VECTORS}/keys/age-test-key-A.txt");

        let ids = discover(
            &MapEnv::home(home.path()).set(KEY_VAR, key_line("age-test-key-B.txt")),
            age::NoCallbacks,
        );
        assert_eq!(ids.len(), 1);
        assert!(!ids.unused_locations().iter().any(|l| l == KEY_VAR));

        let ids = discover(
            &MapEnv::home(home.path()).set(KEY_FILE_VAR, key_file.clone()),
            age::NoCallbacks,
        );
        assert_eq!(ids.len(), 1);
        assert!(ids.problems().is_empty());
        // The missing default file is listed even though something was
        // found (sops would leave it out; nsec names every place it looked).
        assert!(ids
            .unused_locations()
            .iter()
            .any(|l| l.ends_with("keys.txt")));
        assert_eq!(ids.loaded_locations().len(), 1);
        assert!(ids.loaded_locations()[0].starts_with(KEY_FILE_VAR));

        let ids = discover(
            &MapEnv::home(home.path()).set(KEY_CMD_VAR, format!("cat '{key_file}'")),
            age::NoCallbacks,
        );
        assert_eq!(ids.len(), 1, "{:?}", ids.problems());

        let ids = discover(
            &MapEnv::home(home.path()).set(
                SSH_PRIVATE_KEY_FILE_VAR,
                format!("{VECTORS}/keys/ssh_ed25519"),
            ),
            age::NoCallbacks,
        );
        assert_eq!(ids.len(), 1, "{:?}", ids.problems());
    }

    #[test]
    fn default_file_xdg_and_home_config() {
        let home = tempfile::tempdir().unwrap();
        let xdg = tempfile::tempdir().unwrap();
        let in_home = home.path().join(".config/sops/age");
        std::fs::create_dir_all(&in_home).unwrap();
        std::fs::write(in_home.join("keys.txt"), key_text("age-test-key-A.txt")).unwrap();
        let ids = discover(&MapEnv::home(home.path()), age::NoCallbacks);
        assert_eq!(ids.len(), 1);

        // With XDG_CONFIG_HOME set, ~/.config is not read.
        let env =
            MapEnv::home(home.path()).set("XDG_CONFIG_HOME", xdg.path().display().to_string());
        let ids = discover(&env, age::NoCallbacks);
        assert_eq!(ids.len(), 0);
        let expected = format!("{}/sops/age/keys.txt", xdg.path().display());
        assert_eq!(ids.unused_locations().last().unwrap(), &expected);

        let in_xdg = xdg.path().join("sops/age");
        std::fs::create_dir_all(&in_xdg).unwrap();
        std::fs::write(in_xdg.join("keys.txt"), key_text("age-test-key-B.txt")).unwrap();
        let ids = discover(&env, age::NoCallbacks);
        assert_eq!(ids.len(), 1);
    }

    #[test]
    fn all_sources_combined_and_bad_line_isolated() {
        let home = tempfile::tempdir().unwrap();
        let cfg = home.path().join(".config/sops/age");
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(cfg.join("keys.txt"), key_text("age-test-key-C.txt")).unwrap();
        let bad = home.path().join("bad.txt");
        std::fs::write(
            &bad,
            format!(
                "# comment\n\n{}\n  {}\n",
                key_line("age-test-key-A.txt"),
                "AGE-SECRET-KEY-1SECRETSTUFF"
            ),
        )
        .unwrap();
        let env = MapEnv::home(home.path())
            .set(
                SSH_PRIVATE_KEY_FILE_VAR,
                format!("{VECTORS}/keys/ssh_ed25519"),
            )
            .set(KEY_VAR, format!("{}\r\n", key_line("age-test-key-B.txt")))
            .set(KEY_FILE_VAR, bad.display().to_string())
            .set(
                KEY_CMD_VAR,
                format!("cat {VECTORS}/keys/age-test-key-A.txt"),
            );
        let ids = discover(&env, age::NoCallbacks);
        // ssh + B + A (cmd) + C (default); the bad file adds nothing.
        assert_eq!(ids.len(), 4);
        assert_eq!(ids.problems().len(), 1);
        let problem = &ids.problems()[0];
        assert!(
            problem.location.starts_with(KEY_FILE_VAR) && problem.location.ends_with("bad.txt)")
        );
        assert!(problem.reason.contains("line 4"), "{}", problem.reason);
        assert!(!problem.reason.contains("SECRETSTUFF"));
        assert!(ids
            .report_suffix()
            .starts_with(". Errors while loading age identities: SOPS_AGE_KEY_FILE ("));
        let h = home.path().display();
        assert_eq!(
            strs(ids.unused_locations()),
            vec![format!("{h}/.ssh/id_ed25519"), format!("{h}/.ssh/id_rsa")]
        );
    }

    #[test]
    fn missing_key_file_and_failing_command_are_problems() {
        let home = tempfile::tempdir().unwrap();
        let env = MapEnv::home(home.path())
            .set(KEY_FILE_VAR, "/nonexistent/keys.txt")
            .set(KEY_CMD_VAR, "false");
        let ids = discover(&env, age::NoCallbacks);
        assert!(ids.is_empty());
        let locations: Vec<&str> = ids.problems().iter().map(|p| p.location.as_str()).collect();
        assert_eq!(locations, vec![KEY_FILE_VAR, KEY_CMD_VAR]);
        let cmd = discover(
            &MapEnv::home(home.path()).set(KEY_CMD_VAR, "'unterminated"),
            age::NoCallbacks,
        );
        assert!(cmd.problems()[0].reason.contains("failed to parse command"));
    }

    #[test]
    fn home_ssh_keys_are_read() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
        std::fs::copy(
            format!("{VECTORS}/keys/ssh_ed25519"),
            home.path().join(".ssh/id_ed25519"),
        )
        .unwrap();
        let ids = discover(&MapEnv::home(home.path()), age::NoCallbacks);
        assert_eq!(ids.len(), 1);
        let h = home.path().display();
        assert!(ids.unused_locations().contains(&format!("{h}/.ssh/id_rsa")));
        // The default keys file is listed too: every place looked at is.
        assert!(ids
            .unused_locations()
            .iter()
            .any(|l| l.ends_with("keys.txt")));
        assert_eq!(ids.loaded_locations(), [format!("{h}/.ssh/id_ed25519")]);
    }

    /// Answers every passphrase request with a fixed passphrase and counts
    /// the requests.
    #[derive(Clone)]
    struct Passphrase {
        answer: Option<&'static str>,
        asked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Passphrase {
        fn new(answer: Option<&'static str>) -> Passphrase {
            Passphrase {
                answer,
                asked: Default::default(),
            }
        }
        fn asked(&self) -> usize {
            self.asked.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    impl Callbacks for Passphrase {
        fn display_message(&self, _: &str) {}
        fn confirm(&self, _: &str, _: &str, _: Option<&str>) -> Option<bool> {
            None
        }
        fn request_public_string(&self, _: &str) -> Option<String> {
            None
        }
        fn request_passphrase(&self, _: &str) -> Option<age::secrecy::SecretString> {
            self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.answer.map(age::secrecy::SecretString::from)
        }
    }

    fn go_age_encrypt(args: &[&str], input: &[u8]) -> String {
        use std::io::Write;
        let mut child = Command::new(crate::test_tools::tool("age"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the Go `age` binary must be installed");
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn passphrase_protected_ssh_key_prompts_once_and_only_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id_ed25519");
        let status = Command::new(crate::test_tools::tool("ssh-keygen"))
            .args(["-q", "-t", "ed25519", "-N", "hunter2", "-C", "", "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen must be installed");
        assert!(status.success());
        let pub_path = format!("{}.pub", key.display());
        let to_ssh = go_age_encrypt(&["-a", "-R", &pub_path], b"locked");
        let to_a = go_age_encrypt(&["-a", "-r", KEY_A_PUB], b"other");
        let env = MapEnv::home(dir.path()).set(SSH_PRIVATE_KEY_FILE_VAR, key.display().to_string());

        let callbacks = Passphrase::new(Some("hunter2"));
        let ids = discover(&env, callbacks.clone());
        assert_eq!(ids.len(), 1);
        assert_eq!(callbacks.asked(), 0, "no prompt while loading");
        // A block for another key does not prompt.
        assert!(crate::keys::age::unwrap(&ids, &to_a).unwrap().is_none());
        assert_eq!(callbacks.asked(), 0);
        for _ in 0..2 {
            let out = crate::keys::age::unwrap(&ids, &to_ssh).unwrap().unwrap();
            assert_eq!(&out[..], b"locked");
        }
        assert_eq!(callbacks.asked(), 1, "the passphrase is asked once");

        // No way to ask: the key simply does not match.
        let ids = discover(&env, Passphrase::new(None));
        assert!(crate::keys::age::unwrap(&ids, &to_ssh).unwrap().is_none());
        // A wrong passphrase is an error.
        let ids = discover(&env, Passphrase::new(Some("wrong")));
        assert!(crate::keys::age::unwrap(&ids, &to_ssh).is_err());
    }

    #[test]
    fn passphrase_encrypted_identity_file() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let encryptor =
            age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from("open sesame"));
        let mut armored = Vec::new();
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)
                .unwrap();
        let mut w = encryptor.wrap_output(armor).unwrap();
        w.write_all(key_text("age-test-key-A.txt").as_bytes())
            .unwrap();
        w.finish().unwrap().finish().unwrap();
        let path = dir.path().join("keys.age");
        std::fs::write(&path, &armored).unwrap();
        let env = MapEnv::home(dir.path()).set(KEY_FILE_VAR, path.display().to_string());
        let to_a = go_age_encrypt(&["-a", "-r", KEY_A_PUB], b"via encrypted file");

        let callbacks = Passphrase::new(Some("open sesame"));
        let ids = discover(&env, callbacks.clone());
        assert_eq!(ids.len(), 1);
        assert!(ids.problems().is_empty());
        let out = crate::keys::age::unwrap(&ids, &to_a).unwrap().unwrap();
        assert_eq!(&out[..], b"via encrypted file");
        crate::keys::age::unwrap(&ids, &to_a).unwrap().unwrap();
        assert_eq!(callbacks.asked(), 1);

        let ids = discover(&env, Passphrase::new(Some("wrong")));
        assert!(crate::keys::age::unwrap(&ids, &to_a).is_err());
    }

    /// age 1.3's post-quantum identities load from every source, beside
    /// X25519 ones in the same file, and from passphrase-encrypted files.
    #[test]
    fn post_quantum_identities_in_every_source() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let pq_text = key_text("pq-spec-example.txt");
        let pq_public = pq_text
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .unwrap();
        let pq_line = pq_text
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-PQ-1"))
            .unwrap();
        let to_pq = crate::keys::age::wrap(
            &crate::keys::age::AgeRecipient::parse(pq_public).unwrap(),
            b"for the pq key",
        )
        .unwrap();
        let to_a = go_age_encrypt(&["-a", "-r", KEY_A_PUB], b"for key A");

        // One file with both kinds (and CR LF line ends, indentation).
        let both = format!(
            "{}\r\n  {pq_line}  \r\n",
            key_text("age-test-key-A.txt").trim_end()
        );
        let path = dir.path().join("keys.txt");
        std::fs::write(&path, &both).unwrap();
        let ids = discover(
            &MapEnv::home(dir.path()).set(KEY_FILE_VAR, path.display().to_string()),
            age::NoCallbacks,
        );
        assert_eq!(ids.len(), 2, "{:?}", ids.problems());
        let open = |ids: &Identities, block: &str| {
            crate::keys::age::unwrap(ids, block)
                .unwrap()
                .map(|p| p.to_vec())
        };
        assert_eq!(open(&ids, &to_pq).unwrap(), b"for the pq key");
        assert_eq!(open(&ids, &to_a).unwrap(), b"for key A");

        // SOPS_AGE_KEY with the PQ line alone: only the PQ block opens.
        let ids = discover(
            &MapEnv::home(dir.path()).set(KEY_VAR, pq_line),
            age::NoCallbacks,
        );
        assert_eq!(ids.len(), 1);
        assert!(open(&ids, &to_pq).is_some());
        assert!(open(&ids, &to_a).is_none());

        // A passphrase-encrypted identity file holding the PQ key.
        let encryptor =
            age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from("pq pass"));
        let mut armored = Vec::new();
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)
                .unwrap();
        let mut w = encryptor.wrap_output(armor).unwrap();
        w.write_all(pq_text.as_bytes()).unwrap();
        w.finish().unwrap().finish().unwrap();
        let locked = dir.path().join("keys.age");
        std::fs::write(&locked, &armored).unwrap();
        let callbacks = Passphrase::new(Some("pq pass"));
        let ids = discover(
            &MapEnv::home(dir.path()).set(KEY_FILE_VAR, locked.display().to_string()),
            callbacks.clone(),
        );
        assert_eq!(open(&ids, &to_pq).unwrap(), b"for the pq key");
        assert_eq!(callbacks.asked(), 1);

        // A bad PQ line fails its source, naming the line, not the key.
        let broken = pq_line.replace("XX76", "XX77");
        let ids = discover(
            &MapEnv::home(dir.path())
                .set(KEY_VAR, format!("# one\n{broken}\n"))
                .set(KEY_FILE_VAR, path.display().to_string()),
            age::NoCallbacks,
        );
        assert_eq!(ids.len(), 2, "the good file still counts");
        assert_eq!(ids.problems().len(), 1);
        let problem = ids.problems()[0].to_string();
        assert!(problem.contains("line 2") && problem.contains("post-quantum"));
        assert!(!problem.contains(&broken[19..40]), "{problem}");
        assert!(!format!("{ids:?}").contains(&pq_line[19..40]));
    }

    /// sops 3.11 lists a set-but-empty source after the unset ones (checked
    /// with the real binary: `SOPS_AGE_KEY=""` gives '…', 'SOPS_AGE_KEY_FILE',
    /// 'SOPS_AGE_KEY_CMD', and 'SOPS_AGE_KEY'), and then does not list the
    /// missing default file.
    #[test]
    fn empty_sources_are_unused_locations() {
        let home = tempfile::tempdir().unwrap();
        let comments = home.path().join("comments.txt");
        std::fs::write(&comments, "# only comments\n\n").unwrap();
        let env = MapEnv::home(home.path())
            .set(KEY_VAR, "")
            .set(KEY_FILE_VAR, comments.display().to_string());
        let ids = discover(&env, age::NoCallbacks);
        assert!(ids.is_empty());
        assert!(ids.problems().is_empty(), "{:?}", ids.problems());
        let h = home.path().display();
        assert_eq!(
            strs(ids.unused_locations()),
            vec![
                SSH_PRIVATE_KEY_FILE_VAR.to_string(),
                format!("{h}/.ssh/id_ed25519"),
                format!("{h}/.ssh/id_rsa"),
                KEY_CMD_VAR.to_string(),
                format!("{h}/.config/sops/age/keys.txt"),
                KEY_VAR.to_string(),
                format!("{KEY_FILE_VAR} ({})", comments.display()),
            ]
        );
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            split_shell_words(r#"cat "a b" 'c d' e\ f "x\"y" # tail"#).unwrap(),
            vec!["cat", "a b", "c d", "e f", "x\"y"]
        );
        assert!(split_shell_words("'open").is_err());
        assert!(split_shell_words("").unwrap().is_empty());
    }

    #[test]
    fn debug_hides_keys() {
        let ids = discover(
            &MapEnv::default().set(KEY_VAR, key_line("age-test-key-A.txt")),
            age::NoCallbacks,
        );
        let shown = format!("{ids:?}");
        assert!(shown.contains("count: 1"));
        assert!(!shown.contains("AGE-SECRET-KEY"));
    }
}
