//! Reading and writing a large document in two halves, one per core.
//!
//! Reading and writing are about half of decrypting a large file, and the
//! crypto between them already runs on two threads.
//!
//! **Reading.** A document whose top level is a block map can be cut at the
//! start of a line between two of its entries: the fast reader reads each
//! side on its own (the second with the lines, columns and byte offsets it
//! has in the whole text, which the comment placement looks at), and the two
//! top-level maps are joined.
//!
//! Only a cut that cannot change what either side reads is taken: the line
//! after it is a top-level key at column 0, maybe after a run of comments
//! at column 0, and the line before it holds content (not a comment, not
//! blank), so everything open before the cut is closed by the key. The
//! halves stand for the whole only when both are plain block YAML the fast
//! reader takes without an error, each is one document, the first ends with
//! no comment still waiting for its place (one before an empty list item
//! waits for the node after it, which is across the cut), and no top-level
//! key is in both (the fast reader takes no anchors or aliases, so none
//! crosses the cut). Otherwise the whole text is read again in one go, which
//! has the last word (and reports any error exactly as it would). The tests
//! compare both ways at every cut of every YAML file of the test data and
//! of generated layouts; so does the `yaml_fast` fuzz target.
//!
//! **Writing.** The top-level map is cut before one of its entries (not the
//! first). One encoder writes the document up to that entry's key; the
//! other starts a document whose map has already begun and writes from
//! that key to the end, keeping a copy of its emitter as it was when the
//! key was fed. The emitter is a state machine: when the first one's state
//! at the key is the copy's (everything but the text written so far and the
//! line the first is still on, see `Emitter::resumes_as`), the same events
//! give the same text, and the second text from the key on completes the
//! first. Otherwise (a foot comment pending across the cut, say) the first
//! encoder goes on to the end alone, as it would have without the second.
//! The two texts are [`Halves`]: joined for a plaintext (small next to the
//! encrypted input it came from), written one after the other for an
//! encrypted file, whose text is the largest thing in memory when it is
//! written (joining them held the second half twice for a moment: +11% peak
//! memory for a 100,000-value encrypt).

use std::collections::HashSet;

use super::emitter::{Comments, Ev};
use super::encode::{Encoder, MapBody};
#[cfg(any(test, feature = "fuzzing"))]
use super::fast;
use super::fast::Reader;
#[cfg(test)]
use super::read::build;
use super::read::build_reporting;
use super::{encoder, parse_error};
use crate::error::Result;
use crate::parallel;
use crate::tree::{Item, Map, Value};

/// Below this many bytes a second thread costs more than it saves.
const MIN_LEN: usize = 64 * 1024;

/// Below this many leaves a second thread costs more than it saves.
const MIN_LEAVES: usize = 2048;

/// Reads `text` (which `fast::eligible` takes) in two halves on two
/// threads; `None` when it is small, has no cut near its middle, or the
/// halves cannot stand for the whole (see the module docs).
pub(super) fn read_in_halves(text: &str) -> Option<Map> {
    if text.len() < MIN_LEN || !parallel::two_cores() {
        return None;
    }
    let at = cut_near_middle(text.as_bytes())?;
    read_cut_at(text, at)
}

/// The first cut (see [`is_cut`]) from the middle of the text on, up to
/// three quarters of it.
fn cut_near_middle(bytes: &[u8]) -> Option<usize> {
    let (from, to) = (bytes.len() / 2, bytes.len() * 3 / 4);
    memchr::memchr_iter(b'\n', &bytes[from..to])
        .map(|i| from + i + 1)
        .find(|&at| is_cut(bytes, at))
}

