//! `exec-env` and `exec-file`: run a command with the decrypted values,
//! without writing plaintext to a lasting file.
//!
//! * `exec-env` puts each top-level entry of the first document into the
//!   command's environment (`KEY=VALUE`, non-strings printed as sops' dotenv
//!   store prints them).
//! * `exec-file` hands the command the plaintext at a path (every `{}` in the
//!   command is replaced by it): a FIFO by default, so the plaintext never
//!   touches a disk, or with `no_fifo` a 0600 file. Either lives in a private
//!   0700 directory that is removed when the command ends.
//!
//! Commands run as `/bin/sh -c CMD`, like sops; the child's exit code is
//! returned so the caller can pass it on. `exec-env` can also start the
//! command in the background or replace nsec with it ([`Launch`]).

use std::fs::OpenOptions;
use std::io::Write;
#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::format::Format;
use crate::ops::edit::PrivateDir;
use crate::store::{self, StoreOptions};
use crate::tree::{Item, Map, Value};

/// How to run the command.
#[derive(Clone, Debug, Default)]
pub struct ExecOptions {
    /// Start from an empty environment (`--pristine`, exec-env).
    pub pristine: bool,
    /// Run the command as this user (`--user`; needs the privilege to).
    pub user: Option<String>,
    /// Wait for it, start it in the background, or become it.
    pub launch: Launch,
}

/// How the command runs relative to nsec (exec-env).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Launch {
    /// Wait for the command and return its exit code.
    #[default]
    Wait,
    /// Start it and return 0 at once, its standard streams on `/dev/null`
    /// (sops' deprecated `--background`).
    Background,
    /// Replace this process with the command (`--same-process`): the
    /// environment goes straight to `execve`, and nothing returns unless
    /// the command cannot be started.
    SameProcess,
}

/// The environment variables `exec-env` sets for a document. Nested maps
/// and lists are refused, as are keys that cannot be variable names.
pub(crate) fn env_vars(doc: &Map) -> Result<Vec<(String, Zeroizing<String>)>> {
    let mut out = Vec::new();
    for (key, value) in doc.entries() {
        if value.is_branch() {
            return Err(Error::InvalidValue(format!(
                "cannot use complex value in environment; offending key: {key}"
            )));
        }
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Err(Error::InvalidValue(format!(
                "`{key}` cannot be an environment variable name"
            )));
        }
        let text = match value {
            Value::Str(s) => Zeroizing::new(s.clone()),
            other => {
                // The dotenv store prints scalars the way sops does
                // (`5.0`, `true`, `<nil>`); take its text for this one entry.
                let one = Map {
                    items: vec![Item::Entry(key.to_string(), other.clone())],
                };
                let line = Zeroizing::new(store::emit(
                    Format::Dotenv,
                    std::slice::from_ref(&one),
                    &StoreOptions::default(),
                )?);
                let line = String::from_utf8_lossy(&line);
                let v = line
                    .strip_prefix(&format!("{key}="))
                    .unwrap_or(&line)
                    .trim_end_matches('\n')
                    .to_string();
                Zeroizing::new(v)
            }
        };
        if text.contains('\0') {
            return Err(Error::InvalidValue(format!(
                "the value of `{key}` contains a NUL byte and cannot be put in the environment"
            )));
        }
        out.push((key.to_string(), text));
    }
    Ok(out)
}

fn shell(command: &str, opts: &ExecOptions) -> Result<Command> {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command);
    if let Some(name) = &opts.user {
        set_user(&mut cmd, name)?;
    }
    Ok(cmd)
}

#[cfg(unix)]
fn set_user(cmd: &mut Command, name: &str) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let user = nix::unistd::User::from_name(name)
        .map_err(|e| Error::InvalidOption(format!("cannot look up user `{name}`: {e}")))?
        .ok_or_else(|| Error::InvalidOption(format!("no such user `{name}`")))?;
    cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    Ok(())
}

#[cfg(not(unix))]
fn set_user(_cmd: &mut Command, _name: &str) -> Result<()> {
    Err(Error::InvalidOption(
        "running the command as another user is only supported on Unix".into(),
    ))
}

/// The exit code to pass on: the child's, or 128 + signal as shells do.
fn exit_code(status: ExitStatus) -> i32 {
    if let Some(c) = status.code() {
        return c;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(s) = status.signal() {
            return 128 + s;
        }
    }
    1
}

fn run(mut cmd: Command) -> Result<i32> {
    let status = cmd.status().map_err(could_not_run)?;
    Ok(exit_code(status))
}

/// `exec-env`: runs `command` with the document's values in its
/// environment and returns its exit code.
pub fn exec_env(doc: &Map, command: &str, opts: &ExecOptions) -> Result<i32> {
    let vars = env_vars(doc)?;
    let mut cmd = shell(command, opts)?;
    if opts.pristine {
        cmd.env_clear();
    }
    for (k, v) in &vars {
        cmd.env(k, v.as_str());
    }
    match opts.launch {
        Launch::Wait => run(cmd),
        Launch::Background => {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            cmd.spawn().map_err(could_not_run)?;
            Ok(0)
        }
        Launch::SameProcess => Err(become_command(cmd)),
    }
}

fn could_not_run(e: std::io::Error) -> Error {
    Error::Command {
        program: "/bin/sh".into(),
        message: format!("could not run the command: {e}"),
    }
}

/// `execve`s the command; returns only the error when it cannot.
#[cfg(unix)]
fn become_command(mut cmd: Command) -> Error {
    use std::os::unix::process::CommandExt;
    could_not_run(cmd.exec())
}

