//! The secrets store: a directory with a `.sops.yaml`, whose files are the
//! secrets.
//!
//! A secret's NAME is its path inside the store without the extension:
//! `api-keys/openai` is `api-keys/openai.yaml`. The store is found from
//! `--dir`, then `$NSEC_DIR`, then by walking up from the working directory
//! to a `secrets/.sops.yaml` or a `.sops.yaml`.
//!
//! **Which files are secrets.** In a directory of its own (`secrets/`),
//! every file of the store directory is a secret (a stray plaintext file is
//! something `nsec validate` must report). When `.sops.yaml` sits at the
//! repository root (a directory with `.git` or `flake.nix`, the layout of
//! sops-nix's README), the store is only what the creation rules cover,
//! plus the files matching `nsec.paths` globs: `flake.nix` and the rest of
//! the configuration are not secrets. `nsec.paths` in a dedicated store
//! directory also narrows it to the rules and those globs.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::rules::{Config, CONFIG_NAME};

/// Extensions a secret file may have; a name without one gets `.yaml`.
pub(crate) const EXTENSIONS: [&str; 6] = ["yaml", "yml", "json", "env", "ini", "bin"];

/// An opened secrets store.
#[derive(Clone, Debug)]
pub struct Store {
    /// The store directory (holding `.sops.yaml`).
    pub root: PathBuf,
    /// Its `.sops.yaml`.
    pub config: Config,
}

/// Finds the store directory without loading it: `dir`, then `env_dir`
/// (`$NSEC_DIR`), then upward from `cwd`.
pub fn find_root(dir: Option<&Path>, env_dir: Option<&Path>, cwd: &Path) -> Result<PathBuf> {
    if let Some(d) = dir.or(env_dir) {
        return Ok(crate::rules::absolute(cwd, d));
    }
    for ancestor in cwd.ancestors() {
        for candidate in [ancestor.join("secrets"), ancestor.to_path_buf()] {
            if candidate.join(CONFIG_NAME).is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(Error::StoreNotFound {
        from: cwd.to_path_buf(),
    })
}

impl Store {
    /// Finds and opens the store (see [`find_root`]).
    pub fn discover(dir: Option<&Path>, env_dir: Option<&Path>, cwd: &Path) -> Result<Store> {
        Store::open(&find_root(dir, env_dir, cwd)?)
    }

    /// Opens the store at `root`.
    pub fn open(root: &Path) -> Result<Store> {
        let config_path = root.join(CONFIG_NAME);
        if !config_path.is_file() {
            return Err(Error::StoreNotFound {
                from: root.to_path_buf(),
            });
        }
        Ok(Store {
            root: root.to_path_buf(),
            config: Config::load(&config_path)?,
        })
    }

    /// The file of secret `name`. Names are relative paths inside the store
    /// made of plain components; `..`, absolute paths, hidden components and
    /// empty names are refused.
    pub fn secret_path(&self, name: &str) -> Result<PathBuf> {
        secret_path_in(&self.root, name)
    }

    /// The name of a secret file (its path inside the store without the
    /// `.yaml` extension).
    pub fn name_of(&self, file: &Path) -> Option<String> {
        let rel = file.strip_prefix(&self.root).ok()?;
        let s = rel.to_string_lossy();
        Some(s.strip_suffix(".yaml").unwrap_or(&s).to_string())
    }

    /// Whether the store is only what the rules and `nsec.paths` cover
    /// (see the module docs), rather than every file of its directory.
    pub fn scoped_by_rules(&self) -> bool {
        !self.config.store_paths.is_empty()
            || self.root.join(".git").exists()
            || self.root.join("flake.nix").exists()
    }

    /// Whether `file` (inside the store directory) belongs to the store.
    pub fn covers(&self, file: &Path) -> bool {
        if !self.scoped_by_rules() {
            return true;
        }
        let rel = file
            .strip_prefix(&self.root)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/");
        self.config.store_paths.iter().any(|g| glob_match(g, &rel))
            || self.config.rule_for(&self.root, file).is_ok()
    }

    /// Entries of the store that look like secrets but are not regular
    /// files (symlinks, FIFOs, sockets, devices, directories named
    /// `*.yaml` …), with what each is. Store scans skip them; `validate`
    /// reports them. In a store scoped by its rules (see the module docs),
    /// only the ones the rules or `nsec.paths` cover.
    pub fn odd_entries(&self) -> Result<Vec<(PathBuf, &'static str)>> {
        let mut odd = Vec::new();
        walk_all(&self.root, &mut Vec::new(), &mut odd)?;
        odd.retain(|(p, _)| self.covers(p));
        odd.sort();
        Ok(odd)
    }

    /// Every secret file of the store (not `.sops.yaml`, not hidden files
    /// or directories such as `.git`; see the module docs for which files
    /// count), sorted.
    pub fn secret_files(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        walk(&self.root, &mut out)?;
        out.retain(|f| self.covers(f));
        out.sort();
        Ok(out)
    }

    /// The NAMEs of the store's secrets, as `nsec list` shows them: every
    /// secret file with a store extension, without its `.yaml`. Reads no
    /// file's contents, so needs no key.
    pub fn secret_names(&self) -> Result<Vec<String>> {
        Ok(self
            .secret_files()?
            .iter()
            .filter(|f| has_store_extension(f))
            .filter_map(|f| self.name_of(f))
            .collect())
    }
}

/// Does `rel` (a `/`-separated path) match the glob? `*` matches within a
/// component, `**` across components, a trailing `/` matches a directory.
///
/// Matched directly (no regular expression is compiled: `validate` and
/// `list` ask for every file and every ignore glob), with the meaning of
/// the anchored regex the glob reads as: `**/` is `(?:.*/)?` (any number of
/// directories, none included, so `a/**/b` matches `a/b` as in git and
/// globset), `**` is `.*`, `*` is `[^/]*`, `?` is `[^/]`.
pub(crate) fn glob_match(glob: &str, rel: &str) -> bool {
    if let Some(dir) = glob.strip_suffix('/') {
        return rel.starts_with(&format!("{dir}/"));
    }
    #[derive(Clone, Copy)]
    enum Tok {
        Lit(char),
        One,
        Star,
        AnyDirs,
        Any,
    }
    let mut toks = Vec::new();
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        toks.push(match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                    Tok::AnyDirs
                } else {
                    Tok::Any
                }
            }
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        });
    }
    let text: Vec<char> = rel.chars().collect();
    let n = text.len();
    // next[j]: do the tokens after the current one match text[j..]?
    // (Filled from the last token back: at most glob × path steps.)
    let mut next = vec![false; n + 1];
    next[n] = true;
    let mut cur = vec![false; n + 1];
    for &tok in toks.iter().rev() {
        // For `**/`: is there a `/` at or after j, with no line break
        // before it (`.` in a regex), after which the rest matches?
        let mut dirs_from = false;
        for j in (0..=n).rev() {
            let c = text.get(j).copied();
            cur[j] = match tok {
                Tok::Lit(l) => c == Some(l) && next[j + 1],
                Tok::One => c.is_some_and(|c| c != '/') && next[j + 1],
                Tok::Star => next[j] || (c.is_some_and(|c| c != '/') && cur[j + 1]),
                Tok::Any => next[j] || (c.is_some_and(|c| c != '\n') && cur[j + 1]),
                Tok::AnyDirs => {
                    dirs_from = match c {
                        Some('/') => next[j + 1] || dirs_from,
                        Some('\n') | None => false,
                        Some(_) => dirs_from,
                    };
                    next[j] || dirs_from
                }
            };
        }
        std::mem::swap(&mut cur, &mut next);
    }
    next[0]
}

