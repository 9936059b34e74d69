//! age recipients and the armored `enc` blocks of sops metadata.
//!
//! Every age master key in a sops file is `{recipient, enc}`: `recipient` is
//! the recipient text exactly as configured (trimmed), and `enc` is an
//! ASCII-armored age file whose payload is the 32-byte data key (or a
//! 33-byte Shamir share), encrypted to that one recipient (spec §8.3).
//!
//! Recipients are classified the way sops 3.11 does it: `age1pq1…` is a
//! post-quantum MLKEM768-X25519 key ([`super::pq`]), other `age1…` strings
//! with a second `1` are plugin recipients (`age1<name>1…`), other `age1…`
//! strings are X25519 keys, `ssh-…` lines are SSH public keys
//! (`ssh-ed25519`, `ssh-rsa`; the comment is kept in the text).
//!
//! Every `enc` block is its own age file with one stanza, so a post-quantum
//! recipient is never mixed with an X25519 one in one age header (age's
//! `postquantum` label rule), even in a file that has both kinds.

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use age::armor::ArmoredReader;
use age_core::format::{FileKey, Stanza};
use age_core::primitives::hkdf;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use zeroize::Zeroizing;

use super::discovery::Identities;
use crate::{Error, Result};

/// The parsed form of a recipient.
#[derive(Clone)]
enum Kind {
    X25519(age::x25519::Recipient),
    Ssh(age::ssh::Recipient),
    Plugin(age::plugin::Recipient),
    Pq(Box<super::pq::PqRecipient>),
}

/// One age recipient: an X25519 key, an SSH public key, or a plugin
/// recipient, with the exact (trimmed) text it was given as.
#[derive(Clone)]
pub struct AgeRecipient {
    text: String,
    kind: Kind,
}

impl AgeRecipient {
    /// Parses a recipient, trimming surrounding whitespace first.
    pub fn parse(text: &str) -> Result<AgeRecipient> {
        let text = text.trim();
        if let Some(secret) = secret_kind(text) {
            return Err(Error::Recipient {
                recipient: secret.shown.to_string(),
                reason: secret.reason.to_string(),
            });
        }
        let fail = |reason: String| Error::Recipient {
            recipient: shown_recipient(text),
            reason,
        };
        let kind = if text.starts_with(super::pq::RECIPIENT_PREFIX) {
            // age 1.3's native ML-KEM hybrid keys (sops 3.11 has them too).
            Kind::Pq(Box::new(super::pq::PqRecipient::parse(text).map_err(
                |e| {
                    fail(format!(
                        "failed to parse input as Bech32-encoded age post-quantum public key: {e}"
                    ))
                },
            )?))
        } else if text.starts_with("age1") && text.matches('1').count() > 1 {
            Kind::Plugin(text.parse().map_err(|e: &str| {
                fail(format!(
                    "failed to parse input as age key from age plugin: {e}"
                ))
            })?)
        } else if text.starts_with("age1") {
            Kind::X25519(text.parse().map_err(|e: &str| {
                fail(format!(
                    "failed to parse input as Bech32-encoded age public key: {e}"
                ))
            })?)
        } else if text.starts_with("ssh-") {
            if crate::keys::ssh_to_age::public_line_would_panic_age(text) {
                return Err(fail(
                    "failed to parse input as age-ssh public key: an RSA number is all zero bytes"
                        .to_string(),
                ));
            }
            Kind::Ssh(text.parse().map_err(|e| {
                fail(format!(
                    "failed to parse input as age-ssh public key: {}",
                    describe_ssh_error(&e)
                ))
            })?)
        } else {
            return Err(fail("unknown recipient type".to_string()));
        };
        Ok(AgeRecipient {
            text: text.to_string(),
            kind,
        })
    }

    /// The recipient text, as written to the metadata's `recipient` field.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this is a plugin recipient (`age1<name>1…`).
    pub fn is_plugin(&self) -> bool {
        matches!(self.kind, Kind::Plugin(_))
    }

    /// Whether this is a post-quantum MLKEM768-X25519 key (`age1pq1…`).
    pub fn is_post_quantum(&self) -> bool {
        matches!(self.kind, Kind::Pq(_))
    }
}

/// A secret given where a recipient belongs: how it is named in the error
/// (its kind only), and what to give instead.
struct SecretKind {
    shown: &'static str,
    reason: &'static str,
}

