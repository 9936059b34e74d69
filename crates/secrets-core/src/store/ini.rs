//! The INI store, following the go-ini library (`gopkg.in/ini.v1` v1.67.0)
//! with the options sops uses (non-unique sections allowed, all else
//! default).
//!
//! The tree is `section name → map of keys`. Keys before any header live
//! in the section `DEFAULT`, which always comes first (possibly empty).
//! Sections with the same name stay separate; a key repeated inside one
//! section keeps its first position and its last value.
//!
//! Comments follow sops' tree layout: a section's comment (the comment lines
//! before its header, plus a comment after the `]`) is the first item of the
//! section's map; a key's comment (the lines before it plus an inline
//! `; …`/`# …`) is the item right **after** the key. On output both are
//! written above their section or key, as `; text`.
//!
//! Values: surrounding whitespace is trimmed; an unquoted value is cut at the
//! first `#` or `;` (the rest becomes a comment); matching `"…"` or `'…'`
//! around the whole value are removed; `` `…` `` and `"""…"""` quote a value
//! verbatim and may span lines; a trailing `\` continues the value on the
//! next line. The writer aligns `=` per section and quotes values that need
//! it, exactly as go-ini's pretty format does.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::format::Format;
use crate::tree::{Item, Map, Value};

/// The name of the section holding keys that precede any header.
const DEFAULT_SECTION: &str = "DEFAULT";

/// Characters that separate a key from its value.
const DELIMITERS: [char; 2] = ['=', ':'];

/// Parses an INI file into `section → {key → value}`; all values are strings.
pub(crate) fn parse(input: &[u8]) -> Result<Map> {
    let input = skip_bom(input);
    let text = std::str::from_utf8(input).map_err(|e| {
        let (line, column) = position(input, e.valid_up_to());
        parse_error(line, &format!("column {column}: input is not valid UTF-8"))
    })?;
    let mut p = Parser {
        lines: Lines {
            text,
            pos: 0,
            eof: false,
            line_no: 0,
        },
        comment: String::new(),
        sections: vec![Section::new(DEFAULT_SECTION.to_string())],
    };
    p.run()?;
    Ok(Map {
        items: p.sections.into_iter().map(Section::into_item).collect(),
    })
}

fn skip_bom(input: &[u8]) -> &[u8] {
    if input.starts_with(&[0xef, 0xbb, 0xbf]) {
        &input[3..]
    } else if input.starts_with(&[0xfe, 0xff]) || input.starts_with(&[0xff, 0xfe]) {
        &input[2..]
    } else {
        input
    }
}

fn position(input: &[u8], offset: usize) -> (usize, usize) {
    let before = &input[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, offset - start + 1)
}

fn parse_error(line: usize, what: &str) -> Error {
    Error::Parse {
        format: Format::Ini,
        message: format!("line {line}: {what}"),
    }
}

/// Reads lines the way Go's `bufio.Reader.ReadBytes('\n')` does: each line
/// keeps its `\n`; at the end the remainder (maybe empty) comes with `eof`.
struct Lines<'a> {
    text: &'a str,
    pos: usize,
    eof: bool,
    line_no: usize,
}

impl<'a> Lines<'a> {
    fn read(&mut self) -> &'a str {
        let rest = &self.text[self.pos..];
        self.line_no += 1;
        match rest.find('\n') {
            Some(i) => {
                self.pos += i + 1;
                &rest[..=i]
            }
            None => {
                self.pos = self.text.len();
                self.eof = true;
                rest
            }
        }
    }
}

struct Section {
    name: String,
    comment: String,
    keys: Vec<Key>,
    index: HashMap<String, usize>,
}

struct Key {
    name: String,
    value: String,
    comment: String,
}

