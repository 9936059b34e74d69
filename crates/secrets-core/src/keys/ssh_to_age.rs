//! ssh-ed25519 keys as native age X25519 keys, and new X25519 key pairs.
//!
//! This is what Mic92's `ssh-to-age` tool does (sops 3.11 itself does not
//! apply it when loading SSH keys; this is for `nsec` commands that convert
//! keys explicitly):
//!
//! * public: the ed25519 point is mapped to its Montgomery u-coordinate and
//!   Bech32-encoded with the HRP `age`;
//! * private: the first 32 bytes of SHA-512(ed25519 seed) (the unclamped
//!   scalar; X25519 clamps on use) are Bech32-encoded with the HRP
//!   `age-secret-key-` and upper-cased.
//!
//! Only unencrypted OpenSSH private keys can be converted here; the public
//! key blob of an encrypted key can still be read (it is stored in the clear)
//! so callers can tell which stanzas a key could open before asking for its
//! passphrase.

use age::secrecy::{ExposeSecret, SecretString};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use curve25519_dalek::edwards::CompressedEdwardsY;
use sha2::{Digest, Sha512};
use zeroize::{Zeroize, Zeroizing};

use crate::{Error, Result};

const ED25519: &str = "ssh-ed25519";
const PEM_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const PEM_END: &str = "-----END OPENSSH PRIVATE KEY-----";
const OPENSSH_MAGIC: &[u8] = b"openssh-key-v1\0";

fn bad_key(reason: &str) -> Error {
    Error::KeyWrap(format!("invalid SSH key: {reason}"))
}

/// A cursor over SSH wire-format data (`uint32` lengths, big-endian).
struct Wire<'a> {
    rest: &'a [u8],
}

impl<'a> Wire<'a> {
    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.rest.split_first_chunk::<4>()?;
        self.rest = rest;
        Some(u32::from_be_bytes(*head))
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        if len > self.rest.len() {
            return None;
        }
        let (head, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(head)
    }
}

/// A key type for an error message: a name such as `ssh-rsa` or
/// `ecdsa-sha2-nistp256` as it is, anything else (a corrupt length that
/// runs into key bytes, a secret pasted where a public key belongs) as
/// "an unknown", so that no key material reaches the message.
fn key_type_name(key_type: &[u8]) -> String {
    match std::str::from_utf8(key_type) {
        Ok(name) if name_like(key_type) => name.to_string(),
        _ => "an unknown".to_string(),
    }
}

/// Is this key type or cipher name from a key file shown in messages: at
/// most 40 characters of `a-z`, `0-9`, `-`, `@`, `.`?
pub(crate) fn name_like(name: &[u8]) -> bool {
    (1..=40).contains(&name.len())
        && name.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'@' | b'.')
        })
}

/// The 32-byte ed25519 public key inside an `ssh-ed25519` public key blob.
fn ed25519_from_blob(blob: &[u8]) -> Result<[u8; 32]> {
    let mut wire = Wire { rest: blob };
    let key_type = wire
        .string()
        .ok_or_else(|| bad_key("truncated public key"))?;
    if key_type != ED25519.as_bytes() {
        return Err(bad_key(&format!(
            "got {} key type but only ed25519 keys are supported",
            key_type_name(key_type)
        )));
    }
    let key = wire
        .string()
        .ok_or_else(|| bad_key("truncated public key"))?;
    key.try_into()
        .map_err(|_| bad_key("ed25519 public key is not 32 bytes"))
}

/// Bech32 (not Bech32m) as age uses it.
fn bech32(hrp: &str, data: &[u8]) -> Result<String> {
    let hrp = bech32::Hrp::parse(hrp).map_err(|e| Error::KeyWrap(format!("bech32: {e}")))?;
    bech32::encode::<bech32::Bech32>(hrp, data).map_err(|e| Error::KeyWrap(format!("bech32: {e}")))
}

/// The age recipient (`age1…`) for an `ssh-ed25519 AAAA… [comment]` line.
///
/// Errors for other key types (ssh-to-age only converts ed25519) and for
/// points that are not on the curve.
pub fn ssh_public_to_age(ssh_pub_line: &str) -> Result<String> {
    let mut fields = ssh_pub_line.split_whitespace();
    let key_type = fields.next().ok_or_else(|| bad_key("empty public key"))?;
    if key_type != ED25519 {
        return Err(bad_key(&format!(
            "got {} key type but only ed25519 keys are supported",
            key_type_name(key_type.as_bytes())
        )));
    }
    let encoded = fields
        .next()
        .ok_or_else(|| bad_key("missing base64 key data"))?;
    let blob = STANDARD
        .decode(encoded)
        .map_err(|_| bad_key("public key is not valid base64"))?;
    public_blob_to_age(&blob)
}

