//! Encrypting and decrypting a whole tree, and computing its MAC on the way.
//!
//! The walk mirrors sops': documents in order, map entries and list items in
//! order, the key path (list indices excluded) as each value's AAD, and the
//! selector deciding per leaf whether it is encrypted. Comments are leaves
//! too (type `comment`), but never part of the MAC.

use crate::cipher::{self, Cipher, EncryptedValue, IvCache, ValueType};
use crate::error::{Error, Result};
use crate::mac::MacHasher;
use crate::metadata::Selector;
use crate::parallel;
use crate::tree::{Item, Map, Value};
use zeroize::Zeroizing;

/// Walk state shared by encryption and decryption.
struct Walk<'a> {
    cipher: &'a Cipher,
    selector: &'a Selector,
    mac_only_encrypted: bool,
    mac: MacHasher,
    /// When set, the MAC input is collected here instead of hashed: the
    /// walk covers the second part of a tree split between two threads,
    /// and the bytes are hashed after the first part's.
    mac_bytes: Option<Zeroizing<Vec<u8>>>,
    /// The map keys from the root to the current node.
    path: Vec<String>,
    /// `path` joined as the AAD (`a:b:`), and where each key starts in it.
    aad: String,
    aad_lens: Vec<usize>,
    /// For every open map or list, the comments seen since its last
    /// non-comment item (sops' comment context for the comment regexes).
    comment_runs: Vec<Vec<String>>,
    /// Decrypt an empty comment in a list to an empty string, as sops does
    /// (see [`decrypt_documents`]).
    empty_comments_as_strings: bool,
}

impl<'a> Walk<'a> {
    fn new(cipher: &'a Cipher, selector: &'a Selector, mac_only_encrypted: bool) -> Self {
        Walk {
            cipher,
            selector,
            mac_only_encrypted,
            mac: MacHasher::new(mac_only_encrypted),
            mac_bytes: None,
            path: Vec::new(),
            aad: String::new(),
            aad_lens: Vec::new(),
            comment_runs: Vec::new(),
            empty_comments_as_strings: false,
        }
    }

    /// The AAD of the current position: keys joined by `:`, plus a trailing `:`.
    fn aad(&self) -> &str {
        if self.path.is_empty() {
            ":"
        } else {
            &self.aad
        }
    }

    /// Enters a map entry: its key joins the path (and the AAD, which is
    /// kept as one growing string so no leaf allocates its own).
    fn enter(&mut self, key: String) {
        self.aad_lens.push(self.aad.len());
        self.aad.push_str(&key);
        self.aad.push(':');
        self.path.push(key);
    }

    /// Leaves the entry entered last and gives its key back.
    fn leave(&mut self) -> String {
        let len = self.aad_lens.pop().expect("entered before");
        self.aad.truncate(len);
        self.path.pop().expect("entered before")
    }

    /// Does the selector encrypt the leaf at the current position?
    fn should_encrypt(&self, is_comment: bool) -> bool {
        selects(self.selector, &self.path, &self.comment_runs, is_comment)
    }

    fn add_to_mac(&mut self, bytes: &[u8], encrypted: bool) {
        if !self.mac_only_encrypted || encrypted {
            match &mut self.mac_bytes {
                Some(collected) => collected.extend_from_slice(bytes),
                None => self.mac.update(bytes),
            }
        }
    }

    /// Hashes MAC input collected by the walk of a later part of the tree.
    fn add_collected(&mut self, bytes: &[u8]) {
        self.mac.update(bytes);
    }

    fn note_comment(&mut self, text: &str) {
        if let Some(run) = self.comment_runs.last_mut() {
            run.push(text.to_string());
        }
    }

    fn end_of_item(&mut self) {
        if let Some(run) = self.comment_runs.last_mut() {
            run.clear();
        }
    }

    fn path_display(&self) -> String {
        self.aad().to_string()
    }

    // ---- encryption ----

    fn encrypt_map(&mut self, map: &mut Map, cache: Option<&IvCache>) -> Result<()> {
        self.comment_runs.push(Vec::new());
        let r = self.encrypt_items(&mut map.items, cache);
        self.comment_runs.pop();
        r
    }

