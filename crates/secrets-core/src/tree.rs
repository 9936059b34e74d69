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

    /// The number of leaves (scalars and comments) in the map, at any depth.
    pub fn leaf_count(&self) -> usize {
        self.items.iter().map(Item::leaf_count).sum()
    }

    /// Iterates over the entries, skipping comments.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.items.iter().filter_map(|item| match item {
            Item::Entry(k, v) => Some((k.as_str(), v)),
            Item::Comment(_) => None,
        })
    }

    /// A copy of the map without comments, at any depth.
    pub fn without_comments(&self) -> Map {
        Map {
            items: self
                .entries()
                .map(|(k, v)| Item::Entry(k.to_string(), v.without_comments()))
                .collect(),
        }
    }
}

impl Item {
    /// The number of leaves (scalars and comments) in the item.
    pub fn leaf_count(&self) -> usize {
        match self {
            Item::Entry(_, v) => v.leaf_count(),
            Item::Comment(_) => 1,
        }
    }
}

impl Value {
    /// The list's elements without its comments.
    pub fn list_values(items: &[Value]) -> impl Iterator<Item = &Value> {
        items.iter().filter(|v| !matches!(v, Value::Comment(_)))
    }

    /// A copy of the value without comments, at any depth (a comment
    /// itself is copied as it is).
    pub fn without_comments(&self) -> Value {
        match self {
            Value::Map(m) => Value::Map(m.without_comments()),
            Value::List(l) => {
                Value::List(Value::list_values(l).map(Value::without_comments).collect())
            }
            other => other.clone(),
        }
    }

    /// The number of leaves (scalars and comments) in the value: 1 for a
    /// leaf, the sum of its elements' counts for a map or list.
    pub fn leaf_count(&self) -> usize {
        match self {
            Value::Map(m) => m.leaf_count(),
            Value::List(l) => l.iter().map(Value::leaf_count).sum(),
            _ => 1,
        }
    }

    /// Is this a map or a list?
    pub fn is_branch(&self) -> bool {
        matches!(self, Value::Map(_) | Value::List(_))
    }
}

/// Parses sops' index syntax: `["a"][0]['b']`. An empty string is the root.
/// A field of a document: a sops index (`["a"][0]["b"]`) or a plain
/// top-level key (`password`).
pub fn parse_field(field: &str) -> Result<Vec<PathStep>, crate::Error> {
    if field.starts_with('[') {
        return parse_index(field);
    }
    if field.is_empty() {
        return Err(crate::Error::InvalidIndex {
            index: String::new(),
            reason: "the field is empty".into(),
        });
    }
    Ok(vec![PathStep::Key(field.to_string())])
}

/// How deep a tree may nest (maps and lists), in every format and in a
/// `set` index. Deeper input is refused with an error naming the limit: the
/// walks over a tree recurse, and hostile input must not exhaust the stack
/// (sops itself, in Go, grows its stack and reads deeper files; nsec stops
/// here on purpose).
pub const MAX_DEPTH: usize = 1000;

/// Parses a sops index such as `["a"][0]["b"]`.
pub fn parse_index(index: &str) -> Result<Vec<PathStep>, crate::Error> {
    let bad = |reason: String| crate::Error::InvalidIndex {
        index: index.to_string(),
        reason,
    };
    let mut steps = Vec::new();
    if index.is_empty() {
        return Ok(steps);
    }
    let mut parts = index.split('[');
    if parts.next() != Some("") {
        return Err(bad("it must start with [".into()));
    }
    for part in parts {
        if steps.len() >= MAX_DEPTH {
            return Err(bad(format!("it is deeper than {MAX_DEPTH} components")));
        }
        let inner = part
            .strip_suffix(']')
            .ok_or_else(|| bad(format!("component {part} doesn't end with ]")))?;
        let quoted = (inner.starts_with('"') && inner.ends_with('"'))
            || (inner.starts_with('\'') && inner.ends_with('\''));
        if quoted && inner.len() >= 2 {
            steps.push(PathStep::Key(inner[1..inner.len() - 1].to_string()));
        } else {
            let i = inner.parse::<usize>().map_err(|_| {
                bad(format!(
                    "component [{inner}] is neither a quoted key nor a list index"
                ))
            })?;
            steps.push(PathStep::Index(i));
        }
    }
    Ok(steps)
}

fn describe(steps: &[PathStep]) -> String {
    steps
        .iter()
        .map(|s| match s {
            PathStep::Key(k) => format!("[{k:?}]"),
            PathStep::Index(i) => format!("[{i}]"),
        })
        .collect()
}

