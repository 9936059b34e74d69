//! Flattening of nested metadata for the flat stores (dotenv and INI).
//!
//! dotenv and INI files can only hold `key = string` pairs, so sops writes
//! its nested metadata block with path-like keys: a map member `k` adds
//! `__map_k`, a list element `i` adds `__list_i`, and the top-level key is
//! used as-is (`age__list_0__map_recipient`). Newlines in values are written
//! as the two characters `\n`; null values (the `hc_vault` of key groups) and
//! empty lists and maps are dropped, exactly as sops' `stores/flatten.go`
//! does after its JSON round trip.
//!
//! Reading reverses this. The values stay strings (only `\n` is turned back
//! into a newline); turning `shamir_threshold` and `mac_only_encrypted` back
//! into numbers and booleans is left to the metadata layer.

use crate::error::{Error, Result};
use crate::gofmt;
use crate::tree::{Item, Map, Value};

const MAP_SEPARATOR: &str = "__map_";
const LIST_SEPARATOR: &str = "__list_";

/// Largest list index accepted when unflattening. Real metadata has a
/// handful of entries; the cap keeps a hostile `__list_99999999999` key from
/// allocating gigabytes.
const MAX_LIST_INDEX: usize = 1 << 16;

/// Flattens the metadata tree to `(key, string value)` pairs, sorted by key.
///
/// Strings have their newlines written as `\n`; integers and booleans are
/// written in decimal and as `true`/`false` (as sops writes
/// `shamir_threshold` and `mac_only_encrypted`); nulls and empty branches
/// produce no pair. Comments are ignored.
pub(crate) fn flatten(metadata: &Map) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, value) in metadata.entries() {
        flatten_value(key.to_string(), value, &mut out);
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn flatten_value(prefix: String, value: &Value, out: &mut Vec<(String, String)>) {
    let text = match value {
        Value::Map(map) => {
            for (key, child) in map.entries() {
                flatten_value(format!("{prefix}{MAP_SEPARATOR}{key}"), child, out);
            }
            return;
        }
        Value::List(items) => {
            for (index, child) in Value::list_values(items).enumerate() {
                flatten_value(format!("{prefix}{LIST_SEPARATOR}{index}"), child, out);
            }
            return;
        }
        Value::Null | Value::Comment(_) => return,
        Value::Str(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => gofmt::format_f(*f),
        Value::Time(t) => t.clone(),
    };
    out.push((prefix, text.replace('\n', "\\n")));
}

/// Does `key` hold a separator of flattened paths (`__map_`, `__list_`)?
pub(super) fn has_separator(key: &str) -> bool {
    key.contains(MAP_SEPARATOR) || key.contains(LIST_SEPARATOR)
}

/// One step of a flattened key.
#[derive(Debug)]
enum Token<'a> {
    Key(&'a str),
    Index(usize),
}

/// Splits a flat key into its steps. The first step is always a map key.
fn tokenize(path: &str) -> Result<Vec<Token<'_>>> {
    // (start of the step's text, is it a list step)
    let mut steps: Vec<(usize, bool)> = vec![(0, false)];
    let mut ends = Vec::new();
    let bytes = path.as_bytes();
    let mut i = 0;
    // Byte-wise: `i` may stop inside a multi-byte character; the separators
    // are ASCII, so every step starts and ends on a character boundary.
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(MAP_SEPARATOR.as_bytes()) {
            ends.push(i);
            i += MAP_SEPARATOR.len();
            steps.push((i, false));
        } else if rest.starts_with(LIST_SEPARATOR.as_bytes()) {
            ends.push(i);
            i += LIST_SEPARATOR.len();
            steps.push((i, true));
        } else {
            i += 1;
        }
    }
    ends.push(path.len());
    steps
        .into_iter()
        .zip(ends)
        .map(|((start, is_list), end)| {
            let text = &path[start..end];
            if !is_list {
                return Ok(Token::Key(text));
            }
            match text.parse::<usize>() {
                Ok(index) if index <= MAX_LIST_INDEX => Ok(Token::Index(index)),
                _ => Err(Error::InvalidMetadata(format!(
                    "flattened key `{path}` has an invalid list index `{text}`"
                ))),
            }
        })
        .collect()
}

/// A tree under construction: lists may have holes until every key is in.
enum Node {
    Leaf(Value),
    Map(Vec<(String, Node)>),
    List(Vec<Option<Node>>),
}

