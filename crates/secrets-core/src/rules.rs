//! `.sops.yaml`: where it is, its `creation_rules` and `stores` settings.
//!
//! nsec looks for the config upward from the target file's directory first
//! and then from the working directory (sops only does the latter), so that
//! `nsec encrypt secrets/api-keys/x.yaml` works from a repository root with
//! `secrets/.sops.yaml`. Rules are matched like sops matches them: in order,
//! first match wins, `path_regex` tested against the file's path relative to
//! the config file's directory (absolute when the file lies outside it).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::goregex::GoRegex;

use crate::error::{ConfigProblem, Error, Result};
use crate::format::Format;
use crate::keys::age::split_recipient_list;
use crate::metadata::{Selector, SELECTOR_NAMES};
use crate::store::{self, StoreOptions};
use crate::tree::{Map, Value};

/// The file name sops uses.
pub const CONFIG_NAME: &str = ".sops.yaml";

/// A loaded `.sops.yaml`.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where it was read from.
    pub path: PathBuf,
    /// Output layout (`stores:`).
    pub stores: StoreOptions,
    /// The creation rules, in order.
    pub creation_rules: Vec<CreationRule>,
    /// Names for recipients, taken from YAML anchors (`- &laptop age1…`) and
    /// trailing comments (`age1… # laptop`) in the file.
    pub recipient_names: HashMap<String, String>,
    /// `nsec.paths`: globs (relative to the config's directory) of files
    /// that belong to the store whether or not a rule matches them.
    pub store_paths: Vec<String>,
}

/// One creation rule.
#[derive(Clone, Debug)]
pub struct CreationRule {
    /// Its 0-based position in `creation_rules`.
    pub index: usize,
    /// `path_regex`; `None` matches every file.
    pub path_regex: Option<GoRegex>,
    /// Age recipients per key group (one group for the flat `age:` form).
    pub key_groups: Vec<Vec<String>>,
    /// `shamir_threshold` (0 when not set).
    pub shamir_threshold: usize,
    /// The selector, if one is set.
    pub selector: Option<Selector>,
    /// `mac_only_encrypted`.
    pub mac_only_encrypted: bool,
    /// PGP fingerprints per key group, aligned with `key_groups`.
    pub pgp_groups: Vec<Vec<String>>,
    /// AWS KMS keys per key group, aligned with `key_groups`. Keys of the
    /// flat form (`kms: ARN,…`) have no context of their own: they get
    /// `--encryption-context` (see [`CreationRule::group_keys_with_context`]).
    pub kms_groups: Vec<Vec<crate::keys::kms::KmsKey>>,
    /// Whether `kms_groups` come from the flat form.
    pub kms_flat: bool,
    /// The key types the rule names that nsec cannot encrypt to (kms,
    /// gcp_kms, azure_keyvault, hc_vault…), in config spelling.
    pub unsupported_keys: Vec<String>,
}

impl CreationRule {
    /// Every age recipient of the rule, in order.
    pub fn recipients(&self) -> impl Iterator<Item = &str> {
        self.key_groups.iter().flatten().map(|s| s.as_str())
    }

    /// Does the rule name any master key nsec can encrypt to?
    pub fn has_master_keys(&self) -> bool {
        self.recipients().next().is_some()
            || self.pgp_groups.iter().any(|g| !g.is_empty())
            || self.kms_groups.iter().any(|g| !g.is_empty())
    }

    /// The rule's master keys, group by group, parsed; flat-form KMS keys
    /// get `context` (sops' `--encryption-context`).
    pub fn group_keys_with_context(
        &self,
        context: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<crate::keys::groups::GroupKeys>> {
        let mut groups = self.group_keys()?;
        if self.kms_flat {
            for g in &mut groups {
                for k in &mut g.kms {
                    k.context = context.clone();
                }
            }
        }
        Ok(groups)
    }

    /// The rule's master keys, group by group, parsed.
    pub fn group_keys(&self) -> Result<Vec<crate::keys::groups::GroupKeys>> {
        self.key_groups
            .iter()
            .enumerate()
            .map(|(i, age)| {
                Ok(crate::keys::groups::GroupKeys {
                    age: age
                        .iter()
                        .map(|r| crate::keys::age::AgeRecipient::parse(r))
                        .collect::<Result<_>>()?,
                    pgp: self.pgp_groups.get(i).cloned().unwrap_or_default(),
                    kms: self.kms_groups.get(i).cloned().unwrap_or_default(),
                })
            })
            .collect()
    }
}

/// Finds the config: `explicit` if given; else upward from the directory of
/// `target` (when given), then upward from `cwd`.
pub fn find(explicit: Option<&Path>, target: Option<&Path>, cwd: &Path) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    let from_target = target
        .map(|t| absolute(cwd, t))
        .and_then(|t| t.parent().and_then(find_upward));
    from_target.or_else(|| find_upward(cwd))
}

