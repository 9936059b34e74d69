//! Arguments of the store commands: `init`, `keygen`, `ssh-to-age`, `add`,
//! `show`, `list`, `rm`, `host`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::DirArg;

/// `nsec init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    // Not `DirArg`: this is where to create a store (default ./secrets),
    // not a store to find.
    /// Where to create the store (default: $NSEC_DIR, else ./secrets).
    #[arg(long, value_name = "DIR", env = "NSEC_DIR")]
    pub dir: Option<PathBuf>,
    /// Your name in .sops.yaml (the anchor of your key; default: $USER).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// `nsec keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the identity to FILE (mode 0600; never overwritten) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Generate a post-quantum MLKEM768-X25519 identity (AGE-SECRET-KEY-PQ-1…,
    /// recipient age1pq1…), as age-keygen -pq of age 1.3 does.
    #[arg(long)]
    pub pq: bool,
}

/// `nsec ssh-to-age`.
#[derive(Debug, Args)]
pub struct SshToAgeArgs {
    /// The SSH key file, or - for standard input.
    #[arg(long, short = 'i', value_name = "FILE", default_value = "-")]
    pub input: String,
    /// Write the result to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Convert a private key (OpenSSH, unencrypted) to an age identity.
    #[arg(long, alias = "private-key")]
    pub private_key: bool,
}

/// `nsec add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The secret's name, e.g. api-keys/openai (a path inside the store).
    pub name: String,
    /// Template: generic (default), api-key, ssh-key, database, wireguard, or
    /// one of the store's .nsec/templates/.
    #[arg(long, short = 't', value_name = "TEMPLATE")]
    pub template: Option<String>,
    /// Generate the value: password, hex, base64, ssh-ed25519, wireguard.
    #[arg(long, short = 'g', value_name = "KIND")]
    pub generate: Option<String>,
    /// Length: characters for passwords, random bytes for hex/base64.
    #[arg(long, value_name = "N")]
    pub length: Option<usize>,
    /// Password characters: alnum (default), alpha, lower, upper, digits,
    /// hex, ascii, or the characters themselves.
    #[arg(long, value_name = "CHARSET")]
    pub charset: Option<String>,
    /// Read the value from FILE (kept as is, newlines included).
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// Replace an existing secret.
    #[arg(long)]
    pub force: bool,
    /// A non-secret field or metadata value: KEY=VALUE (e.g. user=app,
    /// owner=alice, description=…). Secret values are never taken from here.
    #[arg(long, value_name = "KEY=VALUE")]
    pub field: Vec<String>,
    #[command(flatten)]
    pub store: DirArg,
}

/// `nsec show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The secret's name.
    pub name: String,
    /// Print this field (default: the field named after the secret, else
    /// the whole document).
    #[arg(long, value_name = "FIELD")]
    pub field: Option<String>,
    #[command(flatten)]
    pub store: DirArg,
}

/// `nsec list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON (one object per secret).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: DirArg,
}

/// `nsec rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// The secret's name.
    pub name: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub store: DirArg,
}

/// `nsec host`.
#[derive(Debug, Args)]
pub struct HostArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: HostAction,
}

/// `nsec host add|rm|list`.
#[derive(Debug, Subcommand)]
pub enum HostAction {
    /// Add a host (or person) as a recipient in .sops.yaml.
    Add {
        /// The host's name (its anchor in .sops.yaml).
        name: String,
        /// The host's age recipient (age1…).
        #[arg(
            long,
            value_name = "RECIPIENT",
            conflicts_with = "ssh_key",
            required_unless_present = "ssh_key"
        )]
        age: Option<String>,
        /// The host's SSH ed25519 public key file (or - for stdin), e.g.
        /// /etc/ssh/ssh_host_ed25519_key.pub or `ssh-keyscan -t ed25519 host`.
        #[arg(long, value_name = "FILE")]
        ssh_key: Option<String>,
        /// Only the rules whose path_regex contains this text (default: all).
        #[arg(long, value_name = "TEXT")]
        only: Option<String>,
        /// Re-key the affected secrets without asking (all or nothing).
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        store: DirArg,
    },
    /// Remove a host (or person) from .sops.yaml.
    Rm {
        /// The host's name.
        name: String,
        /// Re-key the affected secrets without asking (all or nothing).
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        store: DirArg,
    },
    /// List the named recipients of .sops.yaml and what each can read.
    List {
        /// Print JSON (one object per recipient).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: DirArg,
    },
}
