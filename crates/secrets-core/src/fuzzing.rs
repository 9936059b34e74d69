//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`).
//! Not part of the API: only what the targets need and cannot reach through
//! the public modules.

/// Reads `text` with the fast YAML reader and with granit-parser: `Ok(true)`
/// when the fast reader takes it and both yield the same events, `Ok(false)`
/// when the fast reader leaves it to granit-parser, `Err` (naming the first
/// differing event) when the fast reader takes what granit-parser rejects or
/// reads it differently.
pub fn yaml_fast_agrees(text: &str) -> Result<bool, String> {
    crate::store::yaml::fast::agreement::agree(text)
}

/// The `ENC[…]` value cipher, for the `enc_value` target.
pub use crate::cipher::{
    from_plaintext, looks_encrypted, to_plaintext, Cipher, EncryptedValue, ValueType,
};