impl Section {
    fn new(name: String) -> Section {
        Section {
            name,
            comment: String::new(),
            keys: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Adds a key, or updates the value of an existing one; returns its index.
    fn set(&mut self, name: String, value: String) -> usize {
        if let Some(&at) = self.index.get(&name) {
            self.keys[at].value = value;
            return at;
        }
        self.index.insert(name.clone(), self.keys.len());
        self.keys.push(Key {
            name,
            value,
            comment: String::new(),
        });
        self.keys.len() - 1
    }

    fn into_item(self) -> Item {
        let mut items = Vec::with_capacity(self.keys.len() + 1);
        if !self.comment.is_empty() {
            items.push(Item::Comment(strip_comment_char(&self.comment)));
        }
        for key in self.keys {
            items.push(Item::Entry(key.name, Value::Str(key.value)));
            if !key.comment.is_empty() {
                items.push(Item::Comment(strip_comment_char(&key.comment)));
            }
        }
        Item::Entry(self.name, Value::Map(Map { items }))
    }
}

/// sops' `stripCommentChar`: drops the leading run of `;` and spaces (or of
/// `#` and spaces) from a comment.
fn strip_comment_char(comment: &str) -> String {
    if comment.starts_with(';') {
        comment.trim_start_matches([';', ' ']).to_string()
    } else if comment.starts_with('#') {
        comment.trim_start_matches(['#', ' ']).to_string()
    } else {
        comment.to_string()
    }
}

struct Parser<'a> {
    lines: Lines<'a>,
    /// Comment text collected for the next key or section.
    comment: String,
    sections: Vec<Section>,
}

impl Parser<'_> {
    fn run(&mut self) -> Result<()> {
        // Per-section counter for go-ini's auto-increment keys (`- = v`).
        let mut auto_key = 1;
        while !self.lines.eof {
            let raw = self.lines.read();
            let line_no = self.lines.line_no;
            let line = raw.trim_start();
            if line.is_empty() {
                continue;
            }
            if line.starts_with(['#', ';']) {
                self.comment.push_str(line);
                continue;
            }
            if line.starts_with('[') {
                let Some(close) = line.rfind(']') else {
                    return Err(parse_error(
                        line_no,
                        "unclosed section header (missing `]`)",
                    ));
                };
                let name = &line[1..close];
                if name.is_empty() {
                    return Err(parse_error(line_no, "empty section name"));
                }
                let after = &line[close + 1..];
                if let Some(i) = after.find(['#', ';']) {
                    self.comment.push_str(&after[i..]);
                }
                let mut section = Section::new(name.to_string());
                section.comment = self.comment.trim().to_string();
                self.comment.clear();
                self.sections.push(section);
                auto_key = 1;
                continue;
            }
            let (mut name, offset) = read_key_name(line).map_err(|e| parse_error(line_no, e))?;
            if name == "-" {
                name = format!("#{auto_key}");
                auto_key += 1;
            }
            let value = self.read_value(&line[offset..], line_no)?;
            let comment = self.comment.trim().to_string();
            self.comment.clear();
            let section = self
                .sections
                .last_mut()
                .expect("the DEFAULT section always exists");
            let at = section.set(name, value);
            section.keys[at].comment = comment;
        }
        Ok(())
    }

    /// go-ini's `readValue`: `input` is the rest of the line after the
    /// delimiter, with its line break.
    fn read_value(&mut self, input: &str, line_no: usize) -> Result<String> {
        let line = input.trim_start();
        if line.is_empty() {
            return Ok(String::new());
        }
        let quote = if line.len() > 3 && line.starts_with("\"\"\"") {
            "\"\"\""
        } else if line.starts_with('`') {
            "`"
        } else {
            ""
        };
        if !quote.is_empty() {
            let body = &line[quote.len()..];
            return match body.rfind(quote) {
                Some(end) => Ok(body[..end].to_string()),
                None => self.read_multiline(body.to_string(), quote, line_no),
            };
        }
        let line = line.trim();
        if let Some(stripped) = line.strip_suffix('\\') {
            return Ok(self.read_continuation(stripped.to_string()));
        }
        let mut line = line;
        if let Some(i) = line.find(['#', ';']) {
            self.comment.push_str(&line[i..]);
            line = line[..i].trim();
        }
        if has_surrounding_quote(line, b'\'') || has_surrounding_quote(line, b'"') {
            line = &line[1..line.len() - 1];
        }
        Ok(line.to_string())
    }