#[cfg(not(unix))]
fn become_command(_cmd: Command) -> Error {
    Error::InvalidOption("replacing the process with the command is only supported on Unix".into())
}

/// `exec-file`: gives `command` the plaintext at a path (replacing each
/// `{}`), named `filename`, and returns its exit code. The path is a FIFO
/// unless `no_fifo`.
pub fn exec_file(
    plaintext: &[u8],
    command: &str,
    filename: &str,
    no_fifo: bool,
    opts: &ExecOptions,
) -> Result<i32> {
    if opts.launch != Launch::Wait {
        // The plaintext lives in a directory nsec removes when the command
        // ends (and a FIFO needs nsec to feed it): nsec must wait.
        return Err(Error::InvalidOption(
            "a command given the plaintext as a file is always waited for (the file is removed when the command ends, so it must not run on in the background; run the whole job in the background instead)".into(),
        ));
    }
    if filename.is_empty() || filename.contains('/') || filename == "." || filename == ".." {
        return Err(Error::InvalidOption(format!(
            "the file name `{filename}` must be a plain file name"
        )));
    }
    // $XDG_RUNTIME_DIR belongs to us (0700), so another user could not reach
    // a directory inside it: for --user, use the system temp directory.
    let base = opts.user.as_ref().map(|_| std::env::temp_dir());
    let dir = PrivateDir::new(base.as_deref())?;
    if let Some(name) = &opts.user {
        // The command runs as another user: it must be able to enter the
        // directory (the file itself stays 0600, owned by that user below).
        give_to_user(dir.path(), name)?;
    }
    let path = dir.path().join(filename);
    let cmd_text = command.replace("{}", &path.to_string_lossy());
    if no_fifo {
        let path = dir.create_file(filename, plaintext)?;
        if let Some(name) = &opts.user {
            give_to_user(&path, name)?;
        }
        return run(shell(&cmd_text, opts)?);
    }
    make_fifo(&path)?;
    if let Some(name) = &opts.user {
        give_to_user(&path, name)?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let data = Zeroizing::new(plaintext.to_vec());
    let writer = {
        let stop = stop.clone();
        let path = path.clone();
        std::thread::spawn(move || feed_fifo(&path, &data, &stop))
    };
    let result = run(shell(&cmd_text, opts)?);
    stop.store(true, Ordering::SeqCst);
    let _ = writer.join();
    result
}

#[cfg(unix)]
fn make_fifo(path: &Path) -> Result<()> {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| Error::io(path, std::io::Error::from_raw_os_error(e as i32)))
}

#[cfg(not(unix))]
fn make_fifo(_path: &Path) -> Result<()> {
    Err(Error::InvalidOption(
        "FIFOs need Unix (use a plain file instead)".into(),
    ))
}

#[cfg(unix)]
fn give_to_user(path: &Path, name: &str) -> Result<()> {
    let user = nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .ok_or_else(|| Error::InvalidOption(format!("no such user `{name}`")))?;
    std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
        .map_err(|e| Error::io(path, e))
}

#[cfg(not(unix))]
fn give_to_user(_path: &Path, _name: &str) -> Result<()> {
    Ok(())
}

/// Writes the plaintext into the FIFO once the command opens it for
/// reading. Opening is non-blocking and retried, so a command that never
/// reads the file does not leave this thread stuck: it stops when `stop`
/// is set after the command ended.
fn feed_fifo(path: &Path, data: &[u8], stop: &AtomicBool) {
    loop {
        let mut o = OpenOptions::new();
        o.write(true);
        #[cfg(unix)]
        o.custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits());
        match o.open(path) {
            Ok(file) => {
                // Back to blocking writes: the reader takes its time.
                #[cfg(unix)]
                {
                    use nix::fcntl::{fcntl, FcntlArg, OFlag};
                    use std::os::unix::io::AsRawFd;
                    let _ = fcntl(file.as_raw_fd(), FcntlArg::F_SETFL(OFlag::empty()));
                }
                let mut file = file;
                // A reader that closes early gives EPIPE; nothing to do then.
                let _ = file.write_all(data);
                return;
            }
            Err(_) if stop.load(Ordering::SeqCst) => return,
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_from_scalars() {
        let doc = Map {
            items: vec![
                Item::Entry("A".into(), Value::Str("x y".into())),
                Item::Comment(" c".into()),
                Item::Entry("N".into(), Value::Float(5.0)),
                Item::Entry("B".into(), Value::Bool(true)),
            ],
        };
        let vars = env_vars(&doc).unwrap();
        let got: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, [("A", "x y"), ("N", "5.0"), ("B", "true")]);
        let nested = Map {
            items: vec![Item::Entry("M".into(), Value::Map(Map::new()))],
        };
        assert!(env_vars(&nested).is_err());
    }

    #[test]
    fn fifo_and_file() {
        for no_fifo in [false, true] {
            let out = tempfile::NamedTempFile::new().unwrap();
            let code = exec_file(
                b"secret: 1\n",
                &format!("cat {{}} > {}; test -e {{}}", out.path().display()),
                "tmp-file",
                no_fifo,
                &ExecOptions::default(),
            )
            .unwrap();
            assert_eq!(code, 0);
            assert_eq!(std::fs::read(out.path()).unwrap(), b"secret: 1\n");
        }
        // A command that never reads the FIFO still ends.
        let code = exec_file(b"x", "exit 3", "f", false, &ExecOptions::default()).unwrap();
        assert_eq!(code, 3);
    }
}
