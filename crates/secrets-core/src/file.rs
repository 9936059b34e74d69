//! A sops file in its two states: [`SopsFile`] (values encrypted) and
//! [`Opened`] (values decrypted, data key at hand).
//!
//! Every operation is a path between these: `encrypt` makes a `SopsFile`
//! from plaintext documents; [`SopsFile::open`] recovers the data key and
//! decrypts; [`Opened::seal`] encrypts again with the same key, reusing the
//! IVs of unchanged values so diffs stay small; [`Opened::seal_with_new_key`]
//! rotates the data key.

use crate::cipher::{Cipher, IvCache};
use crate::crypt;
use crate::error::{Error, Result};
use crate::format::Format;
use crate::keys::age::AgeRecipient;
use crate::keys::discovery::Identities;
use crate::keys::groups::GroupKeys;
use crate::keys::{groups, DataKey};
use crate::mac;
use crate::metadata::{KeyGroup, Metadata, Selector, SOPS_VERSION};
use crate::store::{self, StoreOptions};
use crate::time::Timestamp;
use crate::tree::Map;

/// What to encrypt to, and which values.
#[derive(Clone, Debug, Default)]
pub struct EncryptOptions {
    /// Master keys per key group (one group in the usual case).
    pub key_groups: Vec<GroupKeys>,
    /// Groups needed to decrypt (0: all), with two or more groups.
    pub shamir_threshold: usize,
    /// Which values to encrypt; `None` is sops' default `_unencrypted` suffix.
    pub selector: Option<Selector>,
    /// Keep plaintext values out of the MAC.
    pub mac_only_encrypted: bool,
}

/// How to decrypt.
#[derive(Clone, Copy, Debug, Default)]
pub struct DecryptOptions {
    /// Skip the MAC check (sops' `--ignore-mac`).
    pub ignore_mac: bool,
    /// The result is only read (`decrypt`): no IVs are remembered for
    /// re-encryption, and an empty comment inside a list becomes an empty
    /// string item, as `sops decrypt` prints it. Sealing such an [`Opened`]
    /// still works but gives every value a fresh IV and keeps that item.
    pub read_only: bool,
}

/// An encrypted sops file: documents whose selected values are `ENC[…]`
/// strings, and the metadata.
#[derive(Clone, Debug)]
pub struct SopsFile {
    /// The store the file is written in.
    pub format: Format,
    /// The documents, without the `sops` section.
    pub documents: Vec<Map>,
    /// The `sops` section.
    pub metadata: Metadata,
}

/// A decrypted sops file, holding its data key.
pub struct Opened {
    /// The store of the file it came from.
    pub format: Format,
    /// The plaintext documents. Change them, then [`Opened::seal`].
    pub documents: Vec<Map>,
    /// The metadata as read.
    pub metadata: Metadata,
    key: DataKey,
    ivs: IvCache,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

fn now() -> String {
    Timestamp::now_utc().to_rfc3339_seconds()
}

/// The selector actually used for a store: the binary store encrypts its one
/// value whatever the selector, and records none.
fn store_selector(format: Format, selector: Option<Selector>) -> Option<Selector> {
    match format {
        Format::Binary => None,
        _ => Some(selector.unwrap_or_else(Selector::default_suffix)),
    }
}

/// Encrypts plaintext documents with a fresh data key. `format` is the store
/// the result will be written in.
pub fn encrypt(format: Format, mut documents: Vec<Map>, opts: &EncryptOptions) -> Result<SopsFile> {
    if store::has_metadata(format, &documents) {
        return Err(Error::AlreadyEncrypted);
    }
    if opts.key_groups.iter().all(|g| g.is_empty()) {
        return Err(Error::NoRecipients);
    }
    let threshold = groups::effective_threshold(opts.shamir_threshold, opts.key_groups.len())?;
    let key = DataKey::generate();
    let selector = store_selector(format, opts.selector.clone());
    let cipher = Cipher::new(&key);
    let effective = selector.clone().unwrap_or_else(Selector::default_suffix);
    let mac = crypt::encrypt_documents(
        &mut documents,
        &cipher,
        &effective,
        opts.mac_only_encrypted,
        None,
    )?;
    let key_groups = groups::wrap(&key, &opts.key_groups, threshold)?;
    let lastmodified = now();
    let metadata = Metadata {
        key_groups,
        shamir_threshold: if opts.key_groups.len() > 1 {
            threshold
        } else {
            opts.shamir_threshold
        },
        mac: mac::seal(&cipher, &mac, &lastmodified)?,
        lastmodified,
        selector,
        mac_only_encrypted: opts.mac_only_encrypted,
        version: SOPS_VERSION.to_string(),
        unknown: Vec::new(),
    };
    Ok(SopsFile {
        format,
        documents,
        metadata,
    })
}

impl SopsFile {
    /// Parses an encrypted file of the given store.
    pub fn parse(format: Format, input: &[u8]) -> Result<SopsFile> {
        let (documents, tree) = store::parse_encrypted(format, input).map_err(|e| match e {
            Error::Parse { format, message } => Error::ParseEncrypted { format, message },
            other => other,
        })?;
        Ok(SopsFile {
            format,
            documents,
            metadata: Metadata::from_tree(&tree)?,
        })
    }