/// The file of secret `name` in the store at `root` (see
/// [`Store::secret_path`]).
fn secret_path_in(root: &Path, name: &str) -> Result<PathBuf> {
    let bad = |reason: &str| Error::InvalidName {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() {
        return Err(bad("the name is empty"));
    }
    let path = Path::new(name);
    if path.is_absolute() {
        return Err(bad(
            "absolute paths are not allowed; use a path inside the store",
        ));
    }
    for c in path.components() {
        match c {
            Component::Normal(part) => {
                let part = part.to_string_lossy();
                if part.starts_with('.') {
                    return Err(bad("components may not start with `.`"));
                }
            }
            Component::ParentDir => return Err(bad("`..` would leave the store")),
            _ => return Err(bad("use a plain relative path such as api-keys/openai")),
        }
    }
    if name.ends_with('/') {
        return Err(bad("the name ends with `/`"));
    }
    let file = root.join(with_extension(path, "yaml"));
    check_inside(root, &file).map_err(|reason| bad(&reason))?;
    Ok(file)
}

/// Refuses a path that leaves the store through a symlink: the deepest part
/// of `file` that exists (the file itself, or a directory on the way) must
/// resolve inside the store directory.
fn check_inside(root: &Path, file: &Path) -> std::result::Result<(), String> {
    let Ok(real_root) = root.canonicalize() else {
        return Ok(()); // no store directory yet: nothing to escape through
    };
    let mut probe = file.to_path_buf();
    loop {
        if std::fs::symlink_metadata(&probe).is_ok() {
            // A dangling symlink has no canonical path: it leads nowhere
            // nsec should write.
            let real = probe
                .canonicalize()
                .map_err(|_| format!("{} is a symlink to nothing", probe.display()))?;
            if real.starts_with(&real_root) {
                return Ok(());
            }
            return Err(format!(
                "{} leads outside the store (to {}) through a symlink",
                probe.display(),
                real.display()
            ));
        }
        if !probe.pop() || probe.as_os_str().is_empty() {
            return Ok(());
        }
    }
}

/// `path` as it is when it has a store extension, else with `.ext` added.
fn with_extension(path: &Path, ext: &str) -> PathBuf {
    if has_store_extension(path) {
        return path.to_path_buf();
    }
    let mut p = path.as_os_str().to_owned();
    p.push(".");
    p.push(ext);
    PathBuf::from(p)
}

fn has_store_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e))
}

