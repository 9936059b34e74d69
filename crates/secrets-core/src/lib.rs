//! secrets-core: a SOPS-compatible secrets engine, and the secrets stores of
//! NixOS configuration repositories.
//!
//! Files written by this crate are real [SOPS] files that the Go `sops` 3.11
//! and sops-nix read, and every SOPS file they write, this crate reads,
//! edits and writes back intact. `nsec`, the command-line tool, is a thin
//! layer over it; deploy tools, CI steps and UIs embed the same code.
//!
//! # The model
//!
//! A **SOPS file** is a document in one of five *stores* (YAML, JSON,
//! dotenv, INI, binary: [`Format`]) whose selected leaf values are replaced
//! by `ENC[AES256_GCM,…]` strings, plus a `sops` metadata section. Every
//! store parses into one format-neutral tree ([`Map`], [`Item`], [`Value`])
//! that keeps key order and comments.
//!
//! All values of a file are encrypted with one random **data key**. The data
//! key is wrapped for every **master key** of the file — age recipients
//! (X25519, SSH, plugins, post-quantum `age1pq1`), GnuPG keys, AWS KMS keys —
//! in one or more **key groups** (with several groups it is split with
//! Shamir's scheme). A **MAC** over the plaintext values detects tampering.
//! [`SopsFile`] is a parsed encrypted file; [`SopsFile::open`] recovers the
//! data key with your [`Identities`] and gives an [`Opened`] file whose
//! documents you may change and [`Opened::seal`] again: unchanged values keep
//! their exact ciphertext, so git diffs stay small.
//!
//! A **store** ([`Store`]) is a directory with a `.sops.yaml` whose creation
//! rules say which recipients (people, hosts) get which files; a secret's
//! *name* is its path in the store without `.yaml` (`api-keys/openai`).
//! Reading a secret needs a private key; adding one, listing, validating
//! without decrypting and generating sops-nix declarations need only the
//! public keys in `.sops.yaml`.
//!
//! Nothing here prints or reads a terminal: what a job must ask a person
//! goes through [`Callbacks`] ([`NoCallbacks`] asks nobody). Every failure is
//! an [`Error`] naming the file, the key path and what is wrong, and never a
//! secret.
//!
//! # One file
//!
//! [`decrypt_file`], [`decrypt_file_to_tree`] and [`encrypt_file`] do the
//! whole job with the identities of the environment and the `.sops.yaml`
//! rules, as `sops -d` and `sops -e` do.
//!
//! # The common jobs
//!
//! The examples share this setup: a store whose `.sops.yaml` names two
//! recipients, `admin` (whose key we hold) and the host `laptop`.
//!
//! ```
//! # fn setup() -> Result<(tempfile::TempDir, secrets_core::Identities), Box<dyn std::error::Error>> {
//! use secrecy::ExposeSecret;
//! use secrets_core::keys::ssh_to_age::generate_x25519;
//! use secrets_core::{Identities, NoCallbacks};
//!
//! let dir = tempfile::tempdir()?;
//! let (admin_key, admin) = generate_x25519();
//! let (_, laptop) = generate_x25519();
//! std::fs::write(
//!     dir.path().join(".sops.yaml"),
//!     format!("keys:\n  - &admin {admin}\n  - &laptop {laptop}\ncreation_rules:\n  - age: [*admin, *laptop]\n"),
//! )?;
//! let identities =
//!     Identities::from_text("admin key", admin_key.expose_secret().as_bytes(), NoCallbacks)?;
//! # Ok((dir, identities)) }
//! # setup().unwrap();
//! ```
//!
//! **Add a secret without being able to read the others** — only the public
//! keys of `.sops.yaml` are used:
//!
//! ```
//! # fn setup() -> Result<(tempfile::TempDir, secrets_core::Identities), Box<dyn std::error::Error>> {
//! # use secrecy::ExposeSecret;
//! # let dir = tempfile::tempdir()?;
//! # let (admin_key, admin) = secrets_core::keys::ssh_to_age::generate_x25519();
//! # let (_, laptop) = secrets_core::keys::ssh_to_age::generate_x25519();
//! # std::fs::write(dir.path().join(".sops.yaml"), format!("keys:\n  - &admin {admin}\n  - &laptop {laptop}\ncreation_rules:\n  - age: [*admin, *laptop]\n"))?;
//! # let ids = secrets_core::Identities::from_text("admin key", admin_key.expose_secret().as_bytes(), secrets_core::NoCallbacks)?;
//! # Ok((dir, ids)) }
//! # let (dir, identities) = setup().unwrap();
//! use secrets_core::ops::secrets::AddInputs;
//! use secrets_core::{AddOptions, Store};
//!
//! let store = Store::open(dir.path())?;
//! let plan = store.plan_add("api-keys/openai", &AddOptions::default())?;
//! let field = plan.secret_inputs().next().expect("the generic template asks for one value");
//! let inputs = AddInputs {
//!     secrets: vec![(field.key.clone(), "sk-example".to_string().into())],
//!     ..AddInputs::default()
//! };
//! let added = store.add(&plan, inputs)?;
//! assert!(added.path.ends_with("api-keys/openai.yaml"));
//! // `added.nix` is the sops-nix declaration to paste.
//!
//! // **Read a secret** — with a key that is one of its recipients:
//! assert_eq!(*store.show("api-keys/openai", None, &identities)?, "sk-example");
//! # Ok::<(), secrets_core::Error>(())
//! ```
//!
//! **Validate a store for a host** before a rollout — no private key needed;
//! with identities, every secret is also opened:
//!
//! ```
//! # fn setup() -> Result<(tempfile::TempDir, secrets_core::Identities), Box<dyn std::error::Error>> {
//! # use secrecy::ExposeSecret;
//! # let dir = tempfile::tempdir()?;
//! # let (admin_key, admin) = secrets_core::keys::ssh_to_age::generate_x25519();
//! # let (_, laptop) = secrets_core::keys::ssh_to_age::generate_x25519();
//! # std::fs::write(dir.path().join(".sops.yaml"), format!("keys:\n  - &admin {admin}\n  - &laptop {laptop}\ncreation_rules:\n  - age: [*admin, *laptop]\n"))?;
//! # let ids = secrets_core::Identities::from_text("admin key", admin_key.expose_secret().as_bytes(), secrets_core::NoCallbacks)?;
//! # Ok((dir, ids)) }
//! # let (dir, _) = setup().unwrap();
//! use secrets_core::ops::validate::{Severity, ValidateOptions};
//! use secrets_core::Store;
//!
//! let store = Store::open(dir.path())?;
//! let report = store.validate(&ValidateOptions {
//!     host: Some("laptop".into()),
//!     ..ValidateOptions::default()
//! });
//! for problem in report.problems.iter().filter(|p| p.severity == Severity::Error) {
//!     eprintln!("{} {:?}: {} (fix: {})", problem.code, problem.file, problem.message, problem.fix);
//! }
//! assert!(!report.has_errors());
//! // What sops-nix should declare on that host:
//! let declarations = store.nix(Some("laptop"))?;
//! assert!(declarations.declarations.is_empty());
//! # Ok::<(), secrets_core::Error>(())
//! ```
//!
//! **Rotate after a leak**: the laptop was stolen. Remove it from
//! `.sops.yaml` and give every secret it could read a new data key (all or
//! nothing; a crash is finished or rolled back by the next run). Its old
//! copies stay readable to a thief: `plan.readable` lists the secrets to
//! change at their source.
//!
//! ```
//! # fn setup() -> Result<(tempfile::TempDir, secrets_core::Identities), Box<dyn std::error::Error>> {
//! # use secrecy::ExposeSecret;
//! # let dir = tempfile::tempdir()?;
//! # let (admin_key, admin) = secrets_core::keys::ssh_to_age::generate_x25519();
//! # let (_, laptop) = secrets_core::keys::ssh_to_age::generate_x25519();
//! # std::fs::write(dir.path().join(".sops.yaml"), format!("keys:\n  - &admin {admin}\n  - &laptop {laptop}\ncreation_rules:\n  - age: [*admin, *laptop]\n"))?;
//! # let ids = secrets_core::Identities::from_text("admin key", admin_key.expose_secret().as_bytes(), secrets_core::NoCallbacks)?;
//! # Ok((dir, ids)) }
//! # let (dir, identities) = setup().unwrap();
//! # let store = secrets_core::Store::open(dir.path())?;
//! # let plan = store.plan_add("db/password", &Default::default())?;
//! # let key = plan.secret_inputs().next().unwrap().key.clone();
//! # store.add(&plan, secrets_core::ops::secrets::AddInputs { secrets: vec![(key, "hunter2".to_string().into())], ..Default::default() })?;
//! use secrets_core::{NoCallbacks, Store};
//!
//! let store = Store::open(dir.path())?;
//! let plan = store.plan_revoke("laptop")?;
//! assert_eq!(plan.readable, ["db/password"]);
//! store.revoke(&plan, &identities, &NoCallbacks)?;
//!
//! let store = Store::open(dir.path())?; // .sops.yaml changed
//! assert!(store.hosts()?.iter().all(|h| h.name != "laptop"));
//! # Ok::<(), secrets_core::Error>(())
//! ```
//!
//! # Where things are
//!
//! [`file`](mod@file) (one SOPS file in its two states), [`keys`] (recipients,
//! identities, master key types), [`rules`] (`.sops.yaml`), [`store`] (the
//! five format stores: parse and emit), [`metadata`] (the `sops` section),
//! [`ops`] (every job of the CLI, one module each), [`fs`] (how nsec reads
//! and writes files). `docs/architecture.md` in the repository walks through
//! the layers.
//!
//! [SOPS]: https://github.com/getsops/sops
#![forbid(unsafe_code)]
#![deny(rustdoc::broken_intra_doc_links)]
#![deny(missing_docs)]

