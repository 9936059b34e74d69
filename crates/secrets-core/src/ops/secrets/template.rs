//! Secret templates: which fields a secret has, which are asked for and
//! which generated, the plaintext metadata, and checks on values.
//!
//! Built-in templates live in the top-level `templates/` directory and are
//! compiled into the binary; a store may add or override templates in
//! `<store>/.nsec/templates/NAME.yaml`. The format is described in
//! `templates/README.md`.

use std::path::Path;

use zeroize::Zeroizing;

use super::generate::Kind;
use crate::error::{Error, Result};
use crate::format::Format;
use crate::store;
use crate::tree::{Map, Value};

/// The built-in templates, by name.
pub(crate) const BUILTIN: [(&str, &str); 5] = [
    (
        "generic",
        include_str!("../../../../../templates/generic.yaml"),
    ),
    (
        "api-key",
        include_str!("../../../../../templates/api-key.yaml"),
    ),
    (
        "ssh-key",
        include_str!("../../../../../templates/ssh-key.yaml"),
    ),
    (
        "database",
        include_str!("../../../../../templates/database.yaml"),
    ),
    (
        "wireguard",
        include_str!("../../../../../templates/wireguard.yaml"),
    ),
];

/// Where a store keeps its own templates, relative to the store root.
pub(crate) const STORE_TEMPLATES: &str = ".nsec/templates";

/// The key placeholder for the last component of the secret's name.
pub(crate) const NAME_KEY: &str = "$name";

/// A parsed template.
#[derive(Clone, Debug)]
pub struct Template {
    /// The template's name.
    pub name: String,
    /// One line saying what it is for.
    pub description: String,
    /// The fields, in document order.
    pub fields: Vec<Field>,
    /// Plaintext metadata: key (without `_unencrypted`) and value, where
    /// `$user`, `$today` and `+Nd` (today plus N days) are expanded.
    pub metadata: Vec<(String, String)>,
}

/// One field of a template.
#[derive(Clone, Debug)]
pub struct Field {
    /// The document key (`$name` is replaced by the secret's last component).
    pub key: String,
    /// The prompt shown when the value is asked for.
    pub prompt: String,
    /// Generated instead of asked for.
    pub generate: Option<Kind>,
    /// Whether the value is a secret (hidden prompt, never from argv). Non-
    /// secret fields may be given with `--field KEY=VALUE` and are asked for
    /// visibly; they are still stored encrypted.
    pub secret: bool,
    /// Value used when a non-secret field is not given.
    pub default: Option<String>,
    /// Whether the value may span lines (and keep its trailing newline).
    pub multiline: bool,
    /// Checks on the value.
    pub checks: Checks,
}

/// Checks on a value (besides the ones every value gets: not empty, no
/// leftover placeholder, no stray trailing newline).
#[derive(Clone, Debug, Default)]
pub struct Checks {
    /// Required prefix.
    pub prefix: Option<String>,
    /// Minimum length in characters.
    pub min_length: Option<usize>,
    /// Maximum length in characters.
    pub max_length: Option<usize>,
}

/// Markers that show a value was copied from an example and never filled in.
const PLACEHOLDERS: [&str; 8] = [
    "CHANGEME",
    "CHANGE_ME",
    "REPLACE_ME",
    "REPLACEME",
    "TODO",
    "FIXME",
    "$name",
    "<your",
];

impl Field {
    /// The document key for a secret whose last name component is `last`.
    pub fn key_for(&self, last: &str) -> String {
        if self.key == NAME_KEY {
            last.to_string()
        } else {
            self.key.clone()
        }
    }

