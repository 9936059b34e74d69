//! Arguments of `rotate`, `updatekeys` and `groups`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{DirArg, StoreTypes};

/// `nsec rotate`. With one existing FILE (or --in-place/--add-age/--rm-age)
/// it behaves like `sops rotate`: new data key, output to stdout unless
/// --in-place. Otherwise the arguments are store NAMEs (or --all): every
/// named secret gets a new data key and recipients from .sops.yaml, written
/// in place after a plan and a confirmation.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Write the rotated file back (file mode).
    #[arg(long, short = 'i')]
    pub in_place: bool,
    /// Add these age recipients (comma-separated; file mode).
    #[arg(long, value_name = "RECIPIENTS")]
    pub add_age: Vec<String>,
    /// Remove these age recipients (comma-separated; file mode).
    #[arg(long, value_name = "RECIPIENTS")]
    pub rm_age: Vec<String>,
    /// Add these PGP fingerprints (comma-separated; file mode).
    #[arg(long, value_name = "FINGERPRINTS")]
    pub add_pgp: Vec<String>,
    /// Remove these PGP fingerprints (comma-separated; file mode).
    #[arg(long, value_name = "FINGERPRINTS")]
    pub rm_pgp: Vec<String>,
    /// Add these AWS KMS keys, ARN[+ROLE_ARN] (comma-separated; file mode).
    #[arg(long, value_name = "ARNS")]
    pub add_kms: Vec<String>,
    /// Remove these AWS KMS keys (comma-separated; file mode).
    #[arg(long, value_name = "ARNS")]
    pub rm_kms: Vec<String>,
    /// Encryption context of the --add-kms keys: key:value,… (file mode).
    #[arg(long, value_name = "CONTEXT")]
    pub encryption_context: Option<String>,
    /// AWS profile for the --add-kms keys (file mode).
    #[arg(long, value_name = "PROFILE")]
    pub aws_profile: Option<String>,
    /// Write the result to this file (file mode).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub types: StoreTypes,
    /// File mode whatever the arguments (what `nsec -r FILE` becomes).
    #[arg(long, hide = true)]
    pub sops_file: bool,
    /// Rotate every secret of the store (store mode).
    #[arg(long)]
    pub all: bool,
    /// Show the plan, change nothing (store mode).
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (store mode).
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub store: DirArg,
    /// A FILE (sops-style) or secret NAMEs (store mode).
    pub targets: Vec<String>,
}

/// `nsec updatekeys`.
#[derive(Debug, Args)]
pub struct UpdatekeysArgs {
    /// Apply the changes without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also make a new data key (a removed recipient may hold the old one).
    #[arg(long)]
    pub rotate: bool,
    /// The files to update.
    #[arg(required = true)]
    pub files: Vec<String>,
}

/// `nsec groups`.
#[derive(Debug, Args)]
pub struct GroupsArgs {
    /// add or delete.
    #[command(subcommand)]
    pub action: GroupsAction,
}

/// The `groups` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupsAction {
    /// Add a key group of age recipients.
    Add {
        /// The encrypted file.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// Age recipients of the new group (comma-separated).
        #[arg(long, value_name = "RECIPIENTS")]
        age: Vec<String>,
        /// PGP fingerprints of the new group (comma-separated).
        #[arg(long, value_name = "FINGERPRINTS")]
        pgp: Vec<String>,
        /// AWS KMS keys of the new group, ARN[+ROLE_ARN] (comma-separated).
        #[arg(long, value_name = "ARNS")]
        kms: Vec<String>,
        /// Groups needed to decrypt (default: all of them).
        #[arg(long, value_name = "N")]
        shamir_secret_sharing_threshold: Option<usize>,
        /// Write the result back to the file instead of stdout.
        #[arg(long, short = 'i')]
        in_place: bool,
    },
    /// Delete the key group at INDEX (0-based).
    Delete {
        /// The encrypted file.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// Write the result back to the file instead of stdout.
        #[arg(long, short = 'i')]
        in_place: bool,
        /// The group's index.
        index: usize,
    },
}