    fn encrypt_items(&mut self, items: &mut [Item], cache: Option<&IvCache>) -> Result<()> {
        for item in items {
            match item {
                Item::Comment(text) => {
                    if let Some(enc) = self.encrypt_comment(text, cache)? {
                        *text = enc;
                    }
                }
                Item::Entry(key, value) => {
                    self.enter(std::mem::take(key));
                    let r = self.encrypt_value(value, cache);
                    *key = self.leave();
                    r?;
                    self.end_of_item();
                }
            }
        }
        Ok(())
    }

    /// Encrypts a comment if the selector says so; `None` leaves it as is.
    fn encrypt_comment(&mut self, text: &str, cache: Option<&IvCache>) -> Result<Option<String>> {
        self.note_comment(text);
        if text.is_empty() || !self.should_encrypt(true) {
            return Ok(None);
        }
        if let Selector::UnencryptedCommentRegex(re) = self.selector {
            if re.is_match(text) {
                return Err(Error::Encrypt {
                    path: self.path_display(),
                    reason: format!(
                        "comment would be encrypted but matches unencrypted_comment_regex `{}`",
                        re.as_str()
                    ),
                });
            }
        }
        Ok(Some(self.cipher.encrypt(
            text.as_bytes(),
            ValueType::Comment,
            self.aad(),
            cache,
        )))
    }

    fn encrypt_value(&mut self, value: &mut Value, cache: Option<&IvCache>) -> Result<()> {
        match value {
            Value::Map(m) => self.encrypt_map(m, cache),
            Value::List(items) => {
                self.comment_runs.push(Vec::new());
                for item in items.iter_mut() {
                    if let Value::Comment(text) = item {
                        // An encrypted comment inside a list is written as a
                        // list item, exactly as sops writes it. sops
                        // "encrypts" an empty one to an empty string, which
                        // then stands in the list as an item: so does nsec.
                        if text.is_empty() {
                            if self.should_encrypt_next_comment() {
                                *item = Value::Str(String::new());
                            }
                            self.note_comment("");
                        } else if let Some(enc) = self.encrypt_comment(&text.clone(), cache)? {
                            *item = Value::Str(enc);
                        }
                    } else {
                        self.encrypt_value(item, cache)?;
                        self.end_of_item();
                    }
                }
                self.comment_runs.pop();
                Ok(())
            }
            Value::Null | Value::Comment(_) => Ok(()),
            leaf => {
                let encrypt = self.should_encrypt(false);
                let (bytes, ty) = cipher::to_plaintext(leaf).expect("a leaf");
                self.add_to_mac(&bytes, encrypt);
                if encrypt && !bytes.is_empty() {
                    let sealed = self.cipher.encrypt(&bytes, ty, self.aad(), cache);
                    drop(bytes);
                    *leaf = Value::Str(sealed);
                }
                Ok(())
            }
        }
    }

    // ---- decryption ----

    fn decrypt_map(&mut self, map: &mut Map, cache: &mut IvCache) -> Result<()> {
        self.comment_runs.push(Vec::new());
        let r = self.decrypt_items(&mut map.items, cache);
        self.comment_runs.pop();
        r
    }

    fn decrypt_items(&mut self, items: &mut [Item], cache: &mut IvCache) -> Result<()> {
        for item in items {
            match item {
                Item::Comment(text) => {
                    if let Some(plain) = self.decrypt_comment(text, cache) {
                        *text = plain;
                    }
                    self.note_comment(&text.clone());
                }
                Item::Entry(key, value) => {
                    self.enter(std::mem::take(key));
                    let r = self.decrypt_value(value, cache);
                    *key = self.leave();
                    r?;
                    self.end_of_item();
                }
            }
        }
        Ok(())
    }

    /// Decrypts a comment that should be encrypted. Like sops, a comment that
    /// does not decrypt is kept as it is: comments are never fatal.
    fn decrypt_comment(&mut self, text: &str, cache: &mut IvCache) -> Option<String> {
        if !cipher::looks_encrypted(text) || !self.should_encrypt_next_comment() {
            return None;
        }
        let ev: EncryptedValue = text.parse().ok()?;
        let plain = self.cipher.decrypt(ev, self.aad(), Some(cache))?;
        String::from_utf8(plain.to_vec()).ok()
    }

    /// `should_encrypt(true)` for a comment that has not been noted yet.
    fn should_encrypt_next_comment(&mut self) -> bool {
        self.note_comment("");
        let r = self.should_encrypt(true);
        if let Some(run) = self.comment_runs.last_mut() {
            run.pop();
        }
        r
    }

