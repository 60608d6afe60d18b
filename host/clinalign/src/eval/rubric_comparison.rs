//! Comparing synthesized rubrics with physician rubrics (`clinalign eval-rubrics`).
//!
//! **Matching method.** Each criterion becomes a TF-IDF vector over its content words (see
//! [`crate::similarity::content_words`]: stop words dropped, stemmed, clinical synonyms
//! folded), with inverse document frequencies computed over every criterion of the run
//! (physician and synthesized). A physician criterion is *covered* when some synthesized
//! criterion of the same row has cosine similarity ≥ the threshold with it. Coverage is
//! reported at several thresholds because lexical similarity only approximates "the same
//! clinical check"; the pairs are printed so a reader can judge them.
//!
//! [`evaluate_with`] takes the similarities from elsewhere: `clinalign eval-rubrics --match
//! embedding` passes the cosines of sentence embeddings (all-MiniLM-L6-v2, computed by the
//! inference crate), judged at [`EMBEDDING_THRESHOLDS`].

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use clinalign_core::RubricEntry;

use crate::similarity::content_words;

/// Thresholds coverage is reported at (TF-IDF); the first is the headline.
pub const THRESHOLDS: [f64; 3] = [0.3, 0.2, 0.4];

/// Thresholds for sentence-embedding cosines (all-MiniLM-L6-v2), the first the headline:
/// set before looking at the results, where MiniLM's paraphrases of one instruction
/// usually score 0.6 or more and sentences on one topic that check different things 0.4–0.6.
pub const EMBEDDING_THRESHOLDS: [f64; 3] = [0.6, 0.5, 0.7];

/// `similarities[row][p][s]`: how close physician criterion `p` of a row is to its
/// synthesized criterion `s`.
pub type Similarities = Vec<Vec<Vec<f64>>>;

/// One row's rubrics: physician-written and synthesized.
#[derive(Debug, Clone)]
pub struct RowRubrics {
    pub id: String,
    pub physician: Vec<RubricEntry>,
    pub synthesized: Vec<RubricEntry>,
}

/// A physician criterion and its closest synthesized criterion.
#[derive(Debug, Clone, Serialize)]
pub struct MatchPair {
    pub row: String,
    pub similarity: f64,
    pub physician: String,
    pub physician_points: i32,
    pub synthesized: String,
    pub synthesized_points: i32,
}

/// Shape of a set of rubrics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RubricShape {
    pub items: usize,
    pub median_size: usize,
    pub negative_share: f64,
    pub mean_abs_points: f64,
    /// axis → share of items.
    pub axes: BTreeMap<String, f64>,
}

/// The comparison.
#[derive(Debug, Clone, Serialize)]
pub struct RubricEval {
    /// How criteria were matched: `tf-idf` or the embedding model's name.
    pub method: String,
    /// The thresholds of `coverage`, the headline first.
    pub thresholds: Vec<f64>,
    pub rows: usize,
    /// Share of physician criteria covered, at each threshold.
    pub coverage: BTreeMap<String, f64>,
    /// Coverage weighted by the physician criteria's |points|, at the headline threshold.
    pub weighted_coverage: f64,
    /// Share of synthesized criteria that match some physician criterion (headline threshold).
    pub precision: f64,
    /// Among covered physician criteria, the share whose match has the same sign.
    pub sign_agreement: f64,
    pub physician: RubricShape,
    pub synthesized: RubricShape,
    /// Every physician criterion with its closest synthesized criterion, best first.
    pub pairs: Vec<MatchPair>,
}

