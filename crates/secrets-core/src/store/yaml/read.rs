//! Reading: builds sops' tree from the parser events (from `fast` or
//! granit-parser) as go-yaml v3 decodes a document into `interface{}`
//! (`decode.go`: anchors and aliases with its alias budget, the merge key
//! `<<`, duplicate keys, documents that must be mappings), with sops'
//! node-to-tree conversion (`stores/yaml/store.go`). Where each comment
//! goes is [`super::comments`]' job; what a scalar means is
//! [`super::resolve`]'s.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;

use hashbrown::HashTable;

use granit_parser::{Event, ScalarStyle, Span, StructureStyle};

use super::comments::{dash_col, item_dash_line, Pending};
use super::resolve::{resolve_node, CORE_TAG};
use super::{at, parse_error};
use crate::error::{Error, Result};
use crate::gofmt;
use crate::tree::{Item, Map, Value};

/// When the text ends in a line with content but no line break: the
/// position (in characters) of its end.
fn unterminated_last_line(text: &str) -> Option<usize> {
    let last = text.rsplit('\n').next()?;
    (!text.ends_with('\n') && !last.trim_matches([' ', '\t']).is_empty())
        .then(|| text.chars().count())
}

/// Builds the documents from a stream of parser events.
pub(super) fn build<'a>(
    text: &str,
    next_event: impl FnMut() -> Option<Result<(Event<'a>, Span)>>,
) -> Result<Vec<Map>> {
    build_reporting(text, next_event).map(|(docs, _)| docs)
}

