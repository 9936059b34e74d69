//! Editing `.sops.yaml` as text, shared by `nsec host add/rm` and
//! `nsec revoke`.
//!
//! The YAML parser does not keep comments, so the config is changed line by
//! line instead, and every line not concerned is kept byte for byte (line
//! endings included). Every form sops accepts for age recipients is
//! understood: `age:` as a plain or quoted string (one recipient or
//! comma-separated), a folded (`>-`, `>`) or literal (`|`) block string, a
//! plain string continued on more lines, a block list (`- age1…`,
//! `- &name age1…`, `- *name`) or a flow list (`[*a, age1…]`), flat in a
//! rule or in each of its `key_groups:`.
//!
//! Every edit is checked by parsing the result again and comparing every
//! rule's recipients with the expected ones, so a layout this code does
//! not understand gives an error instead of a broken file or a recipient
//! silently left in place (or added where it was not asked for).

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

/// A line without its line ending.
fn body(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r'])
}

/// The code of a line body and its comment (with the spaces before it):
/// `age1… # laptop` → (`age1…`, ` # laptop`).
fn split_comment(body: &str) -> (&str, &str) {
    let code = match body.find(" #") {
        Some(i) => &body[..i],
        None => body,
    };
    let code = code.trim_end();
    (code, &body[code.len()..])
}

/// The column of an `age:` key on a line (`age:`, `- age:`) and its
/// one-line value without comment (empty when the value is on the next
/// lines).
fn age_key(line: &str) -> Option<(usize, &str)> {
    let b = body(line);
    let mut rest = b.trim_start_matches(' ');
    while let Some(r) = rest.strip_prefix("- ") {
        rest = r.trim_start_matches(' ');
    }
    let col = b.len() - rest.len();
    let after = rest.strip_prefix("age:")?;
    if !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    let after = after.trim_start();
    if after.starts_with('#') {
        return Some((col, ""));
    }
    Some((col, split_comment(after).0))
}

/// How the value of an `age:` key is written.
#[derive(Debug, PartialEq)]
enum Form {
    /// A block list (`- age1…`, `- *name`): the line of its last item and
    /// that item's indentation.
    List { last: usize, indent: usize },
    /// A flow list on the key line (`[*a, age1…]`).
    Flow,
    /// A plain or quoted scalar on the key line only (`age1…,age1…`).
    Inline,
    /// A block scalar (`>-`, `>`, `|`; `block`) or a plain scalar continued
    /// on the next lines: the lines holding its comma-separated recipients
    /// (for a plain scalar the key line is the first).
    Lines { lines: Vec<usize>, block: bool },
    /// Something nsec does not edit (an alias, a tag, an empty value, …).
    Other,
}

/// Whether a list item's content is a map entry (`- age:`), not a value.
fn is_map_entry(content: &str) -> bool {
    content.contains(": ") || content.ends_with(':')
}

/// The form of the value of the `age:` key on line `i` (key column `col`,
/// one-line value `value`).
fn form_of(lines: &[&str], i: usize, col: usize, value: &str) -> Form {
    if value.is_empty() {
        let mut last: Option<usize> = None;
        let mut indent = 0;
        for (j, l) in lines.iter().enumerate().skip(i + 1) {
            if is_blank_or_comment(l) {
                continue;
            }
            let is_value = item(l).is_some_and(|c| !c.is_empty() && !is_map_entry(c));
            match last {
                None if is_value && indent_of(l) >= col => {
                    last = Some(j);
                    indent = indent_of(l);
                }
                Some(_) if is_value && indent_of(l) == indent => last = Some(j),
                _ => break,
            }
        }
        return match last {
            Some(last) => Form::List { last, indent },
            None => Form::Other,
        };
    }
    if value.starts_with('[') {
        let inner = value.trim_start_matches('[').trim_end_matches(']').trim();
        return if value.ends_with(']') && !inner.is_empty() {
            Form::Flow
        } else {
            Form::Other
        };
    }
    if value.starts_with(['>', '|']) {
        let content: Vec<usize> = lines
            .iter()
            .enumerate()
            .skip(i + 1)
            .take_while(|(_, l)| body(l).trim().is_empty() || indent_of(l) > col)
            .filter(|(_, l)| !body(l).trim().is_empty())
            .map(|(j, _)| j)
            .collect();
        return if content.is_empty() {
            Form::Other
        } else {
            Form::Lines {
                lines: content,
                block: true,
            }
        };
    }
    if value.starts_with(['{', '&', '*', '!', '"', '\'']) && !is_quoted(value) {
        return Form::Other;
    }
    let mut all = vec![i];
    for (j, l) in lines.iter().enumerate().skip(i + 1) {
        if is_blank_or_comment(l) || indent_of(l) <= col {
            break;
        }
        all.push(j);
    }
    if all.len() == 1 {
        Form::Inline
    } else if is_quoted(value) || value.starts_with(['"', '\'']) {
        Form::Other
    } else {
        Form::Lines {
            lines: all,
            block: false,
        }
    }
}

