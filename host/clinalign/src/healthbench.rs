//! HealthBench scoring, as OpenAI's simple-evals computes it, and the meta-evaluation of a
//! grader against physicians.
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
//! `points × p_met` (with 0/1 this is exactly the boolean formula).

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

/// Bootstrap resamples, as in simple-evals.
pub const BOOTSTRAP_SAMPLES: usize = 1000;

/// One graded rubric item.
#[derive(Debug, Clone, PartialEq)]
pub struct GradedItem {
    pub points: f64,
    pub tags: Vec<String>,
    /// 1.0/0.0 for `criteria_met`, or the probability `p_met`.
    pub met: f64,
}

/// `Σ points·met / Σ positive points`, or `None` when no item has positive points.
pub fn score<'a>(items: impl IntoIterator<Item = &'a GradedItem> + Clone) -> Option<f64> {
    let possible: f64 = items.clone().into_iter().filter(|i| i.points > 0.0).map(|i| i.points).sum();
    if possible <= 0.0 {
        return None;
    }
    let achieved: f64 = items.into_iter().map(|i| i.points * i.met).sum();
    Some(achieved / possible)
}

/// The metrics of one example: `overall_score`, each example tag (= the overall score), and
/// each rubric tag whose items include a positive one. `None` if the example has no
/// positive item (simple-evals rejects such examples).
pub fn example_metrics(example_tags: &[String], items: &[GradedItem]) -> Option<BTreeMap<String, f64>> {
    let overall = score(items)?;
    let mut m = BTreeMap::new();
    m.insert("overall_score".to_string(), overall);
    for t in example_tags {
        m.insert(t.clone(), overall);
    }
    let mut by_tag: BTreeMap<&str, Vec<&GradedItem>> = BTreeMap::new();
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
        if let Some(s) = score(tagged.iter().copied()) {
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

/// One meta-evaluation row: the grader's label and the physicians' labels for the same
/// (conversation, response, criterion).
#[derive(Debug, Clone, PartialEq)]
pub struct MetaRow {
    pub grader: bool,
    pub physicians: Vec<bool>,
    /// The row's category (e.g. its theme cluster); metrics are also broken down by it.
    pub category: String,
    /// Anonymised physician ids, parallel to `physicians`, for the physician baseline.
    pub physician_ids: Vec<String>,
}

/// A rate and the number of label pairs behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub n: f64,
    pub value: Option<f64>,
}

/// Pairwise agreement of one rater with others, by class: precision counts pairs by the
/// rater's own label, recall by the other rater's; F1 per class; "balanced" averages the
/// positive and negative class (macro). Keys follow simple-evals:
/// `pairwise_{who}_{precision|recall|f1}_{pos|neg|balanced}`, and the same prefixed with
/// `"{category}: "`.
pub fn rater_agreement<'a>(
    rows: impl IntoIterator<Item = (bool, &'a [bool], &'a str)>,
    who: &str,
) -> BTreeMap<String, Rate> {
    // (category or None, metric, class) → agreements.
    let mut lists: BTreeMap<(Option<&str>, &str, &str), Vec<bool>> = BTreeMap::new();
    for (own, others, category) in rows {
        for &other in others {
            let agree = own == other;
            let own_class = if own { "pos" } else { "neg" };
            let other_class = if other { "pos" } else { "neg" };
            for cat in [None, Some(category)] {
                lists.entry((cat, "precision", own_class)).or_default().push(agree);
                lists.entry((cat, "recall", other_class)).or_default().push(agree);
            }
        }
    }
    let key = |cat: Option<&str>, metric: &str, class: &str| match cat {
        None => format!("pairwise_{who}_{metric}_{class}"),
        Some(c) => format!("{c}: pairwise_{who}_{metric}_{class}"),
    };
    let mut out: BTreeMap<String, Rate> = BTreeMap::new();
    let mut rates: BTreeMap<(Option<&str>, &str, &str), Rate> = BTreeMap::new();
    for ((cat, metric, class), l) in &lists {
        let n = l.len() as f64;
        let value = (n > 0.0).then(|| l.iter().filter(|a| **a).count() as f64 / n);
        rates.insert((*cat, metric, class), Rate { n, value });
    }
    let cats: Vec<Option<&str>> = {
        let mut c: Vec<Option<&str>> = rates.keys().map(|k| k.0).collect();
        c.dedup();
        c
    };
    for cat in cats {
        for class in ["pos", "neg"] {
            if let (Some(p), Some(r)) =
                (rates.get(&(cat, "precision", class)).copied(), rates.get(&(cat, "recall", class)).copied())
            {
                rates.insert((cat, "f1", class), f1(p, r));
            }
        }
        for metric in ["precision", "recall", "f1"] {
            if let (Some(p), Some(n)) =
                (rates.get(&(cat, metric, "pos")).copied(), rates.get(&(cat, metric, "neg")).copied())
            {
                let value = match (p.value, n.value) {
                    (Some(a), Some(b)) => Some((a + b) / 2.0),
                    _ => None,
                };
                rates.insert((cat, metric, "balanced"), Rate { n: p.n + n.n, value });
            }
        }
    }
    for ((cat, metric, class), r) in rates {
        out.insert(key(cat, metric, class), r);
    }
    out
}