    /// Reads the following lines until one contains the closing `quote`.
    fn read_multiline(&mut self, mut value: String, quote: &str, line_no: usize) -> Result<String> {
        loop {
            let next = self.lines.read();
            if let Some(end) = next.rfind(quote) {
                value.push_str(&next[..end]);
                let after = &next[end..];
                if let Some(i) = after.find(['#', ';']) {
                    self.comment.push_str(after[i..].trim());
                }
                return Ok(value);
            }
            value.push_str(next);
            if self.lines.eof {
                return Err(parse_error(
                    line_no,
                    &format!("missing closing {quote} for the value starting here"),
                ));
            }
        }
    }

    /// Appends the trimmed following lines while each ends with `\`.
    fn read_continuation(&mut self, mut value: String) -> String {
        loop {
            let next = self.lines.read().trim();
            if next.is_empty() {
                return value;
            }
            value.push_str(next);
            if !value.ends_with('\\') {
                return value;
            }
            value.pop();
        }
    }
}

/// go-ini's `readKeyName`: the key (trimmed, unquoted) and the offset just
/// past the delimiter.
fn read_key_name(line: &str) -> std::result::Result<(String, usize), &'static str> {
    let quote = if line.starts_with('"') {
        if line.len() > 6 && line.starts_with("\"\"\"") {
            "\"\"\""
        } else {
            "\""
        }
    } else if line.starts_with('`') {
        "`"
    } else {
        ""
    };
    if !quote.is_empty() {
        let start = quote.len();
        let Some(close) = line[start..].find(quote) else {
            return Err("missing closing key quote");
        };
        let close = close + start;
        let Some(delim) = line[close + start..].find(DELIMITERS) else {
            return Err("key-value delimiter (`=` or `:`) not found");
        };
        let name = line[start..close].trim().to_string();
        // go-ini refuses an empty name, quoted too ("error creating new
        // key: empty key name"), and so sops.
        if name.is_empty() {
            return Err("empty key name");
        }
        return Ok((name, close + start + delim + 1));
    }
    match line.find(DELIMITERS) {
        None => Err("key-value delimiter (`=` or `:`) not found"),
        Some(0) => Err("empty key name"),
        Some(end) => Ok((line[..end].trim().to_string(), end + 1)),
    }
}

/// Is `s` wrapped in `quote`, with no other `quote` inside?
fn has_surrounding_quote(s: &str, quote: u8) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b[0] == quote
        && b[b.len() - 1] == quote
        && b[1..].iter().position(|&c| c == quote) == Some(b.len() - 2)
}

/// A section as go-ini writes it.
struct OutSection<'a> {
    name: &'a str,
    comment: &'a str,
    keys: Vec<OutKey<'a>>,
    index: HashMap<&'a str, usize>,
}

struct OutKey<'a> {
    name: &'a str,
    value: std::borrow::Cow<'a, [u8]>,
    comment: &'a str,
}

/// Writes the tree in go-ini's pretty format, as sops does.
///
/// Every top-level entry must be a map (a section); top-level comments are
/// dropped. Inside a section, a comment that is the first item becomes the
/// section's comment and any other comment becomes the comment of the key
/// before it (the last one wins). Non-string scalars are printed as in the
/// dotenv store; nested maps and lists are an error (sops would print Go's
/// `%v` rendering of them).
pub(crate) fn emit(doc: &Map) -> Result<Vec<u8>> {
    let mut sections = Vec::new();
    for item in &doc.items {
        let Item::Entry(name, value) = item else {
            continue;
        };
        let Value::Map(map) = value else {
            return Err(emit_error(format!(
                "section values should always be maps (top-level key `{name}`)"
            )));
        };
        if name.is_empty() {
            return Err(emit_error("empty section name".into()));
        }
        let mut section = OutSection {
            name,
            comment: "",
            keys: Vec::new(),
            index: HashMap::new(),
        };
        let mut items = map.items.iter();
        if let Some(Item::Comment(text)) = map.items.first() {
            section.comment = text;
            items.next();
        }
        let mut last: Option<usize> = None;
        for item in items {
            match item {
                Item::Comment(text) => {
                    if let Some(at) = last {
                        section.keys[at].comment = text;
                    }
                }
                Item::Entry(key, value) => {
                    if key.is_empty() {
                        return Err(emit_error(format!("empty key name in section `{name}`")));
                    }
                    let Some(text) = super::dotenv::scalar_text(value) else {
                        return Err(emit_error(format!(
                            "cannot use complex value in INI file; offending key: {name}.{key}"
                        )));
                    };
                    let at = match section.index.get(key.as_str()) {
                        Some(&at) => {
                            section.keys[at].value = text;
                            at
                        }
                        None => {
                            section.index.insert(key, section.keys.len());
                            section.keys.push(OutKey {
                                name: key,
                                value: text,
                                comment: "",
                            });
                            section.keys.len() - 1
                        }
                    };
                    last = Some(at);
                }
            }
        }
        sections.push(section);
    }
    let out = write_sections(&sections);
    check_reads_back(&sections, &out)?;
    Ok(out)
}

