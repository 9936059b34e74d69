//! `rotate` (file mode), `updatekeys`, `groups` (issue 3; being written).

use clap::Args;

use super::Context;
use crate::cli::RotateArgs;
use crate::error::CliError;

/// `nsec updatekeys`.
#[derive(Debug, Args)]
pub struct UpdatekeysArgs {
    /// The files.
    pub files: Vec<String>,
}

/// `nsec groups`.
#[derive(Debug, Args)]
pub struct GroupsArgs {
    /// The file.
    pub file: Option<String>,
}

/// `nsec rotate FILE` (sops-style).
pub fn rotate_file(_ctx: &Context, _args: &RotateArgs) -> Result<(), CliError> {
    Err(CliError::Other("rotate is not available yet".into()))
}

/// `nsec updatekeys`.
pub fn updatekeys(_ctx: &Context, _args: &UpdatekeysArgs) -> Result<(), CliError> {
    Err(CliError::Other("updatekeys is not available yet".into()))
}

/// `nsec groups`.
pub fn groups(_ctx: &Context, _args: &GroupsArgs) -> Result<(), CliError> {
    Err(CliError::Other("groups is not available yet".into()))
}
