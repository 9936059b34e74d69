//! Arguments of `exec-env` and `exec-file`.

use clap::Args;

use super::StoreTypes;

/// `nsec exec-env`.
#[derive(Debug, Args)]
pub struct ExecEnvArgs {
    /// Start the command and return at once, its output discarded
    /// (deprecated in sops, kept for its scripts).
    #[arg(long)]
    pub background: bool,
    /// Replace nsec with the command instead of running it as a child.
    #[arg(long)]
    pub same_process: bool,
    /// Start from an empty environment: only the file's values are set.
    #[arg(long)]
    pub pristine: bool,
    /// Run the command as this user.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// The encrypted file.
    pub file: String,
    /// The command, run with /bin/sh -c.
    pub command: String,
}

/// `nsec exec-file`. Its output store defaults to the file's extension
/// even with `--input-type` (as in sops), so that flag's help says so.
#[derive(Debug, Args)]
#[command(mut_arg("output_type", |a| a.help("The store of the plaintext (default: from the file's extension)")))]
pub struct ExecFileArgs {
    /// Refused: exec-file must wait for the command (see the message).
    #[arg(long, hide = true)]
    pub background: bool,
    /// Use a 0600 temp file (removed afterwards) instead of a FIFO.
    #[arg(long)]
    pub no_fifo: bool,
    #[command(flatten)]
    pub types: StoreTypes,
    /// The name of the file the command sees.
    #[arg(long, value_name = "NAME", default_value = "tmp-file")]
    pub filename: String,
    /// Run the command as this user.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// The encrypted file.
    pub file: String,
    /// The command, run with /bin/sh -c; every {} becomes the file's path.
    pub command: String,
}
