//! Clinical text helpers: term matching, negation cues, sentence splitting.
//!
//! Matching is case-insensitive and respects word boundaries: the term `pain` matches
//! "Pain" and "pain," but not "painful" or "Spain". A space in a term matches any run of
//! whitespace or a hyphen ("short of breath" matches "short-of-breath"), and a trailing `*`
//! matches any word ending ("vomit*" matches "vomiting" and "vomited").
//!
//! A match is *negated* when a negation cue ("no", "denies", "without", "not", …) stands
//! at most [`NEGATION_WINDOW`] words before it in the same clause: "no chest pain" is
//! negated, "no fever, but chest pain" is not.
//!
//! ```
//! use clinalign_core::text::Text;
//! let t = Text::new("Denies fever. Crushing chest pain since 1 hour, no nausea");
//! assert!(t.mentions("chest pain"));
//! assert!(!t.mentions("fever"));      // negated
//! assert!(!t.mentions("nausea"));     // negated
//! assert!(t.contains("fever"));       // present, negation aside
//! ```

use std::borrow::Cow;

/// How many words before a term a negation cue may stand.
pub const NEGATION_WINDOW: usize = 4;

/// Words that negate what follows them in the same clause.
pub const NEGATION_CUES: &[&str] = &[
    "no", "not", "never", "without", "denies", "denied", "deny", "denying", "negative", "free", "none", "nor",
    "neither", "absent", "absence", "don't", "doesn't", "didn't", "haven't", "hasn't", "hadn't", "isn't", "aren't",
    "wasn't", "weren't", "dont", "doesnt", "didnt",
];

/// Words that end a clause for negation purposes ("no fever but chest pain").
const CLAUSE_BREAKS: &[&str] = &["but", "however", "although", "though", "except", "yet", "whereas"];

/// Words that commonly end in a period without ending a sentence.
const ABBREVIATIONS: &[&str] =
    &["dr", "mr", "mrs", "ms", "prof", "vs", "etc", "e.g", "i.e", "approx", "st", "no", "fig", "jr", "sr"];

/// One occurrence of a term in a [`Text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Byte offset of the first matched character in [`Text::normalized`].
    pub start: usize,
    /// Byte offset just past the match in [`Text::normalized`].
    pub end: usize,
    /// The matched text, lower-cased ("vomiting" for the term "vomit*").
    pub text: String,
    /// Whether a negation cue governs the match.
    pub negated: bool,
}

/// A text prepared for repeated term look-ups: lower-cased once, whitespace collapsed.
#[derive(Debug, Clone)]
pub struct Text {
    norm: String,
}

impl Text {
    /// Prepares `raw` for matching.
    pub fn new(raw: &str) -> Text {
        Text { norm: normalize(raw) }
    }

    /// The normalised text: lower case, one space for each whitespace run, straight quotes.
    pub fn normalized(&self) -> &str {
        &self.norm
    }

    /// Every occurrence of `term`, negated or not, in order.
    pub fn find_all(&self, term: &str) -> Vec<Match> {
        let pattern = Pattern::new(term);
        if pattern.is_empty() {
            return Vec::new();
        }
        self.matches_at(&pattern, &self.word_starts(pattern.anchor()))
    }

    /// Byte offsets in [`Text::normalized`] where `anchor` starts a word: the places where a
    /// term with that anchor (see [`anchor_of`]) can match. Terms that share an anchor can
    /// share one search.
    pub fn word_starts(&self, anchor: &str) -> Vec<usize> {
        let hay = self.norm.as_str();
        hay.match_indices(anchor).map(|(start, _)| start).filter(|&start| at_word_start(hay, start)).collect()
    }

    /// Every occurrence of `term`, given the [`Text::word_starts`] of its anchor: exactly
    /// what [`Text::find_all`] returns.
    pub fn find_all_at(&self, term: &str, starts: &[usize]) -> Vec<Match> {
        let pattern = Pattern::new(term);
        if pattern.is_empty() {
            return Vec::new();
        }
        self.matches_at(&pattern, starts)
    }

