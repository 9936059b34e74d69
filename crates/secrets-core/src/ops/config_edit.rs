//! Editing `.sops.yaml` as text, shared by `nsec host add/rm` and
//! `nsec revoke`.
//!
//! The YAML parser does not keep comments, so the config is changed line by
//! line instead, and every line not concerned is kept byte for byte (line
//! endings included). The layout understood is the one `nsec init` writes
//! (and most sops-nix repos use): a top-level `keys:` list of anchored
//! recipients (`- &desktop age1…`) and rules whose `age:` lists refer to
//! them (`- *desktop`); recipients may also be written inline, as list items
//! (`- age1… # desktop`) or inside a comma-separated `age:` string or flow
//! list on one line (`age: age1…,age1…`, `age: [*a, *b]`).
//!
//! Every edit is checked by parsing the result again, so a layout this code
//! does not understand gives an error instead of a broken file or a
//! recipient silently left in place.

use std::path::Path;

use crate::error::{Error, Result};
use crate::rules::Config;

/// The number of leading spaces of `line` (YAML indentation is spaces only).
pub(crate) fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Whether `line` carries no YAML (blank or only a comment), so list scans
/// skip it instead of treating it as the end of the list.
pub(crate) fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// The content of a list item line (`  - foo # c` → `foo`), if it is one.
pub(crate) fn item(line: &str) -> Option<&str> {
    let t = line.trim_start().strip_prefix('-')?;
    if !(t.is_empty() || t.starts_with(' ')) {
        return None;
    }
    let t = t.trim_start();
    let t = match t.find(" #") {
        Some(i) => &t[..i],
        None => t,
    };
    Some(t.trim())
}

/// `s` without one layer of YAML quotes, so `"age1…"` and `age1…` compare
/// equal.
fn unquote(s: &str) -> &str {
    s.trim_matches(['"', '\''])
}

/// The anchor name and value of a list item `&name value`, e.g.
/// `&laptop age1…` → `("laptop", "age1…")`; the value is unquoted.
pub(crate) fn anchored(item: &str) -> Option<(&str, &str)> {
    let (name, value) = item.strip_prefix('&')?.split_once(char::is_whitespace)?;
    Some((name, unquote(value.trim())))
}

/// An error about the config file as a whole (no rule index: the edits are
/// on text, not on one rule).
pub(crate) fn config_error(path: &Path, message: String) -> Error {
    Error::Config {
        path: path.into(),
        rule: None,
        problem: crate::error::ConfigProblem::Invalid,
        message,
    }
}

/// Removes `recipient` from `.sops.yaml` text and returns the new text:
/// - list items that are the recipient (`- age1…`, `- "age1…" # laptop`),
/// - list items anchoring it (`- &laptop age1…`), and every alias of such an
///   anchor (`- *laptop`),
/// - the recipient or an alias of it inside a comma-separated value or flow
///   list on one line (`age: age1…,age1…`, `age: [*laptop, *desktop]`).
///
/// Errors, leaving the caller's file alone, when the result would not parse
/// (an alias used somewhere else), when a rule still names the recipient
/// afterwards (a form this code cannot edit), or when a rule that had
/// recipients would have none left: sops cannot encrypt for such a rule, so
/// the user has to decide what replaces the recipient. A recipient that
/// appears nowhere gives the text back unchanged.
pub fn remove_recipient(path: &Path, text: &str, recipient: &str) -> Result<String> {
    let before = Config::parse(path, text.as_bytes())?;
    // Used in messages: the recipient's name when it has one.
    let label = before.name_of(recipient).unwrap_or(recipient).to_string();
    // The anchors naming the recipient, whose aliases go too.
    let aliases: Vec<String> = text
        .lines()
        .filter_map(item)
        .filter_map(anchored)
        .filter(|(_, value)| *value == recipient)
        .map(|(name, _)| format!("*{name}"))
        .collect();
    let is_alias = |s: &str| aliases.iter().any(|a| a == s);

    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if let Some(content) = item(line) {
            let content = unquote(content);
            let drop = content == recipient
                || is_alias(content)
                || anchored(content).is_some_and(|(_, value)| value == recipient);
            if drop {
                continue;
            }
        }
        out.push_str(&remove_from_inline(line, recipient, &is_alias));
    }

    let after = Config::parse(path, out.as_bytes()).map_err(|_| {
        let hint = match aliases.first() {
            Some(alias) => format!(" (is `{alias}` used outside a list?)"),
            None => String::new(),
        };
        config_error(
            path,
            format!("removing `{label}` would leave the file invalid{hint}; edit it by hand"),
        )
    })?;
    for (b, a) in before.creation_rules.iter().zip(&after.creation_rules) {
        if a.recipients().any(|r| r == recipient) {
            return Err(config_error(
                path,
                format!(
                    "rule {} still names `{label}` in a form nsec cannot edit; edit it by hand",
                    a.index + 1
                ),
            ));
        }
        if b.recipients().next().is_some() && a.recipients().next().is_none() {
            return Err(config_error(
                path,
                format!(
                    "removing `{label}` would leave creation rule {} without recipients",
                    a.index + 1
                ),
            ));
        }
    }
    Ok(out)
}

