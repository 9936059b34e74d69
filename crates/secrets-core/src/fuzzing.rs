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

/// Reads `text` cut in two halves at every place a large document may be
/// cut (one half per thread) and compares each with reading it whole:
/// how many cuts were read, or the first difference.
pub fn yaml_halves_agree(text: &str) -> Result<usize, String> {
    crate::store::yaml::split::every_cut_agrees(text)
}

/// Writes `docs` (one YAML document) cut in two halves before each
/// top-level entry but the first (one half per thread, as a large
/// plaintext is written) and compares each with writing it whole: how
/// many cuts used both halves, or the first difference.
pub fn yaml_written_halves_agree(docs: &[crate::Map]) -> Result<usize, String> {
    crate::store::yaml::split::every_written_cut_agrees(docs)
}

/// The `ENC[…]` value cipher, for the `enc_value` target.
pub use crate::cipher::{
    from_plaintext, looks_encrypted, to_plaintext, Cipher, EncryptedValue, ValueType,
};

/// What an identity source parses into.
pub type Parsed = Result<Vec<Box<dyn age::Identity + Send + Sync>>, String>;

/// Parses an age identity source (the `age_identity` target).
pub fn parse_identity_source(
    location: &str,
    contents: &[u8],
    callbacks: impl crate::Callbacks + 'static,
) -> Parsed {
    crate::keys::identities::parse_identity_source(location, contents, callbacks)
}

/// Parses an OpenSSH private key (the `ssh_key` target).
pub fn ssh_identities(
    location: &str,
    contents: &[u8],
    callbacks: impl crate::Callbacks + 'static,
) -> Parsed {
    crate::keys::identities::ssh_identities(location, contents, callbacks)
}

/// The identities part of the "no data key" report (the `age_identity`
/// target checks it shows no key material).
pub fn identities_report(identities: &crate::Identities) -> String {
    identities.key_report().to_string()
}

/// Whether a list of the document holds a comment item (the YAML round
/// trip skips comment layouts go-yaml writes unreadably, finding 19).
pub fn has_list_comments(map: &crate::Map) -> bool {
    crate::store::has_list_comments(map)
}
