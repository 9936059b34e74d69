//! One parser/emitter per sops store. No crypto here.
//!
//! Every store turns bytes into a list of documents ([`Map`]s) and back.
//! Encrypted files carry their metadata as a `sops` entry (YAML, JSON, the
//! binary envelope), as `sops_*` keys (dotenv) or as a `[sops]` section
//! (INI); [`parse_encrypted`] and [`emit_encrypted`] handle that layer the
//! same way for all of them, so the per-format modules only know their syntax.

pub(crate) mod dotenv;
pub(crate) mod flatten;
pub(crate) mod ini;
pub(crate) mod json;
pub(crate) mod yaml;

use crate::error::{Error, Result};
use crate::format::Format;
use crate::tree::{Item, Map, Value};

/// The key under which metadata lives.
pub(crate) const METADATA_KEY: &str = "sops";

/// Output layout settings (`stores:` in `.sops.yaml`, or `--indent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// YAML indentation in spaces (sops default 4).
    pub yaml_indent: usize,
    /// JSON indentation: `None` is a tab (sops' default), `Some(n)` n spaces.
    pub json_indent: Option<usize>,
    /// Indentation of the binary store's JSON envelope.
    pub json_binary_indent: Option<usize>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            yaml_indent: 4,
            json_indent: None,
            json_binary_indent: None,
        }
    }
}

/// Parses a plaintext file into its documents.
pub fn parse(format: Format, input: &[u8]) -> Result<Vec<Map>> {
    match format {
        Format::Yaml => yaml::parse(input),
        Format::Json => Ok(vec![json::parse(input)?]),
        Format::Dotenv => Ok(vec![dotenv::parse(input)?]),
        Format::Ini => Ok(vec![ini::parse(input)?]),
        Format::Binary => {
            let value = match String::from_utf8(input.to_vec()) {
                Ok(s) => Value::Str(s),
                Err(e) => Value::Bytes(e.into_bytes()),
            };
            Ok(vec![Map {
                items: vec![Item::Entry("data".into(), value)],
            }])
        }
    }
}

/// Writes plaintext documents in a store's format.
pub fn emit(format: Format, docs: &[Map], opts: &StoreOptions) -> Result<Vec<u8>> {
    match format {
        Format::Yaml => yaml::emit(docs, opts.yaml_indent),
        Format::Json => json::emit(first(docs), opts.json_indent),
        Format::Dotenv => dotenv::emit(first(docs)),
        Format::Ini => ini::emit(first(docs)),
        Format::Binary => match first(docs).get("data") {
            Some(Value::Str(s)) => Ok(s.as_bytes().to_vec()),
            Some(Value::Bytes(b)) => Ok(b.clone()),
            _ => Err(Error::Emit {
                format,
                message: "no binary data found in tree (the tree has no `data` string: write it in another format)"
                    .into(),
            }),
        },
    }
}

/// Writes one value (for `--extract`) as the store prints it.
pub fn emit_value(format: Format, value: &Value, opts: &StoreOptions) -> Result<Vec<u8>> {
    match value {
        // A string leaf is printed raw in every store.
        Value::Str(s) => return Ok(s.as_bytes().to_vec()),
        Value::Bytes(b) => return Ok(b.clone()),
        Value::Map(m) => return emit(format, std::slice::from_ref(m), opts),
        _ => {}
    }
    match format {
        Format::Yaml => yaml::emit_value(value, opts.yaml_indent),
        Format::Json => json::emit_value(value, opts.json_indent),
        _ => Err(Error::Emit {
            format,
            message: "only strings and maps can be extracted to this format".into(),
        }),
    }
}

fn first(docs: &[Map]) -> &Map {
    static EMPTY: Map = Map { items: Vec::new() };
    docs.first().unwrap_or(&EMPTY)
}

/// Does the first document carry sops metadata? This is sops' check before
/// encrypting: a top-level `sops` key, or for dotenv any `sops_` key.
pub(crate) fn has_metadata(format: Format, docs: &[Map]) -> bool {
    let doc = first(docs);
    match format {
        Format::Dotenv => doc.entries().any(|(k, _)| k.starts_with("sops_")),
        _ => doc.get(METADATA_KEY).is_some(),
    }
}

