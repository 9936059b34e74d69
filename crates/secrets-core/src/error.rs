//! Errors of the library.
//!
//! Every failure is one [`Error`] variant that names what went wrong and,
//! where it helps, the file, the key path or the `.sops.yaml` rule. Messages
//! never contain secret material, nor command-line words (flags, commands):
//! an embedding tool has neither. The CLI adds its hints and maps variants to
//! sops' exit codes in one place; the library knows no exit codes.

use std::path::{Path, PathBuf};

use crate::format::Format;

/// The library's error type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value that should be encrypted could not be decrypted (wrong data
    /// key or tampered ciphertext). sops exit code 25.
    #[error("could not decrypt value at `{path}` (cipher: message authentication failed)")]
    DecryptValue {
        /// The value's key path, `a:b:` style.
        path: String,
    },
    /// A value that should be encrypted is not an `ENC[…]` string.
    #[error("value at `{path}` is not in sops' data format ({reason})")]
    MalformedValue {
        /// The value's key path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The stored MAC could not be decrypted (tampered `mac` or `lastmodified`).
    #[error("cannot decrypt MAC: message authentication failed (the `mac` or `lastmodified` field was changed)")]
    MacUndecryptable,
    /// The MAC computed over the values differs from the stored one (a
    /// value was changed, added, removed or reordered outside sops).
    ///
    /// Unlike sops, the message does not show the two MACs: they are
    /// SHA-512 hashes of the plaintext values, and a CI log is no place for
    /// a hash a short secret can be guessed from.
    #[error("MAC mismatch: the file's values do not match its MAC (a value was changed, added, removed or reordered without sops or nsec)")]
    MacMismatch,
    /// No identity could recover the data key: every master key tried
    /// and why it failed, and where identities were looked for.
    #[error("failed to get the data key required to decrypt the SOPS file\n{report}")]
    NoDataKey {
        /// What was tried (boxed: errors stay small).
        report: Box<KeyReport>,
    },
    /// The input already carries sops metadata.
    #[error("the file already contains a top-level entry called 'sops' (it is already encrypted; decrypt it first)")]
    AlreadyEncrypted,
    /// The input has no sops metadata.
    #[error("sops metadata not found (the file is not encrypted)")]
    MetadataNotFound,
    /// The sops metadata is present but invalid.
    #[error("invalid sops metadata: {0}")]
    InvalidMetadata(String),
    /// The input could not be parsed in its format.
    #[error("could not parse {format} input: {message}")]
    Parse {
        /// The store that failed.
        format: Format,
        /// Where and what (line/column when known).
        message: String,
    },
    /// An encrypted file could not be parsed in its format (sops exits 1
    /// for these, and 2 for plaintext input it cannot parse).
    #[error("could not parse {format} input: {message}")]
    ParseEncrypted {
        /// The store that failed.
        format: Format,
        /// Where and what (line/column when known).
        message: String,
    },
    /// The tree could not be written in the requested format.
    #[error("could not write {format} output: {message}")]
    Emit {
        /// The output store.
        format: Format,
        /// What could not be represented.
        message: String,
    },
    /// A completely empty document (sops exit code 92).
    #[error("file cannot be completely empty, it must contain at least one document")]
    EmptyFile,
    /// The tree cannot be encrypted (non-string key, integer out of range).
    #[error("cannot encrypt value at `{path}`: {reason}")]
    Encrypt {
        /// The key path.
        path: String,
        /// Why.
        reason: String,
    },
    /// An invalid `["a"][0]` index.
    #[error("invalid index `{}`: {reason}", shorten(index))]
    InvalidIndex {
        /// The index as given.
        index: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A path does not exist in the document.
    #[error("{0} not found")]
    PathNotFound(String),
    /// An invalid value for `set` (not JSON, or a top-level array).
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// A `.sops.yaml` problem.
    #[error("{}: {}{message}", path.display(), rule.map(|i| format!("creation rule {i}: ")).unwrap_or_default())]
    Config {
        /// The config file. (Boxed, like other large fields: errors travel
        /// up deep recursions, and every `Result` is as large as `Error`.)
        path: Box<Path>,
        /// The 0-based index of the offending creation rule.
        rule: Option<usize>,
        /// Which kind of problem.
        problem: ConfigProblem,
        /// What is wrong.
        message: String,
    },
    /// No creation rule matches the file.
    #[error("no matching creation rule for `{file}` in {}", config.display())]
    NoMatchingRule {
        /// The config file searched.
        config: PathBuf,
        /// The file (as matched, relative to the config's directory).
        file: String,
    },
    /// No recipients: no rule and no `--age`.
    #[error("no recipients: no .sops.yaml creation rule applies and no master keys were given")]
    NoRecipients,
    /// An invalid option combination or selector.
    #[error("{0}")]
    InvalidOption(String),
    /// An invalid age recipient.
    #[error("invalid age recipient `{recipient}`: {reason}")]
    Recipient {
        /// The recipient as shown: public keys (`age1…`, `ssh-…`) in full, a
        /// secret given as a recipient only by its kind, any other text by
        /// its first characters.
        recipient: String,
        /// Why it failed to parse.
        reason: String,
    },
    /// An identity source could not be used.
    #[error("cannot use identities from {location}: {reason}")]
    Identity {
        /// Where the identity came from (path or variable name).
        location: String,
        /// Why (never the key itself).
        reason: String,
    },
    /// An age or Shamir operation on the data key failed.
    #[error("{0}")]
    KeyWrap(String),
    /// AWS KMS could not encrypt the data key, or decrypt it.
    #[error("AWS KMS key {arn}: {reason}")]
    Kms {
        /// The key ARN.
        arn: String,
        /// Why (the service's error or the local problem; never key
        /// material or credentials).
        reason: String,
    },
    /// gpg could not encrypt the data key to a PGP key, or decrypt it.
    #[error("PGP key {fingerprint}: {reason}")]
    Pgp {
        /// The key's fingerprint.
        fingerprint: String,
        /// Why (gpg's own message; never key material).
        reason: String,
    },
    /// No secrets store (a directory with `.sops.yaml`) was found.
    #[error("no secrets store found from {} (looked for secrets/.sops.yaml and .sops.yaml upward)", from.display())]
    StoreNotFound {
        /// Where the search started.
        from: PathBuf,
    },
    /// A secret name that is not allowed.
    #[error("invalid secret name `{name}`: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// A `.sops.yaml` that another user could have written (see
    /// `rules::check_trusted`).
    #[error("refusing {}: {reason}, and it decides who can read new secrets", path.display())]
    UntrustedConfig {
        /// The config.
        path: PathBuf,
        /// Why it is not trusted.
        reason: String,
    },
    /// A file nsec must read is not a regular file.
    #[error("{}: is {kind}, not a regular file", path.display())]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// A file larger than nsec reads.
    #[error("{}: larger than {} MiB, the most nsec reads from such a file", path.display(), limit >> 20)]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// Input nested deeper than `MAX_DEPTH` (1,000) (maps and lists).
    #[error("the document nests deeper than {limit} levels (nsec's limit)")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// A host (a recipient name in `.sops.yaml`) that the config does not name.
    #[error("no recipient in .sops.yaml is named `{name}` (named recipients: {})", if known.is_empty() { "none".to_string() } else { known.join(", ") })]
    UnknownHost {
        /// The name as given.
        name: String,
        /// The names the config gives.
        known: Vec<String>,
    },
    /// A file that must not exist yet does.
    #[error("{} already exists", .0.display())]
    AlreadyExists(PathBuf),
    /// A secret that does not exist.
    #[error("no secret `{name}` ({} does not exist)", path.display())]
    SecretNotFound {
        /// The secret's name.
        name: String,
        /// The file it would be.
        path: PathBuf,
    },
    /// A FILE (or store NAME) that does not exist; `suggestions` are the
    /// closest names of the store, if one was found.
    #[error("cannot operate on non-existent file {}", path.display())]
    NoSuchFile {
        /// The argument as given.
        path: PathBuf,
        /// Store names it may have meant, closest first.
        suggestions: Vec<String>,
    },
    /// A template problem (unknown template, bad template file, failed check).
    #[error("template `{name}`: {message}")]
    Template {
        /// The template's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// An external program (editor, command, git) failed.
    #[error("{program}: {message}")]
    Command {
        /// The program.
        program: String,
        /// What happened.
        message: String,
    },
    /// The editor could not be run or failed (sops exit code 201).
    #[error("editor {program}: {message}")]
    Editor {
        /// The editor command (or the variable it came from).
        program: String,
        /// What happened.
        message: String,
    },
    /// The operation was interrupted by the user.
    #[error("interrupted")]
    Interrupted,
    /// A change of `.sops.yaml` and the secrets it re-keys failed, and
    /// every file was left (or put back) as it was.
    #[error("{source}")]
    NothingChanged {
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// An I/O failure on a path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another error, with the file it happened in.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file being processed.
        path: PathBuf,
        /// The error.
        #[source]
        source: Box<Error>,
    },
}

/// Why no data key could be recovered ([`Error::NoDataKey`]). Its text is
/// sops' report: one line per master key tried, then the identities.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct KeyReport {
    /// Every master key tried, in the order tried.
    pub attempts: Vec<KeyAttempt>,
    /// With several key groups: the groups needed and those recovered.
    pub shamir: Option<ShamirShortfall>,
    /// How many identities were loaded.
    pub identities: usize,
    /// Where they were loaded from (files, variables, SSH keys).
    pub loaded_from: Vec<String>,
    /// Places looked at that held no keys, in sops' order.
    pub not_found_in: Vec<String>,
    /// Identity sources that failed to load.
    pub load_problems: Vec<crate::keys::identities::LoadProblem>,
}

/// One master key that did not give the data key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyAttempt {
    /// The key group (0-based).
    pub group: usize,
    /// The key type: `age`, `pgp`, `kms`, or one nsec does not support
    /// (`gcp_kms`, `azure_kv`, `hc_vault`).
    pub kind: &'static str,
    /// The key: age recipient, PGP fingerprint or KMS ARN (empty for a type
    /// nsec does not support).
    pub key: String,
    /// Why it failed.
    pub failure: KeyFailure,
}