/// The age recipient for an SSH public key blob (wire format).
pub(crate) fn public_blob_to_age(blob: &[u8]) -> Result<String> {
    let ed = ed25519_from_blob(blob)?;
    let point = CompressedEdwardsY(ed)
        .decompress()
        .ok_or_else(|| bad_key("ed25519 public key is not a valid curve point"))?;
    bech32("age", point.to_montgomery().as_bytes())
}

/// The parts of an OpenSSH private key file that are stored in the clear.
pub(crate) struct OpenSshKey {
    /// The public key blob (wire format), e.g. `ssh-ed25519` + 32 bytes.
    pub(crate) public_blob: Vec<u8>,
    /// Whether the private section is passphrase-encrypted.
    pub(crate) encrypted: bool,
    /// The private section (only meaningful when not encrypted).
    private: Zeroizing<Vec<u8>>,
}

/// Parses the outer layer of an `-----BEGIN OPENSSH PRIVATE KEY-----` file.
pub(crate) fn parse_openssh_private(pem: &[u8]) -> Result<OpenSshKey> {
    let text = std::str::from_utf8(pem).map_err(|_| bad_key("private key is not UTF-8"))?;
    let text = text.trim();
    let body = text
        .strip_prefix(PEM_BEGIN)
        .and_then(|t| t.strip_suffix(PEM_END))
        .ok_or_else(|| {
            bad_key("not an OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----)")
        })?;
    let mut joined = Zeroizing::new(String::with_capacity(body.len()));
    joined.extend(body.split_whitespace());
    let raw = Zeroizing::new(
        STANDARD
            .decode(joined.as_bytes())
            .map_err(|_| bad_key("private key body is not valid base64"))?,
    );
    parse_openssh_body(&raw)
}

/// The binary body of an OpenSSH private key file (`openssh-key-v1`).
fn parse_openssh_body(raw: &[u8]) -> Result<OpenSshKey> {
    let rest = raw
        .strip_prefix(OPENSSH_MAGIC)
        .ok_or_else(|| bad_key("missing openssh-key-v1 header"))?;
    let mut wire = Wire { rest };
    let truncated = || bad_key("truncated private key");
    let cipher = wire.string().ok_or_else(truncated)?;
    let _kdf = wire.string().ok_or_else(truncated)?;
    let _kdf_options = wire.string().ok_or_else(truncated)?;
    let count = wire.u32().ok_or_else(truncated)?;
    if count != 1 {
        return Err(bad_key("files with more than one key are not supported"));
    }
    let public_blob = wire.string().ok_or_else(truncated)?.to_vec();
    let private = Zeroizing::new(wire.string().ok_or_else(truncated)?.to_vec());
    Ok(OpenSshKey {
        public_blob,
        encrypted: cipher != b"none",
        private,
    })
}

/// age 0.12.1 panics (index out of bounds) on an RSA number (`mpint`) made
/// of zero bytes only, which no valid key holds. Does `wire`, after the key
/// type `ssh-rsa`, hold one among its next `count` numbers?
fn zero_rsa_number(wire: &mut Wire<'_>, count: usize) -> bool {
    if wire.string() != Some(b"ssh-rsa".as_slice()) {
        return false;
    }
    for _ in 0..count {
        match wire.string() {
            Some(number) if !number.is_empty() && number.iter().all(|&b| b == 0) => return true,
            Some(_) => {}
            None => return false,
        }
    }
    false
}

/// Is `c` a character age 0.12.1 takes as base64 (`str_while_encoded`,
/// `wrapped_str_while_encoded`)? age looks at the low byte of the character
/// only (`c as u8`), so a non-ASCII character can count too (the decode
/// that follows then fails on it). `=` counts where age decodes with
/// padding (`BASE64_STANDARD`: private key files), not where it decodes
/// without (`BASE64_STANDARD_NO_PAD`: public key lines).
fn is_age_base64(c: char, padded: bool) -> bool {
    let low = c as u8;
    low.is_ascii_alphanumeric() || matches!(low, b'+' | b'/') || (padded && low == b'=')
}

