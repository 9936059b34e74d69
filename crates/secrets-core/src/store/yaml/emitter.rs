//! The emitter: a port of go-yaml v3's `emitterc.go` state machine for
//! the events the encoder makes, with unicode output and no line width
//! limit, as sops configures it. Its comment handling (deferred foot
//! comments, blank lines after them, comments written inline after `- `)
//! is only reproduced byte for byte by doing the same steps.

use std::collections::VecDeque;

use super::style::{analyze, is_break, is_printable, Analysis};

/// How the encoder asks for a scalar to be written (before the emitter's
/// own checks).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// One emitter event.
#[derive(Clone, PartialEq)]
pub(super) enum Ev<'a> {
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
#[derive(Clone, Default, PartialEq)]
pub(super) struct Comments {
    pub(super) head: String,
    pub(super) line: String,
    pub(super) foot: String,
    pub(super) tail: String,
}

/// sops' tree-to-node conversion (`appendTreeBranch`, `appendSequence`)
/// and go-yaml's encoder (`encode.go`) in one walk over the tree. Events go

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
#[derive(Clone)]
pub(super) struct Emitter<'a> {
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
    /// Write literal blocks whose indentation indicator a reader would
    /// misread in double quotes (encrypted files, which must read back);
    /// off for plaintext output, which is go-yaml's bytes.
    pub(super) readable_blocks: bool,
}

impl<'a> Emitter<'a> {
    pub(super) fn new(indent: usize, capacity: usize) -> Self {
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
            readable_blocks: false,
            head: String::new(),
            line: String::new(),
            foot: String::new(),
            tail: String::new(),
            key_line: String::new(),
            analysis: analyze(""),
        }
    }

    pub(super) fn push(&mut self, ev: Ev<'a>, comments: Option<Box<Comments>>) {
        self.window.push_back((ev, comments));
        if self.window.len() == 2 {
            self.handle_next();
        }
    }

    /// The text written so far.
    pub(super) fn written(&self) -> &str {
        &self.out
    }

    /// The text written so far, without handling the events that wait.
    pub(super) fn into_written(self) -> String {
        self.out
    }

    /// Whether this emitter, about to write a block map's key, will write
    /// what `other` (about to write the same key) writes from now on,
    /// whatever events follow: `Some` with the text this one writes first
    /// (the break of the line it is still on), `None` when it would not.
    ///
    /// Everything but the text written so far and the position on the
    /// line must be the same. (`current` and `analysis` are not compared:
    /// they are set from the next event before they are read.) The
    /// position is read first by `write_indent`, with which a key starts
    /// (after a tail or head comment, which start with it too): it breaks
    /// the line unless it is at the start of one, and leaves both at the
    /// same place.
    pub(super) fn resumes_as(&self, other: &Emitter<'a>) -> Option<&'static str> {
        let same = self.state == State::BlockMapKey
            && self.window == other.window
            && self.best_indent == other.best_indent
            && self.state == other.state
            && self.states == other.states
            && self.indent == other.indent
            && self.indents == other.indents
            && self.flow_level == other.flow_level
            && self.foot_indent == other.foot_indent
            && self.simple_key_context == other.simple_key_context
            && self.head == other.head
            && self.line == other.line
            && self.foot == other.foot
            && self.tail == other.tail
            && self.key_line == other.key_line
            && self.readable_blocks == other.readable_blocks;
        if !same {
            return None;
        }
        match (self.indent_breaks(), other.indent_breaks()) {
            (true, false) => Some("\n"),
            (a, b) if a == b => Some(""),
            _ => None,
        }
    }

    /// Whether `write_indent` would break the line here.
    fn indent_breaks(&self) -> bool {
        let indent = self.indent.max(0);
        !self.indention || self.column > indent || (self.column == indent && !self.whitespace)
    }

    /// About to write a block map's first key: take the step that only
    /// the first key takes (the map's indentation), so that the state is
    /// what it is before any later key. (What follows writes the same
    /// either way: `block_mapping_key` takes that step first.)
    pub(super) fn first_key_as_later(&mut self) {
        if self.state == State::BlockMapFirst {
            self.increase_indent(false, false);
            self.state = State::BlockMapKey;
        }
    }

    /// Handles the remaining events and returns the text.
    pub(super) fn finish(mut self) -> String {
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

    /// Whether line, foot or tail comments wait to be written after the
    /// current flow item (go-yaml then writes its `,` first).
    fn comments_after(&self) -> bool {
        !(self.line.is_empty() && self.foot.is_empty() && self.tail.is_empty())
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
        let pending = self.comments_after();
        self.states.push(if pending {
            State::FlowSeqTrail
        } else {
            State::FlowSeqItem
        });
        self.node(false, true, false);
        if self.comments_after() {
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
        let pending = self.comments_after();
        self.states.push(if pending {
            State::FlowMapTrail
        } else {
            State::FlowMapKey
        });
        self.node(false, false, false);
        if self.comments_after() {
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
        // binary). In an encrypted file, which nsec and sops must read
        // back, such values are written in double quotes instead; plaintext
        // output keeps go-yaml's bytes (what `sops decrypt` prints).
        let parent = self.indents.last().copied().unwrap_or(-1);
        if self.readable_blocks
            && style == Style::Literal
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
        // in single quotes or a literal block). They are breaks to
        // `analyze`, so only a multi-line value is searched (the search
        // was 8% of a 10,000-value encrypt).
        if a.multiline && value.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
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

#[cfg(test)]
mod tests {
    use super::super::{emit, parse};
    use crate::tree::{Item, Map, Value};

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
}
