//! Store-wide rotation: new data keys and recipients from `.sops.yaml`,
//! all or nothing; and the journaled multi-file change it is built on,
//! which `revoke` and `host add/rm --yes` use too.
//!
//! The run has three phases:
//! 1. **plan**: which files, and what changes (new data key, recipients
//!    added or removed, by name);
//! 2. **prepare**: every new file is written to a temporary file beside the
//!    original (`.NAME.nsec-rotate`) and verified by decrypting it again;
//!    a new `.sops.yaml` (`revoke`, `host add/rm`) is prepared the same way;
//!    nothing is replaced yet, so a failure removes the temporaries and
//!    leaves the store as it was;
//! 3. **commit**: each temporary is renamed over its original (each rename is
//!    atomic and flushed, so every file is always complete, old or new),
//!    `.sops.yaml` last.
//!
//! A journal (`<store>/.nsec/rotate-journal`) records the phase, the files
//! and, for `revoke` and `host add/rm`, the [`Job`]. The next store-wide
//! run (`rotate`, `revoke`, `host add/rm`) finds it: a `prepare` journal is
//! rolled back (the temporaries are removed), a `commit` journal is
//! completed (the remaining verified temporaries are renamed). A rerun of
//! the interrupted command itself sees its own job completed and stops
//! there ([`recover_job`]).
//!
//! `.sops.yaml` is replaced last so that a crash during the commit never
//! leaves a config that denies a recipient a file it can still open:
//! after an interrupted `revoke` or `host rm`, the config still names the
//! removed recipient for the files not yet re-keyed, and the files already
//! re-keyed differ from their rule (`nsec validate`: E030) until the next
//! run completes the job.
//!
//! Every planned file is locked (`fsio::FileLock`, in path order, so two
//! runs cannot deadlock) before it is read, and the locks are held until the
//! last rename: an `nsec set` or `edit` either finishes before the rotation
//! reads the file, or waits and then re-reads the rotated file. Since a
//! rename moves the path to a new inode, each temporary is locked too before
//! it takes its file's place; a writer arriving after the rename waits on
//! that lock, and one that was waiting on the old inode notices the
//! replacement when it gets the lock and locks the new file.

use std::path::{Path, PathBuf};

use crate::callbacks::{Callbacks, Progress};
use crate::error::{Error, Result};
use crate::file::{DecryptOptions, SopsFile};
use crate::format::Format;
use crate::fsio::{self, FileLock};
use crate::keys::discovery::Identities;
use crate::ops::{self, EncryptOverrides};
use crate::repo::Store;
use zeroize::Zeroizing;

/// One file of a rotation plan.
#[derive(Clone, Debug)]
pub struct PlannedFile {
    /// The file.
    pub path: PathBuf,
    /// Its secret name.
    pub name: String,
    /// Recipients the rule has and the file lacks (by name).
    pub added: Vec<String>,
    /// Recipients the file has and the rule lacks (by name).
    pub removed: Vec<String>,
}

/// What a rotation will do.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The files to rotate, each gets a new data key.
    pub files: Vec<PlannedFile>,
    /// Files left alone (already in line with the rules).
    pub unchanged: usize,
}

/// Which files to rotate.
#[derive(Clone, Debug, Default)]
pub enum Selection {
    /// Only files whose recipients drift from their rule.
    #[default]
    Drifted,
    /// Every file of the store.
    All,
    /// These secret names.
    Names(Vec<String>),
    /// These files (used by revoke).
    Files(Vec<PathBuf>),
}

/// Serialises store-wide rewrites (`rotate`, `revoke`): the returned lock
/// on `<store>/.nsec/lock` is held until dropped, so two runs never act on
/// one journal at once. The lock file is never replaced (unlike
/// `.sops.yaml`, which `revoke` rewrites) and is ignored by git.
pub fn lock_store(root: &Path) -> Result<FileLock> {
    let dir = root.join(".nsec");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        fsio::write_atomic(&ignore, b"/.gitignore\n/lock\n/rotate-journal\n", 0o644)?;
    }
    let lock = dir.join("lock");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&lock)
        .map_err(|e| Error::io(&lock, e))?;
    FileLock::acquire(&lock)
}

/// The journal file of a store.
pub(crate) fn journal_path(root: &Path) -> PathBuf {
    root.join(".nsec").join("rotate-journal")
}

fn temp_path(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.with_file_name(format!(".{name}.nsec-rotate"))
}

