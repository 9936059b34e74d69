//! The fast YAML reader agrees with granit-parser event for event (with
//! positions) on everything it takes, and never takes what granit rejects.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secrets_core::fuzzing::yaml_fast_agrees;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(difference) = yaml_fast_agrees(text) {
        panic!("{difference}");
    }
});
