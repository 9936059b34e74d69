//! A fast reader for the plain block YAML that sops writes and that people
//! usually write: block maps and lists (indentless lists too), one-line
//! plain and quoted scalars, literal blocks, empty `[]` and `{}`, and
//! comments, all in printable ASCII.
//!
//! It yields the events, with the positions, that granit-parser yields for
//! the same text, so the builder that turns events into the tree (and
//! places the comments) is shared. Anything outside that subset, and
//! anything it is not sure of, is a [`Bail`]: the caller then reads the
//! whole input again with granit-parser. It never decides an error. The
//! tests compare both readers on generated layouts and on every YAML file of
//! the test data.
//!
//! Why it exists: granit-parser is a complete YAML 1.2 parser and was half
//! the time of decrypting a large file; this reader is several times faster
//! on the files nsec reads most.

use std::borrow::Cow;
use std::collections::VecDeque;

use granit_parser::{Event, Marker, Placement, ScalarStyle, Span, StructureStyle};

/// The input is outside what this reader handles; read it with the full
/// parser.
#[derive(Debug, PartialEq)]
pub(super) struct Bail;

type Step<T> = Result<T, Bail>;

/// Can this reader take the text at all? Only printable ASCII and line
/// feeds: no tabs (whose meaning depends on where they are), no carriage
/// returns, and columns are byte offsets.
pub(super) fn eligible(text: &str) -> bool {
    // Branch-free per chunk so that it compiles to vector code.
    text.as_bytes().chunks(64).all(|chunk| {
        chunk.iter().fold(true, |ok, &b| {
            ok & ((0x20..0x7f).contains(&b) | (b == b'\n'))
        })
    })
}

/// A block collection being read.
#[derive(Clone, Copy)]
enum Open {
    /// A map whose keys start at this column.
    Map(usize),
    /// A list whose `-` are at this column. An indentless list (`key:` then
    /// `- item` at the key's column) ends at the first line there that is
    /// not an item.
    Seq { col: usize, indentless: bool },
}

/// A key or `-` whose value did not start on its line: the next content
/// line decides whether it is a nested collection or an empty value.
struct Pending {
    /// Where the parser reports the empty value.
    null_at: Marker,
    /// A nested collection must be indented more than this.
    indent: usize,
    /// For a map key: its column, where an indentless list may start.
    map_indent: Option<usize>,
}

/// A marker at a byte offset (ASCII text: bytes are characters), with the
/// byte offset recorded as granit-parser records it.
fn marker(index: usize, line: usize, col: usize) -> Marker {
    Marker::new(index, line, col).with_byte_offset(Some(index))
}

/// The line being read.
#[derive(Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
    number: usize,
}

impl Line {
    fn at(self, col: usize) -> Marker {
        marker(self.start + col, self.number, col)
    }

    fn span(self, from: usize, to: usize) -> Span {
        Span::new(self.at(from), self.at(to))
    }
}

