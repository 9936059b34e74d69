//! Integration with git (sops-nix declarations are in [`super::nix`]).
//!
//! - [`git_install`]: a pre-commit hook (`nsec validate --staged --keyless`),
//!   the `nsec` diff driver (textconv shows decrypted text to key holders)
//!   and merge driver, and `.gitattributes` lines; idempotent.
//! - [`textconv`] and [`merge`]: what those drivers run.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::file::{DecryptOptions, SopsFile};
use crate::format::Format;
use crate::fsio;
use crate::keys::discovery::Identities;
use crate::repo::Store;
use crate::store::{self, StoreOptions};
use crate::tree::{Item, Map, Value};

// ---------------------------------------------------------------- git

const MARK: &str = "# nsec: pre-commit";

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| Error::Command {
            program: "git".into(),
            message: format!("cannot run git: {e}"),
        })?;
    if !out.status.success() {
        return Err(Error::Command {
            program: "git".into(),
            message: format!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// The files git has staged (added, copied, modified, renamed) in the
/// repository holding `dir`, as absolute paths.
pub fn staged_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?);
    let list = git(
        dir,
        &[
            "diff",
            "--cached",
            "--name-only",
            "--diff-filter=ACMR",
            "-z",
        ],
    )?;
    Ok(list
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let p = top.join(s);
            p.canonicalize().unwrap_or(p)
        })
        .collect())
}

/// What `git_install` changed.
#[derive(Clone, Debug, Default)]
pub struct Installed {
    /// Human-readable lines, one per change; empty when all was in place.
    pub changes: Vec<String>,
}

/// Installs the pre-commit hook, the diff and merge drivers and the
/// `.gitattributes` lines for the store. `nsec` is the command the hooks run.
/// Running it again changes nothing.
pub fn git_install(repo: &Store, nsec: &str) -> Result<Installed> {
    let mut done = Installed::default();
    let root = &repo.root;
    let top = PathBuf::from(git(root, &["rev-parse", "--show-toplevel"])?);
    let store_rel = crate::ops::nix::relative_path(root, &top);
    let store_arg = if store_rel.is_empty() {
        ".".to_string()
    } else {
        store_rel.clone()
    };

    // Hook.
    // `--git-path` answers relative to the directory git ran in.
    let hooks = PathBuf::from(git(root, &["rev-parse", "--git-path", "hooks"])?);
    let hooks = if hooks.is_absolute() {
        hooks
    } else {
        root.join(hooks)
    };
    std::fs::create_dir_all(&hooks).map_err(|e| Error::io(&hooks, e))?;
    let hooks = hooks.canonicalize().unwrap_or(hooks);
    let hook = hooks.join("pre-commit");
    let block = format!(
        "{MARK}\n{nsec} validate --staged --keyless --dir \"$(git rev-parse --show-toplevel)/{store_arg}\" || exit 1\n"
    );
    let existing = std::fs::read_to_string(&hook).unwrap_or_default();
    if !existing.contains(MARK) {
        let text = if existing.is_empty() {
            format!("#!/bin/sh\n# Blocks commits of plaintext secrets (installed by `nsec git install`).\n{block}")
        } else {
            format!("{}\n{block}", existing.trim_end())
        };
        fsio::write_atomic(&hook, text.as_bytes(), 0o755)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io(&hook, e))?;
        }
        done.changes
            .push(format!("pre-commit hook: {}", hook.display()));
    }

    // Drivers, in the repository's own config.
    let settings = [
        ("diff.nsec.textconv", format!("{nsec} git textconv")),
        (
            "merge.nsec.name",
            "nsec: merge decrypted sops files".to_string(),
        ),
        ("merge.nsec.driver", format!("{nsec} git merge %O %A %B %P")),
    ];
    for (key, value) in settings {
        let current = git(root, &["config", "--local", "--get", key]).unwrap_or_default();
        if current != value {
            git(root, &["config", "--local", key, &value])?;
            done.changes.push(format!("git config {key} = {value}"));
        }
    }

    // Attributes, in the store directory so they only apply to secrets.
    let attrs = root.join(".gitattributes");
    let existing = std::fs::read_to_string(&attrs).unwrap_or_default();
    let mut wanted: Vec<String> = if repo.scoped_by_rules() {
        // The store is part of a larger repository: only the directories
        // that hold secrets (run again after adding a secret elsewhere).
        let mut lines = Vec::new();
        for f in repo.secret_files()? {
            let rel = crate::ops::nix::relative_path(&f, root);
            let line = match rel.rsplit_once('/') {
                Some((dir, _)) => format!("{dir}/** diff=nsec merge=nsec"),
                None => format!("{rel} diff=nsec merge=nsec"),
            };
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
        lines
    } else {
        crate::repo::EXTENSIONS
            .iter()
            .map(|ext| format!("*.{ext} diff=nsec merge=nsec"))
            .collect()
    };
    // .sops.yaml is plaintext: git's own diff and merge (a later line wins).
    wanted.push(".sops.yaml diff merge".into());
    let mut text = existing.clone();
    for line in wanted {
        if !existing.lines().any(|l| l.trim() == line) {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&line);
            text.push('\n');
        }
    }
    if text != existing {
        fsio::write_atomic(&attrs, text.as_bytes(), 0o644)?;
        done.changes
            .push(format!("attributes: {}", attrs.display()));
    }
    if fsio::ignore_temp_files(root)? {
        done.changes.push(format!(
            "ignored: {}* in {}",
            fsio::TEMP_PREFIX,
            root.join(".gitignore").display()
        ));
    }
    Ok(done)
}

