//! The YAML store: go-yaml v3 semantics on top of parser events, from the
//! fast reader for plain block YAML (`fast`) or from `granit-parser` for
//! everything else.
//!
//! sops reads YAML with go-yaml v3's node API and writes it back with the
//! go-yaml v3 emitter, so it never round-trips a file verbatim. This module
//! reproduces both sides:
//!
//! * **parse**: plain scalars are resolved as go-yaml v3 resolves them
//!   (YAML 1.2 core schema plus its quirks: `0x`/`0o`/leading-zero octal
//!   ints, `_` in numbers, timestamps); anchors are expanded; the merge key
//!   `<<` stays an ordinary entry (its value must be a map or a list of
//!   maps, as go-yaml checks); unknown tags leave strings. Comments
//!   become comment items where sops' tree has them: a trailing line comment
//!   moves in front of its key or list item, comments at the end of blocks
//!   go to the block go-yaml gives them to (see `Builder::plan_comments`;
//!   these rules were derived by running sops on many layouts and match it
//!   on the layouts people write and on all but a few generated odd ones,
//!   see `tests/data/layouts`).
//! * **emit**: sops' tree-to-node conversion, go-yaml's encoder and a port
//!   of go-yaml's emitter state machine, so layout (indentation arithmetic,
//!   `- ` inside the indent), scalar styles (plain, quoted, literal blocks)
//!   and comment placement (including its deferred foot comments) come out
//!   byte for byte as sops prints them.
//!
//! The files, by job (each names the go-yaml file it follows):
//!
//! * `fast`: a fast reader for plain block YAML (granit-parser's events);
//! * `split`: a large document read and written in two halves, one per core;
//! * [`read`]: parser events to sops' tree (go-yaml `decode.go`);
//! * [`comments`]: where each comment of the input goes (derived from sops);
//! * [`resolve`]: what a scalar means (go-yaml `resolve.go`);
//! * [`encode`]: sops' tree to emitter events (go-yaml `encode.go`);
//! * [`emitter`]: events to text (go-yaml `emitterc.go`);
//! * [`style`]: which styles can write a string (go-yaml `emitterc.go`).

use granit_parser::{Parser, Span};

use crate::error::{Error, Result};
use crate::format::Format;
use crate::tree::{Item, Map, Value};

mod comments;
mod emitter;
mod encode;
pub(crate) mod fast;
mod read;
mod resolve;
pub(crate) mod split;
mod style;

use emitter::{Comments, Emitter, Ev};
use encode::Encoder;
use read::build;

/// Parses a YAML stream into one [`Map`] per document.
///
/// Errors: syntax errors, non-mapping documents, duplicate keys, keys that
/// are not strings and integers that only fit an unsigned 64-bit integer
/// (all [`Error::Parse`]); a stream without any document is
/// [`Error::EmptyFile`].
pub(crate) fn parse(input: &[u8]) -> Result<Vec<Map>> {
    let text = std::str::from_utf8(input)
        .map_err(|e| parse_error(format!("invalid UTF-8 at byte offset {}", e.valid_up_to())))?;
    // A byte order mark is allowed at the start, as in go-yaml.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Most files are plain block YAML, which the fast reader takes. Whatever
    // it leaves, and any error, is read again by granit-parser, which has
    // the last word.
    if fast::eligible(text) {
        if let Some(doc) = split::read_in_halves(text) {
            return Ok(vec![doc]);
        }
        let mut reader = fast::Reader::new(text);
        let docs = build(text, || {
            reader
                .next_event()
                .map(|next| next.map_err(|_| parse_error("left to the full parser".into())))
        });
        match docs {
            Ok(docs) => return Ok(docs),
            // granit-parser stops earlier (at 256 levels) with a less
            // helpful message.
            Err(e @ Error::TooDeep { .. }) => return Err(e),
            Err(_) => {}
        }
    }
    let mut parser = Parser::new_from_str_with_options(text, granit_options());
    let scan_error = |e: granit_parser::ScanError| {
        parse_error(format!(
            "line {}, column {}: {}",
            e.marker().line(),
            e.marker().col() + 1,
            e.info()
        ))
    };
    build(text, || parser.next().map(|next| next.map_err(scan_error)))
}

fn parse_error(message: String) -> Error {
    Error::Parse {
        format: Format::Yaml,
        message,
    }
}

fn at(span: &Span) -> String {
    format!(
        "line {}, column {}",
        span.start.line(),
        span.start.col() + 1
    )
}

/// granit-parser's options for reading what sops reads. granit refuses more
/// than 96 comments in a row where it has not yet decided what a node is
/// (after `key:` with the value on a later line); go-yaml has no such
/// limit (sops 3.11 reads 5,000), and the buffered comments take memory in
/// proportion to the input, which is bounded anyway.
pub(super) fn granit_options() -> granit_parser::Options {
    let mut options = granit_parser::Options::default();
    options.max_buffered_comment_events = usize::MAX;
    options
}

// sops turns its tree into go-yaml `Node`s (comments become head and foot
// comments of nodes), go-yaml's encoder turns the nodes into events
// (`encode::Encoder` does both in one walk), and go-yaml's emitter writes
// the events. `emitter` follows go-yaml v3's `emitterc.go` state machine for
// the block styles sops produces, because its comment handling (deferred
// foot comments, blank lines after them, comments written inline after
// `- `) is only reproduced byte for byte by doing the same steps.

/// Writes documents as sops does (go-yaml v3, `indent` spaces per level),
/// separated by `---`.
pub(crate) fn emit(docs: &[Map], indent: usize) -> Result<Vec<u8>> {
    emit_with(docs, None, indent)
}

