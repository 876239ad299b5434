//! Text as people send it, checked once at the edge, before any of it reaches
//! storage: GraphQL arguments (by the request guard, `graphql/guard/`) and the
//! pages' form fields (by `http::form`) both come through [`check`].
//!
//! Why here and not in each resolver: PostgreSQL refuses NUL in `text`
//! (`invalid byte sequence for encoding "UTF8": 0x00`) while SQLite stores
//! it, so the same input was an INTERNAL error on one database and stored on
//! the other; and control characters in names end up in email headers,
//! calendar files and CSV exports. One rule for every field keeps both
//! databases alike.

use crate::error::ApiError;

/// Whether a field holds one line (names, titles, addresses, ids) or
/// paragraphs (bios, goals, notes, comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// No line breaks at all.
    Single,
    /// Line feeds (`\n`) and tabs allowed. A carriage return is not: clients
    /// send `\n` (a browser's form sends `\r\n`, which the pages turn into `\n`
    /// before checking).
    Multi,
}

/// What one text field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    pub lines: Lines,
    /// Longest value, in characters (Unicode scalar values), not bytes.
    pub max_chars: usize,
}

impl TextRule {
    /// A one-line field of at most `max_chars` characters.
    pub const fn line(max_chars: usize) -> Self {
        Self {
            lines: Lines::Single,
            max_chars,
        }
    }

    /// A multi-line field of at most `max_chars` characters.
    pub const fn prose(max_chars: usize) -> Self {
        Self {
            lines: Lines::Multi,
            max_chars,
        }
    }
}

/// Why a value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextProblem {
    /// A control character (Unicode category Cc: U+0000–U+001F, U+007F–U+009F)
    /// other than those the field allows.
    ControlCharacter(char),
    /// A line break (`\n`, `\r`, U+2028, U+2029) in a one-line field.
    LineBreak,
    /// A character that changes how the text around it reads without being
    /// seen: bidirectional overrides and isolates anywhere (they can make
    /// `gnp.exe` show as `exe.png`), and in one-line fields every invisible
    /// character (names that look the same but differ, or look blank); and
    /// noncharacters.
    Invisible(char),
    /// Longer than the field takes.
    TooLong { max_chars: usize },
}

impl TextProblem {
    /// A sentence for the person who typed it, naming the field.
    pub fn message(&self, field: &str) -> String {
        match self {
            TextProblem::ControlCharacter(c) => format!(
                "`{field}` contains a control character (U+{:04X}), which cannot be stored; remove it.",
                u32::from(*c)
            ),
            TextProblem::LineBreak => format!("`{field}` must be a single line."),
            TextProblem::Invisible(c) => format!(
                "`{field}` contains an invisible or direction-changing character (U+{:04X}); \
                 remove it.",
                u32::from(*c)
            ),
            TextProblem::TooLong { max_chars } => {
                format!("`{field}` is longer than {max_chars} characters.")
            }
        }
    }
}

/// Bidirectional embeddings, overrides and isolates (Unicode's "Trojan
/// Source" characters), refused in every field.
fn changes_direction(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing in a name or title, refused in one-line
/// fields: every format character (Unicode category Cf: zero-width spaces,
/// direction marks, word joiners, invisible operators, byte-order marks, tag
/// characters…), private-use characters (no agreed look), and the letters
/// and symbols that draw as blanks (Hangul fillers, the braille blank, the
/// combining grapheme joiner). The zero-width non-joiner and joiner (U+200C,
/// U+200D) stay: Persian, Indic scripts and emoji need them.
fn invisible_in_a_line(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    if matches!(c, '\u{200C}' | '\u{200D}') {
        return false;
    }
    matches!(
        c.general_category(),
        GeneralCategory::Format | GeneralCategory::PrivateUse
    ) || matches!(
        c,
        '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}'
    )
}

/// Unicode's noncharacters: never meant to be interchanged.
fn noncharacter(c: char) -> bool {
    let code = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
}

/// Checks one value against its rule.
pub fn check(rule: TextRule, value: &str) -> Result<(), TextProblem> {
    let mut chars = 0usize;
    for c in value.chars() {
        chars += 1;
        if chars > rule.max_chars {
            return Err(TextProblem::TooLong {
                max_chars: rule.max_chars,
            });
        }
        let line_break = matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}');
        match rule.lines {
            Lines::Single if line_break => return Err(TextProblem::LineBreak),
            Lines::Multi if c == '\n' || c == '\t' => {}
            Lines::Single if c == '\t' => return Err(TextProblem::ControlCharacter(c)),
            _ if c.is_control() => return Err(TextProblem::ControlCharacter(c)),
            _ if changes_direction(c) || noncharacter(c) => {
                return Err(TextProblem::Invisible(c));
            }
            Lines::Single if invisible_in_a_line(c) => return Err(TextProblem::Invisible(c)),
            _ => {}
        }
    }
    Ok(())
}

