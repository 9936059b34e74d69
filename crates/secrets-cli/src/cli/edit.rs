//! Arguments of `edit`, `set` and `unset`.

use std::path::PathBuf;

use clap::Args;

/// `nsec edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// The file to edit (created from a template when it does not exist).
    pub file: String,
}

/// `nsec set`.
#[derive(Args)]
pub struct SetArgs {
    /// Read the JSON value from standard input (keeps it out of argv).
    #[arg(long, conflicts_with = "value_file")]
    pub value_stdin: bool,
    /// Read the JSON value from this file (keeps it out of argv).
    #[arg(long, value_name = "FILE")]
    pub value_file: Option<PathBuf>,
    /// Do not rewrite the file when the value is already there.
    #[arg(long)]
    pub idempotent: bool,
    /// Do not check the MAC.
    #[arg(long)]
    pub ignore_mac: bool,
    /// The encrypted file, or a store NAME.
    pub file: String,
    /// Where: a sops index such as '["a"][0]["b"]', or a plain key such as
    /// `password` (default: the key named after the file, as `nsec show`).
    pub index: Option<String>,
    /// The value, as JSON. Without it (and without --value-stdin /
    /// --value-file) the value is asked on a hidden prompt, or read from
    /// standard input when that is not a terminal, and set as a string.
    pub value: Option<String>,
}

/// Written by hand so that a VALUE given in argv never reaches debug output.
impl std::fmt::Debug for SetArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetArgs")
            .field("value_stdin", &self.value_stdin)
            .field("value_file", &self.value_file)
            .field("idempotent", &self.idempotent)
            .field("ignore_mac", &self.ignore_mac)
            .field("file", &self.file)
            .field("index", &self.index)
            .field("value", &self.value.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// `nsec unset`.
#[derive(Debug, Args)]
pub struct UnsetArgs {
    /// A missing key is not an error.
    #[arg(long)]
    pub idempotent: bool,
    /// Do not check the MAC.
    #[arg(long)]
    pub ignore_mac: bool,
    /// The encrypted file.
    pub file: String,
    /// Where, e.g. '["a"][0]["b"]'.
    pub index: String,
}
