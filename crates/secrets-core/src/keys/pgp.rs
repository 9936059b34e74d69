//! PGP master keys, through the `gpg` binary as sops uses it.
//!
//! sops first tries its built-in OpenPGP code on the old `pubring.gpg` /
//! `secring.gpg` keyrings (which GnuPG 2.1 and later no longer write), then
//! runs `gpg` (`SOPS_GPG_EXEC`, else `gpg` on `PATH`). nsec always runs
//! `gpg`, with the arguments sops gives it, so the user's keyring,
//! `GNUPGHOME`, gpg-agent, pinentry and smartcards work as they do for sops.
//! The data key goes to gpg on standard input and comes back on standard
//! output, never in argv; gpg's standard error is only kept for error
//! messages (it never holds the data key).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::tree::{Item, Map, Value};

/// The variable that names the gpg program (as in sops).
pub(crate) const GPG_EXEC_VAR: &str = "SOPS_GPG_EXEC";

/// One PGP entry of a file's metadata (`fp`, `created_at`, `enc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgpEntry {
    /// The key's fingerprint as configured.
    pub fingerprint: String,
    /// When the data key was encrypted to it (RFC 3339, UTC).
    pub created_at: String,
    /// The ASCII-armored PGP message holding the data key (or a share).
    pub enc: String,
}

impl PgpEntry {
    /// The metadata map, in the order sops writes it.
    pub fn to_value(&self) -> Value {
        Value::Map(Map {
            items: vec![
                Item::Entry("created_at".into(), Value::Str(self.created_at.clone())),
                Item::Entry("enc".into(), Value::Str(self.enc.clone())),
                Item::Entry("fp".into(), Value::Str(self.fingerprint.clone())),
            ],
        })
    }

    /// Reads the entries of a `pgp:` list (missing fields read as "", as
    /// sops reads them).
    pub fn list_from_value(v: &Value, what: &str) -> Result<Vec<PgpEntry>> {
        let items = match v {
            Value::List(items) => items,
            Value::Null => return Ok(Vec::new()),
            _ => {
                return Err(Error::InvalidMetadata(format!(
                    "{what}pgp must be a list of {{fp, created_at, enc}}"
                )))
            }
        };
        Value::list_values(items)
            .map(|item| {
                let Value::Map(m) = item else {
                    return Err(Error::InvalidMetadata(format!(
                        "{what}pgp entry is not a map"
                    )));
                };
                Ok(PgpEntry {
                    fingerprint: text(m, "fp").trim().to_string(),
                    created_at: text(m, "created_at"),
                    enc: text(m, "enc"),
                })
            })
            .collect()
    }
}

/// A string field of a metadata map ("" when missing or not a string).
pub(crate) fn text(m: &Map, name: &str) -> String {
    match m.get(name) {
        Some(Value::Str(s) | Value::Time(s)) => s.clone(),
        _ => String::new(),
    }
}

/// A fingerprint as sops keeps it: spaces removed.
pub(crate) fn normalize_fingerprint(fp: &str) -> String {
    fp.replace(' ', "")
}

/// Splits a comma-separated fingerprint list (`--pgp`, `SOPS_PGP_FP`, a
/// rule's `pgp:` string).
pub fn split_fingerprints(list: &str) -> impl Iterator<Item = String> + '_ {
    list.split(',')
        .map(normalize_fingerprint)
        .filter(|s| !s.is_empty())
}

/// The last 16 hex digits (the long key ID), as sops passes `--trusted-key`.
fn short_fingerprint(fp: &str) -> &str {
    let mut offset = fp.len() as isize - 16;
    if fp.ends_with('!') {
        offset -= 1;
    }
    match usize::try_from(offset) {
        Ok(start) if start > 0 => fp.get(start..).unwrap_or(fp),
        _ => fp,
    }
}

/// The gpg program: `SOPS_GPG_EXEC`, else `gpg`.
pub(crate) fn gpg_program() -> OsString {
    match std::env::var_os(GPG_EXEC_VAR) {
        Some(p) if !p.is_empty() => p,
        _ => OsString::from("gpg"),
    }
}

