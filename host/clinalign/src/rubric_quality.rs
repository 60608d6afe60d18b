//! Rubric quality: comparing criteria, merging near-duplicates across principles, capping a
//! rubric at a HealthBench-like size with a balance of rewards and penalties, and checking
//! that every criterion reads as a checkable statement about the response.
//!
//! **Comparing criteria.** A criterion is reduced to its content words: lower case, stop
//! words dropped, crude suffix stemming ("advises" → "advis", "symptoms" → "symptom"), and a
//! few clinical synonyms folded together ("doctor", "physician", "clinician" → one word;
//! "recommends", "advises", "suggests", "tells" → one verb). Two criteria are compared with
//! the Dice coefficient of their word sets, `2|A∩B| / (|A|+|B|)`.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::synthesis::RubricEntry;

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

/// How rubrics are curated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurationPolicy {
    /// Most items in one rubric (HealthBench's physician rubrics have about 5–20).
    pub max_items: usize,
    /// Most items taken from one principle, so that one principle cannot crowd out the rest.
    pub max_per_principle: usize,
    /// Same-sign items at least this similar (Dice of content words) are merged; above 1.0
    /// nothing is merged.
    pub merge_similarity: f64,
    /// The share of penalties (negative items) kept between these, when the candidates allow.
    pub min_negative_share: f64,
    pub max_negative_share: f64,
}

impl Default for CurationPolicy {
    fn default() -> Self {
        CurationPolicy {
            max_items: 20,
            max_per_principle: 4,
            merge_similarity: 0.6,
            min_negative_share: 0.2,
            max_negative_share: 0.4,
        }
    }
}

/// An item with what curation ranks it by.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub entry: RubricEntry,
    /// The principle that wrote it.
    pub principle: String,
    /// Whether the principle speaks only when its topic comes up (triggers, or its own code)
    /// rather than for every query of a scenario.
    pub specific: bool,
    /// Confidence of the label that put the principle in the pool (1 when given).
    pub confidence: f32,
}

impl Candidate {
    fn priority(&self) -> f64 {
        let specificity = if self.specific { 1.0 } else { 0.75 };
        self.entry.points.unsigned_abs() as f64 * specificity * (0.5 + 0.5 * self.confidence as f64)
    }
}

/// What curation did to one rubric.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurationStats {
    /// Items the principles wrote.
    pub candidates: usize,
    /// Items folded into a near-duplicate.
    pub merged: usize,
    /// Items left out by the size cap or the balance.
    pub dropped: usize,
}

/// Merges near-duplicates and caps the rubric; the kept items stay in their original order.
/// A merged item keeps the higher-priority wording and gains the other principle's
/// `principle:` tag.
pub fn curate(candidates: Vec<Candidate>, policy: &CurationPolicy) -> (Vec<RubricEntry>, CurationStats) {
    let mut stats = CurationStats { candidates: candidates.len(), ..Default::default() };
    let words: Vec<WordHashes> = candidates.iter().map(|c| WordHashes::of(&c.entry.criterion)).collect();

    // Merge: walk in priority order; an item joins the first kept item it duplicates.
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| candidates[b].priority().total_cmp(&candidates[a].priority()).then(a.cmp(&b)));
    let mut kept: Vec<usize> = Vec::new();
    let mut extra_tags: HashMap<usize, Vec<String>> = HashMap::new();
    for &i in &order {
        let sign = candidates[i].entry.points.signum();
        let twin = kept.iter().copied().find(|&k| {
            candidates[k].entry.points.signum() == sign && words[k].dice(&words[i]) >= policy.merge_similarity
        });
        match twin {
            Some(k) => {
                stats.merged += 1;
                let tags = extra_tags.entry(k).or_default();
                for t in candidates[i].entry.tags.iter().filter(|t| t.starts_with("principle:")) {
                    if !candidates[k].entry.tags.contains(t) && !tags.contains(t) {
                        tags.push(t.clone());
                    }
                }
            }
            None => kept.push(i),
        }
    }

    // Cap: best first (`kept` is in priority order). Sign quotas keep penalties between the
    // policy's shares when the candidates allow; pass 0 also keeps the per-principle limit,
    // pass 1 relaxes it to fill the rubric.
    let target = policy.max_items.max(1).min(kept.len());
    let negatives_available = kept.iter().filter(|&&i| candidates[i].entry.points < 0).count();
    let min_negative = ((policy.min_negative_share * target as f64).ceil() as usize).min(negatives_available);
    let max_negative = ((policy.max_negative_share * target as f64).floor() as usize).max(1);
    let max_positive = target - min_negative;
    let mut chosen: Vec<usize> = Vec::new();
    let mut per_principle: HashMap<&str, usize> = HashMap::new();
    let (mut pos, mut neg) = (0usize, 0usize);
    for pass in 0..2 {
        for &i in &kept {
            let c = &candidates[i];
            let negative = c.entry.points < 0;
            let room = if negative { neg < max_negative } else { pos < max_positive };
            let principle_room =
                pass == 1 || per_principle.get(c.principle.as_str()).copied().unwrap_or(0) < policy.max_per_principle;
            if chosen.len() >= target || chosen.contains(&i) || !room || !principle_room {
                continue;
            }
            chosen.push(i);
            *per_principle.entry(c.principle.as_str()).or_default() += 1;
            if negative { neg += 1 } else { pos += 1 }
        }
    }
    // When positives ran short the rubric is smaller than the target; trim the
    // lowest-priority penalties until they are within the share of what was kept
    // (always keeping one). `chosen` is in priority order.
    while neg > 1 && neg as f64 > (policy.max_negative_share * (pos + neg) as f64).floor() {
        let last = chosen.iter().rposition(|&i| candidates[i].entry.points < 0).expect("a penalty");
        chosen.remove(last);
        neg -= 1;
    }
    stats.dropped = kept.len() - chosen.len();
    chosen.sort_unstable();
    let out = chosen
        .into_iter()
        .map(|i| {
            let mut e = candidates[i].entry.clone();
            if let Some(tags) = extra_tags.remove(&i) {
                e.tags.extend(tags);
            }
            e
        })
        .collect();
    (out, stats)
}