    fn matches_at(&self, pattern: &Pattern<'_>, starts: &[usize]) -> Vec<Match> {
        let hay = self.norm.as_str();
        let mut out = Vec::new();
        for &start in starts {
            if let Some(end) = pattern.match_at(hay, start) {
                out.push(Match { start, end, text: hay[start..end].to_string(), negated: self.is_negated_at(start) });
            }
        }
        out
    }

    /// The first occurrence of `term` that is not negated.
    pub fn find(&self, term: &str) -> Option<Match> {
        self.find_all(term).into_iter().find(|m| !m.negated)
    }

    /// Whether `term` occurs at least once without a negation cue.
    pub fn mentions(&self, term: &str) -> bool {
        self.find(term).is_some()
    }

    /// Whether `term` occurs at all, negated or not.
    pub fn contains(&self, term: &str) -> bool {
        !self.find_all(term).is_empty()
    }

    /// The first of `terms` (in list order) that the text mentions without negation,
    /// with its match.
    pub fn first_mentioned<'t, S: AsRef<str>>(&self, terms: &'t [S]) -> Option<(&'t str, Match)> {
        terms.iter().find_map(|t| self.find(t.as_ref()).map(|m| (t.as_ref(), m)))
    }

    /// Every one of `terms` the text mentions without negation, in list order, with the
    /// first affirmed match of each.
    pub fn all_mentioned<'t, S: AsRef<str>>(&self, terms: &'t [S]) -> Vec<(&'t str, Match)> {
        terms.iter().filter_map(|t| self.find(t.as_ref()).map(|m| (t.as_ref(), m))).collect()
    }

    /// Whether a negation cue governs the word that starts at byte `pos` of
    /// [`Text::normalized`]: a cue at most [`NEGATION_WINDOW`] words earlier, with no clause
    /// break (punctuation or "but", "however", …) between them.
    pub fn is_negated_at(&self, pos: usize) -> bool {
        let before = &self.norm[..pos.min(self.norm.len())];
        // The clause: back to the last punctuation mark that ends one.
        let clause_start = before.rfind(['.', '!', '?', ';', ':', ',', '(', ')', '\n']).map(|i| i + 1).unwrap_or(0);
        let clause = &before[clause_start..];
        let words: Vec<&str> =
            clause.split(|c: char| c.is_whitespace() || c == '/' || c == '-').filter(|w| !w.is_empty()).collect();
        for w in words.iter().rev().take(NEGATION_WINDOW) {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'');
            if CLAUSE_BREAKS.contains(&w) {
                return false;
            }
            if NEGATION_CUES.contains(&w) {
                return true;
            }
        }
        false
    }
}

/// [`normalize`], without allocating when `raw` is already normalized (lexicon terms
/// written in lower case usually are).
pub fn normalize_cow(raw: &str) -> Cow<'_, str> {
    let bytes = raw.as_bytes();
    let clean = bytes.first() != Some(&b' ')
        && bytes.last() != Some(&b' ')
        && !raw.contains("  ")
        && bytes.iter().all(|b| b.is_ascii() && !b.is_ascii_uppercase() && (*b == b' ' || !b.is_ascii_whitespace()));
    if clean { Cow::Borrowed(raw) } else { Cow::Owned(normalize(raw)) }
}

