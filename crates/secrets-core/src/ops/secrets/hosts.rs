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

use std::path::Path;

use crate::error::{Error, Result};
use crate::ops::config_edit::{self, anchored, config_error, indent_of, is_blank_or_comment, item};
use crate::rules::Config;

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
pub fn add_host(
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
            format!("a recipient named `{name}` already exists (remove it first with `nsec host rm {name}`)"),
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
pub fn remove_host(path: &Path, text: &str, name: &str) -> Result<(String, String)> {
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
