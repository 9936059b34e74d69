//! Scalar resolution: what a scalar means (null, bool, int, float,
//! timestamp, binary or string), following go-yaml v3's `resolve.go` (the
//! plain-scalar rules and the tags of the core schema) and the scalar part
//! of `decode.go` (`!!binary`, explicit tags). The encoder uses the same
//! rules to decide when a string must be quoted.

use base64::Engine as _;
use granit_parser::{ScalarStyle, Span, Tag};

use super::{at, parse_error};
use crate::error::Result;
use crate::time::Timestamp;
use crate::tree::Value;

pub(super) const CORE_TAG: &str = "tag:yaml.org,2002:";

/// Turns a scalar event into a value, as go-yaml decodes it into `interface{}`.
pub(super) fn resolve_node(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    span: &Span,
) -> Result<Value> {
    let core = tag.filter(|t| t.handle() == CORE_TAG).map(|t| t.suffix());
    let fail = |what: &str| parse_error(format!("{}: cannot decode scalar as {what}", at(span)));
    match core {
        Some("str") => return Ok(Value::Str(text.to_string())),
        Some("binary") => {
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| fail("!!binary (invalid base64)"))?;
            return Ok(match String::from_utf8(bytes) {
                Ok(s) => Value::Str(s),
                Err(e) => Value::Bytes(e.into_bytes()),
            });
        }
        Some(kind @ ("int" | "float" | "bool" | "null" | "timestamp")) => {
            let r = resolve_plain(text);
            return Ok(match (kind, r) {
                ("int", Resolved::Int(i)) => Value::Int(i),
                ("float", Resolved::Int(i)) => Value::Float(i as f64),
                ("float", Resolved::Float(f)) => Value::Float(f),
                ("bool", Resolved::Bool(b)) => Value::Bool(b),
                ("null", Resolved::Null) => Value::Null,
                ("timestamp", Resolved::Time(t)) => Value::Time(t.to_go_text()),
                _ => return Err(fail(&format!("!!{kind}"))),
            });
        }
        // Any other tag (go-yaml cannot resolve it) leaves the text a string.
        Some(_) => return Ok(Value::Str(text.to_string())),
        None if tag.is_some() => return Ok(Value::Str(text.to_string())),
        None => {}
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::Str(text.to_string()));
    }
    Ok(match resolve_plain(text) {
        Resolved::Null => Value::Null,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(i) => Value::Int(i),
        Resolved::Uint => {
            return Err(parse_error(format!(
                "{}: integer does not fit a signed 64-bit integer (unsupported unsigned value)",
                at(span)
            )))
        }
        Resolved::Float(f) => Value::Float(f),
        Resolved::Time(t) => Value::Time(t.to_go_text()),
        Resolved::Merge | Resolved::Str => Value::Str(text.to_string()),
    })
}

/// What a plain scalar means to go-yaml v3 (`resolve("", s)`).
#[derive(Debug, PartialEq)]
pub(super) enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer above `i64::MAX` that fits `u64`.
    Uint,
    Float(f64),
    Time(Timestamp),
    /// The merge key `<<`.
    Merge,
    Str,
}

