//! Command-line arguments. Subcommand and flag names follow sops 3.x so that
//! nsec drops into scripts written for sops.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// nsec: fast, sops-compatible secrets for age keys.
#[derive(Debug, Parser)]
#[command(
    name = "nsec",
    version = crate::version::TEXT,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Commands that open files also take --decryption-order TYPES (or $SOPS_DECRYPTION_ORDER): the key types to try first, comma-separated (age, pgp, kms), as in sops."
)]
pub struct Cli {
    /// Path to the .sops.yaml to use (default: searched upward from the
    /// file's directory, then from the working directory).
    #[arg(long, global = true, env = "SOPS_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Indentation of YAML/JSON output (overrides `stores:` in .sops.yaml).
    #[arg(long, global = true, value_name = "N")]
    pub indent: Option<i64>,

    /// `--decryption-order`, taken out of the arguments before clap (see
    /// [`take_decryption_order`]).
    #[arg(skip)]
    pub decryption_order: Option<String>,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Encrypt a file (stdout unless --output or --in-place).
    Encrypt(EncryptArgs),
    /// Decrypt a file (stdout unless --output or --in-place).
    Decrypt(DecryptArgs),
    /// Print whether a file is encrypted: {"encrypted":true|false}.
    Filestatus(FilestatusArgs),
    /// Edit an encrypted file in $SOPS_EDITOR / $EDITOR (creates it if missing).
    Edit(crate::commands::edit::EditArgs),
    /// Set one value: nsec set FILE '["a"]["b"]' VALUE (JSON), or --value-stdin/--value-file.
    Set(crate::commands::edit::SetArgs),
    /// Remove one value: nsec unset FILE '["a"]["b"]'.
    Unset(crate::commands::edit::UnsetArgs),
    /// New data key: for one FILE (sops-style), or for store secrets by NAME / --all.
    Rotate(RotateArgs),
    /// Make files' recipients match the current .sops.yaml rules.
    Updatekeys(crate::commands::keys::UpdatekeysArgs),
    /// Add or delete key groups of a file.
    Groups(crate::commands::keys::GroupsArgs),
    /// Run a command with the file's top-level values in its environment.
    ExecEnv(crate::commands::exec::ExecEnvArgs),
    /// Run a command with the decrypted file at a temporary path ({}).
    ExecFile(crate::commands::exec::ExecFileArgs),
    /// Create a secrets store: .sops.yaml and your age identity.
    Init(crate::commands::secrets::InitArgs),
    /// Generate an age identity (like age-keygen).
    Keygen(crate::commands::secrets::KeygenArgs),
    /// Convert an SSH ed25519 key to an age recipient or identity.
    SshToAge(crate::commands::secrets::SshToAgeArgs),
    /// Add a secret to the store (hidden prompt, stdin, file, or generated).
    Add(crate::commands::secrets::AddArgs),
    /// Print a secret's value.
    Show(crate::commands::secrets::ShowArgs),
    /// List the store's secrets with recipients and status.
    List(crate::commands::secrets::ListArgs),
    /// Remove a secret from the store.
    Rm(crate::commands::secrets::RmArgs),
    /// Add or remove a host (a recipient in .sops.yaml).
    Host(crate::commands::secrets::HostArgs),
    /// Check the whole store: rules, encryption, recipients, MACs, hosts.
    Validate(crate::commands::maintain::ValidateArgs),
    /// Remove a host or person and re-key everything they could read.
    Revoke(crate::commands::maintain::RevokeArgs),
    /// Print sops-nix declarations for the store.
    Nix(crate::commands::maintain::NixArgs),
    /// Git integration: pre-commit hook, diff and merge drivers.
    Git(crate::commands::maintain::GitArgs),
    /// Print a shell completion script: nsec completion bash|zsh|fish.
    Completion(crate::commands::shell::CompletionArgs),
    /// Print the man page nsec(1), or write all pages with --dir DIR.
    Man(crate::commands::shell::ManArgs),
    /// Print the store's secret NAMEs, one per line (for completion scripts).
    #[command(name = "__complete-names", hide = true)]
    CompleteNames(crate::commands::shell::CompleteNamesArgs),
}

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
    /// Input store type (file mode).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    /// Output store type (file mode).
    #[arg(long, value_name = "TYPE")]
    pub output_type: Option<String>,
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
    /// The secrets store (default: $NSEC_DIR, or found upward).
    #[arg(long, value_name = "DIR", env = "NSEC_DIR")]
    pub dir: Option<PathBuf>,
    /// A FILE (sops-style) or secret NAMEs (store mode).
    pub targets: Vec<String>,
}

