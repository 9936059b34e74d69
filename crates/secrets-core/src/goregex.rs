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
//! - `\p` names are looked up as Go 1.25 (which built sops 3.11) looks them
//!   up: in any case and without `_`, `-` or spaces, among the general
//!   categories, their long names (`Letter`), `Any`, `Assigned`, `ASCII`
//!   and the Unicode 15 scripts whose name is one word; a script is the
//!   Script property (`regex` would take Script_Extensions);
//! - octal escapes (`\101` is `A`), which `regex` reads as backreferences;
//! - `\<` and `\>` are the characters, and `\b{start}` is `\b` then the
//!   characters `{start}`.
//!
//! What Go refuses is refused: flags other than `i`, `m`, `s` and `U`,
//! `\p{name=value}` and names Go does not find, `\u` escapes,
//! backreferences, group names that are not `[A-Za-z0-9_]+`, a repetition
//! right after another (`a**`), counted repetitions making more than 1,000
//! copies (`(a{2}){501}`). So is what Go reads otherwise and `regex` cannot
//! be told to: nested brackets and the class operators `&&`, `--`, `~~`
//! (Go takes them as characters: `[a&&b]` is the class of `a`, `&` and
//! `b`), and counts with spaces (`x{1, 2}` is text to Go). A few patterns Go
//! takes are refused too, never read otherwise: `\Q…\E`, `x{,3}`, `(?)`,
//! group names starting with a digit, `[\d-z]`. Go's tables are Unicode 15,
//! `regex`'s Unicode 16: the characters added in 16 are the difference.

use std::fmt;

use regex_syntax::ast::{
    self, Assertion, AssertionKind, Ast, ClassPerl, ClassPerlKind, ClassSetBinaryOp, ClassSetItem,
    ClassUnicode, ClassUnicodeKind, Flag, FlagsItemKind, GroupKind, HexLiteralKind, Literal,
    LiteralKind, RepetitionKind, RepetitionRange, Span,
};

/// A compiled regular expression with Go's `regexp` semantics, keeping the
/// pattern as written (what [`GoRegex::as_str`] gives, and what nsec writes
/// back to a file's metadata).
#[derive(Clone)]
pub struct GoRegex {
    source: String,
    /// The compiled pattern, or why Go refuses it: a pattern read by
    /// [`GoRegex::from_file`] that matches nothing.
    matcher: Result<regex::Regex, String>,
}

/// A pattern that Go's `regexp` would refuse, or that nsec cannot give Go's
/// meaning to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoRegexError {
    message: String,
    go_refuses: bool,
}

impl GoRegexError {
    /// Whether Go's `regexp` refuses the pattern too (sops then ignores
    /// the error and matches nothing), as opposed to a pattern Go takes
    /// that nsec cannot give Go's meaning to.
    pub fn go_refuses(&self) -> bool {
        self.go_refuses
    }
}

impl fmt::Display for GoRegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GoRegexError {}

impl GoRegex {
    /// Compiles `pattern` (Go RE2 syntax).
    pub fn new(pattern: &str) -> Result<GoRegex, GoRegexError> {
        // Go nests groups up to 1,000 deep.
        const NEST_LIMIT: u32 = 1000;
        let ast = ast::parse::ParserBuilder::new()
            .octal(true)
            .nest_limit(NEST_LIMIT)
            .build()
            .parse(pattern)
            .map_err(|e| GoRegexError {
                go_refuses: go_refuses_too(&e),
                message: e.to_string(),
            })?;
        let mut edits = Edits {
            pattern,
            edits: Vec::new(),
        };
        ast::visit(&ast, &mut edits)?;
        let rewritten = edits.apply();
        let regex = regex::RegexBuilder::new(&rewritten)
            .nest_limit(NEST_LIMIT)
            .build()
            .map_err(|e| GoRegexError {
                go_refuses: false,
                message: e.to_string(),
            })?;
        Ok(GoRegex {
            source: pattern.to_string(),
            matcher: Ok(regex),
        })
    }

    /// A pattern from a file's metadata: one that Go's `regexp` refuses
    /// matches nothing, as it does in sops, which ignores the error (so a
    /// file sops wrote with it reads as sops reads it);
    /// [`GoRegex::refused_by_go`] says why. A pattern Go takes and nsec
    /// cannot give Go's meaning to is still an error.
    pub fn from_file(pattern: &str) -> Result<GoRegex, GoRegexError> {
        match GoRegex::new(pattern) {
            Err(e) if e.go_refuses => Ok(GoRegex {
                source: pattern.to_string(),
                // A parse error's last line says what is wrong (the lines
                // before it repeat the pattern and point into it).
                matcher: Err(e
                    .message
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
                    .to_string()),
            }),
            other => other,
        }
    }

