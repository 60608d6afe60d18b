//! The meta-evaluation of a grader against physicians, as simple-evals computes it: pairwise
//! precision, recall and F1 per class, balanced (macro) F1, and the physician baseline.

use std::collections::BTreeMap;

use serde::Serialize;

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

/// One physician's label on a row, the other physicians' labels on it, and its category.
type PhysicianLabel<'a> = (bool, Vec<bool>, &'a str);

/// Meta-evaluates a grader against physicians.
pub fn meta_eval(rows: &[MetaRow]) -> MetaEval {
    let model = rater_agreement(rows.iter().map(|r| (r.grader, r.physicians.as_slice(), r.category.as_str())), "model");
    let score = model.get("pairwise_model_f1_balanced").and_then(|r| r.value);

    let mut per_physician: BTreeMap<&str, Vec<PhysicianLabel<'_>>> = BTreeMap::new();
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        fn a_grader_that_copies_unanimous_physicians_scores_one(labels in prop::collection::vec(any::<bool>(), 2..30)) {
            prop_assume!(labels.iter().any(|l| *l) && labels.iter().any(|l| !*l));
            let rows: Vec<MetaRow> = labels.iter().map(|l| MetaRow { grader: *l, physicians: vec![*l, *l], category: "c".into(), physician_ids: vec![] }).collect();
            prop_assert_eq!(meta_eval(&rows).score, Some(1.0));
        }
    }
}