/// Whether the text can be cut at byte `at`: the start of a line that is a
/// top-level key at column 0 or the first of a run of comment lines at
/// column 0 ending in one, after a line with content.
pub(super) fn is_cut(bytes: &[u8], at: usize) -> bool {
    if at == 0 || at >= bytes.len() || bytes[at - 1] != b'\n' {
        return false;
    }
    let before_start = memchr::memrchr(b'\n', &bytes[..at - 1]).map_or(0, |i| i + 1);
    let before = &bytes[before_start..at - 1];
    match before.iter().find(|&&b| b != b' ') {
        None | Some(b'#') => return false,
        Some(_) => {}
    }
    let mut line = at;
    while bytes[line] == b'#' {
        match memchr::memchr(b'\n', &bytes[line..]) {
            Some(i) if line + i + 1 < bytes.len() => line += i + 1,
            _ => return false,
        }
    }
    bytes[line].is_ascii_alphanumeric() || bytes[line] == b'_'
}

/// Reads `text` cut at `at` (a line start, see [`is_cut`]), one half per
/// thread, and joins the two top-level maps; `None` if the halves cannot
/// stand for the whole.
pub(super) fn read_cut_at(text: &str, at: usize) -> Option<Map> {
    let (first, second) = parallel::in_parallel(
        || read_half(&text[..at], Reader::new(&text[..at])),
        || {
            // The line the cut starts: counted on this thread, not before.
            let line = memchr::memchr_iter(b'\n', &text.as_bytes()[..at]).count() + 1;
            read_half(text, Reader::starting_at(text, at, line))
        },
    );
    let ((mut first, comments_at_cut), (second, _)) = (first?, second?);
    // Comments still waiting for their place at the end of the first half
    // (before an empty list item, say) go where the node after them says:
    // in the whole text, the second half's first key.
    if comments_at_cut {
        return None;
    }
    // A key in both halves is an error the whole reading reports (with
    // its position); each half only sees its own.
    let keys: HashSet<&str> = entry_keys(&first).collect();
    if entry_keys(&second).any(|key| keys.contains(key)) {
        return None;
    }
    first.items.extend(second.items);
    Some(first)
}

fn entry_keys(map: &Map) -> impl Iterator<Item = &str> {
    map.items.iter().filter_map(|item| match item {
        Item::Entry(key, _) => Some(key.as_str()),
        Item::Comment(_) => None,
    })
}

/// One half, read by `reader` and built against `text` (whose byte
/// offsets the reader's positions are): its one document and whether
/// comments waited at its end (see [`build_reporting`]), or `None`.
fn read_half(text: &str, mut reader: Reader<'_>) -> Option<(Map, bool)> {
    let (docs, comments_at_end) = build_reporting(text, || {
        reader
            .next_event()
            .map(|next| next.map_err(|_| parse_error("left to the full parser".into())))
    })
    .ok()?;
    let [doc]: [Map; 1] = docs.try_into().ok()?;
    Some((doc, comments_at_end))
}

/// A document's text written in two halves: `first`, `between`, then
/// `second` from byte `from` on.
#[derive(Clone)]
pub(super) struct Halves {
    first: String,
    between: &'static str,
    second: String,
    from: usize,
}

impl Halves {
    /// The text in one piece.
    pub(super) fn joined(self) -> String {
        let mut out = self.first;
        out.push_str(self.between);
        out.push_str(&self.second[self.from..]);
        out
    }

    /// The text in pieces to be written one after the other.
    pub(super) fn into_parts(self) -> Vec<String> {
        let mut first = self.first;
        first.push_str(self.between);
        let mut second = self.second;
        // (Nothing, in practice: the second encoder writes nothing before
        // the key.)
        second.drain(..self.from);
        vec![first, second]
    }

    /// One thread's text.
    fn whole(text: String) -> Halves {
        Halves {
            first: text,
            between: "",
            second: String::new(),
            from: 0,
        }
    }
}