    /// Writes the file in its own store.
    pub fn to_bytes(&self, opts: &StoreOptions) -> Result<Vec<u8>> {
        self.to_bytes_as(self.format, opts)
    }

    /// [`SopsFile::to_bytes`] in parts that, written one after the other,
    /// are the file: a large YAML file is written by two threads, and its
    /// two halves are not joined in memory (see [`crate::fs::write_atomic_parts`]).
    pub fn to_byte_parts(&self, opts: &StoreOptions) -> Result<Vec<Vec<u8>>> {
        store::emit_encrypted_parts(
            self.format,
            &self.documents,
            &self.metadata.to_tree(self.format),
            opts,
        )
    }

    /// Writes the file in another store (`--output-type`).
    pub fn to_bytes_as(&self, format: Format, opts: &StoreOptions) -> Result<Vec<u8>> {
        store::emit_encrypted(
            format,
            &self.documents,
            &self.metadata.to_tree(format),
            opts,
        )
    }

    /// Recovers the data key with the identities at hand.
    pub fn data_key(&self, identities: &Identities) -> Result<DataKey> {
        groups::recover(&self.metadata, identities)
    }

    /// Recovers the data key and decrypts every value, checking the MAC
    /// unless told not to.
    pub fn open(self, identities: &Identities, opts: DecryptOptions) -> Result<Opened> {
        let key = self.data_key(identities)?;
        self.open_with_key(key, opts)
    }

    /// Decrypts with a data key obtained elsewhere.
    pub fn open_with_key(self, key: DataKey, opts: DecryptOptions) -> Result<Opened> {
        let SopsFile {
            format,
            mut documents,
            metadata,
        } = self;
        let cipher = Cipher::new(&key);
        let selector = metadata.effective_selector();
        let (computed, ivs) = crypt::decrypt_documents(
            &mut documents,
            &cipher,
            &selector,
            metadata.mac_only_encrypted,
            opts.read_only,
        )?;
        if !opts.ignore_mac {
            mac::verify(&cipher, &metadata.mac, &metadata.lastmodified, &computed)?;
        }
        Ok(Opened {
            format,
            documents,
            metadata,
            key,
            ivs,
        })
    }

    /// Replaces the master keys (keeping the data key, as sops'
    /// `updatekeys` does). `lastmodified` and the MAC do not change.
    pub fn rewrap(&mut self, key: &DataKey, groups: &[GroupKeys], threshold: usize) -> Result<()> {
        install_key_groups(&mut self.metadata, key, groups, threshold, false)
    }
}

/// Wraps `key` for `groups` into the metadata. Master keys of kinds nsec
/// cannot encrypt to (GCP KMS, Azure Key Vault, Vault) are kept from the
/// old groups; the threshold is set for several groups and never raised
/// for one.
fn install_key_groups(
    metadata: &mut Metadata,
    key: &DataKey,
    groups: &[GroupKeys],
    threshold: usize,
    new_key: bool,
) -> Result<()> {
    // GCP KMS/Azure/Vault entries hold the data key (or a share of it)
    // encrypted by services nsec does not talk to. They stay valid only
    // while the key and its single-group layout stay; otherwise they would
    // hold a stale key.
    let split = groups.len() > 1 || metadata.key_groups.len() > 1;
    if new_key || split {
        let kinds: std::collections::BTreeSet<&str> = metadata
            .key_groups
            .iter()
            .flat_map(|g| g.unsupported_kinds())
            .collect();
        if !kinds.is_empty() {
            return Err(Error::InvalidOption(format!(
                "this file also has {} master keys; nsec cannot encrypt a {} for them, so this change would leave them holding a stale key (use sops for it, or remove those keys first)",
                kinds.into_iter().collect::<Vec<_>>().join(", "),
                if new_key { "new data key" } else { "key-group share" }
            )));
        }
    }
    let threshold = groups::effective_threshold(threshold, groups.len())?;
    let mut new_groups = groups::wrap(key, groups, threshold)?;
    keep_other_keys(&metadata.key_groups, &mut new_groups);
    metadata.key_groups = new_groups;
    metadata.shamir_threshold = if groups.len() > 1 {
        threshold
    } else {
        metadata.shamir_threshold.min(threshold)
    };
    Ok(())
}

/// Master keys of kinds nsec cannot encrypt to are kept in the group of the
/// same position, so rewriting never drops another tool's keys. (PGP and
/// KMS keys are encrypted anew, from `groups`.)
fn keep_other_keys(old: &[KeyGroup], new: &mut [KeyGroup]) {
    for (o, n) in old.iter().zip(new.iter_mut()) {
        for (kind, v) in &o.other {
            if crate::metadata::UNSUPPORTED_KEY_TYPES.contains(&kind.as_str()) {
                n.other.push((kind.clone(), v.clone()));
            }
        }
    }
}

impl Opened {
    /// The data key.
    pub fn data_key(&self) -> &DataKey {
        &self.key
    }

