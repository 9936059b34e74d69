//! validate, store-wide rotate, revoke, nix, git (issue 5; being written).

use clap::Args;

use super::Context;
use crate::error::CliError;

/// `nsec validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Arguments (being written).
    pub rest: Vec<String>,
}

/// `nsec validate`.
pub fn validate(_ctx: &Context, _args: &ValidateArgs) -> Result<(), CliError> {
    Err(CliError::Other("validate is not available yet".into()))
}

/// `nsec revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Arguments (being written).
    pub rest: Vec<String>,
}

/// `nsec revoke`.
pub fn revoke(_ctx: &Context, _args: &RevokeArgs) -> Result<(), CliError> {
    Err(CliError::Other("revoke is not available yet".into()))
}

/// `nsec nix`.
#[derive(Debug, Args)]
pub struct NixArgs {
    /// Arguments (being written).
    pub rest: Vec<String>,
}

/// `nsec nix`.
pub fn nix(_ctx: &Context, _args: &NixArgs) -> Result<(), CliError> {
    Err(CliError::Other("nix is not available yet".into()))
}

/// `nsec git`.
#[derive(Debug, Args)]
pub struct GitArgs {
    /// Arguments (being written).
    pub rest: Vec<String>,
}

/// `nsec git`.
pub fn git(_ctx: &Context, _args: &GitArgs) -> Result<(), CliError> {
    Err(CliError::Other("git is not available yet".into()))
}

/// `nsec rotate NAME…|--all` (store mode).
pub fn rotate_store(_ctx: &Context, _args: &crate::cli::RotateArgs) -> Result<(), CliError> {
    Err(CliError::Other(
        "store-wide rotate is not available yet".into(),
    ))
}
