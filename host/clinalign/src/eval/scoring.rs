//! HealthBench scoring, as OpenAI's simple-evals computes it.
//!
//! Per example: `score = Σ points of met items / Σ positive points` (negative items that are
//! met subtract; the score may be negative, never above 1; no positive item → no score).
//! Every example tag gets the example's score; every rubric tag gets the same formula over
//! the items carrying it, when those include a positive item. Over examples, each metric is
//! reported as its mean clipped to [0, 1], `:n_samples`, and `:bootstrap_std` (population
//! standard deviation of 1,000 clipped bootstrap means). simple-evals draws its bootstrap
//! from an unseeded NumPy generator; here the generator is seeded, so reruns agree.
//!
//! Soft grades: an item may carry `p_met` in 0..1 instead of a boolean; its contribution is
//! `points × p_met` (with 0/1 this is exactly the boolean formula). Which grade counts is the
//! [`Reading`]: the verdict (`criteria_met`) for the HealthBench score, the probability for
//! the soft score.

use std::collections::BTreeMap;

use clinalign_core::{Reading, RubricEntry};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

/// Bootstrap resamples, as in simple-evals.
pub const BOOTSTRAP_SAMPLES: usize = 1000;

/// `Σ points·met / Σ positive points`, or `None` when no item has positive points. An
/// ungraded item counts as not met.
pub fn score<'a>(items: impl IntoIterator<Item = &'a RubricEntry> + Clone, reading: Reading) -> Option<f64> {
    let possible: i64 = items.clone().into_iter().filter(|i| i.points > 0).map(|i| i.points as i64).sum();
    if possible <= 0 {
        return None;
    }
    let achieved: f64 = items.into_iter().map(|i| i.points as f64 * i.met(reading).unwrap_or(0.0)).sum();
    Some(achieved / possible as f64)
}

/// The soft score, the RL reward: [`score`] read from `p_met` (else `criteria_met`), clipped
/// to 0..1. `None` when no item has positive points.
pub fn soft_score<'a>(items: impl IntoIterator<Item = &'a RubricEntry> + Clone) -> Option<f64> {
    score(items, Reading::Probability).map(|s| s.clamp(0.0, 1.0))
}

/// The metrics of one example: `overall_score`, each example tag (= the overall score), and
/// each rubric tag whose items include a positive one. `None` if the example has no
/// positive item (simple-evals rejects such examples).
pub fn example_metrics(
    example_tags: &[String],
    items: &[RubricEntry],
    reading: Reading,
) -> Option<BTreeMap<String, f64>> {
    let overall = score(items, reading)?;
    let mut m = BTreeMap::new();
    m.insert("overall_score".to_string(), overall);
    for t in example_tags {
        m.insert(t.clone(), overall);
    }
    let mut by_tag: BTreeMap<&str, Vec<&RubricEntry>> = BTreeMap::new();
    for item in items {
        let mut seen: Vec<&str> = Vec::new();
        for t in &item.tags {
            if !seen.contains(&t.as_str()) {
                seen.push(t);
                by_tag.entry(t).or_default().push(item);
            }
        }
    }
    for (tag, tagged) in by_tag {
        if let Some(s) = score(tagged.iter().copied(), reading) {
            m.insert(tag.to_string(), s);
        }
    }
    Some(m)
}

/// The aggregate over examples, shaped like simple-evals' `EvalResult`: `score` is the
/// clipped mean of the per-example scores, and `metrics` holds every metric's clipped mean
/// and its `:n_samples` and `:bootstrap_std`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Aggregate {
    pub score: Option<f64>,
    pub metrics: BTreeMap<String, f64>,
}

/// Mean clipped to [0, 1].
pub fn clipped_mean(values: &[f64]) -> f64 {
    mean(values.iter().copied()).clamp(0.0, 1.0)
}

/// Mean with a compensated (Neumaier) sum, so equal values give their value exactly.
fn mean(values: impl ExactSizeIterator<Item = f64>) -> f64 {
    let n = values.len() as f64;
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    for v in values {
        let t = sum + v;
        c += if sum.abs() >= v.abs() { (sum - t) + v } else { (v - t) + sum };
        sum = t;
    }
    (sum + c) / n
}

/// Population standard deviation of `resamples` clipped means of bootstrap resamples.
pub fn bootstrap_std(values: &[f64], resamples: usize, rng: &mut StdRng) -> f64 {
    let n = values.len();
    let means: Vec<f64> = (0..resamples)
        .map(|_| {
            let picks: Vec<f64> = (0..n).map(|_| values[rng.random_range(0..n)]).collect();
            clipped_mean(&picks)
        })
        .collect();
    let center = mean(means.iter().copied());
    mean(means.iter().map(|m| (m - center) * (m - center))).sqrt()
}

