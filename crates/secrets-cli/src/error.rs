//! The CLI's error type and the one place where errors become exit codes.
//!
//! The codes are sops' (`cmd/sops/codes`), so scripts written for sops keep
//! working: 25 a value failed to decrypt, 51 MAC problem, 128 no key could
//! recover the data key, 203 already encrypted, 200 edit without change.

use std::path::PathBuf;

use secrets_core::Error as CoreError;

/// What went wrong, as the CLI reports it.
#[derive(Debug)]
pub enum CliError {
    /// An error from the library.
    Core(CoreError),
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
            CliError::Core(e) => core_code(e.root()),
            CliError::Usage(_) => 8,
            CliError::NoSuchFile(_) => 100,
            CliError::Write(..) => 3,
            CliError::Unchanged => 200,
            CliError::BadExtract(_) => 91,
            CliError::BadSet(_) => 7,
            CliError::Child(code) => (*code).clamp(0, 255) as u8,
            CliError::Interrupted => 85,
            CliError::Other(_) => 1,
        }
    }

    /// The message for stderr (`None` when nothing should be printed).
    pub fn message(&self) -> Option<String> {
        Some(match self {
            CliError::Core(e @ CoreError::NothingChanged { .. }) => format!(
                "{e}\nnothing was changed: .sops.yaml and every secret file are as they were"
            ),
            CliError::Core(e) | CliError::BadExtract(e) | CliError::BadSet(e) => e.to_string(),
            CliError::Usage(m) | CliError::Other(m) => m.clone(),
            CliError::NoSuchFile(p) => {
                format!("cannot operate on non-existent file {}", p.display())
            }
            CliError::Write(p, e) => format!("could not write {}: {e}", p.display()),
            CliError::Unchanged => "file has not changed, exiting".into(),
            CliError::Interrupted => "interrupted".into(),
            CliError::Child(_) => return None,
        })
    }
}

fn core_code(e: &CoreError) -> u8 {
    match e {
        CoreError::DecryptValue { .. } | CoreError::MalformedValue { .. } => 25,
        CoreError::MacUndecryptable | CoreError::MacMismatch => 51,
        CoreError::NoDataKey { .. } => 128,
        CoreError::AlreadyEncrypted => 203,
        CoreError::Parse { .. } => 2,
        CoreError::Emit { .. } => 4,
        CoreError::EmptyFile => 92,
        CoreError::Encrypt { .. } => 23,
        CoreError::InvalidIndex { .. } => 91,
        CoreError::InvalidValue(_) => 7,
        CoreError::Io { .. } => 3,
        CoreError::Editor { .. } => 201,
        _ => 1,
    }
}
