//! `nsec revoke`: remove a host or person from `.sops.yaml` and re-key,
//! with fresh data keys, every file they could read.
//!
//! The config is edited as text so that comments, anchors and layout stay:
//! the line defining the recipient (`- &laptop age1…`, `- age1… # laptop`)
//! goes, as do alias references (`- *laptop`) and the recipient inside
//! comma-separated `age:` strings.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::file::SopsFile;
use crate::format::Format;
use crate::fsio;
use crate::keys::discovery::Identities;
use crate::ops::rotate_store::{self, Plan, Progress, Selection};
use crate::repo::Repo;
use crate::rules::Config;

/// Who is revoked and what they could read.
#[derive(Clone, Debug)]
pub struct RevokePlan {
    /// The name given, or the recipient's name from the config.
    pub name: Option<String>,
    /// The recipient (public key) removed.
    pub recipient: String,
    /// The config text after removal.
    pub new_config: String,
    /// The secrets they could read (names), to change at their source.
    pub readable: Vec<String>,
    /// The rotation to run after the config is written.
    pub files: Vec<PathBuf>,
}

/// Resolves `who` (a recipient name from `.sops.yaml`, or the recipient
/// itself) and works out the new config and the files to re-key.
pub fn plan(repo: &Repo, who: &str) -> Result<RevokePlan> {
    let config = &repo.config;
    let (recipient, name) = if who.starts_with("age1") || who.starts_with("ssh-") {
        (who.to_string(), config.name_of(who).map(str::to_string))
    } else {
        let found: Vec<&String> = config
            .recipient_names
            .iter()
            .filter(|(_, n)| n.as_str() == who)
            .map(|(r, _)| r)
            .collect();
        match found.as_slice() {
            [r] => ((*r).clone(), Some(who.to_string())),
            [] => {
                return Err(Error::InvalidOption(format!(
                    "no recipient named `{who}` in {} (give the age1… key, or name it with an anchor `- &{who} age1…`)",
                    config.path.display()
                )))
            }
            _ => {
                return Err(Error::InvalidOption(format!(
                    "`{who}` names several recipients in {}; give the age1… key",
                    config.path.display()
                )))
            }
        }
    };
    let text = std::fs::read_to_string(&config.path).map_err(|e| Error::io(&config.path, e))?;
    let new_config = remove_recipient(&text, &recipient, name.as_deref());
    if new_config == text {
        return Err(Error::InvalidOption(format!(
            "{recipient} does not appear in {}",
            config.path.display()
        )));
    }
    // The new config must still load.
    Config::parse(&config.path, new_config.as_bytes())?;
    let mut readable = Vec::new();
    let mut files = Vec::new();
    for f in repo.secret_files()? {
        let bytes = std::fs::read(&f).map_err(|e| Error::io(&f, e))?;
        let Ok(sops) = SopsFile::parse(Format::from_path(&f), &bytes) else {
            continue;
        };
        if sops.metadata.age_recipients().any(|r| r == recipient) {
            readable.push(repo.name_of(&f).unwrap_or_default());
            files.push(f);
        }
    }
    Ok(RevokePlan {
        name,
        recipient,
        new_config,
        readable,
        files,
    })
}

/// Writes the new config, then re-keys every file they could read. If the
/// re-keying fails, the config is already updated: `nsec rotate` finishes
/// the job (the files then drift from their rules).
pub fn execute(
    repo: &Repo,
    plan: &RevokePlan,
    identities: &Identities,
    progress: &dyn Progress,
) -> Result<Plan> {
    fsio::write_atomic(&repo.config.path, plan.new_config.as_bytes(), 0o644)?;
    let repo = Repo::open(&repo.root)?;
    let rotation = rotate_store::plan(&repo, &Selection::Files(plan.files.clone()))?;
    rotate_store::execute(&repo, &rotation, identities, progress)?;
    Ok(rotation)
}

/// Removes a recipient from `.sops.yaml` text, keeping everything else.
pub fn remove_recipient(text: &str, recipient: &str, anchor: Option<&str>) -> String {
    let alias = anchor.map(|a| format!("*{a}"));
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim_start();
        let code = match trimmed.find(" #") {
            Some(i) => &trimmed[..i],
            None => trimmed,
        };
        let item = code.strip_prefix("- ").map(str::trim);
        // A list item that is the recipient, its anchor, or an alias of it.
        if let Some(item) = item {
            let item = item.trim_matches(|c| c == '"' || c == '\'');
            let is_it = item == recipient
                || !item.contains(": ") && item.ends_with(&format!(" {recipient}"))
                || alias.as_deref().is_some_and(|a| item == a);
            if is_it {
                continue;
            }
        }
        if body.contains(recipient) || alias.as_deref().is_some_and(|a| body.contains(a)) {
            out.push_str(&remove_from_inline(line, recipient, alias.as_deref()));
            continue;
        }
        out.push_str(line);
    }
    out
}

/// Removes the recipient (or the alias) from a comma-separated `age:` value
/// or a flow list on one line.
fn remove_from_inline(line: &str, recipient: &str, alias: Option<&str>) -> String {
    let Some(colon) = line.find(": ") else {
        return line.to_string();
    };
    let (head, value) = line.split_at(colon + 2);
    let ending = &value[value.trim_end_matches(['\n', '\r']).len()..];
    let v = value.trim_end_matches(['\n', '\r']);
    let (open, inner, close) = if v.starts_with('[') && v.ends_with(']') {
        ("[", &v[1..v.len() - 1], "]")
    } else if (v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\''))
    {
        (&v[..1], &v[1..v.len() - 1], &v[v.len() - 1..])
    } else {
        ("", v, "")
    };
    let kept: Vec<&str> = inner
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != recipient && Some(*p) != alias)
        .collect();
    format!("{head}{open}{}{close}{ending}", kept.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_anchor_aliases_and_inline() {
        let text = "keys:\n  - &laptop age1aaa # laptop key\n  - &desktop age1bbb\ncreation_rules:\n  # all\n  - path_regex: .*\n    key_groups:\n      - age:\n          - *laptop\n          - *desktop\n  - age: age1aaa,age1bbb\n";
        let out = remove_recipient(text, "age1aaa", Some("laptop"));
        assert_eq!(
            out,
            "keys:\n  - &desktop age1bbb\ncreation_rules:\n  # all\n  - path_regex: .*\n    key_groups:\n      - age:\n          - *desktop\n  - age: age1bbb\n"
        );
    }
}