impl Map {
    /// The value at `steps` (the root map itself is not a `Value`, so an
    /// empty path is `None`).
    pub fn get_path(&self, steps: &[PathStep]) -> Option<&Value> {
        let (first, rest) = steps.split_first()?;
        let PathStep::Key(k) = first else { return None };
        let mut cur = self.get(k)?;
        for step in rest {
            cur = match (step, cur) {
                (PathStep::Key(k), Value::Map(m)) => m.get(k)?,
                (PathStep::Index(i), Value::List(items)) => Value::list_values(items).nth(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Sets the value at `steps`, creating missing maps (and lists, for an
    /// index step); an index past the end appends, as in sops. Returns
    /// whether anything changed.
    pub fn set_path(&mut self, steps: &[PathStep], value: Value) -> Result<bool, crate::Error> {
        let Some((PathStep::Key(k), rest)) = steps.split_first() else {
            return Err(crate::Error::InvalidIndex {
                index: describe(steps),
                reason: "the path must start with a key".into(),
            });
        };
        if self.get(k).is_none() {
            self.items.push(Item::Entry(k.clone(), Value::Null));
        }
        let slot = self.get_mut(k).expect("inserted above");
        set_in(slot, rest, value)
    }

    /// Removes the entry or list item at `steps`.
    pub fn unset_path(&mut self, steps: &[PathStep]) -> Result<(), crate::Error> {
        let not_found = || crate::Error::PathNotFound(describe(steps));
        let (last, parents) = steps.split_last().ok_or_else(not_found)?;
        if parents.is_empty() {
            return match last {
                PathStep::Key(k) => self.remove(k).map(|_| ()).ok_or_else(not_found),
                PathStep::Index(_) => Err(not_found()),
            };
        }
        let PathStep::Key(k0) = &parents[0] else {
            return Err(not_found());
        };
        let mut cur = self.get_mut(k0).ok_or_else(not_found)?;
        for step in &parents[1..] {
            cur = match (step, cur) {
                (PathStep::Key(k), Value::Map(m)) => m.get_mut(k).ok_or_else(not_found)?,
                (PathStep::Index(i), Value::List(items)) => {
                    nth_value_mut(items, *i).ok_or_else(not_found)?
                }
                _ => return Err(not_found()),
            };
        }
        match (last, cur) {
            (PathStep::Key(k), Value::Map(m)) => m.remove(k).map(|_| ()).ok_or_else(not_found),
            (PathStep::Index(i), Value::List(items)) => {
                let pos = list_position(items, *i).ok_or_else(|| {
                    crate::Error::PathNotFound(format!(
                        "index {i} (out of bounds) in {}",
                        describe(steps)
                    ))
                })?;
                items.remove(pos);
                Ok(())
            }
            _ => Err(not_found()),
        }
    }
}

/// The position in `items` of the `n`th non-comment element.
fn list_position(items: &[Value], n: usize) -> Option<usize> {
    items
        .iter()
        .enumerate()
        .filter(|(_, v)| !matches!(v, Value::Comment(_)))
        .nth(n)
        .map(|(i, _)| i)
}

fn nth_value_mut(items: &mut [Value], n: usize) -> Option<&mut Value> {
    let pos = list_position(items, n)?;
    items.get_mut(pos)
}

fn set_in(slot: &mut Value, steps: &[PathStep], value: Value) -> Result<bool, crate::Error> {
    let Some((step, rest)) = steps.split_first() else {
        let changed = *slot != value;
        *slot = value;
        return Ok(changed);
    };
    match step {
        PathStep::Key(k) => {
            if !matches!(slot, Value::Map(_)) {
                *slot = Value::Map(Map::new());
            }
            let Value::Map(m) = slot else {
                unreachable!("made a map above")
            };
            if m.get(k).is_none() {
                m.items.push(Item::Entry(k.clone(), Value::Null));
            }
            set_in(m.get_mut(k).expect("inserted above"), rest, value)
        }
        PathStep::Index(i) => {
            if !matches!(slot, Value::List(_)) {
                *slot = Value::List(Vec::new());
            }
            let Value::List(items) = slot else {
                unreachable!("made a list above")
            };
            match list_position(items, *i) {
                Some(pos) => set_in(&mut items[pos], rest, value),
                None => {
                    items.push(Value::Null);
                    let last = items.len() - 1;
                    set_in(&mut items[last], rest, value).map(|_| true)
                }
            }
        }
    }
}

impl Value {
    /// Converts a JSON value (as given to `set`) into a tree value: numbers
    /// become floats and objects keep their key order, as in sops.
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::Map(Map {
                items: o
                    .iter()
                    .map(|(k, v)| Item::Entry(k.clone(), Value::from_json(v)))
                    .collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_syntax() {
        assert_eq!(
            parse_index(r#"["a"][0]['b']"#).unwrap(),
            vec![
                PathStep::Key("a".into()),
                PathStep::Index(0),
                PathStep::Key("b".into())
            ]
        );
        assert!(parse_index(r#"["a"]["b""#).is_err());
        assert!(parse_index(r#"[x]"#).is_err());
    }

    #[test]
    fn set_creates_and_appends() {
        let mut m = Map::new();
        let path = parse_index(r#"["new"]["deep"][0]["k"]"#).unwrap();
        assert!(m.set_path(&path, Value::Int(1)).unwrap());
        assert_eq!(m.get_path(&path), Some(&Value::Int(1)));
        assert!(!m.set_path(&path, Value::Int(1)).unwrap());
        let list = parse_index(r#"["new"]["deep"][9]"#).unwrap();
        m.set_path(&list, Value::Str("x".into())).unwrap();
        let Some(Value::List(items)) = m.get_path(&parse_index(r#"["new"]["deep"]"#).unwrap())
        else {
            panic!("a list")
        };
        assert_eq!(items.len(), 2);
        m.unset_path(&parse_index(r#"["new"]["deep"][0]"#).unwrap())
            .unwrap();
        assert!(m.unset_path(&parse_index(r#"["zzz"]"#).unwrap()).is_err());
    }
}
