//! sops' legacy flag form: `sops -d FILE`, `sops -e -i FILE`, `sops FILE`,
//! `sops --set '["a"] "v"' FILE`, …
//!
//! Before clap sees the command line, [`rewrite`] recognises that form and
//! turns it into the equivalent subcommand invocation (`nsec decrypt -- FILE`,
//! `nsec edit -- FILE`, …). It only parses: every operation stays where the
//! subcommands put it.
//!
//! The parsing follows sops 3.11 (urfave/cli on Go's `flag` package): `-x`
//! and `--x` are the same flag, `--flag=value` or `--flag value`, no grouped
//! short flags, and the first argument that is not a flag ends the flags
//! (later ones are ignored with a warning, as sops does). When several of
//! `--encrypt`, `--decrypt`, `--rotate`, `--set` are given, sops warns and
//! only the last of them in that order takes effect; so does nsec.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;

/// What kind of argument a sops flag takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bool,
    Value,
    Int,
}

/// Every flag of sops 3.11's legacy form (long name, short name, kind).
const FLAGS: &[(&str, Option<&str>, Kind)] = &[
    ("decrypt", Some("d"), Kind::Bool),
    ("encrypt", Some("e"), Kind::Bool),
    ("rotate", Some("r"), Kind::Bool),
    ("disable-version-check", None, Kind::Bool),
    ("check-for-updates", None, Kind::Bool),
    ("kms", Some("k"), Kind::Value),
    ("aws-profile", None, Kind::Value),
    ("gcp-kms", None, Kind::Value),
    ("hckms", None, Kind::Value),
    ("azure-kv", None, Kind::Value),
    ("hc-vault-transit", None, Kind::Value),
    ("pgp", Some("p"), Kind::Value),
    ("age", Some("a"), Kind::Value),
    ("in-place", Some("i"), Kind::Bool),
    ("extract", None, Kind::Value),
    ("input-type", None, Kind::Value),
    ("output-type", None, Kind::Value),
    ("show-master-keys", Some("s"), Kind::Bool),
    ("add-gcp-kms", None, Kind::Value),
    ("rm-gcp-kms", None, Kind::Value),
    ("add-hckms", None, Kind::Value),
    ("rm-hckms", None, Kind::Value),
    ("add-azure-kv", None, Kind::Value),
    ("rm-azure-kv", None, Kind::Value),
    ("add-kms", None, Kind::Value),
    ("rm-kms", None, Kind::Value),
    ("add-hc-vault-transit", None, Kind::Value),
    ("rm-hc-vault-transit", None, Kind::Value),
    ("add-age", None, Kind::Value),
    ("rm-age", None, Kind::Value),
    ("add-pgp", None, Kind::Value),
    ("rm-pgp", None, Kind::Value),
    ("ignore-mac", None, Kind::Bool),
    ("mac-only-encrypted", None, Kind::Bool),
    ("unencrypted-suffix", None, Kind::Value),
    ("encrypted-suffix", None, Kind::Value),
    ("unencrypted-regex", None, Kind::Value),
    ("encrypted-regex", None, Kind::Value),
    ("unencrypted-comment-regex", None, Kind::Value),
    ("encrypted-comment-regex", None, Kind::Value),
    ("config", None, Kind::Value),
    ("encryption-context", None, Kind::Value),
    ("set", None, Kind::Value),
    ("shamir-secret-sharing-threshold", None, Kind::Int),
    ("indent", None, Kind::Int),
    ("verbose", None, Kind::Bool),
    ("output", None, Kind::Value),
    ("filename-override", None, Kind::Value),
    ("decryption-order", None, Kind::Value),
    ("enable-local-keyservice", None, Kind::Bool),
    ("keyservice", None, Kind::Value),
    ("help", Some("h"), Kind::Bool),
    ("version", Some("v"), Kind::Bool),
];

/// Key-management flags for services nsec does not talk to.
const OTHER_KEYS: &[&str] = &["gcp-kms", "hckms", "azure-kv", "hc-vault-transit"];