impl Node {
    fn into_value(self) -> Value {
        match self {
            Node::Leaf(v) => v,
            Node::Map(entries) => Value::Map(Map {
                items: entries
                    .into_iter()
                    .map(|(k, n)| Item::Entry(k, n.into_value()))
                    .collect(),
            }),
            Node::List(items) => Value::List(
                items
                    .into_iter()
                    .map(|n| n.map_or(Value::Null, Node::into_value))
                    .collect(),
            ),
        }
    }
}

/// Rebuilds the metadata tree from flat pairs (in any order).
///
/// String values get their `\n` pairs turned back into newlines; all other
/// values are kept as given. Keys appear in the order of their first
/// occurrence; list holes become nulls. A key that is used both as a leaf
/// and as a branch, or as both a map and a list, is an error.
pub(crate) fn unflatten(flat: Vec<(String, Value)>) -> Result<Map> {
    let mut root: Vec<(String, Node)> = Vec::new();
    for (key, value) in flat {
        let value = match value {
            Value::Str(s) if s.contains("\\n") => Value::Str(s.replace("\\n", "\n")),
            other => other,
        };
        let tokens = tokenize(&key)?;
        let conflict = || {
            Error::InvalidMetadata(format!(
                "flattened key `{key}` conflicts with another metadata key"
            ))
        };
        // The first token is always a map key of the root.
        let mut current = RootOrNode::Root(&mut root);
        for (depth, token) in tokens.iter().enumerate() {
            let last = depth + 1 == tokens.len();
            let next = tokens.get(depth + 1);
            let child: &mut Node = match (current, token) {
                (RootOrNode::Root(entries), Token::Key(k)) => map_child(entries, k, next),
                (RootOrNode::Node(Node::Map(entries)), Token::Key(k)) => {
                    map_child(entries, k, next)
                }
                (RootOrNode::Node(Node::List(items)), Token::Index(i)) => {
                    if items.len() <= *i {
                        items.resize_with(*i + 1, || None);
                    }
                    items[*i].get_or_insert_with(|| empty_node(next))
                }
                _ => return Err(conflict()),
            };
            if last {
                match child {
                    Node::Leaf(_) => *child = Node::Leaf(value),
                    _ => return Err(conflict()),
                }
                break;
            }
            current = RootOrNode::Node(child);
        }
    }
    match Node::Map(root).into_value() {
        Value::Map(map) => Ok(map),
        _ => unreachable!("a map node always becomes a map value"),
    }
}

/// Where the walk in [`unflatten`] currently is.
enum RootOrNode<'a> {
    Root(&'a mut Vec<(String, Node)>),
    Node(&'a mut Node),
}

/// The node for the next step, as the step after it needs it.
fn empty_node(next: Option<&Token<'_>>) -> Node {
    match next {
        None => Node::Leaf(Value::Null),
        Some(Token::Key(_)) => Node::Map(Vec::new()),
        Some(Token::Index(_)) => Node::List(Vec::new()),
    }
}

fn map_child<'a>(
    entries: &'a mut Vec<(String, Node)>,
    key: &str,
    next: Option<&Token<'_>>,
) -> &'a mut Node {
    let at = match entries.iter().position(|(k, _)| k == key) {
        Some(at) => at,
        None => {
            entries.push((key.to_string(), empty_node(next)));
            entries.len() - 1
        }
    };
    &mut entries[at].1
}

/// Helpers shared by the store tests: the vector files and the real sops
/// binary as an oracle.
#[cfg(test)]
pub(super) mod test_support {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// Public key of the throwaway test identity A.
    pub(crate) const RECIPIENT_A: &str =
        "age1s57gtcmp6dt42ctny6gcgwsf3fgjd32mjzksulrggvqfzrk65aksxmwzle";

