//! Key lifecycle of one file: `rotate`, `updatekeys` and `groups`.
//!
//! * `rotate` makes a new data key and re-encrypts every value; recipients
//!   may be added (to the first key group, as sops does) or removed (from
//!   every group).
//! * `updatekeys` makes the file's key groups match its `.sops.yaml`
//!   creation rule. Like sops it keeps the data key, `lastmodified` and the
//!   MAC, only wrapping the data key anew; [`UpdateKeysPlan`] says what
//!   changes so the caller can show it and ask first. With `rotate` it also
//!   makes a new data key: a removed recipient who kept a copy of the old file
//!   still holds the old data key.
//! * `groups add` / `groups delete` add or remove one key group, re-splitting
//!   the data key; values, `lastmodified` and the MAC are unchanged.
//!
//! [`update_keys_file`], [`groups_add_file`] and [`groups_delete_file`] are
//! the whole commands on a file: they read it, change it and (in place)
//! write it back under its lock, through the same read-modify-write as
//! `edit`, `set` and `unset`.

use std::collections::HashSet;
use std::path::Path;

use crate::error::{Error, Result};
use crate::file::{recipient_groups, DecryptOptions, SopsFile};
use crate::keys::discovery::Identities;
use crate::keys::groups::GroupKeys;
use crate::ops::edit::{read_sops, rewrite_locked};
use crate::rules::Config;
use crate::store::StoreOptions;

/// sops' `rotate` on a file, as stored in `formats.0` and written in
/// `formats.1`. With `in_place` the file is locked, re-read under the lock
/// and replaced atomically; the rotated bytes are returned either way.
#[allow(clippy::too_many_arguments)]
pub fn rotate_file(
    path: &Path,
    formats: (crate::format::Format, crate::format::Format),
    identities: &Identities,
    store_opts: &StoreOptions,
    add: &GroupKeys,
    rm: &GroupKeys,
    in_place: bool,
) -> Result<Vec<u8>> {
    let _lock = if in_place {
        Some(crate::fsio::FileLock::acquire(path)?)
    } else {
        None
    };
    let in_file = |e: Error| e.in_file(path);
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let file = SopsFile::parse(formats.0, &bytes).map_err(in_file)?;
    let out = rotate(file, identities, add, rm)
        .and_then(|f| f.to_bytes_as(formats.1, store_opts))
        .map_err(in_file)?;
    if in_place {
        crate::fsio::write_atomic(path, &out, 0o644)?;
    }
    Ok(out)
}

/// `rotate`: a new data key for every value; `add` keys join the first key
/// group, `rm` keys leave every group. The MAC is checked. `version` is
/// kept.
pub fn rotate(
    file: SopsFile,
    identities: &Identities,
    add: &GroupKeys,
    rm: &GroupKeys,
) -> Result<SopsFile> {
    let threshold = file.metadata.shamir_threshold;
    let mut groups = recipient_groups(&file.metadata)?;
    if groups.is_empty() {
        groups.push(GroupKeys::default());
    }
    for r in &add.age {
        if !groups[0].age.iter().any(|g| g.as_str() == r.as_str()) {
            groups[0].age.push(r.clone());
        }
    }
    for fp in &add.pgp {
        groups[0].add_pgp(fp);
    }
    for k in &add.kms {
        groups[0].add_kms(k);
    }
    for g in &mut groups {
        g.age
            .retain(|k| !rm.age.iter().any(|r| r.as_str() == k.as_str()));
        g.pgp.retain(|k| !rm.pgp.contains(k));
        // As sops: a KMS key is removed by its ARN (and role).
        g.kms
            .retain(|k| !rm.kms.iter().any(|r| r.arn == k.arn && r.role == k.role));
    }
    if groups.iter().all(|g| g.is_empty()) {
        return Err(Error::InvalidOption(
            "removing these keys would leave the file without any".into(),
        ));
    }
    let opened = file.open(identities, DecryptOptions::default())?;
    opened.seal_with_new_key(&groups, threshold)
}

/// The changes to one key group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupDiff {
    /// Recipients kept.
    pub kept: Vec<String>,
    /// Recipients the rule adds.
    pub added: Vec<String>,
    /// Recipients the rule no longer lists.
    pub removed: Vec<String>,
}

/// What `updatekeys` would change in a file.
#[derive(Clone, Debug)]
pub struct UpdateKeysPlan {
    /// Per key group (the larger of the old and new counts).
    pub groups: Vec<GroupDiff>,
    /// The threshold before and after.
    pub threshold: (usize, usize),
    /// The new key groups, from the rule.
    pub new_groups: Vec<GroupKeys>,
}