/// [`check`], as the BAD_USER_INPUT error a client gets, naming `field`.
pub fn check_field(rule: TextRule, field: &str, value: &str) -> Result<(), ApiError> {
    check(rule, value).map_err(|problem| ApiError::bad_input(field, problem.message(field)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_but_line_feeds_and_tabs_in_prose() {
        let line = TextRule::line(20);
        let prose = TextRule::prose(20);
        assert_eq!(check(line, "Ada Lovelace"), Ok(()));
        assert_eq!(
            check(line, "a\u{0}b"),
            Err(TextProblem::ControlCharacter('\u{0}'))
        );
        assert_eq!(check(prose, "a\u{0}b"), check(line, "a\u{0}b"));
        assert_eq!(check(line, "a\nb"), Err(TextProblem::LineBreak));
        assert_eq!(check(line, "a\u{2028}b"), Err(TextProblem::LineBreak));
        assert_eq!(
            check(line, "a\tb"),
            Err(TextProblem::ControlCharacter('\t'))
        );
        assert_eq!(check(prose, "a\nb\tc"), Ok(()));
        assert_eq!(
            check(prose, "a\r\nb"),
            Err(TextProblem::ControlCharacter('\r'))
        );
        assert_eq!(
            check(prose, "bell\u{7}"),
            Err(TextProblem::ControlCharacter('\u{7}'))
        );
        assert_eq!(
            check(prose, "c1\u{85}"),
            Err(TextProblem::ControlCharacter('\u{85}'))
        );
    }

    #[test]
    fn invisible_and_direction_changing_characters_are_refused() {
        let line = TextRule::line(50);
        let prose = TextRule::prose(50);
        assert_eq!(
            check(line, "Needs \u{202E}gnp.exe"),
            Err(TextProblem::Invisible('\u{202E}'))
        );
        assert_eq!(
            check(prose, "a\u{2066}b"),
            Err(TextProblem::Invisible('\u{2066}'))
        );
        assert_eq!(
            check(line, "governance\u{200B}"),
            Err(TextProblem::Invisible('\u{200B}'))
        );
        assert_eq!(check(prose, "para\u{200B}graph"), Ok(()));
        assert_eq!(
            check(prose, "x\u{FFFF}"),
            Err(TextProblem::Invisible('\u{FFFF}'))
        );
        assert_eq!(
            check(line, "\u{E0041}"),
            Err(TextProblem::Invisible('\u{E0041}'))
        );
        for invisible in [
            '\u{200E}',
            '\u{061C}',
            '\u{180E}',
            '\u{2063}',
            '\u{3164}',
            '\u{115F}',
            '\u{2800}',
            '\u{E000}',
            '\u{F0000}',
            '\u{1D173}',
            '\u{FFF9}',
            '\u{034F}',
        ] {
            assert_eq!(
                check(line, &format!("Name{invisible}")),
                Err(TextProblem::Invisible(invisible)),
                "U+{:04X}",
                u32::from(invisible)
            );
        }
        // Scripts and emoji that need joiners keep them.
        assert_eq!(check(line, "می\u{200C}خواهم"), Ok(()));
        assert_eq!(check(line, "👩\u{200D}💻 Ada"), Ok(()));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let rule = TextRule::line(3);
        assert_eq!(check(rule, "ééé"), Ok(()));
        assert_eq!(
            check(rule, "éééé"),
            Err(TextProblem::TooLong { max_chars: 3 })
        );
        let message = TextProblem::TooLong { max_chars: 3 }.message("input.name");
        assert!(message.contains("`input.name`"), "{message}");
    }
}
