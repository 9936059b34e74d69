//! Shared checks of the fuzz targets.

use secrets_core::{Item, Map, Value};

/// The shortest run of key-alphabet characters that counts as key
/// material: shorter than an age identity (74), an age recipient (62), a
/// base64 IV (44) or any SSH key body, longer than any word of our messages.
const KEY_RUN: usize = 24;

fn key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-')
}

/// Runs of at least [`KEY_RUN`] key-alphabet characters in `text`, except
/// public keys: age recipients (`age1…`) and SSH public key blobs (`AAAA…`:
/// a blob starts with a small big-endian length), which messages may name,
/// and SSH key type names (`ssh-…`, as "got ssh-… key type" shows them).
fn key_runs(text: &str) -> Vec<&str> {
    text.split(|c: char| !key_char(c))
        .filter(|run| run.len() >= KEY_RUN)
        .filter(|run| {
            !run.starts_with("age1") && !run.starts_with("AAAA") && !run.starts_with("ssh-")
        })
        .collect()
}

/// Panics when an error message shows input bytes that look like key
/// material: an `AGE-SECRET-KEY-` string in any case, or a long run of
/// base64/bech32 characters that is also in one of `inputs` (the raw input
/// or what was decoded from it). Public keys (`age1…`, SSH `AAAA…` blobs)
/// are not key material: messages name recipients.
///
/// Map keys are not secret (sops keeps them in the clear): the key names
/// that errors quote (YAML's duplicate key as go-yaml names it, a flattened
/// metadata key) are left out of the check, and so are SSH public key lines.
pub fn no_key_material(inputs: &[&[u8]], message: &str) {
    let shown = strip_names(message);
    let upper = shown.to_ascii_uppercase();
    if let Some(at) = upper.find("AGE-SECRET-KEY-") {
        let tail: String = upper[at + 15..]
            .chars()
            .take_while(|c| key_char(*c))
            .collect();
        assert!(
            tail.len() < 8,
            "error message shows an age identity: {message:?}"
        );
    }
    for run in key_runs(&shown) {
        for input in inputs {
            let haystack = String::from_utf8_lossy(input);
            assert!(
                !haystack.contains(run),
                "error message shows {} input characters that look like key material: {message:?}",
                run.len()
            );
        }
    }
}

/// Quoted names in messages that are not secret: (opening, closing, is
/// the closing the last one in the message). A name may hold a backquote,
/// or even its closing text: where the message has one such name, it ends
/// at the last closing.
const NAMES: [(&str, &str, bool); 15] = [
    // INI's "cannot be written" error names a key and section, or a section.
    ("key `", "` cannot be written", true),
    ("section `", "` cannot be written", true),
    // A mistyped public recipient (one age1 word, one ssh- line), then the
    // parse error.
    ("invalid age recipient `age1", "`: ", true),
    ("invalid age recipient `ssh-", "`: ", true),
    ("invalid age recipient `age1", "`", false),
    // A `.sops.yaml` regex (public configuration) and the regex crate's
    // error, which repeats it.
    ("_regex `", "\nerror: ", false),
    // An SSH key type (the library shows only name-like ones, at most 40
    // characters: `keys::ssh_to_age`'s tests).
    ("got ", " key type", false),
    ("key type ", " is not supported", false),
    ("mapping key \"", "\" already defined", false),
    ("flattened key `", "` has an invalid list index `", true),
    (
        "flattened key `",
        "` conflicts with another metadata key",
        true,
    ),
    ("flattened key `", "`", false),
    ("invalid list index `", "`", true),
    ("section `", "`", false),
    ("ssh-", "`", false),
];

fn strip_names(message: &str) -> String {
    let mut out = message.to_string();
    for (open, close, last) in NAMES {
        let mut kept = String::new();
        let mut rest = out.as_str();
        while let Some(at) = rest.find(open) {
            kept.push_str(&rest[..at]);
            let after = &rest[at + open.len()..];
            let end = if last {
                after.rfind(close)
            } else {
                after.find(close)
            };
            match end {
                Some(end) => rest = &after[end..],
                None => {
                    kept.push_str(&rest[at..]);
                    rest = "";
                    break;
                }
            }
        }
        kept.push_str(rest);
        out = kept;
    }
    out
}

/// How two trees are compared.
#[derive(Clone, Copy)]
pub struct Compare {
    /// Comments are left out (stores that move them).
    pub ignore_comments: bool,
    /// An integral float equals the integer (YAML writes `1.0` as `1`, which
    /// reads back as an int, as in sops).
    pub loose_numbers: bool,
    /// Empty comments are left out (INI keeps a key's comment only when it
    /// has text, as go-ini does).
    pub ignore_empty_comments: bool,
}

/// Exact comparison, except that NaN equals NaN.
pub const EXACT: Compare = Compare {
    ignore_comments: false,
    loose_numbers: false,
    ignore_empty_comments: false,
};

/// Are the two document lists the same under `how`?
pub fn same_docs(a: &[Map], b: &[Map], how: Compare) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_map(x, y, how))
}

/// Are the two maps the same under `how`?
pub fn same_map(a: &Map, b: &Map, how: Compare) -> bool {
    let keep = |i: &&Item| match i {
        Item::Comment(c) => !(how.ignore_comments || (how.ignore_empty_comments && c.is_empty())),
        Item::Entry(..) => true,
    };
    let xs: Vec<&Item> = a.items.iter().filter(keep).collect();
    let ys: Vec<&Item> = b.items.iter().filter(keep).collect();
    xs.len() == ys.len()
        && xs.iter().zip(&ys).all(|(x, y)| match (x, y) {
            (Item::Entry(k1, v1), Item::Entry(k2, v2)) => k1 == k2 && same_value(v1, v2, how),
            (Item::Comment(c1), Item::Comment(c2)) => c1 == c2,
            _ => false,
        })
}

