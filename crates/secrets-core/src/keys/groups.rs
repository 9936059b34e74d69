//! Wrapping the data key for a file's key groups and recovering it.
//!
//! With one key group the whole data key is encrypted to every master key of
//! the group (age recipients, PGP keys). With several, the key is split with
//! Shamir's scheme: share `i` goes to every master key of group `i`, and any
//! `shamir_threshold` groups recover it.
//!
//! Decryption tries the master keys of a group by type in the
//! [`DecryptionOrder`] (sops' `--decryption-order` / `SOPS_DECRYPTION_ORDER`;
//! by default age, then PGP, then the others: AWS KMS), each in turn, so one
//! key that fails never blocks another that opens the file; when none does,
//! the error names every key that failed and why.

use crate::error::{Error, KeyAttempt, KeyFailure, KeyReport, Result, ShamirShortfall};
use crate::keys::age::{self, AgeRecipient};
use crate::keys::discovery::Identities;
use crate::keys::kms::{KmsEntry, KmsKey};
use crate::keys::pgp::{self, PgpEntry};
use crate::keys::{shamir, DataKey};
use crate::metadata::{AgeKey, KeyGroup, Metadata};

/// The master keys of one key group, to encrypt a data key (or a share) to.
#[derive(Clone, Debug, Default)]
pub struct GroupKeys {
    /// Age recipients.
    pub age: Vec<AgeRecipient>,
    /// PGP fingerprints (keys in the user's GnuPG keyring).
    pub pgp: Vec<String>,
    /// AWS KMS keys.
    pub kms: Vec<KmsKey>,
}

impl GroupKeys {
    /// No master key at all?
    pub fn is_empty(&self) -> bool {
        self.age.is_empty() && self.pgp.is_empty() && self.kms.is_empty()
    }

    /// Every key as shown to people: age recipients, then PGP fingerprints.
    pub fn names(&self) -> Vec<String> {
        self.age
            .iter()
            .map(|r| r.as_str().to_string())
            .chain(self.pgp.iter().cloned())
            .chain(self.kms.iter().map(KmsKey::name))
            .collect()
    }

    /// Adds a KMS key unless the group has it already (same ARN, role,
    /// context and profile).
    pub fn add_kms(&mut self, key: &KmsKey) {
        if !self.kms.contains(key) {
            self.kms.push(key.clone());
        }
    }

    /// Adds a key unless the group has it already.
    pub fn add_pgp(&mut self, fp: &str) {
        if !self.pgp.iter().any(|k| k == fp) {
            self.pgp.push(fp.to_string());
        }
    }
}

impl From<Vec<AgeRecipient>> for GroupKeys {
    fn from(age: Vec<AgeRecipient>) -> GroupKeys {
        GroupKeys {
            age,
            ..GroupKeys::default()
        }
    }
}

