//! The format-neutral document tree.
//!
//! Every store parses its format into this tree and emits it back. Encryption
//! does not change the shape of the tree: an encrypted value is simply a
//! [`Value::Str`] holding `ENC[AES256_GCM,…]`, and an encrypted comment is a
//! comment whose text is `ENC[…]`. This mirrors sops' own `TreeBranch` model,
//! so the order of keys, list items and comments survives every rewrite.

/// One document: an ordered sequence of map entries and comments.
///
/// YAML files may hold several documents; every other store has exactly one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map {
    /// Entries and comments in file order.
    pub items: Vec<Item>,
}

/// One item of a [`Map`].
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// A `key: value` entry. Keys are always strings, as in sops.
    Entry(String, Value),
    /// A comment line; the text is what follows the comment marker
    /// (for YAML `# foo` that is ` foo`, with the leading space).
    Comment(String),
}

/// A node of the tree.
///
/// `Debug` prints values, so trees holding plaintext must never be logged.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`, `~` or an empty YAML value. Never encrypted.
    Null,
    /// A boolean; serialised for encryption as `True`/`False`.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A float; JSON numbers are always floats, as in sops.
    Float(f64),
    /// A UTF-8 string.
    Str(String),
    /// Raw bytes that are not valid UTF-8 (binary store, `type:bytes`).
    /// Encrypted with the `str` type tag, as sops does for binary files.
    Bytes(Vec<u8>),
    /// A timestamp, kept in Go's RFC 3339 text form
    /// (`2024-01-02T00:00:00Z`, nanoseconds with trailing zeros trimmed).
    Time(String),
    /// A nested map.
    Map(Map),
    /// A list. Comments inside a list are [`Value::Comment`] items.
    List(Vec<Value>),
    /// A comment inside a list (only valid as a [`Value::List`] element).
    Comment(String),
}

/// One step of a path into the tree, as in sops' `["a"][0]["b"]` syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    /// A map key.
    Key(String),
    /// A list index (comments do not count).
    Index(usize),
}

impl Map {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of the first entry named `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.items.iter().find_map(|item| match item {
            Item::Entry(k, v) if k == key => Some(v),
            _ => None,
        })
    }

    /// The value of the first entry named `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.items.iter_mut().find_map(|item| match item {
            Item::Entry(k, v) if k == key => Some(v),
            _ => None,
        })
    }

    /// Replaces the value of the entry named `key`, or appends a new entry.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        match self.get_mut(&key) {
            Some(slot) => *slot = value,
            None => self.items.push(Item::Entry(key, value)),
        }
    }

    /// Removes the first entry named `key` and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let at = self
            .items
            .iter()
            .position(|item| matches!(item, Item::Entry(k, _) if k == key))?;
        match self.items.remove(at) {
            Item::Entry(_, v) => Some(v),
            Item::Comment(_) => None,
        }
    }

    /// Iterates over the entries, skipping comments.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.items.iter().filter_map(|item| match item {
            Item::Entry(k, v) => Some((k.as_str(), v)),
            Item::Comment(_) => None,
        })
    }
}

impl Value {
    /// The list's elements without its comments.
    pub fn list_values(items: &[Value]) -> impl Iterator<Item = &Value> {
        items.iter().filter(|v| !matches!(v, Value::Comment(_)))
    }

    /// Is this a map or a list?
    pub fn is_branch(&self) -> bool {
        matches!(self, Value::Map(_) | Value::List(_))
    }
}
