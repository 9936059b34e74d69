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

#[cfg(test)]
mod tests {
    use super::super::flatten::test_support::{sops_accepts, sops_round_trip, vector};
    use super::*;

    fn round_trip(input: &[u8]) -> Vec<u8> {
        emit(&parse(input).expect("parse")).expect("emit")
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn dotenv_basic_vector_is_byte_identical() {
        let expected = vector("cases/dotenv-basic/expected.env");
        assert_eq!(text(&round_trip(&expected)), text(&expected));
        let input = vector("cases/dotenv-basic/input.env");
        assert_eq!(text(&round_trip(&input)), text(&expected));
    }

    #[test]
    fn encrypted_files_re_emit_identically() {
        for file in [
            "cases/dotenv-basic/encrypted.env",
            "handcrafted/store-env.env",
            "handcrafted/store-env.expected.env",
        ] {
            let data = vector(file);
            assert_eq!(text(&round_trip(&data)), text(&data), "{file}");
        }
        let doc = parse(&vector("cases/dotenv-basic/encrypted.env")).unwrap();
        assert_eq!(doc.get("sops_version"), Some(&Value::Str("3.11.0".into())));
        // `\n` in the armored age block became real newlines.
        let Some(Value::Str(enc)) = doc.get("sops_age__list_0__map_enc") else {
            panic!("no age block")
        };
        assert_eq!(enc.matches('\n').count(), 7);
    }

    #[test]
    fn parses_sops_dialect() {
        let doc = parse(b"#c\n\nA= x \nexport B=\"q\"\nC=a=b\\nc\r\nD=\n=v\n#\n").unwrap();
        assert_eq!(
            doc.items,
            vec![
                Item::Comment("c".into()),
                Item::Entry("A".into(), Value::Str(" x ".into())),
                Item::Entry("export B".into(), Value::Str("\"q\"".into())),
                Item::Entry("C".into(), Value::Str("a=b\nc\r".into())),
                Item::Entry("D".into(), Value::Str(String::new())),
                Item::Entry(String::new(), Value::Str("v".into())),
                Item::Comment(String::new()),
            ]
        );
        let doc = parse(b"K=\xff\\n").unwrap();
        assert_eq!(doc.get("K"), Some(&Value::Bytes(b"\xff\n".to_vec())));
        assert_eq!(round_trip(b"K=\xff\\n"), b"K=\xff\\n\n");
    }

    #[test]
    fn line_without_equals_is_an_error() {
        for (input, line) in [(&b"A=1\n  # indented\n"[..], 2), (b"A=1\n\nnovalue", 3)] {
            match parse(input) {
                Err(Error::Parse { format, message }) => {
                    assert_eq!(format, Format::Dotenv);
                    assert!(message.starts_with(&format!("line {line}: invalid dotenv input line")));
                    assert!(!message.contains("indented") && !message.contains("novalue"));
                }
                other => panic!("{other:?}"),
            }
            assert!(!sops_accepts("env", input));
        }
        assert!(matches!(
            parse(b"\xff=1"),
            Err(Error::Parse { message, .. }) if message.starts_with("line 1, column 1: key")
        ));
    }

    #[test]
    fn non_string_values_print_like_sops() {
        let doc = Map {
            items: vec![
                Item::Entry("b".into(), Value::Bool(false)),
                Item::Entry("i".into(), Value::Int(-3)),
                Item::Entry("f".into(), Value::Float(5.0)),
                Item::Entry("g".into(), Value::Float(1e10)),
                Item::Entry("h".into(), Value::Float(3.25)),
                Item::Entry(
                    "t".into(),
                    Value::Time("2024-01-02T03:04:05.5+02:00".into()),
                ),
                Item::Entry("u".into(), Value::Time("2024-01-02T03:04:05Z".into())),
                Item::Entry("n".into(), Value::Null),
            ],
        };
        assert_eq!(
            text(&emit(&doc).unwrap()),
            "b=false\ni=-3\nf=5.0\ng=1E+10\nh=3.25\nt=2024-01-02T03:04:05+02:00\n\
             u=2024-01-02T03:04:05Z\nn=<nil>\n"
        );
    }

    #[test]
    fn nested_values_are_rejected() {
        for value in [Value::Map(Map::new()), Value::List(vec![])] {
            let doc = Map {
                items: vec![Item::Entry("nested".into(), value)],
            };
            match emit(&doc) {
                Err(Error::Emit { format, message }) => {
                    assert_eq!(format, Format::Dotenv);
                    assert_eq!(
                        message,
                        "cannot use complex value in dotenv file; offending key: nested"
                    );
                }
                other => panic!("{other:?}"),
            }
        }
    }

    /// `sops decrypt (sops encrypt x)` must equal `emit(parse(x))`.
    #[test]
    fn matches_real_sops() {
        let inputs: &[&[u8]] = &[
            b"A=1\nB=two words\n",
            b"# only = a comment\n#\n##double\nK=v",
            b"\n\n\nX=  spaced  \n\n\nY=\n",
            b"Q=\"double\"\nS='single'\nexport E=x\nT=a\\tb\\nc\\\\n\n",
            b"U=\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80<>&\nCR=line\r\n",
            b"EQ==\nEQ2=a=b=c\n=novalue\n",
            b"DUP=1\nDUP=2\n",
        ];
        for input in inputs {
            let (_, decrypted) = sops_round_trip("env", input);
            assert_eq!(
                text(&round_trip(input)),
                text(&decrypted),
                "input {:?}",
                text(input)
            );
        }
    }
}
