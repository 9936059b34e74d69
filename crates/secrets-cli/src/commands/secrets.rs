//! the secrets store: init, keygen, ssh-to-age, add, show, list, rm, host (issue 4; being written).

use clap::Args;

use super::Context;
use crate::error::CliError;

/// `nsec init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Arguments (being written).
    pub rest: Vec<String>,
}

/// `nsec init`.
pub fn init(_ctx: &Context, _args: &InitArgs) -> Result<(), CliError> {
    Err(CliError::Other("init is not available yet".into()))
}

/// `nsec keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Arguments (being written).
    pub rest: Vec<String>,
}

/// `nsec keygen`.
pub fn keygen(_ctx: &Context, _args: &KeygenArgs) -> Result<(), CliError> {
    Err(CliError::Other("keygen is not available yet".into()))
}

/// `nsec ssh-to-age`.
#[derive(Debug, Args)]
pub struct SshToAgeArgs {
    /// Arguments (being written).
    pub rest: Vec<String>,
}

/// `nsec ssh-to-age`.
pub fn ssh_to_age(_ctx: &Context, _args: &SshToAgeArgs) -> Result<(), CliError> {
    Err(CliError::Other("ssh-to-age is not available yet".into()))
}

/// `nsec add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Arguments (being written).
    pub rest: Vec<String>,
}

/// `nsec add`.
pub fn add(_ctx: &Context, _args: &AddArgs) -> Result<(), CliError> {
    Err(CliError::Other("add is not available yet".into()))
}

/// `nsec show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Arguments (being written).
    pub rest: Vec<String>,
}

/// `nsec show`.
pub fn show(_ctx: &Context, _args: &ShowArgs) -> Result<(), CliError> {
    Err(CliError::Other("show is not available yet".into()))
}

/// `nsec list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Arguments (being written).
    pub rest: Vec<String>,
}

/// `nsec list`.
pub fn list(_ctx: &Context, _args: &ListArgs) -> Result<(), CliError> {
    Err(CliError::Other("list is not available yet".into()))
}

/// `nsec rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Arguments (being written).
    pub rest: Vec<String>,
}

/// `nsec rm`.
pub fn rm(_ctx: &Context, _args: &RmArgs) -> Result<(), CliError> {
    Err(CliError::Other("rm is not available yet".into()))
}

/// `nsec host`.
#[derive(Debug, Args)]
pub struct HostArgs {
    /// Arguments (being written).
    pub rest: Vec<String>,
}

/// `nsec host`.
pub fn host(_ctx: &Context, _args: &HostArgs) -> Result<(), CliError> {
    Err(CliError::Other("host is not available yet".into()))
}