/// [`build`], also telling whether comments were still waiting for their
/// place when a document ended: where they go then depends on what
/// follows, so `split` cannot cut the text there.
pub(super) fn build_reporting<'a>(
    text: &str,
    mut next_event: impl FnMut() -> Option<Result<(Event<'a>, Span)>>,
) -> Result<(Vec<Map>, bool)> {
    let mut comments_at_end = false;
    let mut builder = Builder {
        unterminated_end: unterminated_last_line(text),
        ..Builder::default()
    };
    // Events read ahead to place comments at the end of collections.
    let mut queue: VecDeque<(Event<'a>, Span)> = VecDeque::new();
    loop {
        let (event, span) = match queue.pop_front() {
            Some(next) => next,
            None => match next_event() {
                Some(next) => next?,
                None => break,
            },
        };
        let is_end = matches!(event, Event::MappingEnd | Event::SequenceEnd);
        if is_end && !builder.pending.is_empty() && builder.plan_left == 0 {
            // Look past the run of collection ends to the next node (or the
            // document end): where the comments go depends on it.
            let mut ends = 1;
            let mut i = 0;
            loop {
                if i == queue.len() {
                    match next_event() {
                        Some(next) => queue.push_back(next?),
                        None => break,
                    }
                }
                match queue[i].0 {
                    Event::MappingEnd | Event::SequenceEnd => ends += 1,
                    Event::Comment(..) => {}
                    _ => break,
                }
                i += 1;
            }
            let next_col = match queue.get(i) {
                Some((Event::DocumentEnd | Event::StreamEnd | Event::DocumentStart(..), _))
                | None => None,
                Some((_, span)) => Some(span.start.col()),
            };
            comments_at_end |= next_col.is_none();
            builder.plan_comments(ends, next_col);
        }
        match event {
            Event::SequenceStart(style, ..) => {
                if style == StructureStyle::Block {
                    builder.dash_col = Some(dash_col(text, &span));
                }
                builder.item_dash_line = item_dash_line(text, &span);
            }
            Event::MappingStart(..) => builder.item_dash_line = item_dash_line(text, &span),
            _ => {}
        }
        builder.event(event, span)?;
    }
    if builder.docs.is_empty() {
        return Err(Error::EmptyFile);
    }
    Ok((builder.docs, comments_at_end))
}

/// A collection being built.
pub(super) enum Frame {
    Map {
        items: Vec<Item>,
        /// The key whose value is being read, with its line and whether it
        /// is the merge key `<<`.
        key: Option<(String, usize, bool)>,
        /// The line of every key so far, in order (for duplicate errors).
        key_lines: Vec<usize>,
        /// Once the map is large, its entries as (index in `items`, line
        /// of the key), found by the hash of the key (duplicate detection;
        /// small maps are scanned). The keys are not copied: the table
        /// looks them up in `items`.
        seen: HashTable<(usize, usize)>,
        /// Line on which the last entry's value ended.
        last_line: usize,
        /// Whether the last entry's value was a flow collection.
        last_flow: bool,
        col: usize,
        flow: bool,
        anchor: usize,
    },
    Seq {
        items: Vec<Value>,
        last_line: usize,
        col: usize,
        flow: bool,
        anchor: usize,
    },
}

/// Maps up to this many entries find duplicate keys by scanning.
const SMALL_MAP: usize = 32;

#[derive(Default)]
pub(super) struct Builder {
    pub(super) stack: Vec<Frame>,
    /// Hashes map keys for duplicate detection. Keys come from whatever
    /// file is read, so this stays std's randomly keyed SipHash: with a
    /// fast unkeyed hash, a file of colliding keys would make reading it
    /// quadratic.
    pub(super) key_hasher: std::collections::hash_map::RandomState,
    pub(super) anchors: HashMap<usize, Value>,
    pub(super) pending: Vec<Pending>,
    pub(super) docs: Vec<Map>,
    /// The root of the current document, once complete.
    pub(super) root: Option<Map>,
    pub(super) in_document: bool,
    /// Collection ends still to come in the run `plan_comments` planned for.
    pub(super) plan_left: usize,
    /// Which level of that run is closing next.
    pub(super) plan_level: usize,
    /// Nodes copied so far by expanding aliases (see [`MAX_ALIAS_NODES`]).
    pub(super) alias_nodes: usize,
    /// The scalar being completed is the merge key (plain `<<`).
    pub(super) merge_key: bool,
    /// See [`unterminated_last_line`].
    pub(super) unterminated_end: Option<usize>,
    /// The dash column of the block list whose start is handled next
    /// (see [`dash_col`]).
    pub(super) dash_col: Option<usize>,
    /// The line of the list item's `-` before that list (see
    /// [`item_dash_line`]).
    pub(super) item_dash_line: Option<usize>,
}

/// How many nodes alias expansion may copy in one file. Aliases of aliases
/// grow exponentially ("billion laughs"): a few lines could exhaust memory,
/// and the parser runs on files from anyone before any key is checked.
const MAX_ALIAS_NODES: usize = 1_000_000;

/// The number of nodes in a value (for the alias budget).
fn node_count(v: &Value) -> usize {
    match v {
        Value::Map(m) => {
            1 + m
                .items
                .iter()
                .map(|i| match i {
                    Item::Entry(_, v) => 1 + node_count(v),
                    Item::Comment(_) => 1,
                })
                .sum::<usize>()
        }
        Value::List(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<()> {
        match event {
            Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentStart(_, version) => {
                // go-yaml only accepts `%YAML 1.1` directives.
                if let Some(v) = version.filter(|v| (v.major, v.minor) != (1, 1)) {
                    return Err(parse_error(format!(
                        "{}: found incompatible YAML document (%YAML {}.{}; only 1.1 is accepted)",
                        at(&span),
                        v.major,
                        v.minor
                    )));
                }
                self.in_document = true;
                self.root = None;
                self.anchors.clear();
            }
            Event::DocumentEnd => {
                let mut root = self.root.take().unwrap_or_default();
                for c in self.pending.drain(..) {
                    root.items.push(Item::Comment(c.text));
                }
                self.docs.push(root);
                self.in_document = false;
            }
            Event::Comment(text, placement) => self.comment(text.into_owned(), placement, &span),
            Event::Scalar(mut text, style, anchor, tag) => {
                // A block scalar whose last line ends the file without a
                // line break has no final line break in go-yaml (whatever
                // its chomping); granit-parser adds one.
                if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
                    && self.unterminated_end == Some(span.end.index())
                    && text.ends_with('\n')
                {
                    text.to_mut().pop();
                }
                // An empty value is reported at the next token, but go-yaml
                // places it where it is missing: comments seen so far follow it.
                // (granit reports it as an empty-span `~`.)
                let implicit_null = style == ScalarStyle::Plain
                    && tag.is_none()
                    && (text.is_empty() || span.start.index() == span.end.index());
                if !implicit_null {
                    self.flush_pending_before_node();
                }
                // The non-specific tag `!` is no tag to go-yaml: a plain
                // `! 12` is an int and a plain `! <<` the merge key (sops
                // 3.11 checked), a quoted scalar stays a string.
                let tag = tag.filter(|t| !(t.handle().is_empty() && t.suffix() == "!"));
                // go-yaml's merge key: a plain `<<`, or one tagged `!!merge`.
                self.merge_key = text == "<<"
                    && match tag.as_deref() {
                        None => style == ScalarStyle::Plain,
                        Some(t) => t.handle() == CORE_TAG && t.suffix() == "merge",
                    };
                let value = if self.in_metadata() && !implicit_null {
                    // sops reads its metadata into typed Go fields, so a
                    // foreign key's `fp: 0000…` stays the text it is; typing
                    // it as YAML would rewrite it as `0`. Metadata::from_tree
                    // accepts text for its own numeric and boolean fields.
                    match resolve_node(&text, style, tag.as_deref(), &span)? {
                        Value::Null => Value::Null,
                        _ => Value::Str(text.to_string()),
                    }
                } else {
                    resolve_node(&text, style, tag.as_deref(), &span)?
                };
                self.complete(value, anchor, false, false, &span)?;
            }
            Event::Alias(id) => {
                self.flush_pending_before_node();
                let anchored = self
                    .anchors
                    .get(&id)
                    .ok_or_else(|| parse_error(format!("{}: unknown anchor", at(&span))))?;
                self.alias_nodes = self.alias_nodes.saturating_add(node_count(anchored));
                if self.alias_nodes > MAX_ALIAS_NODES {
                    return Err(parse_error(format!(
                        "{}: excessive aliasing (aliases would expand to more than {MAX_ALIAS_NODES} nodes)",
                        at(&span)
                    )));
                }
                let value = anchored.clone();
                self.complete(value, 0, false, false, &span)?;
            }
            Event::MappingStart(style, anchor, _) => {
                self.check_depth()?;
                self.check_key_position(&span)?;
                // A map that is a list item: comments after the item's dash
                // (on its line or below it) are head comments of its first
                // key in go-yaml, so sops keeps them in the map; the ones
                // before the dash stay in the list.
                let nested = match style {
                    StructureStyle::Block => self.split_after_dash(),
                    _ => Vec::new(),
                };
                self.flush_pending_into_seq();
                self.pending = nested;
                self.stack.push(Frame::Map {
                    items: Vec::new(),
                    key: None,
                    key_lines: Vec::new(),
                    seen: HashTable::new(),
                    last_line: span.start.line(),
                    last_flow: false,
                    col: span.start.col(),
                    flow: style == StructureStyle::Flow,
                    anchor,
                });
            }
            Event::SequenceStart(style, anchor, _) => {
                self.check_depth()?;
                self.check_key_position(&span)?;
                // In a list, comments after the item's dash (on its line, or
                // below it) belong to the nested list's first item (go-yaml),
                // the ones before it to this list.
                let nested = self.split_after_dash();
                self.flush_pending_into_seq();
                self.pending = nested;
                let col = self.dash_col.take().unwrap_or(span.start.col());
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    last_line: span.start.line(),
                    col,
                    flow: style == StructureStyle::Flow,
                    anchor,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.flush_pending_at_end();
                let (value, anchor, flow) = match self.stack.pop() {
                    Some(Frame::Map {
                        items,
                        anchor,
                        flow,
                        ..
                    }) => (Value::Map(Map { items }), anchor, flow),
                    Some(Frame::Seq {
                        items,
                        anchor,
                        flow,
                        ..
                    }) => (Value::List(items), anchor, flow),
                    None => {
                        return Err(parse_error(format!(
                            "{}: unbalanced collection end",
                            at(&span)
                        )))
                    }
                };
                self.complete(value, anchor, flow, !flow, &span)?;
            }
            // Anchor metadata events are off by default; unresolved aliases are errors.
            _ => {
                return Err(parse_error(format!(
                    "{}: unsupported YAML construct",
                    at(&span)
                )));
            }
        }
        Ok(())
    }

    /// When a collection starts as a list item: takes the pending comments
    /// that come after the item's dash (on its line or below it) out of
    /// `pending`, leaving the ones before it. Without the dash's line, the
    /// comments indented past the list's dashes are the ones after it.
    fn split_after_dash(&mut self) -> Vec<Pending> {
        let dash_line = self.item_dash_line.take();
        let keep = match self.stack.last() {
            Some(Frame::Seq { col, .. }) => {
                let col = *col;
                let after_dash = |c: &Pending| match dash_line {
                    Some(line) => c.line >= line,
                    None => c.col > col,
                };
                self.pending
                    .iter()
                    .position(after_dash)
                    .unwrap_or(self.pending.len())
            }
            _ => 0,
        };
        self.pending.drain(keep..).collect()
    }

    /// A collection may not be a mapping key (sops keys are strings).
    /// Refuses nesting deeper than [`crate::tree::MAX_DEPTH`] (the walks
    /// over the tree recurse).
    fn check_depth(&self) -> Result<()> {
        if self.stack.len() >= crate::tree::MAX_DEPTH {
            return Err(Error::TooDeep {
                limit: crate::tree::MAX_DEPTH,
            });
        }
        Ok(())
    }

    fn check_key_position(&mut self, span: &Span) -> Result<()> {
        if let Some(Frame::Map { key: None, .. }) = self.stack.last() {
            return Err(parse_error(format!(
                "{}: mapping key is not a string (non-string keys are not supported)",
                at(span)
            )));
        }
        Ok(())
    }

    /// Is the scalar being read inside a master key entry of the `sops`
    /// metadata (below `sops.pgp`, `sops.kms`, `sops.key_groups`, …)? The
    /// metadata's own fields (one level down) keep their YAML types.
    fn in_metadata(&self) -> bool {
        self.stack.len() >= 3
            && matches!(
                self.stack.first(),
                Some(Frame::Map { key: Some((k, ..)), .. }) if k == "sops"
            )
    }

    /// A node is complete: record its anchor and hand it to its parent.
    fn complete(
        &mut self,
        value: Value,
        anchor: usize,
        flow: bool,
        block_end: bool,
        span: &Span,
    ) -> Result<()> {
        let merge = std::mem::take(&mut self.merge_key);
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        // A block collection's end is reported at the next token, so no line
        // comment can trail it: remember no line for it.
        let line = if block_end { 0 } else { span.end.line() };
        let key_hasher = &self.key_hasher;
        match self.stack.last_mut() {
            Some(Frame::Map {
                items,
                key,
                key_lines,
                seen,
                last_line,
                last_flow,
                ..
            }) => match key.take() {
                None => {
                    let name = match value {
                        Value::Str(s) => s,
                        other => {
                            return Err(parse_error(format!(
                                "{}: mapping key {} is not a string (sops requires string keys; quote it)",
                                at(span),
                                describe_key(&other)
                            )))
                        }
                    };
                    let key_line = span.start.line();
                    // Small maps (most of them) are checked by a scan of the
                    // keys so far; hashing every key cost more than that.
                    let first = if key_lines.len() < SMALL_MAP {
                        items
                            .iter()
                            .filter_map(entry_key)
                            .position(|k| *k == name)
                            .map(|i| key_lines[i])
                    } else {
                        if seen.is_empty() {
                            let entries = items
                                .iter()
                                .enumerate()
                                .filter_map(|(at, item)| entry_key(item).map(|k| (at, k)));
                            for ((at, k), line) in entries.zip(key_lines.iter()) {
                                let hash = key_hasher.hash_one(k.as_str());
                                seen.insert_unique(hash, (at, *line), |&(at, _)| {
                                    key_hasher
                                        .hash_one(entry_key(&items[at]).map_or("", String::as_str))
                                });
                            }
                        }
                        let hash = key_hasher.hash_one(name.as_str());
                        seen.find(hash, |&(at, _)| entry_key(&items[at]) == Some(&name))
                            .map(|&(_, line)| line)
                    };
                    if let Some(first) = first {
                        return Err(parse_error(format!(
                            "{}: mapping key \"{}\" already defined at line {}",
                            at(span),
                            name,
                            first
                        )));
                    }
                    key_lines.push(key_line);
                    *key = Some((name, key_line, merge));
                }
                Some((name, key_line, merge)) => {
                    // sops first decodes the first document into a Go map,
                    // which applies merges: a `<<` whose value is not a map
                    // or a list of maps is an error there, and nsec must
                    // not write a file sops cannot read.
                    let mergeable = match &value {
                        Value::Map(_) => true,
                        Value::List(l) => Value::list_values(l).all(|v| matches!(v, Value::Map(_))),
                        _ => false,
                    };
                    if merge && !mergeable && self.docs.is_empty() {
                        return Err(parse_error(format!(
                            "line {key_line}: map merge requires a map or a list of maps as the value of `<<` (quote the key to keep it as a plain key)"
                        )));
                    }
                    if key_lines.len() > SMALL_MAP {
                        // The table holds the entries from the first
                        // SMALL_MAP on (see above), and every later one.
                        let hash = key_hasher.hash_one(name.as_str());
                        seen.insert_unique(hash, (items.len(), key_line), |&(at, _)| {
                            key_hasher.hash_one(entry_key(&items[at]).map_or("", String::as_str))
                        });
                    }
                    items.push(Item::Entry(name, value));
                    *last_line = line;
                    *last_flow = flow;
                }
            },
            Some(Frame::Seq {
                items, last_line, ..
            }) => {
                items.push(value);
                *last_line = line;
            }
            None => {
                if !self.in_document {
                    return Err(parse_error(format!(
                        "{}: node outside a document",
                        at(span)
                    )));
                }
                let map = match value {
                    Value::Map(m) => m,
                    // An explicitly empty document.
                    Value::Null => Map::new(),
                    Value::List(_) => {
                        return Err(parse_error(format!(
                            "{}: YAML documents that are sequences are not supported",
                            at(span)
                        )))
                    }
                    _ => {
                        return Err(parse_error(format!(
                            "{}: YAML documents must be mappings, not scalars",
                            at(span)
                        )))
                    }
                };
                self.root = Some(map);
            }
        }
        Ok(())
    }
}

/// The key of a map entry, `None` for a comment.
fn entry_key(item: &Item) -> Option<&String> {
    match item {
        Item::Entry(k, _) => Some(k),
        Item::Comment(_) => None,
    }
}

/// A non-string key for an error message (keys are not secret).
fn describe_key(key: &Value) -> String {
    match key {
        Value::Null => "`null` (null)".into(),
        Value::Bool(b) => format!("`{b}` (bool)"),
        Value::Int(i) => format!("`{i}` (int)"),
        Value::Float(f) => format!("`{}` (float)", gofmt::format_yaml_float(*f)),
        Value::Time(t) => format!("`{t}` (timestamp)"),
        Value::Bytes(_) => "(binary)".into(),
        _ => "(collection)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{message, one};
    use super::super::{fast, parse};
    use crate::error::Error;
    use crate::tree::{Map, Value};

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = parse(text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("excessive aliasing"), "{err}");
        // Ordinary use of anchors is fine.
        assert!(parse(b"base: &b {k: v}\nother: *b\n").is_ok());
    }

    #[test]
    fn anchors_and_merge_key() {
        let doc = one("base: &b\n  x: 1\ncopy: *b\nm:\n  <<: *b\n  y: 2\n");
        let base = doc.get("base").unwrap().clone();
        assert_eq!(doc.get("copy"), Some(&base));
        let Some(Value::Map(m)) = doc.get("m") else {
            panic!("m is not a map")
        };
        assert_eq!(m.get("<<"), Some(&base));
        assert_eq!(m.get("y"), Some(&Value::Int(2)));
    }

    /// Fuzz finding (`tests/data/fuzz/yaml_fast-97-comments-before-a-value`):
    /// `a:` then 97 comment lines. granit refused more than 96 comments
    /// before it knew what the value is; the fast reader took the file, so
    /// nsec read it only while no tab or other character sent it to granit.
    /// sops reads any number (5,000 checked); so does nsec now.
    #[test]
    fn any_number_of_comments_before_a_value() {
        let input = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/yaml_fast-97-comments-before-a-value"
        ))
        .unwrap();
        assert_eq!(fast::agreement::agree(&input), Ok(true));
        // A tab in a value: granit reads the whole file.
        let text = format!("a:\n{}b: \"x\ty\"\n", "#\n".repeat(5000));
        assert!(!fast::eligible(&text));
        let doc = one(&text);
        assert_eq!(doc.get("b"), Some(&Value::Str("x\ty".into())));
    }
    /// Fuzz note (`tests/data/fuzz/yaml_parse-non-specific-tag-merge-key`,
    /// `d:\n    ! <<: # …`): nsec read `! <<` as a plain key. sops 3.11
    /// (go-yaml) takes the non-specific tag `!` as no tag: `! <<` is the
    /// merge key (and `! <<: ~` an error), `! 123` an int; quoted or with
    /// another tag, `<<` is a plain key (both sops and nsec write it back as
    /// `!!merge <<`).
    #[test]
    fn the_non_specific_tag_is_no_tag() {
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/yaml_parse-non-specific-tag-merge-key"
        ))
        .unwrap();
        let err = parse(&input).unwrap_err().to_string();
        assert!(err.contains("map merge requires a map"), "{err}");
        for key in ["<<", "! <<", "!!merge <<"] {
            let err = parse(format!("d:\n  {key}: 1\n").as_bytes()).unwrap_err();
            assert!(err.to_string().contains("map merge"), "{key}: {err}");
        }
        for key in ["\"<<\"", "'<<'", "!!str <<", "! \"<<\"", "!x <<"] {
            let doc = one(&format!("d:\n  {key}: 1\n"));
            let Some(Value::Map(d)) = doc.get("d") else {
                panic!("{key}: d is not a map")
            };
            assert_eq!(d.get("<<"), Some(&Value::Int(1)), "{key}");
        }
        let doc = one("a: ! 123\nb: ! true\nc: ! '1'\nd: !x 1\n");
        assert_eq!(doc.get("a"), Some(&Value::Int(123)));
        assert_eq!(doc.get("b"), Some(&Value::Bool(true)));
        assert_eq!(doc.get("c"), Some(&Value::Str("1".into())));
        assert_eq!(doc.get("d"), Some(&Value::Str("1".into())));
    }

    /// Maps past SMALL_MAP find duplicates by hash: the first duplicate
    /// wherever it is (before, at and after the switch, with comments
    /// between the entries), with the line of the first definition.
    #[test]
    fn duplicate_keys_in_large_maps() {
        for n in [
            super::SMALL_MAP - 1,
            super::SMALL_MAP,
            super::SMALL_MAP + 1,
            200,
        ] {
            let mut text = String::from("m:\n");
            for i in 0..n {
                text.push_str(&format!("  # c{i}\n  k{i}: {i}\n"));
            }
            let doc = one(&text);
            let Some(Value::Map(m)) = doc.get("m") else {
                panic!("m is not a map")
            };
            assert_eq!(m.entries().count(), n);
            for dup in [0, n / 2, n - 1] {
                let m = message(&format!("{text}  k{dup}: again\n  k{dup}: twice\n"));
                let line = 2 * n + 2;
                let first = 2 * dup + 3;
                assert!(
                    m.contains(&format!("line {line}"))
                        && m.contains(&format!("\"k{dup}\" already defined at line {first}")),
                    "{n} {dup}: {m}"
                );
            }
        }
    }

    #[test]
    fn errors() {
        assert!(matches!(parse(b""), Err(Error::EmptyFile)));
        assert!(matches!(
            parse(b"# only a comment\n"),
            Err(Error::EmptyFile)
        ));
        let m = message("a: 1\nb:\n  c: 1\n  c: 2\n");
        assert!(
            m.contains("line 4") && m.contains("\"c\"") && m.contains("line 3"),
            "{m}"
        );
        let m = message("1: a\n");
        assert!(
            m.contains("line 1") && m.contains("`1` (int) is not a string"),
            "{m}"
        );
        let m = message("a:\n  2024-01-02: x\n");
        assert!(
            m.contains("line 2") && m.contains("2024-01-02T00:00:00Z"),
            "{m}"
        );
        let m = message("a: 18446744073709551615\n");
        assert!(
            m.contains("line 1") && !m.contains("18446744073709551615"),
            "{m}"
        );
        assert!(message("- a\n").contains("sequences"));
        assert!(message("just text\n").contains("scalars"));
        assert!(message("a: [1\n").contains("line"));
        assert!(message("a: !!int x\n").contains("!!int"));
        assert!(message("a: *nope\n").contains("line 1"));
        // An explicitly empty document is an empty map.
        assert_eq!(parse(b"---\n").unwrap(), vec![Map::new()]);
    }
}
