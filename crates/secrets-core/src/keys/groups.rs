//! Wrapping the data key for a file's key groups and recovering it.
//!
//! With one key group the whole data key is encrypted to every recipient of
//! the group. With several, the key is split with Shamir's scheme: share `i`
//! goes to every recipient of group `i`, and any `shamir_threshold` groups
//! recover it.

use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::keys::age::{self, AgeRecipient};
use crate::keys::discovery::Identities;
use crate::keys::{shamir, DataKey};
use crate::metadata::{AgeKey, KeyGroup, Metadata};

/// The threshold sops uses for `groups` groups when `configured` is given
/// (0 means all groups). Errors when it cannot work.
pub fn effective_threshold(configured: usize, groups: usize) -> Result<usize> {
    if groups < 2 {
        return Ok(configured);
    }
    let t = if configured == 0 { groups } else { configured };
    if t < 2 || t > groups || t > 255 {
        return Err(Error::InvalidOption(format!(
            "shamir_threshold {t} does not fit {groups} key groups (it must be 2 to {groups})"
        )));
    }
    Ok(t)
}

/// Encrypts `key` for the given groups of recipients. Returns the key groups
/// for the metadata. `threshold` must come from [`effective_threshold`].
pub fn wrap(
    key: &DataKey,
    groups: &[Vec<AgeRecipient>],
    threshold: usize,
) -> Result<Vec<KeyGroup>> {
    if groups.is_empty() || groups.iter().all(|g| g.is_empty()) {
        return Err(Error::NoRecipients);
    }
    if let Some(i) = groups.iter().position(|g| g.is_empty()) {
        return Err(Error::InvalidOption(format!(
            "key group {i} has no age recipients"
        )));
    }
    let shares = if groups.len() == 1 {
        None
    } else {
        Some(shamir::split(
            key.expose(),
            groups.len() as u8,
            threshold as u8,
        )?)
    };
    groups
        .iter()
        .enumerate()
        .map(|(i, recipients)| {
            let payload: &[u8] = match &shares {
                Some(s) => &s[i],
                None => key.expose(),
            };
            let age = recipients
                .iter()
                .map(|r| {
                    Ok(AgeKey {
                        recipient: r.as_str().to_string(),
                        enc: age::wrap(r, payload)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(KeyGroup {
                age,
                other: Vec::new(),
            })
        })
        .collect()
}

/// Recovers the data key of a file with the identities at hand. The error
/// says, group by group, which recipients were tried, and where identities
/// were looked for.
pub fn recover(metadata: &Metadata, identities: &Identities) -> Result<DataKey> {
    let mut report = String::new();
    let mut parts = Vec::new();
    for (gi, group) in metadata.key_groups.iter().enumerate() {
        let mut found = None;
        for key in &group.age {
            match age::unwrap(identities, &key.enc) {
                Ok(Some(part)) => {
                    found = Some(part);
                    break;
                }
                Ok(None) => {
                    let _ = writeln!(
                        report,
                        "  group {gi}: {}: no identity matched",
                        key.recipient
                    );
                }
                Err(e) => {
                    let _ = writeln!(report, "  group {gi}: {}: {e}", key.recipient);
                }
            }
        }
        if group.has_other_keys() {
            let kinds: Vec<&str> = group.other.iter().map(|(k, _)| k.as_str()).collect();
            let _ = writeln!(
                report,
                "  group {gi}: {} keys are not supported by nsec",
                kinds.join(", ")
            );
        }
        if let Some(part) = found {
            parts.push(part);
        }
    }
    let suffix = identities.report_suffix();
    let tried = match identities.loaded_locations() {
        [] => "No identities were loaded".to_string(),
        loaded => format!(
            "Tried {} identit{} from '{}'",
            identities.len(),
            if identities.len() == 1 { "y" } else { "ies" },
            loaded.join("', '")
        ),
    };
    let locations = format!("{tried}{suffix}");
    let no_key = |report: String| Error::NoDataKey {
        report: format!("{report}{locations}"),
    };
    if metadata.key_groups.len() <= 1 {
        return match parts.pop() {
            Some(k) => DataKey::from_slice(&k)
                .ok_or_else(|| Error::InvalidMetadata("the data key is not 32 bytes".into())),
            None => Err(no_key(report)),
        };
    }
    let needed = if metadata.shamir_threshold == 0 {
        // sops combines whatever it got when no threshold is recorded.
        2
    } else {
        metadata.shamir_threshold
    };
    if parts.len() < needed {
        return Err(no_key(format!(
            "  Recovery failed because the file was encrypted with a Shamir threshold of {needed}, but only {} part(s) were successfully recovered\n{report}",
            parts.len()
        )));
    }
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    let key = shamir::combine(&refs)?;
    DataKey::from_slice(&key)
        .ok_or_else(|| Error::InvalidMetadata("the combined data key is not 32 bytes".into()))
}
