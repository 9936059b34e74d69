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
    propagate_version = true,
    after_help = "Commands that open files also take --decryption-order TYPES (or $SOPS_DECRYPTION_ORDER): the key types to try first, comma-separated (age, pgp, kms), as in sops."
)]
pub struct Cli {
    /// The options every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// `--decryption-order`, taken out of the arguments before clap (see
    /// [`take_decryption_order`]).
    #[arg(skip)]
    pub decryption_order: Option<String>,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The options every subcommand takes (`global`: before or after it).
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Path to the .sops.yaml to use (default: searched upward from the
    /// file's directory, then from the working directory).
    #[arg(long, global = true, env = "SOPS_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Indentation of YAML/JSON output (overrides `stores:` in .sops.yaml).
    #[arg(long, global = true, value_name = "N")]
    pub indent: Option<i64>,
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

/// How to build and read one subcommand on its own.
struct Fast {
    name: &'static str,
    augment: fn(clap::Command) -> clap::Command,
    read: fn(&mut clap::ArgMatches) -> Result<Command, clap::Error>,
}

macro_rules! fast {
    ($name:literal, $variant:ident, $args:ty) => {
        Fast {
            name: $name,
            augment: <$args as Args>::augment_args,
            read: |m| {
                Ok(Command::$variant(
                    <$args as clap::FromArgMatches>::from_arg_matches_mut(m)?,
                ))
            },
        }
    };
}

/// The subcommands scripts run once per secret (and `nsec decrypt` is
/// timed against sops). Building the whole command tree, every
/// subcommand's arguments, was about a sixth of the instructions of a
/// one-value `nsec decrypt`, so these are parsed with only their own
/// arguments and the global ones (see [`parse_fast`]).
const FAST: &[Fast] = &[
    fast!("decrypt", Decrypt, crypt::DecryptArgs),
    fast!("encrypt", Encrypt, crypt::EncryptArgs),
    fast!("filestatus", Filestatus, crypt::FilestatusArgs),
    fast!("set", Set, edit::SetArgs),
    fast!("unset", Unset, edit::UnsetArgs),
    fast!("exec-env", ExecEnv, exec::ExecEnvArgs),
    fast!("exec-file", ExecFile, exec::ExecFileArgs),
    fast!("show", Show, secrets::ShowArgs),
];

/// Parses `args` when their first word is one of the [`FAST`]
/// subcommands, building only that subcommand's arguments (and taking
/// `--decryption-order` out, as the whole parse does). `None` when it is
/// not, or on any clap error, help or version request: the caller then
/// parses with the whole tree, so every message, `--help` and error comes
/// from it, as before. What succeeds here is what the whole tree gives
/// (the same derived arguments; tested in `fast_parse_is_the_full_parse`).
pub fn parse_fast(args: &[std::ffi::OsString]) -> Option<Result<Cli, CliError>> {
    let name = args.get(1)?.to_str()?;
    let fast = FAST.iter().find(|f| f.name == name)?;
    let mut args = args.to_vec();
    let decryption_order = match take_decryption_order(&mut args) {
        Ok(order) => order,
        Err(e) => return Some(Err(e)),
    };
    let mut root = <GlobalArgs as Args>::augment_args(clap::Command::new("nsec"))
        .subcommand((fast.augment)(clap::Command::new(fast.name)))
        .subcommand_required(true);
    let parsed = root.try_get_matches_from_mut(args);
    // Not freed, as the whole tree is not (see `main`).
    std::mem::forget(root);
    let mut matches = parsed.ok()?;
    let global = <GlobalArgs as clap::FromArgMatches>::from_arg_matches_mut(&mut matches).ok()?;
    let (_, mut sub) = matches.remove_subcommand()?;
    let command = (fast.read)(&mut sub).ok()?;
    Some(Ok(Cli {
        global,
        decryption_order,
        command,
    }))
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

/// Takes sops' `--decryption-order TYPES` (or `--decryption-order=TYPES`)
/// out of the arguments before clap parses them; the last one wins, and
/// nothing after `--` is looked at. sops accepts it on every command that
/// opens a file. It is not a clap option because clap builds every option
/// of every subcommand at each start: eight more options cost each `nsec`
/// run, age-only ones too, about 27,000 instructions (callgrind), for a
/// flag few runs use.
pub fn take_decryption_order(
    args: &mut Vec<std::ffi::OsString>,
) -> Result<Option<String>, CliError> {
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
            let value = args
                .get(i + 1)
                .and_then(|v| v.to_str())
                .ok_or_else(|| CliError::Usage(format!("{FLAG} needs a value (e.g. kms,age)")))?;
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

#[cfg(test)]
mod fast_tests {
    use super::{parse_fast, Cli, FAST};
    use clap::{CommandFactory, FromArgMatches};
    use std::ffi::OsString;

    /// Each argument of a built subcommand, as clap describes it (without
    /// the help and version flags clap adds).
    fn described(cmd: &clap::Command) -> Vec<String> {
        cmd.get_arguments()
            .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
            .map(|a| format!("{a:?}"))
            .collect()
    }

    /// The fast path builds each of its subcommands with exactly the
    /// arguments the whole tree gives it, global ones included.
    #[test]
    fn fast_subcommands_have_the_full_trees_arguments() {
        let mut full = Cli::command();
        full.build();
        for fast in FAST {
            let sub = full
                .find_subcommand(fast.name)
                .unwrap_or_else(|| panic!("{} is no subcommand", fast.name));
            let mut root =
                <super::GlobalArgs as clap::Args>::augment_args(clap::Command::new("nsec"))
                    .subcommand((fast.augment)(clap::Command::new(fast.name)));
            root.build();
            let mini = root.find_subcommand(fast.name).unwrap();
            assert_eq!(described(mini), described(sub), "{}", fast.name);
        }
    }

    /// Command lines through the fast path and through the whole tree give
    /// the same `Cli`; help, version and errors are left to the whole tree.
    #[test]
    fn fast_parse_is_the_full_parse() {
        let lines: &[&[&str]] = &[
            &["decrypt", "f.yaml"],
            &["decrypt", "--indent", "2", "--config", "c.yaml", "f.yaml"],
            &[
                "decrypt",
                "--extract",
                "[\"a\"][0]",
                "--output-type",
                "json",
                "-i",
                "f.yaml",
            ],
            &[
                "decrypt",
                "--decryption-order",
                "kms,age",
                "--ignore-mac",
                "f.yaml",
            ],
            &["decrypt", "--", "-f.yaml"],
            &["decrypt"],
            &[
                "encrypt",
                "--age",
                "age1x",
                "--age",
                "age1y",
                "--encrypted-regex",
                "^x",
                "f.yaml",
            ],
            &[
                "encrypt",
                "-i",
                "--unencrypted-suffix",
                "_u",
                "--mac-only-encrypted",
                "f.env",
            ],
            &["filestatus", "f.yaml"],
            &["set", "f.yaml", "[\"a\"]", "\"v\""],
            &["set", "--value-stdin", "--idempotent", "f.yaml", "[\"a\"]"],
            &["unset", "f.yaml", "[\"a\"]"],
            &["exec-env", "--pristine", "f.yaml", "env"],
            &[
                "exec-file",
                "--no-fifo",
                "--filename",
                "x",
                "f.yaml",
                "cat {}",
            ],
            &["show", "api-keys/openai", "--field", "token"],
            &["show", "--dir", "secrets", "x"],
        ];
        for line in lines {
            let args: Vec<OsString> = std::iter::once("nsec")
                .chain(line.iter().copied())
                .map(OsString::from)
                .collect();
            let fast = parse_fast(&args)
                .unwrap_or_else(|| panic!("{line:?} not parsed by the fast path"))
                .unwrap();
            let mut rest = args.clone();
            let order = super::take_decryption_order(&mut rest).unwrap();
            let mut matches = Cli::command().try_get_matches_from(rest).unwrap();
            let mut full = Cli::from_arg_matches_mut(&mut matches).unwrap();
            full.decryption_order = order;
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{line:?}");
        }
        // Left to the whole tree: help, version, errors, other subcommands
        // and global options before the subcommand.
        for line in [
            &["decrypt", "--help"][..],
            &["decrypt", "-V"],
            &["decrypt", "--bogus"],
            &["decrypt", "a", "b"],
            &["list"],
            &["--indent", "2", "decrypt", "f.yaml"],
            &["-d", "f.yaml"],
        ] {
            let args: Vec<OsString> = std::iter::once("nsec")
                .chain(line.iter().copied())
                .map(OsString::from)
                .collect();
            assert!(parse_fast(&args).is_none(), "{line:?}");
        }
    }
}