/// Makes the plan.
pub fn plan(repo: &Store, selection: &Selection) -> Result<Plan> {
    let all = repo.secret_files()?;
    let mut out = Plan::default();
    let chosen: Vec<PathBuf> = match selection {
        Selection::Names(names) => names
            .iter()
            .map(|n| {
                let p = repo.secret_path(n)?;
                if !p.is_file() {
                    return Err(Error::SecretNotFound {
                        name: n.clone(),
                        path: p,
                    });
                }
                Ok(p)
            })
            .collect::<Result<_>>()?,
        Selection::Files(f) => f.clone(),
        _ => all.clone(),
    };
    let mut seen = std::collections::BTreeSet::new();
    for path in chosen {
        if !seen.insert(lock_key(&path)) {
            continue;
        }
        let bytes = crate::fsio::read_file(&path)?;
        let sops =
            SopsFile::parse(Format::from_path(&path), &bytes).map_err(|e| e.in_file(&path))?;
        let rule = repo
            .config
            .rule_for(repo.config.dir(), &path)
            .map_err(|e| e.in_file(&path))?;
        let (removed, added) = super::validate::recipient_drift(&repo.config, rule, &sops.metadata);
        let drift = !added.is_empty() || !removed.is_empty();
        let take = match selection {
            Selection::Drifted => drift,
            _ => true,
        };
        if take {
            out.files.push(PlannedFile {
                name: repo.name_of(&path).unwrap_or_default(),
                path,
                added,
                removed,
            });
        } else {
            out.unchanged += 1;
        }
    }
    Ok(out)
}

/// The store-wide change a journal belongs to, when it is more than a
/// rotation: a rerun of the same command finds it completed by recovery
/// and reports it done instead of starting again.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Job {
    /// The command: `revoke`, `host add` or `host rm`.
    pub command: String,
    /// The recipient's name in `.sops.yaml`, when it has one.
    pub name: Option<String>,
    /// The recipient added or removed.
    pub recipient: String,
    /// The secrets (names) the recipient could read (`revoke`) or that the
    /// job re-keys (`host add/rm`).
    pub secrets: Vec<String>,
}

impl Job {
    /// Whether this job is `command` for `who` (the recipient or its name).
    pub fn is(&self, command: &str, who: &str) -> bool {
        self.command == command && (self.recipient == who || self.name.as_deref() == Some(who))
    }
}

/// A new `.sops.yaml` for a journaled change, replaced after every secret.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConfigChange<'a> {
    /// The config file (a symlink is written through).
    pub path: &'a Path,
    /// Its bytes as the plan read them: if it changed since, nothing is
    /// replaced.
    pub original: &'a [u8],
    /// The bytes it must hold.
    pub new: &'a [u8],
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Journal {
    phase: String,
    /// Every file the run replaces, `.sops.yaml` last.
    files: Vec<PathBuf>,
    /// For the commit phase: SHA-256 of each file as the rotation read it,
    /// so recovery never replaces a file that was changed after a crash.
    #[serde(default)]
    originals: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    job: Option<Job>,
}

fn write_journal(root: &Path, phase: &str, files: &[PathBuf], job: Option<&Job>) -> Result<()> {
    let path = journal_path(root);
    let dir = path.parent().expect("has a parent");
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let originals = if phase == "commit" {
        files
            .iter()
            .map(|f| file_digest(f))
            .collect::<Result<_>>()?
    } else {
        Vec::new()
    };
    let j = Journal {
        phase: phase.into(),
        files: files.to_vec(),
        originals,
        job: job.cloned(),
    };
    let text = serde_json::to_vec_pretty(&j).expect("serialisable");
    fsio::write_atomic(&path, &text, 0o600)
}