impl UpdateKeysPlan {
    /// Is the file already in sync with the rule?
    pub fn is_empty(&self) -> bool {
        self.threshold.0 == self.threshold.1
            && self
                .groups
                .iter()
                .all(|g| g.added.is_empty() && g.removed.is_empty())
    }
}

/// Compares a file's key groups with the creation rule for `path`.
/// Recipients are compared per group position and as sets, as sops does.
pub(crate) fn plan_updatekeys(
    file: &SopsFile,
    config: &Config,
    cwd: &Path,
    path: &Path,
) -> Result<UpdateKeysPlan> {
    let rule = config.rule_for(cwd, path)?;
    if !rule.has_master_keys() {
        return Err(Error::Config {
            path: config.path.clone().into(),
            rule: Some(rule.index),
            problem: crate::error::ConfigProblem::Invalid,
            message: "the rule has no age recipients, pgp or kms keys".into(),
        });
    }
    // Keys of kinds nsec cannot encrypt to (GCP KMS, Azure, Vault) are not
    // compared: the file's are kept as they are, by group position.
    let new_groups: Vec<GroupKeys> = rule.group_keys()?;
    let old: Vec<Vec<String>> = file
        .metadata
        .key_groups
        .iter()
        .map(|g| {
            let pgp = g.pgp_entries()?.into_iter().map(|e| e.fingerprint);
            let kms = g.kms_entries()?.into_iter().map(|e| e.key.name());
            Ok(g.age
                .iter()
                .map(|k| k.recipient.clone())
                .chain(pgp)
                .chain(kms)
                .collect())
        })
        .collect::<Result<_>>()?;
    let new: Vec<Vec<String>> = new_groups.iter().map(GroupKeys::names).collect();
    let n = old.len().max(new.len());
    let empty = Vec::new();
    let groups = (0..n)
        .map(|i| {
            let o = old.get(i).unwrap_or(&empty);
            let w = new.get(i).unwrap_or(&empty);
            let os: HashSet<&String> = o.iter().collect();
            let ws: HashSet<&String> = w.iter().collect();
            GroupDiff {
                kept: o.iter().filter(|r| ws.contains(r)).cloned().collect(),
                added: w.iter().filter(|r| !os.contains(r)).cloned().collect(),
                removed: o.iter().filter(|r| !ws.contains(r)).cloned().collect(),
            }
        })
        .collect();
    let old_t = file.metadata.shamir_threshold;
    let new_t = if new_groups.len() < 2 {
        // With one group the threshold means nothing; keep what is there
        // unless it no longer fits.
        old_t.min(1)
    } else {
        let wanted = if rule.shamir_threshold > 0 {
            rule.shamir_threshold
        } else if old_t > 0 {
            old_t
        } else {
            new_groups.len()
        };
        wanted.min(new_groups.len())
    };
    Ok(UpdateKeysPlan {
        groups,
        threshold: (old_t, new_t),
        new_groups,
    })
}

/// Applies an `updatekeys` plan. Without `rotate` the data key is kept
/// (values, `lastmodified` and MAC unchanged, the MAC is not checked, as in
/// sops); with `rotate` the file gets a new data key and every value is
/// re-encrypted (the MAC is checked).
pub(crate) fn apply_updatekeys(
    file: SopsFile,
    identities: &Identities,
    plan: &UpdateKeysPlan,
    rotate: bool,
) -> Result<SopsFile> {
    let threshold = plan.threshold.1;
    if rotate {
        let opened = file.open(identities, DecryptOptions::default())?;
        return opened.seal_with_new_key(&plan.new_groups, threshold);
    }
    let mut file = file;
    let key = file.data_key(identities)?;
    file.rewrap(&key, &plan.new_groups, threshold)?;
    if plan.new_groups.len() < 2 {
        file.metadata.shamir_threshold = threshold;
    }
    Ok(file)
}

/// `groups add`: appends a key group of `recipients` and splits the data
/// key anew. `threshold` (`--shamir-secret-sharing-threshold`) defaults to
/// the new number of groups, as in sops.
pub(crate) fn add_group(
    mut file: SopsFile,
    identities: &Identities,
    recipients: GroupKeys,
    threshold: Option<usize>,
) -> Result<SopsFile> {
    if recipients.is_empty() {
        return Err(Error::InvalidOption(
            "a new key group needs at least one key".into(),
        ));
    }
    let key = file.data_key(identities)?;
    let mut groups = recipient_groups(&file.metadata)?;
    groups.push(recipients);
    let threshold = threshold.unwrap_or(groups.len());
    file.rewrap(&key, &groups, threshold)?;
    Ok(file)
}

