//! The JSON store.
//!
//! A small hand-written parser and emitter, because sops' JSON differs from
//! what general JSON libraries do in ways that matter here:
//!
//! * duplicate keys are **kept** as separate entries (sops reads the file
//!   token by token into an ordered list), and key order is preserved;
//! * every number is a float64 (`12345678901234567890` becomes
//!   `12345678901234567000`), as Go's decoder gives it;
//! * output is Go's `json.MarshalIndent` layout with HTML escaping
//!   (`<` → `\u003c`), tab indentation by default and a final newline.
//!
//! Like sops (which stops reading once the top-level object is closed),
//! anything after the top-level object is ignored.

use crate::error::{Error, Result};
use crate::format::Format;
use crate::gofmt;
use crate::tree::{Item, Map, Value};

/// Nesting deeper than this is rejected, so hostile input cannot exhaust
/// the stack of the recursive parser and emitters.
use crate::tree::MAX_DEPTH;

/// Parses a plaintext JSON document whose top level must be an object.
/// What follows the object is ignored, as sops' encrypt ignores it (its
/// decoder stops at the closing brace).
pub(crate) fn parse(input: &[u8]) -> Result<Map> {
    parse_with(input, false)
}

/// Parses an encrypted JSON document (or the binary store's envelope):
/// only white space may follow the object, as in Go's `json.Unmarshal`,
/// which sops uses to load encrypted files.
pub(crate) fn parse_strict(input: &[u8]) -> Result<Map> {
    parse_with(input, true)
}

fn parse_with(input: &[u8], strict: bool) -> Result<Map> {
    let mut parser = Parser { input, pos: 0 };
    parser.skip_whitespace();
    match parser.peek() {
        Some(b'{') => {
            parser.pos += 1;
            let map = parser.object(1)?;
            parser.skip_whitespace();
            match parser.peek() {
                Some(_) if strict => Err(parser.error("invalid data after the top-level value")),
                _ => Ok(map),
            }
        }
        Some(_) => Err(parser.error("expected a JSON object at the top level")),
        None => Err(parser.error("unexpected end of input (the file is empty)")),
    }
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// A parse error at the current position, with 1-based line and column
    /// (the column counts bytes).
    fn error(&self, what: &str) -> Error {
        self.error_at(self.pos, what)
    }

    fn error_at(&self, pos: usize, what: &str) -> Error {
        let before = &self.input[..pos.min(self.input.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = pos - line_start + 1;
        Error::Parse {
            format: Format::Json,
            message: format!("line {line}, column {column}: {what}"),
        }
    }

    fn unexpected(&self, looking_for: &str) -> Error {
        match self.peek() {
            None => self.error(&format!("unexpected end of input {looking_for}")),
            Some(b) if b.is_ascii_graphic() => {
                self.error(&format!("invalid character '{}' {looking_for}", b as char))
            }
            Some(b) => self.error(&format!("invalid byte 0x{b:02x} {looking_for}")),
        }
    }

    fn expect(&mut self, byte: u8, looking_for: &str) -> Result<()> {
        self.skip_whitespace();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(looking_for))
        }
    }

    /// The members of an object whose `{` was just consumed.
    fn object(&mut self, depth: usize) -> Result<Map> {
        if depth > MAX_DEPTH {
            return Err(self.error(&format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Map { items });
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("looking for beginning of object key string"));
            }
            self.pos += 1;
            let key = self.string()?;
            self.expect(b':', "after object key")?;
            let value = self.value(depth)?;
            items.push(Item::Entry(key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Map { items });
                }
                _ => return Err(self.unexpected("after object key:value pair")),
            }
        }
    }

    /// The elements of an array whose `[` was just consumed.
    fn array(&mut self, depth: usize) -> Result<Vec<Value>> {
        if depth > MAX_DEPTH {
            return Err(self.error(&format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        let mut values = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(values);
        }
        loop {
            values.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(values);
                }
                _ => return Err(self.unexpected("after array element")),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                Ok(Value::Map(self.object(depth + 1)?))
            }
            Some(b'[') => {
                self.pos += 1;
                Ok(Value::List(self.array(depth + 1)?))
            }
            Some(b'"') => {
                self.pos += 1;
                Ok(Value::Str(self.string()?))
            }
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected("looking for beginning of value")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value> {
        if self.input[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error(&format!("invalid literal (expected `{word}`)")))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// A number, validated against the JSON grammar and read as a float64.
    fn number(&mut self) -> Result<Value> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.unexpected("in numeric literal")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.unexpected("after decimal point in numeric literal"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.unexpected("in exponent of numeric literal"));
            }
        }
        // The grammar above only admits ASCII, so this cannot fail.
        let text = std::str::from_utf8(&self.input[start..self.pos]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Value::Float(v)),
            _ => Err(self.error_at(start, "number is out of range for a 64-bit float")),
        }
    }

    /// A string whose opening `"` was just consumed. Invalid UTF-8 bytes and
    /// unpaired surrogate escapes become U+FFFD, as in Go.
    fn string(&mut self) -> Result<String> {
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            push_lossy(&mut out, &self.input[start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => return Err(self.error("control character in string literal")),
                None => return Err(self.error("unexpected end of input in string literal")),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<()> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let first = self.hex4()?;
                let c = if (0xD800..0xDC00).contains(&first)
                    && self.input[self.pos..].starts_with(b"\\u")
                {
                    // A high surrogate: combine it with a following low one;
                    // otherwise it stands alone and becomes U+FFFD.
                    let save = self.pos;
                    self.pos += 2;
                    let second = self.hex4()?;
                    if (0xDC00..0xE000).contains(&second) {
                        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                        char::from_u32(code).unwrap_or('\u{FFFD}')
                    } else {
                        self.pos = save;
                        '\u{FFFD}'
                    }
                } else {
                    char::from_u32(first).unwrap_or('\u{FFFD}')
                };
                out.push(c);
                return Ok(());
            }
            _ => return Err(self.unexpected("in string escape code")),
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.unexpected("in \\u hexadecimal character escape")),
            };
            code = code * 16 + u32::from(digit);
            self.pos += 1;
        }
        Ok(code)
    }
}

