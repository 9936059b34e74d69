//! `nsec host add/rm`: adding and removing named recipients in
//! `.sops.yaml` by editing its text.
//!
//! The line helpers and the removal itself live in
//! [`crate::ops::config_edit`], shared with `nsec revoke` so that both
//! commands remove a recipient the same way. Adding is specific to hosts:
//! it writes the layout `nsec init` uses, a top-level `keys:` list of
//! anchored recipients (`- &desktop age1…`) and rules whose `age:` lists
//! refer to them (`- *desktop`). The result is parsed again before it is
//! returned, so a layout this code does not understand gives an error
//! instead of a broken file.

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

/// Adds `- &name recipient` to the `keys:` list (creating the list when
/// missing) and `- *name` to the `age:` list of every creation rule whose
/// `path_regex` contains `only` (every rule when `None`).
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
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let ends_with_newline = text.ends_with('\n') || text.is_empty();

    // 1. Rules first (line numbers of the keys list stay valid as it comes
    // before them in the usual layout; we recompute anyway).
    let mut inserted_rules = 0;
    let mut i = 0;
    let mut in_rules = false;
    let mut rule_matches = only.is_none();
    while i < lines.len() {
        let line = lines[i].clone();
        if indent_of(&line) == 0 && !is_blank_or_comment(&line) {
            in_rules = line.trim_end().starts_with("creation_rules:");
        }
        if in_rules {
            let t = line.trim_start();
            let t_item = t.strip_prefix("- ").map(str::trim_start).unwrap_or(t);
            if t.starts_with("- ") && indent_of(&line) <= 2 {
                // A new rule starts; decide whether it is one we change.
                rule_matches = only.is_none();
            }
            if let Some(re) = t_item.strip_prefix("path_regex:") {
                if let Some(only) = only {
                    rule_matches = re.contains(only);
                }
            }
            if let Some(rest) = t_item.strip_prefix("age:") {
                let rest = rest.trim();
                if rule_matches {
                    if !(rest.is_empty() || rest.starts_with('#')) {
                        return Err(config_error(
                            path,
                            format!("line {}: `age: {rest}` is not a list; write the recipients as a list (`- *name`) so nsec can edit it, or edit it by hand", i + 1),
                        ));
                    }
                    let age_col = line.len() - t_item.len();
                    // The list items below `age:` (same or deeper indent).
                    let mut last_item = None;
                    let mut item_indent = age_col + 2;
                    let mut j = i + 1;
                    while j < lines.len() {
                        let l = &lines[j];
                        if is_blank_or_comment(l) {
                            j += 1;
                            continue;
                        }
                        if indent_of(l) >= age_col
                            && item(l).is_some_and(|c| !c.contains(": ") && !c.ends_with(':'))
                        {
                            last_item = Some(j);
                            item_indent = indent_of(l);
                            j += 1;
                        } else {
                            break;
                        }
                    }
                    let at = last_item.map(|j| j + 1).unwrap_or(i + 1);
                    lines.insert(at, format!("{}- *{name}", " ".repeat(item_indent)));
                    inserted_rules += 1;
                    i = at;
                }
            }
        }
        i += 1;
    }
    if inserted_rules == 0 {
        return Err(config_error(
            path,
            match only {
                Some(o) => format!(
                    "no creation rule with an `age:` list has a path_regex containing `{o}`"
                ),
                None => "no creation rule with an `age:` list to add the host to".into(),
            },
        ));
    }

    // 2. The anchor in `keys:`.
    let keys_at = lines
        .iter()
        .position(|l| indent_of(l) == 0 && l.trim_end() == "keys:");
    match keys_at {
        Some(k) => {
            let mut last = None;
            let mut item_indent = 2;
            let mut j = k + 1;
            while j < lines.len() {
                let l = &lines[j];
                if is_blank_or_comment(l) {
                    j += 1;
                    continue;
                }
                if indent_of(l) == 0 && !l.starts_with("- ") {
                    break;
                }
                if item(l).is_some() {
                    last = Some(j);
                    item_indent = indent_of(l);
                }
                j += 1;
            }
            let mut at = last.map(|j| j + 1).unwrap_or(k + 1);
            // A comment right below the last key (`# hosts`) heads the
            // place where new keys go.
            while at < lines.len()
                && lines[at].trim_start().starts_with('#')
                && indent_of(&lines[at]) == item_indent
            {
                at += 1;
            }
            lines.insert(
                at,
                format!("{}- &{name} {recipient}", " ".repeat(item_indent)),
            );
        }
        None => {
            lines.insert(0, format!("keys:\n  - &{name} {recipient}"));
        }
    }
    let mut out = lines.join("\n");
    if ends_with_newline {
        out.push('\n');
    }
    let after = Config::parse(path, out.as_bytes())?;
    let added = after
        .creation_rules
        .iter()
        .filter(|r| r.recipients().any(|x| x == recipient))
        .count();
    if added != inserted_rules {
        return Err(config_error(
            path,
            "the layout of this .sops.yaml is not one nsec can edit safely; add the host by hand"
                .into(),
        ));
    }
    Ok(out)
}

/// Removes the host `name`: its anchor line in `keys:`, every `*name`
/// reference and every other place its recipient is listed (see
/// [`config_edit::remove_recipient`]). Returns the new text and the host's
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
}