    /// Normalises a value that was asked for or read (one trailing newline
    /// of a one-line value is dropped, as shells and editors add it) and
    /// checks it. Errors name the secret and the field, never the value.
    /// With `verbatim` (a value read from a file) the value is kept as is,
    /// newlines included.
    pub fn check(
        &self,
        secret: &str,
        key: &str,
        value: Zeroizing<String>,
        verbatim: bool,
    ) -> Result<Zeroizing<String>> {
        let bad = |message: String| {
            Error::InvalidValue(format!(
                "secret `{secret}`, field `{key}`: {message}; nothing was written"
            ))
        };
        let multiline = self.multiline || verbatim;
        let value = if multiline {
            value
        } else {
            let trimmed = value
                .strip_suffix("\r\n")
                .or_else(|| value.strip_suffix('\n'))
                .unwrap_or(&value);
            Zeroizing::new(trimmed.to_string())
        };
        if value.trim().is_empty() {
            return Err(bad("the value is empty".into()));
        }
        if !multiline && (value.contains('\n') || value.contains('\r')) {
            return Err(bad(
                if value.trim_end_matches(['\n', '\r']).contains('\n') {
                    "the value has more than one line (use a multiline field)".into()
                } else {
                    "the value ends with a stray newline".into()
                },
            ));
        }
        if self.generate.is_none() {
            if let Some(p) = PLACEHOLDERS.iter().find(|p| value.contains(*p)) {
                return Err(bad(format!(
                    "the value still contains the placeholder `{p}`"
                )));
            }
        }
        let len = value.chars().count();
        if let Some(prefix) = &self.checks.prefix {
            if !value.starts_with(prefix.as_str()) {
                return Err(bad(format!("the value must start with `{prefix}`")));
            }
        }
        if let Some(min) = self.checks.min_length {
            if len < min {
                return Err(bad(format!(
                    "the value is {len} characters long, at least {min} expected"
                )));
            }
        }
        if let Some(max) = self.checks.max_length {
            if len > max {
                return Err(bad(format!(
                    "the value is {len} characters long, at most {max} expected"
                )));
            }
        }
        Ok(value)
    }
}