/// Parses an encrypted file: its documents without the metadata, and the
/// metadata in tree form (see `metadata::Metadata::from_tree`).
pub fn parse_encrypted(format: Format, input: &[u8]) -> Result<(Vec<Map>, Map)> {
    let mut docs = match format {
        // The binary store's encrypted form is a JSON envelope.
        Format::Binary | Format::Json => vec![json::parse_strict(input)?],
        _ => parse(format, input)?,
    };
    let metadata = match format {
        Format::Dotenv => {
            let doc = &mut docs[0];
            let mut flat = Vec::new();
            doc.items.retain(|item| match item {
                Item::Entry(k, v) if k.starts_with("sops_") => {
                    flat.push((k["sops_".len()..].to_string(), v.clone()));
                    false
                }
                _ => true,
            });
            if flat.is_empty() {
                return Err(Error::MetadataNotFound);
            }
            fold_field_names(flatten::unflatten(flat)?, Fold::ExactWins)
        }
        Format::Ini => match docs[0].remove(METADATA_KEY) {
            // Sections may repeat in INI. sops 3.11 reads the metadata from
            // the first `[sops]` section and then cannot handle another one:
            // it panics, or keeps it as data and fails to decrypt its
            // values. Read back, the leftover would hide the metadata nsec
            // writes after it, so such a file is refused.
            Some(_) if docs[0].get(METADATA_KEY).is_some() => {
                return Err(Error::InvalidMetadata(
                    "more than one `[sops]` section".into(),
                ))
            }
            Some(Value::Map(section)) => fold_field_names(
                flatten::unflatten(
                    section
                        .items
                        .into_iter()
                        .filter_map(|item| match item {
                            // go-ini names the keys `- = v` as `#1`, `#2`, …:
                            // no metadata field (sops ignores them), and no
                            // key INI can write back.
                            Item::Entry(k, _) if k.starts_with('#') => None,
                            Item::Entry(k, v) => Some((k, v)),
                            Item::Comment(_) => None,
                        })
                        .collect(),
                )?,
                Fold::ExactWins,
            ),
            _ => return Err(Error::MetadataNotFound),
        },
        _ => {
            // Metadata is read from the first document only; later YAML
            // documents repeat it (or not) and it is dropped there.
            let meta = match docs.first_mut().and_then(|d| d.remove(METADATA_KEY)) {
                Some(Value::Map(m)) => m,
                Some(_) => return Err(Error::InvalidMetadata("`sops` is not a map".into())),
                None => return Err(Error::MetadataNotFound),
            };
            for doc in docs.iter_mut().skip(1) {
                doc.remove(METADATA_KEY);
            }
            match format {
                // sops reads the metadata of a JSON file with Go's
                // encoding/json, whose field names match whatever the case
                // (`"lastModified"` is `lastmodified`, the last one wins);
                // go-yaml matches them exactly.
                Format::Json | Format::Binary => fold_field_names(meta, Fold::LastWins),
                _ => meta,
            }
        }
    };
    Ok((docs, metadata))
}

/// Which of two metadata keys that differ only in case counts.
#[derive(Clone, Copy)]
enum Fold {
    /// The later one (Go's encoding/json, for JSON files).
    LastWins,
    /// The one written exactly as the field, else the first (the
    /// mapstructure decoding sops uses for dotenv and INI metadata).
    ExactWins,
}

/// The metadata tree with every map key in lower case, as sops matches its
/// metadata struct fields whatever their case.
fn fold_field_names(map: Map, fold: Fold) -> Map {
    let fold_value = |v: Value| -> Value {
        match v {
            Value::Map(m) => Value::Map(fold_field_names(m, fold)),
            Value::List(items) => Value::List(
                items
                    .into_iter()
                    .map(|i| match i {
                        Value::Map(m) => Value::Map(fold_field_names(m, fold)),
                        other => other,
                    })
                    .collect(),
            ),
            other => other,
        }
    };
    let mut out = Map::new();
    let mut exact = std::collections::HashSet::new();
    for item in map.items {
        if let Item::Entry(k, v) = item {
            let mut lower = k.to_ascii_lowercase();
            // A key that only lower case makes a flattened path (`__LIST_`
            // is `__list_`) matches no field; folded, dotenv and INI would
            // write it as a path that does not read back.
            if flatten::has_separator(&lower) && !flatten::has_separator(&k) {
                lower = k.clone();
            }
            let is_exact = lower == k;
            let keep = match fold {
                Fold::LastWins => true,
                Fold::ExactWins => {
                    is_exact || (!exact.contains(&lower) && out.get(&lower).is_none())
                }
            };
            if keep {
                if is_exact {
                    exact.insert(lower.clone());
                }
                out.insert(lower, fold_value(v));
            }
        }
    }
    out
}