/// The threshold sops uses for `groups` groups when `configured` is given
/// (0 means all groups). Errors when it cannot work.
pub(crate) fn effective_threshold(configured: usize, groups: usize) -> Result<usize> {
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

/// Encrypts `key` for the given groups of master keys. Returns the key
/// groups for the metadata. `threshold` must come from
/// `effective_threshold`.
pub(crate) fn wrap(key: &DataKey, groups: &[GroupKeys], threshold: usize) -> Result<Vec<KeyGroup>> {
    if groups.is_empty() || groups.iter().all(|g| g.is_empty()) {
        return Err(Error::NoRecipients);
    }
    if let Some(i) = groups.iter().position(|g| g.is_empty()) {
        return Err(Error::InvalidOption(format!(
            "key group {i} has no master keys"
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
        .map(|(i, keys)| {
            let payload: &[u8] = match &shares {
                Some(s) => &s[i],
                None => key.expose(),
            };
            let age = keys
                .age
                .iter()
                .map(|r| {
                    Ok(AgeKey {
                        recipient: r.as_str().to_string(),
                        enc: age::wrap(r, payload)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let mut group = KeyGroup {
                age,
                other: Vec::new(),
            };
            let created_at = crate::time::Timestamp::now_utc().to_rfc3339_seconds();
            let pgp = keys
                .pgp
                .iter()
                .map(|fp| {
                    Ok(PgpEntry {
                        fingerprint: fp.clone(),
                        created_at: created_at.clone(),
                        enc: pgp::encrypt(fp, payload)?,
                    }
                    .to_value())
                })
                .collect::<Result<Vec<_>>>()?;
            group.set_other("pgp", pgp);
            let kms = keys
                .kms
                .iter()
                .map(|k| {
                    Ok(KmsEntry {
                        key: k.clone(),
                        created_at: created_at.clone(),
                        enc: k.encrypt(crate::keys::kms::process_env(), payload)?,
                    }
                    .to_value())
                })
                .collect::<Result<Vec<_>>>()?;
            group.set_other("kms", kms);
            Ok(group)
        })
        .collect()
}

/// Tries the PGP keys of a group in turn (through gpg); failures go to the
/// report.
fn recover_pgp(
    gi: usize,
    group: &KeyGroup,
    report: &mut Vec<KeyAttempt>,
) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
    for entry in group.pgp_entries()? {
        let (key, why) = match pgp::decrypt(&entry.fingerprint, &entry.enc) {
            Ok(part) => return Ok(Some(part)),
            Err(Error::Pgp {
                fingerprint,
                reason,
            }) => (fingerprint, reason),
            Err(e) => (entry.fingerprint.clone(), e.to_string()),
        };
        report.push(attempt(gi, "pgp", key, KeyFailure::Failed(why)));
    }
    Ok(None)
}

/// Tries the AWS KMS keys of a group in turn; failures go to the report.
/// Does nothing for a group without KMS entries, so age-only files never
/// touch the network.
fn recover_kms(
    gi: usize,
    group: &KeyGroup,
    report: &mut Vec<KeyAttempt>,
) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
    for entry in group.kms_entries()? {
        let why = match entry
            .key
            .decrypt(crate::keys::kms::process_env(), &entry.enc)
        {
            Ok(part) => return Ok(Some(part)),
            Err(Error::Kms { reason, .. }) => reason,
            Err(e) => e.to_string(),
        };
        report.push(attempt(
            gi,
            "kms",
            entry.key.name(),
            KeyFailure::Failed(why),
        ));
    }
    Ok(None)
}

/// The order in which the master keys of a key group are tried, by type:
/// sops' `--decryption-order` flag and `SOPS_DECRYPTION_ORDER` variable.
///
/// As in sops 3.11: a comma-separated list of key type names (`age`, `pgp`,
/// `kms`, `gcp_kms`, `azure_kv`, `hc_vault`), taken as written (no spaces
/// trimmed); names that match no type are ignored; a name given twice is an
/// error. Types not listed come after the listed ones, in the order sops
/// keeps a group's keys: `kms`, `gcp_kms`, `azure_kv`, `hc_vault`, `pgp`,
/// `age`. The default is `age,pgp`: so KMS, which needs the network, is
/// tried only when no age or PGP key opened the group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptionOrder(Vec<String>);

impl Default for DecryptionOrder {
    fn default() -> DecryptionOrder {
        DecryptionOrder(vec!["age".into(), "pgp".into()])
    }
}

/// The key types in the order sops stores them in a group (its
/// `internalGroupFrom`), which the decryption order sorts stably.
const GROUP_ORDER: [&str; 6] = ["kms", "gcp_kms", "azure_kv", "hc_vault", "pgp", "age"];

impl DecryptionOrder {
    /// The environment variable sops reads.
    pub const VAR: &'static str = "SOPS_DECRYPTION_ORDER";

    /// Parses the flag's value; "" is the default order.
    pub fn parse(text: &str) -> Result<DecryptionOrder> {
        if text.is_empty() {
            return Ok(DecryptionOrder::default());
        }
        let names: Vec<String> = text.split(',').map(str::to_string).collect();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(Error::InvalidOption(format!(
                    "duplicate decryption key type `{name}` in the decryption order `{text}`"
                )));
            }
        }
        Ok(DecryptionOrder(names))
    }

    /// The key types of a group in the order they are tried.
    pub fn kinds(&self) -> Vec<&'static str> {
        let rank = |kind: &str| {
            self.0
                .iter()
                .position(|k| k == kind)
                .unwrap_or(self.0.len())
        };
        let mut kinds = GROUP_ORDER.to_vec();
        kinds.sort_by_key(|k| rank(k));
        kinds
    }
}

/// Tries the age keys of a group in turn; failures go to the report.
fn recover_age(
    gi: usize,
    group: &KeyGroup,
    identities: &Identities,
    report: &mut Vec<KeyAttempt>,
) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    for key in &group.age {
        let failure = match age::unwrap(identities, &key.enc) {
            Ok(Some(part)) => return Some(part),
            Ok(None) => KeyFailure::NoIdentity,
            Err(e) => KeyFailure::Failed(e.to_string()),
        };
        report.push(attempt(gi, "age", key.recipient.clone(), failure));
    }
    None
}

fn attempt(group: usize, kind: &'static str, key: String, failure: KeyFailure) -> KeyAttempt {
    KeyAttempt {
        group,
        kind,
        key,
        failure,
    }
}

/// Recovers the data key of a file with the identities at hand, trying each
/// group's keys in the identities' [`DecryptionOrder`]. The error says,
/// group by group, which recipients were tried, and where identities were
/// looked for.
pub(crate) fn recover(metadata: &Metadata, identities: &Identities) -> Result<DataKey> {
    let mut report = Vec::new();
    let mut parts = Vec::new();
    let kinds = identities.decryption_order().kinds();
    for (gi, group) in metadata.key_groups.iter().enumerate() {
        let unsupported = group.unsupported_kinds();
        let mut found = None;
        for kind in &kinds {
            found = match *kind {
                "age" => recover_age(gi, group, identities, &mut report),
                "pgp" => recover_pgp(gi, group, &mut report)?,
                "kms" => recover_kms(gi, group, &mut report)?,
                other => {
                    if unsupported.contains(&other) {
                        report.push(attempt(gi, other, String::new(), KeyFailure::Unsupported));
                    }
                    None
                }
            };
            if found.is_some() {
                break;
            }
        }
        if let Some(part) = found {
            parts.push(part);
        }
    }
    let no_key = |attempts: Vec<KeyAttempt>, shamir: Option<ShamirShortfall>| Error::NoDataKey {
        report: Box::new(KeyReport {
            attempts,
            shamir,
            ..identities.key_report()
        }),
    };
    if metadata.key_groups.len() <= 1 {
        return match parts.pop() {
            Some(k) => DataKey::from_slice(&k)
                .ok_or_else(|| Error::InvalidMetadata("the data key is not 32 bytes".into())),
            None => Err(no_key(report, None)),
        };
    }
    let needed = if metadata.shamir_threshold == 0 {
        // sops combines whatever it got when no threshold is recorded.
        2
    } else {
        metadata.shamir_threshold
    };
    if parts.len() < needed {
        let shortfall = ShamirShortfall {
            needed,
            recovered: parts.len(),
        };
        return Err(no_key(report, Some(shortfall)));
    }
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    let key = shamir::combine(&refs)?;
    DataKey::from_slice(&key)
        .ok_or_else(|| Error::InvalidMetadata("the combined data key is not 32 bytes".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sops 3.11's `sortKeyGroupIndices`: a stable sort of the group's
    /// kms, gcp_kms, azure_kv, hc_vault, pgp, age keys by rank in the order.
    #[test]
    fn decryption_order_as_sops_sorts_a_group() {
        let kinds = |text: &str| DecryptionOrder::parse(text).unwrap().kinds();
        let default = ["age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault"];
        assert_eq!(kinds(""), default);
        assert_eq!(kinds("age,pgp"), default);
        assert_eq!(
            kinds("kms"),
            ["kms", "gcp_kms", "azure_kv", "hc_vault", "pgp", "age"]
        );
        assert_eq!(
            kinds("pgp"),
            ["pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "age"]
        );
        assert_eq!(
            kinds("kms,age"),
            ["kms", "age", "gcp_kms", "azure_kv", "hc_vault", "pgp"]
        );
        // Names are taken as written: " pgp" is no type, so it is ignored.
        assert_eq!(
            kinds("age, pgp"),
            ["age", "kms", "gcp_kms", "azure_kv", "hc_vault", "pgp"]
        );
        let err = DecryptionOrder::parse("age,pgp,age")
            .unwrap_err()
            .to_string();
        assert!(err.contains("duplicate decryption key type `age`"), "{err}");
    }
}