/// Flags that add or remove keys of services nsec does not talk to.
const OTHER_KEY_CHANGES: &[&str] = &[
    "add-gcp-kms",
    "rm-gcp-kms",
    "add-hckms",
    "rm-hckms",
    "add-azure-kv",
    "rm-azure-kv",
    "add-hc-vault-transit",
    "rm-hc-vault-transit",
];

/// The encryption selectors, passed on as they are.
const SELECTORS: &[&str] = &[
    "encrypted-regex",
    "unencrypted-regex",
    "encrypted-suffix",
    "unencrypted-suffix",
    "encrypted-comment-regex",
    "unencrypted-comment-regex",
];

/// What the legacy command line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No command flag: edit the file (`sops FILE`).
    Edit,
    /// `-e` / `--encrypt`.
    Encrypt,
    /// `-d` / `--decrypt`.
    Decrypt,
    /// `-r` / `--rotate`.
    Rotate,
    /// `--set 'INDEX VALUE'`.
    Set,
}

impl Mode {
    /// The flag that selects the mode, for messages.
    pub fn flag(self) -> &'static str {
        match self {
            Mode::Edit => "edit mode (no --encrypt/--decrypt/--rotate/--set)",
            Mode::Encrypt => "--encrypt",
            Mode::Decrypt => "--decrypt",
            Mode::Rotate => "--rotate",
            Mode::Set => "--set",
        }
    }
}

/// Why a legacy command line cannot run. Messages and exit codes are made
/// in `error.rs`.
#[derive(Debug, PartialEq, Eq)]
pub enum LegacyError {
    /// No FILE after the flags (sops code 100).
    NoFile,
    /// A flag sops does not define, as given up to any `=` (sops code 1).
    UnknownFlag(String),
    /// A flag that needs a value came last (sops code 1).
    MissingValue(String),
    /// A numeric or boolean flag with a value that is not one (sops code 1).
    BadFlagValue {
        /// The flag.
        flag: String,
        /// Its value (numbers and booleans only, never a secret).
        value: String,
    },
    /// `--in-place` together with `--output` (sops code 8).
    InPlaceAndOutput,
    /// `--set` without `INDEX VALUE` separated by `] ` (sops code 7).
    BadSetFormat,
    /// A flag that matters in this mode but nsec does not support there.
    Unsupported {
        /// The flag, as `--name`.
        flag: String,
        /// The mode.
        mode: Mode,
    },
}

/// Something sops warns about and nsec does too.
#[derive(Debug, PartialEq, Eq)]
pub enum LegacyWarning {
    /// More than one of --encrypt, --decrypt, --rotate, --set.
    SeveralCommands,
    /// More than one positional argument; `flag_like` is an ignored one
    /// that looks like a flag.
    SeveralFiles {
        /// The last ignored argument starting with `-`.
        flag_like: Option<String>,
    },
}

/// A rewritten command line.
#[derive(Debug, PartialEq, Eq)]
pub struct Rewrite {
    /// The arguments for clap (program name first).
    pub args: Vec<OsString>,
    /// Warnings to print first.
    pub warnings: Vec<LegacyWarning>,
}

/// The flag `name` (without dashes): its long name and kind.
fn lookup(name: &str) -> Option<(&'static str, Kind)> {
    FLAGS
        .iter()
        .find(|(long, short, _)| *long == name || *short == Some(name))
        .map(|(long, _, kind)| (*long, *kind))
}

/// Global options of nsec that may come before a subcommand.
fn global_len(arg: &str) -> Option<usize> {
    match arg {
        "--config" | "--indent" => Some(2),
        a if a.starts_with("--config=") || a.starts_with("--indent=") => Some(1),
        _ => None,
    }
}

/// Is `word` probably a mistyped subcommand (`nsec lsit`) rather than a
/// file? Then clap should say so instead of nsec creating a file.
fn looks_like_subcommand(word: &str, subcommands: &[&str]) -> bool {
    !word.contains(['/', '.'])
        && subcommands
            .iter()
            .any(|s| secrets_core::repo::edit_distance(word, s) <= 2)
}

