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
    while i < bytes.len() {
        let rest = &path[i..];
        if rest.starts_with(MAP_SEPARATOR) {
            ends.push(i);
            i += MAP_SEPARATOR.len();
            steps.push((i, false));
        } else if rest.starts_with(LIST_SEPARATOR) {
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