fn find_upward(start: &Path) -> Option<PathBuf> {
    // sops stops after 100 levels; so do we.
    start
        .ancestors()
        .take(100)
        .map(|dir| dir.join(CONFIG_NAME))
        .find(|p| p.is_file())
}

/// `path` made absolute against `cwd` and cleaned lexically (`.` and `..`
/// removed, symlinks not resolved), as Go's `filepath.Abs` does.
pub fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Config {
    /// Reads and checks a config file.
    ///
    /// A config that someone else could have written is refused (see
    /// `check_trusted`): it decides who can read every new secret.
    pub fn load(path: &Path) -> Result<Config> {
        check_trusted(path)?;
        let text = crate::fsio::read_small(path)?;
        Config::parse(path, &text)
    }

    /// Parses config text; `path` is used for errors and rule matching.
    pub fn parse(path: &Path, text: &[u8]) -> Result<Config> {
        let err = |rule: Option<usize>, RuleError(problem, message)| Error::Config {
            path: path.into(),
            rule,
            problem,
            message,
        };
        let docs = match store::parse(Format::Yaml, text) {
            Ok(d) => d,
            Err(Error::EmptyFile) => vec![Map::new()],
            Err(e) => return Err(err(None, e.to_string().into())),
        };
        let root = docs.into_iter().next().unwrap_or_default();
        let stores = parse_stores(root.get("stores")).map_err(|m| err(None, m.into()))?;
        let creation_rules = match root.get("creation_rules") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::List(rules)) => Value::list_values(rules)
                .enumerate()
                .map(|(i, r)| match r {
                    Value::Map(m) => parse_rule(i, m).map_err(|msg| err(Some(i), msg)),
                    _ => Err(err(Some(i), String::from("a rule must be a map").into())),
                })
                .collect::<Result<_>>()?,
            Some(_) => {
                return Err(err(
                    None,
                    String::from("creation_rules must be a list").into(),
                ))
            }
        };
        Ok(Config {
            path: path.to_path_buf(),
            stores,
            creation_rules,
            recipient_names: recipient_names(&String::from_utf8_lossy(text)),
            store_paths: nsec_list(&root, "paths"),
        })
    }

    /// The directory holding the config.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("/"))
    }

    /// The path a rule's `path_regex` sees for `file` (`cwd` resolves a
    /// relative `file`): relative to the config's directory when inside it.
    pub fn match_path(&self, cwd: &Path, file: &Path) -> String {
        let abs = absolute(cwd, file);
        let dir = absolute(cwd, self.dir());
        match abs.strip_prefix(&dir) {
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => abs.to_string_lossy().into_owned(),
        }
    }

    /// The first rule matching `file`.
    pub fn rule_for(&self, cwd: &Path, file: &Path) -> Result<&CreationRule> {
        let rel = self.match_path(cwd, file);
        self.creation_rules
            .iter()
            .find(|r| r.path_regex.as_ref().is_none_or(|re| re.is_match(&rel)))
            .ok_or(Error::NoMatchingRule {
                config: self.path.clone(),
                file: rel,
            })
    }

    /// A human name for a recipient, when the config gives one.
    pub fn name_of(&self, recipient: &str) -> Option<&str> {
        self.recipient_names.get(recipient).map(|s| s.as_str())
    }
}

/// The environment variable that lists configs to trust although another
/// user could have written them: paths separated by `:`, or `*` for all.
pub const TRUST_VAR: &str = "NSEC_TRUSTED_CONFIGS";

