//! `nsec host add/rm`: adding and removing named recipients in
//! `.sops.yaml` by editing its text.
//!
//! The line helpers, the removal and the per-form addition live in
//! `ops::config_edit`, shared with `nsec revoke` so that both
//! commands remove a recipient the same way. A host's name is an anchor in
//! the top-level `keys:` list (`- &desktop age1…`); the rules get
//! `- *desktop` where their `age:` value is a list, and the recipient
//! itself where it is a string. Every result is parsed again and compared
//! with the expected recipients of every rule, so a layout this code does
//! not understand gives an error instead of a wrong file.
//!
//! The commands themselves ([`plan_host_add`], [`plan_host_rm`],
//! [`apply_host_plan`], which re-keys the affected files, and
//! [`host_list`]) follow the text edits.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::file::SopsFile;
use crate::format::Format;
use crate::fsio;
use crate::keys::discovery::Identities;
use crate::keys::ssh_to_age;
use crate::ops::config_edit::{self, anchored, config_error, indent_of, is_blank_or_comment, item};
use crate::ops::rotate_store;
use crate::repo::Store;
use crate::rules::Config;

use super::show::{list, SecretInfo, Status};

/// Whether `name` can be a YAML anchor here.
pub fn valid_host_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Adds host `name` with `recipient` to every creation rule whose
/// `path_regex` contains `only` (every rule when `None`) and that has age
/// recipients: to each of its key groups, so that the host alone can
/// decrypt the files.
///
/// The name is kept as an anchor in the top-level `keys:` list (`- &name
/// recipient`, the list is created when missing); sops ignores that list.
/// Each rule's `age:` value gets the recipient in its own syntax: `- *name`
/// in block and flow lists, the recipient itself (comma-separated) in plain,
/// quoted, folded (`>-`) and literal (`|`) strings, which cannot hold an
/// alias. See `config_edit::add_recipient` for the checks.
pub(crate) fn add_host(
    path: &Path,
    text: &str,
    name: &str,
    recipient: &str,
    only: Option<&str>,
) -> Result<String> {
    if !valid_host_name(name) {
        return Err(Error::InvalidOption(format!(
            "invalid host name `{name}`: use letters, digits, `-` and `_`"
        )));
    }
    let before = Config::parse(path, text.as_bytes())?;
    if before.recipient_names.values().any(|n| n == name)
        || text
            .lines()
            .filter_map(item)
            .filter_map(anchored)
            .any(|(anchor, _)| anchor == name)
    {
        return Err(config_error(
            path,
            format!("a recipient named `{name}` already exists"),
        ));
    }
    if let Some(existing) = before.name_of(recipient) {
        return Err(config_error(
            path,
            format!("recipient {recipient} is already listed as `{existing}`"),
        ));
    }
    let targets: Vec<bool> = before
        .creation_rules
        .iter()
        .map(|r| {
            r.recipients().next().is_some()
                && match only {
                    None => true,
                    Some(o) => r
                        .path_regex
                        .as_ref()
                        .is_some_and(|re| re.as_str().contains(o)),
                }
        })
        .collect();
    if !targets.contains(&true) {
        return Err(config_error(
            path,
            match only {
                Some(o) => format!(
                    "no creation rule with age recipients has a path_regex containing `{o}`"
                ),
                None => "no creation rule with age recipients to add the host to".into(),
            },
        ));
    }
    if let Some(r) = before
        .creation_rules
        .iter()
        .zip(&targets)
        .find(|(r, &t)| t && r.recipients().any(|x| x == recipient))
    {
        return Err(config_error(
            path,
            format!(
                "recipient {recipient} is already in creation rule {}",
                r.0.index + 1
            ),
        ));
    }
    let with_anchor = add_key_anchor(text, name, recipient);
    let anchored_config = Config::parse(path, with_anchor.as_bytes()).ok();
    let same_rules = anchored_config.is_some_and(|c| {
        c.creation_rules.len() == before.creation_rules.len()
            && c.creation_rules
                .iter()
                .zip(&before.creation_rules)
                .all(|(a, b)| a.key_groups == b.key_groups)
    });
    if !same_rules {
        return Err(config_error(
            path,
            "the top-level `keys:` of this .sops.yaml is not a list nsec can add `- &name key` to; add the host by hand".into(),
        ));
    }
    config_edit::add_recipient(path, &with_anchor, recipient, Some(name), &before, &targets)
}

