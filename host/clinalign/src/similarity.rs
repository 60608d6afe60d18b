//! Comparing criteria by their content words, shared by curation (merging near-duplicates)
//! and the rubric comparison of the evaluation.
//!
//! A criterion is reduced to its content words: lower case, stop words dropped, crude suffix
//! stemming ("advises" → "advis", "symptoms" → "symptom"), and a few clinical synonyms folded
//! together ("doctor", "physician", "clinician" → one word; "recommends", "advises",
//! "suggests", "tells" → one verb). Two criteria are compared with the Dice coefficient of
//! their word sets, `2|A∩B| / (|A|+|B|)`.

use std::collections::BTreeSet;

const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "by", "at", "from", "as", "is", "are", "be",
    "been", "being", "it", "its", "this", "that", "these", "those", "their", "they", "them", "there", "then", "than",
    "such", "e", "g", "eg", "etc", "if", "when", "which", "who", "whom", "whose", "what", "where", "how", "so", "any",
    "all", "each", "some", "can", "may", "might", "should", "would", "could", "will", "do", "does", "did", "has",
    "have", "had", "i", "you", "your", "user", "users", "user's", "response", "responses", "answer", "about", "into",
    "also", "only", "other", "more", "most", "very", "just", "like", "e.g.", "i.e.", "example", "including", "include",
    "includes", "clearly", "briefly", "specific", "specifically", "appropriate", "appropriately",
];

fn is_stop_word(w: &str) -> bool {
    static SET: std::sync::LazyLock<rustc_hash::FxHashSet<&'static str>> =
        std::sync::LazyLock::new(|| STOP_WORDS.iter().copied().collect());
    SET.contains(w)
}

fn synonym(w: &str) -> Option<&'static str> {
    static MAP: std::sync::LazyLock<rustc_hash::FxHashMap<&'static str, &'static str>> =
        std::sync::LazyLock::new(|| SYNONYMS.iter().copied().collect());
    MAP.get(w).copied()
}

/// Words folded to one token each (after stemming).
const SYNONYMS: &[(&str, &str)] = &[
    ("doctor", "clinician"),
    ("physician", "clinician"),
    ("provider", "clinician"),
    ("gp", "clinician"),
    ("healthcare", "clinician"),
    ("professional", "clinician"),
    ("er", "emergency"),
    ("ed", "emergency"),
    ("medicin", "medication"),
    ("drug", "medication"),
    ("medic", "medication"),
    ("recommend", "advis"),
    ("suggest", "advis"),
    ("tell", "advis"),
    ("encourag", "advis"),
    ("urg", "advis"),
    ("mention", "stat"),
    ("say", "stat"),
    ("not", "stat"),
    ("explain", "stat"),
    ("describ", "stat"),
    ("seek", "get"),
    ("obtain", "get"),
    ("call", "contact"),
    ("phon", "contact"),
    ("immediat", "now"),
    ("urgent", "now"),
    ("right", "now"),
    ("promptly", "now"),
    ("prompt", "now"),
    ("kid", "child"),
    ("children", "child"),
    ("infant", "baby"),
];

/// A crude English stemmer, enough to line up inflections of the same word: one common
/// suffix off, then a final "e", then a doubled final consonant ("getting" → "get").
pub fn stem(word: &str) -> String {
    let mut w = word.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
    stem_in_place(&mut w);
    w
}

/// [`stem`] on a word that is already lower case and trimmed, reusing its buffer.
fn stem_in_place(w: &mut String) {
    if w.ends_with("'s") {
        w.truncate(w.len() - 2);
    }
    // (suffix, replacement, shortest stem left): the first that fits applies.
    const RULES: [(&str, &str, usize); 6] =
        [("ies", "y", 3), ("ing", "", 3), ("ed", "", 3), ("ly", "", 4), ("es", "", 4), ("s", "", 3)];
    for (suffix, replacement, min) in RULES {
        if w.ends_with(suffix) && w.len() - suffix.len() >= min && !(suffix == "s" && w.ends_with("ss")) {
            w.truncate(w.len() - suffix.len());
            w.push_str(replacement);
            break;
        }
    }
    if w.ends_with('e') && w.len() > 4 {
        w.pop();
    }
    let b = w.as_bytes();
    if b.len() >= 4 && b[b.len() - 1] == b[b.len() - 2] && !b"aeiouslz".contains(&b[b.len() - 1]) {
        w.pop();
    }
    if let Some(to) = synonym(w) {
        w.clear();
        w.push_str(to);
    }
}

/// The content words of a criterion, stemmed and folded.
pub fn content_words(criterion: &str) -> BTreeSet<String> {
    criterion
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .filter(|w| !is_stop_word(w))
        .map(|w| stem(&w))
        .filter(|w| !w.is_empty() && !is_stop_word(w))
        .collect()
}

/// Dice coefficient of two word sets, 0..1.
pub fn dice(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    2.0 * a.intersection(b).count() as f64 / (a.len() + b.len()) as f64
}

/// A criterion's content words as sorted, de-duplicated hashes: the same comparison as
/// [`content_words`] + [`dice`] without allocating a string per word (curation compares
/// every candidate with every kept item, for every query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordHashes(Vec<u64>);

impl WordHashes {
    pub fn of(criterion: &str) -> WordHashes {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hasher = BuildHasherDefault::<rustc_hash::FxHasher>::default();
        let mut w = String::new();
        let mut v: Vec<u64> = Vec::with_capacity(16);
        for raw in criterion.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
            let raw = raw.trim_matches('\'');
            if raw.is_empty() {
                continue;
            }
            w.clear();
            w.extend(raw.chars().flat_map(char::to_lowercase));
            if is_stop_word(&w) {
                continue;
            }
            stem_in_place(&mut w);
            if w.is_empty() || is_stop_word(&w) {
                continue;
            }
            v.push(hasher.hash_one(w.as_str()));
        }
        v.sort_unstable();
        v.dedup();
        WordHashes(v)
    }

    /// Dice coefficient, 0..1.
    pub fn dice(&self, other: &WordHashes) -> f64 {
        let (a, b) = (&self.0, &other.0);
        if a.is_empty() && b.is_empty() {
            return 0.0;
        }
        let (mut i, mut j, mut common) = (0, 0, 0usize);
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    common += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        2.0 * common as f64 / (a.len() + b.len()) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_synonyms_line_up_wording() {
        assert_eq!(stem("Advises"), stem("recommends"));
        assert_eq!(stem("symptoms"), "symptom");
        assert_eq!(stem("physician"), stem("doctor"));
        let a = content_words("Advises the user to seek emergency care immediately.");
        let b = content_words("Recommends getting emergency care right away now.");
        assert!(dice(&a, &b) >= 0.6, "{a:?} {b:?}");
        let c = content_words("Asks about the child's weight before giving a dose.");
        assert!(dice(&a, &c) < 0.2);
    }

    #[test]
    fn hashed_comparison_equals_the_word_set_comparison() {
        let texts = [
            "Advises the user to seek emergency care immediately.",
            "Recommends getting emergency care right away now.",
            "Asks about the child's weight before giving a dose.",
            "Suggests waiting at home to see whether the pain improves instead of seeking emergency care now.",
            "",
        ];
        for a in texts {
            for b in texts {
                let exact = dice(&content_words(a), &content_words(b));
                let fast = WordHashes::of(a).dice(&WordHashes::of(b));
                assert!((exact - fast).abs() < 1e-12, "{a:?} / {b:?}: {exact} vs {fast}");
            }
        }
    }
}
