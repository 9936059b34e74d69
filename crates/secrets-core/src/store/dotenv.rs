//! The dotenv store: `KEY=VALUE` lines and `#` comments.
//!
//! This is sops' own minimal dialect, not a shell parser: the input is split
//! on `\n` only, empty lines are dropped, a line whose first byte is `#` is a
//! comment, and every other line is split at its first `=`. Nothing is
//! trimmed, quotes and `export ` stay part of the key or value, and the two
//! characters `\n` in a value stand for a newline (so a literal backslash-n
//! cannot be represented, as in sops).

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::format::Format;
use crate::gofmt;
use crate::tree::{Item, Map, Value};

/// Parses a dotenv file. All values are strings ([`Value::Str`], or
/// [`Value::Bytes`] when they are not valid UTF-8).
pub(crate) fn parse(input: &[u8]) -> Result<Map> {
    let mut items = Vec::new();
    for (index, line) in input.split(|&b| b == b'\n').enumerate() {
        let line_no = index + 1;
        if line.is_empty() {
            continue;
        }
        if line[0] == b'#' {
            items.push(Item::Comment(utf8(&line[1..], line_no, "comment")?));
            continue;
        }
        let Some(eq) = line.iter().position(|&b| b == b'=') else {
            return Err(Error::Parse {
                format: Format::Dotenv,
                message: format!(
                    "line {line_no}: invalid dotenv input line (expected KEY=VALUE or a # comment)"
                ),
            });
        };
        let key = utf8(&line[..eq], line_no, "key")?;
        let value = unescape_newlines(&line[eq + 1..]);
        let value = match String::from_utf8(value) {
            Ok(s) => Value::Str(s),
            Err(e) => Value::Bytes(e.into_bytes()),
        };
        items.push(Item::Entry(key, value));
    }
    Ok(Map { items })
}

fn utf8(bytes: &[u8], line_no: usize, what: &str) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|e| Error::Parse {
        format: Format::Dotenv,
        message: format!(
            "line {line_no}, column {}: {what} is not valid UTF-8",
            e.utf8_error().valid_up_to() + 1
        ),
    })
}

/// Replaces every two-byte sequence `\n` with a newline.
fn unescape_newlines(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'\\' && value.get(i + 1) == Some(&b'n') {
            out.push(b'\n');
            i += 2;
        } else {
            out.push(value[i]);
            i += 1;
        }
    }
    out
}

/// Writes a dotenv file: `KEY=VALUE` lines (newlines in values written as
/// `\n`) and `#` comments, in tree order.
///
/// Non-string scalars are printed as sops prints them (see [`scalar_text`]);
/// a nested map or list is an error.
pub(crate) fn emit(doc: &Map) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(doc.items.len() * 48);
    for item in &doc.items {
        match item {
            Item::Comment(text) => {
                out.push(b'#');
                out.extend_from_slice(text.as_bytes());
            }
            Item::Entry(key, value) => {
                let Some(text) = scalar_text(value) else {
                    return Err(Error::Emit {
                        format: Format::Dotenv,
                        message: format!(
                            "cannot use complex value in dotenv file; offending key: {key}"
                        ),
                    });
                };
                out.extend_from_slice(key.as_bytes());
                out.push(b'=');
                for &b in text.iter() {
                    if b == b'\n' {
                        out.extend_from_slice(b"\\n");
                    } else {
                        out.push(b);
                    }
                }
            }
        }
        out.push(b'\n');
    }
    Ok(out)
}

/// A scalar as sops' flat stores print it (Go `stores.ValToString`):
/// strings and bytes unchanged, booleans `true`/`false`, integers in
/// decimal, floats in Go `'G'` style with `.0` added to integral values,
/// times in RFC 3339 **without** fractional seconds (Go's `time.RFC3339`
/// layout), null as `<nil>`. Returns `None` for maps and lists, which a
/// flat store cannot hold.
pub(super) fn scalar_text(value: &Value) -> Option<Cow<'_, [u8]>> {
    Some(match value {
        Value::Str(s) | Value::Comment(s) => Cow::Borrowed(s.as_bytes()),
        Value::Bytes(b) => Cow::Borrowed(b.as_slice()),
        Value::Bool(true) => Cow::Borrowed(b"true"),
        Value::Bool(false) => Cow::Borrowed(b"false"),
        Value::Int(i) => Cow::Owned(i.to_string().into_bytes()),
        Value::Float(f) => Cow::Owned(gofmt::format_flat_float(*f).into_bytes()),
        Value::Time(t) => Cow::Owned(without_fraction(t).into_bytes()),
        Value::Null => Cow::Borrowed(b"<nil>"),
        Value::Map(_) | Value::List(_) => return None,
    })
}

/// Drops the fractional seconds of an RFC 3339 time (`…05.5Z` → `…05Z`).
fn without_fraction(time: &str) -> String {
    let Some(t) = time.find('T') else {
        return time.to_string();
    };
    match time[t..].find('.') {
        Some(dot) => {
            let dot = t + dot;
            let digits = time[dot + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            format!("{}{}", &time[..dot], &time[dot + 1 + digits..])
        }
        None => time.to_string(),
    }
}
