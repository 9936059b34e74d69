//! Style analysis: which scalar styles can write a string (go-yaml v3's
//! `yaml_emitter_analyze_scalar` in `emitterc.go`, the parts that matter in
//! block context, and the character classes of `yamlprivateh.go`), with a
//! byte-table fast path for the common case.

/// go-yaml's `is_printable` (with unicode output enabled).
pub(super) fn is_printable(c: char) -> bool {
    let v = c as u32;
    v == 0x0A
        || (0x20..=0x7E).contains(&v)
        || (0xA0..=0xD7FF).contains(&v)
        || ((0xE000..=0xFFFD).contains(&v) && v != 0xFEFF)
}

pub(super) fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Byte classes for [`analyze_simple`]: bits that a byte sets.
const SIMPLE_BAD: u8 = 1;
/// A flow indicator (`,` `[` `]` `{` `}` `?`, and `:` before more text).
const SIMPLE_FLOW: u8 = 2;

/// What each byte contributes to [`analyze_simple`]: letters, digits and
/// the punctuation that never matters to YAML contribute nothing; flow
/// indicators only rule out flow-plain style (they cannot end a block-plain
/// scalar); anything else sends the string to the full analysis.
const SIMPLE_CLASS: [u8; 256] = {
    let mut t = [SIMPLE_BAD; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            t[b] = 0;
        }
        b += 1;
    }
    let quiet = b"_-./+=()$;~^<>";
    let mut i = 0;
    while i < quiet.len() {
        t[quiet[i] as usize] = 0;
        i += 1;
    }
    let flow = b",[]{}?:";
    let mut i = 0;
    while i < flow.len() {
        t[flow[i] as usize] = SIMPLE_FLOW;
        i += 1;
    }
    t
};

/// The common case of [`analyze`], decided from the bytes alone: a
/// non-empty ASCII string of letters, digits and the punctuation that never
/// matters to YAML (as in keys and `ENC[…]` values) allows every style but
/// is not multi-line. `None` sends everything else to the full analysis.
///
/// Branch-free over the bytes: this runs on every key and value written,
/// and a `match` per byte was most of the time spent writing large files.
fn analyze_simple(s: &str) -> Option<Analysis> {
    let bytes = s.as_bytes();
    let (&last, body) = bytes.split_last()?;
    let first = bytes[0];
    if !(first.is_ascii_alphanumeric() || first == b'_' || first == b'/' || first == b'.')
        || s.starts_with("...")
    {
        return None;
    }
    // `:` makes a block indicator before whitespace (a bad byte anyway) or
    // at the end: that case is left to the full analysis.
    if last == b':' {
        return None;
    }
    let class = body
        .iter()
        .fold(0u8, |acc, &b| acc | SIMPLE_CLASS[b as usize])
        | SIMPLE_CLASS[last as usize];
    if class & SIMPLE_BAD != 0 {
        return None;
    }
    Some(Analysis {
        multiline: false,
        flow_plain_allowed: class & SIMPLE_FLOW == 0,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    })
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Analysis {
    pub(super) multiline: bool,
    pub(super) flow_plain_allowed: bool,
    pub(super) block_plain_allowed: bool,
    pub(super) single_quoted_allowed: bool,
    pub(super) block_allowed: bool,
}

/// go-yaml's `yaml_emitter_analyze_scalar`, the parts that matter in block
/// context.
pub(super) fn analyze(s: &str) -> Analysis {
    analyze_simple(s).unwrap_or_else(|| analyze_full(s))
}

/// [`analyze`] without the fast path.
fn analyze_full(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            flow_plain_allowed: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let mut flow_indicators = block_indicators;
    let mut line_breaks = false;
    let mut special = false;
    let mut tabs = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let mut break_space = false;
    let mut space_break = false;
    let mut previous_space = false;
    let mut previous_break = false;
    let mut preceded_by_whitespace = true;
    let mut iter = s.chars().peekable();
    let mut i = 0;
    while let Some(c) = iter.next() {
        let next = iter.peek().copied();
        let last = next.is_none();
        let followed_by_whitespace = next.is_none_or(|n| matches!(n, ' ' | '\t') || is_break(n));
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                '?' | ':' => {
                    flow_indicators = true;
                    block_indicators |= followed_by_whitespace;
                }
                '-' if followed_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_indicators = true,
                ':' => {
                    flow_indicators = true;
                    block_indicators |= followed_by_whitespace;
                }
                '#' if preceded_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        }
        if c == '\t' {
            tabs = true;
        } else if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = matches!(c, ' ' | '\t') || is_break(c);
        i += 1;
    }
    let mut a = Analysis {
        multiline: line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || tabs || special {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_allowed = false;
    }
    if line_breaks {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if flow_indicators {
        a.flow_plain_allowed = false;
    }
    if block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The fast path of the scalar analysis decides as the full one.
        #[test]
        fn simple_analysis_agrees(s in "[a-zA-Z0-9_./:,\\[\\]{}?+=()$;~^<>#&*!|'\"%@` \n-]{0,12}") {
            if let Some(fast) = analyze_simple(&s) {
                prop_assert_eq!(fast, analyze_full(&s), "{:?}", s);
            }
        }
    }
}
