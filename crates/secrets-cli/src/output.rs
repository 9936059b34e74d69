//! Where results go: stdout, `--output F`, or back into the input file.

use std::io::Write;
use std::path::{Path, PathBuf};

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
        self.write_parts(&[bytes], new_mode)
    }

    /// [`Destination::write`] of the bytes of `parts` one after the other.
    pub fn write_parts(&self, parts: &[&[u8]], new_mode: u32) -> Result<(), CliError> {
        match self {
            Destination::Stdout => write_stdout_parts(parts),
            Destination::File(p) => {
                secrets_core::fs::write_atomic_parts(p, parts, new_mode).map_err(CliError::from)
            }
        }
    }
}

/// Writes to stdout; a closed pipe (`nsec decrypt f | head`) is not an error.
pub fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    write_stdout_parts(&[bytes])
}

fn write_stdout_parts(parts: &[&[u8]]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    let written = parts
        .iter()
        .try_for_each(|part| out.write_all(part))
        .and_then(|_| out.flush());
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::Write(PathBuf::from("<stdout>"), e)),
    }
}

/// A path as the user should type it: relative to the working directory
/// when inside it, `.` for the directory itself.
pub fn display_path(cwd: &Path, p: &Path) -> String {
    match p.strip_prefix(cwd) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".into(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => p.display().to_string(),
    }
}

/// One line about what `nsec nix` left out or renamed, with the command
/// that fixes it where there is one.
pub fn nix_note(ctx: &crate::commands::Context, note: &secrets_core::ops::nix::Note) -> String {
    use secrets_core::ops::nix::Note;
    let path = |p: &Path| crate::error::shell_quote(&display_path(&ctx.cwd, p));
    match note {
        Note::NotSops { file, reason } => {
            format!("{} is not declared: not a sops file ({reason})", path(file))
        }
        Note::NotDeclarable {
            secret, key, reason, ..
        } => {
            format!("{secret}: `{key}` is not declared: {reason}")
        }
        Note::MissingKey { secret, key, .. } => format!(
            "{secret}: `{key}` (listed under nsec.nix.{secret}.keys in .sops.yaml) is not a string value of the file; it is not declared"
        ),
        Note::NothingToDeclare { secret, .. } => format!(
            "{secret}: no encrypted string value to declare (list plaintext ones under nsec.nix.{secret}.keys in .sops.yaml)"
        ),
        Note::Renamed { attr, secrets } => format!(
            "{} share the sops-nix name `{attr}`, so each is declared by its full store name; pin one to `{attr}` with `name: {attr}` under nsec.nix.<secret> in .sops.yaml",
            secrets.join(" and ")
        ),
        Note::Clash { attr, kept, dropped } => format!(
            "{dropped} is not declared: its pinned sops-nix name `{attr}` is {kept}'s too; change nsec.nix.{dropped}.name in .sops.yaml"
        ),
        Note::NotRekeyed { secret, file } => format!(
            "{secret} is not declared: its rule gives it to this host but the file is not re-keyed yet; run: nsec updatekeys -y {}",
            path(file)
        ),
        Note::SshHost { host } => format!(
            "every recipient .sops.yaml names `{host}` is an SSH key, which sops-nix cannot use: replace each with the age recipient that `nsec ssh-to-age -i HOST_KEY.pub` prints for the host's public key"
        ),
        Note::SshRecipient {
            secret,
            recipient,
            file,
        } => format!(
            "{secret} is not declared: the host is a recipient only as `{}…`, an SSH key sops-nix cannot use (it converts the host's SSH key to an age key); in .sops.yaml replace it with the age recipient that `nsec ssh-to-age -i HOST_KEY.pub` prints, then run: nsec updatekeys -y {}",
            recipient.chars().take(20).collect::<String>(),
            path(file)
        ),
    }
}