/// go-ini's writer, which sops uses and [`write_sections`] follows, writes
/// some names and values so that they read back as something else (a key
/// quoted with backquotes that holds one, a value wrapped in quotes that the
/// reader strips, `"""` inside a `"""`-quoted value, …); sops writes such a
/// file silently. nsec reads back what it wrote and refuses the tree
/// instead, naming the first section or key that would change (never a
/// value).
fn check_reads_back(sections: &[OutSection<'_>], out: &[u8]) -> Result<()> {
    let refuse = |what: String| {
        emit_error(format!(
            "{what} cannot be written as INI that reads back the same (go-ini's quoting cannot hold it)"
        ))
    };
    let back = parse(out).map_err(|_| refuse("this tree".into()))?;
    let mut read = back
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Entry(name, Value::Map(map)) => Some((name.as_str(), map)),
            _ => None,
        })
        .peekable();
    // The reader always yields a DEFAULT section first; the tree may have
    // none.
    if sections.first().map(|s| s.name) != Some(DEFAULT_SECTION)
        && matches!(read.peek(), Some((DEFAULT_SECTION, map)) if map.items.is_empty())
    {
        read.next();
    }
    for section in sections {
        let what = || format!("section `{}`", section.name);
        let Some((name, map)) = read.next() else {
            return Err(refuse(what()));
        };
        if name != section.name {
            return Err(refuse(what()));
        }
        let mut entries = map.entries();
        for key in &section.keys {
            let same = match entries.next() {
                Some((name, Value::Str(value))) => {
                    name == key.name && value.as_bytes() == &key.value[..]
                }
                _ => false,
            };
            if !same {
                return Err(refuse(format!("key `{}` of {}", key.name, what())));
            }
        }
        if entries.next().is_some() {
            return Err(refuse(what()));
        }
    }
    match read.next() {
        Some((name, _)) => Err(refuse(format!("section `{name}`"))),
        None => Ok(()),
    }
}

fn emit_error(message: String) -> Error {
    Error::Emit {
        format: Format::Ini,
        message,
    }
}