/// Refuses a `.sops.yaml` that another user could have written, as git
/// refuses a repository owned by someone else (`safe.directory`): because
/// nsec also looks for the config upward from the target file, a config in
/// a shared parent directory would otherwise decide who can read a new
/// secret. Trusted are configs owned by the current user or root, not
/// writable by others, in a directory others cannot replace them in (not
/// world-writable, or sticky). Others are trusted only when listed in
/// `NSEC_TRUSTED_CONFIGS`.
pub(crate) fn check_trusted(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(()); // reading it gives the error
        };
        let me = nix::unistd::geteuid().as_raw();
        let dir = path
            .canonicalize()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        let dir_meta = dir.as_deref().and_then(|d| std::fs::metadata(d).ok());
        let reason = if meta.uid() != me && meta.uid() != 0 {
            Some(format!("it is owned by user {}, not by you", meta.uid()))
        } else if meta.mode() & 0o002 != 0 {
            Some("every user can write it".to_string())
        } else if dir_meta.is_some_and(|d| d.mode() & 0o002 != 0 && d.mode() & 0o1000 == 0) {
            Some("every user can replace it (its directory is world-writable)".to_string())
        } else {
            None
        };
        if let Some(reason) = reason {
            let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
            let trusted = std::env::var_os(TRUST_VAR).is_some_and(|v| {
                v == "*" || std::env::split_paths(&v).any(|p| p == canonical || p == path)
            });
            if !trusted {
                return Err(Error::UntrustedConfig {
                    path: canonical,
                    reason,
                });
            }
        }
    }
    Ok(())
}

