//! `edit`, `set` and `unset`: decrypt, change, encrypt again with the same
//! data key.
//!
//! Every change goes through [`Opened::seal`], which reuses the IV of each
//! value whose path and content are unchanged, so that value keeps its exact
//! `ENC[…]` string and a one-value change is a one-value diff (plus
//! `lastmodified` and `mac`). Writes are atomic ([`fsio::write_atomic`]) and
//! happen under the file's lock (`fsio::FileLock`); the file is re-read
//! after the lock is taken, so two concurrent writers both land.
//!
//! The editor session keeps the plaintext in a 0600 file inside a private
//! 0700 directory (under `$XDG_RUNTIME_DIR` when it exists) that is removed
//! when the session ends, whatever the outcome.

use std::fs::{self, OpenOptions};
use std::io::Write;
#[cfg(unix)]
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use zeroize::Zeroizing;

use crate::callbacks::Callbacks;
use crate::error::{Error, Result};
use crate::file::{self, DecryptOptions, Opened, SopsFile};
use crate::format::Format;
use crate::fsio::{self, FileLock};
use crate::keys::discovery::Identities;
use crate::metadata::SOPS_VERSION;
use crate::ops::{encrypt_options, EncryptOverrides};
use crate::rules::Config;
use crate::store::{self, StoreOptions};
use crate::tree::{PathStep, Value};

/// Whether an in-place operation rewrote the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The file was written.
    Written,
    /// Nothing changed; the file was left alone.
    Unchanged,
}

/// Options of `set` and `unset`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SetOptions {
    /// Do not check the MAC (`--ignore-mac`).
    pub ignore_mac: bool,
    /// `set`: do not rewrite when the value is already there; `unset`: a
    /// missing key is not an error (`--idempotent`).
    pub idempotent: bool,
}

/// Parses a `set` VALUE as sops does: JSON, numbers become floats, objects
/// keep their key order, and a top-level array is refused (sops 3.11).
pub fn parse_set_value(json: &[u8]) -> Result<Value> {
    let v: serde_json::Value = serde_json::from_slice(json)
        .map_err(|e| Error::InvalidValue(format!("the value is not valid JSON ({e})")))?;
    if v.is_array() {
        return Err(Error::InvalidValue(
            "a top-level JSON array cannot be set (as in sops 3.11); set the list's items, or wrap it in an object".into(),
        ));
    }
    Ok(Value::from_json(&v))
}

/// A typed-in or piped value for `set`: a string, never parsed as JSON,
/// without the one line ending a prompt or `echo` adds. An empty value is
/// refused.
pub fn parse_set_string(text: &str) -> Result<Value> {
    let trimmed = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text);
    if trimmed.is_empty() {
        return Err(Error::InvalidValue(
            "the value is empty; nothing was written".into(),
        ));
    }
    Ok(Value::Str(trimmed.to_string()))
}

/// Reads and parses one encrypted file (its store from its name).
pub(crate) fn read_sops(path: &Path) -> Result<SopsFile> {
    let bytes = crate::fsio::read_file(path)?;
    SopsFile::parse(Format::from_path(path), &bytes).map_err(|e| e.in_file(path))
}

/// The one read-modify-write of an encrypted file: takes the file's lock,
/// reads and parses it only then (so a concurrent writer's change is seen),
/// lets `change` make the file to write, and writes that atomically before
/// the lock is released. `change` returns `None` to leave the file alone
/// ([`Outcome::Unchanged`]). Errors from `change` and from encoding are
/// reported in the file.
pub(crate) fn rewrite_locked(
    path: &Path,
    store_opts: &StoreOptions,
    change: impl FnOnce(SopsFile) -> Result<Option<SopsFile>>,
) -> Result<Outcome> {
    let _lock = FileLock::acquire(path)?;
    let in_file = |e: Error| e.in_file(path);
    let file = read_sops(path)?;
    let Some(changed) = change(file).map_err(in_file)? else {
        return Ok(Outcome::Unchanged);
    };
    let out = changed.to_bytes(store_opts).map_err(in_file)?;
    fsio::write_atomic(path, &out, 0o644)?;
    Ok(Outcome::Written)
}

/// Decrypts, changes and seals one file with [`rewrite_locked`].
/// `change` returns whether it changed anything; when it did not and
/// `skip_unchanged` is set, the file is not rewritten.
fn modify_in_place(
    path: &Path,
    identities: &Identities,
    store_opts: &StoreOptions,
    opts: DecryptOptions,
    skip_unchanged: bool,
    change: impl FnOnce(&mut Opened) -> Result<bool>,
) -> Result<Outcome> {
    rewrite_locked(path, store_opts, |file| {
        let mut opened = file.open(identities, opts)?;
        let changed = change(&mut opened)?;
        if !changed && skip_unchanged {
            return Ok(None);
        }
        opened.seal().map(Some)
    })
}

