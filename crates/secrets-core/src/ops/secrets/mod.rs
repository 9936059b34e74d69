//! The secrets store: `init`, `add`, `show`, `list`, `rm`, `host add/rm`.
//!
//! A store is a directory with a `.sops.yaml` (see [`crate::repo`]). A
//! secret `api-keys/openai` is the file `api-keys/openai.yaml` holding the
//! document `openai: <value>`: the last component of the name is the key,
//! so a sops-nix declaration `sops.secrets.openai.sopsFile = …;` needs no
//! `key` setting. Templates ([`template`]) add fields, generated values
//! ([`generate`]) and plaintext metadata (`*_unencrypted` keys, which sops
//! leaves unencrypted by default).
//!
//! Adding a secret needs only the public keys of `.sops.yaml`; reading one,
//! or re-keying files after a host change, needs an identity.
//!
//! One file per command: `init` (the store and the user's identity), `add`
//! (`add` and `rm`), `show` (`show`, `list` and re-wrapping out-of-date
//! files), [`hosts`] (`host add/rm/list`); [`template`] and [`generate`]
//! serve `add`. Everything public is re-exported here.

pub mod generate;
pub mod hosts;
pub mod template;

mod add;
mod init;
mod show;

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::repo::Store;

pub use add::{add, plan_add, remove, AddInputs, AddOutcome, AddPlan, PlannedField, Source};
pub use hosts::{
    apply_host_plan, host_list, host_recipient, plan_host_add, plan_host_rm, HostChange, HostInfo,
    HostPlan,
};
pub use init::{default_identity_file, init, new_identity_file, new_pq_identity_file, InitOutcome};
pub use show::{list, out_of_date, show, Recipient, SecretInfo, Status};

/// The suffix sops leaves unencrypted by default; metadata and public
/// halves of key pairs get it.
pub(crate) const UNENCRYPTED_SUFFIX: &str = "_unencrypted";
/// The suffix of the public half of a generated key pair (before
/// [`UNENCRYPTED_SUFFIX`]): `github` → `github_pub_unencrypted`.
pub(crate) const PUBLIC_SUFFIX: &str = "_pub";

/// The key a secret's value has by default: the last component of its name
/// (or file), without a store extension (`api-keys/openai` → `openai`).
pub fn last_component(name: &str) -> String {
    super::nix::base_name(name).to_string()
}

/// The file of the secret `name`; [`Error::SecretNotFound`] when there is none.
pub(crate) fn existing(repo: &Store, name: &str) -> Result<PathBuf> {
    let path = repo.secret_path(name)?;
    if !path.is_file() {
        return Err(Error::SecretNotFound {
            name: name.to_string(),
            path,
        });
    }
    Ok(path)
}
