//! Comparing synthesized rubrics with physician rubrics (`clinalign eval-rubrics`).
//!
//! **Matching method.** Each criterion becomes a TF-IDF vector over its content words (see
//! [`crate::similarity::content_words`]: stop words dropped, stemmed, clinical synonyms
//! folded), with inverse document frequencies computed over every criterion of the run
//! (physician and synthesized). A physician criterion is *covered* when some synthesized
//! criterion of the same row has cosine similarity ≥ the threshold with it. Coverage is
//! reported at several thresholds because lexical similarity only approximates "the same
//! clinical check"; the pairs are printed so a reader can judge them.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use clinalign_core::RubricEntry;

use crate::similarity::content_words;

/// Thresholds coverage is reported at; the first is the headline.
pub const THRESHOLDS: [f64; 3] = [0.3, 0.2, 0.4];

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

/// Compares every row's synthesized rubric with its physician rubric.
pub fn evaluate(rows: &[RowRubrics]) -> RubricEval {
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

    let mut pairs = Vec::new();
    let mut synthesized_matched = 0usize;
    let mut synthesized_total = 0usize;
    let headline = THRESHOLDS[0];
    for r in rows {
        let pv: Vec<Vector> = r.physician.iter().map(|e| vectorize(&content_words(&e.criterion), &idf)).collect();
        let sv: Vec<Vector> = r.synthesized.iter().map(|e| vectorize(&content_words(&e.criterion), &idf)).collect();
        for (pe, p) in r.physician.iter().zip(&pv) {
            let best = sv.iter().enumerate().map(|(j, s)| (j, cosine(p, s))).max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((j, sim)) = best {
                pairs.push(MatchPair {
                    row: r.id.clone(),
                    similarity: (sim * 1000.0).round() / 1000.0,
                    physician: pe.criterion.clone(),
                    physician_points: pe.points,
                    synthesized: r.synthesized[j].criterion.clone(),
                    synthesized_points: r.synthesized[j].points,
                });
            } else {
                pairs.push(MatchPair {
                    row: r.id.clone(),
                    similarity: 0.0,
                    physician: pe.criterion.clone(),
                    physician_points: pe.points,
                    synthesized: String::new(),
                    synthesized_points: 0,
                });
            }
        }
        synthesized_total += sv.len();
        synthesized_matched += sv.iter().filter(|s| pv.iter().any(|p| cosine(p, s) >= headline)).count();
    }
    let total = pairs.len().max(1) as f64;
    let coverage = THRESHOLDS
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
    }
}
