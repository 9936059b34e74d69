//! Comment placement while reading: which collection, and where in it,
//! each comment of the input goes in sops' tree.
//!
//! go-yaml v3 attaches comments to nodes in its parser (`parserc.go`,
//! head, line and foot comments) and sops then moves them into its tree
//! (`stores/yaml/store.go`). There is no go-yaml file this ports line by
//! line: the rules here were found by running sops on many layouts (see
//! the oracle tests and `tests/data/layouts`) and match it on the layouts
//! people write.

use granit_parser::{Placement, Span};

use super::read::{Builder, Frame};
use crate::tree::{Item, Value};

/// The column of a block list's first `-`. The parser reports an
/// indentless list (`key:` then `- item` at the key's column) after the
/// dash, where its first item starts; the comment rules need the dash.
pub(super) fn dash_col(text: &str, span: &Span) -> usize {
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
pub(super) fn item_dash_line(text: &str, span: &Span) -> Option<usize> {
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

/// A comment waiting for the node it belongs to.
pub(super) struct Pending {
    pub(super) text: String,
    pub(super) line: usize,
    pub(super) col: usize,
    /// How many collections out from the innermost one being closed this
    /// comment belongs (set by `plan_comments`).
    pub(super) level: usize,
}

impl Builder {
    pub(super) fn comment(&mut self, text: String, placement: Placement, span: &Span) {
        let line = span.start.line();
        if placement == Placement::Right {
            // sops moves a line comment in front of the entry or item it
            // trails, so attach it to the innermost open entry. A line
            // comment reported after a value that ends on a later line is
            // a block scalar's, on its header (`key: |  # c`): granit reads
            // the block before it reports the comment.
            match self.stack.last_mut() {
                Some(Frame::Map {
                    items,
                    key: Some(_),
                    ..
                }) => {
                    // Also on the first key of a list item's map: go-yaml
                    // gives the comment to the key, and sops keeps it in
                    // the item's map (an encrypted file shows it as a
                    // `#ENC[…]` line in front of the item, not as an extra
                    // list item), as for `- a: 1 # c` below.
                    items.push(Item::Comment(text));
                    return;
                }
                Some(Frame::Map {
                    items,
                    key: None,
                    last_line,
                    last_flow,
                    flow: false,
                    ..
                }) if line <= *last_line => {
                    let last_flow = *last_flow;
                    if let Some(at) = items.iter().rposition(|i| matches!(i, Item::Entry(..))) {
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
                }) if line <= *last_line => {
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
    pub(super) fn flush_pending_into_seq(&mut self) {
        if let Some(Frame::Seq { items, .. }) = self.stack.last_mut() {
            items.extend(self.pending.drain(..).map(|c| Value::Comment(c.text)));
        }
    }

    /// Comments seen before a scalar or alias belong in front of it, in the
    /// innermost collection.
    pub(super) fn flush_pending_before_node(&mut self) {
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
    pub(super) fn plan_comments(&mut self, ends: usize, next_col: Option<usize>) {
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
    pub(super) fn flush_pending_at_end(&mut self) {
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
}

#[cfg(test)]
mod tests {
    use super::super::tests::one;
    use crate::tree::{Item, Value};

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
}