/// go-yaml v3's `resolve` for an untagged plain scalar.
pub(super) fn resolve_plain(s: &str) -> Resolved {
    let Some(&first) = s.as_bytes().first() else {
        return Resolved::Null;
    };
    match first {
        b'y'
        | b'Y'
        | b'n'
        | b'N'
        | b't'
        | b'T'
        | b'f'
        | b'F'
        | b'o'
        | b'O'
        | b'~'
        | b'.'
        | b'+'
        | b'-'
        | b'0'..=b'9'
        | b'<' => {}
        _ => return Resolved::Str,
    }
    match s {
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        "<<" => return Resolved::Merge,
        _ => {}
    }
    match first {
        b'.' => match s.parse::<f64>() {
            Ok(f) if f.is_finite() => Resolved::Float(f),
            _ => Resolved::Str,
        },
        b'+' | b'-' | b'0'..=b'9' => {
            if let Some(t) = Timestamp::parse_yaml(s) {
                return Resolved::Time(t);
            }
            let plain: std::borrow::Cow<'_, str> = if s.contains('_') {
                s.replace('_', "").into()
            } else {
                s.into()
            };
            match go_parse_int(&plain) {
                IntParse::Int(i) => return Resolved::Int(i),
                IntParse::Uint => return Resolved::Uint,
                IntParse::Invalid => {}
            }
            if is_yaml_float(&plain) {
                if let Ok(f) = plain.parse::<f64>() {
                    // Go's ParseFloat reports overflow as an error, and
                    // go-yaml then keeps the text as a string.
                    if f.is_finite() {
                        return Resolved::Float(f);
                    }
                }
            }
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

enum IntParse {
    Int(i64),
    Uint,
    Invalid,
}

/// Go's `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint(s, 0, 64)`.
fn go_parse_int(s: &str) -> IntParse {
    let (neg, signed, body) = match s.as_bytes().first() {
        Some(b'-') => (true, true, &s[1..]),
        Some(b'+') => (false, true, &s[1..]),
        _ => (false, false, s),
    };
    let (radix, digits) =
        if let Some(rest) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, rest)
        } else if let Some(rest) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, rest)
        } else if let Some(rest) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, rest)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return IntParse::Invalid;
    }
    let Ok(magnitude) = u128::from_str_radix(digits, radix) else {
        return IntParse::Invalid;
    };
    if neg {
        if magnitude <= i64::MAX as u128 + 1 {
            return IntParse::Int((magnitude as i128).wrapping_neg() as i64);
        }
        return IntParse::Invalid;
    }
    if magnitude <= i64::MAX as u128 {
        IntParse::Int(magnitude as i64)
    } else if !signed && magnitude <= u64::MAX as u128 {
        IntParse::Uint
    } else {
        IntParse::Invalid
    }
}

/// go-yaml's `yamlStyleFloat`:
/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// go-yaml's `isBase60Float`: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
pub(super) fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        // `[0-5]?[0-9]`: one or two digits, the first of two at most 5.
        match (b.get(i), b.get(i + 1)) {
            (Some(d0 @ b'0'..=b'5'), Some(d1)) if d1.is_ascii_digit() => {
                let _ = d0;
                i += 2;
            }
            (Some(d), _) if d.is_ascii_digit() => i += 1,
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// go-yaml's `isOldBool`: YAML 1.1 booleans, quoted on output.
pub(super) fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    )
}

// ---------------------------------------------------------------------------
// Emitter

#[cfg(test)]
mod tests {
    use super::super::tests::{message, one};
    use crate::tree::Value;

    #[test]
    fn scalar_types() {
        let doc = one(
            "a: 0x1F\nb: 0o17\nc: 017\nd: 1_000\ne: +5\nf: 08\ng: 1e400\nh: -0\ni: .5\nj: 123456789012345678901234567890\nk: 2024-1-2\nl: \"2024-01-02\"\nm: yes\nn: ~\no: !!str 1\np: !!int \"7\"\nq: !!float 1\nr: !custom 5\ns: !!binary aGVsbG8=\nt: !!binary /wA=\nu: TRUE\nv: -.inf\nw: 1e3\n",
        );
        let want = [
            ("a", Value::Int(31)),
            ("b", Value::Int(15)),
            ("c", Value::Int(15)),
            ("d", Value::Int(1000)),
            ("e", Value::Int(5)),
            ("f", Value::Float(8.0)),
            ("g", Value::Str("1e400".into())),
            ("h", Value::Int(0)),
            ("i", Value::Float(0.5)),
            ("j", Value::Float(1.2345678901234568e29)),
            ("k", Value::Time("2024-01-02T00:00:00Z".into())),
            ("l", Value::Str("2024-01-02".into())),
            ("m", Value::Str("yes".into())),
            ("n", Value::Null),
            ("o", Value::Str("1".into())),
            ("p", Value::Int(7)),
            ("q", Value::Float(1.0)),
            ("r", Value::Str("5".into())),
            ("s", Value::Str("hello".into())),
            ("t", Value::Bytes(vec![0xff, 0])),
            ("u", Value::Bool(true)),
            ("v", Value::Float(f64::NEG_INFINITY)),
            ("w", Value::Float(1000.0)),
        ];
        for (key, value) in want {
            assert_eq!(doc.get(key), Some(&value), "{key}");
        }
    }

    #[test]
    fn secret_values_stay_out_of_errors() {
        let m = message("password: !!int hunter2\n");
        assert!(!m.contains("hunter2"), "{m}");
    }
}
