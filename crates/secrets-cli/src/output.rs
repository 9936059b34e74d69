//! Where results go: stdout, `--output F`, or back into the input file.

use std::io::Write;
use std::path::{Path, PathBuf};

use secrets_core::fsio;

use crate::error::CliError;

/// The destination of a command's output.
#[derive(Clone, Debug)]
pub enum Destination {
    /// Standard output.
    Stdout,
    /// A file, replaced atomically.
    File(PathBuf),
}

impl Destination {
    /// From `--output` / `--in-place`; both together is a usage error.
    pub fn from_flags(
        output: Option<&Path>,
        in_place: bool,
        input: &str,
    ) -> Result<Destination, CliError> {
        match (output, in_place) {
            (Some(_), true) => Err(CliError::Usage(
                "cannot use --in-place and --output together".into(),
            )),
            (Some(p), false) => Ok(Destination::File(p.to_path_buf())),
            (None, true) if input == "-" => Err(CliError::Usage(
                "cannot use --in-place with standard input".into(),
            )),
            (None, true) => Ok(Destination::File(PathBuf::from(input))),
            (None, false) => Ok(Destination::Stdout),
        }
    }

    /// Writes the bytes. Files are replaced atomically; a new file gets
    /// `new_mode` (0600 for plaintext).
    pub fn write(&self, bytes: &[u8], new_mode: u32) -> Result<(), CliError> {
        match self {
            Destination::Stdout => write_stdout(bytes),
            Destination::File(p) => fsio::write_atomic(p, bytes, new_mode).map_err(CliError::from),
        }
    }
}

/// Writes to stdout; a closed pipe (`nsec decrypt f | head`) is not an error.
pub fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::Write(PathBuf::from("<stdout>"), e)),
    }
}