/// `text` with `- &name recipient` added to the top-level `keys:` list:
/// after its last item (and a comment line right below it, such as the
/// template's `# hosts`), or in a new `keys:` list before the first line of
/// YAML when there is none.
fn add_key_anchor(text: &str, name: &str, recipient: &str) -> String {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let keys_at = lines
        .iter()
        .position(|l| indent_of(l) == 0 && l.trim_end() == "keys:");
    match keys_at {
        Some(k) => {
            let mut last = None;
            let mut item_indent = 2;
            for (j, l) in lines.iter().enumerate().skip(k + 1) {
                if is_blank_or_comment(l) {
                    continue;
                }
                if indent_of(l) == 0 && !l.starts_with("- ") {
                    break;
                }
                if item(l).is_some() {
                    last = Some(j);
                    item_indent = indent_of(l);
                }
            }
            let mut at = last.unwrap_or(k);
            // A comment right below the last key (`# hosts`) heads the
            // place where new keys go.
            while at + 1 < lines.len()
                && lines[at + 1].trim_start().starts_with('#')
                && indent_of(&lines[at + 1]) == item_indent
            {
                at += 1;
            }
            config_edit::insert_after(
                &mut lines,
                at,
                &format!("{}- &{name} {recipient}", " ".repeat(item_indent)),
            );
            lines.concat()
        }
        None => {
            // Before the first line of YAML, after header comments and a
            // `---` document start.
            let mut at = 0;
            while at < lines.len()
                && (is_blank_or_comment(&lines[at]) || lines[at].trim_end() == "---")
            {
                at += 1;
            }
            let ending = if text.contains("\r\n") { "\r\n" } else { "\n" };
            let block = format!("keys:{ending}  - &{name} {recipient}{ending}");
            let (head, tail) = lines.split_at(at);
            let mut out = head.concat();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push_str(ending);
            }
            out.push_str(&block);
            out.push_str(&tail.concat());
            out
        }
    }
}

/// Removes the host `name`: its anchor line in `keys:`, every `*name`
/// reference and every other place its recipient is listed (see
/// `config_edit::remove_recipient`). Returns the new text and the host's
/// recipient.
pub(crate) fn remove_host(path: &Path, text: &str, name: &str) -> Result<(String, String)> {
    let before = Config::parse(path, text.as_bytes())?;
    let recipient = before
        .recipient_names
        .iter()
        .find(|(_, n)| n.as_str() == name)
        .map(|(r, _)| r.clone())
        .ok_or_else(|| {
            config_error(
                path,
                format!(
                    "no recipient named `{name}` (names come from `&anchors` and `# comments`)"
                ),
            )
        })?;
    let out = config_edit::remove_recipient(path, text, &recipient)?;
    Ok((out, recipient))
}

/// A recipient for a host, from an `age1…` string or an SSH ed25519 public
/// key (`ssh-ed25519 AAAA… comment`, e.g. `/etc/ssh/ssh_host_ed25519_key.pub`).
pub fn host_recipient(age: Option<&str>, ssh_public: Option<&str>) -> Result<String> {
    match (age, ssh_public) {
        (Some(a), None) => Ok(crate::keys::age::AgeRecipient::parse(a.trim())?
            .as_str()
            .to_string()),
        (None, Some(text)) => {
            if text.contains("PRIVATE KEY") {
                return Err(Error::InvalidOption(
                    "that is a private key; give the host's public key (e.g. /etc/ssh/ssh_host_ed25519_key.pub or `ssh-keyscan -t ed25519 HOST`)".into(),
                ));
            }
            let line = text
                .lines()
                .map(|l| {
                    // ssh-keyscan prints `host ssh-ed25519 AAAA…`.
                    match l.find("ssh-ed25519 ") {
                        Some(i) => &l[i..],
                        None => l,
                    }
                })
                .find(|l| l.starts_with("ssh-ed25519 "))
                .ok_or_else(|| {
                    Error::InvalidOption(
                        "no ssh-ed25519 public key found (only ed25519 host keys convert to age)"
                            .into(),
                    )
                })?;
            ssh_to_age::ssh_public_to_age(line)
        }
        _ => Err(Error::InvalidOption(
            "give exactly one of an age recipient and an SSH public key".into(),
        )),
    }
}