/// [`emit`] with one more entry appended to every document (the `sops`
/// metadata of an encrypted file), as if it were the documents' last item.
///
/// A large plaintext is written in two halves on two threads, joined; an
/// encrypted file in one (see [`emit_with_parts`]).
pub(crate) fn emit_with(docs: &[Map], trailing: Option<&Item>, indent: usize) -> Result<Vec<u8>> {
    let leaves: usize = docs.iter().map(Map::leaf_count).sum();
    if let ([doc], None) = (docs, trailing) {
        if let Some(halves) = split::write_in_halves(doc, None, indent, leaves)? {
            return Ok(halves.joined().into_bytes());
        }
    }
    emit_in_one(docs, trailing, indent, leaves)
}

/// [`emit_with`] in parts to be written one after the other: a large
/// document, encrypted too, is written in two halves on two threads that
/// are not joined in memory (an encrypted file's text is the largest thing
/// in memory when it is written).
pub(crate) fn emit_with_parts(
    docs: &[Map],
    trailing: Option<&Item>,
    indent: usize,
) -> Result<Vec<Vec<u8>>> {
    let leaves: usize = docs.iter().map(Map::leaf_count).sum();
    if let [doc] = docs {
        if let Some(halves) = split::write_in_halves(doc, trailing, indent, leaves)? {
            return Ok(halves
                .into_parts()
                .into_iter()
                .map(String::into_bytes)
                .collect());
        }
    }
    Ok(vec![emit_in_one(docs, trailing, indent, leaves)?])
}

/// [`emit_with`] on this thread.
fn emit_in_one(
    docs: &[Map],
    trailing: Option<&Item>,
    indent: usize,
    leaves: usize,
) -> Result<Vec<u8>> {
    let mut enc = encoder(indent, leaves, trailing.is_some());
    enc.push(Ev::StreamStart, Comments::default());
    for doc in docs {
        enc.push(Ev::DocStart, Comments::default());
        enc.map(
            doc.items.iter().chain(trailing),
            String::new(),
            String::new(),
        )?;
        enc.push(Ev::DocEnd, Comments::default());
    }
    enc.push(Ev::StreamEnd, Comments::default());
    Ok(enc.emitter.finish().into_bytes())
}

/// An encoder for documents of about `leaves` leaves; `sealed` for an
/// encrypted file (which must read back).
fn encoder<'a>(indent: usize, leaves: usize, sealed: bool) -> Encoder<'a> {
    // A guess of the output size, so the output is rarely copied while it
    // grows (a copy can leave the old buffer's pages in use): an encrypted
    // value's `ENC[…]` string is about 150 bytes.
    let per_leaf = if sealed { 160 } else { 40 };
    let mut enc = Encoder {
        emitter: Emitter::new(indent, leaves * per_leaf + 64),
    };
    enc.emitter.readable_blocks = sealed;
    enc
}