/// The longest prefix of `s` age takes as base64.
fn age_base64_prefix(s: &str, padded: bool) -> &str {
    let end = s
        .char_indices()
        .find(|&(_, c)| !is_age_base64(c, padded))
        .map_or(s.len(), |(at, _)| at);
    &s[..end]
}

fn strip_line_ending(s: &str) -> Option<&str> {
    s.strip_prefix("\r\n").or_else(|| s.strip_prefix('\n'))
}

/// The bytes age 0.12.1 decodes and parses as the body of an OpenSSH
/// private key file (`openssh_privkey`), which is more lenient than
/// [`parse_openssh_private`]: right after the `BEGIN` line, the base64
/// runs of the following lines, up to the first character that is not
/// base64 (the body is parsed there, before the `END` line is looked for);
/// `None` where age parses no body (no such run, or the input ends inside
/// the body and age asks for more).
fn age_openssh_body(contents: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    // age reads the file line by line as UTF-8 and stops at a bad line.
    let text = match std::str::from_utf8(contents) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&contents[..e.valid_up_to()]).ok()?,
    };
    let mut rest = strip_line_ending(text.strip_prefix(PEM_BEGIN)?)?;
    let mut body = Zeroizing::new(String::new());
    loop {
        let run = age_base64_prefix(rest, true);
        if run.is_empty() {
            return None;
        }
        body.push_str(run);
        rest = &rest[run.len()..];
        match strip_line_ending(rest) {
            _ if rest.is_empty() => return None,
            Some("") => return None,
            Some(next) if next.starts_with(|c| is_age_base64(c, true)) => rest = next,
            _ => break,
        }
    }
    STANDARD.decode(body.as_bytes()).ok().map(Zeroizing::new)
}

/// Would age panic on this OpenSSH private key file (see
/// [`zero_rsa_number`])? Its public key (e, n) and, unencrypted, its
/// private section (n, e, d, iqmp, p, q) are looked at, in the body as age
/// reads it ([`age_openssh_body`]).
pub(crate) fn private_key_would_panic_age(contents: &[u8]) -> bool {
    let Some(raw) = age_openssh_body(contents) else {
        return false;
    };
    let Ok(key) = parse_openssh_body(&raw) else {
        return false;
    };
    if zero_rsa_number(
        &mut Wire {
            rest: &key.public_blob,
        },
        2,
    ) {
        return true;
    }
    if key.encrypted {
        return false;
    }
    let mut private = Wire { rest: &key.private };
    private.u32().is_some() && private.u32().is_some() && zero_rsa_number(&mut private, 6)
}

/// Would age panic on this `ssh-rsa AAAA…` public key line (see
/// [`zero_rsa_number`])? age decodes the base64 run right after
/// `ssh-rsa ` (up to the first character that is not base64, not the
/// whole word, and without padding: fuzz findings
/// `ssh_key-rsa-zero-number-in-a-base64-prefix`, `…-unpadded`).
pub(crate) fn public_line_would_panic_age(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("ssh-rsa ") else {
        return false;
    };
    let Ok(blob) = STANDARD_NO_PAD.decode(age_base64_prefix(rest, false)) else {
        return false;
    };
    zero_rsa_number(&mut Wire { rest: &blob }, 2)
}

