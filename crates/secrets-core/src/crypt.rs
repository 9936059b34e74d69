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
use crate::tree::{Item, Map, Value};

/// Walk state shared by encryption and decryption.
struct Walk<'a> {
    cipher: &'a Cipher,
    selector: &'a Selector,
    mac_only_encrypted: bool,
    mac: MacHasher,
    /// The map keys from the root to the current node.
    path: Vec<String>,
    /// `path` joined as the AAD (`a:b:`), and where each key starts in it.
    aad: String,
    aad_lens: Vec<usize>,
    /// For every open map or list, the comments seen since its last
    /// non-comment item (sops' comment context for the comment regexes).
    comment_runs: Vec<Vec<String>>,
}

impl<'a> Walk<'a> {
    fn new(cipher: &'a Cipher, selector: &'a Selector, mac_only_encrypted: bool) -> Self {
        Walk {
            cipher,
            selector,
            mac_only_encrypted,
            mac: MacHasher::new(mac_only_encrypted),
            path: Vec::new(),
            aad: String::new(),
            aad_lens: Vec::new(),
            comment_runs: Vec::new(),
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

    /// Does the selector encrypt the leaf at the current position? For a
    /// comment, the comment itself (the last of the innermost run) does not
    /// count towards the comment regexes.
    fn should_encrypt(&self, is_comment: bool) -> bool {
        let any_key = |f: &dyn Fn(&str) -> bool| self.path.iter().any(|k| f(k));
        let any_comment = |re: &regex::Regex| {
            let last = self.comment_runs.len().saturating_sub(1);
            self.comment_runs.iter().enumerate().any(|(level, run)| {
                let run = if is_comment && level == last {
                    &run[..run.len().saturating_sub(1)]
                } else {
                    &run[..]
                };
                run.iter().any(|c| re.is_match(c))
            })
        };
        match self.selector {
            Selector::UnencryptedSuffix(s) => !any_key(&|k| k.ends_with(s.as_str())),
            Selector::EncryptedSuffix(s) => any_key(&|k| k.ends_with(s.as_str())),
            Selector::UnencryptedRegex(re) => !any_key(&|k| re.is_match(k)),
            Selector::EncryptedRegex(re) => any_key(&|k| re.is_match(k)),
            Selector::UnencryptedCommentRegex(re) => !any_comment(re),
            Selector::EncryptedCommentRegex(re) => any_comment(re),
        }
    }

    fn add_to_mac(&mut self, bytes: &[u8], encrypted: bool) {
        if !self.mac_only_encrypted || encrypted {
            self.mac.update(bytes);
        }
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
        for item in &mut map.items {
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
        self.comment_runs.pop();
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
                        // list item, exactly as sops writes it.
                        if let Some(enc) = self.encrypt_comment(&text.clone(), cache)? {
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
                    *leaf = Value::Str(self.cipher.encrypt(&bytes, ty, self.aad(), cache));
                }
                Ok(())
            }
        }
    }

    // ---- decryption ----

    fn decrypt_map(&mut self, map: &mut Map, cache: &mut IvCache) -> Result<()> {
        self.comment_runs.push(Vec::new());
        for item in &mut map.items {
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
        self.comment_runs.pop();
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
                let typed = cipher::from_plaintext(&plain, value_type).map_err(|e| {
                    Error::MalformedValue {
                        path: self.path_display(),
                        reason: e.to_string(),
                    }
                })?;
                if !matches!(typed, Value::Comment(_)) {
                    self.add_to_mac(&plain, true);
                }
                *leaf = typed;
                Ok(())
            }
        }
    }
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
    let mut walk = Walk::new(cipher, selector, mac_only_encrypted);
    for doc in docs.iter_mut() {
        walk.encrypt_map(doc, cache)?;
    }
    Ok(walk.mac.finish())
}

/// Decrypts every encrypted value of `docs` in place and returns the MAC
/// computed over the plaintext (to compare with the stored one) and the IVs
/// seen, for re-encryption with small diffs.
pub fn decrypt_documents(
    docs: &mut [Map],
    cipher: &Cipher,
    selector: &Selector,
    mac_only_encrypted: bool,
    record_ivs: bool,
) -> Result<(String, IvCache)> {
    let mut walk = Walk::new(cipher, selector, mac_only_encrypted);
    let mut cache = IvCache::default();
    cache.enabled = record_ivs;
    for doc in docs.iter_mut() {
        walk.decrypt_map(doc, &mut cache)?;
    }
    Ok((walk.mac.finish(), cache))
}
