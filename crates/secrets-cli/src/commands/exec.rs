//! `exec-env`, `exec-file`.

use std::path::Path;

use secrets_core::ops::exec::{self, ExecOptions, Launch};
use secrets_core::{ops, Format};

use super::{identities, Context, Target};
use crate::cli::exec::{ExecEnvArgs, ExecFileArgs};
use crate::error::CliError;

fn open(file: &str, format: Format) -> Result<secrets_core::file::Opened, CliError> {
    Ok(ops::open_file_as(Path::new(file), format, &identities())?)
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
    let input = args
        .types
        .input
        .format()?
        .unwrap_or(Format::from_path(path));
    // Like sops, the output store defaults to the file's extension.
    let format = args.types.output()?.unwrap_or(Format::from_path(path));
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
