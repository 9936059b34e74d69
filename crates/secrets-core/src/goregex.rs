//! Regular expressions as sops reads them: Go's `regexp` (RE2 syntax), run
//! on the `regex` crate.
//!
//! sops matches `path_regex` against file paths and the selector regexes
//! (`encrypted_regex`, `unencrypted_regex` and the comment regexes) against
//! keys and comments, so a pattern that matches differently here than in Go
//! would encrypt a value sops leaves alone or, worse, leave in plaintext a
//! value sops encrypts. The two syntaxes mostly agree. Where a pattern both
//! accept means something else, it is rewritten to Go's meaning before it
//! is compiled:
//!
//! - `\d`, `\w`, `\s` and `\D`, `\W`, `\S` (also inside brackets) are ASCII
//!   in Go (`[0-9]`, `[0-9A-Za-z_]`, `[\t\n\f\r ]`) and Unicode in `regex`;
//! - `\b` and `\B` are ASCII word boundaries in Go;
//! - a script name alone (`\p{Greek}`) is the Script property in Go and
//!   Script_Extensions in `regex`.
//!
//! - octal escapes (`\101` is `A`) are Go's, which `regex` reads as
//!   backreferences and refuses.
//!
//! Constructs only `regex` knows are refused, as Go refuses them: flags
//! other than `i`, `m`, `s` and `U`, `\p{name=value}`, `\<`, `\>`,
//! `\b{start}` and the like, repetition counts over 1,000. So are nested
//! brackets and the class operators `&&`, `--`, `~~`, which Go reads as
//! plain characters (`[a&&b]` is the class of `a`, `&` and `b` there): such
//! a class would match differently. Go's `\Q…\E` quoting is not read (an
//! error, never another meaning).

use std::fmt;

use regex_syntax::ast::{
    self, Assertion, AssertionKind, Ast, ClassPerl, ClassPerlKind, ClassSetBinaryOp, ClassSetItem,
    ClassUnicode, ClassUnicodeKind, Flag, FlagsItemKind, Literal, LiteralKind, RepetitionKind,
    RepetitionRange, Span,
};

/// A compiled regular expression with Go's `regexp` semantics, keeping the
/// pattern as written (what [`GoRegex::as_str`] gives, and what nsec writes
/// back to a file's metadata).
#[derive(Clone)]
pub struct GoRegex {
    source: String,
    regex: regex::Regex,
}

/// A pattern that Go's `regexp` would refuse, or that nsec cannot give Go's
/// meaning to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoRegexError(String);

impl fmt::Display for GoRegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GoRegexError {}

impl GoRegex {
    /// Compiles `pattern` (Go RE2 syntax).
    pub fn new(pattern: &str) -> Result<GoRegex, GoRegexError> {
        let ast = ast::parse::ParserBuilder::new()
            .octal(true)
            .build()
            .parse(pattern)
            .map_err(|e| GoRegexError(e.to_string()))?;
        let mut edits = Edits::default();
        ast::visit(&ast, &mut edits)?;
        let rewritten = edits.apply(pattern);
        let regex = regex::Regex::new(&rewritten).map_err(|e| GoRegexError(e.to_string()))?;
        Ok(GoRegex {
            source: pattern.to_string(),
            regex,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches anywhere in `text`, as Go's
    /// `regexp.MatchString` says.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

impl fmt::Debug for GoRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GoRegex({:?})", self.source)
    }
}

impl fmt::Display for GoRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// The ASCII sets of Go's Perl classes, as the inside of a bracket class.
fn perl_set(kind: &ClassPerlKind) -> &'static str {
    match kind {
        ClassPerlKind::Digit => "0-9",
        ClassPerlKind::Space => r"\t\n\x0C\r ",
        ClassPerlKind::Word => "0-9A-Za-z_",
    }
}

/// Go's general categories (`unicode.Categories`): `\p{Lu}` and the like
/// mean the same in both; any other name is a script.
const CATEGORIES: [&str; 36] = [
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N",
    "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So",
    "Z", "Zl", "Zp", "Zs",
];

/// The rewrites of one pattern: spans of it and their replacements.
#[derive(Default)]
struct Edits {
    edits: Vec<(Span, String)>,
}

impl Edits {
    fn replace(&mut self, span: &Span, with: String) {
        self.edits.push((*span, with));
    }

    /// The pattern with every edit made (the spans never overlap: each is
    /// a leaf of the syntax tree).
    fn apply(mut self, pattern: &str) -> String {
        self.edits.sort_by_key(|(span, _)| span.start.offset);
        let mut out = String::with_capacity(pattern.len() + 16 * self.edits.len());
        let mut at = 0;
        for (span, with) in &self.edits {
            out.push_str(&pattern[at..span.start.offset]);
            out.push_str(with);
            at = span.end.offset;
        }
        out.push_str(&pattern[at..]);
        out
    }