/// Words that may open a condition before the verb: "When X is missing, asks …".
const CONDITION_OPENERS: &[&str] =
    &["if", "when", "while", "for", "after", "before", "where", "unless", "in", "once", "given", "since", "whenever"];

/// Whether `word` reads as a third-person verb ("Advises", "Is", "Fails").
fn is_third_person_verb(word: &str) -> bool {
    let w = word.trim_end_matches(|c: char| !c.is_alphabetic()).to_lowercase();
    if ["is", "has", "does"].contains(&w.as_str()) {
        return true;
    }
    w.len() > 2
        && w.chars().all(|c| c.is_alphabetic())
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !["this", "its", "his", "was", "yes", "thus", "plus", "always", "perhaps"].contains(&w.as_str())
}

/// Problems that keep a criterion from reading as a checkable statement about the
/// response, in HealthBench's style: it starts with a capital letter and a verb in the
/// third person ("Advises …", "Clearly states …", or after a condition: "When the dose is
/// unknown, asks …"), ends with a full stop, and stays under 400 characters.
pub fn criterion_problems(criterion: &str) -> Vec<String> {
    let mut out = Vec::new();
    let c = criterion.trim();
    if !c.chars().next().is_some_and(|ch| ch.is_uppercase()) {
        out.push("does not start with a capital letter".into());
    }
    let words: Vec<&str> = c.split_whitespace().collect();
    let first = words.first().copied().unwrap_or("");
    let verb_ok = if first.to_lowercase().ends_with("ly") {
        words.get(1).is_some_and(|w| is_third_person_verb(w))
    } else if CONDITION_OPENERS.contains(&first.to_lowercase().as_str()) {
        c.split_once(", ").and_then(|(_, rest)| rest.split_whitespace().next().map(|w| (w, rest))).is_some_and(
            |(w, rest)| {
                is_third_person_verb(w)
                    || (w.to_lowercase().ends_with("ly")
                        && rest.split_whitespace().nth(1).is_some_and(is_third_person_verb))
            },
        )
    } else {
        is_third_person_verb(first)
    };
    if !verb_ok {
        out.push(format!("does not start with a verb about the response (\"{first}\"; write e.g. \"Advises …\")"));
    }
    if !(c.ends_with('.') || c.ends_with(".)") || c.ends_with(".'") || c.ends_with(".\"")) {
        out.push("does not end with a full stop".into());
    }
    if c.chars().count() > 400 {
        out.push(format!("is {} characters long; keep criteria under 400", c.chars().count()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(criterion: &str, points: i32, principle: &str, specific: bool) -> Candidate {
        Candidate {
            entry: RubricEntry {
                criterion: criterion.into(),
                points,
                tags: vec!["axis:accuracy".into(), format!("principle:{principle}@1.0.0")],
            },
            principle: principle.into(),
            specific,
            confidence: 1.0,
        }
    }

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

    #[test]
    fn merges_same_sign_near_duplicates_and_keeps_both_principles() {
        let items = vec![
            cand(
                "Suggests waiting to see whether the pain improves at home instead of seeking emergency care.",
                -10,
                "urgency.a",
                true,
            ),
            cand(
                "Suggests waiting at home to see whether the pain improves instead of seeking emergency care now.",
                -8,
                "urgency.b",
                true,
            ),
            cand("Advises seeking emergency care now.", 9, "urgency.a", true),
        ];
        let (out, stats) = curate(items, &CurationPolicy::default());
        assert_eq!(out.len(), 2);
        assert_eq!(stats.merged, 1);
        assert!(out[0].tags.contains(&"principle:urgency.b@1.0.0".to_string()), "{:?}", out[0].tags);
        assert_eq!(out[0].points, -10, "the higher-priority wording wins");
    }

    #[test]
    fn caps_size_per_principle_and_balances_signs() {
        const WORDS: [&str; 40] = [
            "anemia", "bruising", "cough", "dizziness", "eczema", "fatigue", "gout", "headache", "insomnia",
            "jaundice", "kidney", "lupus", "migraine", "nausea", "obesity", "psoriasis", "quinsy", "rickets",
            "sciatica", "tinnitus", "ulcer", "vertigo", "warts", "xerosis", "yaws", "zoster", "acne", "bronchitis",
            "cellulitis", "dermatitis", "epistaxis", "fibroids", "gastritis", "hernia", "impetigo", "keloid",
            "laryngitis", "measles", "neuropathy", "otitis",
        ];
        let mut items = Vec::new();
        for p in 0..10usize {
            for k in 0..4usize {
                let points = if k == 3 { -((p % 5) as i32 + 1) } else { ((k + p) % 10) as i32 + 1 };
                items.push(cand(&format!("Explains {}.", WORDS[p * 4 + k]), points, &format!("task.p{p}"), p % 2 == 0));
            }
        }
        let policy = CurationPolicy::default();
        let (out, stats) = curate(items, &policy);
        assert_eq!(out.len(), 20);
        assert_eq!(stats.dropped, 20);
        let negatives = out.iter().filter(|e| e.points < 0).count();
        assert!((4..=8).contains(&negatives), "negatives {negatives}");
        let mut per: HashMap<String, usize> = HashMap::new();
        for e in &out {
            *per.entry(e.tags[1].clone()).or_default() += 1;
        }
        assert!(per.values().all(|n| *n <= 4));
    }

    #[test]
    fn penalties_stay_within_their_share_when_rewards_run_short() {
        let mut items = vec![cand("Explains anemia.", 5, "a.p", true), cand("Explains gout.", 4, "a.q", true)];
        for (i, w) in ["cough", "eczema", "lupus", "vertigo"].iter().enumerate() {
            items.push(cand(&format!("Dismisses {w}."), -(i as i32) - 5, &format!("a.n{i}"), true));
        }
        let (out, _) = curate(items, &CurationPolicy::default());
        let neg = out.iter().filter(|e| e.points < 0).count();
        assert_eq!(out.len() - neg, 2);
        assert_eq!(neg, 1, "{out:?}");
        assert_eq!(out.iter().find(|e| e.points < 0).unwrap().points, -8, "the strongest penalty stays");
    }

    #[test]
    fn small_rubrics_pass_through_unchanged() {
        let items =
            vec![cand("Advises rest.", 5, "a.b", false), cand("Recommends antibiotics for a cold.", -6, "a.c", true)];
        let (out, stats) = curate(items.clone(), &CurationPolicy::default());
        assert_eq!(out, items.into_iter().map(|c| c.entry).collect::<Vec<_>>());
        assert_eq!(stats, CurationStats { candidates: 2, merged: 0, dropped: 0 });
    }

    #[test]
    fn lints_criteria_style() {
        assert!(criterion_problems("Advises calling emergency services now.").is_empty());
        assert!(criterion_problems("Clearly states the maximum daily dose.").is_empty());
        assert!(criterion_problems("Is overly verbose.").is_empty());
        assert!(criterion_problems("Mocks, belittles or lectures the user.").is_empty());
        assert!(criterion_problems("When the age is missing, asks for it.").is_empty());
        assert!(criterion_problems("For a child, clearly states the weight-based dose.").is_empty());
        assert!(!criterion_problems("When the age is missing, the age.").is_empty());
        assert!(!criterion_problems("advises calling.").is_empty());
        assert!(!criterion_problems("The response should advise calling.").is_empty());
        assert!(!criterion_problems("Advises calling emergency services now").is_empty());
        assert!(!criterion_problems(&format!("Advises {}.", "x".repeat(400))).is_empty());
    }
}