/// `set`: puts `value` at `steps` in the first document, creating missing
/// map keys (and lists for index steps; an index past the end appends).
pub fn set_value(
    path: &Path,
    identities: &Identities,
    store_opts: &StoreOptions,
    steps: &[PathStep],
    value: Value,
    opts: SetOptions,
) -> Result<Outcome> {
    modify_in_place(
        path,
        identities,
        store_opts,
        DecryptOptions {
            ignore_mac: opts.ignore_mac,
            read_only: false,
        },
        opts.idempotent,
        |opened| {
            if opened.documents.is_empty() {
                opened.documents.push(Default::default());
            }
            opened.documents[0].set_path(steps, value)
        },
    )
}

/// `unset`: removes the entry or list item at `steps` of the first
/// document. A missing path is an error unless `opts.idempotent`.
pub fn unset_value(
    path: &Path,
    identities: &Identities,
    store_opts: &StoreOptions,
    steps: &[PathStep],
    opts: SetOptions,
) -> Result<Outcome> {
    modify_in_place(
        path,
        identities,
        store_opts,
        DecryptOptions {
            ignore_mac: opts.ignore_mac,
            read_only: false,
        },
        true,
        |opened| {
            let Some(doc) = opened.documents.first_mut() else {
                return Err(Error::PathNotFound(String::new()));
            };
            match doc.unset_path(steps) {
                Ok(()) => Ok(true),
                Err(Error::PathNotFound(_)) if opts.idempotent => Ok(false),
                Err(e) => Err(e),
            }
        },
    )
}

/// The editor command: `$SOPS_EDITOR`, then `$EDITOR` (each split
/// shell-style, so `code --wait` works), else `vi`. `var` looks up an
/// environment variable.
pub fn editor_command(var: impl Fn(&str) -> Option<String>) -> Result<Vec<String>> {
    for name in ["SOPS_EDITOR", "EDITOR"] {
        if let Some(v) = var(name).filter(|v| !v.trim().is_empty()) {
            let words =
                crate::keys::discovery::split_shell_words(&v).map_err(|e| Error::Editor {
                    program: format!("${name}"),
                    message: format!("cannot split the editor command: {e}"),
                })?;
            if !words.is_empty() {
                return Ok(words);
            }
        }
    }
    Ok(vec!["vi".to_string()])
}

/// Everything `edit` needs besides the file.
pub struct EditOptions<'a> {
    /// The editor command and its arguments; the temp file is appended.
    pub editor: Vec<String>,
    /// The `.sops.yaml` in force (for creating a new file).
    pub config: Option<&'a Config>,
    /// The working directory (for rule matching).
    pub cwd: &'a Path,
    /// Output layout.
    pub store: StoreOptions,
    /// Base directory for the private temp directory; `None` picks
    /// `$XDG_RUNTIME_DIR` when it is a directory, else the system temp dir.
    pub temp_base: Option<PathBuf>,
}

/// The starting text of a new file, per store: sops' example document.
pub fn template(format: Format) -> &'static str {
    match format {
        Format::Yaml => concat!(
            "# A new secrets file: replace this example with your values.\n",
            "# Keys ending in _unencrypted stay in plaintext.\n",
            "hello: Welcome to nsec! Edit this file as you please!\n",
            "example_key: example_value\n",
            "example_array:\n",
            "    - example_value1\n",
            "    - example_value2\n",
            "example_number: 1234.56789\n",
            "example_booleans:\n",
            "    - true\n",
            "    - false\n",
        ),
        Format::Json => concat!(
            "{\n",
            "    \"hello\": \"Welcome to nsec! Edit this file as you please!\",\n",
            "    \"example_key\": \"example_value\",\n",
            "    \"example_array\": [\n",
            "        \"example_value1\",\n",
            "        \"example_value2\"\n",
            "    ],\n",
            "    \"example_number\": 1234.56789,\n",
            "    \"example_booleans\": [\n",
            "        true,\n",
            "        false\n",
            "    ]\n",
            "}\n",
        ),
        Format::Dotenv => concat!(
            "hello=Welcome to nsec! Edit this file as you please!\n",
            "example_key=example_value\n",
        ),
        Format::Ini => concat!(
            "[example]\n",
            "hello = Welcome to nsec! Edit this file as you please!\n",
            "example_key = example_value\n",
        ),
        Format::Binary => "Welcome to nsec! Edit this file as you please!\n",
    }
}

/// The private directory holding the plaintext during an edit. Removed when
/// dropped (success, error, editor failure, interrupt). While it lives, a
/// lock is held on its `.lock` file: a directory whose lock nobody holds was
/// left by an nsec that was killed, and the next edit removes it.
pub(crate) struct PrivateDir {
    // Dropped after `dir` is removed: fields drop in order.
    dir: tempfile::TempDir,
    _lock: fs::File,
}