    fn decrypt_value(&mut self, value: &mut Value, cache: &mut IvCache) -> Result<()> {
        match value {
            Value::Map(m) => self.decrypt_map(m, cache),
            Value::List(items) => {
                self.comment_runs.push(Vec::new());
                for item in items.iter_mut() {
                    match item {
                        Value::Comment(text)
                            if text.is_empty()
                                && self.empty_comments_as_strings
                                && self.should_encrypt_next_comment() =>
                        {
                            // sops "decrypts" it to an empty string, which
                            // replaces the comment (and adds nothing to the MAC).
                            self.note_comment("");
                            *item = Value::Str(String::new());
                        }
                        Value::Comment(text) => {
                            if let Some(plain) = self.decrypt_comment(text, cache) {
                                *text = plain;
                            }
                            let t = text.clone();
                            self.note_comment(&t);
                        }
                        _ => {
                            self.decrypt_value(item, cache)?;
                            if let Value::Comment(t) = item {
                                // An encrypted list item that held a comment.
                                let t = t.clone();
                                self.note_comment(&t);
                            } else {
                                self.end_of_item();
                            }
                        }
                    }
                }
                self.comment_runs.pop();
                Ok(())
            }
            Value::Null | Value::Comment(_) => Ok(()),
            leaf => {
                let encrypted = self.should_encrypt(false);
                if !encrypted {
                    let (bytes, _) = cipher::to_plaintext(leaf).expect("a leaf");
                    self.add_to_mac(&bytes, false);
                    return Ok(());
                }
                let text =
                    match leaf {
                        Value::Str(s) => s,
                        _ => return Err(Error::MalformedValue {
                            path: self.path_display(),
                            reason:
                                "a plaintext non-string value where an encrypted one is expected"
                                    .into(),
                        }),
                    };
                if text.is_empty() {
                    return Ok(());
                }
                let ev: EncryptedValue =
                    text.parse()
                        .map_err(|e: cipher::FormatError| Error::MalformedValue {
                            path: self.path_display(),
                            reason: e.to_string(),
                        })?;
                let value_type = ev.value_type();
                let plain = self
                    .cipher
                    .decrypt(ev, self.aad(), Some(cache))
                    .ok_or_else(|| Error::DecryptValue {
                        path: self.path_display(),
                    })?;
                // Comments are never part of the MAC. (Hashed before the
                // bytes move into the value; on an error nothing is used.)
                if value_type != ValueType::Comment {
                    self.add_to_mac(&plain, true);
                }
                *leaf = cipher::from_plaintext_owned(plain, value_type).map_err(|e| {
                    Error::MalformedValue {
                        path: self.path_display(),
                        reason: e.to_string(),
                    }
                })?;
                Ok(())
            }
        }
    }
}

/// Does `selector` encrypt a leaf under the map keys `path`, after the
/// comments in `runs` (for every open map or list, the comments since its
/// last item)? For a comment, the last comment of the innermost run is the
/// comment itself and does not count towards the comment regexes.
fn selects(selector: &Selector, path: &[String], runs: &[Vec<String>], is_comment: bool) -> bool {
    let any_key = |f: &dyn Fn(&str) -> bool| path.iter().any(|k| f(k));
    let any_comment = |re: &crate::GoRegex| {
        let last = runs.len().saturating_sub(1);
        runs.iter().enumerate().any(|(level, run)| {
            let run = if is_comment && level == last {
                &run[..run.len().saturating_sub(1)]
            } else {
                &run[..]
            };
            run.iter().any(|c| re.is_match(c))
        })
    };
    match selector {
        Selector::UnencryptedSuffix(s) => !any_key(&|k| k.ends_with(s.as_str())),
        Selector::EncryptedSuffix(s) => any_key(&|k| k.ends_with(s.as_str())),
        Selector::UnencryptedRegex(re) => !any_key(&|k| re.is_match(k)),
        Selector::EncryptedRegex(re) => any_key(&|k| re.is_match(k)),
        Selector::UnencryptedCommentRegex(re) => !any_comment(re),
        Selector::EncryptedCommentRegex(re) => any_comment(re),
    }
}

