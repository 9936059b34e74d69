//! SSH keys: private key files (OpenSSH and PEM, as `ssh_identities` loads
//! them for decryption and `ssh_private_to_age` converts them) and public
//! key lines (`ssh_public_to_age`, recipients). The first byte picks the
//! shape: the rest as a whole file, the rest as the binary body of an
//! `OPENSSH PRIVATE KEY` file (base64-wrapped here, so the fuzzer works on
//! the wire format), or the rest as the binary blob of an `ssh-ed25519`
//! public key line. Nothing panics; errors never show the input's key
//! material (the private section, the base64 body).
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use nsec_fuzz::no_key_material;
use secrets_core::fuzzing::ssh_identities;
use secrets_core::keys::age::AgeRecipient;
use secrets_core::keys::ssh_to_age::{ssh_private_to_age, ssh_public_to_age, x25519_public};
use secrets_core::NoCallbacks;

fn pem(body: &[u8]) -> Vec<u8> {
    let encoded = STANDARD.encode(body);
    let mut out = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for chunk in encoded.as_bytes().chunks(70) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    out.into_bytes()
}

fn private_file(file: &[u8], raw: &[u8]) {
    let inputs = [file, raw];
    match ssh_private_to_age(file) {
        Ok(identity) => {
            // What ssh-to-age prints is a valid age identity.
            x25519_public(&identity).expect("a converted key is an age identity");
        }
        Err(e) => no_key_material(&inputs, &e.to_string()),
    }
    if let Err(reason) = ssh_identities("fuzz-input", file, NoCallbacks) {
        no_key_material(&inputs, &reason);
    }
}

fn public_line(line: &str) {
    match ssh_public_to_age(line) {
        Ok(recipient) => {
            AgeRecipient::parse(&recipient).expect("a converted key is an age recipient");
        }
        Err(e) => no_key_material(&[line.as_bytes()], &e.to_string()),
    }
    if let Err(e) = AgeRecipient::parse(line) {
        no_key_material(&[line.as_bytes()], &e.to_string());
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&shape, data)) = input.split_first() else {
        return;
    };
    match shape % 3 {
        0 => {
            private_file(data, data);
            public_line(&String::from_utf8_lossy(data));
        }
        1 => private_file(&pem(data), data),
        _ => public_line(&format!("ssh-ed25519 {} comment", STANDARD.encode(data))),
    }
});
