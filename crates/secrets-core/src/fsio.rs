//! Safe file writes: atomic replacement and per-file locks.
//!
//! A file is never rewritten in place: the new content goes to a temporary
//! file in the same directory, is flushed to disk, and is renamed over the
//! target, so a crash or a kill leaves either the old or the new complete
//! file. Writers of the same file are serialised by a lock on the file.
//!
//! A rewritten file keeps its owner and group, as sops' in-place writes do:
//! the temporary file is given them before the rename. Where the process
//! may not (a user rewriting another user's file keeps the group only if it
//! is a member), the write still happens and a [`Warning`] says what
//! changed; [`take_warnings`] hands them to the caller to print.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
#[cfg(unix)]
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Something a write did that the user should know about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// A rewritten file could not keep its owner or group.
    OwnershipChanged {
        /// The file.
        path: PathBuf,
        /// Owner and group before.
        before: (u32, u32),
        /// Owner and group now.
        after: (u32, u32),
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::OwnershipChanged {
                path,
                before,
                after,
            } => write!(
                f,
                "{}: owner:group changed from {}:{} to {}:{} (this user may not keep them; run as the owner or root to keep them)",
                path.display(),
                before.0,
                before.1,
                after.0,
                after.1
            ),
        }
    }
}

static WARNINGS: std::sync::Mutex<Vec<Warning>> = std::sync::Mutex::new(Vec::new());

/// The warnings of the writes so far (and forgets them).
pub fn take_warnings() -> Vec<Warning> {
    match WARNINGS.lock() {
        Ok(mut w) => std::mem::take(&mut *w),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    }
}

fn warn(w: Warning) {
    if let Ok(mut list) = WARNINGS.lock() {
        list.push(w);
    }
}

/// The owner and group of an existing file.
#[cfg(unix)]
fn ownership(m: &fs::Metadata) -> Option<(u32, u32)> {
    Some((m.uid(), m.gid()))
}

#[cfg(not(unix))]
fn ownership(_m: &fs::Metadata) -> Option<(u32, u32)> {
    None
}

/// Gives the temporary file `owner` (uid, gid): both if permitted, else the
/// group alone, else nothing; warns when anything differs from before.
#[cfg(unix)]
fn keep_ownership(tmp: &File, path: &Path, owner: Option<(u32, u32)>) {
    let Some((uid, gid)) = owner else { return };
    let Ok(m) = tmp.metadata() else { return };
    if (m.uid(), m.gid()) == (uid, gid) {
        return;
    }
    if std::os::unix::fs::fchown(tmp, Some(uid), Some(gid)).is_ok() {
        return;
    }
    let _ = std::os::unix::fs::fchown(tmp, None, Some(gid));
    if let Ok(now) = tmp.metadata() {
        warn(Warning::OwnershipChanged {
            path: path.to_path_buf(),
            before: (uid, gid),
            after: (now.uid(), now.gid()),
        });
    }
}

#[cfg(not(unix))]
fn keep_ownership(_tmp: &File, _path: &Path, _owner: Option<(u32, u32)>) {}

/// The most nsec reads from a secret file (a million values of sops YAML
/// are about 150 MiB).
pub const MAX_SECRET_FILE: u64 = 512 << 20;
/// The most nsec reads from a `.sops.yaml`, a template or an identity file.
pub const MAX_SMALL_FILE: u64 = 16 << 20;

/// Reads at most [`MAX_SECRET_FILE`] bytes from `reader` (standard input,
/// a FIFO or a file given on the command line): more is
/// [`Error::TooLarge`] naming `path`, never an unbounded allocation.
pub fn read_capped(reader: impl std::io::Read, path: &Path, size_hint: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    // Sized up front for a regular file, so a large secret is read without
    // growing (and copying) the buffer.
    let mut out = Vec::with_capacity(size_hint.min(MAX_SECRET_FILE) as usize + 1);
    reader
        .take(MAX_SECRET_FILE + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::io(path, e))?;
    if out.len() as u64 > MAX_SECRET_FILE {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_SECRET_FILE,
        });
    }
    Ok(out)
}

/// Reads a secret file: [`read_regular`] with [`MAX_SECRET_FILE`].
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    read_regular(path, MAX_SECRET_FILE)
}

/// Reads a config, template or identity file: [`read_regular`] with
/// [`MAX_SMALL_FILE`].
pub fn read_small(path: &Path) -> Result<Vec<u8>> {
    read_regular(path, MAX_SMALL_FILE)
}