/// Names of the templates available to a store (built-in and its own).
pub(crate) fn available(store_root: Option<&Path>) -> Vec<String> {
    let mut names: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
    if let Some(root) = store_root {
        if let Ok(entries) = std::fs::read_dir(root.join(STORE_TEMPLATES)) {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "yaml") {
                    if let Some(stem) = p.file_stem() {
                        names.push(stem.to_string_lossy().into_owned());
                    }
                }
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Loads template `name`: the store's own first, then the built-in one.
pub fn load(name: &str, store_root: Option<&Path>) -> Result<Template> {
    let err = |message: String| Error::Template {
        name: name.to_string(),
        message,
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(err("template names are letters, digits, `-` and `_`".into()));
    }
    if let Some(root) = store_root {
        let path = root.join(STORE_TEMPLATES).join(format!("{name}.yaml"));
        if path.is_file() {
            let text = crate::fsio::read_small(&path)?;
            return parse(name, &text).map_err(|e| e.in_file(&path));
        }
    }
    match BUILTIN.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => parse(name, text.as_bytes()),
        None => Err(err(format!(
            "unknown template (available: {})",
            available(store_root).join(", ")
        ))),
    }
}

/// Parses a template file.
pub fn parse(name: &str, text: &[u8]) -> Result<Template> {
    let err = |message: String| Error::Template {
        name: name.to_string(),
        message,
    };
    let docs = store::parse(Format::Yaml, text).map_err(|e| err(e.to_string()))?;
    let root = docs.into_iter().next().unwrap_or_default();
    let string = |m: &Map, k: &str| -> Result<Option<String>> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.clone())),
            Some(Value::Int(i)) => Ok(Some(i.to_string())),
            Some(_) => Err(err(format!("`{k}` must be a string"))),
        }
    };
    let number = |m: &Map, k: &str| -> Result<Option<usize>> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Int(i)) if *i >= 0 => Ok(Some(*i as usize)),
            Some(_) => Err(err(format!("`{k}` must be a non-negative integer"))),
        }
    };
    let boolean = |m: &Map, k: &str, default: bool| -> Result<bool> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(err(format!("`{k}` must be true or false"))),
        }
    };
    let mut fields = Vec::new();
    let Some(Value::List(items)) = root.get("fields") else {
        return Err(err("`fields` must be a non-empty list".into()));
    };
    for item in Value::list_values(items) {
        let Value::Map(m) = item else {
            return Err(err("every field must be a map".into()));
        };
        let key = string(m, "key")?.ok_or_else(|| err("a field has no `key`".into()))?;
        let generate = match string(m, "generate")? {
            Some(kind) => Some(
                Kind::from_name(
                    &kind,
                    number(m, "length")?,
                    string(m, "charset")?.as_deref(),
                )
                .map_err(|e| err(format!("field `{key}`: {e}")))?,
            ),
            None => None,
        };
        let checks = match m.get("checks") {
            None | Some(Value::Null) => Checks::default(),
            Some(Value::Map(c)) => Checks {
                prefix: string(c, "prefix")?,
                min_length: number(c, "min_length")?,
                max_length: number(c, "max_length")?,
            },
            Some(_) => return Err(err(format!("field `{key}`: `checks` must be a map"))),
        };
        fields.push(Field {
            prompt: string(m, "prompt")?.unwrap_or_else(|| key.clone()),
            secret: boolean(m, "secret", true)?,
            default: string(m, "default")?,
            multiline: boolean(m, "multiline", false)?,
            key,
            generate,
            checks,
        });
    }
    if fields.is_empty() {
        return Err(err("`fields` must be a non-empty list".into()));
    }
    let mut seen = std::collections::HashSet::new();
    for f in &fields {
        if !seen.insert(f.key.clone()) {
            return Err(err(format!("field `{}` appears twice", f.key)));
        }
    }
    let mut metadata = Vec::new();
    match root.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Map(m)) => {
            for (k, _) in m.entries() {
                let v = string(m, k)?.unwrap_or_default();
                metadata.push((k.to_string(), v));
            }
        }
        Some(_) => return Err(err("`metadata` must be a map".into())),
    }
    Ok(Template {
        name: name.to_string(),
        description: string(&root, "description")?.unwrap_or_default(),
        fields,
        metadata,
    })
}

/// Expands `$user`, `$today` and `+Nd` in a metadata value.
pub(crate) fn expand_metadata(value: &str, user: &str, today_days: i64) -> String {
    if let Some(days) = value
        .strip_prefix('+')
        .and_then(|v| v.strip_suffix('d'))
        .and_then(|n| n.parse::<i64>().ok())
    {
        return date(today_days + days);
    }
    value
        .replace("$user", user)
        .replace("$today", &date(today_days))
}

/// `YYYY-MM-DD` for days since 1970-01-01.
pub fn date(days: i64) -> String {
    crate::time::date_from_days(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        for (name, _) in BUILTIN {
            let t = load(name, None).unwrap();
            assert!(!t.fields.is_empty(), "{name}");
        }
        assert!(matches!(load("nope", None), Err(Error::Template { .. })));
    }

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(19_723), "2024-01-01");
        assert_eq!(expand_metadata("+1d", "u", 0), "1970-01-02");
        assert_eq!(expand_metadata("by $user", "u", 0), "by u");
    }

    #[test]
    fn checks() {
        let t = load("api-key", None).unwrap();
        let f = &t.fields[0];
        let v = |s: &str| Zeroizing::new(s.to_string());
        assert_eq!(
            &*f.check("x", "x", v("abcdefghij\n"), false).unwrap(),
            "abcdefghij"
        );
        assert!(f.check("x", "x", v("abcdefghij\n\n"), false).is_err());
        assert!(f.check("x", "x", v(""), false).is_err());
        assert!(f.check("x", "x", v("short"), false).is_err());
        assert!(f.check("x", "x", v("CHANGEME-1234"), false).is_err());
    }
}
