//! The store's operations, as one type a caller opens and uses.
//!
//! Every method is the job of one `nsec` command, without its terminal:
//! the CLI and an embedding tool (a deploy tool, a CI step, a UI) call the
//! same code. Methods that only read metadata (`list`, `hosts`, `nix`,
//! `validate` without identities, `add`) need no private key: anyone with
//! the repository can run them. Methods that read or re-key secrets take
//! the [`Identities`] to decrypt with.

use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::callbacks::Callbacks;
use crate::error::Result;
use crate::file::Opened;
use crate::keys::identities::Identities;
use crate::ops::edit::{self, Outcome, SetOptions};
use crate::ops::nix::{self, NixPlan};
use crate::ops::revoke::{self, RevokePlan};
use crate::ops::rotate_store::{self, Plan as RotatePlan, Selection};
use crate::ops::secrets::{
    self, generate::Kind, AddInputs, AddOutcome, AddPlan, HostChange, HostInfo, HostPlan,
    SecretInfo,
};
use crate::ops::validate::{self, Report, ValidateOptions};
use crate::repo::Store;
use crate::tree::{PathStep, Value};

/// How a new secret is made ([`Store::plan_add`]).
#[derive(Clone, Debug, Default)]
pub struct AddOptions {
    /// The template (`generic` when `None`): a built-in one or the store's
    /// own under `.nsec/templates/`.
    pub template: Option<String>,
    /// Generate the first field's value instead of asking for it.
    pub generate: Option<Kind>,
    /// Replace an existing secret of that name.
    pub force: bool,
}

impl Store {
    /// Every secret with its format, recipients and status, sorted by
    /// name. Reads metadata only: no identity is needed.
    pub fn list(&self) -> Result<Vec<SecretInfo>> {
        secrets::list(self, &self.root)
    }

    /// The decrypted value of secret `name`: `field` if given, else the
    /// key named after the secret (`openai` for `api-keys/openai`), else
    /// the whole document in the file's format.
    pub fn show(
        &self,
        name: &str,
        field: Option<&str>,
        identities: &Identities,
    ) -> Result<Zeroizing<String>> {
        secrets::show(self, name, field, identities)
    }

    /// Secret `name` decrypted, for reading or changing its documents.
    pub fn open_secret(&self, name: &str, identities: &Identities) -> Result<Opened> {
        let path = secrets::existing(self, name)?;
        crate::ops::open_file(&path, identities)
    }

    /// Checks everything about a new secret that can be checked before its
    /// value is known (name, template, creation rule), so a caller asks a
    /// person for a secret only when it can be stored. Needs no identity.
    pub fn plan_add(&self, name: &str, options: &AddOptions) -> Result<AddPlan> {
        secrets::plan_add(
            self,
            &self.root,
            name,
            options.template.as_deref(),
            options.generate.clone(),
            options.force,
        )
    }

    /// Encrypts and writes the secret of `plan` to its rule's recipients.
    /// Needs no identity: adding a secret does not let anyone read others.
    /// Every value is checked first; on any error nothing is written. A
    /// secret that exists is replaced only when the plan was made with
    /// `force` (else [`Error::AlreadyExists`](crate::Error::AlreadyExists),
    /// also when another writer created it after the plan).
    pub fn add(&self, plan: &AddPlan, inputs: AddInputs) -> Result<AddOutcome> {
        secrets::add(self, plan, inputs, plan.replace)
    }

    /// Puts `value` at `path` in secret `name` (creating missing keys),
    /// keeping every other value's ciphertext. `Unchanged` when the value
    /// was already there and `options.idempotent` is set.
    pub fn set(
        &self,
        name: &str,
        path: &[PathStep],
        value: Value,
        identities: &Identities,
        options: SetOptions,
    ) -> Result<Outcome> {
        let file = secrets::existing(self, name)?;
        edit::set_value(&file, identities, &self.config.stores, path, value, options)
    }

    /// Deletes secret `name`'s file; returns its path.
    pub fn remove(&self, name: &str) -> Result<PathBuf> {
        secrets::remove(self, name)
    }

    /// The named recipients (people, hosts) of `.sops.yaml` and what each
    /// can read. Reads metadata only.
    pub fn hosts(&self) -> Result<Vec<HostInfo>> {
        secrets::host_list(self, &self.root)
    }

    /// Plans adding recipient `recipient` as `name` (to the rules whose
    /// `path_regex` contains `only`, or all). Nothing is written until
    /// [`Store::apply_host_plan`].
    pub fn plan_host_add(
        &self,
        name: &str,
        recipient: &str,
        only: Option<&str>,
    ) -> Result<HostPlan> {
        secrets::plan_host_add(self, &self.root, name, recipient, only)
    }

    /// Plans removing the recipient named `name`.
    pub fn plan_host_rm(&self, name: &str) -> Result<HostPlan> {
        secrets::plan_host_rm(self, &self.root, name)
    }

    /// Writes a host plan's `.sops.yaml` and, with `rekey`, re-keys every
    /// secret it puts out of date (all or nothing).
    pub fn apply_host_plan(
        &self,
        plan: &HostPlan,
        rekey: Option<&Identities>,
    ) -> Result<HostChange> {
        secrets::apply_host_plan(plan, rekey)
    }

    /// Checks the store: well-formed files, no plaintext, recipients in
    /// line with the rules, a host's secrets declared and openable, and
    /// more (docs/validate.md lists every check and its code). Without
    /// identities in `options` no secret is decrypted.
    pub fn validate(&self, options: &ValidateOptions<'_>) -> Report {
        validate::validate(&self.root, options)
    }

    /// The sops-nix declarations of the store, or of what `host` can
    /// decrypt, with notes on what was left out and why.
    pub fn nix(&self, host: Option<&str>) -> Result<NixPlan> {
        nix::plan(self, host)
    }

    /// Plans a rotation: which files get a new data key and their rule's
    /// recipients.
    pub fn plan_rotate(&self, selection: &Selection) -> Result<RotatePlan> {
        rotate_store::plan(self, selection)
    }

    /// Carries out a rotation plan, all or nothing: after a crash the next
    /// run finishes or rolls back the job from its journal.
    pub fn rotate(
        &self,
        plan: &RotatePlan,
        identities: &Identities,
        callbacks: &dyn Callbacks,
    ) -> Result<()> {
        rotate_store::execute(self, plan, identities, callbacks)
    }

    /// Plans revoking `who` (a recipient's name in `.sops.yaml`, or the
    /// recipient): the new config and the secrets they could read.
    pub fn plan_revoke(&self, who: &str) -> Result<RevokePlan> {
        revoke::plan(self, who)
    }

    /// Removes the recipient from `.sops.yaml` and re-keys every secret
    /// they could read. Their old copies stay readable to them: change
    /// those secrets at their source (`plan.readable` lists them).
    pub fn revoke(
        &self,
        plan: &RevokePlan,
        identities: &Identities,
        callbacks: &dyn Callbacks,
    ) -> Result<RotatePlan> {
        revoke::execute(self, plan, identities, callbacks)
    }
}