/// Writes `doc` (of `leaves` leaves; `trailing`: the metadata entry of an
/// encrypted file, as its last item) in two halves on two threads, as
/// `emit_with` writes it in one; `None` when it is small or has no cut near
/// its middle. Errors are those `emit_with` reports, in the same order.
pub(super) fn write_in_halves(
    doc: &Map,
    trailing: Option<&Item>,
    indent: usize,
    leaves: usize,
) -> Result<Option<Halves>> {
    if leaves < MIN_LEAVES || !parallel::two_cores() {
        return Ok(None);
    }
    let Some(at) = entry_near_middle(&doc.items, leaves) else {
        return Ok(None);
    };
    let (halves, _both) = write_cut_at(doc, trailing, indent, at, leaves)?;
    Ok(Some(halves))
}

/// The top-level entry before which about half of the `leaves` leaves of
/// `items` come: not the first entry, and `None` if there is no other.
fn entry_near_middle(items: &[Item], leaves: usize) -> Option<usize> {
    let mut before = 0;
    let mut first_seen = false;
    for (i, item) in items.iter().enumerate() {
        if let Item::Entry(_, value) = item {
            if first_seen && before * 2 >= leaves {
                return Some(i);
            }
            first_seen = true;
            before += value.leaf_count();
        }
    }
    None
}

/// [`write_in_halves`] cut before the entry `items[at]` (`leaves`: the
/// document's): the text, and whether the second half's was used.
fn write_cut_at(
    doc: &Map,
    trailing: Option<&Item>,
    indent: usize,
    at: usize,
    leaves: usize,
) -> Result<(Halves, bool)> {
    let Item::Entry(key, value) = &doc.items[at] else {
        unreachable!("cuts are before entries")
    };
    let sealed = trailing.is_some();
    // The comments between the entry before the cut and the cut's key.
    let comments_from = doc.items[..at]
        .iter()
        .rposition(|item| matches!(item, Item::Entry(..)))
        .map_or(0, |i| i + 1);
    let rest = || doc.items[at + 1..].iter().chain(trailing);
    let (first, second) = parallel::in_parallel(
        || -> Result<_> {
            let mut enc = encoder(indent, leaves / 2, sealed);
            start_document(&mut enc);
            let mut body = MapBody::new(String::new());
            for item in &doc.items[..at] {
                body.item(&mut enc, item)?;
            }
            body.key(&mut enc, key);
            Ok((enc, body))
        },
        || -> Result<_> {
            // The cut is at about half the leaves, at most (see
            // `entry_near_middle`): a size guess, not counted again.
            let mut enc = encoder(indent, leaves / 2, sealed);
            start_document(&mut enc);
            enc.push(Ev::MapStart, Comments::default());
            let mut body = MapBody::continued();
            for item in &doc.items[comments_from..at] {
                body.item(&mut enc, item)?;
            }
            body.key(&mut enc, key);
            let mut at_key = enc.emitter.clone();
            at_key.first_key_as_later();
            write_from_value(&mut enc, body, value, rest())?;
            Ok((at_key, enc.emitter.finish()))
        },
    );
    let (mut enc, body) = first?;
    if let Ok((at_key, second)) = second {
        if let Some(between) = enc.emitter.resumes_as(&at_key) {
            let halves = Halves {
                first: enc.emitter.into_written(),
                between,
                second,
                from: at_key.written().len(),
            };
            return Ok((halves, true));
        }
    }
    write_from_value(&mut enc, body, value, rest())?;
    Ok((Halves::whole(enc.emitter.finish()), false))
}

/// Starts the stream and its document.
fn start_document(enc: &mut Encoder<'_>) {
    enc.push(Ev::StreamStart, Comments::default());
    enc.push(Ev::DocStart, Comments::default());
}

/// Writes from the value of the key just written to the end of the
/// stream.
fn write_from_value<'a>(
    enc: &mut Encoder<'a>,
    mut body: MapBody<'a>,
    value: &'a Value,
    rest: impl Iterator<Item = &'a Item>,
) -> Result<()> {
    enc.value(value, String::new(), String::new())?;
    for item in rest {
        body.item(enc, item)?;
    }
    body.end(enc, String::new());
    enc.push(Ev::DocEnd, Comments::default());
    enc.push(Ev::StreamEnd, Comments::default());
    Ok(())
}