/// The ed25519 seed of an unencrypted OpenSSH ed25519 private key.
fn ed25519_seed(key: &OpenSshKey) -> Result<Zeroizing<[u8; 32]>> {
    if key.encrypted {
        return Err(bad_key(
            "passphrase-protected keys cannot be converted (remove the passphrase first)",
        ));
    }
    let truncated = || bad_key("truncated private key");
    let mut wire = Wire { rest: &key.private };
    let check1 = wire.u32().ok_or_else(truncated)?;
    let check2 = wire.u32().ok_or_else(truncated)?;
    if check1 != check2 {
        return Err(bad_key("private key check bytes differ"));
    }
    let key_type = wire.string().ok_or_else(truncated)?;
    if key_type != ED25519.as_bytes() {
        return Err(bad_key(&format!(
            "got {} key type but only ed25519 keys are supported",
            key_type_name(key_type)
        )));
    }
    let public = wire.string().ok_or_else(truncated)?;
    // The private part is seed ‖ public key (64 bytes).
    let private = wire.string().ok_or_else(truncated)?;
    if public.len() != 32 || private.len() != 64 || &private[32..] != public {
        return Err(bad_key("malformed ed25519 private key"));
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(&private[..32]);
    Ok(seed)
}

/// The age identity (`AGE-SECRET-KEY-1…`, upper case) for an unencrypted
/// OpenSSH ed25519 private key file, as `ssh-to-age -private-key` prints it.
pub fn ssh_private_to_age(openssh_private_key_pem: &[u8]) -> Result<SecretString> {
    let key = parse_openssh_private(openssh_private_key_pem)?;
    let seed = ed25519_seed(&key)?;
    let mut digest = Sha512::digest(&seed[..]);
    let encoded = bech32("age-secret-key-", &digest[..32]);
    digest.as_mut_slice().zeroize();
    let mut encoded = encoded?;
    let upper = encoded.to_uppercase();
    encoded.zeroize();
    Ok(SecretString::from(upper))
}

/// A new random X25519 key pair: (`AGE-SECRET-KEY-1…`, `age1…`), as
/// `age-keygen` makes them.
pub fn generate_x25519() -> (SecretString, String) {
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public().to_string();
    (identity.to_string(), public)
}

/// The `age1…` recipient of an `AGE-SECRET-KEY-1…` identity string.
pub fn x25519_public(identity: &SecretString) -> Result<String> {
    let parsed: age::x25519::Identity = identity
        .expose_secret()
        .trim()
        .parse()
        .map_err(|_| Error::KeyWrap("invalid AGE-SECRET-KEY-1 identity".to_string()))?;
    Ok(parsed.to_public().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/vectors");

    fn vector(path: &str) -> Vec<u8> {
        std::fs::read(format!("{VECTORS}/{path}")).unwrap()
    }

    /// Mic92/ssh-to-age's own test asset, whose derived keys were computed
    /// independently (Go `ssh-to-age` is not installable here), so the check
    /// is: public and private results belong together and match age.
    const MIC92_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACDh8/lNGLYyDXOeHWYiTXJX5hBYnxe0VwhZTZU27mQY4gAAAJjpEFzo6RBc
6AAAAAtzc2gtZWQyNTUxOQAAACDh8/lNGLYyDXOeHWYiTXJX5hBYnxe0VwhZTZU27mQY4g
AAAEDsBo0iLkC2U9CS5XgSo7zS/nQvjxaPfhfFCR+BshxoL+Hz+U0YtjINc54dZiJNclfm
EFifF7RXCFlNlTbuZBjiAAAAE2pvZXJnQHR1cmluZ21hY2hpbmUBAg==
-----END OPENSSH PRIVATE KEY-----
";

    #[test]
    fn derived_pair_is_consistent() {
        for pem in [vector("keys/ssh_ed25519"), MIC92_KEY.as_bytes().to_vec()] {
            let secret = ssh_private_to_age(&pem).unwrap();
            assert!(secret.expose_secret().starts_with("AGE-SECRET-KEY-1"));
            assert_eq!(
                secret.expose_secret().to_uppercase(),
                secret.expose_secret()
            );
            let key = parse_openssh_private(&pem).unwrap();
            let from_public = public_blob_to_age(&key.public_blob).unwrap();
            assert_eq!(x25519_public(&secret).unwrap(), from_public);
        }
        let pub_line = String::from_utf8(vector("keys/ssh_ed25519.pub")).unwrap();
        let from_line = ssh_public_to_age(&pub_line).unwrap();
        let secret = ssh_private_to_age(&vector("keys/ssh_ed25519")).unwrap();
        assert_eq!(x25519_public(&secret).unwrap(), from_line);
        assert!(from_line.starts_with("age1") && from_line.len() == 62);
    }

    #[test]
    fn rejects_other_keys() {
        assert!(ssh_public_to_age("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ x").is_err());
        assert!(ssh_public_to_age("ssh-ed25519 !!!").is_err());
        assert!(ssh_public_to_age("").is_err());
        assert!(ssh_private_to_age(b"not a key").is_err());
        // Key type says ed25519 but the blob is RSA.
        let blob = STANDARD.encode(b"\0\0\0\x07ssh-rsa\0\0\0\x01\x01");
        assert!(ssh_public_to_age(&format!("ssh-ed25519 {blob}")).is_err());
    }

    /// Fuzz finding (`tests/data/fuzz/ssh_key-key-type-echoes-key-bytes`,
    /// its first byte is the target's shape selector): the key type of a
    /// public line, public blob or private section was echoed whole, so a
    /// corrupt type ran into key bytes in the message. Names only now.
    #[test]
    fn key_type_errors_show_names_only() {
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/ssh_key-key-type-echoes-key-bytes"
        ))
        .unwrap();
        let line = String::from_utf8(input[1..].to_vec()).unwrap();
        let err = ssh_public_to_age(&line).unwrap_err().to_string();
        assert!(err.contains("got an unknown key type"), "{err}");
        assert!(!err.contains("AAAC3Nza"), "{err}");
        // THROWAWAY key A of the public test corpus (tests/data/vectors/keys).
        let secret = "AGE-SECRET-KEY-1306VKAS8U9J5GSUTM5YW0S9XCEG8K7522RM56WM696U6N0XRULPQ2YQA25";
        let err = ssh_public_to_age(secret).unwrap_err().to_string();
        assert!(!err.contains(secret), "{err}");
        let err = ssh_public_to_age("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ x").unwrap_err();
        assert!(err.to_string().contains("got ssh-rsa key type"), "{err}");
        let blob = STANDARD.encode(b"\0\0\0\x10ssh-ed\0\0\0\0\x01\x02\x03\x04\x05\x06\x07");
        let err = ssh_public_to_age(&format!("ssh-ed25519 {blob}")).unwrap_err();
        assert!(err.to_string().contains("got an unknown key type"), "{err}");
    }

    /// Fuzz finding (`tests/data/fuzz/ssh_key-rsa-zero-number-panics-age`,
    /// first byte the target's shape, the rest the body of an OpenSSH
    /// private key file): age 0.12.1 panics (index out of bounds) on an RSA
    /// number made of zero bytes only. nsec refuses such a key before age
    /// sees it, in private key files and in `ssh-rsa` recipient lines.
    /// The binary body of an OpenSSH private key file, armored as the file.
    fn openssh_pem(body: &[u8]) -> String {
        let encoded = STANDARD.encode(body);
        let mut pem = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
        for chunk in encoded.as_bytes().chunks(70) {
            pem.push_str(std::str::from_utf8(chunk).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END OPENSSH PRIVATE KEY-----\n");
        pem
    }

    #[test]
    fn zero_rsa_numbers_are_refused_before_age() {
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/ssh_key-rsa-zero-number-panics-age"
        ))
        .unwrap();
        let pem = openssh_pem(&input[1..]);
        assert!(private_key_would_panic_age(pem.as_bytes()));
        let err =
            crate::keys::identities::ssh_identities("key", pem.as_bytes(), crate::NoCallbacks)
                .err()
                .unwrap();
        assert!(err.contains("an RSA number is all zero bytes"), "{err}");

        let blob = STANDARD.encode(b"\0\0\0\x07ssh-rsa\0\0\0\x01\0\0\0\0\x01\x05");
        let line = format!("ssh-rsa {blob}");
        assert!(public_line_would_panic_age(&line));
        let err = crate::keys::age::AgeRecipient::parse(&line).err().unwrap();
        assert!(err.to_string().contains("all zero bytes"), "{err}");
        // Real keys are not affected.
        let key = vector("keys/ssh_ed25519");
        assert!(!private_key_would_panic_age(&key));
    }

    /// Fuzz finding (`tests/data/fuzz/ssh_key-rsa-zero-number-in-a-base64-prefix`,
    /// first byte the target's shape): `ssh-rsa AAAAB3NzaC1yc2EAAAABALQAAXLB---…`
    /// panicked age 0.12.1 as the finding above: age decodes the base64 run
    /// after `ssh-rsa ` up to the first other character (here `-`), and the
    /// zero-byte check decoded the whole word, which is not base64, so it
    /// let the line through. The checks now read what age reads, in public
    /// lines and in private key files (whose body age parses at the first
    /// character that is not base64, before it looks for the `END` line).
    #[test]
    fn zero_rsa_numbers_in_what_age_reads_are_refused() {
        // (As the target reads them: the rest of the first file is not
        // UTF-8.)
        // The second: the run is 35 characters, no padding (age decodes
        // without), then `"`.
        for name in [
            "ssh_key-rsa-zero-number-in-a-base64-prefix",
            "ssh_key-rsa-zero-number-in-a-base64-prefix-unpadded",
        ] {
            let path = format!(
                "{}/../../tests/data/fuzz/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            let input = std::fs::read(path).unwrap();
            let line = String::from_utf8_lossy(&input[1..]);
            assert!(public_line_would_panic_age(&line), "{name}");
            let err = crate::keys::age::AgeRecipient::parse(&line).err().unwrap();
            assert!(err.to_string().contains("all zero bytes"), "{err}");
        }

        // The body of the first finding, in files age parses although they
        // are no well-formed key file: no END line, a line of other text
        // after the body, base64 ending inside a line.
        let first = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/ssh_key-rsa-zero-number-panics-age"
        ))
        .unwrap();
        let pem = openssh_pem(&first[1..]);
        let body = pem
            .strip_suffix("-----END OPENSSH PRIVATE KEY-----\n")
            .unwrap();
        for file in [
            format!("{body}#\n"),
            format!("{body}-----END\n"),
            format!("{}!rest\n", body.trim_end()),
            pem.replace('\n', "\r\n"),
        ] {
            assert!(private_key_would_panic_age(file.as_bytes()), "{file}");
            let err =
                crate::keys::identities::ssh_identities("key", file.as_bytes(), crate::NoCallbacks)
                    .err()
                    .unwrap();
            assert!(err.contains("an RSA number is all zero bytes"), "{err}");
        }
        // Where age asks for more input it parses nothing (and says so).
        for file in [body.to_string(), body.trim_end().to_string()] {
            assert!(!private_key_would_panic_age(file.as_bytes()), "{file}");
            assert!(crate::keys::identities::ssh_identities(
                "key",
                file.as_bytes(),
                crate::NoCallbacks
            )
            .is_err());
        }
    }

    /// Fuzz finding (`tests/data/fuzz/ssh_key-unsupported-type-echoes-key-bytes`,
    /// first byte the target's shape, the rest an OpenSSH private key file
    /// body): "unsupported SSH key: key type …" showed the type that age
    /// read whole, there a run of the file's bytes. Only name-like types
    /// and ciphers are shown now, as for finding 2.
    #[test]
    fn unsupported_key_errors_show_names_only() {
        let input = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/fuzz/ssh_key-unsupported-type-echoes-key-bytes"
        ))
        .unwrap();
        let pem = openssh_pem(&input[1..]);
        let err =
            crate::keys::identities::ssh_identities("key", pem.as_bytes(), crate::NoCallbacks)
                .err()
                .unwrap();
        assert!(
            err.contains("an unknown key type is not supported"),
            "{err}"
        );
        assert!(!err.contains("iiiiiiii"), "{err}");
    }

    #[test]
    fn generated_keys_work_with_go_age() {
        let (secret, public) = generate_x25519();
        assert_eq!(x25519_public(&secret).unwrap(), public);
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key.txt");
        std::fs::write(&key_file, format!("{}\n", secret.expose_secret())).unwrap();
        let enc = Command::new(crate::test_tools::tool("age"))
            .args(["-a", "-r", &public])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(b"hello")?;
                child.wait_with_output()
            })
            .expect("the Go `age` binary must be installed");
        assert!(enc.status.success());
        let enc_file = dir.path().join("msg.age");
        std::fs::write(&enc_file, &enc.stdout).unwrap();
        let dec = Command::new(crate::test_tools::tool("age"))
            .arg("-d")
            .arg("-i")
            .arg(&key_file)
            .arg(&enc_file)
            .output()
            .unwrap();
        assert!(
            dec.status.success(),
            "{}",
            String::from_utf8_lossy(&dec.stderr)
        );
        assert_eq!(dec.stdout, b"hello");
    }

    /// Encrypt with Go `age` to the recipient derived from the vector's
    /// ssh-ed25519 public key; decrypt with Go `age` using the derived
    /// identity.
    #[test]
    fn derived_keys_work_with_go_age() {
        let pub_line = String::from_utf8(vector("keys/ssh_ed25519.pub")).unwrap();
        let recipient = ssh_public_to_age(&pub_line).unwrap();
        let secret = ssh_private_to_age(&vector("keys/ssh_ed25519")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key.txt");
        std::fs::write(&key_file, format!("{}\n", secret.expose_secret())).unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"derived").unwrap();
        let enc_file = dir.path().join("msg.age");
        let enc = Command::new(crate::test_tools::tool("age"))
            .args(["-r", &recipient, "-o"])
            .arg(&enc_file)
            .arg(&plain)
            .output()
            .expect("the Go `age` binary must be installed");
        assert!(
            enc.status.success(),
            "{}",
            String::from_utf8_lossy(&enc.stderr)
        );
        let dec = Command::new(crate::test_tools::tool("age"))
            .arg("-d")
            .arg("-i")
            .arg(&key_file)
            .arg(&enc_file)
            .output()
            .unwrap();
        assert!(
            dec.status.success(),
            "{}",
            String::from_utf8_lossy(&dec.stderr)
        );
        assert_eq!(dec.stdout, b"derived");
    }
}
