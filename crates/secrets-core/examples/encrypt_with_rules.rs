//! Encrypt a file by the `.sops.yaml` creation rules, then decrypt it, with
//! the one-call API. Runs in a scratch directory with a throwaway key:
//!
//!     cargo run -p secrets-core --example encrypt_with_rules

use secrecy::ExposeSecret;
use secrets_core::keys::ssh_to_age;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let (identity, recipient) = ssh_to_age::generate_x25519();

    // A store: creation rules, and one plaintext secret.
    std::fs::write(
        dir.path().join(".sops.yaml"),
        format!("creation_rules:\n  - path_regex: ^api-keys/\n    age: {recipient}\n"),
    )?;
    std::fs::create_dir(dir.path().join("api-keys"))?;
    let secret = dir.path().join("api-keys/openai.yaml");
    std::fs::write(&secret, "openai: sk-example-not-a-real-key\n")?;

    // Encrypt by the rule that matches `api-keys/openai.yaml`.
    let encrypted = secrets_core::encrypt_file(&secret)?;
    std::fs::write(&secret, &encrypted)?;
    println!(
        "{}",
        String::from_utf8_lossy(&encrypted)
            .lines()
            .next()
            .unwrap_or("")
    );

    // Decrypt with the identity of the environment.
    let keys = dir.path().join("keys.txt");
    std::fs::write(&keys, identity.expose_secret())?;
    std::env::set_var("SOPS_AGE_KEY_FILE", &keys);
    let plaintext = secrets_core::decrypt_file(&secret)?;
    assert_eq!(plaintext, b"openai: sk-example-not-a-real-key\n");
    println!("decrypted {} bytes: round trip ok", plaintext.len());
    Ok(())
}