/// Lower-cases `raw`, collapses whitespace runs to one space, straightens quotes.
pub fn normalize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for c in raw.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        match c {
            '\u{2018}' | '\u{2019}' | '\u{02bc}' => out.push('\''),
            '\u{201c}' | '\u{201d}' => out.push('"'),
            '\u{2010}'..='\u{2014}' => out.push('-'),
            c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// The part of `term` that every match of it starts with (normalised, up to its first space
/// or hyphen, without a trailing `*`); `None` when the term is empty.
pub fn anchor_of(term: &str) -> Option<String> {
    let pattern = Pattern::new(term);
    (!pattern.is_empty()).then(|| pattern.anchor().to_string())
}

/// Case-insensitive, word-bounded test for one term in a raw string. For many look-ups in
/// the same text, build a [`Text`] once instead.
pub fn mentions(raw: &str, term: &str) -> bool {
    Text::new(raw).mentions(term)
}

/// A term ready for matching: normalized (borrowed when it already was), whether it ends
/// in `*`, and the literal prefix used to find candidate positions quickly.
struct Pattern<'t> {
    body: Cow<'t, str>,
    wildcard: bool,
    anchor_len: usize,
}

impl<'t> Pattern<'t> {
    fn new(term: &'t str) -> Pattern<'t> {
        let mut body = normalize_cow(term);
        let wildcard = body.ends_with('*');
        if wildcard {
            body = match body {
                Cow::Borrowed(b) => Cow::Borrowed(b[..b.len() - 1].trim_end()),
                Cow::Owned(o) => Cow::Owned(o[..o.len() - 1].trim_end().to_string()),
            };
        }
        let anchor_len = body.find([' ', '-']).unwrap_or(body.len());
        Pattern { body, wildcard, anchor_len }
    }

    fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    fn anchor(&self) -> &str {
        &self.body[..self.anchor_len]
    }

    /// The end of a match that starts at byte `start` of `hay`, if there is one.
    fn match_at(&self, hay: &str, start: usize) -> Option<usize> {
        let mut it = hay[start..].char_indices().peekable();
        for pc in self.body.chars() {
            let (_, hc) = it.next()?;
            let ok = match pc {
                ' ' | '-' => hc == ' ' || hc == '-',
                _ => hc == pc,
            };
            if !ok {
                return None;
            }
        }
        let mut end = start + it.peek().map(|(i, _)| *i).unwrap_or(hay.len() - start);
        if self.wildcard {
            for (i, c) in it {
                if !is_word_char(c) {
                    break;
                }
                end = start + i + c.len_utf8();
            }
            Some(end)
        } else {
            match hay[end..].chars().next() {
                Some(c) if is_word_char(c) && self.body.chars().next_back().is_some_and(is_word_char) => None,
                _ => Some(end),
            }
        }
    }
}

/// A character that continues a word for matching: a letter, a digit or `_`.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn at_word_start(hay: &str, start: usize) -> bool {
    match hay[..start].chars().next_back() {
        None => true,
        Some(c) => !is_word_char(c),
    }
}

/// Splits `raw` into trimmed sentences. Ends a sentence at `.`, `!` or `?` followed by
/// whitespace (but not after common abbreviations such as "Dr." or "e.g.", nor inside
/// numbers such as "2.5"), and at blank lines and line breaks.
pub fn sentences(raw: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let end_here = match b {
            b'\n' => true,
            b'.' | b'!' | b'?' => {
                let next_is_space = bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace());
                next_is_space && !(b == b'.' && ends_with_abbreviation(&raw[start..i]))
            }
            _ => false,
        };
        if end_here {
            push_trimmed(&mut out, &raw[start..=i]);
            start = i + 1;
        }
        i += 1;
    }
    push_trimmed(&mut out, &raw[start..]);
    out
}

fn push_trimmed<'a>(out: &mut Vec<&'a str>, s: &'a str) {
    let t = s.trim();
    if !t.is_empty() {
        out.push(t);
    }
}

