//! secrets-core: a SOPS-compatible secrets engine (docs to come).
#![forbid(unsafe_code)]

pub mod error;
pub mod format;
pub mod gofmt;
pub mod keys;
pub mod store;
pub mod time;
pub mod tree;

pub use error::{Error, Result};
pub use format::Format;
pub use tree::{Item, Map, PathStep, Value};
pub mod cipher;
pub mod crypt;
pub mod file;
pub mod fsio;
pub mod mac;
pub mod metadata;
pub mod ops;
pub mod rules;
pub use age::{Callbacks, NoCallbacks};
pub mod repo;