/// SHA-256 of a file's bytes, in hex.
fn file_digest(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = crate::fsio::read_file(path)?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn remove_journal(root: &Path) -> Result<()> {
    let path = journal_path(root);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

fn step(counter: &mut usize) {
    crate::fault::step(counter);
}

/// What recovery found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// No journal: the last run finished.
    Clean,
    /// An interrupted prepare phase was rolled back (files untouched).
    RolledBack(usize),
    /// An interrupted commit phase was completed (files replaced).
    Completed(usize),
    /// Completed, except for these files, which were changed after the
    /// interruption: they keep that change and their old data key.
    CompletedExcept(usize, Vec<PathBuf>),
}

/// Finishes or undoes an interrupted run, as its journal says.
pub fn recover(root: &Path) -> Result<Recovery> {
    recover_job(root).map(|(r, _)| r)
}

/// [`recover`], also giving the [`Job`] the journal belonged to (a
/// `revoke` or `host add/rm`; `None` for a rotation or a clean store).
pub fn recover_job(root: &Path) -> Result<(Recovery, Option<Job>)> {
    let path = journal_path(root);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Recovery::Clean, None)),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let j: Journal = serde_json::from_slice(&text).map_err(|e| Error::Command {
        program: "rotate".into(),
        message: format!(
            "{}: unreadable journal ({e}); check the store, then remove the journal",
            path.display()
        ),
    })?;
    let result = if j.phase == "commit" {
        let mut n = 0;
        let mut changed = Vec::new();
        for (i, f) in j.files.iter().enumerate() {
            let tmp = temp_path(f);
            if !tmp.exists() {
                continue;
            }
            let _lock = FileLock::acquire(f)?;
            // A file changed since the rotation read it (an `nsec set`
            // after the crash) keeps that change: its prepared copy is
            // dropped, and the file keeps its old data key until the next
            // rotation.
            let unchanged = j
                .originals
                .get(i)
                .is_none_or(|d| file_digest(f).ok().as_ref() == Some(d));
            if unchanged {
                fsio::rename_durable(&tmp, f)?;
                n += 1;
            } else {
                std::fs::remove_file(&tmp).map_err(|e| Error::io(&tmp, e))?;
                changed.push(f.clone());
            }
        }
        if changed.is_empty() {
            Recovery::Completed(n)
        } else {
            Recovery::CompletedExcept(n, changed)
        }
    } else {
        let mut n = 0;
        for f in &j.files {
            let tmp = temp_path(f);
            if tmp.exists() {
                std::fs::remove_file(&tmp).map_err(|e| Error::io(&tmp, e))?;
                n += 1;
            }
        }
        Recovery::RolledBack(n)
    };
    // A temporary of an atomic write the crash cut short (`.nsec-tmp-*`)
    // goes too: recovery may replace no file of its directory itself.
    let mut dirs: Vec<&Path> = j.files.iter().filter_map(|f| f.parent()).collect();
    dirs.sort();
    dirs.dedup();
    for d in dirs {
        fsio::sweep_stale(d);
    }
    remove_journal(root)?;
    if let Some(dir) = path.parent() {
        fsio::sweep_stale(dir);
    }
    Ok((result, j.job))
}

/// Whether a journaled change is waiting for recovery (it failed during
/// its commit: the next store-wide run completes it).
pub fn pending(root: &Path) -> bool {
    journal_path(root).exists()
}

/// The [`Job`] of the interrupted change waiting in the journal (`None`
/// when there is none, or it is a rotation, or it cannot be read).
pub(crate) fn journal_job(root: &Path) -> Option<Job> {
    let text = std::fs::read(journal_path(root)).ok()?;
    serde_json::from_slice::<Journal>(&text).ok()?.job
}

/// Makes the new content of file `i` of a journaled change: called with
/// the file locked, it reads the file and writes the new content to the
/// temporary path given (with `fsio::write_atomic_like`), then checks it.
pub(crate) type PrepareFile<'a> = dyn FnMut(usize, &Path, &Path) -> Result<()> + 'a;

/// Replaces `files` (and then `config`, when given) as one journaled,
/// all-or-nothing change (see the module docs): `prepare` writes each
/// file's new content beside it, then everything is renamed into place.
/// An error before the commit removes what was prepared and the journal
/// (nothing changed); an error during the commit leaves the journal for
/// [`recover`] ([`pending`] says so).
pub(crate) fn run_journaled(
    root: &Path,
    files: &[PathBuf],
    config: Option<ConfigChange>,
    job: Option<&Job>,
    prepare: &mut PrepareFile,
) -> Result<()> {
    let config_path = config.map(|c| fsio::resolve_link(c.path));
    let mut all = files.to_vec();
    all.extend(config_path.clone());
    // Every file is locked before anything is read, and stays locked (old
    // inode and, once renamed, new inode) until the journal is gone.
    let mut locks = lock_all(&all)?;
    let mut counter = 0;
    write_journal(root, "prepare", &all, job)?;
    step(&mut counter);
    let mut prepare_all = || -> Result<()> {
        for (i, f) in files.iter().enumerate() {
            let tmp = temp_path(f);
            prepare(i, f, &tmp)?;
            // The temporary becomes the file at the rename: lock it now, so
            // the path stays locked through the commit.
            locks.push(FileLock::acquire(&tmp)?);
            step(&mut counter);
        }
        if let (Some(c), Some(path)) = (config, &config_path) {
            if fsio::read_small(path)? != c.original {
                return Err(Error::io(
                    path,
                    std::io::Error::other("the file changed while nsec was working on it"),
                ));
            }
            let tmp = temp_path(path);
            fsio::write_atomic_like(&tmp, c.new, path)?;
            locks.push(FileLock::acquire(&tmp)?);
            step(&mut counter);
        }
        Ok(())
    };
    if let Err(e) = prepare_all() {
        for f in &all {
            let _ = std::fs::remove_file(temp_path(f));
        }
        remove_journal(root)?;
        return Err(e);
    }
    write_journal(root, "commit", &all, job)?;
    step(&mut counter);
    // In order, so `.sops.yaml` is replaced last.
    for f in &all {
        fsio::rename_durable(&temp_path(f), f)?;
        step(&mut counter);
    }
    remove_journal(root)?;
    drop(locks);
    Ok(())
}

