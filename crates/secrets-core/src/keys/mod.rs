//! Data keys and the master keys that wrap them.
//!
//! A sops file's values are all encrypted with one random 32-byte data key.
//! The data key (or, with several key groups, one Shamir share of it) is
//! encrypted to every age recipient of the file.

pub mod age;
pub(crate) mod aws;
pub mod discovery;
pub mod groups;
pub mod identities;
pub mod kms;
pub mod pgp;
pub mod pq;
pub(crate) mod shamir;
pub mod ssh_to_age;

pub use identities::Identities;

use secrecy::{ExposeSecret, SecretBox};

/// The 32-byte AES-256 data key of a sops file.
///
/// It lives in a zeroizing box and never prints.
pub struct DataKey(SecretBox<[u8; 32]>);

impl DataKey {
    /// A fresh key from the OS random generator.
    pub fn generate() -> DataKey {
        DataKey(SecretBox::init_with_mut(|k: &mut [u8; 32]| {
            getrandom::getrandom(k).expect("the OS random generator failed")
        }))
    }

    /// A key from exactly 32 bytes (`None` for any other length).
    pub fn from_slice(bytes: &[u8]) -> Option<DataKey> {
        let arr: &[u8; 32] = bytes.try_into().ok()?;
        Some(DataKey(SecretBox::init_with_mut(|k: &mut [u8; 32]| {
            k.copy_from_slice(arr)
        })))
    }

    /// The key bytes.
    pub fn expose(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }
}

impl Clone for DataKey {
    fn clone(&self) -> Self {
        DataKey::from_slice(self.expose()).expect("32 bytes")
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}
