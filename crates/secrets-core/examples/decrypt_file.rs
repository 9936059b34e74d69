//! Decrypt a file that the real sops 3.11 wrote (from the test-vector
//! corpus, encrypted to a published throwaway key) into a tree and walk it:
//!
//!     cargo run -p secrets-core --example decrypt_file

use secrets_core::{decrypt_file_to_tree, Item, Value};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/vectors");
    // THROWAWAY key of the public test corpus; never use it for real secrets.
    std::env::set_var(
        "SOPS_AGE_KEY_FILE",
        format!("{root}/keys/age-test-key-A.txt"),
    );
    let docs = decrypt_file_to_tree(format!("{root}/cases/yaml-nested/encrypted.yaml"))?;
    for item in &docs[0].items {
        match item {
            Item::Entry(key, Value::Map(m)) => {
                println!("{key}: map with {} entries", m.entries().count())
            }
            Item::Entry(key, Value::List(l)) => println!("{key}: list of {}", l.len()),
            Item::Entry(key, _) => println!("{key}: scalar"),
            Item::Comment(_) => {}
        }
    }
    Ok(())
}