fn write_sections(sections: &[OutSection<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    for (i, section) in sections.iter().enumerate() {
        if !section.comment.is_empty() {
            // go-ini does not trim a section comment line that lacks a
            // comment marker.
            push_comment(&mut out, section.comment, false);
        }
        if i > 0 || section.name.to_uppercase() != DEFAULT_SECTION {
            out.push(b'[');
            out.extend_from_slice(section.name.as_bytes());
            out.extend_from_slice(b"]\n");
        } else if section.keys.is_empty() {
            // An empty leading DEFAULT section is not written at all.
            continue;
        }
        let align = section
            .keys
            .iter()
            .map(|k| quoted_key_len(k.name))
            .max()
            .unwrap_or(0);
        for key in &section.keys {
            if !key.comment.is_empty() {
                push_comment(&mut out, key.comment, true);
            }
            let quote = key_quote(key.name);
            out.extend_from_slice(quote.as_bytes());
            out.extend_from_slice(key.name.as_bytes());
            out.extend_from_slice(quote.as_bytes());
            let written = key.name.len() + 2 * quote.len();
            out.resize(out.len() + (align - written), b' ');
            out.extend_from_slice(b" = ");
            let quote = value_quote(&key.value);
            out.extend_from_slice(quote.as_bytes());
            out.extend_from_slice(&key.value);
            out.extend_from_slice(quote.as_bytes());
            out.push(b'\n');
        }
        if i + 1 != sections.len() {
            out.push(b'\n');
        }
    }
    out
}

/// Writes a section's or a key's comment (its lines, each with its line
/// break) above it.
///
/// go-ini writes each line as `; text` (`trim_unmarked`: with the text
/// trimmed, as for keys), or, when the line starts with `#` or `;`, as that
/// marker, one space and the rest trimmed. sops reads a comment back with
/// the leading run of its first marker and spaces stripped. So the text
/// `# x` (read from `; # x`) is written `# x` and read back as `x`, and
/// text that starts with a tab or form feed before a marker loses one
/// marker per write and read: sops needs several rounds to settle. nsec
/// writes go-ini's lines when they read back as the comment; otherwise the
/// first line as it is behind `; ` or `# ` when that reads back (the same
/// text sops reads, in other bytes); otherwise go-ini's lines.
fn push_comment(out: &mut Vec<u8>, text: &str, trim_unmarked: bool) {
    let go_ini = go_ini_comment(text, trim_unmarked);
    let lines = if comment_read_back(&go_ini) == text {
        go_ini
    } else {
        let first = text.split('\n').next().unwrap_or_default();
        let rest = go_ini.find('\n').map_or("", |at| &go_ini[at..]);
        let semicolon = format!("; {first}{rest}");
        let hash = format!("# {first}{rest}");
        if comment_read_back(&semicolon) == text {
            semicolon
        } else if comment_read_back(&hash) == text {
            hash
        } else {
            go_ini
        }
    };
    out.extend_from_slice(lines.as_bytes());
    out.push(b'\n');
}

/// The comment lines as go-ini writes them, without the last line break.
fn go_ini_comment(text: &str, trim_unmarked: bool) -> String {
    let mut lines = String::with_capacity(text.len() + 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            lines.push('\n');
        }
        match line.as_bytes().first() {
            Some(b'#' | b';') => {
                lines.push_str(&line[..1]);
                lines.push(' ');
                lines.push_str(line[1..].trim());
            }
            _ => {
                lines.push_str("; ");
                lines.push_str(if trim_unmarked { line.trim() } else { line });
            }
        }
    }
    lines
}

/// The comment text that [`parse`] (and sops) reads from comment lines
/// that each start with `#` or `;`.
fn comment_read_back(lines: &str) -> String {
    strip_comment_char(lines.trim())
}

/// The width a key takes once the writer has quoted it.
fn quoted_key_len(name: &str) -> usize {
    name.len() + 2 * key_quote(name).len()
}

/// The quote the writer puts around a key name: go-ini's choice where that
/// reads back as the name, else the first other quote that does (go-ini
/// writes a name holding a delimiter and a backquote, one holding `"` and a
/// backquote and ending in `"`, or one starting with `#`, so that it reads
/// back as another key or as a comment; sops writes such files silently).
/// Bare comes last: a name without a delimiter that starts with neither
/// quote reads back bare whatever it holds. A name that no quote keeps (surrounding whitespace, a
/// line break, ...) is left to [`check_reads_back`], which refuses it.
fn key_quote(name: &str) -> &'static str {
    let go_ini = if name.contains('"') || name.contains(DELIMITERS) {
        "`"
    } else if name.contains('`') {
        "\"\"\""
    } else {
        ""
    };
    [go_ini, "`", "\"", "\"\"\"", ""]
        .into_iter()
        .find(|quote| {
            let line = format!("{quote}{name}{quote} = v");
            matches!(read_key_name(&line), Ok((read, _)) if read == name)
                && name != "-"
                && !line.starts_with(['#', ';', '['])
        })
        .unwrap_or(go_ini)
}

/// The quote the writer puts around a value: go-ini's choice where that
/// reads back as the value, else the first other quote that does.
///
/// go-ini writes some values so that they read back as others: `"x"` or
/// `'x'` bare (the reader strips the quotes), a value starting with `"""`
/// bare, a value ending in `\` bare (it reads as continued on the next
/// line), one with a `"` and surrounding spaces or a final `\` in double
/// quotes. sops 3.11 writes them so and reads back the other value; in its
/// `[sops]` section that made metadata unwritable (fuzz findings). Every
/// single-line value reads back in one of these quotes (`"""…"""` takes any
/// line), so this only leaves to [`check_reads_back`] multi-line values
/// with both a backquote and `"""` before their last line.
fn value_quote(value: &[u8]) -> &'static str {
    let go_ini = if value.contains(&b'\n') || value.contains(&b'`') {
        "\"\"\""
    } else if value.contains(&b'#') || value.contains(&b';') {
        "`"
    } else if trimmed_len(value) != value.len() {
        "\""
    } else {
        ""
    };
    [go_ini, "\"", "'", "`", "\"\"\""]
        .into_iter()
        .find(|quote| value_reads_back(quote, value))
        .unwrap_or(go_ini)
}