/// Removes the recipient, or an alias of it, from the one-line value of a
/// `key: value` line: a comma-separated string (`age1…,age1…`, optionally
/// quoted) or a flow list (`[*a, *b]`). A trailing comment and the line
/// ending are kept; a line where no part matches exactly comes back as it
/// was, so unrelated lines (comments, other keys) are never rewritten.
fn remove_from_inline(line: &str, recipient: &str, is_alias: &dyn Fn(&str) -> bool) -> String {
    let body = line.trim_end_matches(['\n', '\r']);
    let ending = &line[body.len()..];
    if is_blank_or_comment(body) {
        return line.to_string();
    }
    let (code, comment) = match body.find(" #") {
        Some(i) => (&body[..i], &body[i..]),
        None => (body, ""),
    };
    let Some(colon) = code.find(": ") else {
        return line.to_string();
    };
    let (head, value) = code.split_at(colon + 2);
    // Spaces between the value and a comment are kept with the comment.
    let v = value.trim_end();
    let comment = format!("{}{comment}", &value[v.len()..]);
    let (open, inner, close) = if v.starts_with('[') && v.ends_with(']') {
        ("[", &v[1..v.len() - 1], "]")
    } else if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        (&v[..1], &v[1..v.len() - 1], &v[v.len() - 1..])
    } else {
        ("", v, "")
    };
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    let kept: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|p| !p.is_empty() && unquote(p) != recipient && !is_alias(p))
        .collect();
    if kept.len() == parts.iter().filter(|p| !p.is_empty()).count() {
        return line.to_string();
    }
    // Keep the separator style of the file (`a,b` or `a, b`).
    let separator = if inner.contains(", ") { ", " } else { "," };
    format!(
        "{head}{open}{}{close}{comment}{ending}",
        kept.join(separator)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "age1s57gtcmp6dt42ctny6gcgwsf3fgjd32mjzksulrggvqfzrk65aksxmwzle";
    const B: &str = "age19rlf2ksa8h9lz4q9avw74rwz9ycwa6x0kg927n5pxg9ue2a2df9qdj0506";

    fn path() -> &'static Path {
        Path::new("/x/.sops.yaml")
    }

    #[test]
    fn removes_anchor_aliases_and_inline() {
        let text = format!("keys:\n  - &laptop {A} # laptop key\n  - &desktop {B}\ncreation_rules:\n  # all\n  - path_regex: .*\n    key_groups:\n      - age:\n          - *laptop\n          - *desktop\n  - age: {A},{B}\n");
        let out = remove_recipient(path(), &text, A).unwrap();
        assert_eq!(
            out,
            format!("keys:\n  - &desktop {B}\ncreation_rules:\n  # all\n  - path_regex: .*\n    key_groups:\n      - age:\n          - *desktop\n  - age: {B}\n")
        );
    }

    #[test]
    fn removes_inline_list_items_quoted_and_commented() {
        let text = format!("creation_rules:\n  - age:\n      - \"{A}\" # laptop\n      - {B} # desktop\n  - age:\n      - {A}\n      - '{B}'\n");
        let out = remove_recipient(path(), &text, A).unwrap();
        assert_eq!(
            out,
            format!("creation_rules:\n  - age:\n      - {B} # desktop\n  - age:\n      - '{B}'\n")
        );
    }

    #[test]
    fn removes_from_comma_strings_and_flow_lists_keeping_comments() {
        let text = format!("keys:\n  - &laptop {A}\n  - &desktop {B}\ncreation_rules:\n  - age: \"{A}, {B}\" # both\n  - age: [*laptop, *desktop]\r\n  - age: {B},{A}");
        let out = remove_recipient(path(), &text, A).unwrap();
        assert_eq!(
            out,
            format!("keys:\n  - &desktop {B}\ncreation_rules:\n  - age: \"{B}\" # both\n  - age: [*desktop]\r\n  - age: {B}")
        );
    }

    #[test]
    fn unknown_recipient_leaves_text_unchanged() {
        let text = format!("creation_rules:\n  - age: {B} # {A} was here\n");
        assert_eq!(remove_recipient(path(), &text, A).unwrap(), text);
    }

    #[test]
    fn refuses_to_leave_a_rule_without_recipients() {
        for text in [
            format!("keys:\n  - &laptop {A}\ncreation_rules:\n  - age:\n      - *laptop\n"),
            format!("creation_rules:\n  - age: {A}\n"),
            format!("creation_rules:\n  - age: {B}\n  - age: [{A}]\n"),
        ] {
            let e = remove_recipient(path(), &text, A).unwrap_err().to_string();
            assert!(e.contains("without recipients"), "{e}");
        }
    }

    #[test]
    fn refuses_forms_it_cannot_edit() {
        // A block scalar: the recipient would stay in the rule.
        let text = format!("creation_rules:\n  - age: >-\n      {A},\n      {B}\n");
        let e = remove_recipient(path(), &text, A).unwrap_err().to_string();
        assert!(e.contains("cannot edit"), "{e}");
        // An alias outside a list: the anchor goes, the alias stays.
        let text = format!(
            "keys:\n  - &laptop {A}\n  - {B}\ncreation_rules:\n  - age: {B}\n    x: {{a: *laptop}}\n"
        );
        let e = remove_recipient(path(), &text, A).unwrap_err().to_string();
        assert!(e.contains("invalid") && e.contains("*laptop"), "{e}");
    }

    #[test]
    fn helpers() {
        assert_eq!(indent_of("    - x"), 4);
        assert!(is_blank_or_comment("  # c") && is_blank_or_comment("  "));
        assert_eq!(item("  - foo # c"), Some("foo"));
        assert_eq!(item("  -"), Some(""));
        assert_eq!(item("  -foo"), None);
        assert_eq!(anchored("&laptop \"age1x\""), Some(("laptop", "age1x")));
        assert_eq!(anchored("*laptop"), None);
    }
}