const PRIVATE_PREFIX: &str = "nsec-";
const LOCK_NAME: &str = ".lock";

/// Removes the private directories of edits whose nsec was killed (their
/// plaintext would otherwise stay until the next reboot): `nsec-*`
/// directories in `base` with a `.lock` file nobody holds.
fn sweep_stale_private_dirs(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with(PRIVATE_PREFIX)
        {
            continue;
        }
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.path();
        let Ok(lock) = fs::File::open(dir.join(LOCK_NAME)) else {
            continue; // being created, or not ours
        };
        if lock.try_lock().is_ok() {
            let _ = fs::remove_dir_all(&dir);
        }
    }
}

impl PrivateDir {
    /// Creates a 0700 directory under `base`, or under `$XDG_RUNTIME_DIR`
    /// (when it is a directory) or the system temp dir.
    pub fn new(base: Option<&Path>) -> Result<PrivateDir> {
        let base = match base {
            Some(b) => b.to_path_buf(),
            None => std::env::var_os("XDG_RUNTIME_DIR")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute() && p.is_dir())
                .unwrap_or_else(std::env::temp_dir),
        };
        sweep_stale_private_dirs(&base);
        let dir = tempfile::Builder::new()
            .prefix(PRIVATE_PREFIX)
            .tempdir_in(&base)
            .map_err(|e| Error::io(&base, e))?;
        #[cfg(unix)]
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(dir.path(), e))?;
        let lock_path = dir.path().join(LOCK_NAME);
        let lock = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        lock.lock().map_err(|e| Error::io(&lock_path, e))?;
        Ok(PrivateDir { dir, _lock: lock })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Creates `name` in the directory with mode 0600 and `contents`.
    pub fn create_file(&self, name: &str, contents: &[u8]) -> Result<PathBuf> {
        let p = self.dir.path().join(name);
        let mut f = OpenOptions::new();
        f.write(true).create_new(true);
        #[cfg(unix)]
        f.mode(0o600);
        let mut file = f.open(&p).map_err(|e| Error::io(&p, e))?;
        file.write_all(contents).map_err(|e| Error::io(&p, e))?;
        file.sync_all().map_err(|e| Error::io(&p, e))?;
        Ok(p)
    }
}

/// The temp file's name: the target's own name, so editors pick the right
/// syntax (`openai.yaml`), or `secret` plus its extension.
fn temp_name(path: &Path) -> String {
    match path.file_name().and_then(|n| n.to_str()) {
        Some(n) if !n.starts_with('.') && !n.is_empty() => n.to_string(),
        _ => match path.extension().and_then(|e| e.to_str()) {
            Some(ext) => format!("secret.{ext}"),
            None => "secret".to_string(),
        },
    }
}

/// Runs the editor on `file`, waiting for it. A failure to start, a
/// non-zero exit or a death by signal are errors; nothing is written.
fn run_editor(editor: &[String], file: &Path) -> Result<()> {
    let (program, args) = editor.split_first().ok_or_else(|| Error::Editor {
        program: "editor".into(),
        message: "the editor command is empty".into(),
    })?;
    let status = Command::new(program)
        .args(args)
        .arg(file)
        .status()
        .map_err(|e| Error::Editor {
            program: program.clone(),
            message: format!("could not run the editor: {e}"),
        })?;
    if status.success() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if status.signal().is_some() {
            return Err(Error::Interrupted);
        }
    }
    Err(Error::Editor {
        program: program.clone(),
        message: format!("the editor failed ({status}); the file was not changed"),
    })
}

/// Raises `version` to the one nsec writes when it is older (as `sops
/// edit` does); newer versions are kept.
fn raise_version(version: &mut String) {
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let core = v.strip_prefix('v').unwrap_or(v).split(['-', '+']).next()?;
        let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
        Some((it.next()??, it.next()??, it.next()??))
    };
    match (parse(version), parse(SOPS_VERSION)) {
        (Some(old), Some(new)) if old >= new => {}
        _ => *version = SOPS_VERSION.to_string(),
    }
}

/// What the edit is working on: an existing file (opened, with its lock
/// held for the whole session) or a new one.
enum Target {
    Existing { opened: Opened, _lock: FileLock },
    New(file::EncryptOptions),
}