fn ends_with_abbreviation(before: &str) -> bool {
    let word = before.rsplit(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("").to_ascii_lowercase();
    ABBREVIATIONS.contains(&word.as_str()) || (word.len() == 1 && word.chars().all(|c| c.is_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_match_on_word_boundaries_only() {
        let t = Text::new("Pain in my left arm; I live in Spain and it is painful.");
        let m = t.find_all("pain");
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].text, "pain");
        assert!(!t.contains("left ar"));
        assert!(t.contains("left arm"));
    }

    #[test]
    fn spaces_match_whitespace_runs_and_hyphens() {
        let t = Text::new("I am  short-of-breath\nand have CHEST\tPAIN");
        assert!(t.mentions("short of breath"));
        assert!(t.mentions("chest pain"));
        assert!(t.mentions("short-of breath"));
    }

    #[test]
    fn wildcard_matches_word_endings() {
        let t = Text::new("He vomited twice and keeps vomiting");
        let m = t.find_all("vomit*");
        assert_eq!(m.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["vomited", "vomiting"]);
        assert!(!Text::new("avomit").contains("vomit*"));
    }

    #[test]
    fn negation_cues_govern_the_same_clause_only() {
        let t = Text::new("No fever, but chest pain. Denies nausea or vomiting.");
        assert!(!t.mentions("fever"));
        assert!(t.mentions("chest pain"));
        assert!(!t.mentions("nausea"));
        assert!(!t.mentions("vomiting"), "a list after a cue stays negated");
        assert!(t.contains("fever"));
    }

    #[test]
    fn negation_window_is_bounded() {
        assert!(!Text::new("no history of chest pain").mentions("chest pain"));
        assert!(
            Text::new("not sure why but my chest pain is back").mentions("chest pain"),
            "'but' ends the negated clause"
        );
        assert!(Text::new("no, I started having chest pain").mentions("chest pain"));
        assert!(Text::new("not at all sure that the crushing chest pain").mentions("chest pain"));
        assert!(!Text::new("I don't have chest pain").mentions("chest pain"));
        assert!(Text::new("I can't breathe").mentions("can't breathe"));
    }

    #[test]
    fn curly_quotes_and_case_are_normalised() {
        let t = Text::new("I CAN\u{2019}T BREATHE");
        assert!(t.mentions("can't breathe"));
        assert_eq!(normalize("  A\u{00A0}b  "), "a b");
    }

    #[test]
    fn first_and_all_mentioned_keep_list_order() {
        let t = Text::new("sudden weakness and slurred speech, no chest pain");
        let terms = ["chest pain", "slurred speech", "weakness"];
        assert_eq!(t.first_mentioned(&terms).map(|(term, _)| term), Some("slurred speech"));
        let all: Vec<_> = t.all_mentioned(&terms).into_iter().map(|(term, _)| term).collect();
        assert_eq!(all, ["slurred speech", "weakness"]);
    }

    #[test]
    fn non_ascii_text_is_safe() {
        let t = Text::new("Schmerzen in der Brust – ÜBELKEIT, naïve café");
        assert!(t.mentions("übelkeit"));
        assert!(t.mentions("café"));
        assert!(!t.mentions("caf"));
        assert!(t.find_all("").is_empty());
    }

    #[test]
    fn normalize_cow_borrows_only_when_nothing_changes() {
        for raw in ["chest pain", "vomit*", "can't breathe", "mg/kg", ""] {
            assert!(matches!(normalize_cow(raw), Cow::Borrowed(_)), "{raw:?}");
            assert_eq!(normalize_cow(raw), normalize(raw));
        }
        for raw in ["Chest pain", "chest  pain", " chest", "chest\tpain", "caf\u{e9}", "can\u{2019}t"] {
            assert!(matches!(normalize_cow(raw), Cow::Owned(_)), "{raw:?}");
            assert_eq!(normalize_cow(raw), normalize(raw));
        }
    }

    #[test]
    fn sentences_split_on_terminators_but_not_numbers_or_abbreviations() {
        let s = sentences("Take 2.5 mg daily. Dr. Smith agreed! Is it safe?\nNew line e.g. this one");
        assert_eq!(s, ["Take 2.5 mg daily.", "Dr. Smith agreed!", "Is it safe?", "New line e.g. this one"]);
        assert!(sentences("   ").is_empty());
    }
}