/// Appends bytes as UTF-8, replacing each byte of an invalid sequence with
/// U+FFFD (Go decodes an invalid sequence one byte at a time).
fn push_lossy(out: &mut String, mut bytes: &[u8]) {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                return;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                // `valid` is valid UTF-8 by construction.
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                let bad = e.error_len().unwrap_or(rest.len());
                for _ in 0..bad {
                    out.push('\u{FFFD}');
                }
                bytes = &rest[bad..];
            }
        }
    }
}

/// Writes the document like sops: Go's indented JSON, then a newline.
///
/// `indent` `None` indents with a tab (sops' default), `Some(n)` with `n`
/// spaces (`Some(0)`: line breaks but no indentation). Comments are skipped.
pub(crate) fn emit(doc: &Map, indent: Option<usize>) -> Result<Vec<u8>> {
    emit_with(doc, None, indent)
}

/// [`emit`] with one more member appended (the `sops` metadata), without
/// copying the document.
pub(crate) fn emit_with(
    doc: &Map,
    trailing: Option<(&str, &Value)>,
    indent: Option<usize>,
) -> Result<Vec<u8>> {
    let mut w = Writer::new(indent);
    w.map(doc, trailing, 0)?;
    w.out.push(b'\n');
    Ok(w.out)
}

/// Writes one value for `--extract`: scalars bare with no newline (`42`),
/// lists and maps indented as in [`emit`] but without the final newline.
pub(crate) fn emit_value(value: &Value, indent: Option<usize>) -> Result<Vec<u8>> {
    let mut w = Writer::new(indent);
    w.value(value, 0)?;
    Ok(w.out)
}

struct Writer {
    out: Vec<u8>,
    unit: Vec<u8>,
}