/// A planned change of hosts: the new `.sops.yaml` and the secrets whose
/// recipients it puts out of date. Nothing is written until
/// [`apply_host_plan`].
#[derive(Clone, Debug)]
pub struct HostPlan {
    /// Whether the host is removed (`host rm`), else added.
    pub removing: bool,
    /// The host's name.
    pub name: String,
    /// The recipient added or removed.
    pub recipient: String,
    /// The `.sops.yaml` text as read.
    pub old_config: String,
    /// The `.sops.yaml` text to write.
    pub new_config: String,
    /// The store with the new `.sops.yaml` (not written yet).
    pub repo: Store,
    /// Secrets whose recipients differ from their rules under the new
    /// config (and unreadable secrets whose rule changes): what a re-key
    /// must update.
    pub out_of_date: Vec<SecretInfo>,
}

/// What applying a host plan did.
#[derive(Clone, Debug)]
pub struct HostChange {
    /// The recipient added or removed.
    pub recipient: String,
    /// The store, with the new `.sops.yaml`.
    pub repo: Store,
    /// The secret files re-keyed for their new rules.
    pub updated: Vec<PathBuf>,
    /// Secrets whose recipients still differ from their rules (not
    /// re-keyed: `nsec updatekeys -y FILE…` does it).
    pub out_of_date: Vec<SecretInfo>,
}

/// Plans adding host `name` with `recipient` to `.sops.yaml` (to the rules
/// whose path_regex contains `only`, or all), keeping its comments and
/// layout (see `add_host`).
pub fn plan_host_add(
    repo: &Store,
    cwd: &Path,
    name: &str,
    recipient: &str,
    only: Option<&str>,
) -> Result<HostPlan> {
    let path = &repo.config.path;
    let text = read_config_text(path)?;
    let new = add_host(path, &text, name, recipient, only)?;
    host_plan(repo, cwd, false, name, recipient, text, new)
}

/// `.sops.yaml` as text (a regular file of reasonable size, UTF-8).
fn read_config_text(path: &Path) -> Result<String> {
    String::from_utf8(fsio::read_small(path)?).map_err(|_| Error::Config {
        path: path.into(),
        rule: None,
        problem: crate::error::ConfigProblem::Invalid,
        message: "not UTF-8 text".into(),
    })
}

/// Plans removing host `name` from `.sops.yaml`, keeping its comments and
/// layout (see `remove_host`).
pub fn plan_host_rm(repo: &Store, cwd: &Path, name: &str) -> Result<HostPlan> {
    let path = &repo.config.path;
    let text = read_config_text(path)?;
    let (new, recipient) = remove_host(path, &text, name)?;
    host_plan(repo, cwd, true, name, &recipient, text, new)
}

fn host_plan(
    repo: &Store,
    cwd: &Path,
    removing: bool,
    name: &str,
    recipient: &str,
    old_config: String,
    new_config: String,
) -> Result<HostPlan> {
    let config = crate::rules::Config::parse(&repo.config.path, new_config.as_bytes())?;
    let new_repo = Store {
        root: repo.root.clone(),
        config,
    };
    let rule_changed = |path: &Path| {
        let groups = |r: Result<&crate::rules::CreationRule>| r.ok().map(|r| r.key_groups.clone());
        groups(repo.config.rule_for(cwd, path)) != groups(new_repo.config.rule_for(cwd, path))
    };
    let out_of_date = list(&new_repo, cwd)?
        .into_iter()
        .filter(|i| match i.status {
            Status::RecipientsOutOfDate => true,
            Status::Unreadable(_) => rule_changed(&i.path),
            _ => false,
        })
        .collect();
    Ok(HostPlan {
        removing,
        name: name.to_string(),
        recipient: recipient.to_string(),
        old_config,
        new_config,
        repo: new_repo,
        out_of_date,
    })
}

