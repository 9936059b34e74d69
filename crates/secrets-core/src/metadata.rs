//! The `sops` metadata section: its typed form and its tree form.
//!
//! Stores hand over the metadata as a [`Map`] (for dotenv and INI already
//! un-flattened); [`Metadata::from_tree`] checks and types it and
//! [`Metadata::to_tree`] writes it back in sops' field order. Fields nsec does
//! not use (pgp, kms, gcp_kms, azure_kv, hc_vault entries, unknown keys) are
//! kept as they are, so a rewrite never drops another tool's master keys.

use crate::error::{Error, Result};
use crate::format::Format;
use crate::goregex::GoRegex;
use crate::tree::{Item, Map, Value};

/// The version nsec writes. sops refuses files whose version is not a semver,
/// and nsec writes files in the layout of sops 3.11.0.
pub(crate) const SOPS_VERSION: &str = "3.11.0";

/// The default selector: keys ending in `_unencrypted` stay plaintext.
pub(crate) const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

/// Which values get encrypted (at most one of sops' six options).
#[derive(Clone, Debug)]
pub enum Selector {
    /// `unencrypted_suffix`: encrypt unless a key on the path ends with it.
    UnencryptedSuffix(String),
    /// `encrypted_suffix`: encrypt only below a key ending with it.
    EncryptedSuffix(String),
    /// `unencrypted_regex`: encrypt unless a key on the path matches.
    UnencryptedRegex(GoRegex),
    /// `encrypted_regex`: encrypt only below a key that matches.
    EncryptedRegex(GoRegex),
    /// `unencrypted_comment_regex`: encrypt unless an active comment matches.
    UnencryptedCommentRegex(GoRegex),
    /// `encrypted_comment_regex`: encrypt only after a matching comment.
    EncryptedCommentRegex(GoRegex),
}

/// The six selector names, in the order sops writes them.
pub(crate) const SELECTOR_NAMES: [&str; 6] = [
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
];

impl Selector {
    /// Builds a selector from its sops name and value.
    pub fn new(name: &str, value: &str) -> Result<Selector> {
        Selector::build(name, value, GoRegex::new)
    }

    /// A selector read from a file's metadata: a regex Go's `regexp`
    /// refuses matches nothing, as in sops ([`GoRegex::from_file`]).
    fn from_file(name: &str, value: &str) -> Result<Selector> {
        Selector::build(name, value, GoRegex::from_file)
    }

    fn build(
        name: &str,
        value: &str,
        compile: fn(&str) -> std::result::Result<GoRegex, crate::GoRegexError>,
    ) -> Result<Selector> {
        let re = || {
            compile(value)
                .map_err(|e| Error::InvalidOption(format!("invalid {name} `{value}`: {e}")))
        };
        Ok(match name {
            "unencrypted_suffix" => Selector::UnencryptedSuffix(value.into()),
            "encrypted_suffix" => Selector::EncryptedSuffix(value.into()),
            "unencrypted_regex" => Selector::UnencryptedRegex(re()?),
            "encrypted_regex" => Selector::EncryptedRegex(re()?),
            "unencrypted_comment_regex" => Selector::UnencryptedCommentRegex(re()?),
            "encrypted_comment_regex" => Selector::EncryptedCommentRegex(re()?),
            _ => return Err(Error::InvalidOption(format!("unknown selector {name}"))),
        })
    }

    /// Picks the one selector from `(name, value)` options that are set;
    /// more than one is an error, as in sops.
    pub fn from_options<'a>(
        options: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<Option<Selector>> {
        Selector::pick(options, Selector::new)
    }