/// F1 from a precision and a recall rate; `n` counts TP + FP + FN once each.
fn f1(p: Rate, r: Rate) -> Rate {
    match (p.value, r.value) {
        (Some(pv), Some(rv)) => {
            let tp = pv * p.n;
            let value = if pv == 0.0 && rv == 0.0 { 0.0 } else { 2.0 * pv * rv / (pv + rv) };
            Rate { n: p.n + r.n - tp, value: Some(value) }
        }
        _ => Rate { n: p.n + r.n, value: None },
    }
}

/// The grader's agreement with physicians (`pairwise_model_*`), and the physician baseline:
/// each physician against the other physicians of the same rows, `pairwise_physician_*`
/// per physician, with their mean as `physician_mean: pairwise_physician_f1_balanced`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetaEval {
    /// `pairwise_model_f1_balanced`: the headline.
    pub score: Option<f64>,
    pub model: BTreeMap<String, Rate>,
    /// Physician id → that physician's `pairwise_physician_f1_balanced`.
    pub physicians: BTreeMap<String, Option<f64>>,
    /// Mean of the defined per-physician balanced F1s.
    pub physician_mean_f1_balanced: Option<f64>,
}

/// Meta-evaluates a grader against physicians.
pub fn meta_eval(rows: &[MetaRow]) -> MetaEval {
    let model = rater_agreement(rows.iter().map(|r| (r.grader, r.physicians.as_slice(), r.category.as_str())), "model");
    let score = model.get("pairwise_model_f1_balanced").and_then(|r| r.value);

    let mut per_physician: BTreeMap<&str, Vec<(bool, Vec<bool>, &str)>> = BTreeMap::new();
    for r in rows {
        if r.physician_ids.len() != r.physicians.len() {
            continue;
        }
        for (i, id) in r.physician_ids.iter().enumerate() {
            let others: Vec<bool> = r.physicians.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, l)| *l).collect();
            per_physician.entry(id).or_default().push((r.physicians[i], others, &r.category));
        }
    }
    let physicians: BTreeMap<String, Option<f64>> = per_physician
        .into_iter()
        .map(|(id, list)| {
            let m = rater_agreement(list.iter().map(|(own, others, cat)| (*own, others.as_slice(), *cat)), "physician");
            (id.to_string(), m.get("pairwise_physician_f1_balanced").and_then(|r| r.value))
        })
        .collect();
    let defined: Vec<f64> = physicians.values().flatten().copied().collect();
    let physician_mean_f1_balanced = (!defined.is_empty()).then(|| defined.iter().sum::<f64>() / defined.len() as f64);
    MetaEval { score, model, physicians, physician_mean_f1_balanced }
}

/// A graded input row for `score`: an example (graded rubric items) or a meta-evaluation
/// row (a grader's label and physicians' labels).
#[derive(Debug, Clone, PartialEq)]
pub enum GradedRow {
    Example { example_tags: Vec<String>, items: Vec<GradedItem> },
    Meta(MetaRow),
}