/// Is `text` (or does it hold) an age identity or a private key? Such text
/// is never echoed in an error: a secret pasted as a recipient (in
/// `.sops.yaml`, `--age`, `SOPS_AGE_RECIPIENTS`) must not reach a log.
fn secret_kind(text: &str) -> Option<SecretKind> {
    let upper = text.to_ascii_uppercase();
    if upper.contains("AGE-SECRET-KEY-") || upper.contains("AGE-PLUGIN-") {
        Some(SecretKind {
            shown: "AGE-SECRET-KEY-…",
            reason: "this is a secret age identity, not a recipient (give its public key, \
                     which `age-keygen -y` prints)",
        })
    } else if upper.contains("PRIVATE KEY-----") {
        Some(SecretKind {
            shown: "-----BEGIN … PRIVATE KEY-----…",
            reason: "this is a private key, not a recipient (give its public key, the \
                     `.pub` file)",
        })
    } else {
        None
    }
}

/// A recipient that does not parse, for its error: public key shapes (one
/// `age1…` word, one `ssh-…` line) in full, anything else by its first
/// characters only (it may hold a secret of a kind we do not know).
fn shown_recipient(text: &str) -> String {
    const SHOWN: usize = 16;
    let public_shape = (text.starts_with("age1") && !text.contains(char::is_whitespace))
        || (text.starts_with("ssh-") && !text.contains('\n'));
    if public_shape || text.chars().count() <= SHOWN {
        return text.to_string();
    }
    let mut shown: String = text.chars().take(SHOWN).collect();
    shown.push('…');
    shown
}

fn describe_ssh_error(e: &age::ssh::ParseRecipientKeyError) -> String {
    use age::ssh::ParseRecipientKeyError as E;
    match e {
        E::Ignore => "not an SSH public key".to_string(),
        E::Invalid(reason) => (*reason).to_string(),
        E::RsaModulusTooLarge => "RSA modulus too large".to_string(),
        E::RsaModulusTooSmall => "RSA modulus smaller than 2048 bits".to_string(),
        E::Unsupported(key_type) => format!("unsupported SSH key type {key_type}"),
        _ => "invalid SSH public key".to_string(),
    }
}

impl FromStr for AgeRecipient {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        AgeRecipient::parse(s)
    }
}

impl fmt::Display for AgeRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for AgeRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgeRecipient({:?})", self.text)
    }
}

impl PartialEq for AgeRecipient {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for AgeRecipient {}

/// Parses a comma-separated recipient list with sops' rules: split on `,`,
/// trim each part (spaces, tabs, newlines), skip empty parts. Duplicates are
/// kept (spec §11.4).
pub fn parse_recipient_list(s: &str) -> Result<Vec<AgeRecipient>> {
    split_recipient_list(s).map(AgeRecipient::parse).collect()
}

/// sops' comma rule for lists of recipients (`age:` strings in
/// `.sops.yaml`, `--age`, `SOPS_AGE_RECIPIENTS`): split on `,`, trim
/// whitespace (newlines included), skip empty parts.
pub fn split_recipient_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|part| !part.is_empty())
}

/// Encrypts `payload` to one recipient as an armored age file, laid out
/// exactly as `age -a` writes it (64-column base64 lines, trailing newline).
///
/// Plugin recipients run their plugin without any user interaction; use
/// `wrap_with_callbacks` to let a plugin prompt.
pub fn wrap(recipient: &AgeRecipient, payload: &[u8]) -> Result<String> {
    wrap_with_callbacks(recipient, payload, crate::NoCallbacks)
}

/// [`wrap`], with callbacks a plugin recipient may use to talk to the user.
pub(crate) fn wrap_with_callbacks(
    recipient: &AgeRecipient,
    payload: &[u8],
    callbacks: impl crate::Callbacks + 'static,
) -> Result<String> {
    let fail = |what: &str, e: &dyn fmt::Display| {
        Error::KeyWrap(format!(
            "failed to encrypt the data key to age recipient {}: {what}: {e}",
            recipient.text
        ))
    };
    let plugin;
    let dyn_recipient: &dyn age::Recipient = match &recipient.kind {
        Kind::X25519(r) => r,
        Kind::Ssh(r) => r,
        Kind::Pq(r) => r.as_ref(),
        Kind::Plugin(r) => {
            plugin = age::plugin::RecipientPluginV1::new(
                r.plugin(),
                std::slice::from_ref(r),
                &[],
                crate::callbacks::AgeCallbacks::new(callbacks),
            )
            .map_err(|e| fail("cannot run the age plugin", &e))?;
            &plugin
        }
    };
    let file_key = FileKey::try_init_with_mut(|k| getrandom::getrandom(k))
        .map_err(|e| fail("the OS random generator failed", &e))?;
    let (stanzas, _labels) = dyn_recipient
        .wrap_file_key(&file_key)
        .map_err(|e| fail("cannot wrap the file key", &e))?;
    let binary = encrypt_age_file(&file_key, &stanzas, payload)
        .map_err(|e| fail("encryption failed", &e))?;
    Ok(armor(&binary))
}