/// Writes one value as its own YAML document (`--extract` of a non-string).
pub(crate) fn emit_value(value: &Value, indent: usize) -> Result<Vec<u8>> {
    let mut enc = Encoder {
        emitter: Emitter::new(indent, 64),
    };
    enc.push(Ev::StreamStart, Comments::default());
    enc.push(Ev::DocStart, Comments::default());
    enc.value(value, String::new(), String::new())?;
    enc.push(Ev::DocEnd, Comments::default());
    enc.push(Ev::StreamEnd, Comments::default());
    Ok(enc.emitter.finish().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzz finding (`tests/data/fuzz/metadata-yaml-block-scalar-in-a-list-item`,
    /// first byte the metadata target's store selector): the metadata value
    /// `"\n-\n"` in a list-item map was written as go-yaml writes it,
    /// `- enc: |4` with the text 4 columns right of the `-`, which a reader
    /// takes as 4 right of `enc` (sops 3.11 cannot read such a file either:
    /// "did not find expected key"); the file did not read back. In an
    /// encrypted file such a literal block is now written in double quotes;
    /// plaintext output (`decrypt`) keeps go-yaml's bytes, as sops prints
    /// them, and elsewhere go-yaml's block is kept too.
    #[test]
    fn block_scalars_with_an_indicator_read_back() {
        let trailer = Item::Entry("trailer".into(), Value::Str("x".into()));
        let sealed = |docs: &[Map]| emit_with(docs, Some(&trailer), 4).unwrap();
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/metadata-yaml-block-scalar-in-a-list-item"
        ))
        .unwrap();
        let docs = parse(&input[1..]).unwrap();
        let out = sealed(&docs);
        assert!(String::from_utf8_lossy(&out).contains("- enc: \"\\n-\\n\"\n"));
        assert_eq!(parse(&out).unwrap()[0].get("a"), docs[0].get("a"));
        for (input, plain, encrypted) in [
            // A map at the top: go-yaml's block reads back (as sops writes it).
            (
                "b: \"\\n--2\\n YWdl\\n\"\n",
                "b: |4\n\n    --2\n     YWdl\n",
                "b: |4\n\n    --2\n     YWdl\n",
            ),
            (
                "a:\n    - r: x\n      enc: \"\\n--2\\n YWdl\\n\"\n",
                "a:\n    - r: x\n      enc: |4\n\n        --2\n         YWdl\n",
                "a:\n    - r: x\n      enc: \"\\n--2\\n YWdl\\n\"\n",
            ),
            (
                "c:\n    - \" x\\ny\"\n",
                "c:\n    - |4-\n       x\n      y\n",
                "c:\n    - \" x\\ny\"\n",
            ),
        ] {
            let docs = parse(input.as_bytes()).unwrap();
            // Plaintext: go-yaml's bytes, what `sops decrypt` prints.
            assert_eq!(
                String::from_utf8_lossy(&emit(&docs, 4).unwrap()),
                plain,
                "{input:?}"
            );
            // Encrypted: readable, by nsec and by the real sops.
            let out = sealed(&docs);
            let text = String::from_utf8_lossy(&out);
            assert_eq!(
                text.strip_suffix("trailer: x\n"),
                Some(encrypted),
                "{input:?}"
            );
            let json =
                crate::store::flatten::test_support::sops_reads("yaml", encrypted.as_bytes());
            let read = crate::store::json::parse(&json).unwrap();
            for (key, value) in docs[0].entries() {
                assert_eq!(read.get(key), Some(value), "{input:?}");
            }
            // With a 2-space indent the indicator is right, and kept.
            let two = emit_with(&docs, Some(&trailer), 2).unwrap();
            assert!(String::from_utf8_lossy(&two).contains("|2"), "{input:?}");
        }
    }

    use std::path::{Path, PathBuf};

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/vectors");

    /// The one document of `input`.
    pub(super) fn one(input: &str) -> Map {
        let mut docs = parse(input.as_bytes()).unwrap();
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    /// The message of the parse error `input` gives.
    pub(super) fn message(input: &str) -> String {
        match parse(input.as_bytes()) {
            Err(Error::Parse { message, .. }) => message,
            other => panic!("expected a parse error for {input:?}, got {other:?}"),
        }
    }

    fn round_trip(input: &str) -> String {
        let docs = parse(input.as_bytes()).unwrap_or_else(|e| panic!("parse failed: {e}\n{input}"));
        String::from_utf8(emit(&docs, 4).unwrap()).unwrap()
    }

    fn yaml_files(dir: &Path, name: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(yaml_files(&path, name));
            } else if path.file_name().unwrap().to_str().unwrap().ends_with(name) {
                out.push(path);
            }
        }
        out.sort();
        out
    }

    /// sops' own encrypted files re-emit byte for byte.
    #[test]
    /// The fast reader takes the YAML files in the repository (vectors,
    /// expected plaintexts, the example store, templates) and reads each as
    /// granit-parser does, or leaves it.
    fn fast_reader_agrees_on_repository_files() {
        let root = Path::new(VECTORS).join("../../..");
        let mut files = Vec::new();
        for dir in ["tests/data", "examples", "templates"] {
            files.extend(yaml_files(&root.join(dir), ".yaml"));
        }
        assert!(files.len() > 40, "test data not found");
        let mut taken = 0;
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            match fast::agreement::agree(&text) {
                Ok(true) => taken += 1,
                Ok(false) => {}
                Err(e) => panic!("{}: {e}", file.display()),
            }
        }
        // Most of them are in the subset; a regression that made the fast
        // reader leave everything would pass silently otherwise.
        assert!(
            taken * 3 > files.len() * 2,
            "fast reader took only {taken} of {}",
            files.len()
        );
    }

    #[test]
    fn encrypted_vectors_round_trip() {
        let mut files = yaml_files(&Path::new(VECTORS).join("cases"), "encrypted.yaml");
        // `shamir-custom-x.yaml` was written by the vectors' Python writer with
        // its `enc` block two columns deeper than go-yaml puts it (checked:
        // real sops re-emits that block at column 16, as we do).
        files.extend(
            yaml_files(&Path::new(VECTORS).join("handcrafted"), ".yaml")
                .into_iter()
                .filter(|p| !p.ends_with("shamir-custom-x.yaml")),
        );
        assert!(files.len() > 10, "vectors not found");
        let mut failures = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            let out = round_trip(&text);
            if out != text {
                failures.push(format!(
                    "{}:\n--- want\n{text}--- got\n{out}",
                    file.display()
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Decrypted outputs re-emit byte for byte, and the plaintext inputs
    /// emit to what sops printed after an encrypt/decrypt cycle.
    #[test]
    fn expected_vectors_round_trip() {
        let files = yaml_files(&Path::new(VECTORS).join("cases"), "expected.yaml");
        assert!(files.len() >= 5);
        let mut failures = Vec::new();
        for file in &files {
            // `set-result` shows the output of `sops set`, not of its input.
            if file.parent().unwrap().ends_with("set-result") {
                continue;
            }
            let want = std::fs::read_to_string(file).unwrap();
            // sops prints the float -0 as `-0`, which reads back as the int 0
            // (go-yaml resolves `-0` with ParseInt): sops itself re-emits `0`.
            let want_again = want.replace("float_neg_zero: -0\n", "float_neg_zero: 0\n");
            let out = round_trip(&want);
            if out != want_again {
                failures.push(format!(
                    "{}:\n--- want\n{want}--- got\n{out}",
                    file.display()
                ));
            }
            let input_path = file.with_file_name("input.yaml");
            let input = std::fs::read_to_string(&input_path).unwrap();
            let out = round_trip(&input);
            if out != want {
                failures.push(format!(
                    "{}:\n--- want\n{want}--- got\n{out}",
                    input_path.display()
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}

/// Differential tests against the real sops 3.11 binary.
#[cfg(test)]
mod sops_oracle {
    use super::*;
    use std::process::Command;

    const KEY_A: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/vectors/keys/age-test-key-A.txt"
    );
    const RECIPIENT_A: &str = "age1s57gtcmp6dt42ctny6gcgwsf3fgjd32mjzksulrggvqfzrk65aksxmwzle";

    /// `sops encrypt` then `sops decrypt` of `input`: what sops prints.
    pub(super) fn sops_cycle(
        input: &str,
        indent: Option<usize>,
    ) -> std::result::Result<String, String> {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("in.yaml");
        let enc = dir.path().join("enc.yaml");
        std::fs::write(&plain, input).unwrap();
        let run = |args: &[&str]| {
            Command::new(crate::test_tools::sops())
                .args(args)
                .current_dir(dir.path())
                .env("HOME", dir.path())
                .env("SOPS_DISABLE_VERSION_CHECK", "1")
                .env("SOPS_AGE_KEY_FILE", KEY_A)
                .output()
                .unwrap()
        };
        if let Some(n) = indent {
            // sops 3.11 takes the YAML indent from `.sops.yaml` only.
            let config = format!("stores:\n    yaml:\n        indent: {n}\n");
            std::fs::write(dir.path().join(".sops.yaml"), config).unwrap();
        }
        let args = vec!["encrypt", "--age", RECIPIENT_A, "in.yaml"];
        let out = run(&args);
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        std::fs::write(&enc, &out.stdout).unwrap();
        let out = run(&["decrypt", "enc.yaml"]);
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8(out.stdout).unwrap())
    }

    /// What nsec prints for `input` after the cycle `sops_cycle` runs:
    /// parse, write as an encrypted file is written, read that back,
    /// write the plaintext. Encryption makes every value (but null and
    /// the empty string or comment) a plain `ENC[…]` scalar, and every comment in a
    /// list an `ENC[…]` list item (sops' quirk, which nsec follows), while
    /// a comment in a map stays a comment line; where those lines land
    /// when read back is part of what sops prints.
    fn ours(input: &str, indent: usize) -> std::result::Result<String, String> {
        let mut docs = parse(input.as_bytes()).map_err(|e| e.to_string())?;
        let mut leaves = Vec::new();
        for doc in &mut docs {
            for_each_value(&mut doc.items, &mut |v| {
                if matches!(v, Value::Map(_) | Value::List(_) | Value::Null)
                    || matches!(v, Value::Str(s) | Value::Comment(s) if s.is_empty())
                {
                    return;
                }
                let stand_in = Value::Str(format!("{ENCRYPTED}{}", leaves.len()));
                leaves.push(std::mem::replace(v, stand_in));
            });
        }
        let encrypted = emit(&docs, indent).map_err(|e| e.to_string())?;
        let mut docs = parse(&encrypted).map_err(|e| e.to_string())?;
        for doc in &mut docs {
            for_each_value(&mut doc.items, &mut |v| {
                let index = match v {
                    Value::Str(s) => s
                        .strip_prefix(ENCRYPTED)
                        .and_then(|n| n.parse::<usize>().ok()),
                    _ => None,
                };
                if let Some(i) = index {
                    *v = leaves[i].clone();
                }
            });
        }
        Ok(String::from_utf8(emit(&docs, indent).map_err(|e| e.to_string())?).unwrap())
    }

    /// The stand-in for an encrypted value (a plain scalar, as `ENC[…]` is).
    const ENCRYPTED: &str = "ENC_";

    /// Calls `f` on every value under `items`, list comments included,
    /// parents before their children.
    fn for_each_value(items: &mut [Item], f: &mut dyn FnMut(&mut Value)) {
        fn walk(v: &mut Value, f: &mut dyn FnMut(&mut Value)) {
            f(v);
            match v {
                Value::Map(m) => for_each_value(&mut m.items, f),
                Value::List(l) => l.iter_mut().for_each(|item| walk(item, f)),
                _ => {}
            }
        }
        for item in items {
            if let Item::Entry(_, v) = item {
                walk(v, f);
            }
        }
    }

    /// Inputs whose sops output must equal ours byte for byte. (Not
    /// U+2028 and its kin: sops writes them as line breaks, nsec escaped, see
    /// `emitter::tests::line_separators_are_written_escaped`.)
    const CASES: &[&str] = &[
        // Strings that need quoting (or not).
        "a: yes\nb: \"yes\"\nc: \"no\"\nd: \"on\"\ne: \"off\"\nf: \"y\"\ng: \"n\"\nh: \"Y\"\ni: \"NO\"\nj: \"0x1F\"\nk: \"123\"\nl: \"2024-01-01\"\nm: \"~\"\nn: \"\"\no: \"null\"\np: \"1e3\"\nq: \"1_000\"\nr: \"12:30\"\ns: \"-\"\nt: \"- a\"\nu: \"a: b\"\nv: \"a #b\"\nw: \"a#b\"\nx: \"*x\"\ny: \"&x\"\nz: \"!x\"\n",
        "a: \"%x\"\nb: \"@x\"\nc: \"`x\"\nd: \"'q'\"\ne: '\"dq\"'\nf: \"x \"\ng: \" x\"\nh: \"a\\tb\"\ni: \"é\"\nj: \"\\U0001F510\"\nk: \"x\\u0085y\"\nl: \"\\u00a0x\"\nm: \"x\\ufeff\"\nn: \"---\"\no: \"...\"\np: \"?\"\nq: \"? x\"\nr: \":x\"\ns: \"x:\"\nt: \"[a]\"\nu: \"{a}\"\nv: \"a,b\"\nw: \".5\"\nx: \".inf\"\ny: \"+1\"\nz: \"<<\"\n",
        "a: \"=\"\nb: \"a\\\\b\"\nc: \"a\\x7fb\"\ne: \"a\\x01b\"\nf: \"x\\u00e9\\u4e2d\"\ng: \"True\"\nh: \"FALSE\"\ni: \"0o17\"\nj: \"017\"\nk: \"08\"\nl: \"0b101\"\nm: \"1e400\"\nn: \"-.inf\"\no: \".NaN\"\np: \"2024-1-2\"\nq: \"2024-01-02 03:04:05\"\nr: \"a  b\"\ns: \"a'b\"\nt: \"'\"\nu: \"#\"\nv: \"|\"\nw: \">\"\nx: \"-1\"\ny: \"-x\"\nz: \"--\"\n",
        // Multi-line strings.
        "a: \"a\\nb\"\nb: \"a\\nb\\n\"\nc: \"a\\nb\\n\\n\"\nd: \" lead\\nx\"\ne: \"trail \\nx\"\nf: \"\\nx\"\ng: \"x\\n\"\nh: \"\\n\"\ni: \"a\\r\\nb\"\nj: \"a\\n\\nb\"\nk: \"a\\n  b\\n\"\nl: \"a\\n \\nb\"\nm: \"a\\tb\\nc\"\nn: \"\\n\\n\"\no: \" \\n\"\n",
        // Block scalars.
        "a: |\n  x\n  y\nb: |-\n  x\n  y\nc: |+\n  x\n\nd: >\n  folded\n  text\n\n  para\ne: >-\n  x\n  y\nf: |\n  x\n    more\ng: |2\n   one space\n",
        // Keys.
        "\"1\": a\n\"true\": b\n\"y\": c\n\"yes\": d\n\"null\": e\n\"\": f\n\"a b\": g\n\"a: b\": h\n\"-x\": i\n\"x \": j\n\"a\\tb\": k\n\"🔐\": l\n",
        // Nesting and layout.
        "a:\n  - - 1\n    - - 2\n      - 3\n  - b: 1\n    c:\n      d: 2\n      e:\n        - f\n    g: []\n    h: {}\n  - []\n  - {}\n  - - x: 1\n      y: 2\n  - |\n    lit\n    block\n  - k: |\n      lit\n",
        "top:\n  l1:\n    l2:\n      - x: 1\n        sub:\n          - y\n          - z: 2\n            w: |\n              deep\n",
        // Numbers, nulls, times.
        "a: 1\nb: -5\nc: 0x10\nd: 1.5\ne: 1e3\nf: 123456789012345678901234567890\ng: .5\nh: -.5\ni: 1.0\nj: 100000000000000000000.0\nk: 0.000001\nl: 0.0000001\nm:\nn: ~\no: 2024-01-02t03:04:05.10-05:00\np: 2024-01-02 03:04:05\nq: 2024-1-2\nr: True\ns: FALSE\nt: 1_000.5\nu: -0x1F\n",
        // Tags and anchors.
        "a: !!str 1\nb: !!int \"7\"\nc: !!float 1\nd: !!binary aGVsbG8=\ne: !custom 12\nf: !custom\n  x: 1\ng: &g [1, 2]\nh: *g\ni: &i\n  k: v\nj:\n  <<: *i\n  z: 1\nk: !!null ''\nl: !!bool \"true\"\n",
        // Comments.
        "# head\n\n# second\na: 1 # line a\n# before b\nb:\n  # inside b\n  c: 2 # line c\n  # foot of b\n# before list\nlist: # line list\n  # first\n  - x # line x\n  # between\n  - y\n  # after\n# end\n",
        "a:\n  b:\n    c: 1\n    # foot c\n  # foot b\n# foot a\nd: 2\n",
        "l:\n  - a: 1\n    # in map\n    b: 2\n  # between maps\n  - c: 3\n#top\n#  indented text\n",
        "l:\n  -\n    # c\n    a: 1\n  -\n    # d\n    - 1\n",
        "k: v\n# only trailing comment\n",
        "k: # c\n  n: 1\nl: # d\n  - 1\n",
        "l:\n  - a: 1 # c\n    b: 2 # d\n  - # e\n    f: 1\n  - [1, 2] # g\n  - {h: 1} # h\n",
        "a: {b: 1} # c\nd: [1] # e\nf: 1\n",
        "a: 1\n\n\n# c\n\nb: 2\n",
        "a: 1\nk:\n  # c\nnext: 1\nl:\n  -\n  # d\n  - 2\n",
        "a:\n  b: 1\n\n  # c\n\nd: 1\n",
        "a: \"multi\n  line\" # c\n",
        "x:\n  - 1\n  # c1\n  - - 2\n    # c2\n    - 3\n  # c3\n",
        // Flow collections.
        "a: {b: 1, c: [1, 2, {d: e}]}\nf: [x, 'y', \"z\"]\n",
        // Documents.
        "a: |+\n  x\n\n",
        "a: 1\n---\n---\nb: 2\n",
        "---\n# c\na: 1\n---\n# second\nb: 1\n# end\n",
        // Block scalars in lists, binary values.
        "l:\n  - |\n    x\n    y\n  - |+\n    z\n\n  - a: |\n      q\n  - \" lead\\nx\"\n",
        "a: !!binary /wA=\nb: !!binary aGVsbG8=\nc: !!binary |\n  AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==\n",
        // Keys go-yaml cannot write as simple keys.
        "\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\": v\n\"a\\nb\": 1\nz:\n  \"x\\ny\":\n    - 1\n",
        // CRLF line ends, comments between documents, merge lists.
        "# top\r\na: 1 # c\r\nb: |\r\n  x\r\n  y\r\nc: \"q\r\n  r\"\r\n",
        "a: 1\n# end of one\n---\n# start of two\nb: 2\n...\n---\nc: 3\n",
        "x: &x {a: 1}\ny: &y\n  - 1\nz:\n  <<: [*x]\n  l: *y\n  s: &s str\n  t: *s\n",
        "%YAML 1.2\n---\na: 1\n",
        "%YAML 1.1\n---\na: 1\n",
        // Generated layouts (comments at block ends, in lists, after flow
        // collections) that sops was run on.
        "k0_0:\n  # c38\n  k1_0:\n    # c34\n    k2_0: |\n      lit\n      lines\n    k2_1: 'q'\n    # c0\n    k2_2:\n      - plain\n      # c26\n  k1_1:\n    # c46\n    k2_0: 1\n# c27\nk0_1: [1, 2]\n# c83\n",
        "k0_0: [1, 2] # t0\nk0_1:\n  k1_0:\n    k2_0:\n      k3_0: {a: 1}\n      k3_1: v\n      # c72\n    k2_1: |\n      lit\n      lines\n    k2_2:\n      - x y\n  k1_1:\n    # c11\n    - {a: 1}\n  # c61\n  k1_2: |\n    lit\n    lines\n# c54\nk0_2:\n  k1_0: x y\n",
        "k0_0:\n  # c93\n  - k2_0: \"d\" # t0\n    # c55\n  - k2_0: null\n    k2_1:\n      # c44\n      - v # t0\n      # c34\n      - true\n      # c42\n      - true\n    # c97\n# c39\n# c81\nk0_1: null # t1\n",
        "k0_0:\n  - {a: 1}\n# c24\n  - - x y # t1\n    - {a: 1}\n  # c8\n    - null # t2\n# c60\n  - true\n# c65\n# c94\nk0_1: [1, 2]\nk0_2: \"d\"\n",
        "# c11\nk0_0: [1, 2]\nk0_1:\n  k1_0: {a: 1} # t0\n  k1_1: v\n  # c63\n  k1_2: true\n# c5\nk0_2: [1, 2]\n# c92\n",
        "# c34\nk0_0: [1, 2] # t0\nk0_1:\n  k1_0: 1\n  k1_1:\n    k2_0: 'q'\n    # c15\n    k2_1:\n      - x y\n      # c11\n      - true # t1\n      # c97\n      - \"d\" # t2\n      # c92\n    k2_2:\n      - [1, 2]\n      - v\n      # c44\nk0_2: |\n  lit\n  lines\n",
        "k0_0:\n  - v\n  - 'q'\n  # c49\n  - - - v # t2\n      # c81\n      - \"d\"\n      - 1\n      # c51\n    - - [1, 2] # t0\n      # c82\n      - x y\n    - null\n",
        "k0_0:\n  k1_0:\n    - - {a: 1}\n    # c18\n  k1_1:\n    - k3_0: {a: 1} # t0 # t0\n    - - [1, 2]\n      # c88\n    - true # t2\n# c72\n",
        "k0_0: null\n# c90\nk0_1:\n# c8\n  - - - x y\n      - \"d\" # t1\n      - \"d\"\n    # c59\n    - \"d\"\n    - k3_0: v # t0 # t2\n      k3_1: 'q'\n      # c70\n# c72\nk0_2: [1, 2]\n",
        "k0_0: 1\nk0_1: v\nk0_2:\n  # c21\n  k1_0: 'q'\n  k1_1:\n    k2_0:\n      - 1\n      # c10\n      - 'q'\n      # c59\n      - {a: 1} # t2\n    # c24\n    k2_1: v\n    # c66\n  # c98\n",
        "# c57\nk0_0:\n  - \"d\"\n  - - k3_0: 'q' # t0\n      # c32\n    - v\n    # c27\n    - k3_0: 'q'\n      # c42\n  # c0\n  - plain\nk0_1: [1, 2]\n",
        "k0_0: x y # t0\nk0_1:\n  - - k3_0: true # t0\n      # c25\n    - plain\n    - true\n  # c0\n  - [1, 2]\n  - 'q'\n  # c49\n# c39\n",
        // Plain scalars of every type go-yaml resolves (and near misses).
        "v0: 1.\nv1: +.5\nv2: -.5\nv3: .5e3\nv4: 1e\nv5: 1e+\nv6: 1_000_000\nv7: 0b101\nv8: -0b11\nv9: 0o777\nv10: 0O7\nv11: 0X1f\nv12: 0x\nv13: 08\nv14: 09.5\nv15: 1__2\nv16: _1\nv17: 1_\nv18: +0\nv19: -0.0e0\nv20: 1E5\nv21: 1e-400\nv22: 1e400\nv23: 0.0000001\nv24: 123456789012345678901234567890\nv25: 9223372036854775807\nv26: -9223372036854775808\nv27: -9223372036854775809\nv28: 18446744073709551616\nv29: .inf\nv30: .Inf\nv31: .INF\nv32: +.inf\nv33: -.INF\nv34: .nan\nv35: .NaN\nv36: .NAN\nv37: nan\nv38: inf\nv39: Infinity\nv40: True\nv41: TRUE\nv42: tRue\nv43: False\nv44: Null\nv45: NULL\nv46: nULL\nv47: ~\nv48: y\nv49: Yes\nv50: on\nv51: Off\nv52: 2024-01-02\nv53: 2024-1-2\nv54: 2024-01-02T03:04:05\nv55: 2024-01-02T03:04:05Z\nv56: 2024-01-02t03:04:05.1z\nv57: 2024-01-02 03:04:05\nv58: 2024-01-02  03:04:05\nv59: 2024-01-02 3:4:5.123456789123\nv60: 2024-02-30\nv61: 0001-01-01\nv62: 2024-01-02T03:04:05+05\nv63: 2024-01-02T03:04:05+05:30\nv64: 2024-01-02T03:04:05 +05:30\nv65: 12:30\nv66: 1:2:3\nv67: -12:30:00.5\nv68: 0x_1F\nv69: 1,000\nv70: $1\nv71: 1.2.3\nv72: 1e1_0\nv73: 0.1_5\nv74: +\nv75: .\n",
        // Realistic files.
        "# Kubernetes secret\napiVersion: v1\nkind: Secret\nmetadata:\n  name: app-secrets   # the name\n  namespace: prod\n  labels:\n    app: web\n    tier: \"backend\"\ntype: Opaque\nstringData:\n  # database\n  DB_PASSWORD: \"s3cr3t!@#\"\n  DB_URL: postgres://user:pass@db:5432/app?sslmode=disable\n  # api keys\n  API_KEY: 0123456789abcdef\n  EMPTY: \"\"\n  PORT: \"8080\"\n  ENABLED: \"true\"\n  CERT: |\n    -----BEGIN CERTIFICATE-----\n    MIIBszCCAVmgAwIBAgIUX\n    -----END CERTIFICATE-----\n",
        "version: \"3.8\"\nservices:\n  web:\n    image: nginx:1.25\n    ports:\n      - \"80:80\"\n      - 443:443\n    environment:\n      - KEY=value\n      - OTHER=with spaces  # trailing\n    depends_on: [db, cache]\n  db:\n    image: postgres:16\n    volumes:\n      - db-data:/var/lib/postgresql/data\n    # healthcheck\n    healthcheck:\n      test: [\"CMD\", \"pg_isready\"]\n      interval: 10s\n      retries: 5\nvolumes:\n  db-data: {}\n# end\n",
        // Errors sops reports while reading.
        "a: 1\na: 2\n",
        "- a\n",
        "x\n",
        "",
        "# only\n",
    ];

    /// Many random tricky strings as values and keys: what we write is a
    /// fixed point of sops' encrypt/decrypt (checked once with 550 strings
    /// from a Python generator as well). U+0085/U+2028 are left out here:
    /// go-yaml treats them as line breaks inside block scalars (YAML 1.1),
    /// granit does not (YAML 1.2), so such values do not read back.
    #[test]
    fn random_strings_are_written_as_sops_writes_them() {
        const PIECES: &[&str] = &[
            "a",
            " ",
            "  ",
            "\t",
            ":",
            "#",
            "-",
            "'",
            "\"",
            "\\",
            "{",
            "[",
            ",",
            "*",
            "&",
            "!",
            "|",
            ">",
            "%",
            "@",
            "`",
            "?",
            "é",
            "\u{a0}",
            "\u{1F510}",
            "\u{7f}",
            "\u{1}",
            "yes",
            "No",
            "on",
            "null",
            "~",
            "true",
            "1",
            "0x1F",
            "1e3",
            "1_0",
            "12:30",
            ".5",
            "2024-01-02",
            "<<",
            "---",
            "...",
            "=",
            "\n",
            "\r\n",
            " \n",
            "\n ",
        ];
        let mut seed: u64 = 0x5eed;
        let mut next = move |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % n
        };
        let mut map = Map::new();
        for i in 0..300 {
            let value: String = (0..next(5)).map(|_| PIECES[next(PIECES.len())]).collect();
            map.items
                .push(Item::Entry(format!("v{i}"), Value::Str(value)));
        }
        for i in 0..100 {
            let key: String = (0..next(4)).map(|_| PIECES[next(PIECES.len())]).collect();
            map.items.push(Item::Entry(
                format!("{key}{i}"),
                Value::Str(format!("k{i}")),
            ));
        }
        let text = String::from_utf8(emit(std::slice::from_ref(&map), 4).unwrap()).unwrap();
        assert_eq!(parse(text.as_bytes()).unwrap(), vec![map]);
        let want = sops_cycle(&text, None).unwrap_or_else(|e| panic!("sops failed: {e}"));
        assert!(want == text, "--- sops\n{want}--- ours\n{text}");
    }

    /// The same layouts written with a 2-space indent (`stores.yaml.indent`).
    const INDENT_CASES: &[&str] = &[
        "a:\n  - - 1\n    - b: 1\n      c:\n        d: |\n          lit\n  - e: [1]\nf:\n  g: {}\n  # foot\n",
        "l:\n  - x: 1\n    y:\n      - z\n",
    ];

    #[test]
    fn matches_real_sops_with_indent() {
        let mut failures = Vec::new();
        for indent in [2, 3, 6] {
            for (i, input) in INDENT_CASES.iter().enumerate() {
                let want =
                    sops_cycle(input, Some(indent)).unwrap_or_else(|e| panic!("sops failed: {e}"));
                match ours(input, indent) {
                    Ok(got) if got == want => {}
                    Ok(got) => failures.push(format!(
                        "indent {indent} case {i}:\n{input}--- sops\n{want}--- ours\n{got}"
                    )),
                    Err(e) => failures.push(format!("indent {indent} case {i}: {e}")),
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n=====\n"));
    }

    #[test]
    fn matches_real_sops() {
        let mut failures = Vec::new();
        for (i, input) in CASES.iter().enumerate() {
            let want = match sops_cycle(input, None) {
                Ok(w) => w,
                Err(e) => {
                    if ours(input, 4).is_ok() {
                        failures.push(format!("case {i}: sops fails ({e}) but we accept\n{input}"));
                    }
                    continue;
                }
            };
            match ours(input, 4) {
                Ok(got) if got == want => {}
                Ok(got) => {
                    failures.push(format!("case {i}:\n{input}--- sops\n{want}--- ours\n{got}"))
                }
                Err(e) => failures.push(format!("case {i}: {e}\n{input}")),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n=====\n"));
    }
}

/// Property: whatever tree we emit parses back to the same tree.
#[cfg(test)]
mod round_trip {
    use super::style::is_break;
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("a".to_string()),
            Just(" ".to_string()),
            Just("\n".to_string()),
            Just("\t".to_string()),
            Just("\r".to_string()),
            Just(":".to_string()),
            Just("#".to_string()),
            Just("-".to_string()),
            Just("'".to_string()),
            Just("\"".to_string()),
            Just("\\".to_string()),
            Just("{".to_string()),
            Just("*".to_string()),
            Just("é".to_string()),
            Just("\u{1F510}".to_string()),
            Just("\u{85}".to_string()),
            Just("\u{feff}".to_string()),
            Just("\u{7f}".to_string()),
            Just("yes".to_string()),
            Just("null".to_string()),
            Just("12".to_string()),
            Just("0x1".to_string()),
            Just("2024-01-02".to_string()),
            Just(".5".to_string()),
            Just("~".to_string()),
            Just("---".to_string()),
            "[a-z0-9 ]{0,6}",
        ];
        prop::collection::vec(piece, 0..6).prop_map(|v| v.concat())
    }

    /// Keys without line breaks: go-yaml writes those as `? key` complex
    /// keys, after which comments do not read back in place (the oracle
    /// tests cover complex keys).
    fn key() -> impl Strategy<Value = String> {
        text().prop_map(|k| k.replace(is_break, " "))
    }

    fn comment() -> impl Strategy<Value = String> {
        "[ a-z#:'\"-]{0,12}"
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            // Integral floats print like ints and read back as ints (as in
            // sops), so keep a fraction.
            (-1.0e12f64..1.0e12).prop_map(|f| Value::Float(f.trunc() + 0.25)),
            Just(Value::Float(f64::INFINITY)),
            Just(Value::Float(1.5e-300)),
            text().prop_map(Value::Str),
            Just(Value::Time("2024-01-02T03:04:05.5+02:00".into())),
            Just(Value::Bytes(vec![0xff, 0, 1])),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec((key(), inner.clone(), prop::option::of(comment())), 0..5)
                    .prop_map(|entries| Value::Map(map_of(entries))),
                prop::collection::vec((inner, prop::option::of(comment())), 0..5).prop_map(
                    |items| {
                        let mut list = Vec::new();
                        for (mut v, c) in items {
                            // sops moves comments that open a list item's
                            // collection in front of the item.
                            match &mut v {
                                Value::Map(m) => m.items.retain(|i| matches!(i, Item::Entry(..))),
                                Value::List(l) => {
                                    while matches!(l.first(), Some(Value::Comment(_))) {
                                        l.remove(0);
                                    }
                                }
                                _ => {}
                            }
                            if let Some(c) = c {
                                list.push(Value::Comment(c));
                            }
                            list.push(v);
                        }
                        Value::List(list)
                    }
                ),
            ]
        })
    }

    /// Unique keys; a comment before some entries.
    fn map_of(entries: Vec<(String, Value, Option<String>)>) -> Map {
        let mut seen = std::collections::HashSet::new();
        let mut items = Vec::new();
        for (k, v, c) in entries {
            if !seen.insert(k.clone()) {
                continue;
            }
            if let Some(c) = c {
                items.push(Item::Comment(c));
            }
            items.push(Item::Entry(k, v));
        }
        Map { items }
    }

    fn doc() -> impl Strategy<Value = Map> {
        (
            prop::collection::vec((key(), value(), prop::option::of(comment())), 1..6),
            prop::option::of(comment()),
        )
            .prop_map(|(entries, foot)| {
                let mut map = map_of(entries);
                if let Some(foot) = foot {
                    map.items.push(Item::Comment(foot));
                }
                map
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn emit_then_parse(docs in prop::collection::vec(doc(), 1..3), indent in 2usize..7) {
            let text = emit(&docs, indent).unwrap();
            let agreed = fast::agreement::agree(std::str::from_utf8(&text).unwrap());
            prop_assert!(agreed.is_ok(), "{:?}", agreed);
            let back = parse(&text);
            // go-yaml (and so sops) writes an indentation indicator relative
            // to the wrong column for block scalars in sequence items and
            // list-item maps, which makes unreadable YAML (checked with sops:
            // `- k: "\nyes"`); plaintext output reproduces that byte for
            // byte, so such cases are skipped here...
            let indicator = text.windows(2).any(|w| w[0] == b'|' && w[1].is_ascii_digit());
            if indicator {
                prop_assume!(matches!(&back, Ok(b) if *b == docs));
            }
            prop_assert!(back.is_ok(), "{:?}\n{}", back, String::from_utf8_lossy(&text));
            prop_assert_eq!(back.unwrap(), docs.clone(), "{}", String::from_utf8_lossy(&text));
            // ...but an encrypted file (the documents with their metadata)
            // always reads back.
            let trailer = Item::Entry("sops".into(), Value::Str("x".into()));
            let sealed = emit_with(&docs, Some(&trailer), indent).unwrap();
            let back = parse(&sealed);
            prop_assert!(back.is_ok(), "{:?}\n{}", back, String::from_utf8_lossy(&sealed));
            let with_trailer: Vec<Map> = docs
                .iter()
                .map(|d| {
                    let mut d = d.clone();
                    d.items.push(trailer.clone());
                    d
                })
                .collect();
            prop_assert_eq!(back.unwrap(), with_trailer, "{}", String::from_utf8_lossy(&sealed));
        }
    }
}
