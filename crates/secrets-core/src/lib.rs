//! secrets-core: a SOPS-compatible secrets engine for age keys.
//!
//! Files written by this crate are real [SOPS] files that the Go `sops` 3.11
//! and sops-nix read, and every SOPS file they write, this crate reads,
//! edits and writes back intact.
//!
//! # The model
//!
//! A SOPS file is a document in one of five *stores* (YAML, JSON, dotenv,
//! INI, binary) whose selected leaf values have been replaced by
//! `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` strings, plus a `sops`
//! metadata section.
//!
//! * Every store parses into one format-neutral tree ([`Map`], [`Item`],
//!   [`Value`]) that keeps key order and comments ([`store`]).
//! * All values are encrypted with one random 32-byte **data key**
//!   ([`keys::DataKey`]), AES-256-GCM with a 32-byte IV, and the value's key
//!   path (`a:b:`) as additional data ([`cipher`]). A *selector* such as
//!   `unencrypted_suffix: _unencrypted` decides which values are encrypted
//!   ([`metadata::Selector`], [`crypt`]).
//! * The data key is encrypted to every age recipient of the file
//!   ([`keys::age`]); with several *key groups* it is split with Shamir's
//!   scheme and any `shamir_threshold` groups recover it ([`keys::groups`]).
//! * A **MAC** over all plaintext values, encrypted with the data key,
//!   detects tampering and reordering ([`mac`]).
//! * `.sops.yaml` creation rules pick recipients and selectors per file
//!   ([`rules`]); a directory with a `.sops.yaml` is a secrets store
//!   ([`repo`]).
//!
//! [`file::SopsFile`] is a parsed encrypted file; [`file::SopsFile::open`]
//! recovers the data key and decrypts it into an [`file::Opened`], whose
//! documents you may change and [`file::Opened::seal`] again: unchanged
//! values keep their exact ciphertext, so git diffs stay small.
//!
//! # The one-call API
//!
//! [`ops::decrypt_file`], [`ops::decrypt_file_to_tree`] and
//! [`ops::encrypt_file`] do the whole job with the identities of the
//! environment (`SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY`, the default
//! `~/.config/sops/age/keys.txt`, SSH keys, …) and the `.sops.yaml` rules.
//!
//! # Example
//!
//! Encrypt a document to an age recipient and decrypt it again:
//!
//! ```
//! use secrets_core::file::{self, DecryptOptions, EncryptOptions, SopsFile};
//! use secrets_core::keys::{age::AgeRecipient, discovery::Identities, ssh_to_age};
//! use secrets_core::store::{self, StoreOptions};
//! use secrets_core::Format;
//! use secrecy::ExposeSecret;
//!
//! // A throwaway identity for the example.
//! let (identity, recipient) = ssh_to_age::generate_x25519();
//!
//! let plaintext = b"openai: sk-example\nport_unencrypted: 8080\n";
//! let docs = store::parse(Format::Yaml, plaintext)?;
//! let opts = EncryptOptions {
//!     key_groups: vec![vec![AgeRecipient::parse(&recipient)?].into()],
//!     ..EncryptOptions::default()
//! };
//! let encrypted = file::encrypt(Format::Yaml, docs, &opts)?.to_bytes(&StoreOptions::default())?;
//! assert!(String::from_utf8_lossy(&encrypted).contains("openai: ENC[AES256_GCM,"));
//! assert!(String::from_utf8_lossy(&encrypted).contains("port_unencrypted: 8080"));
//!
//! let mut identities = Identities::new();
//! identities.add_source("example", identity.expose_secret().as_bytes(), secrets_core::NoCallbacks);
//! let opened = SopsFile::parse(Format::Yaml, &encrypted)?.open(&identities, DecryptOptions::default())?;
//! assert_eq!(opened.plaintext(Format::Yaml, &StoreOptions::default())?, plaintext);
//! # Ok::<(), secrets_core::Error>(())
//! ```
//!
//! [SOPS]: https://github.com/getsops/sops
#![forbid(unsafe_code)]
#![deny(rustdoc::broken_intra_doc_links)]
#![deny(missing_docs)]

mod callbacks;
pub mod cipher;
pub mod crypt;
pub mod error;
pub mod fault;
pub mod file;
pub mod format;
pub mod fsio;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod gofmt;
pub mod keys;
pub mod mac;
pub mod metadata;
pub mod ops;
pub mod repo;
pub mod rules;
mod secrets_store;
pub mod store;
pub mod time;
pub mod tree;

#[cfg(test)]
mod test_tools;

pub use callbacks::{Callbacks, NoCallbacks, Progress};
pub use error::{ConfigProblem, Error, Result};
pub use format::Format;
pub use secrets_store::AddOptions;
pub use tree::{Item, Map, PathStep, Value};