/// Whether a list of the document holds a plaintext comment item: the
/// layouts go-yaml can write so that they do not read back (finding 19).
/// In an encrypted file such comments are normally `ENC[…type:comment]`
/// strings; they stay comments only when the selector leaves them
/// plaintext, so the check below costs ordinary files nothing.
pub(crate) fn has_list_comments(map: &Map) -> bool {
    fn value(v: &Value, in_list: bool) -> bool {
        match v {
            Value::Comment(_) => in_list,
            Value::Map(m) => has_list_comments(m),
            Value::List(items) => items.iter().any(|i| value(i, true)),
            _ => false,
        }
    }
    map.items.iter().any(|item| match item {
        Item::Comment(_) => false,
        Item::Entry(_, v) => value(v, false),
    })
}

/// [`emit_encrypted`] in parts to be written one after the other: a large
/// YAML document is written by two threads whose texts are not joined in
/// memory.
pub fn emit_encrypted_parts(
    format: Format,
    docs: &[Map],
    metadata: &Map,
    opts: &StoreOptions,
) -> Result<Vec<Vec<u8>>> {
    // A document with comments in lists is read back before it is written
    // (see `emit_encrypted`): that needs it in one piece.
    if format != Format::Yaml || docs.iter().any(has_list_comments) {
        return Ok(vec![emit_encrypted(format, docs, metadata, opts)?]);
    }
    let entry = Item::Entry(METADATA_KEY.into(), Value::Map(metadata.clone()));
    yaml::emit_with_parts(docs, Some(&entry), opts.yaml_indent)
}

/// Writes encrypted documents with their metadata (in tree form).
pub fn emit_encrypted(
    format: Format,
    docs: &[Map],
    metadata: &Map,
    opts: &StoreOptions,
) -> Result<Vec<u8>> {
    let sops = Value::Map(metadata.clone());
    match format {
        Format::Yaml => {
            let entry = Item::Entry(METADATA_KEY.into(), sops);
            let out = yaml::emit_with(docs, Some(&entry), opts.yaml_indent)?;
            // go-yaml, and so sops, places comments on some odd layouts (a
            // comment line between a nested list item and a flow sequence
            // item) so that the file does not read back: fuzz finding 19.
            // nsec writes sops' bytes, but refuses a file that would not
            // read back rather than lose the secrets in it. Only comment
            // items in lists do this, so only such files are read back.
            if docs.iter().any(has_list_comments) {
                if let Err(e) = yaml::parse(&out) {
                    return Err(Error::Emit {
                        format,
                        message: format!(
                            "the comments of this document would be written where YAML cannot read them back ({e}), as sops would write them; move or remove the comments between list items, then try again"
                        ),
                    });
                }
            }
            Ok(out)
        }
        Format::Json => json::emit_with(first(docs), Some((METADATA_KEY, &sops)), opts.json_indent),
        Format::Binary => json::emit_with(
            first(docs),
            Some((METADATA_KEY, &sops)),
            opts.json_binary_indent,
        ),
        Format::Dotenv => {
            let mut doc = first(docs).clone();
            let mut flat = flatten::flatten(metadata);
            flat.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, v) in flat {
                doc.items
                    .push(Item::Entry(format!("sops_{k}"), Value::Str(v)));
            }
            dotenv::emit(&doc)
        }
        Format::Ini => {
            // The metadata section would follow the document's own, and the
            // file would read back with that one as metadata.
            if first(docs).get(METADATA_KEY).is_some() {
                return Err(Error::Emit {
                    format: Format::Ini,
                    message:
                        "the document has a `[sops]` section of its own, where the metadata goes"
                            .into(),
                });
            }
            let mut doc = first(docs).clone();
            let section = Map {
                items: flatten::flatten(metadata)
                    .into_iter()
                    .map(|(k, v)| Item::Entry(k, Value::Str(v)))
                    .collect(),
            };
            doc.items
                .push(Item::Entry(METADATA_KEY.into(), Value::Map(section)));
            ini::emit(&doc)
        }
    }
}