    fn pick<'a>(
        options: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
        build: fn(&str, &str) -> Result<Selector>,
    ) -> Result<Option<Selector>> {
        let set: Vec<(&str, &str)> = options
            .into_iter()
            .filter_map(|(n, v)| v.filter(|v| !v.is_empty()).map(|v| (n, v)))
            .collect();
        match set.as_slice() {
            [] => Ok(None),
            [(name, value)] => build(name, value).map(Some),
            _ => Err(Error::InvalidOption(format!(
                "cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex (got {})",
                set.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// The sops field name.
    pub fn name(&self) -> &'static str {
        match self {
            Selector::UnencryptedSuffix(_) => SELECTOR_NAMES[0],
            Selector::EncryptedSuffix(_) => SELECTOR_NAMES[1],
            Selector::UnencryptedRegex(_) => SELECTOR_NAMES[2],
            Selector::EncryptedRegex(_) => SELECTOR_NAMES[3],
            Selector::UnencryptedCommentRegex(_) => SELECTOR_NAMES[4],
            Selector::EncryptedCommentRegex(_) => SELECTOR_NAMES[5],
        }
    }

    /// The suffix or pattern as written.
    pub fn pattern(&self) -> &str {
        match self {
            Selector::UnencryptedSuffix(s) | Selector::EncryptedSuffix(s) => s,
            _ => self.regex().map_or("", GoRegex::as_str),
        }
    }

    /// The regex of a regex selector.
    fn regex(&self) -> Option<&GoRegex> {
        match self {
            Selector::UnencryptedRegex(r)
            | Selector::EncryptedRegex(r)
            | Selector::UnencryptedCommentRegex(r)
            | Selector::EncryptedCommentRegex(r) => Some(r),
            Selector::UnencryptedSuffix(_) | Selector::EncryptedSuffix(_) => None,
        }
    }

    /// The regex of this selector, if it is one that Go's `regexp` refuses
    /// (read from a file, it matches nothing, as in sops): its pattern and
    /// why Go refuses it. Such a selector reads a file as sops does, but
    /// nothing is encrypted with it.
    pub fn refused_by_go(&self) -> Option<(&str, &str)> {
        let r = self.regex()?;
        r.refused_by_go().map(|why| (r.as_str(), why))
    }

    /// The default, `unencrypted_suffix: _unencrypted`.
    pub fn default_suffix() -> Selector {
        Selector::UnencryptedSuffix(DEFAULT_UNENCRYPTED_SUFFIX.into())
    }
}

/// One age master key of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgeKey {
    /// The recipient as configured (`age1…`, `ssh-ed25519 …`).
    pub recipient: String,
    /// The armored age file holding the data key (or a Shamir share).
    pub enc: String,
}

/// A key group: any one of its keys recovers the group's share.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyGroup {
    /// The age keys.
    pub age: Vec<AgeKey>,
    /// Other master keys (`pgp`, `kms`, `gcp_kms`, `azure_kv`, `hc_vault`),
    /// kept verbatim by name.
    pub other: Vec<(String, Value)>,
}

const OTHER_KEY_TYPES: [&str; 5] = ["pgp", "kms", "gcp_kms", "azure_kv", "hc_vault"];

/// Master key types nsec keeps in a file but cannot encrypt a data key to.
pub(crate) const UNSUPPORTED_KEY_TYPES: [&str; 3] = ["gcp_kms", "azure_kv", "hc_vault"];

impl KeyGroup {
    /// Are there master keys other than age ones (pgp, kms, …)?
    pub fn has_other_keys(&self) -> bool {
        self.other
            .iter()
            .any(|(_, v)| matches!(v, Value::List(l) if !l.is_empty()))
    }

    /// The kinds of master keys in the group that nsec cannot encrypt to
    /// (see `UNSUPPORTED_KEY_TYPES`).
    pub fn unsupported_kinds(&self) -> Vec<&str> {
        self.other
            .iter()
            .filter(|(k, v)| {
                UNSUPPORTED_KEY_TYPES.contains(&k.as_str())
                    && matches!(v, Value::List(l) if !l.is_empty())
            })
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// The group's PGP entries.
    pub fn pgp_entries(&self) -> Result<Vec<crate::keys::pgp::PgpEntry>> {
        match self.other("pgp") {
            Some(v) => crate::keys::pgp::PgpEntry::list_from_value(v, ""),
            None => Ok(Vec::new()),
        }
    }

    /// The group's AWS KMS entries.
    pub fn kms_entries(&self) -> Result<Vec<crate::keys::kms::KmsEntry>> {
        match self.other("kms") {
            Some(v) => crate::keys::kms::KmsEntry::list_from_value(v),
            None => Ok(Vec::new()),
        }
    }

    /// Replaces the entries of one master key type (`pgp`, `kms`); an
    /// empty list removes it.
    pub fn set_other(&mut self, name: &str, entries: Vec<Value>) {
        self.other.retain(|(k, _)| k != name);
        if !entries.is_empty() {
            self.other.push((name.to_string(), Value::List(entries)));
        }
    }

    fn from_tree(map: &Map, what: &str) -> Result<KeyGroup> {
        let mut group = KeyGroup::default();
        for (k, v) in map.entries() {
            match k {
                "age" => group.age = age_keys(v, what)?,
                k if OTHER_KEY_TYPES.contains(&k) && !matches!(v, Value::Null) => {
                    group.other.push((k.to_string(), v.clone()))
                }
                _ => {}
            }
        }
        Ok(group)
    }

    fn other(&self, name: &str) -> Option<&Value> {
        self.other
            .iter()
            .find(|(k, v)| k == name && !matches!(v, Value::List(l) if l.is_empty()))
            .map(|(_, v)| v)
    }
}

fn age_keys(v: &Value, what: &str) -> Result<Vec<AgeKey>> {
    let bad = || Error::InvalidMetadata(format!("{what}age must be a list of {{recipient, enc}}"));
    let items = match v {
        Value::List(items) => items,
        Value::Null => return Ok(Vec::new()),
        _ => return Err(bad()),
    };
    items
        .iter()
        .filter(|i| !matches!(i, Value::Comment(_)))
        .map(|item| {
            let Value::Map(m) = item else {
                return Err(bad());
            };
            let field = |name| match m.get(name) {
                Some(Value::Str(s)) => Ok(s.clone()),
                _ => Err(Error::InvalidMetadata(format!(
                    "{what}age entry without a string `{name}`"
                ))),
            };
            // A null or missing field is read as "" (and written back so),
            // Go's zero value, as sops reads it: a stanza without `enc`
            // just fails to open, and the other groups may still do.
            let text = |name| match m.get(name) {
                None | Some(Value::Null) => Ok(String::new()),
                _ => field(name),
            };
            Ok(AgeKey {
                recipient: text("recipient")?.trim().to_string(),
                enc: text("enc")?,
            })
        })
        .collect()
}

/// The typed `sops` metadata of a file.
#[derive(Clone, Debug)]
pub struct Metadata {
    /// Key groups; a file with one group is written in the flat layout.
    pub key_groups: Vec<KeyGroup>,
    /// Groups needed to recover the data key (0: all of them).
    pub shamir_threshold: usize,
    /// Last modification, RFC 3339 (the MAC's AAD).
    pub lastmodified: String,
    /// The encrypted MAC.
    pub mac: String,
    /// The selector; `None` means the default `_unencrypted` suffix (and
    /// writes nothing, as for binary files).
    pub selector: Option<Selector>,
    /// Whether only encrypted values are in the MAC.
    pub mac_only_encrypted: bool,
    /// The sops version that wrote the file.
    pub version: String,
    /// Unknown fields, kept verbatim.
    pub unknown: Vec<(String, Value)>,
}

const KNOWN_FIELDS: [&str; 11] = [
    "shamir_threshold",
    "key_groups",
    "age",
    "lastmodified",
    "mac",
    "mac_only_encrypted",
    "version",
    "pgp",
    "kms",
    "gcp_kms",
    "azure_kv",
];

impl Metadata {
    /// The selector in force (the default suffix when none is recorded).
    pub fn effective_selector(&self) -> Selector {
        self.selector
            .clone()
            .unwrap_or_else(Selector::default_suffix)
    }

    /// All age recipients of the file, in group order.
    pub fn age_recipients(&self) -> impl Iterator<Item = &str> {
        self.key_groups
            .iter()
            .flat_map(|g| g.age.iter().map(|k| k.recipient.as_str()))
    }

    /// Types and checks the metadata tree of a file.
    pub fn from_tree(tree: &Map) -> Result<Metadata> {
        let string = |name: &str| -> Result<String> {
            match tree.get(name) {
                Some(Value::Str(s)) => Ok(s.clone()),
                Some(Value::Time(s)) => Ok(s.clone()),
                None | Some(Value::Null) => Ok(String::new()),
                Some(_) => Err(Error::InvalidMetadata(format!("`{name}` must be a string"))),
            }
        };
        let key_groups = match tree.get("key_groups") {
            Some(Value::List(groups)) if !groups.is_empty() => groups
                .iter()
                .enumerate()
                .map(|(i, g)| match g {
                    Value::Map(m) => KeyGroup::from_tree(m, &format!("key_groups[{i}].")),
                    _ => Err(Error::InvalidMetadata(format!(
                        "key_groups[{i}] is not a map"
                    ))),
                })
                .collect::<Result<Vec<_>>>()?,
            _ => vec![KeyGroup::from_tree(tree, "")?],
        };
        if key_groups
            .iter()
            .all(|g| g.age.is_empty() && !g.has_other_keys())
        {
            return Err(Error::InvalidMetadata("no keys found in file".into()));
        }
        let shamir_threshold = match tree.get("shamir_threshold") {
            None | Some(Value::Null) => 0,
            Some(Value::Int(i)) if *i >= 0 => *i as usize,
            Some(Value::Float(f)) if *f >= 0.0 && f.fract() == 0.0 => *f as usize,
            Some(Value::Str(s)) => s
                .parse::<usize>()
                .ok()
                .or_else(|| {
                    s.parse::<f64>()
                        .ok()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                        .map(|f| f as usize)
                })
                .ok_or_else(|| {
                    Error::InvalidMetadata(format!("shamir_threshold `{s}` is not a number"))
                })?,
            Some(_) => {
                return Err(Error::InvalidMetadata(
                    "shamir_threshold is not a number".into(),
                ))
            }
        };
        let mac_only_encrypted = match tree.get("mac_only_encrypted") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::Str(s)) => s == "true",
            Some(_) => {
                return Err(Error::InvalidMetadata(
                    "mac_only_encrypted is not a boolean".into(),
                ))
            }
        };
        let lastmodified = string("lastmodified")?;
        if crate::time::Timestamp::parse_rfc3339(&lastmodified).is_none() {
            return Err(Error::InvalidMetadata(format!(
                "lastmodified `{lastmodified}` is not an RFC 3339 time"
            )));
        }
        let version = match tree.get("version") {
            Some(Value::Str(s)) => s.clone(),
            Some(Value::Float(_) | Value::Int(_)) => {
                return Err(Error::InvalidMetadata(
                    "version is a number: this is a sops 1.x file, which is not supported".into(),
                ))
            }
            _ => String::new(),
        };
        check_version(&version)?;
        let selector = Selector::pick(
            SELECTOR_NAMES.iter().map(|n| {
                (
                    *n,
                    match tree.get(n) {
                        Some(Value::Str(s)) => Some(s.as_str()),
                        _ => None,
                    },
                )
            }),
            Selector::from_file,
        )
        .map_err(|e| Error::InvalidMetadata(e.to_string()))?;
        let unknown = tree
            .entries()
            .filter(|(k, _)| {
                !KNOWN_FIELDS.contains(k) && !SELECTOR_NAMES.contains(k) && *k != "hc_vault"
            })
            // sops reads the metadata into typed fields and keeps none of
            // its comments. nsec keeps the fields it does not know, but
            // not their comments: the map around them is not kept either,
            // and a comment YAML writes at the start of a value can read
            // back as that map's (`? key` then `:   # c` before a list,
            // fuzz finding 20), to be lost on the next write.
            .map(|(k, v)| (k.to_string(), v.without_comments()))
            .collect();
        Ok(Metadata {
            key_groups,
            shamir_threshold,
            lastmodified,
            mac: string("mac")?,
            selector,
            mac_only_encrypted,
            version,
            unknown,
        })
    }

    /// Writes the metadata as a tree in sops' field order. YAML writes an
    /// empty `hc_vault: []` in every key group, the other stores `null`
    /// (as sops does).
    pub fn to_tree(&self, format: Format) -> Map {
        let mut m = Map::new();
        let mut push = |k: &str, v: Value| m.items.push(Item::Entry(k.to_string(), v));
        if self.shamir_threshold > 0 {
            push("shamir_threshold", Value::Int(self.shamir_threshold as i64));
        }
        let flat = self.key_groups.len() == 1;
        if !flat {
            let groups = self
                .key_groups
                .iter()
                .map(|g| {
                    let mut gm = Map::new();
                    for name in ["pgp", "kms", "gcp_kms", "azure_kv"] {
                        if let Some(v) = g.other(name) {
                            gm.items.push(Item::Entry(name.into(), v.clone()));
                        }
                    }
                    let hc = g.other("hc_vault").cloned().unwrap_or(match format {
                        Format::Yaml => Value::List(Vec::new()),
                        _ => Value::Null,
                    });
                    gm.items.push(Item::Entry("hc_vault".into(), hc));
                    gm.items.push(Item::Entry("age".into(), age_list(&g.age)));
                    Value::Map(gm)
                })
                .collect();
            push("key_groups", Value::List(groups));
        }
        let group = self.key_groups.first().filter(|_| flat);
        for name in ["kms", "gcp_kms", "azure_kv", "hc_vault"] {
            if let Some(v) = group.and_then(|g| g.other(name)) {
                push(name, v.clone());
            }
        }
        if let Some(g) = group.filter(|g| !g.age.is_empty()) {
            push("age", age_list(&g.age));
        }
        push("lastmodified", Value::Str(self.lastmodified.clone()));
        push("mac", Value::Str(self.mac.clone()));
        if let Some(v) = group.and_then(|g| g.other("pgp")) {
            push("pgp", v.clone());
        }
        if let Some(sel) = &self.selector {
            push(sel.name(), Value::Str(sel.pattern().to_string()));
        }
        if self.mac_only_encrypted {
            push("mac_only_encrypted", Value::Bool(true));
        }
        for (k, v) in &self.unknown {
            push(k, v.clone());
        }
        push("version", Value::Str(self.version.clone()));
        m
    }
}

fn age_list(keys: &[AgeKey]) -> Value {
    Value::List(
        keys.iter()
            .map(|k| {
                Value::Map(Map {
                    items: vec![
                        Item::Entry("recipient".into(), Value::Str(k.recipient.clone())),
                        Item::Entry("enc".into(), Value::Str(k.enc.clone())),
                    ],
                })
            })
            .collect(),
    )
}

/// sops refuses files whose version is not `MAJOR.MINOR.PATCH` (optionally
/// with a leading `v` and a pre-release/build suffix); so does nsec, so that
/// nothing nsec accepts is refused by sops.
fn check_version(version: &str) -> Result<()> {
    if version.is_empty() {
        return Err(Error::InvalidMetadata("version string empty".into()));
    }
    let v = version.strip_prefix('v').unwrap_or(version);
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    // As semver (and sops): digits only, and no leading zero.
    let numeric = |p: &&str| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && (p.len() == 1 || !p.starts_with('0'))
    };
    if v.starts_with("1.") || (parts.len() == 3 && parts.iter().all(numeric)) {
        Ok(())
    } else {
        Err(Error::InvalidMetadata(format!(
            "version `{version}` has no Major.Minor.Patch elements"
        )))
    }
}
