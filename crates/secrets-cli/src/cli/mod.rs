//! Command-line arguments: the one place they are defined. Subcommand and
//! flag names follow sops 3.x so that nsec drops into scripts written for
//! sops.
//!
//! One file per command group (the same groups as `commands/`), and here
//! the top level ([`Cli`], [`Command`]) and the flag groups several
//! commands share ([`DirArg`], [`InputType`], [`StoreTypes`]). The
//! commands import their arguments from here, never the other way round.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use secrets_core::Format;

use crate::error::CliError;

pub mod crypt;
pub mod edit;
pub mod exec;
pub mod keys;
pub mod maintain;
pub mod secrets;
pub mod shell;

/// nsec: fast, sops-compatible secrets for age keys.
#[derive(Debug, Parser)]
#[command(
    name = "nsec",
    version = crate::version::TEXT,
    about,
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    /// Path to the .sops.yaml to use (default: searched upward from the
    /// file's directory, then from the working directory).
    #[arg(long, global = true, env = "SOPS_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Indentation of YAML/JSON output (overrides `stores:` in .sops.yaml).
    #[arg(long, global = true, value_name = "N")]
    pub indent: Option<i64>,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Encrypt a file (stdout unless --output or --in-place).
    Encrypt(crypt::EncryptArgs),
    /// Decrypt a file (stdout unless --output or --in-place).
    Decrypt(crypt::DecryptArgs),
    /// Print whether a file is encrypted: {"encrypted":true|false}.
    Filestatus(crypt::FilestatusArgs),
    /// Edit an encrypted file in $SOPS_EDITOR / $EDITOR (creates it if missing).
    Edit(edit::EditArgs),
    /// Set one value: nsec set FILE '["a"]["b"]' VALUE (JSON), or --value-stdin/--value-file.
    Set(edit::SetArgs),
    /// Remove one value: nsec unset FILE '["a"]["b"]'.
    Unset(edit::UnsetArgs),
    /// New data key: for one FILE (sops-style), or for store secrets by NAME / --all.
    Rotate(keys::RotateArgs),
    /// Make files' recipients match the current .sops.yaml rules.
    Updatekeys(keys::UpdatekeysArgs),
    /// Add or delete key groups of a file.
    Groups(keys::GroupsArgs),
    /// Run a command with the file's top-level values in its environment.
    ExecEnv(exec::ExecEnvArgs),
    /// Run a command with the decrypted file at a temporary path ({}).
    ExecFile(exec::ExecFileArgs),
    /// Create a secrets store: .sops.yaml and your age identity.
    Init(secrets::InitArgs),
    /// Generate an age identity (like age-keygen).
    Keygen(secrets::KeygenArgs),
    /// Convert an SSH ed25519 key to an age recipient or identity.
    SshToAge(secrets::SshToAgeArgs),
    /// Add a secret to the store (hidden prompt, stdin, file, or generated).
    Add(secrets::AddArgs),
    /// Print a secret's value.
    Show(secrets::ShowArgs),
    /// List the store's secrets with recipients and status.
    List(secrets::ListArgs),
    /// Remove a secret from the store.
    Rm(secrets::RmArgs),
    /// Add or remove a host (a recipient in .sops.yaml).
    Host(secrets::HostArgs),
    /// Check the whole store: rules, encryption, recipients, MACs, hosts.
    Validate(maintain::ValidateArgs),
    /// Remove a host or person and re-key everything they could read.
    Revoke(maintain::RevokeArgs),
    /// Print sops-nix declarations for the store.
    Nix(maintain::NixArgs),
    /// Git integration: pre-commit hook, diff and merge drivers.
    Git(maintain::GitArgs),
    /// Print a shell completion script: nsec completion bash|zsh|fish.
    Completion(shell::CompletionArgs),
    /// Print the man page nsec(1), or write all pages with --dir DIR.
    Man(shell::ManArgs),
    /// Print the store's secret NAMEs, one per line (for completion scripts).
    #[command(name = "__complete-names", hide = true)]
    CompleteNames(shell::CompleteNamesArgs),
}

/// `--dir`: the store of every command that works on one (`init`, which
/// creates one, has its own).
#[derive(Debug, Args)]
pub struct DirArg {
    /// The secrets store (default: $NSEC_DIR, else secrets/.sops.yaml or
    /// .sops.yaml found upward from the working directory).
    #[arg(long, value_name = "DIR", env = "NSEC_DIR")]
    pub dir: Option<PathBuf>,
}

/// `--input-type`: the store (format) of the input file.
#[derive(Debug, Args)]
pub struct InputType {
    /// Input store: yaml, json, dotenv, ini or binary (default: from the extension).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
}

impl InputType {
    /// The store asked for, if any.
    pub fn format(&self) -> Result<Option<Format>, CliError> {
        parse_type("input-type", self.input_type.as_deref())
    }
}

/// `--input-type` and `--output-type`.
#[derive(Debug, Args)]
pub struct StoreTypes {
    #[command(flatten)]
    pub input: InputType,
    /// Output store (default: the input type, or from the extension).
    #[arg(long, value_name = "TYPE")]
    pub output_type: Option<String>,
}

impl StoreTypes {
    /// The output store asked for, if any.
    pub fn output(&self) -> Result<Option<Format>, CliError> {
        parse_type("output-type", self.output_type.as_deref())
    }
}

/// A store type flag's value (`yaml`, `json`, `dotenv`, `ini`, `binary`).
fn parse_type(flag: &str, value: Option<&str>) -> Result<Option<Format>, CliError> {
    value
        .map(|name| {
            Format::from_name(name).ok_or_else(|| {
                CliError::Usage(format!(
                    "invalid --{flag} `{name}` (expected yaml, json, dotenv, ini or binary)"
                ))
            })
        })
        .transpose()
}