    /// Writes the plaintext in a store (`sops decrypt` output).
    pub fn plaintext(&self, format: Format, opts: &StoreOptions) -> Result<Vec<u8>> {
        store::emit(format, &self.documents, opts)
    }

    /// Encrypts again with the same data key. Unchanged values keep their
    /// ciphertexts; `lastmodified` is set to now and the MAC recomputed.
    pub fn seal(self) -> Result<SopsFile> {
        self.seal_at(now())
    }

    /// Encrypts again with the same data key, the MAC sealed with
    /// `lastmodified`.
    fn seal_at(self, lastmodified: String) -> Result<SopsFile> {
        let Opened {
            format,
            mut documents,
            mut metadata,
            key,
            ivs,
        } = self;
        let cipher = Cipher::new(&key);
        let selector = metadata.effective_selector();
        let mac = crypt::encrypt_documents(
            &mut documents,
            &cipher,
            &selector,
            metadata.mac_only_encrypted,
            Some(&ivs),
        )?;
        metadata.lastmodified = lastmodified;
        metadata.mac = mac::seal(&cipher, &mac, &metadata.lastmodified)?;
        Ok(SopsFile {
            format,
            documents,
            metadata,
        })
    }

    /// Encrypts with a new data key for the given key groups (sops'
    /// `rotate`). IVs are reused, but every ciphertext changes with the key.
    pub fn seal_with_new_key(mut self, groups: &[GroupKeys], threshold: usize) -> Result<SopsFile> {
        let key = DataKey::generate();
        install_key_groups(&mut self.metadata, &key, groups, threshold, true)?;
        self.key = key;
        self.seal()
    }

    /// Re-keys the store's way: a new data key for the given key groups,
    /// every value re-encrypted, but `lastmodified` kept. No value changed,
    /// so a secret's rotation clock (`nsec validate`'s W060, which counts
    /// from `lastmodified`) keeps running until its value is changed.
    pub fn rekey(mut self, groups: &[GroupKeys], threshold: usize) -> Result<SopsFile> {
        let key = DataKey::generate();
        install_key_groups(&mut self.metadata, &key, groups, threshold, true)?;
        self.key = key;
        let lastmodified = self.metadata.lastmodified.clone();
        self.seal_at(lastmodified)
    }

    /// The master keys of the file, group by group, parsed.
    pub fn recipient_groups(&self) -> Result<Vec<GroupKeys>> {
        recipient_groups(&self.metadata)
    }
}

/// The master keys of a file's metadata that nsec can encrypt to (age
/// recipients, PGP fingerprints, AWS KMS keys), group by group.
pub(crate) fn recipient_groups(metadata: &Metadata) -> Result<Vec<GroupKeys>> {
    metadata
        .key_groups
        .iter()
        .map(|g| {
            Ok(GroupKeys {
                age: g
                    .age
                    .iter()
                    .map(|k| AgeRecipient::parse(&k.recipient))
                    .collect::<Result<_>>()?,
                pgp: g
                    .pgp_entries()?
                    .into_iter()
                    .map(|e| e.fingerprint)
                    .collect(),
                kms: g.kms_entries()?.into_iter().map(|e| e.key).collect(),
            })
        })
        .collect()
}