    /// A path under `tests/data/vectors`.
    pub(crate) fn vector_path(rel: &str) -> PathBuf {
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/vectors"
        ))
        .join(rel)
    }

    /// The bytes of a vector file.
    pub(crate) fn vector(rel: &str) -> Vec<u8> {
        let path = vector_path(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    fn sops(dir: &Path, args: &[&str]) -> std::process::Output {
        Command::new(crate::test_tools::sops())
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("HOME", dir)
            .env("PATH", "/usr/bin:/bin")
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env("SOPS_AGE_KEY_FILE", vector_path("keys/age-test-key-A.txt"))
            .output()
            .expect("run sops")
    }

    /// Encrypts `input` (a file named `in.<ext>`) with real sops to key A and
    /// returns `(encrypted file, sops decrypt output)`.
    pub(crate) fn sops_round_trip(ext: &str, input: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = format!("in.{ext}");
        let enc = format!("enc.{ext}");
        std::fs::write(dir.path().join(&plain), input).expect("write input");
        let out = sops(dir.path(), &["encrypt", "--age", RECIPIENT_A, &plain]);
        assert!(
            out.status.success(),
            "sops encrypt failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(dir.path().join(&enc), &out.stdout).expect("write encrypted");
        let dec = sops(dir.path(), &["decrypt", &enc]);
        assert!(
            dec.status.success(),
            "sops decrypt failed: {}",
            String::from_utf8_lossy(&dec.stderr)
        );
        (out.stdout, dec.stdout)
    }

    /// What real sops reads from the plaintext file `in.<ext>`: its
    /// encryption with every value left unencrypted, as JSON.
    pub(crate) fn sops_reads(ext: &str, input: &[u8]) -> Vec<u8> {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = format!("in.{ext}");
        std::fs::write(dir.path().join(&plain), input).expect("write input");
        let out = sops(
            dir.path(),
            &[
                "encrypt",
                "--age",
                RECIPIENT_A,
                "--unencrypted-regex",
                ".*",
                "--output-type",
                "json",
                &plain,
            ],
        );
        assert!(
            out.status.success(),
            "sops encrypt failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Does real sops accept `input` as a plaintext file `in.<ext>`?
    pub(crate) fn sops_accepts(ext: &str, input: &[u8]) -> bool {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = format!("in.{ext}");
        std::fs::write(dir.path().join(&plain), input).expect("write input");
        sops(dir.path(), &["encrypt", "--age", RECIPIENT_A, &plain])
            .status
            .success()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::vector;
    use super::*;

    fn s(text: &str) -> Value {
        Value::Str(text.to_string())
    }

    fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(Map {
            items: entries
                .into_iter()
                .map(|(k, v)| Item::Entry(k.to_string(), v))
                .collect(),
        })
    }

    const ENC: &str =
        "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n";

    /// A metadata tree shaped like the one sops writes for key groups.
    fn key_group_metadata() -> Map {
        let group = |r: &str| {
            map(vec![
                ("hc_vault", Value::Null),
                (
                    "age",
                    Value::List(vec![map(vec![("recipient", s(r)), ("enc", s(ENC))])]),
                ),
            ])
        };
        Map {
            items: vec![
                Item::Entry("shamir_threshold".into(), Value::Int(2)),
                Item::Entry(
                    "key_groups".into(),
                    Value::List(vec![group("age1a"), group("age1b")]),
                ),
                Item::Entry("lastmodified".into(), s("2026-11-26T02:37:40Z")),
                Item::Entry("mac".into(), s("ENC[AES256_GCM,data:x,type:str]")),
                Item::Entry("mac_only_encrypted".into(), Value::Bool(true)),
                Item::Entry("version".into(), s("3.11.0")),
            ],
        }
    }

    #[test]
    fn flattens_key_groups_like_sops() {
        let flat = flatten(&key_group_metadata());
        let keys: Vec<&str> = flat.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "key_groups__list_0__map_age__list_0__map_enc",
                "key_groups__list_0__map_age__list_0__map_recipient",
                "key_groups__list_1__map_age__list_0__map_enc",
                "key_groups__list_1__map_age__list_0__map_recipient",
                "lastmodified",
                "mac",
                "mac_only_encrypted",
                "shamir_threshold",
                "version",
            ]
        );
        let get = |k: &str| {
            flat.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            get("key_groups__list_0__map_age__list_0__map_enc"),
            Some("-----BEGIN AGE ENCRYPTED FILE-----\\nYWdl\\n-----END AGE ENCRYPTED FILE-----\\n")
        );
        assert_eq!(get("shamir_threshold"), Some("2"));
        assert_eq!(get("mac_only_encrypted"), Some("true"));
    }

    #[test]
    fn unflatten_reverses_flatten() {
        let flat = flatten(&key_group_metadata());
        let back = unflatten(flat.into_iter().map(|(k, v)| (k, Value::Str(v))).collect())
            .expect("unflatten");
        let groups = match back.get("key_groups") {
            Some(Value::List(groups)) => groups,
            other => panic!("key_groups: {other:?}"),
        };
        assert_eq!(groups.len(), 2);
        let Value::Map(group) = &groups[1] else {
            panic!("group is not a map")
        };
        // hc_vault was null and is gone; the age entry is complete.
        assert_eq!(group.get("hc_vault"), None);
        let Some(Value::List(age)) = group.get("age") else {
            panic!("no age list")
        };
        assert_eq!(
            age[0],
            map(vec![("enc", s(ENC)), ("recipient", s("age1b"))])
        );
        assert_eq!(back.get("shamir_threshold"), Some(&s("2")));
        assert_eq!(back.get("mac_only_encrypted"), Some(&s("true")));
        assert_eq!(back.get("version"), Some(&s("3.11.0")));
    }

    #[test]
    fn matches_the_metadata_lines_of_dotenv_basic() {
        let file = String::from_utf8(vector("cases/dotenv-basic/encrypted.env")).unwrap();
        let lines: Vec<(String, String)> = file
            .lines()
            .filter_map(|l| l.strip_prefix("sops_"))
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        assert_eq!(lines.len(), 6);
        let tree = unflatten(lines.iter().map(|(k, v)| (k.clone(), s(v))).collect()).unwrap();
        let Some(Value::List(age)) = tree.get("age") else {
            panic!("no age list")
        };
        let Value::Map(entry) = &age[0] else { panic!() };
        let Some(Value::Str(enc)) = entry.get("enc") else {
            panic!()
        };
        assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl"));
        assert!(enc.ends_with("\n-----END AGE ENCRYPTED FILE-----\n"));
        // Flattening the rebuilt tree gives back exactly sops' lines.
        assert_eq!(flatten(&tree), lines);
    }

    #[test]
    fn unflatten_accepts_any_order_and_fills_list_holes() {
        let tree = unflatten(vec![
            ("age__list_1__map_recipient".into(), s("b")),
            ("version".into(), s("3.11.0")),
            ("age__list_0__map_recipient".into(), s("a")),
            ("age__list_3__map_recipient".into(), s("d")),
        ])
        .unwrap();
        let Some(Value::List(age)) = tree.get("age") else {
            panic!()
        };
        assert_eq!(age.len(), 4);
        assert_eq!(age[0], map(vec![("recipient", s("a"))]));
        assert_eq!(age[2], Value::Null);
        assert_eq!(tree.get("version"), Some(&s("3.11.0")));
    }

    #[test]
    fn unflatten_rejects_conflicts_and_bad_indexes() {
        let conflict = unflatten(vec![
            ("age".into(), s("x")),
            ("age__list_0__map_enc".into(), s("y")),
        ]);
        assert!(matches!(conflict, Err(Error::InvalidMetadata(m)) if m.contains("conflicts")));
        let reverse = unflatten(vec![
            ("age__list_0__map_enc".into(), s("y")),
            ("age".into(), s("x")),
        ]);
        assert!(matches!(reverse, Err(Error::InvalidMetadata(_))));
        let mixed = unflatten(vec![
            ("age__list_0".into(), s("y")),
            ("age__map_x".into(), s("x")),
        ]);
        assert!(matches!(mixed, Err(Error::InvalidMetadata(_))));
        let bad = unflatten(vec![("age__list_x__map_enc".into(), s("y"))]);
        assert!(matches!(bad, Err(Error::InvalidMetadata(m)) if m.contains("list index")));
        let huge = unflatten(vec![("age__list_99999999999__map_enc".into(), s("y"))]);
        assert!(matches!(huge, Err(Error::InvalidMetadata(_))));
    }

    #[test]
    fn empty_branches_and_nulls_are_dropped() {
        let meta = Map {
            items: vec![
                Item::Entry("hc_vault".into(), Value::List(vec![])),
                Item::Entry("kms".into(), Value::Null),
                Item::Entry("x".into(), map(vec![])),
                Item::Entry("version".into(), s("3.11.0")),
            ],
        };
        assert_eq!(
            flatten(&meta),
            vec![("version".to_string(), "3.11.0".to_string())]
        );
    }

    /// Fuzz finding (`tests/data/fuzz/metadata-ini-multibyte-key`, first
    /// byte the target's store selector): a metadata key with a multi-byte
    /// character (`Ҡ=` in `[sops]`) panicked: the key was sliced inside the
    /// character while looking for `__map_`/`__list_`.
    #[test]
    fn multibyte_keys_do_not_panic() {
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/metadata-ini-multibyte-key"
        ))
        .unwrap();
        let parsed = crate::store::parse_encrypted(crate::Format::Ini, &input[1..]);
        assert!(parsed.is_ok(), "{parsed:?}");
        let tree = unflatten(vec![
            ("Ҡ".into(), s("a")),
            ("age__list_0__map_rҠcipient".into(), s("b")),
            ("é__map_ü".into(), s("c")),
        ])
        .unwrap();
        assert_eq!(tree.get("Ҡ"), Some(&s("a")));
        let Some(Value::Map(m)) = tree.get("é") else {
            panic!("{tree:?}")
        };
        assert_eq!(m.get("ü"), Some(&s("c")));
        let dotenv = crate::store::parse_encrypted(crate::Format::Dotenv, "sops_Ҡ=x\n".as_bytes());
        assert!(dotenv.is_ok(), "{dotenv:?}");
    }
}