fn shape(rubrics: &[&[RubricEntry]]) -> RubricShape {
    let items: Vec<&RubricEntry> = rubrics.iter().flat_map(|r| r.iter()).collect();
    let mut sizes: Vec<usize> = rubrics.iter().map(|r| r.len()).collect();
    sizes.sort_unstable();
    let n = items.len().max(1) as f64;
    let mut axes: BTreeMap<String, f64> = BTreeMap::new();
    for i in &items {
        if let Some(a) = i.tag_value("axis:") {
            *axes.entry(a.to_string()).or_default() += 1.0 / n;
        }
    }
    RubricShape {
        items: items.len(),
        median_size: sizes.get(sizes.len() / 2).copied().unwrap_or(0),
        negative_share: items.iter().filter(|i| i.points < 0).count() as f64 / n,
        mean_abs_points: items.iter().map(|i| i.points.unsigned_abs() as f64).sum::<f64>() / n,
        axes,
    }
}

type Vector = HashMap<String, f64>;

fn vectorize(words: &std::collections::BTreeSet<String>, idf: &HashMap<String, f64>) -> Vector {
    let mut v: Vector = words.iter().map(|w| (w.clone(), *idf.get(w).unwrap_or(&1.0))).collect();
    let norm = v.values().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.values_mut().for_each(|x| *x /= norm);
    }
    v
}

fn cosine(a: &Vector, b: &Vector) -> f64 {
    a.iter().map(|(k, x)| x * b.get(k).unwrap_or(&0.0)).sum()
}

/// Compares every row's synthesized rubric with its physician rubric, by TF-IDF cosine.
pub fn evaluate(rows: &[RowRubrics]) -> RubricEval {
    evaluate_with(rows, &lexical_similarities(rows), &THRESHOLDS, "tf-idf")
}

/// The TF-IDF cosines of every row's physician × synthesized criteria.
pub fn lexical_similarities(rows: &[RowRubrics]) -> Similarities {
    let docs: Vec<std::collections::BTreeSet<String>> = rows
        .iter()
        .flat_map(|r| r.physician.iter().chain(r.synthesized.iter()))
        .map(|e| content_words(&e.criterion))
        .collect();
    let mut df: HashMap<String, f64> = HashMap::new();
    for d in &docs {
        for w in d {
            *df.entry(w.clone()).or_default() += 1.0;
        }
    }
    let n_docs = docs.len().max(1) as f64;
    let idf: HashMap<String, f64> = df.into_iter().map(|(w, f)| (w, ((1.0 + n_docs) / (1.0 + f)).ln() + 1.0)).collect();
    rows.iter()
        .map(|r| {
            let sv: Vec<Vector> = r.synthesized.iter().map(|e| vectorize(&content_words(&e.criterion), &idf)).collect();
            r.physician
                .iter()
                .map(|e| {
                    let p = vectorize(&content_words(&e.criterion), &idf);
                    sv.iter().map(|s| cosine(&p, s)).collect()
                })
                .collect()
        })
        .collect()
}