/// `edit`: opens the file's plaintext in the editor and writes the result
/// back encrypted. A missing file is created from [`template`], encrypted by
/// the `.sops.yaml` rule. Edited text that does not parse is offered for
/// reopening through [`Callbacks::reopen_edit`], and
/// [`Callbacks::interrupted`] is asked after the editor exits. An unchanged text leaves the file alone
/// ([`Outcome::Unchanged`]).
///
/// The lock on an existing file is held while the editor runs, so another
/// nsec writer waits instead of having its change overwritten.
pub fn edit_file(
    path: &Path,
    identities: &Identities,
    opts: &EditOptions<'_>,
    callbacks: &dyn Callbacks,
) -> Result<Outcome> {
    let format = Format::from_path(path);
    let in_file = |e: Error| e.in_file(path);
    let (target, original) = if path.exists() {
        let lock = FileLock::acquire(path)?;
        let bytes = crate::fsio::read_file(path)?;
        let opened = SopsFile::parse(format, &bytes)
            .and_then(|f| f.open(identities, DecryptOptions::default()))
            .map_err(in_file)?;
        let text = Zeroizing::new(opened.plaintext(format, &opts.store).map_err(in_file)?);
        (
            Target::Existing {
                opened,
                _lock: lock,
            },
            text,
        )
    } else {
        let enc = encrypt_options(opts.config, opts.cwd, path, &EncryptOverrides::default())
            .map_err(in_file)?;
        (
            Target::New(enc),
            Zeroizing::new(template(format).as_bytes().to_vec()),
        )
    };
    let dir = PrivateDir::new(opts.temp_base.as_deref())?;
    let tmp = dir.create_file(&temp_name(path), &original)?;
    let documents = loop {
        run_editor(&opts.editor, &tmp)?;
        if callbacks.interrupted() {
            return Err(Error::Interrupted);
        }
        let edited = Zeroizing::new(crate::fsio::read_file(&tmp)?);
        if *edited == *original {
            return Ok(Outcome::Unchanged);
        }
        let parsed = store::parse(format, &edited).and_then(|docs| {
            if store::has_metadata(format, &docs) {
                Err(Error::Parse {
                    format,
                    message: "the edited text contains a top-level `sops` entry, which is reserved for the metadata".into(),
                })
            } else {
                Ok(docs)
            }
        });
        match parsed {
            Ok(docs) => break docs,
            Err(e) => {
                if !callbacks.reopen_edit(&e) {
                    return Err(in_file(e));
                }
            }
        }
    };
    let sealed = match target {
        Target::Existing { mut opened, _lock } => {
            opened.documents = documents;
            raise_version(&mut opened.metadata.version);
            let out = opened
                .seal()
                .and_then(|f| f.to_bytes(&opts.store))
                .map_err(in_file)?;
            fsio::write_atomic(path, &out, 0o644)?;
            return Ok(Outcome::Written);
        }
        Target::New(enc) => file::encrypt(format, documents, &enc).map_err(in_file)?,
    };
    let out = sealed.to_bytes(&opts.store).map_err(in_file)?;
    // A file that appeared while the editor ran is never overwritten.
    fsio::write_new(path, &out, 0o644)?;
    Ok(Outcome::Written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_values_like_sops() {
        assert_eq!(parse_set_value(b"5").unwrap(), Value::Float(5.0));
        assert_eq!(parse_set_value(b"\"x\"").unwrap(), Value::Str("x".into()));
        assert!(matches!(
            parse_set_value(b"[1]"),
            Err(Error::InvalidValue(_))
        ));
        assert!(matches!(
            parse_set_value(b"nope"),
            Err(Error::InvalidValue(_))
        ));
        assert!(matches!(
            parse_set_value(br#"{"a":[1,2]}"#).unwrap(),
            Value::Map(_)
        ));
    }

    #[test]
    fn editor_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(editor_command(env(&[])).unwrap(), ["vi"]);
        assert_eq!(
            editor_command(env(&[("EDITOR", "code --wait")])).unwrap(),
            ["code", "--wait"]
        );
        assert_eq!(
            editor_command(env(&[("EDITOR", "nano"), ("SOPS_EDITOR", "'my ed' -x")])).unwrap(),
            ["my ed", "-x"]
        );
    }

    #[test]
    fn version_raised_not_lowered() {
        let mut v = "3.7.3".to_string();
        raise_version(&mut v);
        assert_eq!(v, SOPS_VERSION);
        let mut v = "3.13.1".to_string();
        raise_version(&mut v);
        assert_eq!(v, "3.13.1");
    }

    #[test]
    fn private_dir_modes_and_cleanup() {
        let base = tempfile::tempdir().unwrap();
        let d = PrivateDir::new(Some(base.path())).unwrap();
        let f = d.create_file("x.yaml", b"a: 1\n").unwrap();
        #[cfg(unix)]
        {
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(d.path()), 0o700);
            assert_eq!(mode(&f), 0o600);
        }
        drop(d);
        assert_eq!(fs::read_dir(base.path()).unwrap().count(), 0);
    }

    #[test]
    fn templates_parse() {
        for f in [
            Format::Yaml,
            Format::Json,
            Format::Dotenv,
            Format::Ini,
            Format::Binary,
        ] {
            store::parse(f, template(f).as_bytes()).unwrap();
        }
    }
}
