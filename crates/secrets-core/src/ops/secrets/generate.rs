//! Random secret values: passwords, hex, base64, ssh-ed25519 and WireGuard
//! key pairs.
//!
//! All randomness comes from the operating system (`getrandom`). Key pairs
//! return the public half separately so the caller can store it in
//! plaintext next to the encrypted private half.

use base64::{engine::general_purpose::STANDARD, Engine};
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::montgomery::MontgomeryPoint;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A password of `length` characters drawn uniformly from `charset`.
    Password {
        /// Number of characters.
        length: usize,
        /// The characters to draw from.
        charset: String,
    },
    /// `length` random bytes, hex-encoded (2 × `length` characters).
    Hex {
        /// Number of random bytes.
        length: usize,
    },
    /// `length` random bytes, standard base64 with padding.
    Base64 {
        /// Number of random bytes.
        length: usize,
    },
    /// An ssh-ed25519 key pair: OpenSSH private key, `ssh-ed25519 …` public.
    SshEd25519,
    /// A WireGuard (X25519) key pair, both halves base64 as `wg` prints them.
    Wireguard,
}

/// Default password length.
pub(crate) const DEFAULT_PASSWORD_LENGTH: usize = 32;
/// Default number of bytes for hex and base64.
pub(crate) const DEFAULT_BYTES: usize = 32;

/// Named character sets for passwords; anything else given as a charset is
/// taken as the literal set of characters.
pub(crate) const CHARSETS: [(&str, &str); 7] = [
    (
        "alnum",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    ),
    ("alpha", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
    ("lower", "abcdefghijklmnopqrstuvwxyz"),
    ("upper", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ("digits", "0123456789"),
    ("hex", "0123456789abcdef"),
    (
        "ascii",
        "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
    ),
];

/// The characters of a charset name (see `CHARSETS`) or a literal set.
pub fn charset(spec: &str) -> Result<String> {
    if let Some((_, chars)) = CHARSETS.iter().find(|(n, _)| *n == spec) {
        return Ok(chars.to_string());
    }
    let mut chars: Vec<char> = spec.chars().collect();
    chars.sort_unstable();
    chars.dedup();
    if chars.len() < 2 || chars.iter().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::InvalidOption(format!(
            "invalid charset `{spec}`: use one of {} or at least two printable, non-space characters",
            CHARSETS.map(|(n, _)| n).join(", ")
        )));
    }
    Ok(chars.into_iter().collect())
}

impl Kind {
    /// From a `--generate` name with optional length and charset.
    pub fn from_name(
        name: &str,
        length: Option<usize>,
        charset_spec: Option<&str>,
    ) -> Result<Kind> {
        let bad_len = |n: usize, what: &str| {
            Error::InvalidOption(format!("length {n} is out of range for {what} (1 to 4096)"))
        };
        let check = |n: usize, what: &str| {
            if (1..=4096).contains(&n) {
                Ok(n)
            } else {
                Err(bad_len(n, what))
            }
        };
        let kind = match name {
            "password" => Kind::Password {
                length: check(length.unwrap_or(DEFAULT_PASSWORD_LENGTH), "password")?,
                charset: charset(charset_spec.unwrap_or("alnum"))?,
            },
            "hex" => Kind::Hex {
                length: check(length.unwrap_or(DEFAULT_BYTES), "hex")?,
            },
            "base64" => Kind::Base64 {
                length: check(length.unwrap_or(DEFAULT_BYTES), "base64")?,
            },
            "ssh-ed25519" => Kind::SshEd25519,
            "wireguard" => Kind::Wireguard,
            other => {
                return Err(Error::InvalidOption(format!(
                    "unknown generator `{other}` (expected password, hex, base64, ssh-ed25519 or wireguard)"
                )))
            }
        };
        if charset_spec.is_some() && !matches!(kind, Kind::Password { .. }) {
            return Err(Error::InvalidOption(
                "a character set only applies to generated passwords".into(),
            ));
        }
        if length.is_some() && matches!(kind, Kind::SshEd25519 | Kind::Wireguard) {
            return Err(Error::InvalidOption(format!(
                "a length does not apply to generated {name} keys"
            )));
        }
        Ok(kind)
    }

    /// Whether the generator makes a key pair (with a public half).
    pub fn is_pair(&self) -> bool {
        matches!(self, Kind::SshEd25519 | Kind::Wireguard)
    }
}

/// A generated value: the secret, and the public half for key pairs.
pub struct Generated {
    /// The secret value.
    pub secret: Zeroizing<String>,
    /// The public half of a key pair.
    pub public: Option<String>,
}

fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>> {
    let mut buf = Zeroizing::new([0u8; N]);
    fill(&mut buf[..])?;
    Ok(buf)
}

fn fill(buf: &mut [u8]) -> Result<()> {
    getrandom::getrandom(buf)
        .map_err(|e| Error::KeyWrap(format!("the system random number generator failed: {e}")))
}