impl HostPlan {
    /// The journal's name for this change (see [`rotate_store::Job`]).
    pub fn job(&self) -> rotate_store::Job {
        rotate_store::Job {
            command: if self.removing { "host rm" } else { "host add" }.into(),
            name: Some(self.name.clone()),
            recipient: self.recipient.clone(),
            secrets: self.out_of_date.iter().map(|i| i.name.clone()).collect(),
        }
    }
}

/// Writes the planned `.sops.yaml`. With `rekey`, also re-wraps the data
/// key of every out-of-date secret for the recipients of its new rule
/// (values, MAC and `lastmodified` unchanged, like `sops updatekeys`), as
/// one journaled change (`rotate_store::run_journaled`): every new file
/// is prepared beside its original first (a secret that cannot be parsed
/// or opened with `rekey` fails the whole change), then the secrets and,
/// last, `.sops.yaml` are renamed into place. A failure before that is
/// [`Error::NothingChanged`]; one during the renames leaves the journal,
/// and the next `nsec host`, `revoke` or `rotate` completes the change
/// (the caller holds [`rotate_store::lock_store`] and has run
/// [`rotate_store::recover`]).
pub fn apply_host_plan(plan: &HostPlan, rekey: Option<&Identities>) -> Result<HostChange> {
    let config_path = plan.repo.config.path.clone();
    let Some(identities) = rekey else {
        fsio::replace_all(&[fsio::Replacement {
            path: config_path,
            original: plan.old_config.as_bytes().to_vec(),
            new: plan.new_config.as_bytes().to_vec(),
        }])?;
        return Ok(HostChange {
            recipient: plan.recipient.clone(),
            repo: plan.repo.clone(),
            updated: Vec::new(),
            out_of_date: plan.out_of_date.clone(),
        });
    };
    let files: Vec<PathBuf> = plan.out_of_date.iter().map(|i| i.path.clone()).collect();
    let root = &plan.repo.root;
    let change = rotate_store::ConfigChange {
        path: &config_path,
        original: plan.old_config.as_bytes(),
        new: plan.new_config.as_bytes(),
    };
    let done = rotate_store::run_journaled(
        root,
        &files,
        Some(change),
        Some(&plan.job()),
        &mut |_, path, tmp| {
            let new = rekeyed(&plan.repo, path, identities).map_err(|e| e.in_file(path))?;
            fsio::write_atomic_like(tmp, &new, path)
        },
    );
    if let Err(e) = done {
        if rotate_store::pending(root) {
            return Err(e);
        }
        return Err(Error::NothingChanged {
            source: Box::new(e),
        });
    }
    Ok(HostChange {
        recipient: plan.recipient.clone(),
        repo: plan.repo.clone(),
        updated: files,
        out_of_date: Vec::new(),
    })
}

/// The new bytes of a secret re-keyed for its rule in `repo`.
fn rekeyed(repo: &Store, path: &Path, identities: &Identities) -> Result<Vec<u8>> {
    let original = crate::fsio::read_file(path)?;
    let mut f = SopsFile::parse(Format::from_path(path), &original)?;
    let opts = crate::ops::encrypt_options(
        Some(&repo.config),
        repo.config.dir(),
        path,
        &crate::ops::EncryptOverrides::default(),
    )?;
    let key = f.data_key(identities)?;
    f.rewrap(&key, &opts.key_groups, opts.shamir_threshold)?;
    f.to_bytes(&repo.config.stores)
}

