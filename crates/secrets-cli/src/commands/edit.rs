//! `edit`, `set`, `unset` (issue 3; being written).

use clap::Args;

use super::Context;
use crate::error::CliError;

/// `nsec edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// The file to edit.
    pub file: String,
}

/// `nsec set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The file.
    pub file: String,
}

/// `nsec unset`.
#[derive(Debug, Args)]
pub struct UnsetArgs {
    /// The file.
    pub file: String,
}

/// `nsec edit`.
pub fn edit(_ctx: &Context, _args: &EditArgs) -> Result<(), CliError> {
    Err(CliError::Other("edit is not available yet".into()))
}

/// `nsec set`.
pub fn set(_ctx: &Context, _args: &SetArgs) -> Result<(), CliError> {
    Err(CliError::Other("set is not available yet".into()))
}

/// `nsec unset`.
pub fn unset(_ctx: &Context, _args: &UnsetArgs) -> Result<(), CliError> {
    Err(CliError::Other("unset is not available yet".into()))
}