    fn perl(&mut self, class: &ClassPerl, in_brackets: bool) {
        let set = perl_set(&class.kind);
        let with = match (class.negated, in_brackets) {
            (false, true) => set.to_string(),
            (false, false) => format!("[{set}]"),
            // A nested class keeps the negation to itself inside brackets.
            (true, _) => format!("[^{set}]"),
        };
        self.replace(&class.span, with);
    }

    /// An octal escape, which the compiler (octal off) would refuse, as the
    /// character it stands for.
    fn literal(&mut self, literal: &Literal) {
        if literal.kind == LiteralKind::Octal {
            self.replace(&literal.span, format!("\\x{{{:X}}}", u32::from(literal.c)));
        }
    }

    fn unicode(&mut self, class: &ClassUnicode) -> Result<(), GoRegexError> {
        let ClassUnicodeKind::Named(name) = &class.kind else {
            if let ClassUnicodeKind::NamedValue { name, value, .. } = &class.kind {
                return Err(refused(&format!(
                    "`\\p{{{name}={value}}}` (Go knows only category and script names)"
                )));
            }
            // One letter: a general category in both.
            return Ok(());
        };
        let (caret, bare) = match name.strip_prefix('^') {
            Some(bare) => (true, bare),
            None => (false, name.as_str()),
        };
        if bare == "Any" || CATEGORIES.contains(&bare) {
            return Ok(());
        }
        let p = if class.negated != caret { 'P' } else { 'p' };
        self.replace(&class.span, format!("\\{p}{{sc={bare}}}"));
        Ok(())
    }
}

/// A construct Go's `regexp` (sops' regular expressions) does not take.
fn refused(what: &str) -> GoRegexError {
    GoRegexError(format!(
        "{what} is not Go regular expression syntax, which sops uses"
    ))
}

/// A construct Go's `regexp` reads otherwise than the `regex` crate.
fn read_otherwise(what: &str) -> GoRegexError {
    GoRegexError(format!(
        "{what}: Go's regular expressions, which sops uses, read this otherwise; \
         write the class without it (escape a `[` or `&` that is meant as a character)"
    ))
}

impl ast::Visitor for &mut Edits {
    type Output = ();
    type Err = GoRegexError;

    fn finish(self) -> Result<(), GoRegexError> {
        Ok(())
    }