/// `groups delete`: removes key group `index` (0-based) and splits the data
/// key anew among the rest. The threshold is lowered when it no longer fits.
pub(crate) fn delete_group(
    mut file: SopsFile,
    identities: &Identities,
    index: usize,
) -> Result<SopsFile> {
    let n = file.metadata.key_groups.len();
    if index >= n {
        return Err(Error::InvalidOption(format!(
            "the file has {n} key group(s); there is no group {index}"
        )));
    }
    if n == 1 {
        return Err(Error::InvalidOption(
            "cannot delete the only key group of a file".into(),
        ));
    }
    let key = file.data_key(identities)?;
    let mut groups = recipient_groups(&file.metadata)?;
    groups.remove(index);
    // Drop the group's metadata too, so other master keys stay with their
    // own group when `rewrap` carries them over by position.
    file.metadata.key_groups.remove(index);
    let left = groups.len();
    let threshold = if left < 2 {
        0
    } else {
        match file.metadata.shamir_threshold {
            0 => left,
            t => t.min(left),
        }
    };
    file.rewrap(&key, &groups, threshold)?;
    if left < 2 {
        file.metadata.shamir_threshold = 0;
    }
    Ok(file)
}

/// How [`update_keys_file`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateKeysOutcome {
    /// The file already matched its rule (and no rotation was asked for);
    /// it was left alone and `confirm` was not called.
    UpToDate,
    /// `confirm` said no; the file was left alone.
    Declined,
    /// The file was rewritten.
    Updated,
}

/// `updatekeys` on one file: under the file's lock, reads it, plans the
/// change against the `.sops.yaml` rule for `path` (`plan_updatekeys`),
/// asks `confirm` (given the plan; called only when there is something to
/// do: a non-empty plan or `rotate`), and applies and writes it
/// (`apply_updatekeys`). The lock is held while `confirm` runs, so what
/// was shown is what is written.
pub fn update_keys_file(
    path: &Path,
    identities: &Identities,
    config: &Config,
    cwd: &Path,
    store_opts: &StoreOptions,
    rotate: bool,
    confirm: impl FnOnce(&UpdateKeysPlan) -> bool,
) -> Result<UpdateKeysOutcome> {
    let mut outcome = UpdateKeysOutcome::UpToDate;
    rewrite_locked(path, store_opts, |file| {
        let plan = plan_updatekeys(&file, config, cwd, path)?;
        if plan.is_empty() && !rotate {
            return Ok(None);
        }
        if !confirm(&plan) {
            outcome = UpdateKeysOutcome::Declined;
            return Ok(None);
        }
        let updated = apply_updatekeys(file, identities, &plan, rotate)?;
        outcome = UpdateKeysOutcome::Updated;
        Ok(Some(updated))
    })?;
    Ok(outcome)
}

/// Where `groups add` / `groups delete` put the changed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupsOutput {
    /// Written back to the file (`--in-place`).
    InPlace,
    /// Not written: the changed file's bytes, for the caller to print.
    Bytes(Vec<u8>),
}

/// Runs `change` on the file at `path`: in place under its lock, or on a
/// plain read with the result returned.
fn change_file(
    path: &Path,
    store_opts: &StoreOptions,
    in_place: bool,
    change: impl FnOnce(SopsFile) -> Result<SopsFile>,
) -> Result<GroupsOutput> {
    if in_place {
        rewrite_locked(path, store_opts, |file| change(file).map(Some))?;
        return Ok(GroupsOutput::InPlace);
    }
    let in_file = |e: Error| e.in_file(path);
    let changed = change(read_sops(path)?).map_err(in_file)?;
    let bytes = changed.to_bytes(store_opts).map_err(in_file)?;
    Ok(GroupsOutput::Bytes(bytes))
}

/// `groups add` on a file: `add_group`, written back when `in_place`
/// (under the file's lock), else returned.
pub fn groups_add_file(
    path: &Path,
    identities: &Identities,
    store_opts: &StoreOptions,
    recipients: GroupKeys,
    threshold: Option<usize>,
    in_place: bool,
) -> Result<GroupsOutput> {
    change_file(path, store_opts, in_place, |file| {
        add_group(file, identities, recipients, threshold)
    })
}

/// `groups delete` on a file: `delete_group`, written back when
/// `in_place` (under the file's lock), else returned.
pub fn groups_delete_file(
    path: &Path,
    identities: &Identities,
    store_opts: &StoreOptions,
    index: usize,
    in_place: bool,
) -> Result<GroupsOutput> {
    change_file(path, store_opts, in_place, |file| {
        delete_group(file, identities, index)
    })
}