/// Why a master key did not give the data key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFailure {
    /// No identity at hand matches the recipient.
    NoIdentity,
    /// The key service, gpg or the identity failed (its message; never key
    /// material or credentials).
    Failed(String),
    /// nsec cannot use keys of this type.
    Unsupported,
}

/// Too few key groups opened to combine the Shamir shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShamirShortfall {
    /// The file's `shamir_threshold`.
    pub needed: usize,
    /// Groups whose share was recovered.
    pub recovered: usize,
}

impl std::fmt::Display for KeyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(ShamirShortfall { needed, recovered }) = self.shamir {
            writeln!(f, "  Recovery failed because the file was encrypted with a Shamir threshold of {needed}, but only {recovered} part(s) were successfully recovered")?;
        }
        for a in &self.attempts {
            let g = a.group;
            match (&a.failure, a.kind) {
                (KeyFailure::Unsupported, kind) => {
                    writeln!(f, "  group {g}: {kind} keys are not supported by nsec")?
                }
                (KeyFailure::NoIdentity, _) => {
                    writeln!(f, "  group {g}: {}: no identity matched", a.key)?
                }
                (KeyFailure::Failed(why), "age") => writeln!(f, "  group {g}: {}: {why}", a.key)?,
                (KeyFailure::Failed(why), kind) => {
                    writeln!(f, "  group {g}: {kind} {}: {why}", a.key)?
                }
            }
        }
        match self.loaded_from.as_slice() {
            [] => f.write_str("No identities were loaded")?,
            loaded => write!(
                f,
                "Tried {} identit{} from '{}'",
                self.identities,
                if self.identities == 1 { "y" } else { "ies" },
                loaded.join("', '")
            )?,
        }
        // What sops appends: the sources that failed, then the places
        // without keys.
        if !self.load_problems.is_empty() {
            let joined: Vec<String> = self.load_problems.iter().map(|p| p.to_string()).collect();
            write!(
                f,
                ". Errors while loading age identities: {}",
                joined.join("; ")
            )?;
        }
        let unused = &self.not_found_in;
        match unused.len() {
            0 => Ok(()),
            1 => write!(f, ". Did not find keys in location '{}'.", unused[0]),
            2 => write!(
                f,
                ". Did not find keys in locations '{}' and '{}'.",
                unused[0], unused[1]
            ),
            n => write!(
                f,
                ". Did not find keys in locations '{}', and '{}'.",
                unused[..n - 1].join("', '"),
                unused[n - 1]
            ),
        }
    }
}

