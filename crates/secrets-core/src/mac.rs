//! The file MAC.
//!
//! sops' MAC is a SHA-512 over the plaintext bytes of the leaves, in file
//! order, with nothing in between (no keys, no separators, no comments, no
//! nulls). With `mac_only_encrypted` only the encrypted leaves are hashed and
//! the hash is first seeded with SHA-256("sops"), so the two modes never give
//! the same MAC. The uppercase hex digest is stored encrypted under the data
//! key, with the `lastmodified` timestamp (re-formatted to seconds) as AAD.

use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::cipher::{Cipher, EncryptedValue, ValueType};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Incremental MAC computation.
pub struct MacHasher {
    hash: Sha512,
}

impl MacHasher {
    /// A new hasher; `mac_only_encrypted` selects the seeded variant.
    pub fn new(mac_only_encrypted: bool) -> MacHasher {
        let mut hash = Sha512::new();
        if mac_only_encrypted {
            hash.update(Sha256::digest(b"sops"));
        }
        MacHasher { hash }
    }

    /// Feeds one leaf's plaintext bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.hash.update(bytes);
    }

    /// The MAC as 128 uppercase hex characters.
    pub fn finish(self) -> String {
        hex_upper(&self.hash.finalize())
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// The MAC's AAD: `lastmodified` parsed and formatted again at seconds
/// precision, as sops does (`…09.123Z` → `…09Z`, `+00:00` → `Z`).
fn mac_aad(lastmodified: &str) -> Result<String> {
    Timestamp::parse_rfc3339(lastmodified)
        .map(|t| t.to_rfc3339_seconds())
        .ok_or_else(|| {
            Error::InvalidMetadata(format!(
                "lastmodified `{lastmodified}` is not an RFC 3339 time"
            ))
        })
}

/// Encrypts the MAC for storage in the metadata.
pub fn seal(cipher: &Cipher, mac: &str, lastmodified: &str) -> Result<String> {
    Ok(cipher.encrypt(
        mac.as_bytes(),
        ValueType::Str,
        &mac_aad(lastmodified)?,
        None,
    ))
}

/// Decrypts the stored MAC and compares it, in constant time, with the one
/// computed over the values.
pub fn verify(cipher: &Cipher, stored: &str, lastmodified: &str, computed: &str) -> Result<()> {
    if stored.is_empty() {
        return Err(Error::MacMismatch);
    }
    let value: EncryptedValue = stored.parse().map_err(|_| Error::MacUndecryptable)?;
    let plain = cipher
        .decrypt(value, &mac_aad(lastmodified)?, None)
        .ok_or(Error::MacUndecryptable)?;
    if plain.len() == computed.len() && bool::from(plain.as_slice().ct_eq(computed.as_bytes())) {
        Ok(())
    } else {
        Err(Error::MacMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_plain_differ_and_are_hex() {
        let mut a = MacHasher::new(false);
        a.update(b"x");
        let mut b = MacHasher::new(true);
        b.update(b"x");
        let (a, b) = (a.finish(), b.finish());
        assert_ne!(a, b);
        assert_eq!(a.len(), 128);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)));
        // SHA-512("x") known prefix.
        assert!(a.starts_with("A4ABD4448C49562D"));
    }
}