// ------------------------------------------------------------- host list

/// A named recipient of `.sops.yaml` and the secrets it can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostInfo {
    /// Its name (anchor or comment in `.sops.yaml`).
    pub name: String,
    /// The recipient (`age1…`).
    pub recipient: String,
    /// Secrets (by store name) whose files are encrypted for it now.
    pub can_read: Vec<String>,
    /// Secrets its rules give it whose files are not re-keyed for it yet.
    pub pending: Vec<PathBuf>,
    /// The store names of `pending`.
    pub pending_names: Vec<String>,
}

/// Every named recipient of `.sops.yaml`, sorted by name, with the secrets
/// it can read now (from each file's sops metadata: no key is needed) and
/// those its rules give it but whose files are not re-keyed for it yet.
/// Unreadable and plaintext files count for neither.
pub fn host_list(repo: &Store, cwd: &Path) -> Result<Vec<HostInfo>> {
    let mut hosts: Vec<HostInfo> = repo
        .config
        .recipient_names
        .iter()
        .map(|(recipient, name)| HostInfo {
            name: name.clone(),
            recipient: recipient.clone(),
            can_read: Vec::new(),
            pending: Vec::new(),
            pending_names: Vec::new(),
        })
        .collect();
    hosts.sort_by(|a, b| (&a.name, &a.recipient).cmp(&(&b.name, &b.recipient)));
    for secret in list(repo, cwd)? {
        if matches!(secret.status, Status::NotEncrypted | Status::Unreadable(_)) {
            continue;
        }
        let rule = repo.config.rule_for(cwd, &secret.path).ok();
        for h in &mut hosts {
            if secret.recipients.iter().any(|r| r.key == h.recipient) {
                h.can_read.push(secret.name.clone());
            } else if rule.is_some_and(|r| r.recipients().any(|x| x == h.recipient)) {
                h.pending.push(secret.path.clone());
                h.pending_names.push(secret.name.clone());
            }
        }
    }
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "age1s57gtcmp6dt42ctny6gcgwsf3fgjd32mjzksulrggvqfzrk65aksxmwzle";
    const B: &str = "age19rlf2ksa8h9lz4q9avw74rwz9ycwa6x0kg927n5pxg9ue2a2df9qdj0506";

    fn text() -> String {
        format!(
            "# top comment\nkeys:\n  # people\n  - &alice {A}\n  # hosts\ncreation_rules:\n  # api\n  - path_regex: ^api-keys/\n    key_groups:\n      - age:\n          - *alice\n  - path_regex: ^ssh-keys/\n    key_groups:\n      - age:\n          - *alice # me\n"
        )
    }

    #[test]
    fn add_then_remove_round_trips() {
        let p = Path::new("/x/.sops.yaml");
        let t = text();
        let added = add_host(p, &t, "desktop", B, None).unwrap();
        assert!(added.contains(&format!("  - &desktop {B}\n")));
        assert_eq!(added.matches("          - *desktop\n").count(), 2);
        assert!(added.contains("# top comment") && added.contains("*alice # me"));
        let c = Config::parse(p, added.as_bytes()).unwrap();
        assert!(c
            .creation_rules
            .iter()
            .all(|r| r.recipients().any(|x| x == B)));
        let (removed, r) = remove_host(p, &added, "desktop").unwrap();
        assert_eq!(r, B);
        assert_eq!(removed, t);
    }

    #[test]
    fn add_to_some_rules() {
        let p = Path::new("/x/.sops.yaml");
        let added = add_host(p, &text(), "desktop", B, Some("ssh-keys")).unwrap();
        let c = Config::parse(p, added.as_bytes()).unwrap();
        assert!(!c.creation_rules[0].recipients().any(|x| x == B));
        assert!(c.creation_rules[1].recipients().any(|x| x == B));
    }

    #[test]
    fn refuses_duplicates_and_last_recipient() {
        let p = Path::new("/x/.sops.yaml");
        assert!(add_host(p, &text(), "alice", B, None).is_err());
        assert!(add_host(p, &text(), "bob", A, None).is_err());
        assert!(remove_host(p, &text(), "alice").is_err());
        assert!(remove_host(p, &text(), "nobody").is_err());
    }

    #[test]
    fn remove_from_a_comma_separated_string() {
        let p = Path::new("/x/.sops.yaml");
        let t = format!(
            "keys:\n  - &alice {A}\n  - &desktop {B}\ncreation_rules:\n  - age: {A},{B} # both\n"
        );
        let (removed, r) = remove_host(p, &t, "desktop").unwrap();
        assert_eq!(r, B);
        assert_eq!(
            removed,
            format!("keys:\n  - &alice {A}\ncreation_rules:\n  - age: {A} # both\n")
        );
    }

    const C: &str = "age1dmdvc2mzj9mz0eyffvfcf6xr3486gryuc9ed8y3w7rsu85yag58se6dsn6";

    /// Every form sops accepts for age recipients, with what the rules
    /// hold before the host is added.
    fn forms() -> Vec<(&'static str, String)> {
        vec![
            ("plain string", format!("creation_rules:\n  - path_regex: secrets/.*\n    age: {A}\n")),
            ("comma string", format!("# c\ncreation_rules:\n  - path_regex: a/.*\n    age: {A},{C} # two\n  - age: \"{A}, {C}\"\n")),
            ("folded >-", format!("creation_rules:\n  - path_regex: secrets/.*\n    age: >-\n      {A},\n      {C}\n  # tail\n")),
            ("folded >", format!("creation_rules:\n  - age: >\n      {A},\n      {C},\n    path_regex: x\n")),
            ("literal |", format!("creation_rules:\n  - age: |\n      {A},\n      {C}\n")),
            ("block one line", format!("creation_rules:\n  - age: >-\n      {A}, {C}\n")),
            ("continued plain", format!("creation_rules:\n  - age: {A},\n      {C}\n    path_regex: x\n")),
            ("block list", format!("creation_rules:\n  - age:\n      - {A} # alice\n      - \"{C}\"\n")),
            ("indentless list", format!("creation_rules:\n- path_regex: x\n  age:\n  - {A}\n- age:\n  - {C}\n")),
            ("flow list", format!("creation_rules:\n  - age: [{A}, {C}] # both\n  - age: [{C}]\n")),
            ("anchors and aliases", format!("creation_rules:\n  - age:\n      - &alice {A}\n      - &carol {C}\n  - age:\n      - *alice\n  - age: [*carol, *alice]\n")),
            ("keys anchors", format!("keys:\n  - &alice {A} # me\n  - &carol {C}\ncreation_rules:\n  - key_groups:\n      - age:\n          - *alice\n")),
            ("key groups", format!("keys:\n  - &alice {A}\ncreation_rules:\n  - path_regex: x\n    shamir_threshold: 1\n    key_groups:\n      - age:\n          - *alice\n      - age:\n          - {C}\n        pgp: []\n  - key_groups:\n    - age: [*alice]\n    - age:\n      - {C}\n")),
            ("CRLF, no final newline", format!("# c\r\ncreation_rules:\r\n  - age: >-\r\n      {A},\r\n      {C}\r\n  - age:\r\n      - {C}")),
            ("document start", format!("---\ncreation_rules:\n  - age: {A}\n")),
        ]
    }

    #[test]
    fn every_form_adds_then_removes_to_the_same_bytes() {
        let p = Path::new("/x/.sops.yaml");
        for (form, text) in forms() {
            let before = Config::parse(p, text.as_bytes()).unwrap();
            let added = add_host(p, &text, "desktop", B, None)
                .unwrap_or_else(|e| panic!("{form}: {e}\n{text}"));
            let after = Config::parse(p, added.as_bytes())
                .unwrap_or_else(|e| panic!("{form}: {e}\n{added}"));
            assert_eq!(after.name_of(B), Some("desktop"), "{form}:\n{added}");
            for (b, a) in before.creation_rules.iter().zip(&after.creation_rules) {
                assert_eq!(b.key_groups.len(), a.key_groups.len(), "{form}");
                for (bg, ag) in b.key_groups.iter().zip(&a.key_groups) {
                    let mut want = bg.clone();
                    want.push(B.to_string());
                    assert_eq!(*ag, want, "{form}:\n{added}");
                }
            }
            // Every old line is still there, unchanged or with the new
            // recipient appended.
            let (removed, r) = remove_host(p, &added, "desktop")
                .unwrap_or_else(|e| panic!("{form}: {e}\n{added}"));
            assert_eq!(r, B);
            assert_eq!(removed, text, "{form}:\n{added}");
        }
    }

    #[test]
    fn the_folded_form_of_the_issue() {
        let p = Path::new("/x/.sops.yaml");
        let text = format!(
            "creation_rules:\n  - path_regex: secrets/.*\n    age: >-\n      {A},\n      {C}\n"
        );
        let added = add_host(p, &text, "desktop", B, None).unwrap();
        assert_eq!(
            added,
            format!("keys:\n  - &desktop {B}\ncreation_rules:\n  - path_regex: secrets/.*\n    age: >-\n      {A},\n      {C},\n      {B}\n")
        );
        // Lists get the alias, strings the recipient.
        let text = format!(
            "keys:\n  - &alice {A}\ncreation_rules:\n  - age: [*alice]\n  - age: {A} # alice\n"
        );
        let added = add_host(p, &text, "desktop", B, None).unwrap();
        assert_eq!(
            added,
            format!("keys:\n  - &alice {A}\n  - &desktop {B}\ncreation_rules:\n  - age: [*alice, *desktop]\n  - age: {A},{B} # alice\n")
        );
    }

    #[test]
    fn only_some_rules_and_groups_in_every_form() {
        let p = Path::new("/x/.sops.yaml");
        let text = format!("creation_rules:\n  - path_regex: ^api/\n    age: >-\n      {A}\n  - path_regex: ^ssh/\n    key_groups:\n      - age: [{A}]\n      - age:\n          - {C}\n");
        let added = add_host(p, &text, "desktop", B, Some("ssh")).unwrap();
        let c = Config::parse(p, added.as_bytes()).unwrap();
        assert_eq!(c.creation_rules[0].key_groups, [vec![A.to_string()]]);
        assert_eq!(
            c.creation_rules[1].key_groups,
            [
                vec![A.to_string(), B.to_string()],
                vec![C.to_string(), B.to_string()]
            ]
        );
        assert_eq!(remove_host(p, &added, "desktop").unwrap().0, text);
    }

    #[test]
    fn unknown_layouts_are_errors_not_wrong_files() {
        let p = Path::new("/x/.sops.yaml");
        for text in [
            // The whole list is an alias: editing it would change both rules.
            format!("common: &common\n  - {A}\ncreation_rules:\n  - path_regex: ^a/\n    age: *common\n  - age: *common\n"),
            // A quoted string over several lines.
            format!("creation_rules:\n  - age: \"{A},\n      {C}\"\n"),
        ] {
            Config::parse(p, text.as_bytes()).unwrap();
            let e = add_host(p, &text, "desktop", B, None).unwrap_err().to_string();
            assert!(e.contains("cannot edit") || e.contains("by hand"), "{e}");
        }
        // `--only` matching a rule without age recipients.
        let text = format!("creation_rules:\n  - path_regex: ^a/\n    pgp: ABCD\n  - age: {A}\n");
        assert!(add_host(p, &text, "desktop", B, Some("^a/")).is_err());
        // Removing the last recipient of one key group.
        let text = format!("keys:\n  - &alice {A}\n  - &carol {C}\ncreation_rules:\n  - key_groups:\n      - age: [*alice, *carol]\n      - age: [*carol]\n");
        let e = remove_host(p, &text, "carol").unwrap_err().to_string();
        assert!(e.contains("without recipients"), "{e}");
    }
}
