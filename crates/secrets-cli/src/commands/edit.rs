//! `edit`, `set`, `unset`.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use nix::sys::signal::{SigSet, Signal};
use secrets_core::ops::edit::{self, EditOptions, Outcome, SetOptions};
use secrets_core::Error;

use super::{identities, Context, Target};
use crate::cli::edit::{EditArgs, SetArgs, UnsetArgs};
use crate::error::CliError;

/// Maps library errors of an editing command to sops' codes: interrupts
/// become code 85, index problems `set`/`unset`'s code 7.
fn edit_error(e: Error) -> CliError {
    match e.root() {
        Error::Interrupted => CliError::Interrupted,
        Error::InvalidIndex { .. } | Error::InvalidValue(_) => CliError::BadSet(e),
        _ => CliError::Core(e),
    }
}

fn existing(ctx: &Context, file: &str) -> Result<PathBuf, CliError> {
    Ok(PathBuf::from(ctx.resolve(file, Target::Existing)?))
}

/// `nsec edit`.
pub fn edit(ctx: &Context, args: &EditArgs) -> Result<(), CliError> {
    let file = ctx.resolve(&args.file, Target::MayCreate)?;
    let path = Path::new(&file);
    // Interrupts go to the editor (same terminal, same process group); nsec
    // holds them off so that it can always remove the plaintext temp file,
    // and abandons the edit when one arrived. Children start with a clean
    // signal mask (Rust's `Command` resets it), so the editor is unaffected.
    let signals = held_signals();
    let _ = signals.thread_block();
    // A new file is encrypted by the rules: say whose, when unexpected.
    let config = if path.exists() {
        ctx.config_for(Some(path))?
    } else {
        ctx.config_for_encryption(Some(path))?
    };
    let editor = edit::editor_command(|k| std::env::var(k).ok())?;
    let opts = EditOptions {
        editor,
        config: config.as_ref(),
        cwd: &ctx.cwd,
        store: ctx.store_options(config.as_ref()),
        temp_base: None,
    };
    match edit::edit_file(path, &identities(), &opts, &TerminalPrompt).map_err(edit_error)? {
        Outcome::Written => Ok(()),
        Outcome::Unchanged => Err(CliError::Unchanged),
    }
}

fn held_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
        Signal::SIGHUP,
    ] {
        set.add(s);
    }
    set
}

/// Asks on the terminal whether to reopen an edit that does not parse.
struct TerminalPrompt;

impl secrets_core::Callbacks for TerminalPrompt {
    fn reopen_edit(&self, error: &Error) -> bool {
        eprintln!("nsec: the edited file does not parse: {error}");
        if !std::io::stdin().is_terminal() {
            return false;
        }
        crate::ui::confirm("Reopen it in the editor?")
    }

    fn interrupted(&self) -> bool {
        pending_signal()
    }
}

/// Is one of the held signals pending (for this thread or the process)?
/// POSIX `sigpending`, so it works wherever nsec runs, not only where
/// `/proc` does.
fn pending_signal() -> bool {
    // SAFETY: `set` is a plain C struct we own; sigemptyset initialises it,
    // sigpending fills it and sigismember only reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        if libc::sigpending(&mut set) != 0 {
            return false;
        }
        [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP]
            .iter()
            .any(|s| libc::sigismember(&set, *s) == 1)
    }
}

/// The `set` VALUE as JSON: from the argument, standard input or a file.
fn read_value(args: &SetArgs) -> Result<Vec<u8>, CliError> {
    let given = [
        args.value.is_some(),
        args.value_stdin,
        args.value_file.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(CliError::Usage(
            "give the value exactly once: as VALUE, with --value-stdin, or with --value-file"
                .into(),
        ));
    }
    if let Some(v) = &args.value {
        return Ok(v.as_bytes().to_vec());
    }
    if let Some(f) = &args.value_file {
        return std::fs::read(f).map_err(|e| {
            CliError::Core(Error::Io {
                path: f.clone(),
                source: e,
            })
        });
    }
    let mut buf = Vec::new();
    std::io::stdin()
        .read_to_end(&mut buf)
        .map_err(|e| CliError::Other(format!("cannot read standard input: {e}")))?;
    Ok(buf)
}

/// The `set` VALUE as a string, when none was given: asked twice on a
/// hidden prompt, or read from standard input when it is not a terminal.
fn prompt_value(file: &str, field: &str) -> Result<secrets_core::Value, CliError> {
    let text = if std::io::stdin().is_terminal() {
        let label = format!("Value of {field} in {file}");
        crate::commands::secrets::ask_secret(&label)?
    } else {
        let mut buf = zeroize::Zeroizing::new(Vec::new());
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| CliError::Other(format!("cannot read standard input: {e}")))?;
        zeroize::Zeroizing::new(
            String::from_utf8(buf.to_vec())
                .map_err(|_| CliError::Other("standard input is not UTF-8 text".into()))?,
        )
    };
    edit::parse_set_string(&text).map_err(CliError::BadSet)
}

/// `nsec set`.
pub fn set(ctx: &Context, args: &SetArgs) -> Result<(), CliError> {
    let given = args.value.is_some() || args.value_stdin || args.value_file.is_some();
    let raw = zeroize::Zeroizing::new(if given { read_value(args)? } else { Vec::new() });
    let path = &existing(ctx, &args.file)?;
    let field = match &args.index {
        Some(f) => f.clone(),
        None => secrets_core::ops::secrets::last_component(&path.to_string_lossy()),
    };
    let steps = secrets_core::parse_field(&field).map_err(CliError::BadSet)?;
    let value = if given {
        edit::parse_set_value(&raw).map_err(CliError::BadSet)?
    } else {
        prompt_value(&args.file, &field)?
    };
    let config = ctx.config_for(Some(path))?;
    edit::set_value(
        path,
        &identities(),
        &ctx.store_options(config.as_ref()),
        &steps,
        value,
        SetOptions {
            ignore_mac: args.ignore_mac,
            idempotent: args.idempotent,
        },
    )
    .map_err(edit_error)?;
    Ok(())
}

/// `nsec unset`.
pub fn unset(ctx: &Context, args: &UnsetArgs) -> Result<(), CliError> {
    let steps = secrets_core::parse_index(&args.index).map_err(CliError::BadSet)?;
    let path = &existing(ctx, &args.file)?;
    let config = ctx.config_for(Some(path))?;
    edit::unset_value(
        path,
        &identities(),
        &ctx.store_options(config.as_ref()),
        &steps,
        SetOptions {
            ignore_mac: args.ignore_mac,
            idempotent: args.idempotent,
        },
    )
    .map_err(edit_error)?;
    Ok(())
}