/// Input and output store types and output destination.
#[derive(Debug, Args)]
pub struct IoArgs {
    /// Input store: yaml, json, dotenv, ini or binary (default: from the extension).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    /// Output store (default: the input type, or from the extension).
    #[arg(long, value_name = "TYPE")]
    pub output_type: Option<String>,
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
    /// Only encrypted values are covered by the MAC.
    #[arg(long)]
    pub mac_only_encrypted: bool,
    /// Number of key groups needed to decrypt.
    #[arg(long, value_name = "N")]
    pub shamir_secret_sharing_threshold: Option<usize>,
    /// The file to encrypt, or - for standard input.
    pub file: String,
}

/// Takes sops' `--decryption-order TYPES` (or `--decryption-order=TYPES`)
/// out of the arguments before clap parses them; the last one wins, and
/// nothing after `--` is looked at. sops accepts it on every command that
/// opens a file. It is not a clap option because clap builds every option
/// of every subcommand at each start: eight more options cost each `nsec`
/// run, age-only ones too, about 27,000 instructions (callgrind), for a
/// flag few runs use.
pub fn take_decryption_order(
    args: &mut Vec<std::ffi::OsString>,
) -> Result<Option<String>, crate::error::CliError> {
    const FLAG: &str = "--decryption-order";
    let mut found = None;
    let mut i = 1;
    while i < args.len() {
        let Some(arg) = args[i].to_str() else {
            i += 1;
            continue;
        };
        if arg == "--" {
            break;
        }
        if arg == FLAG {
            let value = args.get(i + 1).and_then(|v| v.to_str()).ok_or_else(|| {
                crate::error::CliError::Usage(format!("{FLAG} needs a value (e.g. kms,age)"))
            })?;
            found = Some(value.to_string());
            args.drain(i..i + 2);
        } else if let Some(value) = arg.strip_prefix("--decryption-order=") {
            found = Some(value.to_string());
            args.remove(i);
        } else {
            i += 1;
        }
    }
    Ok(found)
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
    /// Input store (default: from the extension).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::take_decryption_order;
    use std::ffi::OsString;

    fn take(args: &[&str]) -> (Option<String>, Vec<OsString>) {
        let mut args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let order = take_decryption_order(&mut args).unwrap();
        (order, args)
    }

    #[test]
    fn decryption_order_is_taken_out_before_clap() {
        let (order, rest) = take(&["nsec", "decrypt", "--decryption-order", "kms,age", "f"]);
        assert_eq!(order.as_deref(), Some("kms,age"));
        assert_eq!(rest, ["nsec", "decrypt", "f"]);
        // The last one wins; `=` works; nothing after `--` is touched.
        let (order, rest) = take(&[
            "nsec",
            "--decryption-order=pgp",
            "set",
            "--decryption-order",
            "age",
            "--",
            "--decryption-order",
        ]);
        assert_eq!(order.as_deref(), Some("age"));
        assert_eq!(rest, ["nsec", "set", "--", "--decryption-order"]);
        assert_eq!(take(&["nsec", "decrypt", "f"]).0, None);
        let mut missing: Vec<OsString> = vec!["nsec".into(), "--decryption-order".into()];
        assert!(take_decryption_order(&mut missing).is_err());
    }
}