#[cfg(test)]
mod fuzz_regressions {
    use super::*;
    use crate::metadata::Metadata;

    /// Fuzz finding (`tests/data/fuzz/metadata-dotenv-key-folded-into-a-path`,
    /// first byte the target's store selector): the unknown metadata key
    /// `__liSt_` (`sops___liSt_=`) was folded to lower case as field names
    /// are, and written back as `sops___list_=`, which reads as a broken
    /// list path. A key that folding would turn into a path is kept as is
    /// (no sops field has `__` in its name; sops ignores such keys).
    #[test]
    fn keys_are_not_folded_into_paths() {
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/metadata-dotenv-key-folded-into-a-path"
        ))
        .unwrap();
        let (docs, meta) = parse_encrypted(Format::Dotenv, &input[1..]).unwrap();
        assert!(meta.get("__liSt_").is_some(), "{meta:?}");
        let out = emit_encrypted(Format::Dotenv, &docs, &meta, &StoreOptions::default()).unwrap();
        let (_, back) = parse_encrypted(Format::Dotenv, &out).unwrap();
        for (key, value) in meta.entries() {
            assert_eq!(back.get(key), Some(value), "{key}");
        }
        // Field names are still folded.
        let (_, meta) = parse_encrypted(Format::Dotenv, b"sops_VERSION=3.11.0\n").unwrap();
        assert_eq!(meta.get("version"), Some(&Value::Str("3.11.0".into())));
    }

    /// Fuzz finding 20 (`tests/data/fuzz/metadata-yaml-comment-after-complex-key`):
    /// an unknown metadata field whose value is a list of maps with line
    /// comments. The first write put a comment at the start of the list,
    /// which YAML writes after the `:` of a long (`? …`) key, where it reads
    /// back as the metadata map's own comment, which nsec does not keep
    /// (sops keeps no metadata comment at all): the second write lost it.
    /// Unknown metadata fields are now kept without their comments, so a
    /// write and a read give the same bytes again.
    #[test]
    fn unknown_metadata_fields_keep_no_comments() {
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/metadata-yaml-comment-after-complex-key"
        ))
        .unwrap();
        let opts = StoreOptions::default();
        let (docs, meta) = parse_encrypted(Format::Yaml, &input[1..]).unwrap();
        let metadata = Metadata::from_tree(&meta).unwrap();
        let once =
            emit_encrypted(Format::Yaml, &docs, &metadata.to_tree(Format::Yaml), &opts).unwrap();
        let (docs, meta) = parse_encrypted(Format::Yaml, &once).unwrap();
        let again = Metadata::from_tree(&meta).unwrap();
        assert_eq!(again.unknown, metadata.unknown);
        let twice =
            emit_encrypted(Format::Yaml, &docs, &again.to_tree(Format::Yaml), &opts).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&once),
            String::from_utf8_lossy(&twice)
        );
        let sops = String::from_utf8_lossy(&once);
        let metadata_text = &sops[sops.find("\nsops:").unwrap()..];
        assert!(!metadata_text.contains('#'), "{metadata_text}");
    }

    /// Reads the metadata of the INI fuzz input `tests/data/fuzz/NAME` (first
    /// byte the target's store selector), writes it, reads it back (the same
    /// metadata) and writes it again (the same bytes); returns the metadata
    /// and the file written.
    fn ini_metadata_round_trip(name: &str) -> (Map, String) {
        let path = format!(
            "{}/../../tests/data/fuzz/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let input = std::fs::read(path).unwrap();
        let (_, meta) = parse_encrypted(Format::Ini, &input[1..]).unwrap();
        let opts = StoreOptions::default();
        let once = emit_encrypted(Format::Ini, &[Map::new()], &meta, &opts).unwrap();
        let (docs, back) = parse_encrypted(Format::Ini, &once).unwrap();
        // (Written sorted by key, as sops writes flattened metadata: compared
        // flattened.)
        assert_eq!(flatten::flatten(&back), flatten::flatten(&meta));
        let twice = emit_encrypted(Format::Ini, &docs, &back, &opts).unwrap();
        assert_eq!(twice, once);
        (meta, String::from_utf8(once).unwrap())
    }

    /// Fuzz finding 15's original input
    /// (`tests/data/fuzz/metadata-ini-value-ends-in-backslash-original`): an
    /// INI file whose `[sops]` section holds values go-ini cannot write as
    /// they are (one ending in `\`, one with a backquote and line breaks).
    /// (The INI writer's part is
    /// `ini::fuzz_regressions::names_and_values_are_quoted_so_they_read_back`.)
    #[test]
    fn ini_metadata_values_round_trip() {
        let (meta, _) = ini_metadata_round_trip("metadata-ini-value-ends-in-backslash-original");
        // The unknown field `sops_age` (a dotenv-style name in INI) holds an
        // `enc` ending in `\`.
        let enc = match meta.get("sops_age") {
            Some(Value::List(list)) => match Value::list_values(list).next() {
                Some(Value::Map(group)) => group.get("enc"),
                _ => None,
            },
            _ => None,
        };
        assert!(
            matches!(enc, Some(Value::Str(s)) if s.ends_with('\\')),
            "{meta:?}"
        );
    }

    /// Fuzz finding (`tests/data/fuzz/metadata-ini-key-with-backquote-and-quote`):
    /// the unknown `[sops]` key ``c`"`` was written as go-ini writes it,
    /// `` `c`"` ``, which reads back as the key `c`; in `"` or `"""` it does
    /// not read back either, so the file was refused. Written bare it reads
    /// back (in sops 3.11 too:
    /// `ini::fuzz_regressions::names_and_values_are_quoted_so_they_read_back`).
    #[test]
    fn ini_metadata_keys_round_trip() {
        let (meta, written) = ini_metadata_round_trip("metadata-ini-key-with-backquote-and-quote");
        assert!(meta.get("c`\"").is_some(), "{meta:?}");
        assert!(written.contains("\nc`\" "), "{written}");
    }

    /// Fuzz finding (`tests/data/fuzz/metadata-ini-auto-increment-key`, first
    /// byte the target's store selector): `-:` in `[sops]` is go-ini's
    /// auto-increment key `#1`; kept as an unknown metadata field, it made
    /// the file unwritable (a key starting with `#` reads as a comment).
    /// sops ignores it, and so does nsec now.
    #[test]
    fn auto_increment_keys_are_no_metadata() {
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/metadata-ini-auto-increment-key"
        ))
        .unwrap();
        let (docs, meta) = parse_encrypted(Format::Ini, &input[1..]).unwrap();
        assert!(meta.entries().all(|(k, _)| !k.starts_with('#')), "{meta:?}");
        emit_encrypted(Format::Ini, &docs, &meta, &StoreOptions::default()).unwrap();
    }

    /// Fuzz finding (`tests/data/fuzz/metadata-ini-two-sops-sections`, first
    /// byte the target's store selector): a damaged INI file with a second
    /// `[sops]` section. The metadata was read from the first, the second
    /// stayed in the document, and the file written back had two `[sops]`
    /// sections again, the stale one first: "no keys found". sops 3.11
    /// cannot read such a file either (it panics or fails to decrypt the
    /// leftover section), so nsec refuses it, and never writes one.
    #[test]
    fn a_second_sops_section_is_refused() {
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/metadata-ini-two-sops-sections"
        ))
        .unwrap();
        let err = parse_encrypted(Format::Ini, &input[1..]).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidMetadata(m) if m == "more than one `[sops]` section"),
            "{err}"
        );

        let file = b"[s]\nk = v\n\n[sops]\nversion = 3.11.0\n\n[sops]\nversion = 3.11.0\n";
        let err = parse_encrypted(Format::Ini, file).unwrap_err();
        assert!(matches!(err, Error::InvalidMetadata(_)), "{err}");
        // One `[sops]` section reads as before.
        let (docs, meta) = parse_encrypted(Format::Ini, &file[..file.len() - 25]).unwrap();
        assert_eq!(meta.get("version"), Some(&Value::Str("3.11.0".into())));
        assert!(docs[0].get(METADATA_KEY).is_none());

        // A document with a `sops` section is not written with metadata.
        let doc = parse(Format::Ini, file).unwrap();
        let err = emit_encrypted(Format::Ini, &doc, &meta, &StoreOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("`[sops]` section of its own"),
            "{err}"
        );
    }
}