/// Whether `v` is one quoted scalar (`"…"` or `'…'`).
fn is_quoted(v: &str) -> bool {
    v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
}

/// The line ending the file uses for new lines.
fn file_ending(lines: &[String]) -> &'static str {
    match lines.iter().find(|l| l.ends_with('\n')) {
        Some(l) if l.ends_with("\r\n") => "\r\n",
        _ => "\n",
    }
}

/// Inserts a line holding `content` after line `at`, with the file's line
/// ending.
pub(crate) fn insert_after(lines: &mut Vec<String>, at: usize, content: &str) {
    let ending = file_ending(lines);
    let line = &mut lines[at];
    if body(line).len() == line.len() {
        // The last line of a file without a final newline.
        line.push_str(ending);
        lines.insert(at + 1, content.to_string());
    } else {
        lines.insert(at + 1, format!("{content}{ending}"));
    }
}

/// Replaces the body of a line, keeping its line ending.
fn set_body(line: &mut String, new_body: &str) {
    let ending = line[body(line).len()..].to_string();
    *line = format!("{new_body}{ending}");
}

/// The separator a comma-separated value uses (`a,b` or `a, b`).
fn separator_of(s: &str) -> &'static str {
    if s.contains(", ") {
        ", "
    } else {
        ","
    }
}

/// Adds `entry` (a recipient, or `*name` for the list forms) to the value
/// of the `age:` key on line `i`, in that value's own syntax. Returns
/// whether the form could take it.
fn add_at(lines: &mut Vec<String>, i: usize, recipient: &str, alias: Option<&str>) -> bool {
    let form = {
        let view: Vec<&str> = lines.iter().map(String::as_str).collect();
        let Some((col, value)) = age_key(view[i]) else {
            return false;
        };
        form_of(&view, i, col, value)
    };
    let list_entry = alias.map(|a| format!("*{a}"));
    let list_entry = list_entry.as_deref().unwrap_or(recipient);
    match form {
        Form::List { last, indent } => {
            insert_after(
                lines,
                last,
                &format!("{}- {list_entry}", " ".repeat(indent)),
            );
        }
        Form::Flow => {
            let b = body(&lines[i]).to_string();
            let (code, comment) = split_comment(&b);
            let Some(open) = code.rfind('[') else {
                return false;
            };
            let inner = &code[open + 1..code.len() - 1];
            // `[a,b]` stays without spaces; otherwise YAML's usual `, `.
            let sep = if inner.contains(',') && !inner.contains(", ") {
                ","
            } else {
                ", "
            };
            let kept = inner.trim_end();
            let new = format!(
                "{}{kept}{sep}{list_entry}{}]{comment}",
                &code[..open + 1],
                &inner[kept.len()..]
            );
            set_body(&mut lines[i], &new);
        }
        Form::Inline => {
            let b = body(&lines[i]).to_string();
            let (code, comment) = split_comment(&b);
            let Some((_, value)) = age_key(code) else {
                return false;
            };
            let head = &code[..code.len() - value.len()];
            let new_value = if is_quoted(value) {
                let inner = &value[1..value.len() - 1];
                let q = &value[..1];
                if inner.trim().is_empty() {
                    return false;
                }
                format!("{q}{inner}{}{recipient}{q}", separator_of(inner))
            } else {
                format!("{value}{}{recipient}", separator_of(value))
            };
            set_body(&mut lines[i], &format!("{head}{new_value}{comment}"));
        }
        Form::Lines { lines: ls, block } => {
            let Some(&last) = ls.last() else {
                return false;
            };
            let b = body(&lines[last]).to_string();
            let (code, comment) = if block {
                let code = b.trim_end();
                (code, &b[code.len()..])
            } else {
                split_comment(&b)
            };
            let indent = " ".repeat(indent_of(&b));
            if code.ends_with(',') {
                insert_after(lines, last, &format!("{indent}{recipient},"));
            } else {
                set_body(&mut lines[last], &format!("{code},{comment}"));
                insert_after(lines, last, &format!("{indent}{recipient}"));
            }
        }
        Form::Other => return false,
    }
    true
}

