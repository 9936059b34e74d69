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
pub const EXTENSIONS: [&str; 6] = ["yaml", "yml", "json", "env", "ini", "bin"];

/// An opened secrets store.
#[derive(Clone, Debug)]
pub struct Repo {
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

impl Repo {
    /// Finds and opens the store (see [`find_root`]).
    pub fn discover(dir: Option<&Path>, env_dir: Option<&Path>, cwd: &Path) -> Result<Repo> {
        Repo::open(&find_root(dir, env_dir, cwd)?)
    }

    /// Opens the store at `root`.
    pub fn open(root: &Path) -> Result<Repo> {
        let config_path = root.join(CONFIG_NAME);
        if !config_path.is_file() {
            return Err(Error::StoreNotFound {
                from: root.to_path_buf(),
            });
        }
        Ok(Repo {
            root: root.to_path_buf(),
            config: Config::load(&config_path)?,
        })
    }

    /// The file of secret `name`. Names are relative paths inside the store
    /// made of plain components; `..`, absolute paths, hidden components and
    /// empty names are refused.
    pub fn secret_path(&self, name: &str) -> Result<PathBuf> {
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
        let has_ext = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e));
        let rel = if has_ext {
            path.to_path_buf()
        } else {
            let mut p = path.as_os_str().to_owned();
            p.push(".yaml");
            PathBuf::from(p)
        };
        Ok(self.root.join(rel))
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
}

/// Does `rel` (a `/`-separated path) match the glob? `*` matches within a
/// component, `**` across components, a trailing `/` matches a directory.
pub fn glob_match(glob: &str, rel: &str) -> bool {
    if let Some(dir) = glob.strip_suffix('/') {
        return rel.starts_with(&format!("{dir}/"));
    }
    let mut re = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                re.push_str(".*");
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(rel))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
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
            walk(&path, out)?;
        } else if ty.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> (tempfile::TempDir, Repo) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_NAME), "creation_rules: []\n").unwrap();
        let r = Repo::open(dir.path()).unwrap();
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
