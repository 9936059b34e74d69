//! Encoding: sops' tree-to-node conversion (`stores/yaml/store.go`,
//! `appendTreeBranch`, `appendSequence`) and go-yaml v3's encoder
//! (`encode.go`: how each value becomes a scalar event and which style it
//! asks for) in one walk that feeds the [`Emitter`].

use base64::Engine as _;

use super::emitter::{Comments, Emitter, Ev, Style};
use super::resolve::{is_base60_float, is_old_bool, resolve_plain, Resolved};
use crate::error::{Error, Result};
use crate::format::Format;
use crate::gofmt;
use crate::tree::{Item, Value};

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

/// is in cache, and neither a node tree nor an event list is built.
///
/// Comments: those before a collection's first entry or item are its head
/// comment (after any head comment its container gives it); those before
/// a later entry its key's head comment, before a later item that item's;
/// those after the last entry end the mapping (go-yaml moves the last key's
/// foot comment there as a "tail"), those after the last item are that
/// item's foot comment.
pub(super) struct Encoder<'a> {
    pub(super) emitter: Emitter<'a>,
}

impl<'a> Encoder<'a> {
    /// Most events carry no comments; boxing the few that do keeps the
    /// events small.
    pub(super) fn push(&mut self, ev: Ev<'a>, comments: Comments) {
        let empty = comments.head.is_empty()
            && comments.line.is_empty()
            && comments.foot.is_empty()
            && comments.tail.is_empty();
        self.emitter.push(ev, (!empty).then(|| Box::new(comments)));
    }

    /// A value, with the head and foot comments its container gives it.
    pub(super) fn value(&mut self, value: &'a Value, head: String, foot: String) -> Result<()> {
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

    pub(super) fn map(
        &mut self,
        items: impl Iterator<Item = &'a Item>,
        head: String,
        foot: String,
    ) -> Result<()> {
        let mut body = MapBody::new(head);
        for item in items {
            body.item(self, item)?;
        }
        body.end(self, foot);
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

/// A block map being written item by item (see [`Encoder::map`]; the top
/// level of a large document is written in two halves this way, see
/// `split`).
pub(super) struct MapBody<'a> {
    /// The comments read since the last entry.
    comments: Vec<&'a str>,
    /// The head comment its container gives the map, until the map's start
    /// is written (with its first entry); `None` after.
    head: Option<String>,
}

impl<'a> MapBody<'a> {
    pub(super) fn new(head: String) -> Self {
        MapBody {
            comments: Vec::new(),
            head: Some(head),
        }
    }

    /// The rest of a map whose start and first entries another encoder
    /// writes.
    pub(super) fn continued() -> Self {
        MapBody {
            comments: Vec::new(),
            head: None,
        }
    }

    pub(super) fn item(&mut self, enc: &mut Encoder<'a>, item: &'a Item) -> Result<()> {
        match item {
            Item::Comment(c) => {
                self.comments.push(c);
                Ok(())
            }
            Item::Entry(key, value) => {
                self.key(enc, key);
                enc.value(value, String::new(), String::new())
            }
        }
    }

    /// An entry's key: the comments before it are its head comment, or the
    /// map's own head comment when it is the first.
    pub(super) fn key(&mut self, enc: &mut Encoder<'a>, key: &'a str) {
        let mut key_head = String::new();
        if !self.start(enc) {
            add_comments(&mut key_head, &mut self.comments, true);
        }
        enc.push(
            string_scalar(key),
            Comments {
                head: key_head,
                ..Comments::default()
            },
        );
    }

    /// The map's end: comments after the last entry end it (go-yaml's
    /// "tail"); a map without entries has them as its own head comment.
    pub(super) fn end(mut self, enc: &mut Encoder<'a>, foot: String) {
        let mut tail = String::new();
        if !self.start(enc) {
            add_comments(&mut tail, &mut self.comments, false);
        }
        enc.push(
            Ev::MapEnd,
            Comments {
                foot,
                tail,
                ..Comments::default()
            },
        );
    }

    /// Writes the map's start unless it is written, with the comments read
    /// so far as its own head comment; whether it did.
    fn start(&mut self, enc: &mut Encoder<'a>) -> bool {
        let Some(head) = self.head.take() else {
            return false;
        };
        let mut own = String::new();
        add_comments(&mut own, &mut self.comments, true);
        enc.start(Ev::MapStart, head, own);
        true
    }
}

fn comment_text(v: &Value) -> Option<&str> {
    match v {
        Value::Comment(c) => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::one;
    use super::super::{emit, emit_value};
    use crate::tree::{Item, Map, Value};

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