/// Encrypts `payload` to the key `fingerprint` in the user's keyring and
/// returns the armored message (trimmed, as sops stores it).
pub(crate) fn encrypt(fingerprint: &str, payload: &[u8]) -> Result<String> {
    let args = [
        "--no-default-recipient",
        "--yes",
        "--encrypt",
        "-a",
        "-r",
        fingerprint,
        "--trusted-key",
        short_fingerprint(fingerprint),
        "--no-encrypt-to",
    ];
    let fail = |reason: String| Error::Pgp {
        fingerprint: fingerprint.to_string(),
        reason,
    };
    let out = run_gpg(&args, payload).map_err(fail)?;
    let text = String::from_utf8(out.to_vec())
        .map_err(|_| fail("gpg wrote output that is not text".into()))?;
    let text = text.trim();
    if !text.starts_with("-----BEGIN PGP MESSAGE-----") {
        return Err(fail("gpg did not write an armored PGP message".into()));
    }
    Ok(text.to_string())
}

/// Decrypts an armored message with the user's secret key (through gpg,
/// gpg-agent and whatever they use: passphrase prompt, smartcard).
pub(crate) fn decrypt(fingerprint: &str, enc: &str) -> Result<Zeroizing<Vec<u8>>> {
    let fail = |reason: String| Error::Pgp {
        fingerprint: fingerprint.to_string(),
        reason,
    };
    let out = run_gpg(&["-d"], enc.as_bytes()).map_err(fail)?;
    if out.is_empty() {
        return Err(fail("gpg returned zero bytes".into()));
    }
    Ok(out)
}

/// Runs gpg with `args`, `input` on stdin; returns stdout, or why it failed
/// (gpg's own words from stderr).
fn run_gpg(args: &[&str], input: &[u8]) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
    let program = gpg_program();
    let mut child = Command::new(&program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run {} ({e}; install GnuPG or set {GPG_EXEC_VAR})",
                program.to_string_lossy()
            )
        })?;
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err("gpg's pipes could not be opened".into());
    };
    let mut out = Zeroizing::new(Vec::new());
    let mut err = Vec::new();
    // Feed stdin and drain stderr on their own threads, so that no pipe
    // fills up while another is waited on.
    let read = std::thread::scope(|s| {
        let writer = s.spawn(move || {
            // gpg may exit before reading everything (a missing key); that
            // is reported by its exit status and stderr.
            let _ = stdin.write_all(input);
        });
        let err_reader = s.spawn(|| stderr.read_to_end(&mut err));
        let r = stdout.read_to_end(&mut out);
        let _ = writer.join();
        let _ = err_reader.join();
        r
    });
    let status = child.wait().map_err(|e| format!("waiting for gpg: {e}"))?;
    read.map_err(|e| format!("reading gpg's output: {e}"))?;
    if !status.success() {
        let msg = String::from_utf8_lossy(&err);
        let msg = msg.trim();
        return Err(if msg.is_empty() {
            format!("gpg failed ({status})")
        } else {
            format!("gpg failed ({status}): {msg}")
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_fingerprints_as_sops() {
        assert_eq!(
            short_fingerprint("4F67E6C9CE4AC38C43E424B2B63E57E0C9F48BB7"),
            "B63E57E0C9F48BB7"
        );
        assert_eq!(
            short_fingerprint("4F67E6C9CE4AC38C43E424B2B63E57E0C9F48BB7!"),
            "B63E57E0C9F48BB7!"
        );
        assert_eq!(short_fingerprint("ABCD"), "ABCD");
        assert_eq!(
            normalize_fingerprint("4F67 E6C9 CE4A C38C"),
            "4F67E6C9CE4AC38C"
        );
        assert_eq!(
            split_fingerprints(" A B,,C ").collect::<Vec<_>>(),
            ["AB", "C"]
        );
    }
}