/// The extensions tried, in order, for a NAME given without one.
pub(crate) const NAME_EXTENSIONS: [&str; 5] = ["yaml", "yml", "json", "env", "ini"];

/// What a FILE-or-NAME argument must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// An existing file.
    Existing,
    /// An existing file, or one to create (`edit`).
    MayCreate,
}

/// Resolves the FILE argument of a file command, which may also be a store
/// NAME.
///
/// An existing path is used as given. Otherwise, when a store is found
/// (`env_dir`, i.e. `$NSEC_DIR`, else upward from `cwd`), the NAME's file
/// in the store is used: the name as given when it has a store extension,
/// else the first of `.yaml`, `.yml`, `.json`, `.env`, `.ini` that exists.
/// For [`Target::MayCreate`] a path that does not exist is kept as given
/// when no store is found or it lies inside the store (sops' `edit` of a
/// new file), and otherwise becomes the NAME's `.yaml` file in the store.
///
/// A missing FILE/NAME is [`Error::NoSuchFile`], with the closest store
/// names as suggestions.
pub fn resolve(arg: &str, env_dir: Option<&Path>, cwd: &Path, target: Target) -> Result<PathBuf> {
    let given = Path::new(arg);
    // Anything that exists is used as given (`/dev/stdin` and `<(…)` are
    // not regular files, and a directory gets its own error when read).
    if given.exists() || arg == "-" {
        return Ok(given.to_path_buf());
    }
    let missing = |suggestions: Vec<String>| Error::NoSuchFile {
        path: given.to_path_buf(),
        suggestions,
    };
    let Ok(root) = find_root(None, env_dir, cwd) else {
        return match target {
            Target::MayCreate => Ok(given.to_path_buf()),
            Target::Existing => Err(missing(Vec::new())),
        };
    };
    if let Ok(default) = secret_path_in(&root, arg) {
        let candidates: Vec<PathBuf> = if has_store_extension(given) {
            vec![default.clone()]
        } else {
            NAME_EXTENSIONS
                .iter()
                .map(|e| root.join(with_extension(given, e)))
                .collect()
        };
        if let Some(found) = candidates.into_iter().find(|c| c.is_file()) {
            return Ok(found);
        }
        if target == Target::MayCreate {
            let inside = crate::rules::absolute(cwd, given).starts_with(&root);
            return Ok(if inside { given.to_path_buf() } else { default });
        }
    } else if target == Target::MayCreate {
        return Ok(given.to_path_buf());
    }
    let mut files = Vec::new();
    // A store that cannot be listed just gives no suggestions.
    let _ = walk(&root, &mut files);
    Err(missing(suggest(arg, &root, &files)))
}

/// The store names closest to `arg`: the same last component, or a small
/// edit distance (at most 3, closest first).
fn suggest(arg: &str, root: &Path, files: &[PathBuf]) -> Vec<String> {
    let wanted = name_without_extension(Path::new(arg).file_name().map(Path::new));
    let arg_name = strip_store_extension(arg.trim_start_matches("./"));
    let mut scored: Vec<(usize, String)> = files
        .iter()
        .filter(|f| has_store_extension(f))
        .filter_map(|f| {
            let rel = f.strip_prefix(root).ok()?.to_str()?;
            let name = strip_store_extension(rel).to_string();
            let last = name_without_extension(f.file_name().map(Path::new));
            let distance = edit_distance(arg_name, &name);
            let same_last = !wanted.is_empty() && last == wanted;
            let limit = (arg_name.chars().count() / 3).clamp(1, 3);
            (same_last || distance <= limit).then_some((if same_last { 0 } else { distance }, name))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(5).map(|(_, n)| n).collect()
}

fn strip_store_extension(name: &str) -> &str {
    match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some(ext) if EXTENSIONS.contains(&ext) => &name[..name.len() - ext.len() - 1],
        _ => name,
    }
}

fn name_without_extension(file: Option<&Path>) -> String {
    file.and_then(|f| f.to_str())
        .map(|f| strip_store_extension(f).to_string())
        .unwrap_or_default()
}

/// The Levenshtein distance between two strings, in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    walk_all(dir, out, &mut Vec::new())
}