/// A list of strings from the `nsec:` section (which sops ignores).
fn nsec_list(root: &Map, key: &str) -> Vec<String> {
    let Some(Value::Map(nsec)) = root.get("nsec") else {
        return Vec::new();
    };
    match nsec.get(key) {
        Some(Value::List(items)) => Value::list_values(items)
            .filter_map(|v| match v {
                Value::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        Some(Value::Str(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn parse_stores(v: Option<&Value>) -> std::result::Result<StoreOptions, String> {
    let mut opts = StoreOptions::default();
    let Some(Value::Map(stores)) = v else {
        return Ok(opts);
    };
    let indent = |store: &str| -> std::result::Result<Option<i64>, String> {
        match stores.get(store) {
            Some(Value::Map(m)) => match m.get("indent") {
                Some(Value::Int(i)) => Ok(Some(*i)),
                None | Some(Value::Null) => Ok(None),
                Some(_) => Err(format!("stores.{store}.indent must be an integer")),
            },
            _ => Ok(None),
        }
    };
    if let Some(i) = indent("yaml")? {
        if !(1..=32).contains(&i) {
            return Err(format!("stores.yaml.indent {i} is out of range (1 to 32)"));
        }
        opts.yaml_indent = i as usize;
    }
    let json = |i: i64| if i < 0 { None } else { Some(i as usize) };
    if let Some(i) = indent("json")? {
        opts.json_indent = json(i);
    }
    if let Some(i) = indent("json_binary")? {
        opts.json_binary_indent = json(i);
    }
    Ok(opts)
}

/// Why a rule does not parse.
struct RuleError(ConfigProblem, String);

impl From<String> for RuleError {
    fn from(message: String) -> Self {
        RuleError(ConfigProblem::Invalid, message)
    }
}

fn parse_rule(index: usize, m: &Map) -> std::result::Result<CreationRule, RuleError> {
    let string = |name: &str| -> std::result::Result<Option<String>, String> {
        match m.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{name} must be a string")),
        }
    };
    let path_regex = match string("path_regex")?.filter(|s| !s.is_empty()) {
        Some(re) => Some(GoRegex::new(&re).map_err(|e| {
            RuleError(
                ConfigProblem::PathRegex,
                format!("invalid path_regex `{re}`: {e}"),
            )
        })?),
        None => None,
    };
    let mut unsupported_keys = Vec::new();
    let mut pgp_groups = Vec::new();
    let mut kms_groups = Vec::new();
    let mut kms_flat = false;
    let key_groups = match m.get("key_groups") {
        Some(Value::List(groups)) if !groups.is_empty() => {
            let mut out = Vec::new();
            for (gi, g) in Value::list_values(groups).enumerate() {
                let Value::Map(gm) = g else {
                    return Err(format!("key_groups[{gi}] must be a map").into());
                };
                let mut keys = GroupCollect::default();
                collect_group(gm, &mut keys, &mut unsupported_keys)
                    .map_err(|e| format!("key_groups[{gi}]: {e}"))?;
                // Within a key group sops removes duplicate keys.
                let mut seen = std::collections::HashSet::new();
                keys.age.retain(|r| seen.insert(r.clone()));
                keys.pgp.retain(|r| seen.insert(r.clone()));
                keys.kms.retain(|k| seen.insert(k.name()));
                out.push(keys.age);
                pgp_groups.push(keys.pgp);
                kms_groups.push(keys.kms);
            }
            out
        }
        _ => {
            let mut keys = GroupCollect {
                aws_profile: match m.get("aws_profile") {
                    Some(Value::Str(s)) => s.clone(),
                    _ => String::new(),
                },
                ..GroupCollect::default()
            };
            collect_group(m, &mut keys, &mut unsupported_keys)?;
            kms_flat = true;
            pgp_groups.push(keys.pgp);
            kms_groups.push(keys.kms);
            vec![keys.age]
        }
    };
    let shamir_threshold = match m.get("shamir_threshold") {
        None | Some(Value::Null) => 0,
        Some(Value::Int(i)) if *i >= 0 => *i as usize,
        Some(_) => {
            return Err(String::from("shamir_threshold must be a non-negative integer").into())
        }
    };
    let selector = Selector::from_options(
        SELECTOR_NAMES
            .iter()
            .map(|n| Ok((*n, string(n)?)))
            .collect::<std::result::Result<Vec<_>, String>>()?
            .iter()
            .map(|(n, v)| (*n, v.as_deref())),
    )
    .map_err(|e| e.to_string())?;
    let mac_only_encrypted = match m.get("mac_only_encrypted") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(String::from("mac_only_encrypted must be true or false").into()),
    };
    let rule = CreationRule {
        index,
        path_regex,
        key_groups,
        shamir_threshold,
        selector,
        mac_only_encrypted,
        pgp_groups,
        kms_groups,
        kms_flat,
        unsupported_keys,
    };
    for r in rule.recipients() {
        crate::keys::age::AgeRecipient::parse(r)
            .map_err(|e| RuleError(ConfigProblem::Recipient, e.to_string()))?;
    }
    Ok(rule)
}

/// The keys of one group of a rule, as collected.
#[derive(Default)]
struct GroupCollect {
    age: Vec<String>,
    pgp: Vec<String>,
    kms: Vec<crate::keys::kms::KmsKey>,
    /// The rule's `aws_profile`, for KMS ARNs given as strings.
    aws_profile: String,
}

/// The `kms:` field: ARN strings (comma-separated, `ARN+ROLE`) or maps
/// `{arn, role, context, aws_profile}` as in sops' key groups.
fn collect_kms(m: &Map, out: &mut GroupCollect) -> std::result::Result<(), String> {
    use crate::keys::kms::KmsKey;
    let none = std::collections::BTreeMap::new();
    let from_map = |km: &Map| -> std::result::Result<KmsKey, String> {
        let s = |name: &str| match km.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::Str(v)) => Ok(v.clone()),
            Some(_) => Err(format!("kms {name} must be a string")),
        };
        let context = match km.get("context") {
            None | Some(Value::Null) => std::collections::BTreeMap::new(),
            Some(Value::Map(c)) => c
                .entries()
                .map(|(k, v)| match v {
                    Value::Str(v) => Ok((k.to_string(), v.clone())),
                    _ => Err("kms context values must be strings".to_string()),
                })
                .collect::<std::result::Result<_, String>>()?,
            Some(_) => return Err("kms context must be a map".into()),
        };
        let arn = s("arn")?;
        if arn.trim().is_empty() {
            return Err("kms entry without arn".into());
        }
        Ok(KmsKey {
            arn: arn.replace(' ', ""),
            role: s("role")?,
            context,
            aws_profile: s("aws_profile")?,
        })
    };
    match m.get("kms") {
        None | Some(Value::Null) => {}
        Some(Value::Str(s)) => out
            .kms
            .extend(KmsKey::parse_list(s, &none, &out.aws_profile)),
        Some(Value::List(items)) => {
            for item in Value::list_values(items) {
                match item {
                    Value::Str(s) => {
                        let keys = KmsKey::parse_list(s, &none, &out.aws_profile);
                        out.kms.extend(keys)
                    }
                    Value::Map(km) => out.kms.push(from_map(km)?),
                    _ => return Err("kms entries must be ARNs or maps".into()),
                }
            }
        }
        Some(_) => return Err("kms must be a string or a list".into()),
    }
    Ok(())
}

/// The strings of a key field: one string (comma-separated) or a list of
/// strings.
fn key_strings(m: &Map, name: &str) -> std::result::Result<Vec<String>, String> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Str(s)) => Ok(vec![s.clone()]),
        Some(Value::List(items)) => Value::list_values(items)
            .map(|item| match item {
                Value::Str(s) => Ok(s.clone()),
                _ => Err(format!("{name} entries must be strings")),
            })
            .collect(),
        Some(_) => Err(format!("{name} must be a string or a list of strings")),
    }
}