/// The text the diff driver shows: the decrypted file for key holders; the
/// file as it is otherwise (no key, or not a sops file).
pub fn textconv(path: &Path, identities: &Identities, opts: &StoreOptions) -> Result<Vec<u8>> {
    let bytes = crate::fsio::read_file(path)?;
    let format = Format::from_path(path);
    let opened =
        SopsFile::parse(format, &bytes).and_then(|f| f.open(identities, DecryptOptions::default()));
    match opened {
        Ok(o) => o.plaintext(format, opts),
        Err(_) => Ok(bytes),
    }
}

/// The outcome of a merge.
#[derive(Debug)]
pub enum MergeOutcome {
    /// Merged and re-encrypted into the "ours" file.
    Merged,
    /// Conflicts: the key paths, and the private file with conflict markers.
    Conflict {
        /// The conflicting key paths.
        paths: Vec<String>,
        /// A 0600 file in a private 0700 directory with the markers.
        markers: PathBuf,
    },
}

/// The git merge driver: merges the decrypted trees of `base`, `ours` and
/// `theirs` three ways and writes the result, re-encrypted with ours' data
/// key (unchanged values keep their ciphertexts), to `ours`. On conflict
/// nothing is written to `ours`; a plaintext file with conflict markers is
/// left in a private temporary directory for the user.
pub fn merge(
    base: &Path,
    ours: &Path,
    theirs: &Path,
    name: &str,
    identities: &Identities,
    opts: &StoreOptions,
) -> Result<MergeOutcome> {
    let format = Format::from_path(Path::new(name));
    let open = |p: &Path| -> Result<crate::file::Opened> {
        let bytes = crate::fsio::read_file(p)?;
        SopsFile::parse(format, &bytes)
            .and_then(|f| f.open(identities, DecryptOptions::default()))
            .map_err(|e| e.in_file(name))
    };
    let o = open(base)?;
    let a = open(ours)?;
    let b = open(theirs)?;
    let mut conflicts = Vec::new();
    let n = a.documents.len().max(b.documents.len());
    let mut merged = Vec::new();
    for i in 0..n {
        let empty = Map::new();
        let od = o.documents.get(i).unwrap_or(&empty);
        let ad = a.documents.get(i).unwrap_or(&empty);
        let bd = b.documents.get(i).unwrap_or(&empty);
        merged.push(merge_maps(od, ad, bd, &mut Vec::new(), &mut conflicts));
    }
    if conflicts.is_empty() {
        let mut a = a;
        a.documents = merged;
        let sealed = a.seal()?;
        let bytes = sealed.to_bytes(opts)?;
        fsio::write_atomic(ours, &bytes, 0o644)?;
        return Ok(MergeOutcome::Merged);
    }
    // Conflict markers, in plaintext, in a private place.
    let dir = tempfile::Builder::new()
        .prefix("nsec-merge-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?
        .keep();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    let file_name = Path::new(name)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "conflict".into());
    let markers = dir.join(format!("{file_name}.conflict"));
    let mut text = String::new();
    text.push_str(&format!(
        "# nsec merge conflict in {name}: resolve, then `nsec edit {name}` and `git add`.\n# This file holds plaintext secrets: delete it when done.\n"
    ));
    for (path, ours_v, theirs_v) in &conflicts {
        let show = |v: &Option<Value>| -> String {
            match v {
                None => "(deleted)\n".into(),
                Some(v) => {
                    let mut t = store::emit_value(Format::Yaml, v, opts)
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_else(|_| "(value)".into());
                    if !t.ends_with('\n') {
                        t.push('\n');
                    }
                    t
                }
            }
        };
        text.push_str(&format!(
            "{path}:\n<<<<<<< ours\n{}=======\n{}>>>>>>> theirs\n",
            show(ours_v),
            show(theirs_v)
        ));
    }
    fsio::write_atomic(&markers, text.as_bytes(), 0o600)?;
    Ok(MergeOutcome::Conflict {
        paths: conflicts.into_iter().map(|(p, _, _)| p).collect(),
        markers,
    })
}

