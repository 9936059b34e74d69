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

use std::collections::{HashMap, VecDeque};

use base64::Engine as _;
use granit_parser::{Event, Parser, Placement, ScalarStyle, Span, StructureStyle, Tag};

use crate::error::{Error, Result};
use crate::format::Format;
use crate::gofmt;
use crate::time::Timestamp;
use crate::tree::{Item, Map, Value};

pub(crate) mod fast;

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

/// When the text ends in a line with content but no line break: the
/// position (in characters) of its end.
fn unterminated_last_line(text: &str) -> Option<usize> {
    let last = text.rsplit('\n').next()?;
    (!text.ends_with('\n') && !last.trim_matches([' ', '\t']).is_empty())
        .then(|| text.chars().count())
}

/// The column of a block list's first `-`. The parser reports an
/// indentless list (`key:` then `- item` at the key's column) after the
/// dash, where its first item starts; the comment rules need the dash.
fn dash_col(text: &str, span: &Span) -> usize {
    let col = span.start.col();
    // Both readers record byte offsets.
    let Some(at) = span.start.byte_offset() else {
        return col;
    };
    let bytes = text.as_bytes();
    // At a dash already? (Not a scalar like `-x` that starts with one.)
    let dash_at = |i: usize| {
        bytes.get(i) == Some(&b'-')
            && bytes
                .get(i + 1)
                .is_none_or(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    };
    if at > bytes.len() || dash_at(at) {
        return col;
    }
    let mut i = at;
    while i > 0 && bytes[i - 1] == b' ' {
        i -= 1;
    }
    match i.checked_sub(1) {
        // Only spaces lie between: byte and column distances agree.
        Some(dash) if dash_at(dash) && at - dash <= col => col - (at - dash),
        _ => col,
    }
}

/// For a collection starting at `span` inside a list item: the line of
/// that item's `-` (the collection's own line, as in `- - x`, or the last
/// line before it that is not blank or a comment). `None` when the text
/// does not show one.
fn item_dash_line(text: &str, span: &Span) -> Option<usize> {
    let at = span.start.byte_offset()?;
    let before = text.get(..at)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    // `- - x`: the item's dash ends the text before the collection.
    let prefix = before[line_start..].trim_end_matches([' ', '\t']);
    if let Some(head) = prefix.strip_suffix('-') {
        return (head.is_empty() || head.ends_with([' ', '\t'])).then(|| span.start.line());
    }
    if !prefix.trim_start_matches([' ', '\t']).is_empty() {
        return None;
    }
    // Otherwise a line holding only the dash (and maybe a comment).
    let mut line = span.start.line();
    for previous in before[..line_start].lines().rev() {
        line -= 1;
        let content = previous.trim_start_matches([' ', '\t']);
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let rest = content.strip_prefix('-')?;
        let after = rest.trim_start_matches([' ', '\t']);
        let dash_only = (rest.is_empty() || rest.starts_with([' ', '\t']))
            && (after.is_empty() || after.starts_with('#'));
        return dash_only.then_some(line);
    }
    None
}

/// Builds the documents from a stream of parser events.
fn build<'a>(
    text: &str,
    mut next_event: impl FnMut() -> Option<Result<(Event<'a>, Span)>>,
) -> Result<Vec<Map>> {
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
            builder.plan_comments(ends, next_col);
        }
        if let Event::SequenceStart(style, ..) = event {
            if style == StructureStyle::Block {
                builder.dash_col = Some(dash_col(text, &span));
            }
            builder.item_dash_line = item_dash_line(text, &span);
        }
        builder.event(event, span)?;
    }
    if builder.docs.is_empty() {
        return Err(Error::EmptyFile);
    }
    Ok(builder.docs)
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