/// Recognises sops' legacy form and rewrites it to a subcommand invocation.
///
/// `Ok(None)`: not the legacy form (the first argument after nsec's global
/// options is a subcommand, `-h`/`--help`/`-V`/`--version`, or a plain
/// argument that is not alone or looks like a mistyped subcommand), so clap
/// parses `args` as they are.
/// `subcommands` are the names clap knows (aliases and `help` included).
pub fn rewrite(args: &[OsString], subcommands: &[&str]) -> Result<Option<Rewrite>, LegacyError> {
    let mut start = 1;
    while let Some(n) = args
        .get(start)
        .and_then(|a| a.to_str())
        .and_then(global_len)
    {
        start += n;
    }
    let Some(first) = args.get(start) else {
        return Ok(None);
    };
    match first.to_str() {
        Some(s) if subcommands.contains(&s) || s == "-" || s == "--" => return Ok(None),
        // clap's own help and version; any other flag (even one sops does
        // not know, which is then its error) means the legacy form, since
        // nsec's own command lines start with a subcommand.
        Some("-h" | "--help" | "-V" | "--version") => return Ok(None),
        Some(s) if s.starts_with('-') => {}
        Some(s) if args.len() - start != 1 || looks_like_subcommand(s, subcommands) => {
            return Ok(None)
        }
        _ if args.len() - start != 1 => return Ok(None),
        _ => {}
    }
    let parsed = parse(&args[1..])?;
    let program = args.first().cloned().unwrap_or_else(|| "nsec".into());
    if parsed.bools.contains("help") || parsed.bools.contains("version") {
        let flag = if parsed.bools.contains("help") {
            "--help"
        } else {
            "--version"
        };
        return Ok(Some(Rewrite {
            args: vec![program, flag.into()],
            warnings: Vec::new(),
        }));
    }
    build(program, parsed).map(Some)
}

/// The flags and arguments of a legacy command line.
#[derive(Debug, Default)]
struct Parsed {
    bools: BTreeSet<&'static str>,
    /// Non-empty values only (sops treats an empty value as not given).
    values: BTreeMap<&'static str, OsString>,
    files: Vec<OsString>,
}

/// Parses like Go's `flag` package: flags up to the first plain argument
/// (or `--`); the last occurrence of a flag wins.
fn parse(args: &[OsString]) -> Result<Parsed, LegacyError> {
    let mut p = Parsed::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let Some(s) = arg.to_str() else {
            p.files.push(arg.clone());
            break;
        };
        if s == "--" {
            break;
        }
        if !s.starts_with('-') || s == "-" {
            p.files.push(arg.clone());
            break;
        }
        let body = s.strip_prefix("--").unwrap_or(&s[1..]);
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let Some((long, kind)) = lookup(name).filter(|_| !name.starts_with('-')) else {
            return Err(LegacyError::UnknownFlag(format!("-{name}")));
        };
        match kind {
            Kind::Bool => {
                let on = match inline {
                    None | Some("1" | "t" | "T" | "true" | "TRUE" | "True") => true,
                    Some("0" | "f" | "F" | "false" | "FALSE" | "False") => false,
                    Some(v) => {
                        return Err(LegacyError::BadFlagValue {
                            flag: format!("-{name}"),
                            value: v.to_string(),
                        })
                    }
                };
                if on {
                    p.bools.insert(long);
                } else {
                    p.bools.remove(long);
                }
            }
            Kind::Value | Kind::Int => {
                let value = match inline {
                    Some(v) => OsString::from(v),
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| LegacyError::MissingValue(format!("-{name}")))?,
                };
                if kind == Kind::Int {
                    let text = value.to_string_lossy();
                    if text.parse::<i64>().is_err() {
                        return Err(LegacyError::BadFlagValue {
                            flag: format!("-{name}"),
                            value: text.into_owned(),
                        });
                    }
                }
                if value.is_empty() {
                    p.values.remove(long);
                } else {
                    p.values.insert(long, value);
                }
            }
        }
    }
    p.files.extend(it.cloned());
    Ok(p)
}