/// Does `value` in `quote` read back as itself (a value alone, no comment)?
fn value_reads_back(quote: &str, value: &[u8]) -> bool {
    let Ok(value) = std::str::from_utf8(value) else {
        // Not UTF-8: the file does not read back whatever the quote.
        return false;
    };
    let text = format!("{quote}{value}{quote}\n");
    let mut p = Parser {
        lines: Lines {
            text: &text,
            pos: 0,
            eof: false,
            line_no: 0,
        },
        comment: String::new(),
        sections: Vec::new(),
    };
    let first = p.lines.read();
    matches!(p.read_value(first, 1), Ok(read) if read == value)
        && p.comment.is_empty()
        && p.lines.pos == text.len()
}

/// The length of a value without its surrounding whitespace (Unicode
/// whitespace for UTF-8 text, ASCII whitespace for raw bytes).
fn trimmed_len(value: &[u8]) -> usize {
    match std::str::from_utf8(value) {
        Ok(s) => s.trim().len(),
        Err(_) => value.trim_ascii().len(),
    }
}

#[cfg(test)]
mod fuzz_regressions {
    use super::*;

    /// Fuzz finding (`tests/data/fuzz/ini-backquote-key-reads-back-as-another`):
    /// the key ``us`er"`` was written as ``` `us`er"` ``` (go-ini's quoting),
    /// which reads back as the key `us`. nsec refused to write it; since
    /// another quote is taken where go-ini's does not read back, it is
    /// written bare, which reads back. What no quote keeps is refused.
    #[test]
    fn unquotable_names_and_values_are_refused() {
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/ini-backquote-key-reads-back-as-another"
        ))
        .unwrap();
        let doc = parse(&input).unwrap();
        let out = emit(&doc).unwrap();
        assert!(String::from_utf8_lossy(&out).contains("\nus`er\" = "));
        assert_eq!(parse(&out).unwrap(), doc);
        let section = |key: &str, value: &str| Map {
            items: vec![Item::Entry(
                "s".into(),
                Value::Map(Map {
                    items: vec![Item::Entry(key.into(), Value::Str(value.into()))],
                }),
            )],
        };
        // (Names and values that go-ini's quotes do not keep but another
        // quote does are now written in that one: see
        // `every_single_line_value_reads_back`.)
        for (key, value) in [(" k", "v"), ("k", "a`\"\"\"\nb")] {
            let err = emit(&section(key, value)).unwrap_err().to_string();
            assert!(err.contains("cannot be written as INI"), "{err}");
            assert!(!err.contains(value), "{err}");
        }
        // What reads back is written as before.
        for (key, value) in [("a=b", "v # c"), ("k`", "multi\nline"), ("k", " padded ")] {
            let out = emit(&section(key, value)).unwrap();
            let back = parse(&out).unwrap();
            let Some(Value::Map(s)) = back.get("s") else {
                panic!()
            };
            assert_eq!(s.get(key), Some(&Value::Str(value.into())));
        }
    }

    /// Fuzz finding (`tests/data/fuzz/ini-comment-loses-a-marker-each-round`):
    /// the comment `#\f\f#\f\f\fN…` was read as `\f\f#\f\f\fN…`, written
    /// (as go-ini does) `; #\f\f\fN…`, read as `#\f\f\fN…`, written `# N…`,
    /// read as `N…`: a marker lost per round, the tree never settled after
    /// one (sops 3.11 writes exactly these bytes, round after round). nsec
    /// now writes a comment so that it reads back as itself when go-ini's
    /// form would not.
    #[test]
    fn comments_read_back_as_themselves() {
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/ini-comment-loses-a-marker-each-round"
        ))
        .unwrap();
        let first = parse(&input).unwrap();
        let once = emit(&first).unwrap();
        let second = parse(&once).unwrap();
        assert_eq!(second, first);
        assert_eq!(emit(&second).unwrap(), once);

        // Written as sops writes them (sops 3.11 with these files) where
        // that reads back; the other way where it does not. Either way the
        // output is a fixed point.
        for (input, written) in [
            // Plain comments: go-ini's lines.
            ("[s]\n;   plain  \nk = v\n", "[s]\n; plain\nk = v\n"),
            ("[s]\nk = v # inline\n", "[s]\n; inline\nk = v\n"),
            ("; a\n;  b\n[s]\nk = v\n", "; a\n; b\n[s]\nk = v\n"),
            // The text `# x`: sops writes `# x`, which reads back as `x`.
            ("[s]\n; # x\nk = v\n", "[s]\n; # x\nk = v\n"),
            ("[s]\n# ;y\nk = v\n", "[s]\n# ;y\nk = v\n"),
            ("; # x\n[s]\nk = v\n", "; # x\n[s]\nk = v\n"),
            // The text `\t#x`: sops writes `; #x`, then `# x`, then `; x`.
            ("[s]\nk = v ;\t#x\n", "[s]\n; \t#x\nk = v\n"),
        ] {
            let tree = parse(input.as_bytes()).unwrap();
            let out = emit(&tree).unwrap();
            assert_eq!(String::from_utf8_lossy(&out), written, "{input:?}");
            let back = parse(&out).unwrap();
            assert_eq!(emit(&back).unwrap(), out, "{input:?}");
        }
    }

    /// Fuzz finding (`tests/data/fuzz/metadata-ini-quoted-empty-key`, first
    /// byte the target's store selector): `"":` in the `[sops]` section was
    /// read as a key with an empty name, which the writer then refused.
    /// go-ini (sops 3.11) refuses a quoted empty key name when reading
    /// ("error creating new key: empty key name"), and now nsec does too.
    #[test]
    fn quoted_empty_key_names_are_refused() {
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/metadata-ini-quoted-empty-key"
        ))
        .unwrap();
        let err = parse(&input[1..]).unwrap_err().to_string();
        assert!(err.contains("line 6: empty key name"), "{err}");
        for line in [
            "\"\" = x",
            "\" \" = x",
            "`` = x",
            "\"\"\"  \"\"\" = x",
            "= x",
        ] {
            let err = parse(format!("[s]\n{line}\n").as_bytes()).unwrap_err();
            assert!(err.to_string().contains("empty key name"), "{line}: {err}");
        }
    }

    /// Fuzz finding (`tests/data/fuzz/metadata-ini-value-ends-in-backslash`,
    /// first byte the target's store selector): `c=\;` in `[sops]` reads as
    /// the value `\`, which go-ini writes bare, `c = \`, and which then reads
    /// as continued on the next line; the writer refused the file. Such a
    /// value is now written in double quotes.
    #[test]
    fn values_ending_in_a_backslash_are_quoted() {
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/metadata-ini-value-ends-in-backslash"
        ))
        .unwrap();
        let doc = parse(&input[1..]).unwrap();
        let out = emit(&doc).unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        assert!(text.contains("= \"\\\"\n"), "{text}");
        // (The empty `;` comment is not written, as go-ini does.)
        let back = parse(&out).unwrap();
        let Some(Value::Map(sops)) = back.get("sops") else {
            panic!("{back:?}")
        };
        assert_eq!(sops.get("c"), Some(&Value::Str("\\".into())));
        assert_eq!(emit(&back).unwrap(), out);
    }

    /// The class of fuzz finding 15 (`tests/data/fuzz/metadata-ini-value-ends-in-backslash`
    /// and its original input, `metadata-ini-value-ends-in-backslash-original`):
    /// go-ini writes some names and values so that they read back as
    /// others (a value `"x"` or `'x'` bare, `"""x` bare, `a"b\` in double
    /// quotes, a name holding a delimiter and a backquote in backquotes, a
    /// name starting with `#`). nsec writes go-ini's form where it reads
    /// back, else another quote that does, and real sops 3.11 reads that
    /// as the same name and value.
    #[test]
    fn names_and_values_are_quoted_so_they_read_back() {
        let cases: &[(&str, &str, &str)] = &[
            // go-ini's own form, kept where it reads back.
            ("k", "plain", "k = plain"),
            ("k", " padded ", "k = \" padded \""),
            ("k", "a # b", "k = `a # b`"),
            ("k", "a`b", "k = \"\"\"a`b\"\"\""),
            ("a=b", "v", "`a=b` = v"),
            ("a`b", "v", "\"\"\"a`b\"\"\" = v"),
            // Another quote where go-ini's does not read back.
            ("k", "\\", "k = \"\\\""),
            ("k", "\"quoted\"", "k = '\"quoted\"'"),
            ("k", "'q'", "k = \"'q'\""),
            ("k", "\"\"\"x", "k = '\"\"\"x'"),
            ("k", "a\"b\\", "k = 'a\"b\\'"),
            ("k", " a\"b ", "k = ' a\"b '"),
            ("k", "\"", "k = \""),
            ("k", "a\"'b\\", "k = `a\"'b\\`"),
            ("k", "a\"'#b\\", "k = `a\"'#b\\`"),
            ("k", "x\"\"\"\"\"y", "k = x\"\"\"\"\"y"),
            ("k", "a\"'`b #c; \"", "k = \"\"\"a\"'`b #c; \"\"\"\""),
            ("k", "x\"\"\"\ny", "k = `x\"\"\"\ny`"),
            ("a`b=c", "v", "\"a`b=c\" = v"),
            ("#x", "v", "`#x` = v"),
            (";x", "v", "`;x` = v"),
            ("[x", "v", "`[x` = v"),
            ("c`\"", "v", "c`\" = v"),
        ];
        let mut items = Vec::new();
        for (key, value, line) in cases {
            let one = Map {
                items: vec![Item::Entry(
                    "s".into(),
                    Value::Map(Map {
                        items: vec![Item::Entry((*key).into(), Value::Str((*value).into()))],
                    }),
                )],
            };
            let out = emit(&one).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out),
                format!("[s]\n{line}\n"),
                "{key:?} = {value:?}"
            );
            items.push(Item::Entry(
                format!("{key}{}", items.len()),
                Value::Str((*value).into()),
            ));
        }
        let doc = Map {
            items: vec![Item::Entry("s".into(), Value::Map(Map { items }))],
        };
        let out = emit(&doc).unwrap();
        assert_eq!(parse(&out).unwrap().get("s"), doc.get("s"));
        // Real sops reads every name and value as written.
        let json = super::super::flatten::test_support::sops_reads("ini", &out);
        let read = super::super::json::parse(&json).unwrap();
        let Some(Value::Map(read)) = read.get("s") else {
            panic!("{}", String::from_utf8_lossy(&json))
        };
        let Some(Value::Map(written)) = doc.get("s") else {
            unreachable!()
        };
        assert_eq!(
            read.entries().collect::<Vec<_>>(),
            written.entries().collect::<Vec<_>>()
        );
    }

    /// Every single-line value over a small alphabet of the characters that
    /// matter to the reader (quotes, comment markers, `\\`, spaces) is
    /// written so that it reads back; of the multi-line values only those
    /// with both a backquote and `"""` before their last line are refused.
    #[test]
    fn every_single_line_value_reads_back() {
        let alphabet = ['a', ' ', '"', '\'', '`', '#', ';', '\\', '\n'];
        let mut values = vec![String::new()];
        let mut at = 0;
        while at < values.len() {
            if values[at].chars().count() < 4 {
                for c in alphabet {
                    values.push(format!("{}{c}", values[at]));
                }
            }
            at += 1;
        }
        for value in values {
            let doc = Map {
                items: vec![Item::Entry(
                    "s".into(),
                    Value::Map(Map {
                        items: vec![Item::Entry("k".into(), Value::Str(value.clone()))],
                    }),
                )],
            };
            let lines: Vec<&str> = value.split('\n').collect();
            let before_last = &lines[..lines.len() - 1];
            let unwritable = before_last.iter().any(|l| l.contains('`'))
                && before_last.iter().any(|l| l.contains("\"\"\""));
            match emit(&doc) {
                Ok(out) => {
                    assert!(!unwritable, "{value:?}");
                    assert_eq!(parse(&out).unwrap().get("s"), doc.get("s"), "{value:?}");
                }
                Err(e) => assert!(unwritable, "{value:?}: {e}"),
            }
        }
    }
}