/// Writes an age v1 file (https://c2sp.org/age) for an already wrapped
/// file key.
///
/// We write the file ourselves instead of using `age::Encryptor` because the
/// `age` crate always adds a random "grease" stanza to the header; Go age
/// (and so sops) writes only the recipient's stanza, and spec §8.3 asks for
/// exactly that. The construction is the standard one: an HMAC-SHA-256 over
/// the header keyed by HKDF(file key, "header"), a 16-byte nonce, and the
/// payload in ChaCha20-Poly1305 STREAM chunks of 64 KiB keyed by
/// HKDF(nonce, "payload", file key).
fn encrypt_age_file(
    file_key: &FileKey,
    stanzas: &[Stanza],
    payload: &[u8],
) -> std::result::Result<Vec<u8>, String> {
    use age::secrecy::ExposeSecret;
    use chacha20poly1305::aead::{Aead, KeyInit};
    use hmac::Mac;

    let mut header = String::from("age-encryption.org/v1\n");
    for stanza in stanzas {
        header.push_str("->");
        for word in std::iter::once(&stanza.tag).chain(&stanza.args) {
            header.push(' ');
            header.push_str(word);
        }
        header.push('\n');
        // Body: unpadded base64 in 64-column lines; the last line is always
        // shorter than 64 (possibly empty), which marks the end.
        let body = STANDARD_NO_PAD.encode(&stanza.body);
        let mut rest = body.as_str();
        loop {
            let take = rest.len().min(64);
            header.push_str(&rest[..take]);
            header.push('\n');
            rest = &rest[take..];
            if take < 64 {
                break;
            }
        }
    }
    header.push_str("---");

    let file_key = file_key.expose_secret();
    let mac_key = Zeroizing::new(hkdf(&[], b"header", file_key));
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&mac_key[..])
        .map_err(|e| e.to_string())?;
    mac.update(header.as_bytes());
    let tag = mac.finalize().into_bytes();

    let mut out = header.into_bytes();
    out.push(b' ');
    out.extend_from_slice(STANDARD_NO_PAD.encode(tag).as_bytes());
    out.push(b'\n');

    let mut nonce = [0u8; 16];
    getrandom::getrandom(&mut nonce).map_err(|e| e.to_string())?;
    out.extend_from_slice(&nonce);
    let payload_key = Zeroizing::new(hkdf(&nonce, b"payload", file_key));
    let aead = chacha20poly1305::ChaCha20Poly1305::new((&*payload_key).into());

    const CHUNK: usize = 64 * 1024;
    // An empty payload is one empty final chunk; otherwise the final chunk
    // is the last non-empty one.
    let chunks: Vec<&[u8]> = if payload.is_empty() {
        vec![payload]
    } else {
        payload.chunks(CHUNK).collect()
    };
    for (counter, chunk) in chunks.iter().enumerate() {
        // STREAM nonce: 11-byte big-endian counter, then 1 on the last chunk.
        let mut chunk_nonce = [0u8; 12];
        chunk_nonce[3..11].copy_from_slice(&(counter as u64).to_be_bytes());
        if counter + 1 == chunks.len() {
            chunk_nonce[11] = 1;
        }
        let sealed = aead
            .encrypt(&chunk_nonce.into(), *chunk)
            .map_err(|_| "payload encryption failed".to_string())?;
        out.extend_from_slice(&sealed);
    }
    Ok(out)
}

/// ASCII armor exactly as `age -a` writes it: the begin marker, padded
/// base64 in 64-column lines, the end marker, a final newline.
fn armor(binary: &[u8]) -> String {
    let encoded = STANDARD.encode(binary);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 64 + 80);
    out.push_str("-----BEGIN AGE ENCRYPTED FILE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every 64-byte chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END AGE ENCRYPTED FILE-----\n");
    out
}