type Conflict = (String, Option<Value>, Option<Value>);

fn merge_maps(
    o: &Map,
    a: &Map,
    b: &Map,
    path: &mut Vec<String>,
    conflicts: &mut Vec<Conflict>,
) -> Map {
    let mut out = Map::new();
    // Ours' order first (with its comments), then keys only theirs added.
    let mut keys: Vec<&str> = Vec::new();
    for item in a.items.iter().chain(&b.items) {
        if let Item::Entry(k, _) = item {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
    }
    for item in &a.items {
        if let Item::Comment(c) = item {
            out.items.push(Item::Comment(c.clone()));
        }
    }
    for k in keys {
        let (ov, av, bv) = (o.get(k), a.get(k), b.get(k));
        path.push(k.to_string());
        let pick = if av == bv {
            av.cloned()
        } else if av == ov {
            bv.cloned()
        } else if bv == ov {
            av.cloned()
        } else if let (Some(Value::Map(am)), Some(Value::Map(bm))) = (av, bv) {
            let empty = Map::new();
            let om = match ov {
                Some(Value::Map(m)) => m,
                _ => &empty,
            };
            Some(Value::Map(merge_maps(om, am, bm, path, conflicts)))
        } else {
            conflicts.push((
                path.iter().map(|k| format!("[{k:?}]")).collect(),
                av.cloned(),
                bv.cloned(),
            ));
            av.cloned()
        };
        path.pop();
        if let Some(v) = pick {
            out.items.push(Item::Entry(k.to_string(), v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Map {
        store::parse(Format::Yaml, s.as_bytes()).unwrap().remove(0)
    }

    #[test]
    fn three_way_merge_of_trees() {
        let o = yaml("a: 1\nb: {x: 1, y: 1}\nc: 1\n");
        let a = yaml("a: 2\nb: {x: 2, y: 1}\nc: 1\n");
        let b = yaml("a: 1\nb: {x: 1, y: 3}\nd: 4\n");
        let mut conflicts = Vec::new();
        let m = merge_maps(&o, &a, &b, &mut Vec::new(), &mut conflicts);
        assert!(conflicts.is_empty());
        assert_eq!(m, yaml("a: 2\nb: {x: 2, y: 3}\nd: 4\n"));
        let b2 = yaml("a: 3\nb: {x: 1, y: 1}\nc: 1\n");
        let _ = merge_maps(&o, &a, &b2, &mut Vec::new(), &mut conflicts);
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].0, "[\"a\"]");
    }
}