/// Each rule's key groups, each group sorted (the order of recipients
/// within a group does not matter to sops).
fn sorted_groups(config: &Config) -> Vec<Vec<Vec<String>>> {
    config
        .creation_rules
        .iter()
        .map(|r| {
            r.key_groups
                .iter()
                .map(|g| {
                    let mut g = g.clone();
                    g.sort();
                    g
                })
                .collect()
        })
        .collect()
}

/// The recipients each rule of `before` should have once `recipient` is
/// added to every non-empty key group of the `targets` rules.
fn expected_after_add(before: &Config, targets: &[bool], recipient: &str) -> Vec<Vec<Vec<String>>> {
    sorted_groups(before)
        .into_iter()
        .zip(targets)
        .map(|(groups, &target)| {
            groups
                .into_iter()
                .map(|mut g| {
                    if target && !g.is_empty() && !g.iter().any(|r| r == recipient) {
                        g.push(recipient.to_string());
                        g.sort();
                    }
                    g
                })
                .collect()
        })
        .collect()
}

/// Whether `trial` differs from `current` only by `recipient` added to
/// non-empty key groups of target rules that lacked it.
fn is_wanted_addition(current: &Config, trial: &Config, targets: &[bool], recipient: &str) -> bool {
    let (cur, new) = (sorted_groups(current), sorted_groups(trial));
    if cur.len() != new.len() || cur == new {
        return false;
    }
    cur.iter().zip(&new).zip(targets).all(|((c, n), &target)| {
        if c == n {
            return true;
        }
        target
            && c.len() == n.len()
            && c.iter().zip(n).all(|(cg, ng)| {
                if cg == ng {
                    return true;
                }
                let mut want = cg.clone();
                want.push(recipient.to_string());
                want.sort();
                !cg.is_empty() && !cg.iter().any(|r| r == recipient) && want == *ng
            })
    })
}

/// Adds `recipient` to every non-empty key group of the creation rules
/// marked in `targets` (one flag per rule of `before`, the config `text`
/// was parsed as), in the syntax of each `age:` value: a list item
/// (`- *name` when `alias` names an anchor defined above, else the
/// recipient), a flow list entry, or a comma-separated entry of a plain,
/// quoted, folded or literal string.
///
/// Each `age:` value is edited on its own and the result parsed again; an
/// edit is kept only when it adds exactly this recipient to target rules.
/// The final text must give every rule exactly the expected recipients,
/// else the result is an error naming the rules nsec could not edit.
pub(crate) fn add_recipient(
    path: &Path,
    text: &str,
    recipient: &str,
    alias: Option<&str>,
    before: &Config,
    targets: &[bool],
) -> Result<String> {
    let label = before.name_of(recipient).or(alias).unwrap_or(recipient);
    let mut current: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let mut current_config = Config::parse(path, text.as_bytes())?;
    let anchor_line = alias.and_then(|a| {
        current
            .iter()
            .position(|l| item(l).and_then(anchored) == Some((a, recipient)))
    });
    let mut k = 0;
    while let Some(i) = current
        .iter()
        .enumerate()
        .filter(|(_, l)| age_key(l).is_some())
        .map(|(i, _)| i)
        .nth(k)
    {
        k += 1;
        // An alias must come after its anchor.
        let use_alias = match anchor_line {
            Some(a) if a < i => alias,
            _ => None,
        };
        let mut trial = current.clone();
        if !add_at(&mut trial, i, recipient, use_alias) {
            continue;
        }
        let Ok(trial_config) = Config::parse(path, trial.concat().as_bytes()) else {
            continue;
        };
        if is_wanted_addition(&current_config, &trial_config, targets, recipient) {
            current = trial;
            current_config = trial_config;
        }
    }
    let expected = expected_after_add(before, targets, recipient);
    let got = sorted_groups(&current_config);
    let missing: Vec<String> = expected
        .iter()
        .zip(&got)
        .enumerate()
        .filter(|(_, (e, g))| e != g)
        .map(|(n, _)| (n + 1).to_string())
        .collect();
    if expected.len() != got.len() || !missing.is_empty() {
        return Err(config_error(
            path,
            format!(
                "cannot add `{label}` to creation rule {}: its `age:` recipients are written in a form nsec cannot edit; add it by hand",
                missing.join(", ")
            ),
        ));
    }
    Ok(current.concat())
}

