//! What `nsec --version` (and `-V`) prints.
//!
//! `NSEC_VERSION` is set by build.rs: the package version, and the git
//! commit when built from a checkout. The key types are what
//! `secrets_core::keys` handles (`keys/age.rs`, `keys/identities.rs`).

/// The version, the commit if known, and the key types this build supports.
pub const TEXT: &str = concat!(
    env!("NSEC_VERSION"),
    "\n",
    "keys: age X25519 (age1…), post-quantum age MLKEM768-X25519 (age1pq1…, ",
    "AGE-SECRET-KEY-PQ-1…), SSH ed25519 and RSA (ssh-ed25519, ssh-rsa; ",
    "passphrase-protected private keys prompt), age plugins (age1NAME1…, AGE-PLUGIN-…), ",
    "PGP (through gpg, SOPS_GPG_EXEC), AWS KMS (arn:aws:kms:…, with role and encryption context)",
    "\n",
    "not supported: GCP/Azure/HuaweiCloud KMS, HashiCorp Vault transit; ",
    "such keys already in a file are kept on rewrites that keep the data key",
    fault_note!(),
);

/// Test builds say that they inject faults (the crash tests check it).
#[cfg(feature = "fault-injection")]
macro_rules! fault_note {
    () => {
        "\nTEST BUILD: fault injection compiled in (NSEC_TEST_FAULT_AT, NSEC_TEST_PANIC_AT, NSEC_TEST_FAIL_AFTER)"
    };
}
#[cfg(not(feature = "fault-injection"))]
macro_rules! fault_note {
    () => {
        ""
    };
}
use fault_note;