impl Writer {
    fn new(indent: Option<usize>) -> Writer {
        let unit = match indent {
            None => b"\t".to_vec(),
            Some(n) => vec![b' '; n],
        };
        Writer {
            out: Vec::with_capacity(4096),
            unit,
        }
    }

    fn newline(&mut self, depth: usize) {
        self.out.push(b'\n');
        for _ in 0..depth {
            self.out.extend_from_slice(&self.unit);
        }
    }

    fn map(&mut self, map: &Map, trailing: Option<(&str, &Value)>, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(emit_error(format!(
                "nesting deeper than {MAX_DEPTH} levels"
            )));
        }
        self.out.push(b'{');
        let mut empty = true;
        for (key, value) in map.entries().chain(trailing) {
            if !empty {
                self.out.push(b',');
            }
            empty = false;
            self.newline(depth + 1);
            write_string(&mut self.out, key.as_bytes());
            self.out.extend_from_slice(b": ");
            self.value(value, depth + 1)?;
        }
        if !empty {
            self.newline(depth);
        }
        self.out.push(b'}');
        Ok(())
    }

    fn list(&mut self, items: &[Value], depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(emit_error(format!(
                "nesting deeper than {MAX_DEPTH} levels"
            )));
        }
        self.out.push(b'[');
        let mut empty = true;
        for value in Value::list_values(items) {
            if !empty {
                self.out.push(b',');
            }
            empty = false;
            self.newline(depth + 1);
            self.value(value, depth + 1)?;
        }
        if !empty {
            self.newline(depth);
        }
        self.out.push(b']');
        Ok(())
    }

    fn value(&mut self, value: &Value, depth: usize) -> Result<()> {
        match value {
            Value::Map(m) => self.map(m, None, depth)?,
            Value::List(items) => self.list(items, depth)?,
            Value::Null => self.out.extend_from_slice(b"null"),
            Value::Bool(true) => self.out.extend_from_slice(b"true"),
            Value::Bool(false) => self.out.extend_from_slice(b"false"),
            Value::Int(i) => self.out.extend_from_slice(i.to_string().as_bytes()),
            Value::Float(f) => match gofmt::format_json_float(*f) {
                Some(text) => self.out.extend_from_slice(text.as_bytes()),
                None => {
                    return Err(emit_error(format!(
                        "unsupported value {} (JSON has no NaN or infinity)",
                        gofmt::format_f(*f)
                    )))
                }
            },
            // Go's encoder writes a string holding invalid UTF-8 (the
            // binary store's raw bytes) with each bad byte as `\ufffd`.
            Value::Bytes(b) => write_string(&mut self.out, b),
            Value::Str(s) | Value::Time(s) | Value::Comment(s) => {
                write_string(&mut self.out, s.as_bytes())
            }
        }
        Ok(())
    }
}

fn emit_error(message: String) -> Error {
    Error::Emit {
        format: Format::Json,
        message,
    }
}