/// Aggregates per-example metrics (from [`example_metrics`]). `seed` fixes the bootstrap.
pub fn aggregate(examples: &[BTreeMap<String, f64>], seed: u64) -> Aggregate {
    let mut by_name: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for m in examples {
        for (k, v) in m {
            by_name.entry(k).or_default().push(*v);
        }
        if let Some(s) = m.get("overall_score") {
            by_name.entry("score").or_default().push(*s);
        }
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut metrics = BTreeMap::new();
    for (name, values) in &by_name {
        metrics.insert(name.to_string(), clipped_mean(values));
        metrics.insert(format!("{name}:n_samples"), values.len() as f64);
        metrics.insert(format!("{name}:bootstrap_std"), bootstrap_std(values, BOOTSTRAP_SAMPLES, &mut rng));
    }
    let score = metrics.remove("score");
    Aggregate { score, metrics }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn items(points: &[i32], met: &[bool]) -> Vec<RubricEntry> {
        points
            .iter()
            .zip(met)
            .map(|(p, m)| RubricEntry { criteria_met: Some(*m), ..RubricEntry::new("c", *p, vec![]) })
            .collect()
    }

    const V: Reading = Reading::Verdict;

    #[test]
    fn public_test_vector() {
        // simple-evals' healthbench_eval_test: points [7, 5, 10, -6], met [T, F, T, T] → 11/22.
        assert_eq!(score(&items(&[7, 5, 10, -6], &[true, false, true, true]), V), Some(0.5));
    }

    #[test]
    fn no_positive_points_means_no_score() {
        assert_eq!(score(&items(&[-3, -1], &[true, false]), V), None);
        assert_eq!(score(&items(&[], &[]), V), None);
    }

    #[test]
    fn tag_metrics_follow_simple_evals() {
        let mut it = items(&[7, 5, 10, -6], &[true, false, true, true]);
        it[0].tags = vec!["axis:accuracy".into(), "level:example".into()];
        it[1].tags = vec!["axis:accuracy".into(), "level:example".into()];
        it[2].tags = vec!["axis:completeness".into(), "level:example".into()];
        it[3].tags = vec!["axis:harm".into(), "level:example".into()];
        let m = example_metrics(&["theme:x".into()], &it, V).unwrap();
        assert_eq!(m["overall_score"], 0.5);
        assert_eq!(m["theme:x"], 0.5);
        assert_eq!(m["axis:accuracy"], 7.0 / 12.0);
        assert_eq!(m["axis:completeness"], 1.0);
        assert_eq!(m["level:example"], 0.5);
        assert!(!m.contains_key("axis:harm"), "a tag with only negative items gets no score");
    }

    #[test]
    fn aggregate_clips_the_mean_and_names_the_stats() {
        let ex: Vec<BTreeMap<String, f64>> =
            [1.0, 1.0, -0.5, 1.0].iter().map(|s| BTreeMap::from([("overall_score".to_string(), *s)])).collect();
        let a = aggregate(&ex, 0);
        assert_eq!(a.score, Some(0.625));
        assert_eq!(a.metrics["overall_score"], 0.625);
        assert_eq!(a.metrics["overall_score:n_samples"], 4.0);
        assert_eq!(a.metrics["score:n_samples"], 4.0);
        assert!(a.metrics["score:bootstrap_std"] > 0.0);
        let over: Vec<BTreeMap<String, f64>> =
            [2.0, 3.0].iter().map(|s| BTreeMap::from([("overall_score".to_string(), *s)])).collect();
        assert_eq!(aggregate(&over, 0).score, Some(1.0), "means are clipped to [0, 1]");
        assert_eq!(aggregate(&ex, 7), aggregate(&ex, 7), "seeded bootstrap");
        let same: Vec<BTreeMap<String, f64>> =
            (0..5).map(|_| BTreeMap::from([("overall_score".to_string(), 7.0 / 12.0)])).collect();
        assert_eq!(aggregate(&same, 0).metrics["overall_score:bootstrap_std"], 0.0, "equal values: no spread");
    }

    proptest! {
        #[test]
        fn score_never_exceeds_one(ps in prop::collection::vec((-10i32..=10).prop_filter("non-zero", |p| *p != 0), 1..20),
                                   met in prop::collection::vec(any::<bool>(), 20)) {
            if let Some(s) = score(&items(&ps, &met[..ps.len()]), V) {
                prop_assert!(s <= 1.0 + 1e-12);
                if ps.iter().all(|p| *p > 0) { prop_assert!(s >= 0.0); }
            }
        }

        #[test]
        fn all_positive_met_and_no_negative_met_scores_one(ps in prop::collection::vec((-10i32..=10).prop_filter("non-zero", |p| *p != 0), 1..20)) {
            let met: Vec<bool> = ps.iter().map(|p| *p > 0).collect();
            if let Some(s) = score(&items(&ps, &met), V) { prop_assert!((s - 1.0).abs() < 1e-12); }
        }

        #[test]
        fn soft_grades_at_0_and_1_equal_hard_grades(ps in prop::collection::vec((-10i32..=10).prop_filter("non-zero", |p| *p != 0), 1..20),
                                                   met in prop::collection::vec(any::<bool>(), 20)) {
            let hard = items(&ps, &met[..ps.len()]);
            let soft: Vec<RubricEntry> = hard
                .iter()
                .map(|i| RubricEntry { p_met: Some(if i.criteria_met == Some(true) { 1.0 } else { 0.0 }), ..i.ungraded() })
                .collect();
            prop_assert_eq!(score(&hard, V), score(&soft, Reading::Probability));
        }

        #[test]
        fn meeting_more_positive_items_never_lowers_the_score(ps in prop::collection::vec(1i32..=10, 1..15),
                                                              met in prop::collection::vec(any::<bool>(), 15), flip in 0usize..15) {
            let mut m = met[..ps.len()].to_vec();
            let before = score(&items(&ps, &m), V).unwrap();
            let i = flip % ps.len();
            m[i] = true;
            prop_assert!(score(&items(&ps, &m), V).unwrap() >= before - 1e-12);
        }

        #[test]
        fn aggregate_mean_is_clipped_and_std_nonnegative(values in prop::collection::vec(-2.0f64..2.0, 1..30), seed in any::<u64>()) {
            let ex: Vec<BTreeMap<String, f64>> = values.iter().map(|s| BTreeMap::from([("overall_score".to_string(), *s)])).collect();
            let a = aggregate(&ex, seed);
            let s = a.score.unwrap();
            prop_assert!((0.0..=1.0).contains(&s));
            prop_assert!(a.metrics["score:bootstrap_std"] >= 0.0);
        }
    }
}
