//! dotenv store: parse → emit → parse gives the same tree exactly (where
//! emit accepts the tree), and emit is stable. Errors show no key material.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsec_fuzz::{no_key_material, RoundTrip, EXACT};
use secrets_core::store::{self, StoreOptions};
use secrets_core::Format;

const CHECK: RoundTrip = RoundTrip {
    format: Format::Dotenv,
    first: EXACT,
    second: EXACT,
};

fuzz_target!(|data: &[u8]| {
    match store::parse(Format::Dotenv, data) {
        Ok(docs) => CHECK.check(data, &docs, &StoreOptions::default()),
        Err(e) => no_key_material(&[data], &e.to_string()),
    }
});