/// Regular files into `out`; what is there but is not one (symlinks,
/// FIFOs, sockets, devices, directories named like secret files) into
/// `odd`, with what it is. Hidden entries are skipped; symlinks are never
/// followed.
fn walk_all(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    odd: &mut Vec<(PathBuf, &'static str)>,
) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let ty = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if ty.is_dir() {
            if has_store_extension(&path) {
                odd.push((path.clone(), "a directory"));
            }
            walk_all(&path, out, odd)?;
        } else if ty.is_file() {
            out.push(path);
        } else if let Ok(meta) = std::fs::symlink_metadata(&path) {
            odd.push((path, crate::fsio::file_kind(&meta)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_NAME), "creation_rules: []\n").unwrap();
        let r = Store::open(dir.path()).unwrap();
        (dir, r)
    }

    #[test]
    fn names_map_to_files() {
        let (_d, r) = repo();
        assert_eq!(
            r.secret_path("api-keys/openai").unwrap(),
            r.root.join("api-keys/openai.yaml")
        );
        assert_eq!(r.secret_path("x.json").unwrap(), r.root.join("x.json"));
        assert_eq!(
            r.name_of(&r.root.join("api-keys/openai.yaml")).unwrap(),
            "api-keys/openai"
        );
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("postgres", "postgres"), 0);
        assert_eq!(edit_distance("postgrse", "postgres"), 2);
        assert_eq!(edit_distance("lsit", "list"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn arguments_resolve_to_files_or_names() {
        let (d, r) = repo();
        let root = r.root.clone();
        std::fs::create_dir_all(root.join("api-keys")).unwrap();
        std::fs::write(root.join("api-keys/postgres.yaml"), "x").unwrap();
        std::fs::write(root.join("api-keys/token.json"), "x").unwrap();
        std::fs::write(root.join("plain"), "x").unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let store = Some(d.path());
        let cwd = elsewhere.path();
        let ok = |arg: &str, t: Target| resolve(arg, store, cwd, t).unwrap();
        assert_eq!(
            ok("api-keys/postgres", Target::Existing),
            root.join("api-keys/postgres.yaml")
        );
        assert_eq!(
            ok("api-keys/postgres.yaml", Target::Existing),
            root.join("api-keys/postgres.yaml")
        );
        assert_eq!(
            ok("api-keys/token", Target::Existing),
            root.join("api-keys/token.json")
        );
        // An existing path wins, as given.
        let local = elsewhere.path().join("f.yaml");
        std::fs::write(&local, "x").unwrap();
        let local_arg = local.to_str().unwrap();
        assert_eq!(ok(local_arg, Target::Existing), local);
        // New files for edit: a NAME goes into the store.
        assert_eq!(
            ok("api-keys/new", Target::MayCreate),
            root.join("api-keys/new.yaml")
        );
        let inside = root.join("new.json");
        assert_eq!(ok(inside.to_str().unwrap(), Target::MayCreate), inside);
        // Missing: did you mean …
        let err = resolve("api-keys/postgrse", store, cwd, Target::Existing).unwrap_err();
        let Error::NoSuchFile { suggestions, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!(suggestions, vec!["api-keys/postgres".to_string()]);
        let err = resolve("db/postgres", store, cwd, Target::Existing).unwrap_err();
        assert!(
            matches!(&err, Error::NoSuchFile { suggestions, .. } if suggestions == &vec!["api-keys/postgres".to_string()]),
            "{err:?}"
        );
        let err = resolve("../escape", store, cwd, Target::Existing).unwrap_err();
        assert!(matches!(err, Error::NoSuchFile { .. }), "{err:?}");
        // No store: a plain missing file, no suggestions.
        let none = tempfile::tempdir().unwrap();
        let err = resolve("x.yaml", None, none.path(), Target::Existing).unwrap_err();
        assert!(
            matches!(&err, Error::NoSuchFile { suggestions, .. } if suggestions.is_empty()),
            "{err:?}"
        );
        assert_eq!(
            resolve("x.yaml", None, none.path(), Target::MayCreate).unwrap(),
            PathBuf::from("x.yaml")
        );
    }

    #[test]
    fn names_that_escape_are_refused() {
        let (_d, r) = repo();
        for bad in [
            "../x",
            "/etc/passwd",
            "a/../../x",
            "",
            ".sops",
            "a/.git/x",
            "a/",
        ] {
            assert!(
                matches!(r.secret_path(bad), Err(Error::InvalidName { .. })),
                "{bad} was accepted"
            );
        }
    }
}