/// The kind of a `.sops.yaml` problem ([`Error::Config`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigProblem {
    /// Not YAML, not the expected shape, or not usable for the operation.
    Invalid,
    /// A `path_regex` does not compile.
    PathRegex,
    /// nsec's own `nsec:` section is malformed.
    NsecSection,
    /// A recipient does not parse.
    Recipient,
}

/// Long input quoted in a message: its first 80 characters and how many
/// more there are.
fn shorten(s: &str) -> String {
    let n = s.chars().count();
    if n <= 100 {
        return s.to_string();
    }
    let head: String = s.chars().take(80).collect();
    format!("{head}… ({} more characters)", n - 80)
}

impl Error {
    /// Wraps the error with the file it concerns (unless it already names one).
    pub fn in_file(self, path: impl Into<PathBuf>) -> Error {
        match self {
            Error::InFile { .. } | Error::Io { .. } | Error::Config { .. } => self,
            other => Error::InFile {
                path: path.into(),
                source: Box::new(other),
            },
        }
    }

    /// The innermost error, past any [`Error::InFile`] wrappers.
    pub fn root(&self) -> &Error {
        match self {
            Error::InFile { source, .. } | Error::NothingChanged { source } => source.root(),
            other => other,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod size {
    /// Every `Result` in the parsers is as large as `Error`, and the JSON
    /// and YAML parsers recurse once per nesting level: a larger error
    /// overflowed the test threads' stacks on deeply nested input.
    #[test]
    fn errors_stay_small() {
        assert!(std::mem::size_of::<super::Error>() <= 64);
    }
}