/// Collects a group's age recipients and PGP fingerprints (a string or a
/// list, and `merge:` sub-groups) and notes key types nsec cannot use.
fn collect_group(
    m: &Map,
    out: &mut GroupCollect,
    unsupported: &mut Vec<String>,
) -> std::result::Result<(), String> {
    for s in key_strings(m, "age")? {
        out.age.extend(split_recipient_list(&s).map(str::to_string));
    }
    for s in key_strings(m, "pgp")? {
        out.pgp.extend(crate::keys::pgp::split_fingerprints(&s));
    }
    collect_kms(m, out)?;
    for other in [
        "gcp_kms",
        "azure_keyvault",
        "hc_vault_transit_uri",
        "hc_vault",
    ] {
        match m.get(other) {
            None | Some(Value::Null) => {}
            Some(Value::Str(s)) if s.trim().is_empty() => {}
            Some(Value::List(l)) if l.is_empty() => {}
            Some(_) => {
                if !unsupported.iter().any(|u| u == other) {
                    unsupported.push(other.to_string());
                }
            }
        }
    }
    if let Some(Value::List(merged)) = m.get("merge") {
        for g in Value::list_values(merged) {
            if let Value::Map(gm) = g {
                collect_group(gm, out, unsupported)?;
            }
        }
    }
    Ok(())
}

/// Names recipients after the YAML anchors and trailing comments that label
/// them in the config text: `- &laptop age1…` or `- age1… # laptop`.
pub fn recipient_names(text: &str) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for line in text.lines() {
        let body = line.trim_start().trim_start_matches("- ").trim_start();
        let (body, comment) = match body.find(" #") {
            Some(i) => (&body[..i], Some(body[i + 2..].trim())),
            None => (body, None),
        };
        let body = body.trim().trim_start_matches(['"', '\'']);
        let (anchor, rest) = match body.strip_prefix('&') {
            Some(b) => match b.split_once(char::is_whitespace) {
                Some((a, r)) => (Some(a), r.trim()),
                None => (None, ""),
            },
            None => (None, body),
        };
        let rest = rest.trim_matches(['"', '\'', ',']).trim();
        let looks_like_key = rest.starts_with("age1") || rest.starts_with("ssh-");
        if !looks_like_key {
            continue;
        }
        let name = anchor
            .map(str::to_string)
            .or_else(|| comment.filter(|c| !c.is_empty()).map(str::to_string));
        if let Some(name) = name {
            names.insert(rest.to_string(), name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_say_which_kind() {
        let kind = |text: &str| match Config::parse(Path::new("/r/.sops.yaml"), text.as_bytes()) {
            Err(Error::Config { problem, rule, .. }) => (problem, rule),
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            kind("creation_rules:\n  - path_regex: '(recipient'\n"),
            (ConfigProblem::PathRegex, Some(0))
        );
        assert_eq!(
            kind("creation_rules:\n  - age: x\n  - age: age1notakey\n"),
            (ConfigProblem::Recipient, Some(0))
        );
        // A message that mentions a regex or recipient is not what decides.
        assert_eq!(
            kind("creation_rules:\n  - age: [1]\n"),
            (ConfigProblem::Invalid, Some(0))
        );
        assert_eq!(kind("creation_rules: {}\n"), (ConfigProblem::Invalid, None));
    }

    #[test]
    fn absolute_cleans_lexically() {
        assert_eq!(
            absolute(Path::new("/r"), Path::new("./a/../a/x.yaml")),
            PathBuf::from("/r/a/x.yaml")
        );
    }

    #[test]
    fn names_from_anchors_and_comments() {
        let text = "keys:\n  - &laptop age1aaa\n  - age1bbb # desktop\n  - &ci ssh-ed25519 AAAAC3 ci@host\n";
        let names = recipient_names(text);
        assert_eq!(names.get("age1aaa").map(String::as_str), Some("laptop"));
        assert_eq!(names.get("age1bbb").map(String::as_str), Some("desktop"));
        assert_eq!(
            names.get("ssh-ed25519 AAAAC3 ci@host").map(String::as_str),
            Some("ci")
        );
    }
}
