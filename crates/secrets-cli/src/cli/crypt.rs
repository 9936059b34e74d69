//! Arguments of `encrypt`, `decrypt` and `filestatus`.

use std::path::PathBuf;

use clap::Args;

use super::{InputType, StoreTypes};

/// Input and output store types and output destination.
#[derive(Debug, Args)]
pub struct IoArgs {
    #[command(flatten)]
    pub types: StoreTypes,
    /// Write the result to this file (atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the input file with the result (atomically).
    #[arg(long, short = 'i')]
    pub in_place: bool,
    /// Use this name to pick the store and the creation rule (for stdin).
    #[arg(long, value_name = "PATH")]
    pub filename_override: Option<PathBuf>,
}

/// `nsec encrypt`.
#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// Age recipients, comma-separated (keys given on the command line replace the creation rule's keys).
    #[arg(long, env = "SOPS_AGE_RECIPIENTS", value_name = "RECIPIENTS")]
    pub age: Vec<String>,
    /// PGP fingerprints, comma-separated (keys in your GnuPG keyring).
    #[arg(long, short = 'p', env = "SOPS_PGP_FP", value_name = "FINGERPRINTS")]
    pub pgp: Vec<String>,
    /// AWS KMS keys, ARN[+ROLE_ARN] comma-separated.
    #[arg(long, short = 'k', env = "SOPS_KMS_ARN", value_name = "ARNS")]
    pub kms: Vec<String>,
    /// Encryption context for the KMS keys: key:value,… (for --kms and a rule's flat kms: list).
    #[arg(long, value_name = "CONTEXT")]
    pub encryption_context: Option<String>,
    /// AWS profile to take the --kms keys' credentials from.
    #[arg(long, value_name = "PROFILE")]
    pub aws_profile: Option<String>,
    #[command(flatten)]
    pub io: IoArgs,
    #[command(flatten)]
    pub selectors: Selectors,
    /// Only encrypted values are covered by the MAC.
    #[arg(long)]
    pub mac_only_encrypted: bool,
    /// Number of key groups needed to decrypt.
    #[arg(long, value_name = "N")]
    pub shamir_secret_sharing_threshold: Option<usize>,
    /// The file to encrypt, or - for standard input.
    pub file: String,
}

/// `nsec decrypt`.
#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// Print only this part of the document, e.g. '["a"][0]["b"]'.
    #[arg(long, value_name = "INDEX")]
    pub extract: Option<String>,
    /// Do not check the MAC.
    #[arg(long)]
    pub ignore_mac: bool,
    #[command(flatten)]
    pub io: IoArgs,
    /// The file to decrypt, or - for standard input.
    #[arg(default_value = "-")]
    pub file: String,
}

/// `nsec filestatus`.
#[derive(Debug, Args)]
pub struct FilestatusArgs {
    /// The file to check.
    pub file: String,
    #[command(flatten)]
    pub input: InputType,
}

/// Which values `encrypt` encrypts: sops' selectors (at most one may be
/// given).
#[derive(Debug, Args)]
pub struct Selectors {
    /// Encrypt only values below keys matching this regex.
    #[arg(long, value_name = "REGEX")]
    pub encrypted_regex: Option<String>,
    /// Leave values below keys matching this regex in plaintext.
    #[arg(long, value_name = "REGEX")]
    pub unencrypted_regex: Option<String>,
    /// Encrypt only values below keys ending with this suffix.
    #[arg(long, value_name = "SUFFIX")]
    pub encrypted_suffix: Option<String>,
    /// Leave values below keys ending with this suffix in plaintext (default _unencrypted).
    #[arg(long, value_name = "SUFFIX")]
    pub unencrypted_suffix: Option<String>,
    /// Encrypt only values following a comment matching this regex.
    #[arg(long, value_name = "REGEX")]
    pub encrypted_comment_regex: Option<String>,
    /// Leave values following a comment matching this regex in plaintext.
    #[arg(long, value_name = "REGEX")]
    pub unencrypted_comment_regex: Option<String>,
}