/// Compares every row's rubrics given the similarity of each physician × synthesized pair
/// (`similarities[row][p][s]`), with coverage at `thresholds` (the first the headline).
pub fn evaluate_with(rows: &[RowRubrics], similarities: &Similarities, thresholds: &[f64], method: &str) -> RubricEval {
    let mut pairs = Vec::new();
    let mut synthesized_matched = 0usize;
    let mut synthesized_total = 0usize;
    let headline = thresholds[0];
    for (r, sims) in rows.iter().zip(similarities) {
        for (pe, row_sims) in r.physician.iter().zip(sims) {
            let best = row_sims.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1));
            let (synthesized, synthesized_points, sim) = match best {
                Some((j, sim)) => (r.synthesized[j].criterion.clone(), r.synthesized[j].points, sim),
                None => (String::new(), 0, 0.0),
            };
            pairs.push(MatchPair {
                row: r.id.clone(),
                similarity: (sim * 1000.0).round() / 1000.0,
                physician: pe.criterion.clone(),
                physician_points: pe.points,
                synthesized,
                synthesized_points,
            });
        }
        synthesized_total += r.synthesized.len();
        synthesized_matched += (0..r.synthesized.len()).filter(|&j| sims.iter().any(|row| row[j] >= headline)).count();
    }
    let total = pairs.len().max(1) as f64;
    let coverage = thresholds
        .iter()
        .map(|t| (format!("{t:.1}"), pairs.iter().filter(|p| p.similarity >= *t).count() as f64 / total))
        .collect();
    let covered: Vec<&MatchPair> = pairs.iter().filter(|p| p.similarity >= headline).collect();
    let weight_all: f64 = pairs.iter().map(|p| p.physician_points.unsigned_abs() as f64).sum::<f64>().max(1.0);
    let weighted_coverage = covered.iter().map(|p| p.physician_points.unsigned_abs() as f64).sum::<f64>() / weight_all;
    let sign_agreement = if covered.is_empty() {
        0.0
    } else {
        covered.iter().filter(|p| p.physician_points.signum() == p.synthesized_points.signum()).count() as f64
            / covered.len() as f64
    };
    pairs.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    let phys: Vec<&[RubricEntry]> = rows.iter().map(|r| r.physician.as_slice()).collect();
    let synth: Vec<&[RubricEntry]> = rows.iter().map(|r| r.synthesized.as_slice()).collect();
    RubricEval {
        method: method.to_string(),
        thresholds: thresholds.to_vec(),
        rows: rows.len(),
        coverage,
        weighted_coverage,
        precision: synthesized_matched as f64 / synthesized_total.max(1) as f64,
        sign_agreement,
        physician: shape(&phys),
        synthesized: shape(&synth),
        pairs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(c: &str, p: i32, axis: &str) -> RubricEntry {
        RubricEntry::new(c, p, vec![format!("axis:{axis}")])
    }

    #[test]
    fn covers_reworded_criteria_and_not_unrelated_ones() {
        let rows = vec![RowRubrics {
            id: "r".into(),
            physician: vec![
                e("Advises the user to call emergency services immediately.", 9, "accuracy"),
                e("Explains how to store insulin pens.", 5, "completeness"),
            ],
            synthesized: vec![
                e("Recommends calling emergency services right away.", 10, "accuracy"),
                e("Asks about the duration of the cough.", 4, "context_awareness"),
                e("Suggests waiting at home.", -8, "accuracy"),
            ],
        }];
        let r = evaluate(&rows);
        assert_eq!(r.coverage["0.3"], 0.5, "{:#?}", r.pairs);
        assert_eq!(r.sign_agreement, 1.0);
        assert!((r.precision - 1.0 / 3.0).abs() < 1e-9);
        assert!((r.weighted_coverage - 9.0 / 14.0).abs() < 1e-9);
        assert_eq!(r.physician.median_size, 2);
        assert!((r.synthesized.negative_share - 1.0 / 3.0).abs() < 1e-9);
        assert!(r.pairs[0].similarity > r.pairs[1].similarity);
        assert_eq!((r.method.as_str(), r.thresholds[0]), ("tf-idf", 0.3));
    }

    #[test]
    fn given_similarities_are_judged_at_the_given_thresholds() {
        let rows = vec![RowRubrics {
            id: "r".into(),
            physician: vec![e("A", 5, "accuracy"), e("B", -5, "accuracy")],
            synthesized: vec![e("x", 4, "accuracy"), e("y", 3, "accuracy")],
        }];
        let sims = vec![vec![vec![0.65, 0.1], vec![0.55, 0.52]]];
        let r = evaluate_with(&rows, &sims, &EMBEDDING_THRESHOLDS, "all-MiniLM-L6-v2");
        assert_eq!((r.coverage["0.6"], r.coverage["0.5"], r.coverage["0.7"]), (0.5, 1.0, 0.0));
        assert_eq!(r.precision, 0.5, "only x reaches 0.6 with a physician criterion");
        assert_eq!(r.pairs[1].synthesized, "x", "B's closest is x (0.55)");
        assert_eq!(r.sign_agreement, 1.0);
    }
}