/// Every cut of `text` that the halves take gives what reading the whole
/// gives: how many cuts were taken, or the first difference. For the tests
/// and the `yaml_fast` fuzz target.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn every_cut_agrees(text: &str) -> Result<usize, String> {
    if !fast::eligible(text) {
        return Ok(0);
    }
    let whole = super::parse(text.as_bytes());
    let mut taken = 0;
    for at in 1..text.len() {
        if !is_cut(text.as_bytes(), at) {
            continue;
        }
        let Some(halves) = read_cut_at(text, at) else {
            continue;
        };
        let whole = match &whole {
            Ok(whole) => whole,
            Err(e) => {
                return Err(format!(
                    "the halves at byte {at} read what the whole rejects ({e}):\n{text}"
                ))
            }
        };
        // (Compared as printed: NaN is not equal to itself.)
        let (halves, whole) = (
            format!("{:?}", [&halves]),
            format!("{:?}", whole.iter().collect::<Vec<_>>()),
        );
        if halves != whole {
            return Err(format!(
                "cut at byte {at}:\n  halves: {halves}\n  whole:  {whole}\ntext:\n{text}"
            ));
        }
        taken += 1;
    }
    Ok(taken)
}

/// Every cut of `docs` (one YAML document) that the writing halves take
/// gives what writing it whole gives, as plaintext and as an encrypted
/// file, with 4 and 2 spaces, joined and in parts: how many cuts were
/// taken, or the first difference. For the tests and the `yaml_parse` fuzz
/// target.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn every_written_cut_agrees(docs: &[Map]) -> std::result::Result<usize, String> {
    let [doc] = docs else {
        return Ok(0);
    };
    let sops = Item::Entry(
        "sops".into(),
        Value::Map(Map {
            items: vec![Item::Entry("version".into(), Value::Str("3.11.0".into()))],
        }),
    );
    let mut taken = 0;
    for trailing in [None, Some(&sops)] {
        for indent in [4, 2] {
            let whole = super::emit_with(docs, trailing, indent);
            for at in 0..doc.items.len() {
                if !matches!(doc.items[at], Item::Entry(..))
                    || !doc.items[..at].iter().any(|i| matches!(i, Item::Entry(..)))
                {
                    continue;
                }
                let halves = write_cut_at(doc, trailing, indent, at, doc.leaf_count());
                let texts = halves.map(|(h, used)| {
                    let parts = h.clone().into_parts().concat();
                    (h.joined(), parts, used)
                });
                match (&texts, &whole) {
                    (Ok((joined, parts, used)), Ok(whole))
                        if joined.as_bytes() == &whole[..] && parts.as_bytes() == &whole[..] =>
                    {
                        taken += usize::from(*used);
                    }
                    (Err(a), Err(b)) if a.to_string() == b.to_string() => {}
                    _ => {
                        return Err(format!(
                            "written cut before item {at} (indent {indent}, sealed: {}):\n  halves: {:?}\n  whole:  {:?}",
                            trailing.is_some(),
                            texts.map(|(joined, parts, _)| (joined, parts)),
                            whole.map(|w| String::from_utf8_lossy(&w).into_owned())
                        ))
                    }
                }
            }
        }
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading `text` in halves agrees with reading it whole at every cut,
    /// and so does writing what it reads: how many cuts of each kind were
    /// taken.
    #[track_caller]
    fn agrees(text: &str) -> (usize, usize) {
        let read = every_cut_agrees(text).unwrap_or_else(|e| panic!("{e}"));
        let written = match super::super::parse(text.as_bytes()) {
            Ok(docs) => {
                every_written_cut_agrees(&docs).unwrap_or_else(|e| panic!("{e}\ntext:\n{text}"))
            }
            Err(_) => 0,
        };
        (read, written)
    }

    #[test]
    fn cuts_are_between_top_level_entries() {
        let text = b"a:\n  b: 1\nc: 2\n# x\n# y\nd:\n  - 1\n# z\n\ne: 3\n";
        let cuts: Vec<usize> = (0..text.len()).filter(|&at| is_cut(text, at)).collect();
        // Before `c` and before the comments ahead of `d`; not inside
        // that run, not before `e` (a blank line in front of it) and not
        // at the comment before that blank line.
        let at = |s: &str| {
            text.windows(s.len())
                .position(|w| w == s.as_bytes())
                .unwrap()
        };
        assert_eq!(cuts, vec![at("c: 2"), at("# x")]);
    }

    #[test]
    fn halves_agree_with_the_whole() {
        for text in [
            "a:\n  b: 1\nc: 2\n",
            "a:\n  b: 1\n# head of c\nc:\n  d: 2\n",
            "a:\n  - 1\n  - 2\n# c\n# d\nb: |\n  text\n  more\nc: x\n",
            "a:\n- 1\n- 2\nb: 3\n",
            "a: |+\n  keep\nb: 1\n",
            "a: |-\n  strip\nb: 1\n",
            "a:\nb: 1\n",
            "a:\n# held\nb: 1\n",
            "a: 1 # right\nb: 2 # right\nc: 3\n",
            "a:\n  b:\n    c: 1 # deep\n# top\nd: 2\n",
            "a:\n  b: 1\n  # foot of a\n\n# head of c\nd: 1\nc: 2\n",
            "a: 1\nb: 2",
        ] {
            assert!(agrees(text).0 > 0, "no cut taken:\n{text}");
        }
    }

    /// A large file like those sops writes: its cut is taken, and what
    /// the halves read is what one reader reads; a key repeated across the
    /// cut is still the whole reading's error, with its line.
    #[test]
    fn large_documents_are_read_in_halves() {
        let mut text = String::new();
        for g in 0..600 {
            text.push_str(&format!("# group {g}\ngroup_{g}:\n"));
            for i in 0..20 {
                text.push_str(&format!("    key_{i}: value-{g}-{i}\n"));
            }
            text.push_str(&format!(
                "    list:\n        - {g}\n        # in list\n        - x\n"
            ));
        }
        assert!(text.len() > 2 * MIN_LEN);
        let mut reader = Reader::new(&text);
        let one = build(&text, || {
            reader
                .next_event()
                .map(|next| next.map_err(|_| parse_error("bail".into())))
        })
        .unwrap();
        let at = cut_near_middle(text.as_bytes()).unwrap();
        let halves = read_cut_at(&text, at).unwrap();
        assert_eq!([halves], &one[..]);
        if parallel::two_cores() {
            assert!(read_in_halves(&text).is_some());
        }
        assert_eq!(super::super::parse(text.as_bytes()).unwrap(), one);

        // Written in halves, as one encoder writes it.
        let leaves = one[0].leaf_count();
        let sequential =
            String::from_utf8(super::super::emit_in_one(&one, None, 4, leaves).unwrap()).unwrap();
        let at = entry_near_middle(&one[0].items, leaves).unwrap();
        let (halves, used) = write_cut_at(&one[0], None, 4, at, leaves).unwrap();
        assert!(used);
        assert_eq!(halves.joined(), sequential);
        if parallel::two_cores() {
            assert_eq!(
                write_in_halves(&one[0], None, 4, leaves)
                    .unwrap()
                    .map(Halves::joined),
                Some(sequential)
            );
        }

        // An encrypted file: in parts that are the one-thread bytes.
        let sops = Item::Entry("sops".into(), Value::Str("metadata".into()));
        let parts = super::super::emit_with_parts(&one, Some(&sops), 4).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts.concat(),
            super::super::emit_in_one(&one, Some(&sops), 4, leaves).unwrap()
        );

        let repeated = format!("{text}group_3: again\n");
        let err = super::super::parse(repeated.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mapping key \"group_3\" already defined at line 80"),
            "{err}"
        );
    }

    /// Fuzz finding 21 (`tests/data/fuzz/yaml_fast-halves-comment-before-empty-item`):
    /// a comment before an empty list item (`   #` then `-`) waits for the
    /// node after the item, and goes where that node's column says: read
    /// whole, to the top-level map before the next key; cut after the `-`,
    /// into the list. Such a cut is now left to the whole reading.
    #[test]
    fn a_comment_waiting_at_the_cut_is_left_to_the_whole() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/yaml_fast-halves-comment-before-empty-item"
        ))
        .unwrap();
        let at = text.find("s|o").unwrap();
        assert!(is_cut(text.as_bytes(), at));
        assert_eq!(read_cut_at(&text, at), None);
        agrees(&text);
        agrees("a:\n  - x\n    # c\n  -\nb: 1\n");
    }

    #[test]
    fn a_key_in_both_halves_is_left_to_the_whole() {
        let text = "a:\n  b: 1\nc: 2\na: 3\n";
        let at = text.find("c:").unwrap();
        assert!(is_cut(text.as_bytes(), at));
        assert_eq!(read_cut_at(text, at), None);
        assert!(super::super::parse(text.as_bytes()).is_err());
    }

    #[test]
    fn halves_of_the_test_data_agree_with_the_whole() {
        let mut files = 0;
        let (mut read, mut written) = (0, 0);
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data");
        let mut dirs = vec![std::path::PathBuf::from(root)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    let Ok(text) = std::fs::read_to_string(&path) else {
                        continue;
                    };
                    files += 1;
                    let (r, w) = agrees(&text);
                    read += r;
                    written += w;
                }
            }
        }
        assert!(
            files > 50 && read > 50 && written > 500,
            "{files} files, {read} read and {written} written cuts"
        );
    }

    /// Top-level entries of every kind (nested generated documents,
    /// scalars, literal blocks, empty values, lists at the key's column),
    /// with runs of comments and blank lines between them and a few keys
    /// repeated: many cuts, and the layouts around them.
    fn top_level() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let value = prop_oneof![
            super::super::fast::tests::layout().prop_map(|doc| {
                let nested: String = doc.lines().map(|l| format!("\n  {l}")).collect();
                format!("{nested}\n")
            }),
            prop::sample::select(vec![
                " 1\n",
                " x # right\n",
                "\n",
                " # c\n",
                " |\n  text\n",
                " |+\n  keep\n",
                " >-\n  folded\n  more\n",
                "\n- 1\n- 2\n",
                "\n  - a: 1\n    b: 2\n  # inner\n",
                "\n  k: v\n  # foot\n",
                " []\n",
                " ENC[AES256_GCM,data:YQ==,iv:aXY=,tag:dA==,type:str]\n",
            ])
            .prop_map(str::to_string),
        ];
        let gap = prop::sample::select(vec![
            "",
            "",
            "",
            "# c\n",
            "# c\n# d\n",
            "\n",
            "# c\n\n",
            "\n# c\n",
            "  # c\n",
        ]);
        // Now and then a key that is already there.
        let key = prop::sample::select(vec!["k", "k", "k", "k", "k", "k", "k", "k", "k", "dup"]);
        prop::collection::vec((gap, key, value), 1..8).prop_map(|entries| {
            entries
                .into_iter()
                .enumerate()
                .map(|(i, (gap, key, value))| match key {
                    "dup" => format!("{gap}dup:{value}"),
                    _ => format!("{gap}{key}{i}:{value}"),
                })
                .collect()
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]
        #[test]
        fn top_level_layouts_agree_at_every_cut(text in top_level()) {
            agrees(&text);
        }

        #[test]
        fn generated_documents_agree_at_every_cut(text in super::super::fast::tests::layout()) {
            agrees(&text);
        }

        #[test]
        fn generated_layouts_agree_at_every_cut(text in super::super::fast::tests::fragment()) {
            agrees(&text);
        }

        #[test]
        fn mutated_documents_agree_at_every_cut(text in super::super::fast::tests::mutated()) {
            agrees(&text);
        }
    }
}