mod callbacks;
mod cipher;
mod crypt;
mod error;
mod fault;
pub mod file;
mod format;
mod fsio;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod gofmt;
mod goregex;
pub mod keys;
mod mac;
pub mod metadata;
pub mod ops;
mod parallel;
pub mod repo;
pub mod rules;
mod secrets_store;
pub mod store;
mod time;
mod tree;

#[cfg(test)]
mod test_tools;

pub use callbacks::{Callbacks, NoCallbacks, Progress};
pub use error::{ConfigProblem, Error, KeyAttempt, KeyFailure, KeyReport, Result, ShamirShortfall};
pub use file::{DecryptOptions, EncryptOptions, Opened, SopsFile};
pub use format::Format;
pub use goregex::{GoRegex, GoRegexError};
pub use keys::Identities;
pub use ops::{decrypt_file, decrypt_file_to_tree, encrypt_file, open_file};
pub use repo::Store;
pub use secrets_store::AddOptions;
pub use store::StoreOptions;
pub use time::Timestamp;
pub use tree::{parse_field, parse_index, Item, Map, PathStep, Value};

/// Reading and writing files as nsec does: regular files only, size-capped
/// reads, atomic replacement that keeps owner, group and mode.
pub mod fs {
    pub use crate::fsio::{
        read_capped, take_warnings, write_atomic, write_atomic_parts, write_new, FileLock, Warning,
        MAX_SECRET_FILE, MAX_SMALL_FILE,
    };
}