/// Are the two values the same under `how`?
pub fn same_value(a: &Value, b: &Value, how: Compare) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::Float(f), Value::Int(i)) | (Value::Int(i), Value::Float(f)) => {
            how.loose_numbers && f.fract() == 0.0 && *f == *i as f64
        }
        (Value::Map(x), Value::Map(y)) => same_map(x, y, how),
        (Value::List(x), Value::List(y)) => {
            let keep = |v: &&Value| match v {
                Value::Comment(c) => {
                    !(how.ignore_comments || (how.ignore_empty_comments && c.is_empty()))
                }
                _ => true,
            };
            let xs: Vec<&Value> = x.iter().filter(keep).collect();
            let ys: Vec<&Value> = y.iter().filter(keep).collect();
            xs.len() == ys.len() && xs.iter().zip(&ys).all(|(v, w)| same_value(v, w, how))
        }
        _ => a == b,
    }
}

/// A short text for a panic message (fuzz inputs may be long).
pub fn show(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() > 2000 {
        format!("{}…", &text[..text.floor_char_boundary(2000)])
    } else {
        text.into_owned()
    }
}

/// The documents without their comments.
pub fn without_comments(docs: &[Map]) -> Vec<Map> {
    docs.iter().map(Map::without_comments).collect()
}

/// How a store's round trip is checked.
pub struct RoundTrip {
    /// The store.
    pub format: secrets_core::Format,
    /// parse(input) against parse(emit(parse(input))).
    pub first: Compare,
    /// After one round, emit → parse must be a fixed point under this
    /// comparison, and emit must give the same bytes again (comments
    /// removed first when `second.ignore_comments`).
    pub second: Compare,
}

impl RoundTrip {
    /// parse(input) is `docs`; checks emit → parse (twice), see the fields.
    /// Emit errors are accepted (a tree the store cannot hold) if they show
    /// no key material.
    pub fn check(&self, data: &[u8], docs: &[Map], opts: &secrets_core::store::StoreOptions) {
        use secrets_core::store;
        let format = self.format;
        let text = match store::emit(format, docs, opts) {
            Ok(text) => text,
            Err(e) => return no_key_material(&[data], &e.to_string()),
        };
        // go-yaml (and so sops) writes a block scalar's indentation
        // indicator relative to the wrong column in sequence items and
        // list-item maps, which makes YAML that does not read back; nsec's
        // plaintext output reproduces it byte for byte (what `sops decrypt`
        // prints; encrypted files write such values in double quotes, which
        // the metadata target checks), so such output is not checked
        // further here.
        if format == secrets_core::Format::Yaml
            && text
                .windows(2)
                .any(|w| w[0] == b'|' && w[1].is_ascii_digit())
        {
            return;
        }
        // sops writes every `<<` key with the merge tag (`!!merge <<`), so a
        // `<<` key that was not a merge key (quoted, or tagged `!`) with a
        // value that is not a map reads back as a bad merge; nsec writes
        // what sops writes (see fuzz/README.md).
        if format == secrets_core::Format::Yaml {
            if let Err(e) = store::parse(format, &text) {
                if e.to_string().contains("map merge requires") {
                    return;
                }
            }
        }
        // A comment layout go-yaml writes where YAML cannot read it back
        // (finding 19, tests/data/fuzz/): nsec's plaintext output is sops'
        // bytes, and an encrypted file with such comments is refused
        // (`store::emit_encrypted` reads it back), so this is not checked
        // further here.
        if format == secrets_core::Format::Yaml
            && docs.iter().any(secrets_core::fuzzing::has_list_comments)
            && store::parse(format, &text).is_err()
        {
            return;
        }
        let read = |text: &[u8]| match store::parse(format, text) {
            Ok(back) => back,
            Err(e) => panic!(
                "nsec cannot read what it wrote: {e}\n--- input\n{}\n--- output\n{}",
                show(data),
                show(text)
            ),
        };
        let back = read(&text);
        assert!(
            same_docs(docs, &back, self.first),
            "tree changed by emit → parse\n--- input\n{}\n--- output\n{}\n--- first\n{docs:?}\n--- second\n{back:?}",
            show(data),
            show(&text)
        );
        let strip = |d: &[Map]| {
            if self.second.ignore_comments {
                without_comments(d)
            } else {
                d.to_vec()
            }
        };
        let text2 = store::emit(format, &strip(&back), opts)
            .unwrap_or_else(|e| panic!("cannot write again what was read back: {e}"));
        let back2 = read(&text2);
        assert!(
            same_docs(&strip(&back), &back2, self.second),
            "tree not stable after one round\n--- input\n{}\n--- second output\n{}\n--- second\n{back:?}\n--- third\n{back2:?}",
            show(data),
            show(&text2)
        );
        let text3 = store::emit(format, &strip(&back2), opts)
            .unwrap_or_else(|e| panic!("cannot write again what was read back: {e}"));
        assert!(
            text3 == text2,
            "emit not stable after one round\n--- input\n{}\n--- second\n{}\n--- third\n{}",
            show(data),
            show(&text2),
            show(&text3)
        );
    }
}
