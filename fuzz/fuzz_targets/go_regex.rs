//! `GoRegex` (Go's `regexp` meaning on the `regex` crate): any pattern
//! compiles or is refused, never panics; a compiled one keeps its text and
//! matches any text without panicking; and a pattern with nothing that
//! needs Go's meaning (no escape, bracket, count or flag group) matches as
//! the `regex` crate itself does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secrets_core::GoRegex;

fuzz_target!(|data: &[u8]| {
    // The pattern, a NUL, then the text it is matched against.
    let (pattern, text) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let (Ok(pattern), Ok(text)) = (std::str::from_utf8(pattern), std::str::from_utf8(text)) else {
        return;
    };
    let Ok(re) = GoRegex::new(pattern) else {
        return;
    };
    assert_eq!(re.as_str(), pattern);
    let matched = re.is_match(text);
    let plain = !pattern.contains(['\\', '[', '{', '(']);
    if plain {
        if let Ok(rust) = regex::Regex::new(pattern) {
            assert_eq!(matched, rust.is_match(text), "{pattern:?} on {text:?}");
        }
    }
});
