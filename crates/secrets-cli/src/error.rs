//! The CLI's error type and the one place where errors become exit codes.
//!
//! The codes are sops' (`cmd/sops/codes`), so scripts written for sops keep
//! working: 25 a value failed to decrypt, 51 MAC problem, 128 no key could
//! recover the data key, 203 already encrypted, 200 edit without change.

use std::path::PathBuf;

use secrets_core::Error as CoreError;

use crate::legacy::{LegacyError, LegacyWarning};

/// What went wrong, as the CLI reports it.
#[derive(Debug)]
pub enum CliError {
    /// An error from the library.
    Core(CoreError),
    /// An error from the library with a hint only the command knows (a
    /// flag of its own).
    Hinted(CoreError, &'static str),
    /// Conflicting or missing command-line arguments (sops code 8).
    Usage(String),
    /// The input file does not exist (sops code 100).
    NoSuchFile(PathBuf),
    /// The output could not be written (sops code 3).
    Write(PathBuf, std::io::Error),
    /// `edit` ended without a change (sops code 200).
    Unchanged,
    /// An invalid `--extract` path (sops code 91).
    BadExtract(CoreError),
    /// An invalid `set` value or index (sops code 7).
    BadSet(CoreError),
    /// A child process exited with this code (`exec-env`, `exec-file`).
    Child(i32),
    /// The user interrupted a prompt (sops code 85).
    Interrupted,
    /// A general failure with its message (code 1).
    Other(String),
    /// sops' legacy flag form could not be understood.
    Legacy(LegacyError),
}

impl From<CoreError> for CliError {
    fn from(e: CoreError) -> Self {
        CliError::Core(e)
    }
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Core(e) | CliError::Hinted(e, _) => core_code(e.root()),
            CliError::Usage(_) => 8,
            CliError::NoSuchFile(_) => 100,
            CliError::Write(..) => 3,
            CliError::Unchanged => 200,
            CliError::BadExtract(_) => 91,
            CliError::BadSet(_) => 7,
            CliError::Child(code) => (*code).clamp(0, 255) as u8,
            CliError::Interrupted => 85,
            CliError::Other(_) => 1,
            CliError::Legacy(e) => match e {
                LegacyError::NoFile => 100,
                LegacyError::InPlaceAndOutput => 8,
                LegacyError::BadSetFormat => 7,
                LegacyError::UnknownFlag(_)
                | LegacyError::MissingValue(_)
                | LegacyError::BadFlagValue { .. }
                | LegacyError::Unsupported { .. } => 1,
            },
        }
    }

    /// The message for stderr (`None` when nothing should be printed).
    pub fn message(&self) -> Option<String> {
        Some(match self {
            CliError::Core(e @ CoreError::NothingChanged { .. }) => format!(
                "{e}\nnothing was changed: .sops.yaml and every secret file are as they were"
            ),
            CliError::Core(e) | CliError::BadExtract(e) | CliError::BadSet(e) => core_message(e),
            CliError::Hinted(e, hint) => format!("{}\n{hint}", core_message(e)),
            CliError::Usage(m) | CliError::Other(m) => m.clone(),
            CliError::NoSuchFile(p) => {
                format!("cannot operate on non-existent file {}", p.display())
            }
            CliError::Write(p, e) => format!("could not write {}: {e}", p.display()),
            CliError::Unchanged => "file has not changed, exiting".into(),
            CliError::Interrupted => "interrupted".into(),
            CliError::Child(_) => return None,
            CliError::Legacy(e) => legacy_message(e),
        })
    }
}

/// A library error's message, with the CLI's hints: "did you mean" for a
/// missing file close to names of the store, and the flags or commands that
/// help (the library's messages name none).
fn core_message(e: &CoreError) -> String {
    match e.root() {
        CoreError::MacMismatch => {
            format!("{e}\nto read it anyway, give --ignore-mac (and check what changed)")
        }
        CoreError::NoRecipients => format!(
            "{e}\ngive recipients with --age (or --pgp, --kms), or add a creation rule to .sops.yaml"
        ),
        CoreError::StoreNotFound { .. } => {
            format!("{e}\nuse --dir DIR or NSEC_DIR=DIR, or create a store with `nsec init`")
        }
        CoreError::NoSuchFile { suggestions, .. } if !suggestions.is_empty() => {
            let names: Vec<String> = suggestions.iter().map(|s| shell_quote(s)).collect();
            format!(
                "{e}\ndid you mean {}? (store names work wherever a FILE does)",
                names.join(" or ")
            )
        }
        CoreError::UntrustedConfig { path, .. } => format!(
            "{e}\nif you trust it: export {}={}",
            secrets_core::rules::TRUST_VAR,
            shell_quote(&path.display().to_string())
        ),
        _ => e.to_string(),
    }
}

/// `word` quoted for a POSIX shell when it needs it, so that hints can be
/// pasted.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn legacy_message(e: &LegacyError) -> String {
    match e {
        LegacyError::NoFile => "no file specified".into(),
        LegacyError::UnknownFlag(f) => format!("flag provided but not defined: {f}"),
        LegacyError::MissingValue(f) => format!("flag needs an argument: {f}"),
        LegacyError::BadFlagValue { flag, value } => {
            format!("invalid value {value:?} for flag {flag}")
        }
        LegacyError::InPlaceAndOutput => "cannot operate on both --output and --in-place".into(),
        LegacyError::BadSetFormat => {
            "invalid --set format: expected --set '[\"key\"] JSON-VALUE' (index, a space, the value)".into()
        }
        LegacyError::Unsupported { flag, mode } => format!(
            "{flag} is not supported by nsec with {} (age keys only; see `nsec help`)",
            mode.flag()
        ),
    }
}

/// The text of a warning about the legacy form, as sops words it.
pub fn warning_message(w: &LegacyWarning) -> String {
    match w {
        LegacyWarning::SeveralCommands => "more than one command (--encrypt, --decrypt, --rotate, --set) has been specified; only the last one (in that order) takes effect".into(),
        LegacyWarning::SeveralFiles { flag_like: None } => {
            "more than one positional argument provided; only the first one is used".into()
        }
        LegacyWarning::SeveralFiles { flag_like: Some(f) } => format!(
            "more than one positional argument provided; only the first one is used (the ignored {f:?} looks like a flag: flags must come before the file)"
        ),
    }
}

fn core_code(e: &CoreError) -> u8 {
    match e {
        CoreError::DecryptValue { .. } | CoreError::MalformedValue { .. } => 25,
        CoreError::MacUndecryptable | CoreError::MacMismatch => 51,
        CoreError::NoDataKey { .. } => 128,
        CoreError::AlreadyEncrypted => 203,
        CoreError::Parse { .. } | CoreError::TooDeep { .. } => 2,
        CoreError::Emit { .. } => 4,
        CoreError::EmptyFile => 92,
        CoreError::Encrypt { .. } => 23,
        CoreError::InvalidIndex { .. } => 91,
        CoreError::InvalidValue(_) => 7,
        CoreError::Io { .. } => 3,
        CoreError::Editor { .. } => 201,
        CoreError::NoSuchFile { .. } => 100,
        _ => 1,
    }
}
