//! Fast term look-ups for large lexicons.
//!
//! [`Text`] scans the whole text for every term. With a lexicon of hundreds of terms and a
//! long conversation that adds up, so [`Lookup`] first checks that the term's first word
//! occurs in the text at all (a set of the text's words, built once), and only then asks
//! [`Text`]. The answers are exactly [`Text`]'s: a term whose first word is absent cannot
//! match.

use rustc_hash::FxHashSet;

use crate::text::{Match, Text};

/// A text prepared for many term look-ups.
#[derive(Debug, Clone)]
pub struct Lookup {
    text: Text,
    /// Every word of the text (and its pieces around apostrophes). Fx hashing: the keys
    /// come from the plugin's own input, and look-ups must be cheap.
    words: FxHashSet<String>,
}

/// First words longer than this are looked up through the slow path.
const FAST_WORD: usize = 48;

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '\''
}

impl Lookup {
    /// Prepares `raw`.
    pub fn new(raw: &str) -> Lookup {
        let text = Text::new(raw);
        let mut words = FxHashSet::default();
        for token in text.normalized().split(|c: char| !is_word_char(c)).filter(|t| !t.is_empty()) {
            // "baby's" must also offer "baby", and "'chest" must offer "chest".
            words.insert(token.to_string());
            let trimmed = token.trim_matches('\'');
            words.insert(trimmed.to_string());
            for piece in trimmed.split('\'').filter(|p| !p.is_empty()) {
                words.insert(piece.to_string());
            }
        }
        Lookup { text, words }
    }

    /// The underlying text.
    pub fn text(&self) -> &Text {
        &self.text
    }

    /// The normalised text (see [`Text::normalized`]).
    pub fn normalized(&self) -> &str {
        self.text.normalized()
    }

    /// Whether the term's first word occurs, so that the term might match. Does not
    /// allocate for ASCII terms.
    pub fn may_match(&self, term: &str) -> bool {
        let bytes = term.as_bytes();
        let end = bytes.iter().position(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'\'')).unwrap_or(bytes.len());
        let rest_ascii = bytes[end..].first().is_none_or(|b| b.is_ascii());
        if end > 0 && end <= FAST_WORD && rest_ascii && bytes.first().is_some_and(|b| *b != b'\'') {
            // Lower-case the first word on the stack; the text's words are lower case.
            let mut buf = [0u8; FAST_WORD];
            for (d, s) in buf.iter_mut().zip(&bytes[..end]) {
                *d = s.to_ascii_lowercase();
            }
            let first = std::str::from_utf8(&buf[..end]).expect("ASCII").trim_end_matches('\'');
            return if bytes.get(end) == Some(&b'*') {
                self.words.iter().any(|w| w.starts_with(first))
            } else {
                self.words.contains(first)
            };
        }
        self.may_match_slow(term)
    }

    fn may_match_slow(&self, term: &str) -> bool {
        let term = crate::text::normalize_cow(term);
        let raw_first = &term[..term.find(|c: char| !is_word_char(c)).unwrap_or(term.len())];
        let first = raw_first.trim_matches('\'');
        if first.is_empty() {
            return true; // starts with punctuation: ask Text
        }
        // "vomit*": the first word is itself a prefix.
        if term[raw_first.len()..].starts_with('*') {
            self.words.iter().any(|w| w.starts_with(first))
        } else {
            self.words.contains(first)
        }
    }

    /// Every occurrence of `term` (see [`Text::find_all`]).
    pub fn find_all(&self, term: &str) -> Vec<Match> {
        if self.may_match(term) { self.text.find_all(term) } else { Vec::new() }
    }

    /// Whether `term` occurs without negation (see [`Text::mentions`]).
    pub fn mentions(&self, term: &str) -> bool {
        self.may_match(term) && self.text.mentions(term)
    }

    /// Whether `term` occurs at all (see [`Text::contains`]).
    pub fn contains(&self, term: &str) -> bool {
        self.may_match(term) && self.text.contains(term)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prefilter never changes an answer.
    #[test]
    fn agrees_with_text() {
        let texts = [
            "My baby's temperature is 38.5; 'chest pain' since 2 hours, can't breathe, vomiting. St. John's wort + co-codamol",
            "No chest pain, just a sore knee. Tylenol #3 and Advil-PM",
            "",
        ];
        let terms = [
            "baby", "baby's", "chest pain", "can't breathe", "vomit*", "vomit", "st. john's wort", "co-codamol",
            "codamol", "tylenol #3", "advil pm", "knee", "sore*", "temperature", "38.5", "'chest", "pain", "absent",
            "nause*", "s",
        ];
        for t in texts {
            let l = Lookup::new(t);
            let x = Text::new(t);
            for term in terms {
                assert_eq!(l.find_all(term), x.find_all(term), "{t:?} / {term:?}");
                assert_eq!(l.mentions(term), x.mentions(term), "{t:?} / {term:?}");
            }
        }
    }

    #[test]
    fn absent_first_words_are_skipped() {
        let l = Lookup::new("a mild cold");
        assert!(!l.may_match("chest pain"));
        assert!(!l.may_match("vomit*"));
        assert!(l.may_match("mild*"));
        assert!(l.may_match("cold"));
    }
}