/// Calls `found` with the path (map keys and list indices) of every leaf of
/// an encrypted document that `selector` says must be encrypted but is
/// plaintext, as a plain editor leaves it. Null and empty strings are never
/// encrypted. Decided as encryption decides, the comment selectors included.
pub fn plaintext_leaves(doc: &Map, selector: &Selector, found: &mut dyn FnMut(&[String])) {
    let mut check = Check {
        selector,
        keys: Vec::new(),
        shown: Vec::new(),
        runs: Vec::new(),
        found,
    };
    check.map(doc);
}

/// The walk of [`plaintext_leaves`].
struct Check<'a, 'f> {
    selector: &'a Selector,
    /// Map keys from the root (what the selectors see).
    keys: Vec<String>,
    /// Map keys and list indices (what the user is shown).
    shown: Vec<String>,
    runs: Vec<Vec<String>>,
    found: &'f mut dyn FnMut(&[String]),
}

impl Check<'_, '_> {
    fn note(&mut self, comment: &str) {
        if let Some(run) = self.runs.last_mut() {
            run.push(comment.to_string());
        }
    }

    fn end_of_item(&mut self) {
        if let Some(run) = self.runs.last_mut() {
            run.clear();
        }
    }

    fn map(&mut self, map: &Map) {
        self.runs.push(Vec::new());
        for item in &map.items {
            match item {
                Item::Comment(text) => self.note(text),
                Item::Entry(key, value) => {
                    self.keys.push(key.clone());
                    self.shown.push(key.clone());
                    self.value(value);
                    self.keys.pop();
                    self.shown.pop();
                    self.end_of_item();
                }
            }
        }
        self.runs.pop();
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::Map(m) => self.map(m),
            Value::List(items) => {
                self.runs.push(Vec::new());
                let mut index = 0;
                for item in items {
                    match item {
                        Value::Comment(text) => self.note(text),
                        // An encrypted comment in a list is written as an item.
                        Value::Str(s)
                            if cipher::looks_encrypted(s) && s.ends_with(",type:comment]") =>
                        {
                            self.note(s)
                        }
                        _ => {
                            self.shown.push(index.to_string());
                            index += 1;
                            self.value(item);
                            self.shown.pop();
                            self.end_of_item();
                        }
                    }
                }
                self.runs.pop();
            }
            Value::Null | Value::Comment(_) => {}
            Value::Str(s) if s.is_empty() || cipher::looks_encrypted(s) => {}
            _ => {
                if selects(self.selector, &self.keys, &self.runs, false) {
                    (self.found)(&self.shown);
                }
            }
        }
    }
}

/// Trees with fewer leaves than this are walked by one thread: below it,
/// starting a second one costs about what it saves.
const PARALLEL_LEAVES: usize = 2048;

/// How many levels of maps the split may go down (a bound on the work of
/// finding it in a pathologically deep file).
const SPLIT_DEPTH: usize = 64;

/// Where a large document is split between two threads, about half of its
/// leaves (in file order) on each side.
#[derive(Debug, PartialEq)]
struct Split {
    /// The map entries gone down through, as indices into the items of
    /// the document, then of each entry's map: the split is inside them.
    down: Vec<usize>,
    /// The first item of the second half, in the items of the map reached.
    at: usize,
}

/// Where to split a document between two threads, or `None` to walk it in
/// one. A document that is wide at the top is cut between two top-level
/// items; one whose leaves are mostly under one key (`data:` holding
/// everything) is cut inside that key's map, as deep as needed.
///
/// The comment selectors decide by the comments seen before a value, which
/// would cross the split, so they always walk in one thread. The key-path
/// selectors, the AAD and the values depend only on the path, and the MAC
/// is put back in order: both ways give the same result.
fn split_point(doc: &Map, selector: &Selector) -> Option<Split> {
    if matches!(
        selector,
        Selector::UnencryptedCommentRegex(_) | Selector::EncryptedCommentRegex(_)
    ) {
        return None;
    }
    let total = doc.leaf_count();
    if total < PARALLEL_LEAVES || !parallel::two_cores() {
        return None;
    }
    let mut items = &doc.items;
    let mut down = Vec::new();
    // Leaves still to go to the first half, counted from the start of `items`.
    let mut need = total / 2;
    loop {
        // The item that straddles the middle.
        let mut before = 0;
        let (i, weight) = items
            .iter()
            .map(Item::leaf_count)
            .enumerate()
            .find(|&(_, w)| {
                if before + w > need {
                    return true;
                }
                before += w;
                false
            })?;
        need -= before;
        match &items[i] {
            // A map holding a good share of the leaves: cut inside it.
            Item::Entry(_, Value::Map(m)) if weight * 8 >= total && down.len() < SPLIT_DEPTH => {
                down.push(i);
                items = &m.items;
            }
            // Otherwise before or after it, whichever is nearer the middle.
            _ => {
                let at = if need * 2 >= weight { i + 1 } else { i };
                if down.is_empty() && (at == 0 || at == items.len()) {
                    return None;
                }
                return Some(Split { down, at });
            }
        }
    }
}

