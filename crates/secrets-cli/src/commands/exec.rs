//! `exec-env`, `exec-file`.

use std::path::Path;

use clap::Args;
use secrets_core::ops::exec::{self, ExecOptions};
use secrets_core::{ops, Format};

use super::{identities, Context};
use crate::error::CliError;

/// `nsec exec-env`.
#[derive(Debug, Args)]
pub struct ExecEnvArgs {
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
    /// Use a 0600 temp file (removed afterwards) instead of a FIFO.
    #[arg(long)]
    pub no_fifo: bool,
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

fn open(file: &str) -> Result<secrets_core::file::Opened, CliError> {
    let path = Path::new(file);
    if !path.is_file() {
        return Err(CliError::NoSuchFile(path.to_path_buf()));
    }
    Ok(ops::open_file(path, &identities())?)
}

fn finish(code: i32) -> Result<(), CliError> {
    match code {
        0 => Ok(()),
        c => Err(CliError::Child(c)),
    }
}

/// `nsec exec-env`.
pub fn exec_env(_ctx: &Context, args: &ExecEnvArgs) -> Result<(), CliError> {
    let opened = open(&args.file)?;
    let doc = opened.documents.first().cloned().unwrap_or_default();
    let opts = ExecOptions {
        pristine: args.pristine,
        user: args.user.clone(),
    };
    let code = exec::exec_env(&doc, &args.command, &opts)
        .map_err(|e| CliError::Core(e.in_file(&args.file)))?;
    finish(code)
}

/// `nsec exec-file`.
pub fn exec_file(ctx: &Context, args: &ExecFileArgs) -> Result<(), CliError> {
    let path = Path::new(&args.file);
    let opened = open(&args.file)?;
    let format = match &args.output_type {
        Some(t) => Format::from_name(t).ok_or_else(|| {
            CliError::Usage(format!(
                "invalid --output-type `{t}` (expected yaml, json, dotenv, ini or binary)"
            ))
        })?,
        None => Format::from_path(path),
    };
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