/// Reads a file that must be a regular file (symlinks are followed) of at
/// most `limit` bytes. A FIFO, a device, a socket or a directory is refused
/// without blocking or reading it ([`Error::NotRegularFile`]); a larger file
/// is [`Error::TooLarge`], after reading at most `limit + 1` bytes.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut options = OpenOptions::new();
    options.read(true);
    // Opening a FIFO for reading blocks until a writer comes: don't wait.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc_nonblock());
    let file = options.open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.file_type().is_file() {
        return Err(Error::NotRegularFile {
            path: path.to_path_buf(),
            kind: file_kind(&meta),
        });
    }
    if meta.len() > limit {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::io(path, e))?;
    if out.len() as u64 > limit {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(out)
}

#[cfg(unix)]
fn libc_nonblock() -> i32 {
    nix::fcntl::OFlag::O_NONBLOCK.bits()
}

/// What a non-regular file is, for messages.
pub fn file_kind(meta: &fs::Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
    }
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symlink"
    } else if t.is_file() {
        "a file"
    } else {
        "not a regular file"
    }
}

/// Writes `bytes` to `path` atomically.
///
/// A new file gets `new_mode` (0o600 for plaintext, 0o644 for encrypted
/// files). An existing file keeps its permissions, except that a private
/// `new_mode` (no group or other bits) also strips those bits from the kept
/// ones: decrypting over a 0644 encrypted file must not leave plaintext
/// readable by others. A symlink is written through, not replaced.
pub fn write_atomic(path: &Path, bytes: &[u8], new_mode: u32) -> Result<()> {
    write_atomic_parts(path, &[bytes], new_mode)
}

/// [`write_atomic`] of the bytes of `parts` one after the other (a large
/// file written in pieces that are never joined in memory).
pub fn write_atomic_parts(path: &Path, parts: &[&[u8]], new_mode: u32) -> Result<()> {
    let path = resolve_link(path);
    let existing = fs::metadata(&path).ok();
    let owner = existing.as_ref().and_then(ownership);
    let mode = match existing.ok_or(()) {
        #[cfg(unix)]
        Ok(m) if new_mode & 0o077 == 0 => m.permissions().mode() & 0o7700,
        #[cfg(unix)]
        Ok(m) => m.permissions().mode() & 0o7777,
        _ => new_mode,
    };
    let tmp = write_temp(&path, parts, mode, owner)?;
    crate::fault::io("rename");
    tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
    crate::fault::io("renamed");
    sync_dir(&path);
    Ok(())
}

/// Writes `bytes` to `path` atomically with the mode, owner and group of
/// `like`, the file it is going to replace (the store-wide rotation writes
/// its new files beside the old ones first).
#[cfg(unix)]
pub fn write_atomic_like(path: &Path, bytes: &[u8], like: &Path) -> Result<()> {
    let m = fs::metadata(like).map_err(|e| Error::io(like, e))?;
    let tmp = write_temp(
        like,
        &[bytes],
        m.permissions().mode() & 0o7777,
        ownership(&m),
    )?;
    crate::fault::io("rename");
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    crate::fault::io("renamed");
    sync_dir(path);
    Ok(())
}

/// Writes `bytes` to `path` atomically (no modes or owners elsewhere).
#[cfg(not(unix))]
pub fn write_atomic_like(path: &Path, bytes: &[u8], _like: &Path) -> Result<()> {
    write_atomic(path, bytes, 0o644)
}

/// Writes a file that must not exist yet, atomically: if something appears
/// at `path` meanwhile, it is kept and the result is
/// [`Error::AlreadyExists`] (checking first and writing later could
/// overwrite an identity file created in between).
pub fn write_new(path: &Path, bytes: &[u8], new_mode: u32) -> Result<()> {
    if fs::symlink_metadata(path).is_ok() {
        return Err(Error::AlreadyExists(path.to_path_buf()));
    }
    let tmp = write_temp(path, &[bytes], new_mode, None)?;
    crate::fault::io("rename");
    match tmp.persist_noclobber(path) {
        Ok(_) => {
            sync_dir(path);
            Ok(())
        }
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::AlreadyExists(path.to_path_buf()))
        }
        Err(e) => Err(Error::io(path, e.error)),
    }
}

/// One file of [`replace_all`].
#[derive(Clone, Debug)]
pub struct Replacement {
    /// The file (a symlink is written through).
    pub path: PathBuf,
    /// The bytes it holds now, as the caller read them.
    pub original: Vec<u8>,
    /// The bytes it must hold.
    pub new: Vec<u8>,
}