/// The subcommand invocation for a parsed legacy command line.
fn build(program: OsString, p: Parsed) -> Result<Rewrite, LegacyError> {
    let mut warnings = Vec::new();
    let set = p.values.contains_key("set");
    let chosen = [
        (set, Mode::Set),
        (p.bools.contains("rotate"), Mode::Rotate),
        (p.bools.contains("decrypt"), Mode::Decrypt),
        (p.bools.contains("encrypt"), Mode::Encrypt),
    ];
    if chosen.iter().filter(|(on, _)| *on).count() > 1 {
        warnings.push(LegacyWarning::SeveralCommands);
    }
    let mode = chosen
        .iter()
        .find(|(on, _)| *on)
        .map_or(Mode::Edit, |(_, m)| *m);
    let Some(file) = p.files.first().cloned() else {
        return Err(LegacyError::NoFile);
    };
    if p.files.len() > 1 {
        let flag_like = p.files[1..]
            .iter()
            .rev()
            .filter_map(|f| f.to_str())
            .find(|f| f.starts_with('-'))
            .map(str::to_string);
        warnings.push(LegacyWarning::SeveralFiles { flag_like });
    }
    if p.bools.contains("in-place") && p.values.contains_key("output") {
        return Err(LegacyError::InPlaceAndOutput);
    }

    // Flags that matter in the mode but that nsec cannot honour there.
    let unsupported: Vec<&str> = match mode {
        Mode::Encrypt => OTHER_KEYS.to_vec(),
        Mode::Decrypt => Vec::new(),
        Mode::Rotate => {
            let mut v = OTHER_KEY_CHANGES.to_vec();
            v.push("filename-override");
            v
        }
        Mode::Set => vec!["input-type", "output-type", "filename-override"],
        Mode::Edit => {
            let mut v = OTHER_KEYS.to_vec();
            v.extend(SELECTORS);
            v.extend([
                "age",
                "pgp",
                "kms",
                "input-type",
                "output-type",
                "filename-override",
                "shamir-secret-sharing-threshold",
            ]);
            v
        }
    };
    let unsupported_bools: &[&str] = match mode {
        Mode::Edit => &["ignore-mac", "show-master-keys", "mac-only-encrypted"],
        _ => &[],
    };
    if let Some(flag) = unsupported
        .iter()
        .find(|f| p.values.contains_key(*f))
        .or_else(|| unsupported_bools.iter().find(|f| p.bools.contains(*f)))
    {
        return Err(LegacyError::Unsupported {
            flag: format!("--{flag}"),
            mode,
        });
    }

    let mut out = vec![program];
    for global in ["config", "indent"] {
        if let Some(v) = p.values.get(global) {
            out.push(format!("--{global}").into());
            out.push(v.clone());
        }
    }
    let (name, values, bools): (&str, &[&str], &[&str]) = match mode {
        Mode::Encrypt => (
            "encrypt",
            &[
                "age",
                "pgp",
                "kms",
                "encryption-context",
                "aws-profile",
                "input-type",
                "output-type",
                "output",
                "filename-override",
                "encrypted-regex",
                "unencrypted-regex",
                "encrypted-suffix",
                "unencrypted-suffix",
                "encrypted-comment-regex",
                "unencrypted-comment-regex",
                "shamir-secret-sharing-threshold",
            ],
            &["in-place", "mac-only-encrypted"],
        ),
        Mode::Decrypt => (
            "decrypt",
            &[
                "extract",
                "input-type",
                "output-type",
                "output",
                "filename-override",
                "decryption-order",
            ],
            &["in-place", "ignore-mac"],
        ),
        Mode::Rotate => (
            "rotate",
            &[
                "add-age",
                "rm-age",
                "add-pgp",
                "rm-pgp",
                "add-kms",
                "rm-kms",
                "encryption-context",
                "aws-profile",
                "input-type",
                "output-type",
                "output",
                "decryption-order",
            ],
            &["in-place", "sops-file"],
        ),
        Mode::Set => ("set", &["decryption-order"], &["ignore-mac"]),
        Mode::Edit => ("edit", &["decryption-order"], &[]),
    };
    out.push(name.into());
    for b in bools {
        // `sops-file` is rotate's hidden switch to its single-file mode.
        if *b == "sops-file" || p.bools.contains(b) {
            out.push(format!("--{b}").into());
        }
    }
    for v in values {
        if let Some(value) = p.values.get(v) {
            out.push(format!("--{v}").into());
            out.push(value.clone());
        }
    }
    out.push("--".into());
    out.push(file);
    if mode == Mode::Set {
        let (index, value) = split_set(p.values.get("set"))?;
        out.push(index.into());
        out.push(value.into());
    }
    Ok(Rewrite {
        args: out,
        warnings,
    })
}