/// Normalises what sops' armor reader tolerates and age's does not mind
/// either way: CR LF line ends, trailing blanks on lines, and a missing or
/// repeated final newline. Leading whitespace is kept (sops rejects it).
fn normalise_armor(armored: &str) -> String {
    let mut out = String::with_capacity(armored.len() + 1);
    for line in armored.trim_end().split('\n') {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Decrypts an armored `enc` block with any of the identities.
///
/// Returns:
/// - `Ok(Some(payload))` when an identity opened it;
/// - `Ok(None)` when no identity matches its recipient stanza;
/// - `Err` when the block is not a valid armored age file, or decryption
///   failed for another reason (e.g. a wrong passphrase for an SSH key).
pub fn unwrap(identities: &Identities, armored: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let normalised = normalise_armor(armored);
    let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(normalised.as_bytes()))
        .map_err(|e| Error::KeyWrap(format!("malformed age data key block: {e}")))?;
    let mut reader = match decryptor.decrypt(identities.iter()) {
        Ok(reader) => reader,
        Err(age::DecryptError::NoMatchingKeys) => return Ok(None),
        Err(e) => {
            return Err(Error::KeyWrap(format!(
                "failed to decrypt the age data key block: {e}"
            )))
        }
    };
    // Room for the 32-byte key and more: the key is read straight into the
    // wiped buffer, never into a probe buffer or a grown, freed one.
    let mut payload = Zeroizing::new(Vec::with_capacity(256));
    reader
        .read_to_end(&mut payload)
        .map_err(|e| Error::KeyWrap(format!("failed to decrypt the age data key block: {e}")))?;
    Ok(Some(payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::identities::{parse_identity_source, ssh_identities};
    use age::secrecy::ExposeSecret;
    use std::io::Write;
    use std::process::{Command, Stdio};

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/vectors");
    const KEY_A_PUB: &str = "age1s57gtcmp6dt42ctny6gcgwsf3fgjd32mjzksulrggvqfzrk65aksxmwzle";

    fn vector_path(p: &str) -> String {
        format!("{VECTORS}/{p}")
    }

    fn identities_from_file(path: &str) -> Identities {
        let mut ids = Identities::new();
        let contents = std::fs::read(path).unwrap();
        for id in parse_identity_source(path, &contents, crate::NoCallbacks).unwrap() {
            ids.push(id);
        }
        ids
    }

    fn ssh_ids(path: &str) -> Identities {
        let mut ids = Identities::new();
        let contents = std::fs::read(path).unwrap();
        for id in ssh_identities(path, &contents, crate::NoCallbacks).unwrap() {
            ids.push(id);
        }
        ids
    }

    /// Runs Go `age` with `args`, feeding `input`, and returns stdout.
    fn go_age(args: &[&str], input: &[u8]) -> Vec<u8> {
        let mut child = Command::new(crate::test_tools::tool("age"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the Go `age` binary must be installed");
        // Feed stdin from a thread: large inputs would otherwise deadlock
        // against a child blocked on writing its output.
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap().unwrap();
        assert!(
            out.status.success(),
            "age {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The `enc:` blocks of a sops YAML file, by a plain text scan.
    fn enc_blocks(yaml: &str) -> Vec<String> {
        let mut blocks = Vec::new();
        let mut current: Option<String> = None;
        for line in yaml.lines() {
            let t = line.trim();
            if t == "-----BEGIN AGE ENCRYPTED FILE-----" {
                current = Some(String::new());
            }
            if let Some(block) = current.as_mut() {
                block.push_str(t);
                block.push('\n');
                if t == "-----END AGE ENCRYPTED FILE-----" {
                    blocks.push(current.take().unwrap());
                }
            }
        }
        blocks
    }

    #[test]
    fn recipient_classification() {
        let x = AgeRecipient::parse(&format!("  {KEY_A_PUB}\n")).unwrap();
        assert_eq!(x.as_str(), KEY_A_PUB);
        assert_eq!(x.to_string(), KEY_A_PUB);
        assert!(!x.is_plugin());
        let line = std::fs::read_to_string(vector_path("keys/ssh_ed25519.pub")).unwrap();
        let ssh = AgeRecipient::parse(&line).unwrap();
        assert_eq!(ssh.as_str(), line.trim());
        assert!(ssh.as_str().ends_with("nsec-test-vector-throwaway"));
        // A bech32 plugin recipient for plugin "yubikey".
        let data = bech32::Hrp::parse("age1yubikey").unwrap();
        let plugin_text = bech32::encode::<bech32::Bech32>(data, &[1, 2, 3]).unwrap();
        let plugin = AgeRecipient::parse(&plugin_text).unwrap();
        assert!(plugin.is_plugin());
        for bad in ["age1xyz", "pgp:1234", "", "ssh-ed25519 !!!", "age1pq1qqqq"] {
            let err = AgeRecipient::parse(bad).unwrap_err();
            assert!(matches!(err, Error::Recipient { .. }), "{bad}: {err}");
        }
    }

    /// Fuzz findings (`tests/data/fuzz`): a secret given where a recipient
    /// belongs (an age identity, an OpenSSH private key file) was echoed in
    /// the error, and so was any unknown text in full. Now secrets are named
    /// by their kind only, unknown text by its first 16 characters.
    #[test]
    fn secrets_given_as_recipients_are_not_echoed() {
        let fuzz = |name: &str| {
            std::fs::read(format!(
                "{}/../../tests/data/fuzz/{name}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        };
        let identity_file =
            String::from_utf8(fuzz("age_identity-secret-key-as-recipient")).unwrap();
        let private_key =
            String::from_utf8(fuzz("ssh_key-private-key-as-recipient")[1..].to_vec()).unwrap();
        let unknown = String::from_utf8(fuzz("age_identity-unknown-recipient-echoed")).unwrap();
        let unknown_ssh =
            String::from_utf8(fuzz("ssh_key-unknown-recipient-echoed")[1..].to_vec()).unwrap();
        let mut inputs: Vec<String> = identity_file.lines().map(str::to_string).collect();
        inputs.push(private_key.clone());
        inputs.push(unknown.clone());
        inputs.push(unknown_ssh.clone());
        inputs.push("age-secret-key-1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq".into());
        for input in &inputs {
            let Err(err) = AgeRecipient::parse(input) else {
                continue;
            };
            let shown = err.to_string();
            assert!(
                !shown.to_ascii_uppercase().contains("AGE-SECRET-KEY-1"),
                "{shown}"
            );
            assert!(!shown.contains("b3BlbnNzaC1rZXktdjE"), "{shown}");
            let trimmed = input.trim();
            if trimmed.chars().count() > 16 && !trimmed.starts_with("age1") {
                assert!(!shown.contains(trimmed), "{shown}");
            }
        }
        let err = AgeRecipient::parse(&private_key).unwrap_err().to_string();
        assert!(err.contains("private key, not a recipient"), "{err}");
        let secret = identity_file
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .unwrap();
        let err = AgeRecipient::parse(secret).unwrap_err().to_string();
        assert!(
            err.contains("secret age identity, not a recipient"),
            "{err}"
        );
        let err = AgeRecipient::parse(&unknown).unwrap_err().to_string();
        assert!(err.contains(&format!("`{}…`", &unknown[..16])), "{err}");
        // Public keys are still named in full.
        let err = AgeRecipient::parse("ssh-ed25519 !!!")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`ssh-ed25519 !!!`"), "{err}");
        let err = AgeRecipient::parse("age1xyz").unwrap_err().to_string();
        assert!(err.contains("`age1xyz`"), "{err}");
    }

    /// A plugin recipient whose plugin is not installed fails cleanly.
    #[test]
    fn missing_plugin_is_an_error() {
        let hrp = bech32::Hrp::parse("age1nsecmissingplugin").unwrap();
        let text = bech32::encode::<bech32::Bech32>(hrp, &[9, 9, 9]).unwrap();
        let r = AgeRecipient::parse(&text).unwrap();
        let err = wrap(&r, &[0u8; 32]).unwrap_err();
        assert!(matches!(err, Error::KeyWrap(_)), "{err}");
        assert!(err.to_string().contains(&text));
    }

    #[test]
    fn recipient_lists() {
        let b = "age19rlf2ksa8h9lz4q9avw74rwz9ycwa6x0kg927n5pxg9ue2a2df9qdj0506";
        let list = parse_recipient_list(&format!(" {KEY_A_PUB} ,\n\t{b},,{KEY_A_PUB},\n")).unwrap();
        let texts: Vec<&str> = list.iter().map(AgeRecipient::as_str).collect();
        assert_eq!(texts, vec![KEY_A_PUB, b, KEY_A_PUB]);
        assert!(parse_recipient_list("").unwrap().is_empty());
        // Newline-only separation is one (invalid) recipient, as in sops.
        assert!(parse_recipient_list(&format!("{KEY_A_PUB}\n{b}")).is_err());
    }

    #[test]
    fn armor_layout_matches_age() {
        let r = AgeRecipient::parse(KEY_A_PUB).unwrap();
        let armored = wrap(&r, &[0x42; 32]).unwrap();
        assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(armored.ends_with("\n-----END AGE ENCRYPTED FILE-----\n"));
        let body: Vec<&str> = armored.lines().skip(1).collect();
        let body = &body[..body.len() - 1];
        for line in &body[..body.len() - 1] {
            assert_eq!(line.len(), 64);
        }
        assert!(!body.last().unwrap().is_empty() && body.last().unwrap().len() <= 64);
        assert!(!armored.contains('\r'));
    }

    /// One stanza only (no "grease"), like Go age and sops.
    #[test]
    fn header_has_exactly_the_recipient_stanza() {
        let r = AgeRecipient::parse(KEY_A_PUB).unwrap();
        let armored = wrap(&r, &[1u8; 32]).unwrap();
        let body: String = armored
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let binary = STANDARD.decode(body).unwrap();
        let text = String::from_utf8_lossy(&binary);
        let stanza_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("->")).collect();
        assert_eq!(stanza_lines.len(), 1, "{text}");
        assert!(stanza_lines[0].starts_with("-> X25519 "));
        // Same size as sops' own blocks for a 32-byte key (header + nonce + 48).
        let yaml =
            std::fs::read_to_string(vector_path("cases/two-recipients/encrypted.yaml")).unwrap();
        let shape = |b: &str| b.lines().map(str::len).collect::<Vec<_>>();
        assert_eq!(shape(&armored), shape(&enc_blocks(&yaml)[0]));
    }

    /// Payload sizes around the 64 KiB STREAM chunk boundary.
    #[test]
    fn chunking_matches_go_age() {
        let key_a = vector_path("keys/age-test-key-A.txt");
        let r = AgeRecipient::parse(KEY_A_PUB).unwrap();
        let ids = identities_from_file(&key_a);
        for len in [0usize, 1, 65536, 65537, 200_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let armored = wrap(&r, &payload).unwrap();
            assert_eq!(
                go_age(&["-d", "-i", &key_a], armored.as_bytes()),
                payload,
                "{len}"
            );
            assert_eq!(&unwrap(&ids, &armored).unwrap().unwrap()[..], &payload[..]);
        }
    }

    #[test]
    fn x25519_round_trips_with_go_age() {
        let key_a = vector_path("keys/age-test-key-A.txt");
        let r = AgeRecipient::parse(KEY_A_PUB).unwrap();
        let payload = [7u8; 32];
        let armored = wrap(&r, &payload).unwrap();
        assert_eq!(go_age(&["-d", "-i", &key_a], armored.as_bytes()), payload);

        let from_go = String::from_utf8(go_age(&["-a", "-r", KEY_A_PUB], b"go payload")).unwrap();
        let ids = identities_from_file(&key_a);
        assert_eq!(&unwrap(&ids, &from_go).unwrap().unwrap()[..], b"go payload");
        let key_b = identities_from_file(&vector_path("keys/age-test-key-B.txt"));
        assert!(unwrap(&key_b, &from_go).unwrap().is_none());
    }

    #[test]
    fn ssh_ed25519_round_trips_with_go_age() {
        let key = vector_path("keys/ssh_ed25519");
        let line = std::fs::read_to_string(vector_path("keys/ssh_ed25519.pub")).unwrap();
        let r = AgeRecipient::parse(&line).unwrap();
        let armored = wrap(&r, b"ssh payload").unwrap();
        assert_eq!(
            go_age(&["-d", "-i", &key], armored.as_bytes()),
            b"ssh payload"
        );

        let from_go = String::from_utf8(go_age(
            &["-a", "-R", &vector_path("keys/ssh_ed25519.pub")],
            b"from go",
        ))
        .unwrap();
        assert_eq!(
            &unwrap(&ssh_ids(&key), &from_go).unwrap().unwrap()[..],
            b"from go"
        );

        // sops 3.11 does not open blocks for the ssh-to-age recipient with
        // the SSH key, and neither do we; the converted identity does.
        let derived = crate::keys::ssh_to_age::ssh_public_to_age(&line).unwrap();
        let to_derived = String::from_utf8(go_age(&["-a", "-r", &derived], b"derived")).unwrap();
        assert!(unwrap(&ssh_ids(&key), &to_derived).unwrap().is_none());
        let converted =
            crate::keys::ssh_to_age::ssh_private_to_age(&std::fs::read(&key).unwrap()).unwrap();
        let mut ids = Identities::new();
        for id in parse_identity_source(
            "converted",
            converted.expose_secret().as_bytes(),
            crate::NoCallbacks,
        )
        .unwrap()
        {
            ids.push(id);
        }
        assert_eq!(&unwrap(&ids, &to_derived).unwrap().unwrap()[..], b"derived");
    }

    #[test]
    fn ssh_rsa_round_trips_with_go_age() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id_rsa");
        let status = Command::new(crate::test_tools::tool("ssh-keygen"))
            .args([
                "-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "rsa test", "-f",
            ])
            .arg(&key)
            .status()
            .expect("ssh-keygen must be installed");
        assert!(status.success());
        let pub_path = format!("{}.pub", key.display());
        let line = std::fs::read_to_string(&pub_path).unwrap();
        let r = AgeRecipient::parse(&line).unwrap();
        assert!(r.as_str().starts_with("ssh-rsa ") && r.as_str().ends_with("rsa test"));
        let key_str = key.display().to_string();
        let armored = wrap(&r, b"rsa payload").unwrap();
        assert_eq!(
            go_age(&["-d", "-i", &key_str], armored.as_bytes()),
            b"rsa payload"
        );
        let from_go = String::from_utf8(go_age(&["-a", "-R", &pub_path], b"rsa from go")).unwrap();
        assert_eq!(
            &unwrap(&ssh_ids(&key_str), &from_go).unwrap().unwrap()[..],
            b"rsa from go"
        );
    }

    #[test]
    fn two_recipients_vector() {
        let yaml =
            std::fs::read_to_string(vector_path("cases/two-recipients/encrypted.yaml")).unwrap();
        let blocks = enc_blocks(&yaml);
        assert_eq!(blocks.len(), 2);
        let a = identities_from_file(&vector_path("keys/age-test-key-A.txt"));
        let b = identities_from_file(&vector_path("keys/age-test-key-B.txt"));
        let c = identities_from_file(&vector_path("keys/age-test-key-C.txt"));
        let from_a = unwrap(&a, &blocks[0]).unwrap().unwrap();
        let from_b = unwrap(&b, &blocks[1]).unwrap().unwrap();
        assert_eq!(from_a.len(), 32);
        assert_eq!(from_a, from_b);
        assert!(unwrap(&a, &blocks[1]).unwrap().is_none());
        assert!(unwrap(&c, &blocks[0]).unwrap().is_none());
        assert!(unwrap(&Identities::new(), &blocks[0]).unwrap().is_none());
    }

    #[test]
    fn ssh_ed25519_vector() {
        let yaml =
            std::fs::read_to_string(vector_path("cases/ssh-ed25519/encrypted.yaml")).unwrap();
        let blocks = enc_blocks(&yaml);
        assert_eq!(blocks.len(), 1);
        let key = unwrap(&ssh_ids(&vector_path("keys/ssh_ed25519")), &blocks[0])
            .unwrap()
            .unwrap();
        assert_eq!(key.len(), 32);
        let a = identities_from_file(&vector_path("keys/age-test-key-A.txt"));
        assert!(unwrap(&a, &blocks[0]).unwrap().is_none());
        // Our block for the same payload has the same armored shape as sops'.
        let line = std::fs::read_to_string(vector_path("keys/ssh_ed25519.pub")).unwrap();
        let ours = wrap(&AgeRecipient::parse(&line).unwrap(), &key).unwrap();
        let shape = |b: &str| b.lines().map(str::len).collect::<Vec<_>>();
        assert_eq!(shape(&ours), shape(&blocks[0]));
    }

    #[test]
    fn reader_tolerance() {
        let yaml =
            std::fs::read_to_string(vector_path("cases/two-recipients/encrypted.yaml")).unwrap();
        let block = enc_blocks(&yaml).remove(0);
        let a = identities_from_file(&vector_path("keys/age-test-key-A.txt"));
        let expected = unwrap(&a, &block).unwrap().unwrap();
        let variants = [
            block.trim_end().to_string(),
            block.replace('\n', "\r\n"),
            format!("{block}  \n\n"),
            block.replace('\n', " \n"),
        ];
        for v in &variants {
            assert_eq!(unwrap(&a, v).unwrap().unwrap(), expected, "{v:?}");
        }
        // Leading whitespace and re-wrapped lines are rejected, as by sops.
        assert!(unwrap(&a, &format!(" {block}")).is_err());
        let mut lines: Vec<String> = block.lines().map(String::from).collect();
        let second = lines.remove(2);
        lines[1].push_str(&second);
        assert!(unwrap(&a, &lines.join("\n")).is_err());
        assert!(unwrap(&a, "not armor").is_err());
    }

    /// Shares recovered from a real sops Shamir file combine to one key.
    fn combine_pairs(file: &str, keys: [&str; 3]) {
        let yaml = std::fs::read_to_string(vector_path(file)).unwrap();
        let blocks = enc_blocks(&yaml);
        assert_eq!(blocks.len(), 3);
        let shares: Vec<Zeroizing<Vec<u8>>> = blocks
            .iter()
            .zip(keys)
            .map(|(block, key)| {
                let ids = identities_from_file(&vector_path(&format!("keys/{key}")));
                unwrap(&ids, block).unwrap().unwrap()
            })
            .collect();
        assert!(shares.iter().all(|s| s.len() == 33));
        let ab = crate::keys::shamir::combine(&[&shares[0], &shares[1]]).unwrap();
        let bc = crate::keys::shamir::combine(&[&shares[1], &shares[2]]).unwrap();
        let ca = crate::keys::shamir::combine(&[&shares[2], &shares[0]]).unwrap();
        let all = crate::keys::shamir::combine(&[&shares[0], &shares[1], &shares[2]]).unwrap();
        assert_eq!(ab.len(), 32);
        assert_eq!(ab, bc);
        assert_eq!(bc, ca);
        assert_eq!(ca, all);
    }

    #[test]
    fn shamir_vectors() {
        combine_pairs(
            "cases/shamir-2of3/encrypted.yaml",
            [
                "age-test-key-A.txt",
                "age-test-key-B.txt",
                "age-test-key-C.txt",
            ],
        );
    }

    #[test]
    fn shamir_custom_x_vector() {
        let yaml =
            std::fs::read_to_string(vector_path("handcrafted/shamir-custom-x.yaml")).unwrap();
        let recipients: Vec<&str> = yaml
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- recipient: "))
            .collect();
        // Map each group's recipient to the key file holding it.
        let keys: Vec<&str> = recipients
            .iter()
            .map(|r| {
                [
                    "age-test-key-A.txt",
                    "age-test-key-B.txt",
                    "age-test-key-C.txt",
                ]
                .into_iter()
                .find(|k| {
                    std::fs::read_to_string(vector_path(&format!("keys/{k}")))
                        .unwrap()
                        .contains(r)
                })
                .unwrap()
            })
            .collect();
        combine_pairs(
            "handcrafted/shamir-custom-x.yaml",
            [keys[0], keys[1], keys[2]],
        );
    }

    /// A sops file whose `enc` blocks nsec wrote decrypts with the real
    /// sops: take sops' own encryption of a file, replace the data key
    /// blocks with nsec-wrapped ones of the same data key, decrypt.
    #[test]
    fn sops_reads_nsec_wrapped_keys() {
        let src = vector_path("cases/two-recipients/encrypted.yaml");
        let yaml = std::fs::read_to_string(&src).unwrap();
        let a = identities_from_file(&vector_path("keys/age-test-key-A.txt"));
        let data_key = unwrap(&a, &enc_blocks(&yaml)[0]).unwrap().unwrap();
        // Re-wrap to key A with nsec; indent like sops does.
        let ours = wrap(&AgeRecipient::parse(KEY_A_PUB).unwrap(), &data_key).unwrap();
        let indent = "            ";
        let old = enc_blocks(&yaml)[0]
            .lines()
            .map(|l| format!("{indent}{l}\n"))
            .collect::<String>();
        let new = ours
            .lines()
            .map(|l| format!("{indent}{l}\n"))
            .collect::<String>();
        assert!(yaml.contains(&old));
        let patched = yaml.replacen(&old, &new, 1);
        assert_ne!(patched, yaml);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("patched.yaml");
        std::fs::write(&file, patched).unwrap();
        let out = Command::new(crate::test_tools::sops())
            .arg("decrypt")
            .arg(&file)
            .env_clear()
            .env("HOME", dir.path())
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env("SOPS_AGE_KEY_FILE", vector_path("keys/age-test-key-A.txt"))
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = std::fs::read(vector_path("cases/two-recipients/expected.yaml")).unwrap();
        assert_eq!(out.stdout, expected);
    }
    /// Replaces the armored block `old` (as it appears, indented, in `yaml`)
    /// with `new`, keeping the indentation.
    fn replace_block(yaml: &str, old: &str, new: &str) -> String {
        let first = old.lines().next().unwrap();
        let at = yaml.find(first).unwrap();
        let line_start = yaml[..at].rfind('\n').map_or(0, |i| i + 1);
        let indent = &yaml[line_start..at];
        let indented =
            |block: &str| -> String { block.lines().map(|l| format!("{indent}{l}\n")).collect() };
        let old_text = indented(old);
        assert!(yaml.contains(&old_text));
        yaml.replacen(&old_text, &indented(new), 1)
    }

    /// Real sops combines Shamir shares that nsec split and wrapped: take
    /// sops' 2-of-3 file, recover its data key, split it again with nsec,
    /// wrap each share to its group's key, and decrypt with sops using only
    /// keys A and C.
    #[test]
    fn sops_combines_nsec_shares() {
        let keys = [
            "age-test-key-A.txt",
            "age-test-key-B.txt",
            "age-test-key-C.txt",
        ];
        let yaml =
            std::fs::read_to_string(vector_path("cases/shamir-2of3/encrypted.yaml")).unwrap();
        let blocks = enc_blocks(&yaml);
        let shares: Vec<Zeroizing<Vec<u8>>> = blocks
            .iter()
            .zip(keys)
            .map(|(b, k)| {
                unwrap(&identities_from_file(&vector_path(&format!("keys/{k}"))), b)
                    .unwrap()
                    .unwrap()
            })
            .collect();
        let data_key = crate::keys::shamir::combine(&[&shares[0], &shares[1]]).unwrap();
        let new_shares = crate::keys::shamir::split(&data_key, 3, 2).unwrap();
        let recipients: Vec<&str> = yaml
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- recipient: "))
            .collect();
        let mut patched = yaml.clone();
        for ((old, share), recipient) in blocks.iter().zip(&new_shares).zip(&recipients) {
            let ours = wrap(&AgeRecipient::parse(recipient).unwrap(), share).unwrap();
            patched = replace_block(&patched, old, &ours);
        }
        assert_ne!(patched, yaml);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("patched.yaml");
        std::fs::write(&file, patched).unwrap();
        let key_file = dir.path().join("keys.txt");
        let a = std::fs::read_to_string(vector_path("keys/age-test-key-A.txt")).unwrap();
        let c = std::fs::read_to_string(vector_path("keys/age-test-key-C.txt")).unwrap();
        std::fs::write(&key_file, format!("{a}{c}")).unwrap();
        let out = Command::new(crate::test_tools::sops())
            .arg("decrypt")
            .arg(&file)
            .env_clear()
            .env("HOME", dir.path())
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env("SOPS_AGE_KEY_FILE", &key_file)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = std::fs::read(vector_path("cases/shamir-2of3/expected.yaml")).unwrap();
        assert_eq!(out.stdout, expected);
    }
}