/// Replaces several files, all or nothing.
///
/// Every file is checked to still hold its `original` bytes and every new
/// content is written to a flushed temporary file beside its target before
/// anything is replaced; a failure there replaces nothing. Then each
/// temporary is renamed over its target (each rename is atomic); if a
/// rename fails, the files already replaced get their original bytes back
/// (atomically too) before the error is returned. Files keep their modes.
pub fn replace_all(files: &[Replacement]) -> Result<()> {
    replace_all_with(files, &mut |_| Ok(()))
}

/// [`replace_all`], calling `before_rename(i)` before the i-th rename (tests
/// make it fail to check the restore).
fn replace_all_with(
    files: &[Replacement],
    before_rename: &mut dyn FnMut(usize) -> Result<()>,
) -> Result<()> {
    let mut staged = Vec::with_capacity(files.len());
    for f in files {
        let path = resolve_link(&f.path);
        let current = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        if current != f.original {
            return Err(Error::io(
                &path,
                std::io::Error::other("the file changed while nsec was working on it"),
            ));
        }
        let existing = fs::metadata(&path).ok();
        #[cfg(unix)]
        let mode = existing
            .as_ref()
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o644);
        #[cfg(not(unix))]
        let mode = 0o644;
        let tmp = write_temp(
            &path,
            &[&f.new],
            mode,
            existing.as_ref().and_then(ownership),
        )?;
        staged.push((path, tmp));
    }
    let mut done: Vec<(PathBuf, &[u8])> = Vec::with_capacity(files.len());
    for (i, ((path, tmp), f)) in staged.into_iter().zip(files).enumerate() {
        crate::fault::io("rename");
        let renamed = before_rename(i).and_then(|()| {
            tmp.persist(&path)
                .map(|_| ())
                .map_err(|e| Error::io(&path, e.error))
        });
        if let Err(e) = renamed {
            for (p, original) in done.iter().rev() {
                let _ = write_atomic(p, original, 0o644);
            }
            return Err(e);
        }
        sync_dir(&path);
        done.push((path, &f.original));
    }
    Ok(())
}

/// Renames `from` over `to` and makes the rename durable (the directory is
/// flushed). The journaled store-wide changes commit this way: their
/// temporaries were flushed when written, so `to` is always complete, old
/// or new.
pub fn rename_durable(from: &Path, to: &Path) -> Result<()> {
    crate::fault::io("rename");
    fs::rename(from, to).map_err(|e| Error::io(to, e))?;
    crate::fault::io("renamed");
    sync_dir(to);
    Ok(())
}

/// The file a write to `path` goes to: `path`, or where its symlink (chain)
/// leads, even when the target does not exist yet (a dangling link is
/// written through, never replaced by a regular file).
pub(crate) fn resolve_link(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    // As the kernel does, give up after 40 links (a loop): the write then
    // fails on the link itself.
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => match fs::read_link(&current) {
                Ok(target) if target.is_absolute() => current = target,
                Ok(target) => current = parent_dir(&current).join(target),
                Err(_) => return current,
            },
            _ => return current,
        }
    }
    current
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The content in a flushed temporary file beside `path`, with `mode`.
fn write_temp(
    path: &Path,
    parts: &[&[u8]],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<tempfile::NamedTempFile> {
    let dir = parent_dir(path);
    sweep_stale(&dir);
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    // Held until the file is renamed and closed: a temporary nobody holds
    // a lock on was left by a writer that died (see `stale_temp_files`).
    tmp.as_file().lock().map_err(|e| Error::io(tmp.path(), e))?;
    #[cfg(unix)]
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(tmp.path(), e))?;
    #[cfg(not(unix))]
    let _ = mode;
    keep_ownership(tmp.as_file(), path, owner);
    // chown clears set-id bits: set the mode again.
    #[cfg(unix)]
    if owner.is_some() {
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(tmp.path(), e))?;
    }
    for part in parts {
        tmp.write_all(part).map_err(|e| Error::io(path, e))?;
    }
    crate::fault::io("write");
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    crate::fault::io("fsync");
    Ok(tmp)
}

/// The name prefix of the temporary files of atomic writes.
pub const TEMP_PREFIX: &str = ".nsec-tmp-";

