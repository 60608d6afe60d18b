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

/// A character of a looked-up word: a word character ([`crate::text::is_word_char`]) or an
/// apostrophe, so that "can't" and "baby's" are one word here (with their pieces added).
fn is_token_char(c: char) -> bool {
    crate::text::is_word_char(c) || c == '\''
}

impl Lookup {
    /// Prepares `raw`.
    pub fn new(raw: &str) -> Lookup {
        let text = Text::new(raw);
        let mut words = FxHashSet::default();
        for token in text.normalized().split(|c: char| !is_token_char(c)).filter(|t| !t.is_empty()) {
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
        let raw_first = &term[..term.find(|c: char| !is_token_char(c)).unwrap_or(term.len())];
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
    /// Each term's anchor (see [`crate::text::anchor_of`]) as an index into `anchors`; terms
    /// with one anchor share one search of the text.
    anchor_of: Vec<Option<usize>>,
    anchors: Vec<String>,
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
        let mut ix = TermIndex {
            terms: Vec::new(),
            anchor_of: Vec::new(),
            anchors: Vec::new(),
            by_first: Default::default(),
            prefixed: Vec::new(),
            other: Vec::new(),
        };
        let mut anchor_ids: rustc_hash::FxHashMap<String, usize> = Default::default();
        for (i, t) in terms.into_iter().enumerate() {
            let anchor = crate::text::anchor_of(t.as_ref()).map(|a| {
                *anchor_ids.entry(a.clone()).or_insert_with(|| {
                    ix.anchors.push(a);
                    ix.anchors.len() - 1
                })
            });
            ix.anchor_of.push(anchor);
            let norm = crate::text::normalize(t.as_ref());
            let end = norm.find(|c: char| !is_token_char(c)).unwrap_or(norm.len());
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
        if !self.prefixed.is_empty() {
            // Sorted words: a prefix's words are the run starting where it would be inserted.
            let mut words: Vec<&str> = text.words().collect();
            words.sort_unstable();
            for (prefix, i) in &self.prefixed {
                let at = words.partition_point(|w| *w < prefix.as_str());
                if words.get(at).is_some_and(|w| w.starts_with(prefix.as_str())) {
                    ids.push(*i);
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        // Where each anchor starts a word, searched once per anchor.
        let mut starts: rustc_hash::FxHashMap<usize, Vec<usize>> = Default::default();
        ids.into_iter()
            .filter_map(|i| {
                let m = match self.anchor_of[i] {
                    Some(a) => {
                        let at = starts.entry(a).or_insert_with(|| text.text().word_starts(&self.anchors[a]));
                        text.text().find_all_at(&self.terms[i], at)
                    }
                    None => Vec::new(),
                };
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// On any text, the index finds exactly what looking up each term in turn finds:
        /// terms sharing an anchor, wildcards, apostrophes and hyphens included.
        #[test]
        fn the_index_agrees_with_looking_up_each_term(
            words in proptest::collection::vec(proptest::sample::select(&VOCABULARY[..]), 0..40),
            seps in proptest::collection::vec(proptest::sample::select(&[" ", ", ", ". ", " no ", "-", "'", " but "][..]), 40),
            terms in proptest::collection::vec(
                (proptest::sample::select(&VOCABULARY[..]), proptest::sample::select(&["", " ", "-", "* ", "'s "][..]), proptest::sample::select(&VOCABULARY[..]), proptest::bool::ANY),
                1..30,
            ),
        ) {
            let text: String = words.iter().zip(&seps).map(|(w, s)| format!("{w}{s}")).collect();
            let terms: Vec<String> = terms
                .iter()
                .map(|(a, sep, b, two)| if *two { format!("{a}{sep}{b}") } else { format!("{a}{}", sep.trim()) })
                .collect();
            let l = Lookup::new(&text);
            let linear: Vec<(usize, Vec<Match>)> =
                terms.iter().enumerate().map(|(i, t)| (i, l.find_all(t))).filter(|(_, m)| !m.is_empty()).collect();
            proptest::prop_assert_eq!(TermIndex::new(&terms).find_in(&l), linear, "{:?} / {:?}", text, terms);
        }
    }

    /// Words for the property test: shared prefixes, apostrophes, a non-ASCII word.
    const VOCABULARY: [&str; 14] = [
        "chest", "chests", "pain", "painful", "my", "baby", "baby's", "vomit", "vomiting", "can't", "breathe", "no",
        "café", "x",
    ];

    #[test]
    fn absent_first_words_are_skipped() {
        let l = Lookup::new("a mild cold");
        assert!(!l.may_match("chest pain"));
        assert!(!l.may_match("vomit*"));
        assert!(l.may_match("mild*"));
        assert!(l.may_match("cold"));
    }
}
