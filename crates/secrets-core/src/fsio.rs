//! Safe file writes: atomic replacement and per-file locks.
//!
//! A file is never rewritten in place: the new content goes to a temporary
//! file in the same directory, is flushed to disk, and is renamed over the
//! target, so a crash or a kill leaves either the old or the new complete
//! file. Writers of the same file are serialised by a lock on the file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
#[cfg(unix)]
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically. An existing file keeps its
/// permissions; a new one gets `new_mode` (e.g. 0o600 for plaintext, 0o644
/// for encrypted files).
pub fn write_atomic(path: &Path, bytes: &[u8], new_mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mode = match fs::metadata(path) {
        #[cfg(unix)]
        Ok(m) => m.permissions().mode() & 0o7777,
        #[cfg(not(unix))]
        Ok(_) => new_mode,
        Err(_) => new_mode,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".nsec-tmp-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    #[cfg(unix)]
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(tmp.path(), e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    // Make the rename itself durable.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
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
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_write_leaves_target() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir").join("f.yaml");
        assert!(write_atomic(&missing, b"x", 0o600).is_err());
    }
}