/// Yields granit-parser's events for the subset described above.
pub(super) struct Reader<'a> {
    text: &'a str,
    /// Start of the next line.
    pos: usize,
    /// Number of the next line (1-based).
    line: usize,
    queue: VecDeque<(Event<'a>, Span)>,
    stack: Vec<Open>,
    pending: Option<Pending>,
    /// Own-line comments read while a value was pending: they follow the
    /// empty value, or precede the nested collection.
    held: Vec<(Event<'a>, Span)>,
    started: bool,
    done: bool,
}

impl<'a> Reader<'a> {
    pub(super) fn new(text: &'a str) -> Reader<'a> {
        Reader::starting_at(text, 0, 1)
    }

    /// A reader of `text` from byte `pos`, the start of line `line`: the
    /// rest of a text whose beginning is read by another reader (see
    /// `split`). Positions are those in the whole text.
    pub(super) fn starting_at(text: &'a str, pos: usize, line: usize) -> Reader<'a> {
        let origin = marker(pos, line, 0);
        let mut queue = VecDeque::with_capacity(16);
        queue.push_back((Event::StreamStart, Span::new(origin, origin)));
        Reader {
            text,
            pos,
            line,
            queue,
            stack: Vec::new(),
            pending: None,
            held: Vec::new(),
            started: false,
            done: false,
        }
    }

    /// The next event, `None` after the stream end, or a [`Bail`].
    pub(super) fn next_event(&mut self) -> Option<Step<(Event<'a>, Span)>> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            if let Err(bail) = self.step() {
                self.done = true;
                return Some(Err(bail));
            }
        }
    }

    fn push(&mut self, event: Event<'a>, span: Span) {
        self.queue.push_back((event, span));
    }

    fn empty_value(&mut self, at: Marker) {
        self.push(
            Event::Scalar(Cow::Borrowed("~"), ScalarStyle::Plain, 0, None),
            Span::new(at, at),
        );
    }

    fn release_held(&mut self) {
        self.queue.extend(self.held.drain(..));
    }

    /// The marker just past the last character.
    fn eof(&self) -> Marker {
        let bytes = self.text.as_bytes();
        let len = bytes.len();
        match bytes.last() {
            None | Some(b'\n') => marker(len, self.line_count() + 1, 0),
            Some(_) => {
                let start = memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1);
                marker(len, self.line_count(), len - start)
            }
        }
    }

    fn line_count(&self) -> usize {
        let bytes = self.text.as_bytes();
        let breaks = memchr::memchr_iter(b'\n', bytes).count();
        breaks + usize::from(!bytes.is_empty() && bytes.last() != Some(&b'\n'))
    }

    /// Reads the next line (or the end of the input).
    fn step(&mut self) -> Step<()> {
        let text = self.text;
        let bytes = text.as_bytes();
        if self.pos >= bytes.len() {
            return self.finish();
        }
        let start = self.pos;
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        let cur = Line {
            start,
            end,
            number: self.line,
        };
        self.pos = (end + 1).min(bytes.len());
        self.line += 1;
        let line = &bytes[start..end];
        let indent = line.iter().take_while(|&&b| b == b' ').count();
        if indent == line.len() {
            return Ok(());
        }
        if line[indent] == b'#' {
            let comment = (
                Event::Comment(
                    Cow::Borrowed(&text[start + indent + 1..end]),
                    Placement::Above,
                ),
                cur.span(indent, line.len()),
            );
            match self.pending {
                Some(_) => self.held.push(comment),
                None => self.queue.push_back(comment),
            }
            return Ok(());
        }
        // Document markers and directives.
        if line.starts_with(b"---") || line.starts_with(b"...") || line[0] == b'%' {
            return Err(Bail);
        }
        let dash = is_dash(line, indent);
        if !self.started {
            if indent != 0 || dash {
                return Err(Bail);
            }
            self.started = true;
            let at = cur.at(0);
            self.push(Event::DocumentStart(false, None), Span::new(at, at));
            self.push(
                Event::MappingStart(StructureStyle::Block, 0, None),
                Span::new(at, at),
            );
            self.stack.push(Open::Map(0));
            return self.key_line(cur, 0);
        }
        if let Some(pending) = self.pending.take() {
            if indent > pending.indent {
                self.release_held();
                let at = cur.at(indent);
                if dash {
                    self.push(
                        Event::SequenceStart(StructureStyle::Block, 0, None),
                        Span::new(at, at),
                    );
                    self.stack.push(Open::Seq {
                        col: indent,
                        indentless: false,
                    });
                    return self.seq_item(cur, indent);
                }
                self.push(
                    Event::MappingStart(StructureStyle::Block, 0, None),
                    Span::new(at, at),
                );
                self.stack.push(Open::Map(indent));
                return self.key_line(cur, indent);
            }
            if dash && pending.map_indent == Some(indent) {
                // The parser reports an indentless list where its first
                // item's content starts.
                let content = skip_spaces(line, indent + 1);
                if content == line.len() || line[content] == b'#' {
                    return Err(Bail);
                }
                self.release_held();
                let at = cur.at(content);
                self.push(
                    Event::SequenceStart(StructureStyle::Block, 0, None),
                    Span::new(at, at),
                );
                self.stack.push(Open::Seq {
                    col: indent,
                    indentless: true,
                });
                return self.seq_item(cur, indent);
            }
            self.empty_value(pending.null_at);
            self.release_held();
        }
        loop {
            let at = cur.at(indent);
            match self.stack.last().copied() {
                Some(Open::Map(col)) if indent < col => {
                    self.stack.pop();
                    self.push(Event::MappingEnd, Span::new(at, at));
                }
                Some(Open::Map(col)) => {
                    if indent > col || dash {
                        return Err(Bail);
                    }
                    return self.key_line(cur, indent);
                }
                Some(Open::Seq { col, indentless })
                    if indent < col || (indent == col && indentless && !dash) =>
                {
                    self.stack.pop();
                    self.push(Event::SequenceEnd, Span::new(at, at));
                }
                Some(Open::Seq { col, .. }) => {
                    if indent > col || !dash {
                        return Err(Bail);
                    }
                    return self.seq_item(cur, indent);
                }
                None => return Err(Bail),
            }
        }
    }

    fn finish(&mut self) -> Step<()> {
        if !self.started {
            return Err(Bail);
        }
        if let Some(pending) = self.pending.take() {
            self.empty_value(pending.null_at);
            self.release_held();
        }
        let at = self.eof();
        while let Some(open) = self.stack.pop() {
            let event = match open {
                Open::Map(_) => Event::MappingEnd,
                Open::Seq { .. } => Event::SequenceEnd,
            };
            self.push(event, Span::new(at, at));
        }
        self.push(Event::DocumentEnd, Span::new(at, at));
        self.push(Event::StreamEnd, Span::new(at, at));
        self.done = true;
        Ok(())
    }

    /// `key: …` starting at column `at`.
    fn key_line(&mut self, cur: Line, at: usize) -> Step<()> {
        let text = self.text;
        let line = &text.as_bytes()[cur.start..cur.end];
        let (key, style, key_end, colon) = match line[at] {
            b'"' | b'\'' => {
                let (key, style, end) = quoted(&text[cur.start..cur.end], at)?;
                if line.get(end) != Some(&b':') {
                    return Err(Bail);
                }
                (key, style, end, end)
            }
            _ => {
                if !plain_start(line, at) {
                    return Err(Bail);
                }
                let Scan::Indicator(colon) = scan_plain(line, at) else {
                    return Err(Bail);
                };
                let end = trim_end(line, at, colon);
                (
                    Cow::Borrowed(&text[cur.start + at..cur.start + end]),
                    ScalarStyle::Plain,
                    end,
                    colon,
                )
            }
        };
        // go-yaml and granit limit simple keys to 1024 characters.
        if key_end - at > 1000 || !(colon + 1 == line.len() || line[colon + 1] == b' ') {
            return Err(Bail);
        }
        self.push(Event::Scalar(key, style, 0, None), cur.span(at, key_end));
        self.value(cur, colon + 1, cur.at(colon), at, Some(at))
    }

    /// An item of a list whose `-` is at column `dash`.
    fn seq_item(&mut self, cur: Line, dash: usize) -> Step<()> {
        let text = self.text;
        let line = &text.as_bytes()[cur.start..cur.end];
        let content = skip_spaces(line, dash + 1);
        if content < line.len() && line[content] != b'#' {
            if is_dash(line, content) {
                return Err(Bail);
            }
            if is_key(&text[cur.start..cur.end], content)? {
                let at = cur.at(content);
                self.push(
                    Event::MappingStart(StructureStyle::Block, 0, None),
                    Span::new(at, at),
                );
                self.stack.push(Open::Map(content));
                return self.key_line(cur, content);
            }
        }
        // An empty item is reported at the end of its line (after any
        // trailing spaces and comment).
        self.value(cur, dash + 1, cur.at(line.len()), dash, None)
    }

    /// The value after a key's `:` or an item's `-` (at `from`, which is a
    /// space or the line's end).
    fn value(
        &mut self,
        cur: Line,
        from: usize,
        null_at: Marker,
        indent: usize,
        map_indent: Option<usize>,
    ) -> Step<()> {
        let text = self.text;
        let src = &text[cur.start..cur.end];
        let line = src.as_bytes();
        let at = skip_spaces(line, from);
        if at == line.len() || line[at] == b'#' {
            self.pending = Some(Pending {
                null_at,
                indent,
                map_indent,
            });
            return self.rest(cur, at);
        }
        let end = match line[at] {
            b'"' | b'\'' => {
                let (value, style, end) = quoted(src, at)?;
                self.push(Event::Scalar(value, style, 0, None), cur.span(at, end));
                end
            }
            b'|' => return self.literal(cur, at, indent),
            b'[' | b'{' => {
                let (start, end, close) = if line[at] == b'[' {
                    (
                        Event::SequenceStart(StructureStyle::Flow, 0, None),
                        Event::SequenceEnd,
                        b']',
                    )
                } else {
                    (
                        Event::MappingStart(StructureStyle::Flow, 0, None),
                        Event::MappingEnd,
                        b'}',
                    )
                };
                if line.get(at + 1) != Some(&close) {
                    return Err(Bail);
                }
                self.push(start, cur.span(at, at + 1));
                self.push(end, cur.span(at + 1, at + 2));
                at + 2
            }
            _ => {
                if !plain_start(line, at) {
                    return Err(Bail);
                }
                let stop = match scan_plain(line, at) {
                    Scan::Indicator(_) => return Err(Bail),
                    Scan::Comment(i) => i,
                    Scan::End => line.len(),
                };
                let end = trim_end(line, at, stop);
                self.push(
                    Event::Scalar(Cow::Borrowed(&src[at..end]), ScalarStyle::Plain, 0, None),
                    cur.span(at, end),
                );
                end
            }
        };
        let next = skip_spaces(line, end);
        if next < line.len() && next == end {
            // Something glued to the value (`"a"b`, `[]x`, `"a"#`).
            return Err(Bail);
        }
        self.rest(cur, next)
    }

    /// The rest of a line after its content: nothing, or a comment.
    fn rest(&mut self, cur: Line, at: usize) -> Step<()> {
        let len = cur.end - cur.start;
        if at == len {
            return Ok(());
        }
        if self.text.as_bytes()[cur.start + at] != b'#' {
            return Err(Bail);
        }
        let comment = (
            Event::Comment(
                Cow::Borrowed(&self.text[cur.start + at + 1..cur.end]),
                Placement::Right,
            ),
            cur.span(at, len),
        );
        // After a key without a value the comment, like the lines that
        // follow, waits for what the value turns out to be (after a `-`
        // the parser reports it at once).
        match self.pending {
            Some(Pending {
                map_indent: Some(_),
                ..
            }) => self.held.push(comment),
            _ => self.queue.push_back(comment),
        }
        Ok(())
    }

    /// A literal block (`|`, `|-`, `|+`) whose indicator is at `at`; its
    /// content lines must be indented more than `indent`.
    fn literal(&mut self, cur: Line, at: usize, indent: usize) -> Step<()> {
        let bytes = self.text.as_bytes();
        let line = &bytes[cur.start..cur.end];
        let (chomp, after) = match line.get(at + 1) {
            Some(b'-') => (Chomp::Strip, at + 2),
            Some(b'+') => (Chomp::Keep, at + 2),
            _ => (Chomp::Clip, at + 1),
        };
        if skip_spaces(line, after) != line.len() {
            return Err(Bail);
        }
        // (start, end) of each line's content; an empty line has start == end.
        let mut lines: Vec<(usize, usize)> = Vec::new();
        let mut content_indent = 0;
        let mut first: Option<Marker> = None;
        let mut pos = self.pos;
        let mut number = self.line;
        let end_marker = loop {
            if pos >= bytes.len() {
                break self.eof();
            }
            let Some(end) = memchr::memchr(b'\n', &bytes[pos..]).map(|i| pos + i) else {
                // A last line without its line break: left to the full parser.
                return Err(Bail);
            };
            let l = &bytes[pos..end];
            let spaces = l.iter().take_while(|&&b| b == b' ').count();
            if first.is_none() {
                if spaces == l.len() || spaces <= indent {
                    // Empty, or leading empty lines: left to the full parser.
                    return Err(Bail);
                }
                content_indent = spaces;
                first = Some(marker(pos + spaces, number, spaces));
            }
            if spaces == l.len() {
                if spaces > content_indent {
                    return Err(Bail);
                }
                lines.push((pos, pos));
            } else if spaces < content_indent {
                if spaces > indent {
                    return Err(Bail);
                }
                break marker(pos + spaces, number, spaces);
            } else {
                lines.push((pos + content_indent, end));
            }
            pos = (end + 1).min(bytes.len());
            number += 1;
        };
        let Some(start) = first else {
            return Err(Bail);
        };
        let last_text = lines.iter().rposition(|&(s, e)| s < e).ok_or(Bail)?;
        let kept = match chomp {
            Chomp::Keep => lines.len(),
            Chomp::Clip | Chomp::Strip => last_text + 1,
        };
        let mut value = String::new();
        for &(s, e) in &lines[..kept] {
            value.push_str(&self.text[s..e]);
            value.push('\n');
        }
        if chomp == Chomp::Strip {
            value.pop();
        }
        self.push(
            Event::Scalar(Cow::Owned(value), ScalarStyle::Literal, 0, None),
            Span::new(start, end_marker),
        );
        // The line that ended the block is read next.
        if end_marker.index() < bytes.len() {
            self.pos = end_marker.index() - end_marker.col();
            self.line = end_marker.line();
        } else {
            self.pos = bytes.len();
            self.line = number;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Chomp {
    Clip,
    Strip,
    Keep,
}

fn skip_spaces(line: &[u8], from: usize) -> usize {
    from + line[from.min(line.len())..]
        .iter()
        .take_while(|&&b| b == b' ')
        .count()
}

/// A `-` list indicator at `at` (followed by a space or the line end).
fn is_dash(line: &[u8], at: usize) -> bool {
    line[at] == b'-' && (at + 1 == line.len() || line[at + 1] == b' ')
}

/// Can a plain scalar start at `at`? Indicators are left to the full parser,
/// except `-` before a non-space (`-1`, `-----BEGIN`).
fn plain_start(line: &[u8], at: usize) -> bool {
    match line[at] {
        b'-' => line.get(at + 1).is_some_and(|&b| b != b' '),
        b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|'
        | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' => false,
        _ => true,
    }
}

/// Where a plain scalar starting at `at` stops.
enum Scan {
    /// At a `:` before a space or the line end (a mapping indicator).
    Indicator(usize),
    /// At the `#` of a comment (after a space).
    Comment(usize),
    /// At the end of the line.
    End,
}

fn scan_plain(line: &[u8], at: usize) -> Scan {
    for i in memchr::memchr2_iter(b':', b'#', &line[at..]) {
        let i = at + i;
        if line[i] == b':' {
            if i + 1 == line.len() || line[i + 1] == b' ' {
                return Scan::Indicator(i);
            }
        } else if i > at && line[i - 1] == b' ' {
            return Scan::Comment(i);
        }
    }
    Scan::End
}

/// The end of `line[at..end]` without trailing spaces.
fn trim_end(line: &[u8], at: usize, end: usize) -> usize {
    at + line[at..end]
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(0, |i| i + 1)
}

/// Is the content at `at` a `key:` (a compact map in a list item)?
fn is_key(src: &str, at: usize) -> Step<bool> {
    let line = src.as_bytes();
    match line[at] {
        b'"' | b'\'' => {
            let (_, _, end) = quoted(src, at)?;
            Ok(line.get(end) == Some(&b':') && (end + 1 == line.len() || line[end + 1] == b' '))
        }
        _ => Ok(matches!(scan_plain(line, at), Scan::Indicator(_))),
    }
}

/// A quoted scalar on one line starting at `at`: its value, style and the
/// end of the closing quote.
fn quoted(src: &str, at: usize) -> Step<(Cow<'_, str>, ScalarStyle, usize)> {
    let line = src.as_bytes();
    if line[at] == b'\'' {
        let mut i = at + 1;
        let mut escaped = false;
        loop {
            let q = i + memchr::memchr(b'\'', &line[i..]).ok_or(Bail)?;
            if line.get(q + 1) == Some(&b'\'') {
                escaped = true;
                i = q + 2;
                continue;
            }
            let body = &src[at + 1..q];
            let value = if escaped {
                Cow::Owned(body.replace("''", "'"))
            } else {
                Cow::Borrowed(body)
            };
            return Ok((value, ScalarStyle::SingleQuoted, q + 1));
        }
    }
    let mut i = at + 1;
    let mut owned: Option<String> = None;
    let mut run = i;
    loop {
        let j = i + memchr::memchr2(b'"', b'\\', &line[i..]).ok_or(Bail)?;
        if line[j] == b'"' {
            let value = match owned {
                Some(mut s) => {
                    s.push_str(&src[run..j]);
                    Cow::Owned(s)
                }
                None => Cow::Borrowed(&src[at + 1..j]),
            };
            return Ok((value, ScalarStyle::DoubleQuoted, j + 1));
        }
        let s = owned.get_or_insert_with(String::new);
        s.push_str(&src[run..j]);
        let code = *line.get(j + 1).ok_or(Bail)?;
        let (c, len) = match code {
            b'0' => ('\0', 2),
            b'a' => ('\x07', 2),
            b'b' => ('\x08', 2),
            b't' => ('\t', 2),
            b'n' => ('\n', 2),
            b'v' => ('\x0b', 2),
            b'f' => ('\x0c', 2),
            b'r' => ('\r', 2),
            b'e' => ('\x1b', 2),
            b' ' => (' ', 2),
            b'"' => ('"', 2),
            b'/' => ('/', 2),
            b'\\' => ('\\', 2),
            b'N' => ('\u{85}', 2),
            b'_' => ('\u{a0}', 2),
            b'L' => ('\u{2028}', 2),
            b'P' => ('\u{2029}', 2),
            b'x' | b'u' | b'U' => {
                let digits = match code {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let hex = src.get(j + 2..j + 2 + digits).ok_or(Bail)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Bail);
                }
                let n = u32::from_str_radix(hex, 16).map_err(|_| Bail)?;
                (char::from_u32(n).ok_or(Bail)?, 2 + digits)
            }
            _ => return Err(Bail),
        };
        s.push(c);
        i = j + len;
        run = i;
    }
}

/// Comparison of this reader with granit-parser, for the tests and the
/// fuzz targets (`fuzzing` feature).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod agreement {
    use super::*;
    use granit_parser::Parser;

    /// What the builder reads of an event: everything but the comment
    /// placement other than "right", the byte offsets and the span hints.
    pub(crate) fn projection(event: &Event<'_>, span: &Span) -> String {
        let event = match event {
            Event::Comment(text, placement) => {
                format!(
                    "Comment({text:?}, right={})",
                    *placement == Placement::Right
                )
            }
            other => format!("{other:?}"),
        };
        format!(
            "{event} {}:{}-{}:{} empty={}",
            span.start.line(),
            span.start.col(),
            span.end.line(),
            span.end.col(),
            span.start.index() == span.end.index()
        )
    }

    /// granit's events, or `None` if it rejects the text.
    pub(crate) fn granit(text: &str) -> Option<Vec<String>> {
        let mut parser = Parser::new_from_str_with_options(text, super::super::granit_options());
        let mut out = Vec::new();
        for next in parser.by_ref() {
            let (event, span) = next.ok()?;
            out.push(projection(&event, &span));
        }
        Some(out)
    }

    /// This reader's events, or `None` if it bails.
    pub(crate) fn fast(text: &str) -> Option<Vec<String>> {
        if !eligible(text) {
            return None;
        }
        let mut reader = Reader::new(text);
        let mut out = Vec::new();
        while let Some(next) = reader.next_event() {
            let (event, span) = next.ok()?;
            out.push(projection(&event, &span));
        }
        Some(out)
    }

    /// When the fast reader takes a text, granit takes it too and yields the
    /// same events.
    pub(crate) fn agree(text: &str) -> Result<bool, String> {
        let Some(ours) = fast(text) else {
            return Ok(false);
        };
        let Some(theirs) = granit(text) else {
            return Err(format!("granit rejects what the fast reader took:\n{text}"));
        };
        if ours != theirs {
            let at = ours
                .iter()
                .zip(&theirs)
                .position(|(a, b)| a != b)
                .unwrap_or(ours.len().min(theirs.len()));
            return Err(format!(
                "events differ at {at}:\n  fast:   {:?}\n  granit: {:?}\ntext:\n{text}",
                ours.get(at),
                theirs.get(at)
            ));
        }
        Ok(true)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::agreement::*;

    #[track_caller]
    fn takes(text: &str) {
        assert_eq!(agree(text), Ok(true), "{text}");
    }

    #[track_caller]
    fn leaves(text: &str) {
        assert_eq!(agree(text), Ok(false), "{text}");
    }

    #[test]
    fn layouts_it_takes() {
        takes("a: 1\n");
        takes("a: 1");
        takes("# head\na: 1\nb:\n    c: \"x\\ty\" # right\n    d: 'it''s'\n    # foot\ne:\n    - x\n    - y: 1\n      z: 2\n    -\n    - |\n        lit\n        two\n    - k:\nf: |-\n    q\ng:\n# last\n");
        takes("a: # ra\n    b: 1 # rb\n  # odd\n    c: x   \nd:\n- x # rx\n-   # r-\n  - nested\n- k: v # rk\n  # in item\n  j: w\n\n# after blank\ne: \"\" \n\"q k\": 'v'\nf: |+\n    keep\n\ng: |\n  x\n  # not comment\nh: v\n");
        takes("a:\n  # c\n  b: 1\n  # c1\n# c2\nd:\n# c3\ne:\n  # c4\nf: 1\n");
        takes("a:\n  - x\n  # c\nb: []\nc: {}\nd: 1\n# end");
        takes("k: ENC[AES256_GCM,data:abc=,iv:def+/=,tag:x==,type:str]\n");
        takes("a: |\n  x\n\n\nb: 1\n");
        takes("a: |+\n  x\n\n");
        takes("a: |-\n  x\n  y\n");
        takes("a: x:y\nb: -1\nc: a#b\nd: 'a # b'\ne: \"\\u00e9\\x41\\\\\"\n");
        takes("a:\n- b: 1\n  c:\n  - d\nx: y\n");
    }

    #[test]
    fn layouts_it_leaves() {
        leaves("");
        leaves("# only a comment\n");
        leaves("- a\n");
        leaves("a: &x 1\nb: *x\n");
        leaves("a: !!str 1\n");
        leaves("a: [1, 2]\n");
        leaves("a: b\n  c\n");
        leaves("a: \"b\n  c\"\n");
        leaves("a: >\n  x\n");
        leaves("---\na: 1\n");
        leaves("a: 1\n---\nb: 2\n");
        leaves("a:\tb\n");
        leaves("a: é\n");
        leaves("a: 1\r\n");
        leaves("? a\n: b\n");
        leaves("a: b: c\n");
        leaves("a: |2\n  x\n");
        leaves("a: |-\n  x\n  y");
    }

    /// Random lines in the shapes block YAML is made of, well-formed or
    /// not: whatever the fast reader takes must be read as granit reads it.
    pub(in super::super) fn fragment() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let indent = prop::sample::select(vec![0usize, 0, 1, 2, 2, 3, 4, 4, 6, 8]);
        let key = prop::sample::select(vec![
            "a",
            "b",
            "key_1",
            "\"q k\"",
            "'s k'",
            "-k",
            "x:y",
            "a b",
            "<<",
            "a ",
            "\"e\\\"\"",
        ]);
        let value = prop::sample::select(vec![
            "",
            " 1",
            " x",
            " ENC[AES256_GCM,data:YQ==,iv:aXY=,tag:dA==,type:str]",
            " \"q\"",
            " 'it''s'",
            " \"a\\nb\\u00e9\"",
            " []",
            " {}",
            " |",
            " |-",
            " |+",
            " -1",
            " a#b",
            " a # c",
            " # c",
            " x:",
            " x: y",
            " ~",
            " null",
            "  spaced  ",
            " 'open",
            " \"open",
            " [1]",
            " &a x",
            " *a",
            " !!str x",
            " >",
            " :x",
            " ?x",
            " \"x\"y",
            " - x",
            " --- x",
            " 0o17",
            " 1e3",
            " true",
        ]);
        let line = prop_oneof![
            4 => (indent.clone(), key, value.clone()).prop_map(|(i, k, v)| format!("{}{k}:{v}", " ".repeat(i))),
            2 => (indent.clone(), value.clone()).prop_map(|(i, v)| format!("{}-{v}", " ".repeat(i))),
            1 => (indent.clone(), prop::sample::select(vec!["- a: 1", "- - x", "-", "- k:"]))
                .prop_map(|(i, v)| format!("{}{v}", " ".repeat(i))),
            1 => (indent.clone(), prop::sample::select(vec!["# c", "#", "#  x ", "plain text", "  ", "---", "...", "%YAML 1.1"]))
                .prop_map(|(i, v)| format!("{}{v}", " ".repeat(i))),
            1 => Just(String::new()),
        ];
        (prop::collection::vec(line, 1..14), any::<bool>()).prop_map(|(lines, newline)| {
            let mut text = lines.join("\n");
            if newline {
                text.push('\n');
            }
            text
        })
    }

    /// A document for [`layout`]: random nesting, indentation steps, list
    /// styles, comments and blank lines, written as block YAML.
    /// A generated comment: its shift from the entry's column, and text.
    type GenComment = Option<(i8, &'static str)>;

    #[derive(Clone, Debug)]
    enum Node {
        Scalar(&'static str),
        Literal(&'static str, Vec<&'static str>),
        Map(usize, Vec<(&'static str, Node, GenComment, bool)>),
        List(usize, bool, Vec<(Node, GenComment)>),
    }

    fn node() -> impl proptest::strategy::Strategy<Value = Node> {
        use proptest::prelude::*;
        let scalar = prop::sample::select(vec![
            "1",
            "x",
            "ENC[AES256_GCM,data:YQ==,iv:aXY=,tag:dA==,type:str]",
            "\"q # x\"",
            "'it''s'",
            "[]",
            "{}",
            "a # c",
            "x:y",
            "~",
            "-1",
            "true",
            "\"\"",
            "''",
            "a  b",
        ])
        .prop_map(Node::Scalar);
        let literal = (
            prop::sample::select(vec!["|", "|-", "|+"]),
            prop::collection::vec(
                prop::sample::select(vec!["x", "", "# t", "a: b", " y", "- z"]),
                1..4,
            ),
        )
            .prop_map(|(h, l)| Node::Literal(h, l));
        let comment = prop::option::weighted(
            0.3,
            (-3i8..4, prop::sample::select(vec![" c", "", " x # y"])),
        );
        let key = prop::sample::select(vec!["a", "b", "k_2", "\"q k\"", "'s'", "<<", "-x"]);
        let leaf = prop_oneof![3 => scalar, 1 => literal];
        leaf.prop_recursive(4, 40, 5, move |inner| {
            let step = prop::sample::select(vec![1usize, 2, 2, 3, 4, 4]);
            prop_oneof![
                (
                    step.clone(),
                    prop::collection::vec(
                        (key.clone(), inner.clone(), comment.clone(), any::<bool>()),
                        1..5
                    )
                )
                    .prop_map(|(s, e)| Node::Map(s, e)),
                (
                    step,
                    any::<bool>(),
                    prop::collection::vec((inner, comment.clone()), 1..4)
                )
                    .prop_map(|(s, i, e)| Node::List(s, i, e)),
            ]
        })
    }

    fn pad(n: usize) -> String {
        " ".repeat(n)
    }

    fn write_comment(out: &mut String, col: usize, c: &Option<(i8, &str)>) {
        if let Some((shift, text)) = c {
            let col = (col as i64 + *shift as i64).max(0) as usize;
            out.push_str(&format!("{}#{text}\n", pad(col)));
        }
    }

    /// Writes `node` as the value after `key:` or `-` (the line is open);
    /// `col` is the column of the key or dash.
    fn write_value(out: &mut String, node: &Node, col: usize, in_map: bool) {
        match node {
            Node::Scalar(s) => out.push_str(&format!(" {s}\n")),
            Node::Literal(header, lines) => {
                out.push_str(&format!(" {header}\n"));
                for l in lines {
                    if l.is_empty() {
                        out.push('\n');
                    } else {
                        out.push_str(&format!("{}{l}\n", pad(col + 2)));
                    }
                }
            }
            Node::Map(step, _) => {
                out.push('\n');
                write_node(out, node, col + step);
            }
            Node::List(step, indentless, _) => {
                out.push('\n');
                let at = if *indentless && in_map {
                    col
                } else {
                    col + step
                };
                write_node(out, node, at);
            }
        }
    }

    fn write_node(out: &mut String, node: &Node, col: usize) {
        match node {
            Node::Map(_, entries) => {
                for (key, value, comment, blank) in entries {
                    if *blank {
                        out.push('\n');
                    }
                    write_comment(out, col, comment);
                    out.push_str(&format!("{}{key}:", pad(col)));
                    write_value(out, value, col, true);
                }
            }
            Node::List(_, _, items) => {
                for (item, comment) in items {
                    write_comment(out, col, comment);
                    out.push_str(&format!("{}-", pad(col)));
                    match item {
                        // A compact map: its first key on the dash's line.
                        Node::Map(_, entries) if comment.is_none() => {
                            for (i, (key, value, _, _)) in entries.iter().enumerate() {
                                if i == 0 {
                                    out.push_str(&format!(" {key}:"));
                                } else {
                                    out.push_str(&format!("{}{key}:", pad(col + 2)));
                                }
                                write_value(out, value, col + 2, true);
                            }
                        }
                        _ => write_value(out, item, col, false),
                    }
                }
            }
            Node::Scalar(_) | Node::Literal(..) => unreachable!("documents are maps"),
        }
    }

    /// A block YAML document, sometimes with one line's indentation
    /// changed or its final newline dropped.
    pub(in super::super) fn layout() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let doc = prop::collection::vec(
            (
                prop::sample::select(vec!["a", "b", "c", "d"]),
                node(),
                any::<bool>(),
            ),
            1..4,
        )
        .prop_map(|entries| {
            Node::Map(
                2,
                entries
                    .into_iter()
                    .map(|(k, v, b)| (k, v, None, b))
                    .collect(),
            )
        });
        (
            doc,
            prop::option::weighted(0.3, (any::<prop::sample::Index>(), -2i32..3)),
            any::<bool>(),
        )
            .prop_map(|(doc, shift, newline)| {
                let mut out = String::new();
                write_node(&mut out, &doc, 0);
                if let Some((at, by)) = shift {
                    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
                    let i = at.index(lines.len());
                    let l = &lines[i];
                    lines[i] = if by >= 0 {
                        format!("{}{l}", pad(by as usize))
                    } else {
                        l.strip_prefix(&pad((-by) as usize))
                            .unwrap_or(l)
                            .to_string()
                    };
                    out = lines.join("\n");
                    out.push('\n');
                }
                if !newline {
                    out.pop();
                }
                out
            })
    }

    /// A generated document with a few bytes inserted, replaced or removed:
    /// near-valid text, where a reader's edge cases are.
    pub(in super::super) fn mutated() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let byte = prop::sample::select(b" -:#'\"|>[]{}\n\\&*!?,%@`~xa0".to_vec());
        let edit = (any::<prop::sample::Index>(), 0u8..3, byte);
        (layout(), prop::collection::vec(edit, 1..4)).prop_map(|(text, edits)| {
            let mut bytes = text.into_bytes();
            for (at, kind, b) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match kind {
                    0 => bytes.insert(i, b),
                    1 => bytes[i] = b,
                    _ => {
                        bytes.remove(i);
                    }
                }
            }
            String::from_utf8(bytes).expect("ASCII edits of ASCII text")
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        #[test]
        fn mutated_documents_agree(text in mutated()) {
            if let Err(e) = agree(&text) {
                proptest::prop_assert!(false, "{}", e);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        #[test]
        fn random_documents_agree(text in layout()) {
            if let Err(e) = agree(&text) {
                proptest::prop_assert!(false, "{}", e);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        #[test]
        fn random_layouts_agree(text in fragment()) {
            if let Err(e) = agree(&text) {
                proptest::prop_assert!(false, "{}", e);
            }
        }
    }
}
