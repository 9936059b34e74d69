//! Where the tests find the real programs they compare nsec with.
//!
//! One rule for every oracle, shared by the unit tests and the integration
//! tests (`tests/common` includes this file): the environment variable
//! `NSEC_TEST_<NAME>` (`NSEC_TEST_SOPS`, `NSEC_TEST_AGE_KEYGEN`, …), which
//! `scripts/test.sh` sets, else `.test-tools/bin/<name>` in the checkout,
//! where `scripts/test.sh` installs or links it. Never a path outside the
//! checkout that only one machine has, and never a silent skip: a missing
//! tool fails the test and says how to get it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The checkout's root (two levels above the crate that includes this file).
fn checkout_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The environment variable that names `tool`: `NSEC_TEST_` and the name in
/// upper case with `-` as `_`.
pub fn tool_env_var(tool: &str) -> String {
    format!("NSEC_TEST_{}", tool.to_ascii_uppercase().replace('-', "_"))
}

/// The real program `tool` (`sops`, `age`, `age-keygen`, `ssh-keygen`, `wg`,
/// `nix-instantiate`, `gpg`, `git`, …). Panics (fails the test) when it is
/// missing, naming where it looked.
pub fn tool(tool: &str) -> PathBuf {
    let var = tool_env_var(tool);
    let path = match std::env::var_os(&var) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => checkout_root().join(".test-tools/bin").join(tool),
    };
    assert!(
        path.is_file(),
        "{tool} is missing at {} (run scripts/test.sh, which installs it, or set {var})",
        path.display()
    );
    path
}

/// The real Go sops 3.11 binary.
pub fn sops() -> PathBuf {
    tool("sops")
}

/// The `node_modules` directory holding typage (npm `age-encryption`
/// 0.3.1), the independent age implementation of the post-quantum interop
/// tests: `NSEC_TEST_NODE_MODULES`, else `.test-tools/node_modules`, where
/// `scripts/test.sh` installs it. Panics (fails the test) when missing.
pub fn node_modules() -> PathBuf {
    let var = tool_env_var("node-modules");
    let path = match std::env::var_os(&var) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => checkout_root().join(".test-tools/node_modules"),
    };
    assert!(
        path.join("age-encryption/package.json").is_file(),
        "age-encryption is missing in {} (run scripts/test.sh, which installs it, or set {var})",
        path.display()
    );
    path
}