/// Reads one JSONL row for `score`. Examples carry `rubrics` (or `rubric_items`) whose items
/// have `points`, `tags` and `criteria_met` (bool) or `p_met` (0..1), plus optional
/// `example_tags`. Meta rows carry `binary_labels` (physicians), the grader's label as
/// `criteria_met`, `p_met` (≥ 0.5 counts as met) or `grader_label`, and `category`.
pub fn parse_graded_row(line: &str) -> Result<GradedRow, String> {
    use serde_json::Value;
    let v: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let obj = v.as_object().ok_or("expected a JSON object")?;
    let strings = |key: &str, v: Option<&Value>| -> Result<Vec<String>, String> {
        match v {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, t)| t.as_str().map(str::to_string).ok_or(format!("{key}[{i}]: expected a string")))
                .collect(),
            Some(_) => Err(format!("{key}: expected a list of strings")),
        }
    };
    let met_of = |at: &str, o: &serde_json::Map<String, Value>| -> Result<Option<f64>, String> {
        if let Some(m) = o.get("criteria_met") {
            return match m {
                Value::Bool(b) => Ok(Some(if *b { 1.0 } else { 0.0 })),
                Value::Null => Ok(None),
                _ => Err(format!("{at}criteria_met: expected true or false")),
            };
        }
        match o.get("p_met") {
            Some(Value::Number(n)) => {
                let p = n.as_f64().unwrap_or(f64::NAN);
                if (0.0..=1.0).contains(&p) { Ok(Some(p)) } else { Err(format!("{at}p_met: {p} is outside 0..1")) }
            }
            Some(Value::Null) | None => Ok(None),
            Some(_) => Err(format!("{at}p_met: expected a number")),
        }
    };
    if let Some(labels) = obj.get("binary_labels") {
        let physicians: Vec<bool> = labels
            .as_array()
            .ok_or("binary_labels: expected a list of booleans")?
            .iter()
            .enumerate()
            .map(|(i, b)| b.as_bool().ok_or(format!("binary_labels[{i}]: expected true or false")))
            .collect::<Result<_, _>>()?;
        let grader = match obj.get("grader_label") {
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("grader_label: expected true or false".into()),
            None => met_of("", obj)?.ok_or("no grader label: expected criteria_met, p_met or grader_label")? >= 0.5,
        };
        let category = obj.get("category").and_then(Value::as_str).unwrap_or("").to_string();
        let physician_ids = strings("anonymized_physician_ids", obj.get("anonymized_physician_ids"))?;
        return Ok(GradedRow::Meta(MetaRow { grader, physicians, category, physician_ids }));
    }
    let (key, list) = ["rubrics", "rubric_items"]
        .iter()
        .find_map(|k| obj.get(*k).map(|v| (*k, v)))
        .ok_or("no graded rubric: expected \"rubrics\" (items with criteria_met or p_met) or \"binary_labels\"")?;
    let list = list.as_array().ok_or(format!("{key}: expected a list"))?;
    let mut items = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let at = format!("{key}[{i}].");
        let o = item.as_object().ok_or(format!("{key}[{i}]: expected an object"))?;
        let points = o.get("points").and_then(Value::as_f64).ok_or(format!("{at}points: expected a number"))?;
        let met = met_of(&at, o)?.ok_or(format!("{key}[{i}]: not graded (no criteria_met or p_met)"))?;
        let tags = strings(&format!("{at}tags"), o.get("tags"))?;
        items.push(GradedItem { points, tags, met });
    }
    let example_tags = strings("example_tags", obj.get("example_tags"))?;
    Ok(GradedRow::Example { example_tags, items })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_graded_and_meta_rows() {
        let r = parse_graded_row(r#"{"example_tags": ["theme:x"], "rubrics": [{"criterion": "a", "points": 5, "tags": ["axis:accuracy"], "criteria_met": true}, {"criterion": "b", "points": -2, "tags": [], "p_met": 0.25}]}"#).unwrap();
        let GradedRow::Example { example_tags, items } = r else { panic!() };
        assert_eq!(example_tags, ["theme:x"]);
        assert_eq!(items[0].met, 1.0);
        assert_eq!(items[1].met, 0.25);
        let r = parse_graded_row(r#"{"binary_labels": [true, false], "p_met": 0.7, "category": "c", "anonymized_physician_ids": ["a", "b"]}"#).unwrap();
        assert_eq!(
            r,
            GradedRow::Meta(MetaRow {
                grader: true,
                physicians: vec![true, false],
                category: "c".into(),
                physician_ids: vec!["a".into(), "b".into()]
            })
        );
        for (line, want) in [
            ("{", "invalid JSON"),
            (r#"{"rubrics": [{"points": 5}]}"#, "rubrics[0]: not graded"),
            (r#"{"rubrics": [{"points": 5, "p_met": 2}]}"#, "rubrics[0].p_met: 2 is outside 0..1"),
            (r#"{"rubrics": [{"criteria_met": true}]}"#, "rubrics[0].points: expected a number"),
            (r#"{"binary_labels": [true]}"#, "no grader label"),
            (r#"{"prompt": []}"#, "no graded rubric"),
        ] {
            let e = parse_graded_row(line).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
        }
    }

    fn items(points: &[f64], met: &[bool]) -> Vec<GradedItem> {
        points
            .iter()
            .zip(met)
            .map(|(p, m)| GradedItem { points: *p, tags: vec![], met: if *m { 1.0 } else { 0.0 } })
            .collect()
    }

    #[test]
    fn public_test_vector() {
        // simple-evals' healthbench_eval_test: points [7, 5, 10, -6], met [T, F, T, T] → 11/22.
        assert_eq!(score(&items(&[7.0, 5.0, 10.0, -6.0], &[true, false, true, true])), Some(0.5));
    }

    #[test]
    fn no_positive_points_means_no_score() {
        assert_eq!(score(&items(&[-3.0, -1.0], &[true, false])), None);
        assert_eq!(score(&items(&[], &[])), None);
    }

    #[test]
    fn tag_metrics_follow_simple_evals() {
        let mut it = items(&[7.0, 5.0, 10.0, -6.0], &[true, false, true, true]);
        it[0].tags = vec!["axis:accuracy".into(), "level:example".into()];
        it[1].tags = vec!["axis:accuracy".into(), "level:example".into()];
        it[2].tags = vec!["axis:completeness".into(), "level:example".into()];
        it[3].tags = vec!["axis:harm".into(), "level:example".into()];
        let m = example_metrics(&["theme:x".into()], &it).unwrap();
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

    #[test]
    fn meta_eval_public_test_vector() {
        // simple-evals' healthbench_meta_eval_test: grader [T, F, T] against physicians
        // [[T, T, F], [T, F], [F]] → precision pos 2/4, neg 1/2; recall pos 2/3, neg 1/3.
        let rows = vec![
            MetaRow { grader: true, physicians: vec![true, true, false], category: "c".into(), physician_ids: vec![] },
            MetaRow { grader: false, physicians: vec![true, false], category: "c".into(), physician_ids: vec![] },
            MetaRow { grader: true, physicians: vec![false], category: "c".into(), physician_ids: vec![] },
        ];
        let m = meta_eval(&rows).model;
        let v = |k: &str| m[k].value.unwrap();
        assert_eq!(v("pairwise_model_precision_pos"), 2.0 / 4.0);
        assert_eq!(v("pairwise_model_precision_neg"), 1.0 / 2.0);
        assert_eq!(v("pairwise_model_recall_pos"), 2.0 / 3.0);
        assert_eq!(v("pairwise_model_recall_neg"), 1.0 / 3.0);
        let f1_pos = 2.0 * 0.5 * (2.0 / 3.0) / (0.5 + 2.0 / 3.0);
        let f1_neg = 2.0 * 0.5 * (1.0 / 3.0) / (0.5 + 1.0 / 3.0);
        assert!((v("pairwise_model_f1_pos") - f1_pos).abs() < 1e-12);
        assert!((v("pairwise_model_f1_balanced") - (f1_pos + f1_neg) / 2.0).abs() < 1e-12);
        assert_eq!(v("c: pairwise_model_precision_pos"), 0.5, "broken down by category");
        assert_eq!(m["pairwise_model_precision_pos"].n, 4.0);
    }

    #[test]
    fn physician_baseline_compares_each_physician_with_the_others() {
        let rows = vec![
            MetaRow {
                grader: true,
                physicians: vec![true, true],
                category: "c".into(),
                physician_ids: vec!["a".into(), "b".into()],
            },
            MetaRow {
                grader: false,
                physicians: vec![false, false],
                category: "c".into(),
                physician_ids: vec!["a".into(), "b".into()],
            },
        ];
        let m = meta_eval(&rows);
        assert_eq!(m.score, Some(1.0));
        assert_eq!(m.physicians["a"], Some(1.0));
        assert_eq!(m.physician_mean_f1_balanced, Some(1.0));
    }

    proptest! {
        #[test]
        fn score_never_exceeds_one(ps in prop::collection::vec((-10i32..=10).prop_filter("non-zero", |p| *p != 0), 1..20),
                                   met in prop::collection::vec(any::<bool>(), 20)) {
            let points: Vec<f64> = ps.iter().map(|p| *p as f64).collect();
            if let Some(s) = score(&items(&points, &met[..points.len()])) {
                prop_assert!(s <= 1.0 + 1e-12);
                if points.iter().all(|p| *p > 0.0) { prop_assert!(s >= 0.0); }
            }
        }

        #[test]
        fn all_positive_met_and_no_negative_met_scores_one(ps in prop::collection::vec((-10i32..=10).prop_filter("non-zero", |p| *p != 0), 1..20)) {
            let points: Vec<f64> = ps.iter().map(|p| *p as f64).collect();
            let met: Vec<bool> = points.iter().map(|p| *p > 0.0).collect();
            if let Some(s) = score(&items(&points, &met)) { prop_assert!((s - 1.0).abs() < 1e-12); }
        }

        #[test]
        fn soft_grades_at_0_and_1_equal_hard_grades(ps in prop::collection::vec((-10i32..=10).prop_filter("non-zero", |p| *p != 0), 1..20),
                                                   met in prop::collection::vec(any::<bool>(), 20)) {
            let hard = items(&ps.iter().map(|p| *p as f64).collect::<Vec<_>>(), &met[..ps.len()]);
            let soft: Vec<GradedItem> = hard.iter().map(|i| GradedItem { met: if i.met > 0.5 { 1.0 } else { 0.0 }, ..i.clone() }).collect();
            prop_assert_eq!(score(&hard), score(&soft));
        }

        #[test]
        fn meeting_more_positive_items_never_lowers_the_score(ps in prop::collection::vec(1i32..=10, 1..15),
                                                              met in prop::collection::vec(any::<bool>(), 15), flip in 0usize..15) {
            let points: Vec<f64> = ps.iter().map(|p| *p as f64).collect();
            let mut m = met[..points.len()].to_vec();
            let before = score(&items(&points, &m)).unwrap();
            let i = flip % points.len();
            m[i] = true;
            prop_assert!(score(&items(&points, &m)).unwrap() >= before - 1e-12);
        }

        #[test]
        fn aggregate_mean_is_clipped_and_std_nonnegative(values in prop::collection::vec(-2.0f64..2.0, 1..30), seed in any::<u64>()) {
            let ex: Vec<BTreeMap<String, f64>> = values.iter().map(|s| BTreeMap::from([("overall_score".to_string(), *s)])).collect();
            let a = aggregate(&ex, seed);
            let s = a.score.unwrap();
            prop_assert!((0.0..=1.0).contains(&s));
            prop_assert!(a.metrics["score:bootstrap_std"] >= 0.0);
        }

        #[test]
        fn a_grader_that_copies_unanimous_physicians_scores_one(labels in prop::collection::vec(any::<bool>(), 2..30)) {
            prop_assume!(labels.iter().any(|l| *l) && labels.iter().any(|l| !*l));
            let rows: Vec<MetaRow> = labels.iter().map(|l| MetaRow { grader: *l, physicians: vec![*l, *l], category: "c".into(), physician_ids: vec![] }).collect();
            prop_assert_eq!(meta_eval(&rows).score, Some(1.0));
        }
    }
}