/// A collection being built.
enum Frame {
    Map {
        items: Vec<Item>,
        /// The key whose value is being read, with its line and whether it
        /// is the merge key `<<`.
        key: Option<(String, usize, bool)>,
        /// The line of every key so far, in order (for duplicate errors).
        key_lines: Vec<usize>,
        /// Keys seen so far and their lines, once the map is large
        /// (duplicate detection; small maps are scanned).
        seen: HashMap<String, usize>,
        /// Line on which the last entry's value ended.
        last_line: usize,
        /// Whether the last entry's value was a flow collection.
        last_flow: bool,
        start_line: usize,
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

/// A comment waiting for the node it belongs to.
struct Pending {
    text: String,
    line: usize,
    col: usize,
    /// How many collections out from the innermost one being closed this
    /// comment belongs (set by `plan_comments`).
    level: usize,
}

/// Maps up to this many entries find duplicate keys by scanning.
const SMALL_MAP: usize = 32;

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    pending: Vec<Pending>,
    docs: Vec<Map>,
    /// The root of the current document, once complete.
    root: Option<Map>,
    in_document: bool,
    /// Collection ends still to come in the run `plan_comments` planned for.
    plan_left: usize,
    /// Which level of that run is closing next.
    plan_level: usize,
    /// Nodes copied so far by expanding aliases (see [`MAX_ALIAS_NODES`]).
    alias_nodes: usize,
    /// The scalar being completed is the merge key (plain `<<`).
    merge_key: bool,
    /// See [`unterminated_last_line`].
    unterminated_end: Option<usize>,
    /// The dash column of the block list whose start is handled next
    /// (see [`dash_col`]).
    dash_col: Option<usize>,
    /// The line of the list item's `-` before that list (see
    /// [`item_dash_line`]).
    item_dash_line: Option<usize>,
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
                self.flush_pending_into_seq();
                self.stack.push(Frame::Map {
                    items: Vec::new(),
                    key: None,
                    key_lines: Vec::new(),
                    seen: HashMap::new(),
                    last_line: span.start.line(),
                    last_flow: false,
                    start_line: span.start.line(),
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
                // the ones before it to this list. Without the dash's line,
                // the comments indented past the list's dashes go there.
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
                let nested: Vec<Pending> = self.pending.drain(keep..).collect();
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

    fn comment(&mut self, text: String, placement: Placement, span: &Span) {
        let line = span.start.line();
        if placement == Placement::Right {
            // sops moves a line comment in front of the entry or item it
            // trails, so attach it to the innermost open entry.
            match self.stack.last_mut() {
                Some(Frame::Map {
                    items,
                    key: Some(_),
                    start_line,
                    flow,
                    ..
                }) => {
                    // On the first key of a list item's map the comment goes
                    // to the list, as for `- a: 1 # c` below.
                    let first_of_item = !*flow
                        && *start_line == line
                        && items.iter().all(|i| matches!(i, Item::Comment(_)));
                    if first_of_item && self.stack.len() >= 2 {
                        let n = self.stack.len();
                        if let Frame::Seq { items: list, .. } = &mut self.stack[n - 2] {
                            list.push(Value::Comment(text));
                            return;
                        }
                    }
                    if let Some(Frame::Map { items, .. }) = self.stack.last_mut() {
                        items.push(Item::Comment(text));
                    }
                    return;
                }
                Some(Frame::Map {
                    items,
                    key: None,
                    last_line,
                    last_flow,
                    start_line,
                    flow: false,
                    ..
                }) if *last_line == line => {
                    let single = items
                        .iter()
                        .filter(|i| matches!(i, Item::Entry(..)))
                        .count()
                        == 1;
                    // (A comment after a flow collection stays with it.)
                    let item_map = single && *start_line == line && !*last_flow;
                    let last_flow = *last_flow;
                    if let Some(at) = items.iter().rposition(|i| matches!(i, Item::Entry(..))) {
                        let n = self.stack.len();
                        // A list item's map whose first entry has the comment:
                        // go-yaml gives it to the item, sops puts it in the
                        // list in front of the item.
                        if item_map && n >= 2 {
                            if let Frame::Seq { items: list, .. } = &mut self.stack[n - 2] {
                                list.push(Value::Comment(text));
                                return;
                            }
                        }
                        let Some(Frame::Map { items, .. }) = self.stack.last_mut() else {
                            return;
                        };
                        // After a flow collection the comment is the
                        // collection's own and sops puts it inside, first.
                        match &mut items[at] {
                            Item::Entry(_, Value::Map(m)) if last_flow && !m.items.is_empty() => {
                                m.items.insert(0, Item::Comment(text))
                            }
                            Item::Entry(_, Value::List(l)) if last_flow && !l.is_empty() => {
                                l.insert(0, Value::Comment(text))
                            }
                            _ => items.insert(at, Item::Comment(text)),
                        }
                        return;
                    }
                }
                Some(Frame::Seq {
                    items, last_line, ..
                }) if *last_line == line => {
                    if let Some(at) = items.iter().rposition(|v| !matches!(v, Value::Comment(_))) {
                        items.insert(at, Value::Comment(text));
                        return;
                    }
                }
                _ => {}
            }
        }
        self.pending.push(Pending {
            text,
            line,
            col: span.start.col(),
            level: 0,
        });
    }

    /// Comments before a collection that is a list item stay in the list, in
    /// front of the item (as a mapping value they go into the collection).
    fn flush_pending_into_seq(&mut self) {
        if let Some(Frame::Seq { items, .. }) = self.stack.last_mut() {
            items.extend(self.pending.drain(..).map(|c| Value::Comment(c.text)));
        }
    }

    /// Comments seen before a scalar or alias belong in front of it, in the
    /// innermost collection.
    fn flush_pending_before_node(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        match self.stack.last_mut() {
            Some(Frame::Map { items, .. }) => {
                items.extend(self.pending.drain(..).map(|c| Item::Comment(c.text)))
            }
            Some(Frame::Seq { items, .. }) => {
                items.extend(self.pending.drain(..).map(|c| Value::Comment(c.text)))
            }
            None => {}
        }
    }

    /// Decides which collection each pending comment belongs to when `ends`
    /// collections close in a row, followed by a node at column `next_col`
    /// (`None`: the document ends).
    ///
    /// This approximates where go-yaml v3 attaches such comments (rules
    /// found by running sops on many layouts, see the oracle tests):
    /// comments directly before the next node and at its column are its head
    /// comments; the others are foot comments of the innermost closing
    /// collection, a comment moving out when it is indented less than the
    /// collection it would join, differently from the comment before it, and
    /// that collection already got one (once moving, it moves on while it is
    /// indented less; an outer list is skipped). At the end of a document a
    /// last comment at the top level's column acts as a following node;
    /// otherwise the same rules hold, except that a comment that would go to
    /// an outer list (for the first comment: whose indentation is an outer
    /// list's) sends it and all after it to the document's top level.
    fn plan_comments(&mut self, ends: usize, next_col: Option<usize>) {
        let depth = self.stack.len();
        let ends = ends.min(depth);
        if ends == 0 {
            return;
        }
        // An indentless list (its dashes at its map's column) that ends
        // before the map's next key keeps no foot comments: go-yaml gives
        // them all to that key, whatever their columns.
        if ends == 1 && next_col.is_some() && depth >= 2 {
            if let (
                Frame::Seq {
                    col, flow: false, ..
                },
                Frame::Map {
                    col: map_col,
                    flow: false,
                    ..
                },
            ) = (&self.stack[depth - 1], &self.stack[depth - 2])
            {
                if col == map_col {
                    for c in &mut self.pending {
                        c.level = ends;
                    }
                    self.plan_left = ends;
                    self.plan_level = 0;
                    return;
                }
            }
        }
        let col_of = |stack: &[Frame], level: usize| match &stack[depth - 1 - level] {
            Frame::Map { col, .. } | Frame::Seq { col, .. } => *col,
        };
        let is_seq =
            |stack: &[Frame], level: usize| matches!(stack[depth - 1 - level], Frame::Seq { .. });
        // At the end of a document, a last comment at the top level's column
        // works like a following top-level node.
        let root_col = match self.stack.first() {
            Some(Frame::Map { col, .. } | Frame::Seq { col, .. }) => *col,
            None => 0,
        };
        let next_col = match next_col {
            None if ends == depth && self.pending.last().is_some_and(|c| c.col == root_col) => {
                Some(root_col)
            }
            other => other,
        };
        match next_col {
            Some(node_col) => {
                // The next node starts at its block collection's column (the
                // key, or the `-` of a list item), wherever its content is.
                let next_col = match self.stack.get(depth.wrapping_sub(ends + 1)) {
                    Some(Frame::Seq {
                        col, flow: false, ..
                    })
                    | Some(Frame::Map {
                        col, flow: false, ..
                    }) if depth > ends => *col,
                    _ => node_col,
                };
                let head_from = self
                    .pending
                    .iter()
                    .rposition(|c| c.col != next_col)
                    .map_or(0, |i| i + 1);
                let mut level = 0;
                let mut count = 0;
                let mut prev_col = usize::MAX;
                for (i, c) in self.pending.iter_mut().enumerate() {
                    if i >= head_from {
                        c.level = ends;
                        continue;
                    }
                    let mut stepped = false;
                    while level < ends
                        && c.col < col_of(&self.stack, level)
                        && (stepped || (count > 0 && c.col != prev_col))
                    {
                        level += 1;
                        count = 0;
                        stepped = true;
                    }
                    // A list further out does not take foot comments: they
                    // go one collection further.
                    if stepped && level < ends && is_seq(&self.stack, level) {
                        level += 1;
                    }
                    c.level = level;
                    count += 1;
                    prev_col = c.col;
                }
            }
            None => {
                let mut level = 0;
                let mut count = 0;
                let mut top = false;
                let mut prev_col = usize::MAX;
                for c in self.pending.iter_mut() {
                    if !top && count == 0 && level == 0 && c.col < col_of(&self.stack, 0) {
                        // A first comment indented less than the innermost
                        // collection stays there, unless the collection at
                        // its indentation is a list: then it is the top
                        // level's.
                        let mut land = 0;
                        while land + 1 < ends && c.col < col_of(&self.stack, land) {
                            land += 1;
                        }
                        top = land > 0 && is_seq(&self.stack, land);
                    }
                    if !top {
                        let mut stepped = false;
                        while level + 1 < ends
                            && c.col < col_of(&self.stack, level)
                            && (stepped || (count > 0 && c.col != prev_col))
                        {
                            level += 1;
                            count = 0;
                            stepped = true;
                        }
                        // A list further out does not take them: the rest
                        // go to the document's top level.
                        if level > 0 && is_seq(&self.stack, level) {
                            top = true;
                        }
                    }
                    c.level = if top { ends - 1 } else { level };
                    count += 1;
                    prev_col = c.col;
                }
            }
        }
        self.plan_left = ends;
        self.plan_level = 0;
    }

    /// At the end of a collection, adds the foot comments planned for it.
    fn flush_pending_at_end(&mut self) {
        if self.plan_left == 0 {
            return;
        }
        let level = self.plan_level;
        self.plan_left -= 1;
        self.plan_level += 1;
        if self.pending.iter().all(|c| c.level != level) {
            return;
        }
        let mut mine = Vec::new();
        self.pending.retain_mut(|c| {
            if c.level == level {
                mine.push(std::mem::take(&mut c.text));
                false
            } else {
                true
            }
        });
        match self.stack.last_mut() {
            Some(Frame::Map { items, .. }) => items.extend(mine.into_iter().map(Item::Comment)),
            Some(Frame::Seq { items, .. }) => items.extend(mine.into_iter().map(Value::Comment)),
            None => {}
        }
    }

    /// A node is complete: record its anchor and hand it to its parent.
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
                            .filter_map(|item| match item {
                                Item::Entry(k, _) => Some(k),
                                Item::Comment(_) => None,
                            })
                            .position(|k| *k == name)
                            .map(|i| key_lines[i])
                    } else {
                        if seen.is_empty() {
                            let keys = items.iter().filter_map(|item| match item {
                                Item::Entry(k, _) => Some(k),
                                Item::Comment(_) => None,
                            });
                            for (k, line) in keys.zip(key_lines.iter()) {
                                seen.insert(k.clone(), *line);
                            }
                        }
                        seen.get(&name).copied()
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
                    if key_lines.len() > SMALL_MAP {
                        seen.insert(name.clone(), key_line);
                    }
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

const CORE_TAG: &str = "tag:yaml.org,2002:";

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

/// Turns a scalar event into a value, as go-yaml decodes it into `interface{}`.
fn resolve_node(text: &str, style: ScalarStyle, tag: Option<&Tag>, span: &Span) -> Result<Value> {
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
enum Resolved {
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
fn resolve_plain(s: &str) -> Resolved {
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
fn is_base60_float(s: &str) -> bool {
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
fn is_old_bool(s: &str) -> bool {
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
//
// sops turns its tree into go-yaml `Node`s (comments become head and foot
// comments of nodes, see `to_node`), go-yaml's encoder turns the nodes into
// events (`Encoder`), and go-yaml's emitter writes the events. The emitter
// below follows go-yaml v3's `emitterc.go` state machine for the block styles
// sops produces, because its comment handling (deferred foot comments, blank
// lines after them, comments written inline after `- `) is only reproduced
// byte for byte by doing the same steps.

/// Writes documents as sops does (go-yaml v3, `indent` spaces per level),
/// separated by `---`.
pub(crate) fn emit(docs: &[Map], indent: usize) -> Result<Vec<u8>> {
    emit_with(docs, None, indent)
}

/// [`emit`] with one more entry appended to every document (the `sops`
/// metadata of an encrypted file), as if it were the documents' last item.
pub(crate) fn emit_with(docs: &[Map], trailing: Option<&Item>, indent: usize) -> Result<Vec<u8>> {
    // A guess of the output size, so the output is rarely copied while it
    // grows.
    let items: usize = docs.iter().map(Map::leaf_count).sum();
    let mut enc = Encoder {
        emitter: Emitter::new(indent, items * 40 + 64),
    };
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

/// How the encoder asks for a scalar to be written (before the emitter's
/// own checks).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// sops' `"#" + strings.Join(comments, "\n#")`, added to existing text:
/// in front of it (`before`) or after it.
fn add_comments(target: &mut String, comments: &mut Vec<&str>, before: bool) {
    if comments.is_empty() {
        return;
    }
    let mut text = String::new();
    for (i, c) in comments.drain(..).enumerate() {
        if i > 0 {
            text.push('\n');
        }
        text.push('#');
        text.push_str(c);
    }
    if target.is_empty() {
        *target = text;
    } else if before {
        *target = format!("{text}\n{target}");
    } else {
        target.push('\n');
        target.push_str(&text);
    }
}

/// go-yaml's `Node.Encode` of a string (`stringv`): a literal block when it
/// has a line break, plain when that reads back as the same string, else
/// double quotes. sops gives `<<` the merge tag.
fn string_scalar(s: &str) -> Ev<'_> {
    if s == "<<" {
        return Ev::Scalar {
            value: s.into(),
            style: Style::Plain,
            tag: Some("merge"),
        };
    }
    let style = if s.contains('\n') {
        Style::Literal
    } else if resolve_plain(s) == Resolved::Str && !is_base60_float(s) && !is_old_bool(s) {
        Style::Plain
    } else {
        Style::Double
    };
    Ev::Scalar {
        value: s.into(),
        style,
        tag: None,
    }
}

fn plain(text: impl Into<std::borrow::Cow<'static, str>>) -> Ev<'static> {
    Ev::Scalar {
        value: text.into(),
        style: Style::Plain,
        tag: None,
    }
}

/// The scalar event of a leaf value.
fn scalar_event(value: &Value) -> Ev<'_> {
    match value {
        Value::Null => plain("null"),
        Value::Bool(b) => plain(if *b { "true" } else { "false" }),
        Value::Int(i) => plain(i.to_string()),
        Value::Float(f) => plain(gofmt::format_yaml_float(*f)),
        Value::Time(t) => Ev::Scalar {
            value: t.as_str().into(),
            style: Style::Plain,
            tag: None,
        },
        Value::Str(s) => string_scalar(s),
        Value::Bytes(b) => {
            // go-yaml writes non-UTF-8 strings as base64 under `!!binary`,
            // in lines of 70 characters when longer than one line.
            let encoded = base64::engine::general_purpose::STANDARD.encode(b);
            let text = if encoded.len() > 70 {
                let mut text = String::with_capacity(encoded.len() + encoded.len() / 70 + 1);
                for chunk in encoded.as_bytes().chunks(70) {
                    text.push_str(std::str::from_utf8(chunk).unwrap_or_default());
                    text.push('\n');
                }
                text
            } else {
                encoded
            };
            let style = if text.contains('\n') {
                Style::Literal
            } else {
                Style::Plain
            };
            Ev::Scalar {
                value: text.into(),
                style,
                tag: Some("binary"),
            }
        }
        Value::Map(_) | Value::List(_) | Value::Comment(_) => {
            unreachable!("scalar_event is called on leaves")
        }
    }
}

/// One emitter event.
enum Ev<'a> {
    StreamStart,
    StreamEnd,
    DocStart,
    DocEnd,
    MapStart,
    MapEnd,
    SeqStart,
    SeqEnd,
    Scalar {
        value: std::borrow::Cow<'a, str>,
        style: Style,
        tag: Option<&'static str>,
    },
}

/// The comments an event carries.
#[derive(Default)]
struct Comments {
    head: String,
    line: String,
    foot: String,
    tail: String,
}

/// sops' tree-to-node conversion (`appendTreeBranch`, `appendSequence`)
/// and go-yaml's encoder (`encode.go`) in one walk over the tree. Events go
/// to the emitter as they are made, so each string is read once while it
/// is in cache, and neither a node tree nor an event list is built.
///
/// Comments: those before a collection's first entry or item are its head
/// comment (after any head comment its container gives it); those before
/// a later entry its key's head comment, before a later item that item's;
/// those after the last entry end the mapping (go-yaml moves the last key's
/// foot comment there as a "tail"), those after the last item are that
/// item's foot comment.
struct Encoder<'a> {
    emitter: Emitter<'a>,
}

impl<'a> Encoder<'a> {
    /// Most events carry no comments; boxing the few that do keeps the
    /// events small.
    fn push(&mut self, ev: Ev<'a>, comments: Comments) {
        let empty = comments.head.is_empty()
            && comments.line.is_empty()
            && comments.foot.is_empty()
            && comments.tail.is_empty();
        self.emitter.push(ev, (!empty).then(|| Box::new(comments)));
    }

    /// A value, with the head and foot comments its container gives it.
    fn value(&mut self, value: &'a Value, head: String, foot: String) -> Result<()> {
        match value {
            Value::Map(m) => self.map(m.items.iter(), head, foot),
            Value::List(l) => self.seq(l, head, foot),
            Value::Comment(_) => Err(Error::Emit {
                format: Format::Yaml,
                message: "a comment cannot be a mapping value".into(),
            }),
            leaf => {
                self.push(
                    scalar_event(leaf),
                    Comments {
                        head,
                        foot,
                        ..Comments::default()
                    },
                );
                Ok(())
            }
        }
    }

    fn map(
        &mut self,
        items: impl Iterator<Item = &'a Item>,
        mut head: String,
        foot: String,
    ) -> Result<()> {
        let mut comments: Vec<&str> = Vec::new();
        let mut started = false;
        for item in items {
            let (key, value) = match item {
                Item::Comment(c) => {
                    comments.push(c);
                    continue;
                }
                Item::Entry(key, value) => (key, value),
            };
            let mut key_head = String::new();
            if started {
                add_comments(&mut key_head, &mut comments, true);
            } else {
                let mut own = String::new();
                add_comments(&mut own, &mut comments, true);
                self.start(Ev::MapStart, head, own);
                head = String::new();
                started = true;
            }
            self.push(
                string_scalar(key),
                Comments {
                    head: key_head,
                    ..Comments::default()
                },
            );
            self.value(value, String::new(), String::new())?;
        }
        let mut tail = String::new();
        if started {
            add_comments(&mut tail, &mut comments, false);
        } else {
            let mut own = String::new();
            add_comments(&mut own, &mut comments, true);
            self.start(Ev::MapStart, head, own);
        }
        self.push(
            Ev::MapEnd,
            Comments {
                foot,
                tail,
                ..Comments::default()
            },
        );
        Ok(())
    }

    fn seq(&mut self, list: &'a [Value], head: String, foot: String) -> Result<()> {
        let mut comments: Vec<&str> = Vec::new();
        let last = list.iter().rposition(|v| !matches!(v, Value::Comment(_)));
        let mut own = String::new();
        if let Some(first) = list.iter().position(|v| !matches!(v, Value::Comment(_))) {
            comments.extend(list[..first].iter().filter_map(comment_text));
        } else {
            comments.extend(list.iter().filter_map(comment_text));
        }
        add_comments(&mut own, &mut comments, true);
        self.start(Ev::SeqStart, head, own);
        if let Some(last) = last {
            let mut started = false;
            for (i, item) in list[..=last].iter().enumerate() {
                if let Value::Comment(c) = item {
                    if started {
                        comments.push(c);
                    }
                    continue;
                }
                started = true;
                let mut item_head = String::new();
                add_comments(&mut item_head, &mut comments, true);
                let mut item_foot = String::new();
                if i == last {
                    let mut trailing: Vec<&str> =
                        list[last + 1..].iter().filter_map(comment_text).collect();
                    add_comments(&mut item_foot, &mut trailing, false);
                }
                self.value(item, item_head, item_foot)?;
            }
        }
        self.push(
            Ev::SeqEnd,
            Comments {
                foot,
                ..Comments::default()
            },
        );
        Ok(())
    }

    /// A collection's start event, whose head comment is the one from its
    /// container followed by its own.
    fn start(&mut self, ev: Ev<'a>, container: String, own: String) {
        let head = match (container.is_empty(), own.is_empty()) {
            (true, _) => own,
            (_, true) => container,
            _ => format!("{container}\n{own}"),
        };
        self.push(
            ev,
            Comments {
                head,
                ..Comments::default()
            },
        );
    }
}

fn comment_text(v: &Value) -> Option<&str> {
    match v {
        Value::Comment(c) => Some(c),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    StreamStart,
    FirstDocStart,
    DocStart,
    DocContent,
    DocEnd,
    FlowSeqFirst,
    FlowSeqItem,
    FlowSeqTrail,
    FlowMapFirst,
    FlowMapKey,
    FlowMapTrail,
    FlowMapSimpleValue,
    FlowMapValue,
    BlockSeqFirst,
    BlockSeqItem,
    BlockMapFirst,
    BlockMapKey,
    BlockMapSimpleValue,
    BlockMapValue,
    End,
}

/// go-yaml v3's emitter (`emitterc.go`) for the events above, with unicode
/// output and no line width limit, as sops configures it. Events are fed
/// one by one ([`Emitter::push`]); each is handled once the next one is
/// known (go-yaml looks one event ahead).
struct Emitter<'a> {
    /// Events fed but not handled yet (at most two).
    window: VecDeque<(Ev<'a>, Option<Box<Comments>>)>,
    /// The event being handled.
    current: Ev<'a>,
    out: String,
    best_indent: i64,
    state: State,
    states: Vec<State>,
    indent: i64,
    indents: Vec<i64>,
    flow_level: usize,
    column: i64,
    whitespace: bool,
    indention: bool,
    foot_indent: i64,
    simple_key_context: bool,
    head: String,
    line: String,
    foot: String,
    tail: String,
    key_line: String,
    /// The current scalar's analysis and chosen style.
    analysis: Analysis,
}

impl<'a> Emitter<'a> {
    fn new(indent: usize, capacity: usize) -> Self {
        let best_indent = if (2..10).contains(&indent) {
            indent as i64
        } else {
            2
        };
        Emitter {
            window: VecDeque::with_capacity(3),
            current: Ev::StreamStart,
            out: String::with_capacity(capacity),
            best_indent,
            state: State::StreamStart,
            states: Vec::new(),
            indent: -1,
            indents: Vec::new(),
            flow_level: 0,
            column: 0,
            whitespace: true,
            indention: true,
            foot_indent: -1,
            simple_key_context: false,
            head: String::new(),
            line: String::new(),
            foot: String::new(),
            tail: String::new(),
            key_line: String::new(),
            analysis: analyze(""),
        }
    }

    fn push(&mut self, ev: Ev<'a>, comments: Option<Box<Comments>>) {
        self.window.push_back((ev, comments));
        if self.window.len() == 2 {
            self.handle_next();
        }
    }

    /// Handles the remaining events and returns the text.
    fn finish(mut self) -> String {
        while !self.window.is_empty() {
            self.handle_next();
        }
        self.out
    }

    fn handle_next(&mut self) {
        let Some((ev, comments)) = self.window.pop_front() else {
            return;
        };
        self.current = ev;
        if let Some(c) = comments {
            self.take_comments(*c);
        }
        if let Ev::Scalar { value, .. } = &self.current {
            self.analysis = analyze(value);
        }
        self.state_machine();
    }

    fn event(&self) -> &Ev<'a> {
        &self.current
    }

    fn next_event(&self) -> Option<&Ev<'a>> {
        self.window.front().map(|(ev, _)| ev)
    }

    fn take_comments(&mut self, c: Comments) {
        if !c.head.is_empty() {
            self.head = c.head;
        }
        if !c.line.is_empty() {
            self.line = c.line;
        }
        if !c.foot.is_empty() {
            self.foot = c.foot;
        }
        if !c.tail.is_empty() {
            self.tail = c.tail;
        }
    }

    fn pop_state(&mut self) {
        self.state = self.states.pop().unwrap_or(State::End);
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn state_machine(&mut self) {
        match self.state {
            State::StreamStart => self.state = State::FirstDocStart,
            State::FirstDocStart => self.document_start(true),
            State::DocStart => self.document_start(false),
            State::DocContent => self.document_content(),
            State::DocEnd => self.document_end(),
            State::FlowSeqFirst => self.flow_sequence_item(true, false),
            State::FlowSeqItem => self.flow_sequence_item(false, false),
            State::FlowSeqTrail => self.flow_sequence_item(false, true),
            State::FlowMapFirst => self.flow_mapping_key(true, false),
            State::FlowMapKey => self.flow_mapping_key(false, false),
            State::FlowMapTrail => self.flow_mapping_key(false, true),
            State::FlowMapSimpleValue => self.flow_mapping_value(true),
            State::FlowMapValue => self.flow_mapping_value(false),
            State::BlockSeqFirst => self.block_sequence_item(true),
            State::BlockSeqItem => self.block_sequence_item(false),
            State::BlockMapFirst => self.block_mapping_key(true),
            State::BlockMapKey => self.block_mapping_key(false),
            State::BlockMapSimpleValue => self.block_mapping_value(true),
            State::BlockMapValue => self.block_mapping_value(false),
            State::End => {}
        }
    }

    // -- writing primitives ------------------------------------------------

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
        self.indention = true;
    }

    /// Writes a line break from the value (`\n` as a newline, the other
    /// break characters as themselves).
    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
            self.indention = true;
        }
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        if self.foot_indent == indent {
            self.put_break();
        }
        if self.column < indent {
            let n = (indent - self.column) as usize;
            self.out.extend(std::iter::repeat_n(' ', n));
            self.column = indent;
        }
        self.whitespace = true;
        self.foot_indent = -1;
    }

    fn write_indicator(
        &mut self,
        s: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in s.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn write_comment(&mut self, comment: &str) {
        let mut breaks = false;
        let mut pound = false;
        for c in comment.chars() {
            if is_break(c) {
                self.write_break(c);
                breaks = true;
                pound = false;
            } else {
                if breaks {
                    self.write_indent();
                }
                if !pound {
                    if c != '#' {
                        self.put('#');
                        self.put(' ');
                    }
                    pound = true;
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
        if !breaks {
            self.put_break();
        }
        self.whitespace = true;
    }

    fn process_head_comment(&mut self) {
        if !self.tail.is_empty() {
            self.write_indent();
            let tail = std::mem::take(&mut self.tail);
            self.write_comment(&tail);
            self.foot_indent = self.indent.max(0);
        }
        if self.head.is_empty() {
            return;
        }
        self.write_indent();
        let head = std::mem::take(&mut self.head);
        self.write_comment(&head);
    }

    fn process_line_comment(&mut self) {
        if self.line.is_empty() {
            return;
        }
        if !self.whitespace {
            self.put(' ');
        }
        let line = std::mem::take(&mut self.line);
        self.write_comment(&line);
    }

    fn process_foot_comment(&mut self) {
        if self.foot.is_empty() {
            return;
        }
        self.write_indent();
        let foot = std::mem::take(&mut self.foot);
        self.write_comment(&foot);
        self.foot_indent = self.indent.max(0);
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { self.best_indent } else { 0 };
        } else if !indentless {
            if self.states.last() == Some(&State::BlockSeqItem) {
                // The first indent inside a sequence skips the `- `.
                self.indent += 2;
            } else {
                // Everything else aligns to the chosen indentation.
                self.indent =
                    self.best_indent * ((self.indent + self.best_indent) / self.best_indent);
            }
        }
    }

    // -- states -------------------------------------------------------------

    fn document_start(&mut self, first: bool) {
        match self.event() {
            Ev::DocStart => {
                if !first {
                    self.write_indent();
                    self.write_indicator("---", true, false, false);
                    self.write_indent();
                }
                if !self.head.is_empty() {
                    self.process_head_comment();
                    self.put_break();
                }
                self.state = State::DocContent;
            }
            _ => self.state = State::End,
        }
    }

    fn document_content(&mut self) {
        self.states.push(State::DocEnd);
        self.process_head_comment();
        self.node(true, false, false);
        self.process_line_comment();
        self.process_foot_comment();
    }

    fn document_end(&mut self) {
        // go-yaml forces a document's foot comments apart.
        self.foot_indent = 0;
        self.process_foot_comment();
        self.foot_indent = -1;
        self.write_indent();
        self.state = State::DocStart;
    }

    fn flow_sequence_item(&mut self, first: bool, trail: bool) {
        if first {
            self.write_indicator("[", true, true, false);
            self.increase_indent(true, false);
            self.flow_level += 1;
        }
        if matches!(self.event(), Ev::SeqEnd) {
            self.flow_level -= 1;
            self.pop_indent();
            if self.column == 0 {
                self.write_indent();
            }
            self.write_indicator("]", false, false, false);
            self.process_line_comment();
            self.process_foot_comment();
            self.pop_state();
            return;
        }
        if !first && !trail {
            self.write_indicator(",", false, false, false);
        }
        self.process_head_comment();
        if self.column == 0 {
            self.write_indent();
        }
        let pending = !(self.line.is_empty() && self.foot.is_empty() && self.tail.is_empty());
        self.states.push(if pending {
            State::FlowSeqTrail
        } else {
            State::FlowSeqItem
        });
        self.node(false, true, false);
        if !(self.line.is_empty() && self.foot.is_empty() && self.tail.is_empty()) {
            self.write_indicator(",", false, false, false);
        }
        self.process_line_comment();
        self.process_foot_comment();
    }

    fn flow_mapping_key(&mut self, first: bool, trail: bool) {
        if first {
            self.write_indicator("{", true, true, false);
            self.increase_indent(true, false);
            self.flow_level += 1;
        }
        if matches!(self.event(), Ev::MapEnd) {
            let pending = !(self.head.is_empty() && self.foot.is_empty() && self.tail.is_empty());
            if pending && !first && !trail {
                self.write_indicator(",", false, false, false);
            }
            self.process_head_comment();
            self.flow_level -= 1;
            self.pop_indent();
            self.write_indicator("}", false, false, false);
            self.process_line_comment();
            self.process_foot_comment();
            self.pop_state();
            return;
        }
        if !first && !trail {
            self.write_indicator(",", false, false, false);
        }
        self.process_head_comment();
        if self.column == 0 {
            self.write_indent();
        }
        if self.check_simple_key() {
            self.states.push(State::FlowMapSimpleValue);
            self.node(false, false, true);
        } else {
            self.write_indicator("?", true, false, false);
            self.states.push(State::FlowMapValue);
            self.node(false, false, false);
        }
    }

    fn flow_mapping_value(&mut self, simple: bool) {
        if simple {
            self.write_indicator(":", false, false, false);
        } else {
            self.write_indicator(":", true, false, false);
        }
        let pending = !(self.line.is_empty() && self.foot.is_empty() && self.tail.is_empty());
        self.states.push(if pending {
            State::FlowMapTrail
        } else {
            State::FlowMapKey
        });
        self.node(false, false, false);
        if !(self.line.is_empty() && self.foot.is_empty() && self.tail.is_empty()) {
            self.write_indicator(",", false, false, false);
        }
        self.process_line_comment();
        self.process_foot_comment();
    }

    fn block_sequence_item(&mut self, first: bool) {
        if first {
            self.increase_indent(false, false);
        }
        if matches!(self.event(), Ev::SeqEnd) {
            self.pop_indent();
            self.pop_state();
            return;
        }
        self.process_head_comment();
        self.write_indent();
        self.write_indicator("-", true, false, true);
        self.states.push(State::BlockSeqItem);
        self.node(false, true, false);
        self.process_line_comment();
        self.process_foot_comment();
    }

    fn block_mapping_key(&mut self, first: bool) {
        if first {
            self.increase_indent(false, false);
        }
        self.process_head_comment();
        if matches!(self.event(), Ev::MapEnd) {
            self.pop_indent();
            self.pop_state();
            return;
        }
        self.write_indent();
        if !self.line.is_empty() {
            self.key_line = std::mem::take(&mut self.line);
        }
        if self.check_simple_key() {
            self.states.push(State::BlockMapSimpleValue);
            self.node(false, false, true);
        } else {
            self.write_indicator("?", true, false, true);
            self.states.push(State::BlockMapValue);
            self.node(false, false, false);
        }
    }

    fn block_mapping_value(&mut self, simple: bool) {
        if simple {
            self.write_indicator(":", false, false, false);
        } else {
            self.write_indent();
            self.write_indicator(":", true, false, true);
        }
        if !self.key_line.is_empty() {
            match self.event() {
                Ev::Scalar { .. } if self.line.is_empty() => {
                    self.line = std::mem::take(&mut self.key_line);
                }
                Ev::MapStart | Ev::SeqStart => {
                    std::mem::swap(&mut self.line, &mut self.key_line);
                    self.process_line_comment();
                    std::mem::swap(&mut self.line, &mut self.key_line);
                }
                _ => {}
            }
        }
        self.states.push(State::BlockMapKey);
        self.node(false, false, false);
        self.process_line_comment();
        self.process_foot_comment();
    }

    fn check_simple_key(&self) -> bool {
        match self.event() {
            Ev::Scalar { value, tag, .. } => {
                if self.analysis.multiline {
                    return false;
                }
                let tag_len = tag.map_or(0, |t| 2 + t.len());
                tag_len + value.len() <= 128
            }
            Ev::SeqStart => matches!(self.next_event(), Some(Ev::SeqEnd)),
            Ev::MapStart => matches!(self.next_event(), Some(Ev::MapEnd)),
            _ => false,
        }
    }

    fn node(&mut self, _root: bool, _sequence: bool, simple_key: bool) {
        self.simple_key_context = simple_key;
        match self.event() {
            Ev::Scalar { .. } => {
                // Moved out while it is written (the writer needs `&mut self`).
                let ev = std::mem::replace(&mut self.current, Ev::StreamEnd);
                if let Ev::Scalar { value, style, tag } = &ev {
                    self.scalar(value, *style, *tag);
                }
                self.current = ev;
            }
            Ev::SeqStart => {
                let empty = matches!(self.next_event(), Some(Ev::SeqEnd));
                self.state = if self.flow_level > 0 || empty {
                    State::FlowSeqFirst
                } else {
                    State::BlockSeqFirst
                };
            }
            Ev::MapStart => {
                let empty = matches!(self.next_event(), Some(Ev::MapEnd));
                self.state = if self.flow_level > 0 || empty {
                    State::FlowMapFirst
                } else {
                    State::BlockMapFirst
                };
            }
            _ => {}
        }
    }

    fn scalar(&mut self, value: &str, style: Style, tag: Option<&'static str>) {
        let mut style = self.select_style(value, style);
        if let Some(tag) = tag {
            if !self.whitespace {
                self.put(' ');
            }
            self.put('!');
            self.put('!');
            for c in tag.chars() {
                self.put(c);
            }
            self.whitespace = false;
            self.indention = false;
        }
        self.increase_indent(true, false);
        // A literal block that starts with a space or break gets an
        // indentation indicator (`|4`), which a reader adds to the indentation
        // of the parent node. go-yaml (sops 3.11) writes the indicator
        // `best_indent` but the text at this indent, which differs from
        // parent + `best_indent` in a sequence item or a map inside one
        // (`- |4`, `- k: |4` with 4 spaces): the file it writes does not
        // read back, in sops either (fuzz finding, checked with the sops
        // binary). Such values are written in double quotes instead.
        let parent = self.indents.last().copied().unwrap_or(-1);
        if style == Style::Literal
            && value.starts_with(|c: char| c == ' ' || is_break(c))
            && self.indent - parent != self.best_indent
        {
            style = Style::Double;
        }
        match style {
            Style::Plain => self.write_plain(value),
            Style::Single => self.write_single_quoted(value),
            Style::Double => self.write_double_quoted(value),
            Style::Literal => self.write_literal(value),
        }
        self.pop_indent();
        self.pop_state();
    }

    fn select_style(&self, value: &str, requested: Style) -> Style {
        let a = &self.analysis;
        let mut style = requested;
        if self.simple_key_context && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            let plain_allowed = if self.flow_level > 0 {
                a.flow_plain_allowed
            } else {
                a.block_plain_allowed
            };
            if !plain_allowed
                || (value.is_empty() && (self.flow_level > 0 || self.simple_key_context))
            {
                style = Style::Single;
            }
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal
            && (!a.block_allowed || self.flow_level > 0 || self.simple_key_context)
        {
            style = Style::Double;
        }
        // go-yaml writes U+0085, U+2028 and U+2029 as line breaks in the
        // other styles (YAML 1.1) and reads the indentation after them
        // away; granit (YAML 1.2) keeps them as characters and reads that
        // indentation as part of the value. Escaped in double quotes (`\N`,
        // `\L`, `\P`) they read back the same in both (sops writes them
        // in single quotes or a literal block).
        if value.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
            style = Style::Double;
        }
        style
    }

    fn write_plain(&mut self, value: &str) {
        if !value.is_empty() && !self.whitespace {
            self.put(' ');
        }
        // Most scalars (keys, ENC[…] values) have no line break: copy them
        // whole instead of character by character.
        if !self.analysis.multiline {
            self.out.push_str(value);
            self.column += if value.is_ascii() {
                value.len()
            } else {
                value.chars().count()
            } as i64;
            if !value.is_empty() {
                self.whitespace = false;
            }
            self.indention = false;
            return;
        }
        let mut breaks = false;
        for c in value.chars() {
            if c == ' ' {
                self.put(c);
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
        if !value.is_empty() {
            self.whitespace = false;
        }
        self.indention = false;
    }

    fn write_single_quoted(&mut self, value: &str) {
        self.write_indicator("'", true, false, false);
        let mut breaks = false;
        for c in value.chars() {
            if c == ' ' {
                self.put(c);
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, value: &str) {
        self.write_indicator("\"", true, false, false);
        for c in value.chars() {
            let escape = match c {
                '\0' => Some('0'),
                '\u{7}' => Some('a'),
                '\u{8}' => Some('b'),
                '\t' => Some('t'),
                '\n' => Some('n'),
                '\u{b}' => Some('v'),
                '\u{c}' => Some('f'),
                '\r' => Some('r'),
                '\u{1b}' => Some('e'),
                '"' => Some('"'),
                '\\' => Some('\\'),
                '\u{85}' => Some('N'),
                '\u{a0}' => Some('_'),
                '\u{2028}' => Some('L'),
                '\u{2029}' => Some('P'),
                _ => None,
            };
            let needs_escape =
                !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\';
            if !needs_escape {
                self.put(c);
                continue;
            }
            self.put('\\');
            match escape {
                Some(e) => self.put(e),
                None => {
                    let v = c as u32;
                    let text = if v <= 0xFF {
                        format!("x{v:02X}")
                    } else if v <= 0xFFFF {
                        format!("u{v:04X}")
                    } else {
                        format!("U{v:08X}")
                    };
                    for c in text.chars() {
                        self.put(c);
                    }
                }
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, value: &str) {
        self.write_indicator("|", true, false, false);
        // Block scalar hints: an indentation indicator when the text starts
        // with a space or break, a chomping indicator from its end.
        if value.starts_with(|c: char| c == ' ' || is_break(c)) {
            let hint = char::from(b'0' + self.best_indent as u8);
            self.write_indicator(&hint.to_string(), false, false, false);
        }
        let mut rev = value.chars().rev();
        let chomp = match rev.next() {
            None => Some("-"),
            Some(c) if !is_break(c) => Some("-"),
            Some(_) => match rev.next() {
                None => Some("+"),
                Some(c) if is_break(c) => Some("+"),
                Some(_) => None,
            },
        };
        if let Some(chomp) = chomp {
            self.write_indicator(chomp, false, false, false);
        }
        // go-yaml v3.0.4 (`process_line_comment_linebreak`): the line comment
        // or a line break, so a leading break in the text is an empty line.
        if self.line.is_empty() {
            self.put_break();
        } else {
            self.process_line_comment();
        }
        self.whitespace = true;
        let mut breaks = true;
        for c in value.chars() {
            if is_break(c) {
                self.write_break(c);
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

/// go-yaml's `is_printable` (with unicode output enabled).
fn is_printable(c: char) -> bool {
    let v = c as u32;
    v == 0x0A
        || (0x20..=0x7E).contains(&v)
        || (0xA0..=0xD7FF).contains(&v)
        || ((0xE000..=0xFFFD).contains(&v) && v != 0xFEFF)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Byte classes for [`analyze_simple`]: bits that a byte sets.
const SIMPLE_BAD: u8 = 1;
/// A flow indicator (`,` `[` `]` `{` `}` `?`, and `:` before more text).
const SIMPLE_FLOW: u8 = 2;

/// What each byte contributes to [`analyze_simple`]: letters, digits and
/// the punctuation that never matters to YAML contribute nothing; flow
/// indicators only rule out flow-plain style (they cannot end a block-plain
/// scalar); anything else sends the string to the full analysis.
const SIMPLE_CLASS: [u8; 256] = {
    let mut t = [SIMPLE_BAD; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            t[b] = 0;
        }
        b += 1;
    }
    let quiet = b"_-./+=()$;~^<>";
    let mut i = 0;
    while i < quiet.len() {
        t[quiet[i] as usize] = 0;
        i += 1;
    }
    let flow = b",[]{}?:";
    let mut i = 0;
    while i < flow.len() {
        t[flow[i] as usize] = SIMPLE_FLOW;
        i += 1;
    }
    t
};

/// The common case of [`analyze`], decided from the bytes alone: a
/// non-empty ASCII string of letters, digits and the punctuation that never
/// matters to YAML (as in keys and `ENC[…]` values) allows every style but
/// is not multi-line. `None` sends everything else to the full analysis.
///
/// Branch-free over the bytes: this runs on every key and value written,
/// and a `match` per byte was most of the time spent writing large files.
fn analyze_simple(s: &str) -> Option<Analysis> {
    let bytes = s.as_bytes();
    let (&last, body) = bytes.split_last()?;
    let first = bytes[0];
    if !(first.is_ascii_alphanumeric() || first == b'_' || first == b'/' || first == b'.')
        || s.starts_with("...")
    {
        return None;
    }
    // `:` makes a block indicator before whitespace (a bad byte anyway) or
    // at the end: that case is left to the full analysis.
    if last == b':' {
        return None;
    }
    let class = body
        .iter()
        .fold(0u8, |acc, &b| acc | SIMPLE_CLASS[b as usize])
        | SIMPLE_CLASS[last as usize];
    if class & SIMPLE_BAD != 0 {
        return None;
    }
    Some(Analysis {
        multiline: false,
        flow_plain_allowed: class & SIMPLE_FLOW == 0,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    })
}

#[derive(Debug, PartialEq)]
struct Analysis {
    multiline: bool,
    flow_plain_allowed: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

/// go-yaml's `yaml_emitter_analyze_scalar`, the parts that matter in block
/// context.
fn analyze(s: &str) -> Analysis {
    analyze_simple(s).unwrap_or_else(|| analyze_full(s))
}

/// [`analyze`] without the fast path.
fn analyze_full(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            flow_plain_allowed: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let mut flow_indicators = block_indicators;
    let mut line_breaks = false;
    let mut special = false;
    let mut tabs = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let mut break_space = false;
    let mut space_break = false;
    let mut previous_space = false;
    let mut previous_break = false;
    let mut preceded_by_whitespace = true;
    let mut iter = s.chars().peekable();
    let mut i = 0;
    while let Some(c) = iter.next() {
        let next = iter.peek().copied();
        let last = next.is_none();
        let followed_by_whitespace = next.is_none_or(|n| matches!(n, ' ' | '\t') || is_break(n));
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                '?' | ':' => {
                    flow_indicators = true;
                    block_indicators |= followed_by_whitespace;
                }
                '-' if followed_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_indicators = true,
                ':' => {
                    flow_indicators = true;
                    block_indicators |= followed_by_whitespace;
                }
                '#' if preceded_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        }
        if c == '\t' {
            tabs = true;
        } else if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = matches!(c, ' ' | '\t') || is_break(c);
        i += 1;
    }
    let mut a = Analysis {
        multiline: line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || tabs || special {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_allowed = false;
    }
    if line_breaks {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if flow_indicators {
        a.flow_plain_allowed = false;
    }
    if block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/vectors");

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

    fn ours(input: &str, indent: usize) -> std::result::Result<String, String> {
        let docs = parse(input.as_bytes()).map_err(|e| e.to_string())?;
        Ok(String::from_utf8(emit(&docs, indent).map_err(|e| e.to_string())?).unwrap())
    }

    /// Inputs whose sops output must equal ours byte for byte. (Not
    /// U+2028 and its kin: sops writes them as line breaks, nsec escaped, see
    /// `unit::line_separators_are_written_escaped`.)
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
                // Where sops writes a block scalar whose indentation
                // indicator it cannot read back itself (`- |4-` in case 27),
                // nsec writes double quotes: they must read back.
                Ok(got)
                    if sops_cycle(&want, None).is_err()
                        && parse(got.as_bytes()).ok() == parse(input.as_bytes()).ok() => {}
                Ok(got) => {
                    failures.push(format!("case {i}:\n{input}--- sops\n{want}--- ours\n{got}"))
                }
                Err(e) => failures.push(format!("case {i}: {e}\n{input}")),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n=====\n"));
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn one(input: &str) -> Map {
        let mut docs = parse(input.as_bytes()).unwrap();
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    fn message(input: &str) -> String {
        match parse(input.as_bytes()) {
            Err(Error::Parse { message, .. }) => message,
            other => panic!("expected a parse error for {input:?}, got {other:?}"),
        }
    }

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

    /// Fuzz finding (`tests/data/fuzz/yaml_parse-line-separator-in-a-value`,
    /// `c: \u{2028}b`): the value was written as go-yaml writes it,
    /// `'\u{2028}    b'` (a line break in YAML 1.1), which granit (YAML 1.2)
    /// reads back with the four spaces. Values with U+0085, U+2028 or
    /// U+2029 are now written in double quotes, escaped (sops reads `"\Lb"`
    /// as the same value).
    #[test]
    fn line_separators_are_written_escaped() {
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/yaml_parse-line-separator-in-a-value"
        ))
        .unwrap();
        let docs = parse(&input).unwrap();
        let out = emit(&docs, 4).unwrap();
        assert_eq!(String::from_utf8_lossy(&out), "c: \"\\Lb\"\n");
        assert_eq!(parse(&out).unwrap(), docs);
        for value in [
            "a\u{85}b",
            "a\u{2028}\nb",
            "x\u{2029}",
            "\u{2028}",
            "k # \u{2028} z",
        ] {
            let doc = Map {
                items: vec![Item::Entry(value.into(), Value::Str(value.into()))],
            };
            let out = emit(std::slice::from_ref(&doc), 4).unwrap();
            assert_eq!(parse(&out).unwrap(), vec![doc], "{value:?}");
        }
    }

    /// Fuzz finding (`tests/data/fuzz/metadata-yaml-block-scalar-in-a-list-item`,
    /// first byte the metadata target's store selector): the metadata value
    /// `"\n-\n"` in a list-item map was written as go-yaml writes it,
    /// `- enc: |4` with the text 4 columns right of the `-`, which a reader
    /// takes as 4 right of `enc` (sops 3.11 cannot read such a file either:
    /// "did not find expected key"); the file did not read back. A literal
    /// block whose indicator would be misread is now written in double
    /// quotes; elsewhere go-yaml's block is kept, byte for byte.
    #[test]
    fn block_scalars_with_an_indicator_read_back() {
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/metadata-yaml-block-scalar-in-a-list-item"
        ))
        .unwrap();
        let docs = parse(&input[1..]).unwrap();
        let out = emit(&docs, 4).unwrap();
        assert!(String::from_utf8_lossy(&out).contains("- enc: \"\\n-\\n\"\n"));
        assert_eq!(parse(&out).unwrap(), docs);
        for (input, written) in [
            // A map at the top: go-yaml's block reads back (as sops writes it).
            (
                "b: \"\\n--2\\n YWdl\\n\"\n",
                "b: |4\n\n    --2\n     YWdl\n",
            ),
            (
                "a:\n    - r: x\n      enc: \"\\n--2\\n YWdl\\n\"\n",
                "a:\n    - r: x\n      enc: \"\\n--2\\n YWdl\\n\"\n",
            ),
            ("c:\n    - \" x\\ny\"\n", "c:\n    - \" x\\ny\"\n"),
        ] {
            let docs = parse(input.as_bytes()).unwrap();
            let out = emit(&docs, 4).unwrap();
            assert_eq!(String::from_utf8_lossy(&out), written, "{input:?}");
            assert_eq!(parse(&out).unwrap(), docs, "{input:?}");
            // Real sops reads what nsec wrote as the same values.
            let json = super::super::flatten::test_support::sops_reads("yaml", &out);
            let read = super::super::json::parse(&json).unwrap();
            for (key, value) in docs[0].entries() {
                assert_eq!(read.get(key), Some(value), "{input:?}");
            }
            // With a 2-space indent the indicator is right, and kept.
            let two = emit(&docs, 2).unwrap();
            assert!(String::from_utf8_lossy(&two).contains("|2"), "{input:?}");
            assert_eq!(parse(&two).unwrap(), docs, "{input:?}");
        }
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

    #[test]
    fn comments_become_items() {
        let doc = one("# top\na: 1 # line\nl:\n  - x # on x\n  # foot\n");
        assert_eq!(
            doc.items[..3],
            [
                Item::Comment(" top".into()),
                Item::Comment(" line".into()),
                Item::Entry("a".into(), Value::Int(1)),
            ]
        );
        assert_eq!(
            doc.get("l"),
            Some(&Value::List(vec![
                Value::Comment(" on x".into()),
                Value::Str("x".into()),
                Value::Comment(" foot".into()),
            ]))
        );
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

    #[test]
    fn secret_values_stay_out_of_errors() {
        let m = message("password: !!int hunter2\n");
        assert!(!m.contains("hunter2"), "{m}");
    }

    #[test]
    fn quoting_decisions() {
        let cases = [
            ("plain", "plain"),
            ("yes", "\"yes\""),
            ("Off", "\"Off\""),
            ("123", "\"123\""),
            ("1:20", "\"1:20\""),
            ("", "\"\""),
            ("a: b", "'a: b'"),
            (" x", "' x'"),
            ("it's", "it's"),
            ("'q", "'''q'"),
            ("a\tb", "\"a\\tb\""),
            ("\u{1F510}", "\"\\U0001F510\""),
            ("<<", "!!merge <<"),
        ];
        for (value, want) in cases {
            let doc = Map {
                items: vec![Item::Entry("k".into(), Value::Str(value.into()))],
            };
            let out = String::from_utf8(emit(&[doc], 4).unwrap()).unwrap();
            assert_eq!(out, format!("k: {want}\n"), "{value:?}");
        }
    }

    /// `--extract` of non-map values (outputs checked against sops 3.11).
    #[test]
    fn extracted_values() {
        let doc = one("l:\n  - a\n  - b: 1\n    c:\n      - 2\n  # cm\n  - [1, [2]]\n");
        let out = emit_value(doc.get("l").unwrap(), 4).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "- a\n- b: 1\n  c:\n    - 2\n# cm\n- - 1\n  - - 2\n"
        );
        let cases = [
            (Value::Int(42), "42\n"),
            (Value::Bool(true), "true\n"),
            (Value::Null, "null\n"),
            (Value::Float(1.5), "1.5\n"),
            (
                Value::Time("2024-01-02T00:00:00Z".into()),
                "2024-01-02T00:00:00Z\n",
            ),
            (Value::List(vec![]), "[]\n"),
        ];
        for (value, want) in cases {
            assert_eq!(emit_value(&value, 4).unwrap(), want.as_bytes());
        }
    }
}

/// Property: whatever tree we emit parses back to the same tree.
#[cfg(test)]
mod round_trip {
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
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The fast path of the scalar analysis decides as the full one.
        #[test]
        fn simple_analysis_agrees(s in "[a-zA-Z0-9_./:,\\[\\]{}?+=()$;~^<>#&*!|'\"%@` \n-]{0,12}") {
            if let Some(fast) = analyze_simple(&s) {
                prop_assert_eq!(fast, analyze_full(&s), "{:?}", s);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn emit_then_parse(docs in prop::collection::vec(doc(), 1..3), indent in 2usize..7) {
            let text = emit(&docs, indent).unwrap();
            let agreed = fast::agreement::agree(std::str::from_utf8(&text).unwrap());
            prop_assert!(agreed.is_ok(), "{:?}", agreed);
            let back = parse(&text);
            // (go-yaml, and so sops, writes an indentation indicator relative
            // to the wrong column for block scalars in sequence items and
            // list-item maps, which makes unreadable YAML, checked with sops:
            // `- k: "\nyes"`; nsec writes those in double quotes.)
            prop_assert!(back.is_ok(), "{:?}\n{}", back, String::from_utf8_lossy(&text));
            prop_assert_eq!(back.unwrap(), docs, "{}", String::from_utf8_lossy(&text));
        }
    }
}