/// Removes `recipient` from `.sops.yaml` text and returns the new text:
/// - list items that are the recipient (`- age1…`, `- "age1…" # laptop`),
/// - list items anchoring it (`- &laptop age1…`), and every alias of such an
///   anchor (`- *laptop`),
/// - the recipient or an alias of it inside a comma-separated value or flow
///   list on one line (`age: age1…,age1…`, `age: [*laptop, *desktop]`),
/// - the recipient inside an `age:` string written on several lines (a
///   folded `>-` or literal `|` block, or a continued plain string), with
///   its line when it was alone on it,
/// - a top-level `keys:` list left without items.
///
/// Errors, leaving the caller's file alone, when the result would not parse
/// (an alias used somewhere else), when a rule still names the recipient
/// afterwards (a form this code cannot edit), when a key group that had
/// recipients would have none left (sops cannot encrypt for it, so the user
/// has to decide what replaces the recipient), or when any rule's
/// recipients are not exactly what they were minus this one. A recipient
/// that appears nowhere gives the text back unchanged.
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

    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    // `age:` strings on several lines are edited as a whole below.
    let mut multi: Vec<(usize, Vec<usize>, bool)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some((col, value)) = age_key(l) {
            if let Form::Lines { lines: ls, block } = form_of(&lines, i, col, value) {
                multi.push((i, ls, block));
            }
        }
    }
    let in_multi = |j: usize| multi.iter().any(|(_, ls, _)| ls.contains(&j));

    let mut out: Vec<Option<String>> = Vec::with_capacity(lines.len());
    for (j, line) in lines.iter().enumerate() {
        if in_multi(j) {
            out.push(Some(line.to_string()));
            continue;
        }
        if let Some(content) = item(line) {
            let content = unquote(content);
            let drop = content == recipient
                || is_alias(content)
                || anchored(content).is_some_and(|(_, value)| value == recipient);
            if drop {
                out.push(None);
                continue;
            }
        }
        out.push(Some(remove_from_inline(line, recipient, &is_alias)));
    }
    for (key_line, ls, block) in &multi {
        remove_from_lines(&lines, &mut out, *key_line, ls, *block, recipient);
    }
    drop_emptied_keys_list(&lines, &mut out);
    let mut out: String = out.into_iter().flatten().collect();
    if !text.ends_with('\n') && out.ends_with('\n') {
        out.pop();
        if out.ends_with('\r') {
            out.pop();
        }
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
        for (bg, ag) in b.key_groups.iter().zip(&a.key_groups) {
            if !bg.is_empty() && ag.is_empty() {
                return Err(config_error(
                    path,
                    format!(
                        "removing `{label}` would leave creation rule {} without recipients",
                        a.index + 1
                    ),
                ));
            }
        }
    }
    let expected: Vec<Vec<Vec<String>>> = sorted_groups(&before)
        .into_iter()
        .map(|groups| {
            groups
                .into_iter()
                .map(|g| g.into_iter().filter(|r| r != recipient).collect())
                .collect()
        })
        .collect();
    if expected != sorted_groups(&after) {
        return Err(config_error(
            path,
            format!("removing `{label}` changed other recipients, so this layout is not one nsec can edit; edit it by hand"),
        ));
    }
    Ok(out)
}