    /// Why Go's `regexp` refuses this pattern, for one read by
    /// [`GoRegex::from_file`] that matches nothing for that reason.
    pub fn refused_by_go(&self) -> Option<&str> {
        self.matcher.as_ref().err().map(String::as_str)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches anywhere in `text`, as Go's
    /// `regexp.MatchString` says.
    pub fn is_match(&self, text: &str) -> bool {
        self.matcher.as_ref().is_ok_and(|r| r.is_match(text))
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

/// The rewrites of one pattern: spans of it and their replacements.
struct Edits<'p> {
    pattern: &'p str,
    edits: Vec<(Span, String)>,
}

impl<'p> Edits<'p> {
    fn replace(&mut self, span: &Span, with: String) {
        self.edits.push((*span, with));
    }

    /// The text of the pattern under `span`.
    fn text(&self, span: &Span) -> &'p str {
        &self.pattern[span.start.offset..span.end.offset]
    }

    /// The pattern with every edit made (the spans never overlap: each is
    /// a leaf of the syntax tree).
    fn apply(mut self) -> String {
        let pattern = self.pattern;
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
    /// character it stands for; escapes Go does not have are refused.
    fn literal(&mut self, literal: &Literal) -> Result<(), GoRegexError> {
        match literal.kind {
            LiteralKind::Octal => {
                // `\1` to `\7` alone are backreferences to Go.
                let text = self.text(&literal.span);
                if text.len() == 2 && text != "\\0" {
                    return Err(refused(&format!("the backreference `{text}`")));
                }
                self.replace(&literal.span, format!("\\x{{{:X}}}", u32::from(literal.c)));
            }
            LiteralKind::HexFixed(HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong)
            | LiteralKind::HexBrace(HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong) => {
                let text = self.text(&literal.span);
                return Err(refused(&format!("the escape `{text}` (Go has `\\x{{…}}`)")));
            }
            _ => {}
        }
        Ok(())
    }

    /// `\pN`, `\p{Name}`, `\P{^Name}`, resolved as Go 1.25 (which built
    /// sops 3.11) resolves the name, and written as the property `regex`
    /// gives the same meaning to.
    fn unicode(&mut self, class: &ClassUnicode) -> Result<(), GoRegexError> {
        let name = match &class.kind {
            ClassUnicodeKind::OneLetter(c) => c.to_string(),
            ClassUnicodeKind::Named(name) => name.clone(),
            ClassUnicodeKind::NamedValue { name, value, .. } => {
                return Err(refused(&format!(
                    "`\\p{{{name}={value}}}` (Go knows only category and script names)"
                )))
            }
        };
        let (caret, bare) = match name.strip_prefix('^') {
            Some(bare) => (true, bare),
            None => (false, name.as_str()),
        };
        let Some((property, inverted)) = go_unicode_class(bare) else {
            return Err(refused(&format!("the Unicode class name `{bare}`")));
        };
        let negated = class.negated ^ caret ^ inverted;
        let p = if negated { 'P' } else { 'p' };
        self.replace(&class.span, format!("\\{p}{{{property}}}"));
        Ok(())
    }
}

/// Go's `canonicalName`: the first letter upper case, the others lower
/// case, `_`, `-` and spaces left out.
fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().filter(|c| !matches!(c, '_' | '-' | ' ')) {
        if out.is_empty() {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// What Go 1.25's `regexp/syntax` makes of a `\p` name, as a `regex`
/// property and whether it is inverted; `None` when Go does not know it.
/// Go looks the canonical name up among its general categories, its
/// scripts (only those whose own name is already canonical: `Greek` is
/// found, `Old_Italic` is not) and the category aliases (`Letter`).
fn go_unicode_class(name: &str) -> Option<(String, bool)> {
    let name = canonical_name(name);
    match name.as_str() {
        "Any" => return Some(("Any".into(), false)),
        "Assigned" => return Some(("gc=Cn".into(), true)),
        "Ascii" => return Some(("ASCII".into(), false)),
        "Lc" => return Some(("gc=LC".into(), false)),
        _ => {}
    }
    if CATEGORIES.contains(&name.as_str()) {
        return Some((format!("gc={name}"), false));
    }
    if SCRIPTS.contains(&name.as_str()) {
        return Some((format!("sc={name}"), false));
    }
    CATEGORY_ALIASES
        .iter()
        .find(|(alias, _)| canonical_name(alias) == name)
        .map(|(_, category)| (format!("gc={category}"), false))
}

/// Go 1.25's general categories (`unicode.Categories`; `LC` is handled as
/// `Lc`, its canonical name).
const CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Cn", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn",
    "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm",
    "So", "Z", "Zl", "Zp", "Zs",
];

/// The long names of the general categories (`unicode.CategoryAliases`).
const CATEGORY_ALIASES: &[(&str, &str)] = &[
    ("Cased_Letter", "LC"),
    ("Close_Punctuation", "Pe"),
    ("Connector_Punctuation", "Pc"),
    ("Control", "Cc"),
    ("Currency_Symbol", "Sc"),
    ("Dash_Punctuation", "Pd"),
    ("Decimal_Number", "Nd"),
    ("Enclosing_Mark", "Me"),
    ("Final_Punctuation", "Pf"),
    ("Format", "Cf"),
    ("Initial_Punctuation", "Pi"),
    ("Letter", "L"),
    ("Letter_Number", "Nl"),
    ("Line_Separator", "Zl"),
    ("Lowercase_Letter", "Ll"),
    ("Mark", "M"),
    ("Math_Symbol", "Sm"),
    ("Modifier_Letter", "Lm"),
    ("Modifier_Symbol", "Sk"),
    ("Nonspacing_Mark", "Mn"),
    ("Number", "N"),
    ("Open_Punctuation", "Ps"),
    ("Other", "C"),
    ("Other_Letter", "Lo"),
    ("Other_Number", "No"),
    ("Other_Punctuation", "Po"),
    ("Other_Symbol", "So"),
    ("Paragraph_Separator", "Zp"),
    ("Private_Use", "Co"),
    ("Punctuation", "P"),
    ("Separator", "Z"),
    ("Space_Separator", "Zs"),
    ("Spacing_Mark", "Mc"),
    ("Surrogate", "Cs"),
    ("Symbol", "S"),
    ("Titlecase_Letter", "Lt"),
    ("Unassigned", "Cn"),
    ("Uppercase_Letter", "Lu"),
];

/// The scripts of Unicode 15.0 (Go 1.25's `unicode.Scripts`) that Go 1.25
/// finds: those whose name is one capitalised word.
const SCRIPTS: &[&str] = &[
    "Adlam",
    "Ahom",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Carian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Common",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dogra",
    "Duployan",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Inherited",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kawi",
    "Kharoshthi",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Medefaidrin",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nandinagari",
    "Newa",
    "Nko",
    "Nushu",
    "Ogham",
    "Oriya",
    "Osage",
    "Osmanya",
    "Palmyrene",
    "Phoenician",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "Sinhala",
    "Sogdian",
    "Soyombo",
    "Sundanese",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Takri",
    "Tamil",
    "Tangsa",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Toto",
    "Ugaritic",
    "Vai",
    "Vithkuqi",
    "Wancho",
    "Yezidi",
    "Yi",
];

/// A construct Go's `regexp` (sops' regular expressions) does not take.
fn refused(what: &str) -> GoRegexError {
    GoRegexError {
        message: format!("{what} is not Go regular expression syntax, which sops uses"),
        go_refuses: true,
    }
}

/// A construct Go's `regexp` reads otherwise than the `regex` crate.
fn read_otherwise(what: &str) -> GoRegexError {
    GoRegexError {
        message: format!(
            "{what}: Go's regular expressions, which sops uses, read this otherwise; \
             write the class without it (escape a `[` or `&` that is meant as a character)"
        ),
        go_refuses: false,
    }
}

/// Whether Go's `regexp` refuses a pattern the `regex` crate's parser
/// refuses with `error`. Only the kinds Go certainly refuses as well count
/// (unclosed groups and classes, a repetition of nothing, lookaround, a bad
/// escape of a letter or digit, …); Go takes some patterns `regex` refuses
/// (`x{,3}` and `{` generally as text, `\Q…\E`, duplicate group names,
/// `(?ii)`).
fn go_refuses_too(error: &ast::Error) -> bool {
    use ast::ErrorKind as K;
    match error.kind() {
        K::ClassRangeInvalid
        | K::ClassUnclosed
        | K::EscapeUnexpectedEof
        | K::EscapeHexEmpty
        | K::EscapeHexInvalid
        | K::EscapeHexInvalidDigit
        | K::FlagDanglingNegation
        | K::FlagRepeatedNegation { .. }
        | K::FlagUnexpectedEof
        | K::FlagUnrecognized
        | K::GroupNameEmpty
        | K::GroupNameUnexpectedEof
        | K::GroupUnclosed
        | K::GroupUnopened
        | K::NestLimitExceeded(_)
        | K::RepetitionCountInvalid
        | K::RepetitionMissing
        | K::UnsupportedBackreference
        | K::UnsupportedLookAround => true,
        // Go takes `\` before any ASCII punctuation as the character, and
        // `\Q` starts quoted text; other letters, digits and non-ASCII
        // characters it refuses.
        K::EscapeUnrecognized => {
            let span = error.span();
            let escaped = error.pattern()[span.start.offset..]
                .trim_start_matches('\\')
                .chars()
                .next();
            escaped.is_some_and(|c| c != 'Q' && (c.is_ascii_alphanumeric() || !c.is_ascii()))
        }
        _ => false,
    }
}

impl ast::Visitor for &mut Edits<'_> {
    type Output = ();
    type Err = GoRegexError;

    fn finish(self) -> Result<(), GoRegexError> {
        Ok(())
    }

    fn visit_pre(&mut self, ast: &Ast) -> Result<(), GoRegexError> {
        match ast {
            Ast::ClassPerl(class) => self.perl(class, false),
            Ast::ClassUnicode(class) => self.unicode(class)?,
            Ast::Literal(literal) => self.literal(literal)?,
            Ast::Repetition(rep) => repetition(self, ast, rep)?,
            Ast::Assertion(a) => assertion(self, a),
            Ast::Flags(set) => flags(&set.flags)?,
            Ast::Group(group) => {
                if let Some(set) = group.flags() {
                    flags(set)?;
                }
                if let GroupKind::CaptureName { name, .. } = &group.kind {
                    // Go's capture names are [A-Za-z0-9_]+.
                    if !name
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    {
                        return Err(refused(&format!("the group name `{}`", name.name)));
                    }
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
            ClassSetItem::Literal(literal) => self.literal(literal)?,
            ClassSetItem::Range(range) => {
                self.literal(&range.start)?;
                self.literal(&range.end)?;
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

fn assertion(edits: &mut Edits<'_>, a: &Assertion) {
    match a.kind {
        AssertionKind::WordBoundary => edits.replace(&a.span, r"(?-u:\b)".into()),
        AssertionKind::NotWordBoundary => edits.replace(&a.span, r"(?-u:\B)".into()),
        AssertionKind::StartLine
        | AssertionKind::EndLine
        | AssertionKind::StartText
        | AssertionKind::EndText => {}
        // Escaped punctuation is the character itself to Go.
        AssertionKind::WordBoundaryStartAngle => edits.replace(&a.span, "<".into()),
        AssertionKind::WordBoundaryEndAngle => edits.replace(&a.span, ">".into()),
        // `\b{start}` is `\b` and the characters `{start}` to Go.
        AssertionKind::WordBoundaryStart
        | AssertionKind::WordBoundaryEnd
        | AssertionKind::WordBoundaryStartHalf
        | AssertionKind::WordBoundaryEndHalf => {
            let after = &edits.text(&a.span)[2..];
            let with = format!(r"(?-u:\b){}", regex::escape(after));
            edits.replace(&a.span, with);
        }
    }
}

/// Go refuses a repetition of a repetition (`a**`, `a{2}{3}`) and counted
/// repetitions that make more than 1,000 copies of what they repeat,
/// counts inside counts multiplied; it reads a count with spaces in it
/// (`x{1, 2}`) as characters.
fn repetition(edits: &Edits<'_>, ast: &Ast, rep: &ast::Repetition) -> Result<(), GoRegexError> {
    if matches!(*rep.ast, Ast::Repetition(_)) {
        let text = edits.text(&rep.op.span);
        return Err(refused(&format!(
            "the repetition operator `{text}` right after another"
        )));
    }
    if let RepetitionKind::Range(_) = rep.op.kind {
        let text = edits.text(&rep.op.span);
        if text.contains(char::is_whitespace) {
            return Err(GoRegexError {
                message: format!(
                    "`{text}`: Go's regular expressions, which sops uses, read a count with \
                     spaces as characters; write it without spaces"
                ),
                go_refuses: false,
            });
        }
        if !repeat_is_valid(ast, 1000) {
            return Err(refused(&format!(
                "a repetition of more than 1,000 copies (`{text}`, counts inside counts multiplied)"
            )));
        }
    }
    Ok(())
}

/// Go's `repeatIsValid`: no chain of counted repetitions under `ast` makes
/// more than `n` copies.
fn repeat_is_valid(ast: &Ast, mut n: u32) -> bool {
    if let Ast::Repetition(rep) = ast {
        if let RepetitionKind::Range(range) = &rep.op.kind {
            let (min, max) = match *range {
                RepetitionRange::Exactly(k) => (k, Some(k)),
                RepetitionRange::AtLeast(k) => (k, None),
                RepetitionRange::Bounded(a, b) => (a, Some(b)),
            };
            if max == Some(0) {
                return true;
            }
            let m = max.unwrap_or(min);
            if m > n {
                return false;
            }
            n = n.checked_div(m).unwrap_or(n);
        }
    }
    match ast {
        Ast::Repetition(rep) => repeat_is_valid(&rep.ast, n),
        Ast::Group(group) => repeat_is_valid(&group.ast, n),
        Ast::Alternation(alt) => alt.asts.iter().all(|a| repeat_is_valid(a, n)),
        Ast::Concat(concat) => concat.asts.iter().all(|a| repeat_is_valid(a, n)),
        _ => true,
    }
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
        // Go 1.25 takes names in any case, without `_`, `-` or spaces, and
        // the categories' long names.
        assert!(m(r"^\p{greek}$", "λ"));
        assert!(m(r"^\p{ Greek }$", "λ"));
        assert!(m(r"^\p{lu}$", "A"));
        assert!(m(r"^\p{Uppercase_Letter}$", "A"));
        assert!(m(r"^\p{uppercase letter}$", "A"));
        assert!(m(r"^\p{Letter}$", "λ"));
        assert!(m(r"^\p{LC}$", "a"));
        assert!(m(r"^\p{Assigned}$", "a"));
        assert!(!m(r"^\p{Assigned}$", "\u{378}"));
        assert!(m(r"^\P{Assigned}$", "\u{378}"));
        assert!(m(r"^\p{ASCII}+$", "a~"));
        assert!(!m(r"^\p{ascii}$", "é"));
    }

    #[test]
    fn escapes_rust_reads_otherwise_are_read_as_go_does() {
        // `\<` and `\>` are the characters to Go, `\b{start}` is `\b` and
        // `{start}`.
        assert!(m(r"^\<a\>$", "<a>"));
        assert!(m(r"a\b{start}", "a{start}"));
        assert!(!m(r"a\b{start}", "ab"));
        // Counted repetitions within Go's limit, and a nested one whose
        // product stays within it.
        assert!(m(r"^(?:a{2}){500}$", &"a".repeat(1000)));
        assert!(m(r"^(?:(?:a{1000}){0}){2}$", ""));
        assert!(m(r"^(?P<name_1>a)$", "a"));
        assert!(m(r"^(a*)*$", "aa"));
        assert!(m(r"^a*?b$", "aab"));
    }

    /// What Go refuses is refused; read from a file, it matches nothing,
    /// as in sops.
    #[test]
    fn what_go_refuses_is_refused_and_matches_nothing_in_a_file() {
        for p in [
            r"(?x)a b",
            r"(?u)a",
            r"(?R)a",
            r"\p{sc=Greek}",
            r"a{1001}",
            r"a{2,1001}",
            r"(?:a{2}){501}",
            r"((a{10}){10}){11}",
            r"a**",
            r"a+*",
            r"a*??",
            r"a{2}{3}",
            r"\1",
            r"(a)\1",
            r"\u0041",
            r"\U00000041",
            r"\u{41}",
            r"(?P<a.b>x)",
            r"\p{Latn}",
            r"\p{Old_Italic}",
            r"\p{Garay}",
            r"\p{Alphabetic}",
            r"(?=x)",
            r"\q",
            "[z-a]",
            "(",
        ] {
            let e = GoRegex::new(p).unwrap_err();
            assert!(e.go_refuses(), "{p}: {e}");
            let re = GoRegex::from_file(p).unwrap();
            assert!(!re.is_match("") && !re.is_match(p), "{p}");
            assert_eq!(re.as_str(), p);
            assert!(!re.refused_by_go().unwrap().is_empty(), "{p}");
        }
        assert!(GoRegex::from_file("^a$").unwrap().refused_by_go().is_none());
    }

    /// What Go takes but reads otherwise than `regex` (or what nsec cannot
    /// read) is refused, also from a file: nsec cannot know what it selects.
    #[test]
    fn what_go_reads_otherwise_is_refused_also_in_a_file() {
        for p in [
            r"[a&&b]",
            r"[a--b]",
            r"[a~~b]",
            r"[[ab]c]",
            r"x{1, 2}",
            r"x{,3}",
            r"\Qa.b\E",
            "(?P<a>x)(?P<a>y)",
        ] {
            let e = GoRegex::new(p).unwrap_err();
            assert!(!e.go_refuses(), "{p}: {e}");
            assert!(GoRegex::from_file(p).is_err(), "{p}");
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
