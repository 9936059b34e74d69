//! nsec: a fast, sops-compatible secrets CLI for age keys.
//!
//! `main` only parses and dispatches; every operation lives in
//! `secrets-core`, and errors become exit codes in `error.rs`.

mod cli;
mod commands;
mod error;
mod output;
mod ui;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(msg) = e.message() {
                eprintln!("nsec: error: {msg}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: &Cli) -> Result<(), CliError> {
    let ctx = commands::Context::new(cli)?;
    match &cli.command {
        Command::Encrypt(a) => commands::crypt::encrypt(&ctx, a),
        Command::Decrypt(a) => commands::crypt::decrypt(&ctx, a),
        Command::Filestatus(a) => commands::crypt::filestatus(&ctx, a),
    }
}
