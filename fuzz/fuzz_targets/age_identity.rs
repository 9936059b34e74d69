//! age identity files (`SOPS_AGE_KEY_FILE`, `keys.txt`, `SOPS_AGE_KEY`,
//! passphrase-encrypted identity files) and recipient strings:
//! `parse_identity_source` and `AgeRecipient::parse` never panic, and their
//! errors never show the input's key material (a secret key pasted where a
//! recipient belongs must not be echoed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsec_fuzz::no_key_material;
use secrets_core::fuzzing::{identities_report, parse_identity_source};
use secrets_core::keys::age::{parse_recipient_list, AgeRecipient};
use secrets_core::Identities;
use secrets_core::NoCallbacks;

fuzz_target!(|data: &[u8]| {
    match parse_identity_source("fuzz-input", data, NoCallbacks) {
        Ok(identities) => {
            // Each identity can be asked for a file key.
            for id in &identities {
                let _ = id.unwrap_stanzas(&[]);
            }
        }
        Err(reason) => no_key_material(&[data], &reason),
    }
    let mut found = Identities::new();
    found.add_source("fuzz-input", data, NoCallbacks);
    no_key_material(&[data], &identities_report(&found));
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        match AgeRecipient::parse(line) {
            Ok(r) => {
                let again = AgeRecipient::parse(r.as_str()).expect("a parsed recipient parses");
                assert_eq!(again.as_str(), r.as_str());
            }
            Err(e) => no_key_material(&[data], &e.to_string()),
        }
    }
    if let Err(e) = parse_recipient_list(&text) {
        no_key_material(&[data], &e.to_string());
    }
});
