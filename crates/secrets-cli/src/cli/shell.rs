//! Arguments of `completion`, `man` and the hidden `__complete-names`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::DirArg;

/// A shell nsec writes a completion script for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    /// bash (needs bash-completion's `complete`, bash 4 or newer).
    Bash,
    /// zsh (load after `compinit`).
    Zsh,
    /// fish.
    Fish,
}

/// `nsec completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh or fish.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: CompletionShell,
}

/// `nsec man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write nsec.1 and one page per subcommand (nsec-SUB.1) into this
    /// directory (created if missing) instead of printing nsec(1).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `nsec __complete-names`.
#[derive(Debug, Args)]
pub struct CompleteNamesArgs {
    /// The store (a `--dir` among WORDS wins over this one).
    #[command(flatten)]
    pub store: DirArg,
    /// The words of the command line before the one being completed,
    /// without the program name. Without them every NAME is printed.
    #[arg(last = true, value_name = "WORDS")]
    pub words: Vec<String>,
}