    fn visit_pre(&mut self, ast: &Ast) -> Result<(), GoRegexError> {
        match ast {
            Ast::ClassPerl(class) => self.perl(class, false),
            Ast::ClassUnicode(class) => self.unicode(class)?,
            Ast::Literal(literal) => self.literal(literal),
            Ast::Repetition(rep) => repetition(&rep.op.kind)?,
            Ast::Assertion(a) => assertion(self, a)?,
            Ast::Flags(set) => flags(&set.flags)?,
            Ast::Group(group) => {
                if let Some(set) = group.flags() {
                    flags(set)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), GoRegexError> {
        match item {
            ClassSetItem::Perl(class) => self.perl(class, true),
            ClassSetItem::Unicode(class) => self.unicode(class)?,
            ClassSetItem::Literal(literal) => self.literal(literal),
            ClassSetItem::Range(range) => {
                self.literal(&range.start);
                self.literal(&range.end);
            }
            ClassSetItem::Bracketed(_) => {
                return Err(read_otherwise(
                    "a bracket inside a class (Go takes `[` there as the character)",
                ))
            }
            _ => {}
        }
        Ok(())
    }

    fn visit_class_set_binary_op_pre(&mut self, _: &ClassSetBinaryOp) -> Result<(), GoRegexError> {
        Err(read_otherwise(
            "the class operators `&&`, `--` and `~~` (Go takes them as characters)",
        ))
    }
}

fn assertion(edits: &mut Edits, a: &Assertion) -> Result<(), GoRegexError> {
    match a.kind {
        AssertionKind::WordBoundary => edits.replace(&a.span, r"(?-u:\b)".into()),
        AssertionKind::NotWordBoundary => edits.replace(&a.span, r"(?-u:\B)".into()),
        AssertionKind::StartLine
        | AssertionKind::EndLine
        | AssertionKind::StartText
        | AssertionKind::EndText => {}
        _ => return Err(refused("this word-boundary assertion")),
    }
    Ok(())
}

/// Go refuses repetition counts over 1,000.
fn repetition(kind: &RepetitionKind) -> Result<(), GoRegexError> {
    let RepetitionKind::Range(range) = kind else {
        return Ok(());
    };
    let largest = match *range {
        RepetitionRange::Exactly(n) | RepetitionRange::AtLeast(n) => n,
        RepetitionRange::Bounded(_, n) => n,
    };
    if largest > 1000 {
        return Err(refused("a repetition count over 1,000"));
    }
    Ok(())
}

/// Go's flags are `i`, `m`, `s` and `U`.
fn flags(set: &ast::Flags) -> Result<(), GoRegexError> {
    for item in &set.items {
        if let FlagsItemKind::Flag(flag) = item.kind {
            let name = match flag {
                Flag::CaseInsensitive | Flag::MultiLine | Flag::DotMatchesNewLine => continue,
                Flag::SwapGreed => continue,
                Flag::Unicode => 'u',
                Flag::CRLF => 'R',
                Flag::IgnoreWhitespace => 'x',
            };
            return Err(refused(&format!("the flag `{name}`")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        GoRegex::new(pattern).unwrap().is_match(text)
    }

    #[test]
    fn perl_classes_and_word_boundaries_are_ascii() {
        assert!(m(r"^\d$", "7"));
        assert!(!m(r"^\d$", "٣"));
        assert!(m(r"^\D$", "٣"));
        assert!(!m(r"^\w+$", "clé"));
        assert!(m(r"^\W$", "é"));
        assert!(m(r"^[\w-]+$", "a-b_c"));
        assert!(!m(r"^[\w-]+$", "a-é"));
        assert!(m(r"^[^\D]$", "5"));
        assert!(!m(r"^[^\D]$", "٥"));
        assert!(m(r"^[\Sx]$", "é"));
        // Go's \s has no vertical tab; regex's ASCII \s would.
        assert!(!m(r"\s", "\u{0B}"));
        assert!(!m(r"\s", "\u{A0}"));
        assert!(m(r"\s", "\u{0C}"));
        // é is not a word character to Go: a boundary before it, none
        // after it.
        assert!(!m(r"clé\b", "clé"));
        assert!(m(r"cl\b", "clé"));
        assert!(!m(r"cl\B", "clé"));
        // (?i) folds the ASCII class as Go does (K matches the Kelvin sign).
        assert!(m(r"(?i)^\w$", "\u{212A}"));
    }

    #[test]
    fn scripts_are_the_script_property() {
        assert!(m(r"^\p{Greek}$", "λ"));
        assert!(m(r"^\P{Greek}$", "a"));
        assert!(m(r"^\p{^Greek}$", "a"));
        assert!(m(r"^\pL\p{Lu}$", "aB"));
        // U+0342 COMBINING GREEK PERISPOMENI: Script Inherited, Script
        // Extensions Greek.
        assert!(!m(r"\p{Greek}", "\u{342}"));
        assert!(m(r"\p{Any}", "x"));
    }

    #[test]
    fn what_go_refuses_is_refused() {
        for p in [
            r"(?x)a b",
            r"(?u)a",
            r"(?R)a",
            r"[a&&b]",
            r"[a--b]",
            r"[a~~b]",
            r"[[ab]c]",
            r"\<a",
            r"a\>",
            r"\b{start}a",
            r"\p{sc=Greek}",
            r"a{1001}",
            r"a{2,1001}",
            r"\Qa.b\E",
            r"(",
        ] {
            let e = GoRegex::new(p).unwrap_err();
            assert!(!e.to_string().is_empty(), "{p}");
        }
    }

    #[test]
    fn octal_escapes_are_characters() {
        assert!(m(r"^\101$", "A"));
        assert!(m(r"^[\101-\103]+$", "ABC"));
        assert!(m(r"^\0$", "\0"));
        assert!(m(r"^a{1000}$", &"a".repeat(1000)));
    }

    proptest::proptest! {
        /// Any pattern made of these pieces compiles or is refused, never
        /// panics; where nothing needs Go's meaning, it matches as the
        /// `regex` crate does.
        #[test]
        fn patterns_compile_or_are_refused(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "a", "b", "é", "_", " ", r"\d", r"\w", r"\s", r"\D", r"\W", r"\S", r"\b",
                r"\B", "[", "]", "[^", "^", "$", "-", "(", ")", "|", "*", "+", "?", "{2}",
                "{1,3}", ".", r"\p{Greek}", r"\pL", r"\P{Lu}", "(?i)", "(?s)", "(?x)", r"\101",
                "[[:alpha:]]", "&&", "~~", r"\", r"\x{41}", r"\.", "{,2}",
            ]), 0..12),
            text in "[ab_ é3λA.\\-]{0,8}",
        ) {
            let pattern = pieces.concat();
            if let Ok(re) = GoRegex::new(&pattern) {
                assert_eq!(re.as_str(), pattern);
                let needs_go = ["\\d", "\\w", "\\s", "\\D", "\\W", "\\S", "\\b", "\\B", "\\p", "\\P", "\\1"];
                if !needs_go.iter().any(|p| pattern.contains(p)) {
                    let rust = regex::Regex::new(&pattern).unwrap();
                    assert_eq!(re.is_match(&text), rust.is_match(&text), "{pattern:?} on {text:?}");
                }
            }
        }
    }

    #[test]
    fn the_pattern_is_kept_as_written() {
        let re = GoRegex::new(r"^api-keys/\w+\.yaml$").unwrap();
        assert_eq!(re.as_str(), r"^api-keys/\w+\.yaml$");
        assert_eq!(re.to_string(), r"^api-keys/\w+\.yaml$");
        assert!(re.is_match("api-keys/openai.yaml"));
    }
}