/// A document cut along a [`Split`] into what each thread walks.
struct Cut<'t> {
    /// From the document down, at each level: the items before the entry
    /// gone into, and its key.
    before: Vec<(&'t mut [Item], String)>,
    /// The items of the deepest map before the split, and from it on.
    first: &'t mut [Item],
    second: &'t mut [Item],
    /// From the deepest level up: the items after the entry gone into.
    after: Vec<&'t mut [Item]>,
}

/// Cuts `items` (a document's) along `split`; `None` if the split does
/// not fit them (it always does: it was found in the same tree).
fn cut<'t>(mut items: &'t mut [Item], split: &Split) -> Option<Cut<'t>> {
    let mut before = Vec::new();
    let mut after = Vec::new();
    for &i in &split.down {
        let (head, rest) = items.split_at_mut(i);
        let (Item::Entry(key, Value::Map(m)), tail) = rest.split_first_mut()? else {
            return None;
        };
        before.push((head, key.clone()));
        after.push(tail);
        items = &mut m.items;
    }
    if split.at > items.len() {
        return None;
    }
    let (first, second) = items.split_at_mut(split.at);
    after.reverse();
    Some(Cut {
        before,
        first,
        second,
        after,
    })
}

/// Walks one document with `walk_items`: in two halves on two threads when
/// it is large (see [`split_point`]), else in one. `state` is the walk's IV
/// cache; the second half walks with `second_state`, which is returned for
/// merging when it was used.
///
/// The first thread walks the document in file order up to the split,
/// going down into the maps on the way to it; the second walks from the
/// split to the end, coming back up through the same maps. Each walks the
/// items of a map the way `encrypt_items`/`decrypt_items` would (the key
/// entered into the path, a comment run per map), so both give what one
/// thread gives.
fn walk_document<S: Send>(
    walk: &mut Walk<'_>,
    doc: &mut Map,
    state: &mut S,
    second_state: S,
    walk_items: impl Fn(&mut Walk<'_>, &mut [Item], &mut S) -> Result<()> + Sync,
) -> Result<Option<S>> {
    let depth = walk.comment_runs.len();
    walk.comment_runs.push(Vec::new());
    let split = split_point(doc, walk.selector);
    let Some(Cut {
        before,
        first,
        second,
        after,
    }) = split.and_then(|split| cut(&mut doc.items, &split))
    else {
        let r = walk_items(walk, &mut doc.items, state);
        walk.comment_runs.pop();
        return r.map(|()| None);
    };
    let keys: Vec<String> = before.iter().map(|(_, key)| key.clone()).collect();
    // The second half: its own cipher (one is not shared between threads)
    // and the same settings; its MAC input is collected, to be hashed after
    // the first half's.
    let cipher = walk.cipher.fork();
    let (selector, mac_only_encrypted) = (walk.selector, walk.mac_only_encrypted);
    let empty_comments_as_strings = walk.empty_comments_as_strings;
    let walk_items = &walk_items;
    let (r1, (r2, bytes, second_state)) = parallel::in_parallel(
        || {
            for (items, key) in before {
                walk_items(walk, items, state)?;
                walk.enter(key);
                walk.comment_runs.push(Vec::new());
            }
            walk_items(walk, first, state)
        },
        move || {
            let mut helper = Walk::new(&cipher, selector, mac_only_encrypted);
            helper.empty_comments_as_strings = empty_comments_as_strings;
            helper.mac_bytes = Some(Zeroizing::new(Vec::new()));
            helper.comment_runs.push(Vec::new());
            for key in keys {
                helper.enter(key);
                helper.comment_runs.push(Vec::new());
            }
            let mut second_state = second_state;
            let mut r = walk_items(&mut helper, second, &mut second_state);
            for items in after {
                if r.is_err() {
                    break;
                }
                helper.comment_runs.pop();
                helper.leave();
                helper.end_of_item();
                r = walk_items(&mut helper, items, &mut second_state);
            }
            (r, helper.mac_bytes.take().unwrap_or_default(), second_state)
        },
    );
    // Back at the top, whatever the first thread went down into.
    while !walk.path.is_empty() {
        walk.leave();
    }
    walk.comment_runs.truncate(depth);
    // The first error in file order, as one thread would report it.
    r1?;
    r2?;
    walk.add_collected(&bytes);
    Ok(Some(second_state))
}

/// Encrypts every selected value of `docs` in place and returns the MAC of
/// the plaintext. With a cache from an earlier decryption, unchanged values
/// keep their `ENC[…]` strings.
pub fn encrypt_documents(
    docs: &mut [Map],
    cipher: &Cipher,
    selector: &Selector,
    mac_only_encrypted: bool,
    cache: Option<&IvCache>,
) -> Result<String> {
    // A file sops wrote with a regex Go refuses reads as sops reads it (the
    // regex matches nothing), but what it would select is unknown to its
    // writer too: nothing is encrypted by it.
    if let Some((pattern, why)) = selector.refused_by_go() {
        return Err(Error::InvalidMetadata(format!(
            "{} `{pattern}` is not a regular expression Go takes ({why}); sops matches \
             nothing with it, and nsec does not encrypt by it: re-create the file with a valid one",
            selector.name()
        )));
    }
    let mut walk = Walk::new(cipher, selector, mac_only_encrypted);
    for doc in docs.iter_mut() {
        walk_document(&mut walk, doc, &mut cache.clone(), cache, |w, items, c| {
            w.encrypt_items(items, *c)
        })?;
    }
    Ok(walk.mac.finish())
}

/// Decrypts every encrypted value of `docs` in place and returns the MAC
/// computed over the plaintext (to compare with the stored one) and the IVs
/// seen, for re-encryption with small diffs.
///
/// `read_only`: the result is only printed, never encrypted again. No IVs
/// are recorded, and an empty comment inside a list becomes an empty
/// string item, as `sops decrypt` prints it (`- ""`); a tree that will be
/// sealed again keeps the comment.
pub fn decrypt_documents(
    docs: &mut [Map],
    cipher: &Cipher,
    selector: &Selector,
    mac_only_encrypted: bool,
    read_only: bool,
) -> Result<(String, IvCache)> {
    let mut walk = Walk::new(cipher, selector, mac_only_encrypted);
    walk.empty_comments_as_strings = read_only;
    let new_cache = || {
        let mut cache = IvCache::default();
        cache.enabled = !read_only;
        cache
    };
    let mut cache = new_cache();
    for doc in docs.iter_mut() {
        let second = walk_document(&mut walk, doc, &mut cache, new_cache(), |w, items, c| {
            w.decrypt_items(items, c)
        })?;
        if let Some(second) = second {
            cache.merge(second);
        }
    }
    Ok((walk.mac.finish(), cache))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DataKey;

    /// `groups` maps of strings, numbers, booleans, lists and comments,
    /// with an `_unencrypted` key in each.
    fn big_doc(groups: usize) -> Map {
        let mut doc = Map::new();
        for g in 0..groups {
            let mut m = Map::new();
            m.items.push(Item::Comment(format!(" group {g}")));
            for i in 0..30 {
                let value = match i % 5 {
                    0 => Value::Str(format!("secret-{g}-{i}")),
                    1 => Value::Int((g * 100 + i) as i64),
                    2 => Value::Bool(i % 2 == 0),
                    3 => Value::List(vec![
                        Value::Str(format!("a{g}")),
                        Value::Comment(" in list".into()),
                        Value::Float(g as f64 + 0.5),
                    ]),
                    _ => Value::Str(String::new()),
                };
                m.insert(format!("k{i}"), value);
            }
            m.insert("note_unencrypted", Value::Str(format!("visible {g}")));
            doc.insert(format!("group_{g}"), Value::Map(m));
        }
        doc
    }

    /// Documents large enough for two threads: wide at the top, everything
    /// under one key, and the bulk two maps down between small siblings.
    fn large_docs() -> Vec<(Map, usize)> {
        let wide = big_doc(100);
        let mut under_one_key = Map::new();
        under_one_key.insert("data", Value::Map(big_doc(100)));
        let mut inner = Map::new();
        inner.items.push(Item::Comment(" inner".into()));
        inner.insert("x", Value::Map(big_doc(60)));
        inner.insert("y", Value::Map(big_doc(40)));
        let mut deep = big_doc(2);
        deep.insert("data", Value::Map(inner));
        deep.insert("z_unencrypted", Value::Str("after".into()));
        deep.insert("last", Value::Int(7));
        // (document, how many maps the split goes down through)
        vec![(wide, 0), (under_one_key, 1), (deep, 2)]
    }

    #[test]
    fn large_trees_walked_by_two_threads_match_one_thread() {
        let key = DataKey::generate();
        let cipher = Cipher::new(&key);
        let selector = Selector::default_suffix();
        for (plain, levels) in large_docs() {
            // The machine's second core is used (CI has two).
            let split = split_point(&plain, &selector).expect("split");
            assert!(
                split.down.len() >= levels && split.down.len() <= levels + 1,
                "{split:?}"
            );

            let mut encrypted = vec![plain.clone()];
            let mac = encrypt_documents(&mut encrypted, &cipher, &selector, false, None).unwrap();

            // One thread, for reference.
            let mut walk = Walk::new(&cipher, &selector, false);
            let mut one = encrypted.clone();
            walk.decrypt_map(&mut one[0], &mut IvCache::default())
                .unwrap();
            assert_eq!(walk.mac.finish(), mac);
            assert_eq!(one[0], plain);
            // And encrypted by one thread, the same MAC.
            let mut walk = Walk::new(&cipher, &selector, false);
            walk.encrypt_map(&mut plain.clone(), None).unwrap();
            assert_eq!(walk.mac.finish(), mac);

            let mut decrypted = encrypted.clone();
            let (mac2, ivs) =
                decrypt_documents(&mut decrypted, &cipher, &selector, false, false).unwrap();
            assert_eq!(mac2, mac);
            assert_eq!(decrypted[0], plain);

            // Sealing again unchanged keeps every ciphertext: both threads'
            // IVs were recorded.
            let mut again = decrypted.clone();
            let mac3 =
                encrypt_documents(&mut again, &cipher, &selector, false, Some(&ivs)).unwrap();
            assert_eq!(mac3, mac);
            assert_eq!(again, encrypted);
        }
    }

    /// A value that does not decrypt stops the walk with the error one
    /// thread would give, on either side of a split made inside a map.
    #[test]
    fn errors_across_a_nested_split_are_the_first_in_file_order() {
        let key = DataKey::generate();
        let cipher = Cipher::new(&key);
        let selector = Selector::default_suffix();
        let (plain, _) = large_docs().remove(2);
        let mut encrypted = vec![plain];
        encrypt_documents(&mut encrypted, &cipher, &selector, false, None).unwrap();
        let break_at = |doc: &mut Map, path: &[&str]| {
            let Some((last, parents)) = path.split_last() else {
                return;
            };
            let mut m = doc;
            for p in parents {
                let Some(Value::Map(next)) = m.get_mut(p) else {
                    panic!("no map {p}")
                };
                m = next;
            }
            m.insert(
                *last,
                Value::Str("ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]".into()),
            );
        };
        let cases: [&[&str]; 3] = [
            &["data", "x", "group_5", "k0"],
            &["data", "y", "group_30", "k0"],
            &["last"],
        ];
        for path in cases {
            let mut broken = encrypted.clone();
            break_at(&mut broken[0], path);
            let Err(err) = decrypt_documents(&mut broken.clone(), &cipher, &selector, false, true)
            else {
                panic!("{path:?} decrypted")
            };
            let mut walk = Walk::new(&cipher, &selector, false);
            let one = walk
                .decrypt_map(&mut broken[0], &mut IvCache::default())
                .unwrap_err();
            assert_eq!(err.to_string(), one.to_string(), "{path:?}");
        }
    }

    /// The paths (as `plaintext_leaves` shows them) of the leaves that
    /// encryption turned into `ENC[…]` strings.
    fn encrypted_paths(plain: &Map, enc: &Map, path: &mut Vec<String>, out: &mut Vec<String>) {
        for (p, e) in plain.items.iter().zip(&enc.items) {
            if let (Item::Entry(k, pv), Item::Entry(_, ev)) = (p, e) {
                path.push(k.clone());
                encrypted_value_paths(pv, ev, path, out);
                path.pop();
            }
        }
    }

    fn encrypted_value_paths(p: &Value, e: &Value, path: &mut Vec<String>, out: &mut Vec<String>) {
        match (p, e) {
            (Value::Map(pm), Value::Map(em)) => encrypted_paths(pm, em, path, out),
            (Value::List(pl), Value::List(el)) => {
                let mut index = 0;
                for (pi, ei) in pl.iter().zip(el) {
                    if matches!(pi, Value::Comment(_)) {
                        continue;
                    }
                    path.push(index.to_string());
                    index += 1;
                    encrypted_value_paths(pi, ei, path, out);
                    path.pop();
                }
            }
            (_, Value::Str(s)) if cipher::looks_encrypted(s) => out.push(path.join("/")),
            _ => {}
        }
    }

    #[test]
    fn plaintext_leaves_are_what_encryption_would_encrypt() {
        let key = DataKey::generate();
        let cipher = Cipher::new(&key);
        let re = |s: &str| crate::GoRegex::new(s).unwrap();
        let selectors = [
            Selector::default_suffix(),
            Selector::EncryptedSuffix("_secret".into()),
            Selector::EncryptedRegex(re("^k1")),
            Selector::UnencryptedRegex(re("^k2")),
            Selector::EncryptedCommentRegex(re("group 1|in list")),
            Selector::UnencryptedCommentRegex(re("no such comment")),
        ];
        let mut plain = big_doc(20);
        plain.insert("token_secret", Value::Str("t".into()));
        for selector in &selectors {
            let mut docs = vec![plain.clone()];
            encrypt_documents(&mut docs, &cipher, selector, false, None).unwrap();
            let mut want = Vec::new();
            encrypted_paths(&plain, &docs[0], &mut Vec::new(), &mut want);
            assert!(!want.is_empty(), "{selector:?} encrypts something");
            let mut got = Vec::new();
            plaintext_leaves(&plain, selector, &mut |p| got.push(p.join("/")));
            assert_eq!(got, want, "{selector:?}");
            let mut left = Vec::new();
            plaintext_leaves(&docs[0], selector, &mut |p| left.push(p.join("/")));
            assert!(left.is_empty(), "{selector:?}: {left:?}");
        }
    }

    #[test]
    fn empty_list_comments_are_handled_as_sops_handles_them() {
        let key = DataKey::generate();
        let cipher = Cipher::new(&key);
        let selector = Selector::default_suffix();
        let list = |middle: Option<Value>| {
            let mut items = vec![Value::Str("a".into())];
            items.extend(middle);
            items.push(Value::Str("b".into()));
            let mut m = Map::new();
            m.insert("l", Value::List(items));
            m
        };
        let empty_comment = || Some(Value::Comment(String::new()));
        let empty_string = || Some(Value::Str(String::new()));
        // Encryption turns it into an empty string item, as sops does.
        let mut docs = vec![list(empty_comment())];
        let mac = encrypt_documents(&mut docs, &cipher, &selector, false, None).unwrap();
        let Value::List(items) = docs[0].get("l").unwrap() else {
            panic!("a list")
        };
        assert_eq!(items[1], Value::Str(String::new()));
        // A file that has one anyway (written by hand, or by another tool):
        // `decrypt` prints it as sops does; a tree to be sealed keeps it.
        let mut docs = vec![list(None)];
        let mac_without = encrypt_documents(&mut docs, &cipher, &selector, false, None).unwrap();
        assert_eq!(mac_without, mac, "neither adds to the MAC");
        if let Some(Value::List(items)) = docs[0].get_mut("l") {
            items.insert(1, Value::Comment(String::new()));
        }
        let mut printed = docs.clone();
        let (mac2, _) = decrypt_documents(&mut printed, &cipher, &selector, false, true).unwrap();
        assert_eq!(printed[0], list(empty_string()));
        let mut kept = docs.clone();
        let (mac3, _) = decrypt_documents(&mut kept, &cipher, &selector, false, false).unwrap();
        assert_eq!(kept[0], list(empty_comment()));
        assert_eq!((mac2, mac3), (mac.clone(), mac));
    }
}
