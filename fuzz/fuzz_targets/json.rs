//! JSON store: parse → emit → parse gives the same tree exactly, with tab
//! (sops' default) and 2-space indentation, and emit is stable. Errors show
//! no key material.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsec_fuzz::{no_key_material, RoundTrip, EXACT};
use secrets_core::store::{self, StoreOptions};
use secrets_core::Format;

const CHECK: RoundTrip = RoundTrip {
    format: Format::Json,
    first: EXACT,
    second: EXACT,
};

fuzz_target!(|data: &[u8]| {
    match store::parse(Format::Json, data) {
        Ok(docs) => {
            CHECK.check(data, &docs, &StoreOptions::default());
            let two = StoreOptions {
                json_indent: Some(2),
                ..StoreOptions::default()
            };
            CHECK.check(data, &docs, &two);
        }
        Err(e) => no_key_material(&[data], &e.to_string()),
    }
});
