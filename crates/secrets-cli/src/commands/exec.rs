//! `exec-env`, `exec-file` (issue 3; being written).

use clap::Args;

use super::Context;
use crate::error::CliError;

/// `nsec exec-env`.
#[derive(Debug, Args)]
pub struct ExecEnvArgs {
    /// The file.
    pub file: String,
    /// The command.
    pub command: String,
}

/// `nsec exec-file`.
#[derive(Debug, Args)]
pub struct ExecFileArgs {
    /// The file.
    pub file: String,
    /// The command.
    pub command: String,
}

/// `nsec exec-env`.
pub fn exec_env(_ctx: &Context, _args: &ExecEnvArgs) -> Result<(), CliError> {
    Err(CliError::Other("exec-env is not available yet".into()))
}

/// `nsec exec-file`.
pub fn exec_file(_ctx: &Context, _args: &ExecFileArgs) -> Result<(), CliError> {
    Err(CliError::Other("exec-file is not available yet".into()))
}
