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
        let end =
            bytes.iter().position(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'\'')).unwrap_or(bytes.len());
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

impl Lookup {
    /// Every distinct word of the text (and the pieces of words with apostrophes).
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.words.iter().map(String::as_str)
    }
}

/// A fixed list of terms indexed by first word, built once (in `init`) and used for many
/// texts. [`TermIndex::find_in`] gives the same answers as calling [`Lookup::find_all`] for
/// every term in order, but looks only at the terms whose first word occurs in the text:
/// its cost follows the text's length, not the lexicon's size.
#[derive(Debug, Clone)]
pub struct TermIndex {
    terms: Vec<String>,
    /// First word (lower case) → indices of the terms that start with it.
    by_first: rustc_hash::FxHashMap<String, Vec<usize>>,
    /// Terms whose first word ends in `*`: (prefix, index).
    prefixed: Vec<(String, usize)>,
    /// Terms that do not start with a plain word; always checked.
    other: Vec<usize>,
}

impl TermIndex {
    /// Indexes `terms`; positions in the list are the ids [`TermIndex::find_in`] returns.
    pub fn new<S: AsRef<str>>(terms: impl IntoIterator<Item = S>) -> TermIndex {
        let mut ix =
            TermIndex { terms: Vec::new(), by_first: Default::default(), prefixed: Vec::new(), other: Vec::new() };
        for (i, t) in terms.into_iter().enumerate() {
            let norm = crate::text::normalize(t.as_ref());
            let end = norm.find(|c: char| !is_word_char(c)).unwrap_or(norm.len());
            let first = norm[..end].trim_matches('\'');
            if first.is_empty() || norm.starts_with('\'') {
                ix.other.push(i);
            } else if norm[end..].starts_with('*') {
                ix.prefixed.push((first.to_string(), i));
            } else {
                ix.by_first.entry(first.to_string()).or_default().push(i);
            }
            ix.terms.push(t.as_ref().to_string());
        }
        ix
    }

    /// The term with id `i`, as given.
    pub fn term(&self, i: usize) -> &str {
        &self.terms[i]
    }

    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Every term that occurs in `text` (negated or not), as (id, its matches), in id order.
    pub fn find_in(&self, text: &Lookup) -> Vec<(usize, Vec<Match>)> {
        let mut ids: Vec<usize> = self.other.clone();
        for w in text.words() {
            if let Some(list) = self.by_first.get(w) {
                ids.extend(list);
            }
        }
        for (prefix, i) in &self.prefixed {
            if text.words().any(|w| w.starts_with(prefix.as_str())) {
                ids.push(*i);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter_map(|i| {
                let m = text.text().find_all(&self.terms[i]);
                (!m.is_empty()).then_some((i, m))
            })
            .collect()
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
    fn term_index_agrees_with_a_linear_scan() {
        let terms = [
            "baby", "baby's", "chest pain", "can't breathe", "vomit*", "st. john's wort", "co-codamol", "Tylenol",
            "tylenol pm", "Advil-PM", "'chest", "sore*", "38.5", "absent", "x", "ibuprofen",
        ];
        let ix = TermIndex::new(terms);
        for t in [
            "My baby's temperature is 38.5; 'chest pain' since 2 hours, can't breathe, vomiting. St. John's wort + co-codamol",
            "No chest pain, just a sore knee. Tylenol PM and Advil-PM and ibuprofen",
            "",
        ] {
            let l = Lookup::new(t);
            let linear: Vec<(usize, Vec<Match>)> = terms
                .iter()
                .enumerate()
                .map(|(i, term)| (i, l.find_all(term)))
                .filter(|(_, m)| !m.is_empty())
                .collect();
            assert_eq!(ix.find_in(&l), linear, "{t:?}");
        }
        assert_eq!(ix.term(7), "Tylenol");
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