/// Generates a value. `comment` labels SSH keys (e.g. the secret's name).
pub fn generate(kind: &Kind, comment: &str) -> Result<Generated> {
    let (secret, public) = match kind {
        Kind::Password { length, charset } => (password(*length, charset)?, None),
        Kind::Hex { length } => {
            let mut bytes = Zeroizing::new(vec![0u8; *length]);
            fill(&mut bytes)?;
            let mut s = Zeroizing::new(String::with_capacity(length * 2));
            for b in bytes.iter() {
                s.push_str(&format!("{b:02x}"));
            }
            (s, None)
        }
        Kind::Base64 { length } => {
            let mut bytes = Zeroizing::new(vec![0u8; *length]);
            fill(&mut bytes)?;
            (Zeroizing::new(STANDARD.encode(&bytes[..])), None)
        }
        Kind::SshEd25519 => {
            let seed = random::<32>()?;
            let check = random::<4>()?;
            let (private, public) = ssh_ed25519_from_seed(&seed, *check, comment);
            (private, Some(public))
        }
        Kind::Wireguard => {
            let mut key = random::<32>()?;
            // `wg genkey` clamps the scalar; do the same so the stored key is
            // byte-identical to what wg would print for it.
            key[0] &= 248;
            key[31] &= 127;
            key[31] |= 64;
            let public = MontgomeryPoint::mul_base_clamped(*key).to_bytes();
            (
                Zeroizing::new(STANDARD.encode(&key[..])),
                Some(STANDARD.encode(public)),
            )
        }
    };
    Ok(Generated { secret, public })
}

/// A uniformly random password (rejection sampling, no modulo bias).
fn password(length: usize, charset: &str) -> Result<Zeroizing<String>> {
    let chars: Vec<char> = charset.chars().collect();
    let n = chars.len();
    debug_assert!((2..=256).contains(&n) || n > 256);
    // Largest multiple of n that fits in u32, for unbiased reduction.
    let limit = u32::MAX - (u32::MAX % n as u32);
    let mut out = Zeroizing::new(String::with_capacity(length));
    while out.chars().count() < length {
        let r = random::<4>()?;
        let v = u32::from_le_bytes(*r);
        if v < limit {
            out.push(chars[(v % n as u32) as usize]);
        }
    }
    Ok(out)
}

fn put_string(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}

/// The OpenSSH private key (PEM-armoured `openssh-key-v1`, unencrypted) and
/// the `ssh-ed25519 … comment` public line for an ed25519 seed.
pub(crate) fn ssh_ed25519_from_seed(
    seed: &[u8; 32],
    checkint: [u8; 4],
    comment: &str,
) -> (Zeroizing<String>, String) {
    let mut h = Zeroizing::new([0u8; 64]);
    h.copy_from_slice(&Sha512::digest(seed));
    let mut scalar = Zeroizing::new([0u8; 32]);
    scalar.copy_from_slice(&h[..32]);
    let public = EdwardsPoint::mul_base_clamped(*scalar)
        .compress()
        .to_bytes();

    let mut blob = Vec::new();
    put_string(&mut blob, b"ssh-ed25519");
    put_string(&mut blob, &public);

    let mut private = Zeroizing::new(Vec::new());
    private.extend_from_slice(&checkint);
    private.extend_from_slice(&checkint);
    put_string(&mut private, b"ssh-ed25519");
    put_string(&mut private, &public);
    let mut pair = Zeroizing::new(Vec::with_capacity(64));
    pair.extend_from_slice(seed);
    pair.extend_from_slice(&public);
    put_string(&mut private, &pair);
    put_string(&mut private, comment.as_bytes());
    // Pad to the cipher block size ("none": 8) with 1, 2, 3, ….
    let mut pad = 1u8;
    while private.len() % 8 != 0 {
        private.push(pad);
        pad += 1;
    }

    let mut body = Zeroizing::new(Vec::new());
    body.extend_from_slice(b"openssh-key-v1\0");
    put_string(&mut body, b"none");
    put_string(&mut body, b"none");
    put_string(&mut body, b"");
    body.extend_from_slice(&1u32.to_be_bytes());
    put_string(&mut body, &blob);
    put_string(&mut body, &private);

    let encoded = Zeroizing::new(STANDARD.encode(&body[..]));
    let mut pem = Zeroizing::new(String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
    for chunk in encoded.as_bytes().chunks(70) {
        pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    let mut public_line = format!("ssh-ed25519 {}", STANDARD.encode(&blob));
    if !comment.is_empty() {
        public_line.push(' ');
        public_line.push_str(comment);
    }
    (pem, public_line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::ssh_to_age;

    #[test]
    fn passwords_have_length_and_charset() {
        let kind = Kind::from_name("password", Some(50), Some("digits")).unwrap();
        let g = generate(&kind, "").unwrap();
        assert_eq!(g.secret.len(), 50);
        assert!(g.secret.chars().all(|c| c.is_ascii_digit()));
        let g = generate(&Kind::from_name("hex", Some(4), None).unwrap(), "").unwrap();
        assert_eq!(g.secret.len(), 8);
        assert!(Kind::from_name("password", Some(0), None).is_err());
        assert!(Kind::from_name("hex", None, Some("alnum")).is_err());
        assert!(charset("a").is_err());
    }

    #[test]
    fn ssh_key_parses_back() {
        let (pem, public) = ssh_ed25519_from_seed(&[7u8; 32], [1, 2, 3, 4], "test");
        // Our own OpenSSH parser (used by ssh-to-age) accepts the key, and
        // the derived age recipients of both halves agree.
        let age_priv = ssh_to_age::ssh_private_to_age(pem.as_bytes()).unwrap();
        let age_pub = ssh_to_age::ssh_public_to_age(&public).unwrap();
        assert_eq!(ssh_to_age::x25519_public(&age_priv).unwrap(), age_pub);
    }
}