/// The temporary files in `dir` that a writer left behind when it was
/// killed between writing and renaming (they may hold plaintext, after
/// `decrypt --in-place`): `.nsec-tmp-*` regular files that no live writer
/// holds the lock of, and that are older than two seconds (a writer takes
/// its lock right after creating the file).
pub fn stale_temp_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(TEMP_PREFIX) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.file_type().is_file() {
            continue;
        }
        let old = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age.as_secs() >= 2);
        if !old {
            continue;
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        if file.try_lock().is_ok() {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Makes sure `dir/.gitignore` ignores the temporary files of atomic writes
/// (`.nsec-tmp-*`), so a leftover of a killed write is never committed by
/// `git add -A`. Adds one line to an existing file, keeping the rest.
pub fn ignore_temp_files(dir: &Path) -> Result<bool> {
    let path = dir.join(".gitignore");
    let line = format!("{TEMP_PREFIX}*");
    let existing = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(&path, e)),
    };
    if existing
        .lines()
        .any(|l| l.trim() == line || l.trim() == format!("/{line}"))
    {
        return Ok(false);
    }
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# temporary files of interrupted nsec writes (may hold plaintext)\n");
    text.push_str(&line);
    text.push('\n');
    write_atomic(&path, text.as_bytes(), 0o644)?;
    Ok(true)
}

/// Removes the stale temporary files of `dir` (best effort): every write
/// cleans up after the writers before it that were killed.
pub fn sweep_stale(dir: &Path) {
    for path in stale_temp_files(dir) {
        let _ = fs::remove_file(path);
    }
}

/// Makes a rename in `path`'s directory durable.
fn sync_dir(path: &Path) {
    if let Ok(d) = File::open(parent_dir(path)) {
        let _ = d.sync_all();
    }
}

/// An exclusive lock on a file, held until dropped.
///
/// Because writes replace the file by renaming, a waiter may end up holding
/// a lock on the old inode; after locking, the path is checked to still be
/// the locked file, and the lock is taken again otherwise.
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Blocks until this process holds the lock on `path` (which must exist).
    pub fn acquire(path: &Path) -> Result<FileLock> {
        loop {
            let file = OpenOptions::new()
                .read(true)
                .open(path)
                .map_err(|e| Error::io(path, e))?;
            file.lock().map_err(|e| Error::io(path, e))?;
            if same_file(&file, path) {
                return Ok(FileLock { _file: file });
            }
        }
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, _path: &Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.yaml");
        write_atomic(&p, b"one", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        #[cfg(unix)]
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        #[cfg(unix)]
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        // An encrypted (non-private) write keeps the file's own mode.
        write_atomic(&p, b"two", 0o644).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn private_writes_close_an_open_file_and_follow_links() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.yaml");
        write_atomic(&target, b"enc", 0o644).unwrap();
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomic(&link, b"plain", 0o600).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&target).unwrap(), b"plain");
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn new_files_never_replace_existing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keys.txt");
        write_new(&p, b"first", 0o600).unwrap();
        assert!(matches!(
            write_new(&p, b"second", 0o600),
            Err(Error::AlreadyExists(_))
        ));
        assert_eq!(fs::read(&p).unwrap(), b"first");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_write_leaves_target() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir").join("f.yaml");
        assert!(write_atomic(&missing, b"x", 0o600).is_err());
    }

    #[test]
    fn replace_all_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let c = dir.path().join("c");
        for p in [&a, &b, &c] {
            fs::write(p, b"old").unwrap();
        }
        let plan = |p: &Path| Replacement {
            path: p.to_path_buf(),
            original: b"old".to_vec(),
            new: b"new".to_vec(),
        };
        // A rename failing midway: the files already replaced come back.
        let e = replace_all_with(&[plan(&a), plan(&b), plan(&c)], &mut |i| {
            if i == 2 {
                Err(Error::InvalidOption("injected".into()))
            } else {
                Ok(())
            }
        });
        assert!(e.is_err());
        for p in [&a, &b, &c] {
            assert_eq!(fs::read(p).unwrap(), b"old");
        }
        // A file that changed since it was read: nothing is replaced.
        fs::write(&c, b"other").unwrap();
        assert!(replace_all(&[plan(&a), plan(&b), plan(&c)]).is_err());
        assert_eq!(fs::read(&a).unwrap(), b"old");
        assert_eq!(fs::read(&c).unwrap(), b"other");
        // No temporary file is left behind; then it works.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
        fs::write(&c, b"old").unwrap();
        replace_all(&[plan(&a), plan(&b), plan(&c)]).unwrap();
        for p in [&a, &b, &c] {
            assert_eq!(fs::read(p).unwrap(), b"new");
        }
    }
}