/// Splits `--set`'s `INDEX VALUE` as sops does: after the first `] `.
fn split_set(set: Option<&OsString>) -> Result<(String, String), LegacyError> {
    let text = set
        .and_then(|s| s.to_str())
        .ok_or(LegacyError::BadSetFormat)?;
    let (index, value) = text.split_once("] ").ok_or(LegacyError::BadSetFormat)?;
    Ok((format!("{index}]"), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBCOMMANDS: &[&str] = &[
        "encrypt", "decrypt", "edit", "set", "rotate", "list", "help",
    ];

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("nsec")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    fn rw(args: &[&str]) -> Result<Option<Vec<String>>, LegacyError> {
        rewrite(&argv(args), SUBCOMMANDS).map(|r| {
            r.map(|r| {
                r.args
                    .iter()
                    .skip(1)
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect()
            })
        })
    }

    fn ok(args: &[&str]) -> String {
        rw(args).unwrap().expect("legacy form").join(" ")
    }

    #[test]
    fn subcommands_and_help_are_left_to_clap() {
        for args in [
            &["decrypt", "f.yaml"][..],
            &["--config", "c.yaml", "edit", "f"],
            &["--indent=4", "set", "f", "x"],
            &["--help"],
            &["-h"],
            &["--version"],
            &[],
            &["two", "files"],
            &["lsit"],
            &["-"],
        ] {
            assert_eq!(rw(args), Ok(None), "{args:?}");
        }
    }

    #[test]
    fn modes_become_subcommands() {
        assert_eq!(ok(&["-e", "f.yaml"]), "encrypt -- f.yaml");
        assert_eq!(
            ok(&["--encrypt", "-i", "f.yaml"]),
            "encrypt --in-place -- f.yaml"
        );
        assert_eq!(ok(&["-d", "f.yaml"]), "decrypt -- f.yaml");
        assert_eq!(
            ok(&["-decrypt", "--in-place", "f"]),
            "decrypt --in-place -- f"
        );
        assert_eq!(
            ok(&["-d", "--extract", r#"["a"]"#, "f"]),
            r#"decrypt --extract ["a"] -- f"#
        );
        assert_eq!(
            ok(&["-e", "--output=o.yaml", "f"]),
            "encrypt --output o.yaml -- f"
        );
        assert_eq!(ok(&["-r", "f"]), "rotate --sops-file -- f");
        assert_eq!(
            ok(&["--rotate", "-i", "--add-age", "age1x", "f"]),
            "rotate --in-place --sops-file --add-age age1x -- f"
        );
        assert_eq!(
            ok(&[
                "-e",
                "--age",
                "age1x",
                "--input-type",
                "json",
                "--output-type",
                "yaml",
                "f"
            ]),
            "encrypt --age age1x --input-type json --output-type yaml -- f"
        );
        assert_eq!(ok(&["f.yaml"]), "edit -- f.yaml");
        assert_eq!(ok(&["api-keys/openai"]), "edit -- api-keys/openai");
        assert_eq!(ok(&["-i", "f.yaml"]), "edit -- f.yaml");
        assert_eq!(
            ok(&["--config", "c.yaml", "--indent", "4", "-d", "f"]),
            "--config c.yaml --indent 4 decrypt -- f"
        );
        // A file name that starts with a dash stays a file.
        assert_eq!(ok(&["-d", "--", "-odd.yaml"]), "decrypt -- -odd.yaml");
    }

    #[test]
    fn set_takes_index_and_value_in_one_argument() {
        assert_eq!(
            ok(&["--set", r#"["a"]["b"] "v w""#, "f"]),
            r#"set -- f ["a"]["b"] "v w""#
        );
        assert_eq!(
            ok(&["-i", "--set", r#"["a"]   7"#, "f"]),
            r#"set -- f ["a"]   7"#
        );
        assert_eq!(ok(&["--set", r#"["a"] "#, "f"]), r#"set -- f ["a"] "#);
        assert_eq!(
            rw(&["--set", r#"["a"]7"#, "f"]),
            Err(LegacyError::BadSetFormat)
        );
        assert_eq!(
            rw(&["--set", r#"["a"]"#, "f"]),
            Err(LegacyError::BadSetFormat)
        );
        // An empty --set is no --set (sops tests for "").
        assert_eq!(ok(&["--set", "", "f"]), "edit -- f");
    }

    #[test]
    fn conflicts_and_mistakes() {
        // The last of encrypt, decrypt, rotate, set wins, with a warning.
        let r = rewrite(&argv(&["-e", "-d", "f"]), SUBCOMMANDS)
            .unwrap()
            .unwrap();
        assert_eq!(r.args[1], "decrypt");
        assert_eq!(r.warnings, vec![LegacyWarning::SeveralCommands]);
        let r = rewrite(&argv(&["-d", "-r", "f"]), SUBCOMMANDS)
            .unwrap()
            .unwrap();
        assert_eq!(r.args[1], "rotate");
        // Only the first file counts; flags after it are ignored.
        let r = rewrite(&argv(&["-d", "f", "-i"]), SUBCOMMANDS)
            .unwrap()
            .unwrap();
        assert_eq!(r.args.last().unwrap(), "f");
        assert!(!r.args.contains(&"--in-place".into()));
        assert_eq!(
            r.warnings,
            vec![LegacyWarning::SeveralFiles {
                flag_like: Some("-i".into())
            }]
        );
        assert_eq!(rw(&["-d"]), Err(LegacyError::NoFile));
        assert_eq!(
            rw(&["--frob", "f"]),
            Err(LegacyError::UnknownFlag("-frob".into()))
        );
        assert_eq!(
            rw(&["-di", "f"]),
            Err(LegacyError::UnknownFlag("-di".into()))
        );
        assert_eq!(ok(&["-v"]), "--version");
        assert_eq!(
            rw(&["-d", "-di", "f"]),
            Err(LegacyError::UnknownFlag("-di".into()))
        );
        assert_eq!(
            rw(&["-d", "--output"]),
            Err(LegacyError::MissingValue("-output".into()))
        );
        assert_eq!(
            rw(&["-d", "-i", "--output", "o", "f"]),
            Err(LegacyError::InPlaceAndOutput)
        );
        assert!(matches!(
            rw(&["-e", "--indent", "x", "f"]),
            Err(LegacyError::BadFlagValue { .. })
        ));
        assert_eq!(
            rw(&["-e", "--gcp-kms", "res", "f"]),
            Err(LegacyError::Unsupported {
                flag: "--gcp-kms".into(),
                mode: Mode::Encrypt
            })
        );
        // Irrelevant flags are ignored, as sops ignores them.
        assert_eq!(ok(&["-d", "--kms", "arn", "-s", "f"]), "decrypt -- f");
        assert_eq!(ok(&["-d", "-h", "f"]), "--help");
        assert_eq!(ok(&["-d", "--version", "f"]), "--version");
    }
}