/// Removes `recipient` from an `age:` string written on several lines
/// (`ls`, see [`Form::Lines`]): from the line holding it, or the whole line
/// when it held nothing else. When the last entry goes, the comma that led
/// to it goes too, so adding and removing a recipient gives back the
/// original bytes.
fn remove_from_lines(
    lines: &[&str],
    out: &mut [Option<String>],
    key_line: usize,
    ls: &[usize],
    block: bool,
    recipient: &str,
) {
    for (n, &j) in ls.iter().enumerate() {
        let b = body(lines[j]);
        let ending = &lines[j][b.len()..];
        let start = if j == key_line {
            match age_key(b) {
                Some((col, _)) => col + "age:".len(),
                None => continue,
            }
        } else {
            indent_of(b)
        };
        let (prefix, rest) = b.split_at(start);
        let (code, comment) = if block {
            let code = rest.trim_end();
            (code, &rest[code.len()..])
        } else {
            split_comment(rest)
        };
        let parts: Vec<&str> = code
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let kept: Vec<&str> = parts.iter().copied().filter(|p| *p != recipient).collect();
        if kept.len() == parts.len() {
            continue;
        }
        let trailing_comma = code.trim_end().ends_with(',');
        if kept.is_empty() && j != key_line {
            out[j] = None;
            let is_last = n + 1 == ls.len();
            if is_last && !trailing_comma {
                // The entry before it now ends the string.
                if let Some(prev) = ls[..n].iter().rev().find(|p| out[**p].is_some()) {
                    if let Some(line) = out[*prev].as_mut() {
                        let pb = body(line).to_string();
                        let (pc, pcomment) = if block {
                            let c = pb.trim_end();
                            (c, &pb[c.len()..])
                        } else {
                            split_comment(&pb)
                        };
                        if let Some(stripped) = pc.strip_suffix(',') {
                            set_body(line, &format!("{stripped}{pcomment}"));
                        }
                    }
                }
            }
            continue;
        }
        let lead = &rest[..rest.len() - rest.trim_start().len()];
        let comma = if trailing_comma { "," } else { "" };
        let new = if kept.is_empty() {
            format!("{}{comment}", prefix.trim_end())
        } else {
            format!(
                "{prefix}{lead}{}{comma}{comment}",
                kept.join(separator_of(code))
            )
        };
        out[j] = Some(format!("{new}{ending}"));
    }
}

/// Drops a top-level `keys:` line whose items were all removed (so that
/// `host add` on a file without `keys:` and `host rm` give back its bytes).
fn drop_emptied_keys_list(lines: &[&str], out: &mut [Option<String>]) {
    let top_level = |l: &str| !is_blank_or_comment(l) && indent_of(l) == 0 && !l.starts_with('-');
    for (k, line) in lines.iter().enumerate() {
        if body(line).trim_end() != "keys:" {
            continue;
        }
        let had_items = lines.get(k + 1).is_some_and(|l| !top_level(l));
        let next = out[k + 1..].iter().flatten().next();
        if had_items && next.is_none_or(|l| top_level(l)) {
            out[k] = None;
        }
    }
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
    fn removes_from_block_strings_and_their_commas() {
        let text = format!("creation_rules:\n  - age: >-\n      {A},\n      {B}\n  - age: |\n      {B}, {A},\n      {B}\n  - age: {B},\n      {A} # c\n");
        let out = remove_recipient(path(), &text, A).unwrap();
        assert_eq!(
            out,
            format!("creation_rules:\n  - age: >-\n      {B}\n  - age: |\n      {B},\n      {B}\n  - age: {B}\n")
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
        // A flow list over several lines: the recipient would stay.
        let text = format!("creation_rules:\n  - age: [{A},\n      {B}]\n");
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
