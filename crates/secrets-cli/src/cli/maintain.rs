//! Arguments of `validate`, `revoke`, `nix` and `git`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::DirArg;

/// `nsec validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Print a machine-readable JSON report.
    #[arg(long)]
    pub json: bool,
    /// Check that every file this host's rule covers is encrypted to it.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Check only the files git has staged (for a pre-commit hook).
    #[arg(long)]
    pub staged: bool,
    /// Do not try to decrypt (no data key or MAC checks).
    #[arg(long)]
    pub keyless: bool,
    #[command(flatten)]
    pub store: DirArg,
}

/// `nsec revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The host or person: a recipient name from .sops.yaml, or the age1… key.
    pub who: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub store: DirArg,
}

/// `nsec nix`.
#[derive(Debug, Args)]
pub struct NixArgs {
    /// Only what this host can decrypt at boot (a recipient name from
    /// .sops.yaml, e.g. `desktop`).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// The directory the Nix file will live in; sopsFile paths are relative
    /// to it (default: the repository root: the nearest directory at or
    /// above the store with flake.nix or .git, else the store's parent).
    #[arg(long, value_name = "DIR")]
    pub relative_to: Option<PathBuf>,
    #[command(flatten)]
    pub store: DirArg,
}

/// `nsec git`.
#[derive(Debug, Args)]
pub struct GitArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: GitCommand,
}

/// `nsec git` subcommands.
#[derive(Debug, Subcommand)]
pub enum GitCommand {
    /// Install the pre-commit hook, diff and merge drivers and .gitattributes (idempotent).
    Install {
        /// The command the hook and drivers run.
        #[arg(long, default_value = "nsec", value_name = "CMD")]
        command: String,
        #[command(flatten)]
        store: DirArg,
    },
    /// Diff driver: print the decrypted file (or the file as is, without a key).
    #[command(hide = true)]
    Textconv {
        /// The file git hands over.
        file: PathBuf,
    },
    /// Merge driver: git merge %O %A %B %P.
    #[command(hide = true)]
    Merge {
        /// The common ancestor (%O).
        base: PathBuf,
        /// Ours (%A); receives the result.
        ours: PathBuf,
        /// Theirs (%B).
        theirs: PathBuf,
        /// The path in the repository (%P).
        name: String,
    },
}
