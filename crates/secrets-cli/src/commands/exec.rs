//! `exec-env`, `exec-file`.

use std::path::Path;

use clap::Args;
use secrets_core::ops::exec::{self, ExecOptions, Launch};
use secrets_core::{ops, Format};

use super::{identities, Context, Target};
use crate::error::CliError;

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

/// `nsec exec-file`.
#[derive(Debug, Args)]
pub struct ExecFileArgs {
    /// Refused: exec-file must wait for the command (see the message).
    #[arg(long, hide = true)]
    pub background: bool,
    /// Use a 0600 temp file (removed afterwards) instead of a FIFO.
    #[arg(long)]
    pub no_fifo: bool,
    /// The store of the encrypted file (default: from its extension).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    /// The name of the file the command sees.
    #[arg(long, value_name = "NAME", default_value = "tmp-file")]
    pub filename: String,
    /// The store of the plaintext (default: from the file's extension).
    #[arg(long, value_name = "TYPE")]
    pub output_type: Option<String>,
    /// Run the command as this user.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// The encrypted file.
    pub file: String,
    /// The command, run with /bin/sh -c; every {} becomes the file's path.
    pub command: String,
}

fn open(file: &str, format: Format) -> Result<secrets_core::file::Opened, CliError> {
    Ok(ops::open_file_as(Path::new(file), format, &identities())?)
}

/// A `--input-type`/`--output-type` value, or the store the path's
/// extension names.
fn store_type(flag: &str, value: &Option<String>, path: &Path) -> Result<Format, CliError> {
    match value {
        Some(t) => Format::from_name(t).ok_or_else(|| {
            CliError::Usage(format!(
                "invalid --{flag} `{t}` (expected yaml, json, dotenv, ini or binary)"
            ))
        }),
        None => Ok(Format::from_path(path)),
    }
}

fn finish(code: i32) -> Result<(), CliError> {
    match code {
        0 => Ok(()),
        c => Err(CliError::Child(c)),
    }
}

/// `nsec exec-env`.
pub fn exec_env(ctx: &Context, args: &ExecEnvArgs) -> Result<(), CliError> {
    let launch = match (args.background, args.same_process) {
        (true, true) => {
            return Err(CliError::Usage(
                "the --same-process flag cannot be used with --background".into(),
            ))
        }
        (true, false) => {
            eprintln!("nsec: warning: exec-env's --background is deprecated in sops; the command's output is discarded");
            Launch::Background
        }
        (false, true) => Launch::SameProcess,
        (false, false) => Launch::Wait,
    };
    let file = &ctx.resolve(&args.file, Target::Existing)?;
    let opened = open(file, Format::from_path(Path::new(file)))?;
    let doc = opened.documents.first().cloned().unwrap_or_default();
    drop(opened);
    let opts = ExecOptions {
        pristine: args.pristine,
        user: args.user.clone(),
        launch,
    };
    let code =
        exec::exec_env(&doc, &args.command, &opts).map_err(|e| CliError::Core(e.in_file(file)))?;
    finish(code)
}

/// `nsec exec-file`.
pub fn exec_file(ctx: &Context, args: &ExecFileArgs) -> Result<(), CliError> {
    let file = &ctx.resolve(&args.file, Target::Existing)?;
    let path = Path::new(file);
    let input = store_type("input-type", &args.input_type, path)?;
    // Like sops, the output store defaults to the file's extension.
    let format = store_type("output-type", &args.output_type, path)?;
    let launch = if args.background {
        Launch::Background
    } else {
        Launch::Wait
    };
    let opened = open(file, input)?;
    let config = ctx.config_for(Some(path))?;
    let plaintext = zeroize::Zeroizing::new(
        opened
            .plaintext(format, &ctx.store_options(config.as_ref()))
            .map_err(|e| CliError::Core(e.in_file(path)))?,
    );
    drop(opened);
    let opts = ExecOptions {
        pristine: false,
        user: args.user.clone(),
        launch,
    };
    let code = exec::exec_file(
        &plaintext,
        &args.command,
        &args.filename,
        args.no_fifo,
        &opts,
    )?;
    finish(code)
}
