//! The fast YAML reader agrees with granit-parser event for event (with
//! positions) on everything it takes, and never takes what granit rejects;
//! and reading a document in two halves (as a large one is, one half per
//! thread) gives what reading it whole gives, at every place it may be cut.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secrets_core::fuzzing::{yaml_fast_agrees, yaml_halves_agree};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(difference) = yaml_fast_agrees(text) {
        panic!("{difference}");
    }
    if let Err(difference) = yaml_halves_agree(text) {
        panic!("{difference}");
    }
});
