//! INI store: parse → emit → parse gives the same values (where emit
//! accepts the tree), and from then on emit → parse is a fixed point,
//! comments included, bytes too. Errors show no key material.
//!
//! The first round may change comments as go-ini (and so sops) does: an
//! empty `;` comment is not written, and the later lines of a multi-line
//! comment are written as `; text` with their spacing trimmed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsec_fuzz::{no_key_material, Compare, RoundTrip, EXACT};
use secrets_core::store::{self, StoreOptions};
use secrets_core::Format;

const CHECK: RoundTrip = RoundTrip {
    format: Format::Ini,
    first: Compare {
        ignore_comments: true,
        ..EXACT
    },
    second: EXACT,
};

fuzz_target!(|data: &[u8]| {
    match store::parse(Format::Ini, data) {
        Ok(docs) => CHECK.check(data, &docs, &StoreOptions::default()),
        Err(e) => no_key_material(&[data], &e.to_string()),
    }
});