/// Carries out a plan: every file gets a new data key and its rule's
/// recipients. All or nothing (see the module docs).
pub fn execute(
    repo: &Store,
    plan: &Plan,
    identities: &Identities,
    callbacks: &dyn Callbacks,
) -> Result<()> {
    execute_job(repo, plan, identities, callbacks, None, None)
}

/// [`execute`] as part of `job`, replacing `.sops.yaml` after the secrets
/// when `config` is given (`revoke`). `repo` holds the config the files
/// are re-keyed for: the new one.
pub(crate) fn execute_job(
    repo: &Store,
    plan: &Plan,
    identities: &Identities,
    callbacks: &dyn Callbacks,
    config: Option<ConfigChange>,
    job: Option<&Job>,
) -> Result<()> {
    let files: Vec<PathBuf> = plan.files.iter().map(|f| f.path.clone()).collect();
    let opts = ops::store_options(Some(&repo.config));
    let total = plan.files.len();
    run_journaled(&repo.root, &files, config, job, &mut |i, path, tmp| {
        prepare_file(repo, path, tmp, identities, &opts)?;
        callbacks.progress(Progress::FilePrepared {
            done: i + 1,
            total,
            name: &plan.files[i].name,
        });
        Ok(())
    })
}

/// The key a file is locked and de-duplicated by: its canonical path, so
/// that two spellings of one file are one lock (a second lock on the same
/// file from this process would wait for ever).
fn lock_key(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Locks `files` in a fixed order (sorted canonical paths), so concurrent
/// runs that lock several files cannot deadlock.
fn lock_all(files: &[PathBuf]) -> Result<Vec<FileLock>> {
    let mut order: Vec<(PathBuf, &PathBuf)> = files.iter().map(|f| (lock_key(f), f)).collect();
    order.sort();
    order.dedup_by(|a, b| a.0 == b.0);
    // One more slot per file for the lock on its replacement.
    let mut locks = Vec::with_capacity(2 * order.len());
    for (_, f) in order {
        locks.push(FileLock::acquire(f)?);
    }
    Ok(locks)
}

/// Writes `path` with a new data key and its rule's recipients to `tmp`,
/// and checks that `tmp` decrypts to the same documents.
fn prepare_file(
    repo: &Store,
    path: &Path,
    tmp: &Path,
    identities: &Identities,
    opts: &crate::store::StoreOptions,
) -> Result<()> {
    let format = Format::from_path(path);
    let enc = ops::encrypt_options(
        Some(&repo.config),
        repo.config.dir(),
        path,
        &EncryptOverrides::default(),
    )
    .map_err(|e| e.in_file(path))?;
    // Read only now, under the lock, so a writer that came first is seen.
    let opened = ops::open_file(path, identities)?;
    // Compared as emitted plaintext, not as values: a `.nan` is not
    // equal to itself.
    let before = Zeroizing::new(
        opened
            .plaintext(format, opts)
            .map_err(|e| e.in_file(path))?,
    );
    let sealed = opened
        .rekey(&enc.key_groups, enc.shamir_threshold)
        .map_err(|e| e.in_file(path))?;
    let bytes = sealed.to_bytes(opts).map_err(|e| e.in_file(path))?;
    fsio::write_atomic_like(tmp, &bytes, path)?;
    // Verify: the new file parses and decrypts to the same documents.
    // When the identities at hand are no longer recipients (a person
    // revoking their own access), the data key cannot be recovered and
    // only the structure is checked.
    let reread =
        SopsFile::parse(format, &crate::fsio::read_file(tmp)?).map_err(|e| e.in_file(tmp))?;
    match reread.open(identities, DecryptOptions::default()) {
        Ok(o)
            if o.plaintext(format, opts)
                .map(|after| Zeroizing::new(after) == before)
                .unwrap_or(false) =>
        {
            Ok(())
        }
        Ok(_) => Err(Error::Command {
            program: "rotate".into(),
            message: format!(
                "{}: verification failed: the re-encrypted file decrypts to different content",
                path.display()
            ),
        }),
        Err(Error::NoDataKey { .. }) => Ok(()),
        Err(e) => Err(e.in_file(tmp)),
    }
}