/// Writes a quoted JSON string the way Go's `encoding/json` does with HTML
/// escaping on.
fn write_string(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            let escape: Option<&[u8]> = match b {
                b'"' => Some(b"\\\""),
                b'\\' => Some(b"\\\\"),
                b'\n' => Some(b"\\n"),
                b'\r' => Some(b"\\r"),
                b'\t' => Some(b"\\t"),
                0x08 => Some(b"\\b"),
                0x0c => Some(b"\\f"),
                b'<' | b'>' | b'&' => Some(b""),
                0..=0x1f => Some(b""),
                _ => None,
            };
            if let Some(esc) = escape {
                out.extend_from_slice(&bytes[start..i]);
                if esc.is_empty() {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 0xf)]);
                } else {
                    out.extend_from_slice(esc);
                }
                start = i + 1;
            }
            i += 1;
            continue;
        }
        // A multi-byte sequence: copy it unless it is invalid or U+2028/9.
        let len = utf8_sequence_len(&bytes[i..]);
        if len == 0 {
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(b"\\ufffd");
            i += 1;
            start = i;
            continue;
        }
        if &bytes[i..i + len] == "\u{2028}".as_bytes()
            || &bytes[i..i + len] == "\u{2029}".as_bytes()
        {
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(if bytes[i + 2] == 0xa8 {
                b"\\u2028"
            } else {
                b"\\u2029"
            });
            start = i + len;
        }
        i += len;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The length of the valid UTF-8 sequence starting `bytes` (whose first byte
/// is not ASCII), or 0 if it is invalid.
fn utf8_sequence_len(bytes: &[u8]) -> usize {
    let want = match bytes[0] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return 0,
    };
    match bytes.get(..want) {
        Some(seq) if std::str::from_utf8(seq).is_ok() => want,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::super::flatten::test_support::{sops_accepts, sops_round_trip, vector};
    use super::*;

    fn round_trip(input: &[u8]) -> Vec<u8> {
        emit(&parse(input).expect("parse"), None).expect("emit")
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn json_basic_vector_is_byte_identical() {
        let expected = vector("cases/json-basic/expected.json");
        assert_eq!(text(&round_trip(&expected)), text(&expected));
        let input = vector("cases/json-basic/input.json");
        assert_eq!(text(&round_trip(&input)), text(&expected));
    }

    #[test]
    fn encrypted_files_re_emit_identically() {
        let sops_file = vector("cases/json-basic/encrypted.json");
        assert_eq!(text(&round_trip(&sops_file)), text(&sops_file));
        for case in ["shamir-2of3", "mac-only-encrypted", "two-recipients"] {
            let dir = super::super::flatten::test_support::vector_path(&format!("cases/{case}"));
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "json") {
                    let data = std::fs::read(&path).unwrap();
                    assert_eq!(text(&round_trip(&data)), text(&data), "{}", path.display());
                }
            }
        }
        // The handcrafted file uses two-space indentation.
        let handcrafted = vector("handcrafted/store-json.json");
        let doc = parse(&handcrafted).unwrap();
        assert_eq!(text(&emit(&doc, Some(2)).unwrap()), text(&handcrafted));
        let expected = vector("handcrafted/store-json.expected.json");
        assert_eq!(text(&round_trip(&expected)), text(&expected));
    }

    #[test]
    fn keeps_duplicate_keys_and_order() {
        let doc = parse(br#"{"b": 1, "a": 2, "b": "x"}"#).unwrap();
        assert_eq!(
            doc.items,
            vec![
                Item::Entry("b".into(), Value::Float(1.0)),
                Item::Entry("a".into(), Value::Float(2.0)),
                Item::Entry("b".into(), Value::Str("x".into())),
            ]
        );
    }

    #[test]
    fn numbers_are_float64() {
        let doc = parse(br#"{"big": 12345678901234567890, "neg": -0, "e": 1E2}"#).unwrap();
        assert_eq!(doc.get("big"), Some(&Value::Float(12345678901234567890.0)));
        assert_eq!(doc.get("e"), Some(&Value::Float(100.0)));
        let out = text(&emit(&doc, None).unwrap());
        assert_eq!(
            out,
            "{\n\t\"big\": 12345678901234567000,\n\t\"neg\": -0,\n\t\"e\": 100\n}\n"
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "line 1, column 1: unexpected end of input"),
            (b"[1]", "line 1, column 1: expected a JSON object"),
            (
                b"{\n  \"a\": 1,\n}",
                "line 3, column 1: invalid character '}'",
            ),
            (
                b"{\"a\": 1E400}",
                "line 1, column 7: number is out of range",
            ),
            (b"{\"a\": \"x\ny\"}", "line 1, column 9: control character"),
            (
                b"{\"a\" 1}",
                "line 1, column 6: invalid character '1' after object key",
            ),
            (b"{\"a\": tru}", "line 1, column 7: invalid literal"),
            (
                b"{\"a\": [1 2]}",
                "line 1, column 10: invalid character '2' after array element",
            ),
            (
                b"{\"a\": \"\\x\"}",
                "line 1, column 9: invalid character 'x' in string escape",
            ),
            (
                b"{\"a\": 01}",
                "line 1, column 8: invalid character '1' after object key:value",
            ),
            (b"{\"a\": {", "line 1, column 8: unexpected end of input"),
        ];
        for (input, want) in cases {
            match parse(input) {
                Err(Error::Parse { format, message }) => {
                    assert_eq!(format, Format::Json);
                    assert!(message.starts_with(want), "{message:?} !~ {want:?}");
                }
                other => panic!("{:?}: {other:?}", text(input)),
            }
            // Real sops rejects every one of these too.
            assert!(
                !sops_accepts("json", input),
                "sops accepted {:?}",
                text(input)
            );
        }
    }

    #[test]
    fn ignores_what_follows_the_top_level_object() {
        // As sops does (it stops reading at the closing brace).
        let doc = parse(b"{\"a\": 1} trailing").unwrap();
        assert_eq!(doc.get("a"), Some(&Value::Float(1.0)));
        assert!(sops_accepts("json", b"{\"a\": 1} trailing"));
    }

    #[test]
    fn encrypted_files_refuse_what_follows_the_top_level_object() {
        for tail in [&b" {\"b\": 2}"[..], b"garbage", b"\0"] {
            let mut input = b"{\"a\": 1}".to_vec();
            input.extend_from_slice(tail);
            assert!(parse_strict(&input).is_err(), "{:?}", text(&input));
        }
        assert!(parse_strict(b"{\"a\": 1} \n\t").is_ok());
    }

    #[test]
    fn deep_nesting_is_limited() {
        let ok = format!("{{\"a\": {}1{}}}", "[".repeat(500), "]".repeat(500));
        assert!(parse(ok.as_bytes()).is_ok());
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(5000), "]".repeat(5000));
        assert!(matches!(parse(deep.as_bytes()), Err(Error::Parse { .. })));
    }

    #[test]
    fn string_escapes_match_go() {
        let doc = Map {
            items: vec![Item::Entry(
                "k<".into(),
                Value::Str("\"\\\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}<>&\u{2028}\u{2029}é😀/".into()),
            )],
        };
        assert_eq!(
            text(&emit(&doc, None).unwrap()),
            "{\n\t\"k\\u003c\": \"\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\u{7f}\\u003c\\u003e\\u0026\\u2028\\u2029é😀/\"\n}\n"
        );
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        // Input: each bad byte becomes U+FFFD, as in Go.
        let doc = parse(b"{\"a\": \"x\xff\xe2\x82y\"}").unwrap();
        assert_eq!(
            doc.get("a"),
            Some(&Value::Str("x\u{FFFD}\u{FFFD}\u{FFFD}y".into()))
        );
        // Output of raw bytes (binary store → JSON): `\ufffd` escapes, as
        // `sops decrypt --output-type json` prints them.
        let doc = Map {
            items: vec![Item::Entry(
                "data".into(),
                Value::Bytes(b"a\xff\xe2\x82b<\n".to_vec()),
            )],
        };
        assert_eq!(
            text(&emit(&doc, None).unwrap()),
            "{\n\t\"data\": \"a\\ufffd\\ufffd\\ufffdb\\u003c\\n\"\n}\n"
        );
    }

    #[test]
    fn surrogate_escapes() {
        let doc =
            parse(br#"{"a": "\ud83d\ude00", "b": "\ud800x", "c": "\ud800\u0041", "d": "\udc00"}"#)
                .unwrap();
        assert_eq!(doc.get("a"), Some(&Value::Str("😀".into())));
        assert_eq!(doc.get("b"), Some(&Value::Str("\u{FFFD}x".into())));
        assert_eq!(doc.get("c"), Some(&Value::Str("\u{FFFD}A".into())));
        assert_eq!(doc.get("d"), Some(&Value::Str("\u{FFFD}".into())));
    }

    #[test]
    fn indentation_options() {
        let doc = parse(br#"{"a": [1, {"b": null}], "c": {}, "d": []}"#).unwrap();
        assert_eq!(
            text(&emit(&doc, Some(2)).unwrap()),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {},\n  \"d\": []\n}\n"
        );
        assert_eq!(
            text(&emit(&doc, Some(0)).unwrap()),
            "{\n\"a\": [\n1,\n{\n\"b\": null\n}\n],\n\"c\": {},\n\"d\": []\n}\n"
        );
        assert_eq!(text(&emit(&Map::new(), None).unwrap()), "{}\n");
    }

    #[test]
    fn comments_are_skipped() {
        let doc = Map {
            items: vec![
                Item::Comment(" top".into()),
                Item::Entry(
                    "l".into(),
                    Value::List(vec![Value::Comment("c".into()), Value::Int(1)]),
                ),
                Item::Entry("m".into(), Value::List(vec![Value::Comment("only".into())])),
            ],
        };
        assert_eq!(
            text(&emit(&doc, None).unwrap()),
            "{\n\t\"l\": [\n\t\t1\n\t],\n\t\"m\": []\n}\n"
        );
    }

    #[test]
    fn emit_value_for_extract() {
        assert_eq!(emit_value(&Value::Float(42.0), None).unwrap(), b"42");
        assert_eq!(emit_value(&Value::Int(-7), None).unwrap(), b"-7");
        assert_eq!(emit_value(&Value::Bool(true), None).unwrap(), b"true");
        assert_eq!(emit_value(&Value::Null, None).unwrap(), b"null");
        assert_eq!(
            emit_value(&Value::Time("2024-01-02T00:00:00Z".into()), None).unwrap(),
            b"\"2024-01-02T00:00:00Z\""
        );
        assert_eq!(
            text(
                &emit_value(
                    &Value::List(vec![Value::Float(1.0), Value::Str("a".into())]),
                    None
                )
                .unwrap()
            ),
            "[\n\t1,\n\t\"a\"\n]"
        );
        assert!(matches!(
            emit_value(&Value::Float(f64::NAN), None),
            Err(Error::Emit {
                format: Format::Json,
                ..
            })
        ));
        assert!(matches!(
            emit(
                &Map {
                    items: vec![Item::Entry("x".into(), Value::Float(f64::INFINITY))]
                },
                None
            ),
            Err(Error::Emit { .. })
        ));
    }

    /// Inputs run through the real sops: `sops decrypt (sops encrypt x)`
    /// must equal `emit(parse(x))` byte for byte.
    #[test]
    fn matches_real_sops() {
        let inputs: &[&str] = &[
            r#"{"a": "x\by\fz\u0001\u007f\ud800 \u00e9", "b": [], "c": {}, "d": 1E4}"#,
            r#"{"esc": "<script>&amp;</script> \u2028\u2029 \" \\ \/ \t\r\n", "uni": "日本語 😀 é"}"#,
            r#"{"dup": 1, "dup": 2, "x": {"dup": [1], "dup": [2]}}"#,
            r#"{"n": [0, -0, 1.0, 1e-6, 1e-7, 123456789.123456789, 1e20, 1e21, -1.5e300, 5e-324, 0.1, 100, 2.5E+3]}"#,
            r#"{"big": 12345678901234567890, "max": 9007199254740993, "neg": -9223372036854775808}"#,
            r#"{"deep": {"a": {"b": {"c": {"d": [[[["x", {"e": [true, false, null]}]]]]}}}}}"#,
            "{\n\"ws\"  :\t\"v\" ,\r\n \"empty\":\"\", \"nul\": null}",
            r#"{"bad_utf8_escape": "\udc00\ud800", "slash": "a/b"}"#,
            "{}",
        ];
        for input in inputs {
            let (_, decrypted) = sops_round_trip("json", input.as_bytes());
            assert_eq!(
                text(&round_trip(input.as_bytes())),
                text(&decrypted),
                "input {input}"
            );
        }
    }
}
