//! The numbers a grading report shows, from the graded examples, their [`Aggregate`] and the
//! meta-evaluation: intervals, tag groups, the score histogram, what each principle's items
//! did, and the worst examples. Plain data; the page is drawn from it elsewhere.

use std::collections::BTreeMap;

use clinalign_core::{Reading, RubricEntry};
use serde::Serialize;

use crate::eval::meta::{MetaEval, Rate};
use crate::eval::scoring::Aggregate;

/// The normal quantile of a two-sided 95% interval.
pub const Z95: f64 = 1.96;

/// One graded example as the report reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportExample {
    /// `prompt_id` or `id`, when the row has one.
    pub id: Option<String>,
    /// The conversation's last user turn, when the row carries the conversation.
    pub last_user_turn: Option<String>,
    pub example_tags: Vec<String>,
    pub items: Vec<RubricEntry>,
    /// The example's `overall_score` (not clipped: penalties can take it below 0).
    pub score: f64,
}

/// What the report is drawn from: what `clinalign score` computed.
#[derive(Debug, Clone, Copy)]
pub struct GradingReport<'a> {
    /// Where the rows came from (shown in the header).
    pub source: &'a str,
    /// The bootstrap seed.
    pub seed: u64,
    pub examples: &'a [ReportExample],
    /// The aggregate of `examples` (`None` when there are none).
    pub aggregate: Option<&'a Aggregate>,
    /// The meta-evaluation and the number of rows behind it, when rows carry physician labels.
    pub meta: Option<(&'a MetaEval, usize)>,
    /// Invalid rows skipped.
    pub skipped: u64,
}

/// A metric's clipped mean with its normal 95% bootstrap interval, `value ± 1.96 · std`
/// clipped to [0, 1], and the number of examples behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The metric's key in the aggregate (`score`, `theme:emergency_referrals`, `axis:accuracy`).
    pub key: String,
    pub value: f64,
    pub std: f64,
    pub low: f64,
    pub high: f64,
    pub n: usize,
}

/// The estimate of one metric of the aggregate; `score` is the headline.
pub fn estimate(agg: &Aggregate, key: &str) -> Option<Estimate> {
    let value = if key == "score" { agg.score? } else { *agg.metrics.get(key)? };
    let std = agg.metrics.get(&format!("{key}:bootstrap_std")).copied().unwrap_or(0.0);
    let n = agg.metrics.get(&format!("{key}:n_samples")).copied().unwrap_or(0.0) as usize;
    let (low, high) = ((value - Z95 * std).clamp(0.0, 1.0), (value + Z95 * std).clamp(0.0, 1.0));
    Some(Estimate { key: key.to_string(), value, std, low, high, n })
}

/// The estimates of every metric whose key starts with `prefix` (`theme:`, `axis:`), highest
/// first.
pub fn tag_group(agg: &Aggregate, prefix: &str) -> Vec<Estimate> {
    let mut out: Vec<Estimate> = agg
        .metrics
        .keys()
        .filter(|k| k.starts_with(prefix) && !k.ends_with(":n_samples") && !k.ends_with(":bootstrap_std"))
        .filter_map(|k| estimate(agg, k))
        .collect();
    out.sort_by(|a, b| b.value.total_cmp(&a.value).then_with(|| a.key.cmp(&b.key)));
    out
}

/// One bar of the score histogram: examples with `low ≤ score < high` (the last bin includes 1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    pub low: f64,
    pub high: f64,
    pub count: usize,
}

/// The per-example scores in `bins` equal bins over [0, 1], preceded by one bin
/// `[lowest, 0)` when penalties took some example below 0.
pub fn histogram(scores: &[f64], bins: usize) -> Vec<Bin> {
    let mut out = Vec::with_capacity(bins + 1);
    let lowest = scores.iter().copied().fold(0.0f64, f64::min);
    if lowest < 0.0 {
        out.push(Bin { low: lowest, high: 0.0, count: scores.iter().filter(|s| **s < 0.0).count() });
    }
    let first = out.len();
    out.extend((0..bins).map(|i| Bin { low: i as f64 / bins as f64, high: (i + 1) as f64 / bins as f64, count: 0 }));
    for s in scores.iter().filter(|s| **s >= 0.0) {
        let i = ((s * bins as f64).floor() as usize).min(bins - 1);
        out[first + i].count += 1;
    }
    out
}

/// What one principle's items did over the examples that have any.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrincipleStats {
    /// `<id>@<version>`, from the items' `principle:` tag.
    pub principle: String,
    /// Examples with at least one of its items.
    pub examples: usize,
    /// Its positive items, and the share of them met (soft grades count their `p_met`).
    pub positive_items: usize,
    pub met_rate: Option<f64>,
    /// Its penalties (negative items), and the share of them triggered.
    pub penalties: usize,
    pub penalty_rate: Option<f64>,
    /// Mean, over its examples, of Σ points·met of its items / the example's Σ positive
    /// points: how much it moved those examples' scores (penalties count negative).
    pub effect: f64,
    /// Mean, over its examples, of its positive points / the example's Σ positive points:
    /// the most it could have added.
    pub possible: f64,
    /// Σ of its effects / all examples: its part of the (unclipped) mean score. The shares of
    /// all principles and the untagged items add up to that mean.
    pub share: f64,
}

/// The principle of each item's `principle:<id>@<version>` tags (each once).
fn principles_of(item: &RubricEntry) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for t in &item.tags {
        if let Some(p) = t.strip_prefix("principle:")
            && !out.contains(&p)
        {
            out.push(p);
        }
    }
    out
}

/// Per-principle stats over the examples, highest effect first; empty when no item carries
/// provenance (physician-written rubrics have none).
pub fn principle_stats(examples: &[ReportExample]) -> Vec<PrincipleStats> {
    #[derive(Default)]
    struct Acc {
        examples: usize,
        positive: usize,
        met: f64,
        penalties: usize,
        triggered: f64,
        effect: f64,
        possible: f64,
    }
    let mut acc: BTreeMap<&str, Acc> = BTreeMap::new();
    for ex in examples {
        let total: i64 = ex.items.iter().filter(|i| i.points > 0).map(|i| i.points as i64).sum();
        if total <= 0 {
            continue;
        }
        let mut here: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
        for item in &ex.items {
            let met = item.met(Reading::Verdict).unwrap_or(0.0);
            for p in principles_of(item) {
                let a = acc.entry(p).or_default();
                if item.points > 0 {
                    a.positive += 1;
                    a.met += met;
                } else if item.points < 0 {
                    a.penalties += 1;
                    a.triggered += met;
                }
                let (effect, possible) = here.entry(p).or_default();
                *effect += item.points as f64 * met;
                *possible += item.points.max(0) as f64;
            }
        }
        for (p, (effect, possible)) in here {
            let a = acc.get_mut(p).expect("counted above");
            a.examples += 1;
            a.effect += effect / total as f64;
            a.possible += possible / total as f64;
        }
    }
    let n_examples = examples.len().max(1) as f64;
    let mut out: Vec<PrincipleStats> = acc
        .into_iter()
        .map(|(p, a)| {
            let per = a.examples.max(1) as f64;
            PrincipleStats {
                principle: p.to_string(),
                examples: a.examples,
                positive_items: a.positive,
                met_rate: (a.positive > 0).then(|| a.met / a.positive as f64),
                penalties: a.penalties,
                penalty_rate: (a.penalties > 0).then(|| a.triggered / a.penalties as f64),
                effect: a.effect / per,
                possible: a.possible / per,
                share: a.effect / n_examples,
            }
        })
        .collect();
    out.sort_by(|a, b| b.effect.total_cmp(&a.effect).then_with(|| a.principle.cmp(&b.principle)));
    out
}

/// (items without a `principle:` tag, all items).
pub fn untagged_items(examples: &[ReportExample]) -> (usize, usize) {
    let all = examples.iter().map(|e| e.items.len()).sum();
    let untagged = examples.iter().flat_map(|e| &e.items).filter(|i| principles_of(i).is_empty()).count();
    (untagged, all)
}

/// A low-scoring example and what it missed.
#[derive(Debug, Clone, PartialEq)]
pub struct WorstExample<'a> {
    /// Its place in the input's examples (0-based).
    pub index: usize,
    pub example: &'a ReportExample,
    /// Positive items not met (met < 0.5), most points first.
    pub unmet: Vec<&'a RubricEntry>,
    /// Negative items met (met ≥ 0.5), heaviest first.
    pub penalties: Vec<&'a RubricEntry>,
}

/// The `n` lowest-scoring examples, lowest first (ties in input order).
pub fn worst(examples: &[ReportExample], n: usize) -> Vec<WorstExample<'_>> {
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.sort_by(|a, b| examples[*a].score.total_cmp(&examples[*b].score).then(a.cmp(b)));
    order
        .into_iter()
        .take(n)
        .map(|index| {
            let example = &examples[index];
            let met = |i: &RubricEntry| i.is_met(Reading::Verdict);
            let mut unmet: Vec<&RubricEntry> = example.items.iter().filter(|i| i.points > 0 && !met(i)).collect();
            unmet.sort_by_key(|i| std::cmp::Reverse(i.points));
            let mut penalties: Vec<&RubricEntry> = example.items.iter().filter(|i| i.points < 0 && met(i)).collect();
            penalties.sort_by_key(|i| i.points);
            WorstExample { index, example, unmet, penalties }
        })
        .collect()
}

/// The grader's balanced F1 against physicians in each row category, in category order.
pub fn meta_categories(meta: &MetaEval) -> Vec<(String, Rate)> {
    const SUFFIX: &str = ": pairwise_model_f1_balanced";
    meta.model.iter().filter_map(|(k, r)| k.strip_suffix(SUFFIX).map(|c| (c.to_string(), *r))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{aggregate, example_metrics};

    fn item(points: i32, met: bool, tags: &[&str]) -> RubricEntry {
        RubricEntry {
            criteria_met: Some(met),
            ..RubricEntry::new(format!("c{points}"), points, tags.iter().map(|t| t.to_string()).collect())
        }
    }

    fn example(items: Vec<RubricEntry>) -> ReportExample {
        let m = example_metrics(&[], &items, Reading::Verdict).unwrap();
        ReportExample { id: None, last_user_turn: None, example_tags: vec![], items, score: m["overall_score"] }
    }

    #[test]
    fn estimates_take_the_bootstrap_std_and_clip_the_interval() {
        let ex: Vec<BTreeMap<String, f64>> = [1.0, 0.0, 1.0, 1.0]
            .iter()
            .map(|s| BTreeMap::from([("overall_score".to_string(), *s), ("theme:a".to_string(), *s)]))
            .collect();
        let agg = aggregate(&ex, 0);
        let e = estimate(&agg, "score").unwrap();
        assert_eq!((e.value, e.n), (0.75, 4));
        assert_eq!(e.std, agg.metrics["score:bootstrap_std"]);
        assert_eq!(e.high, (0.75 + Z95 * e.std).min(1.0));
        assert!(e.low < e.value && e.high <= 1.0);
        let g = tag_group(&agg, "theme:");
        assert_eq!(g.len(), 1, "no :n_samples or :bootstrap_std entries");
        assert_eq!(g[0].key, "theme:a");
    }

    #[test]
    fn histogram_counts_every_score_once() {
        let h = histogram(&[0.0, 0.05, 0.5, 1.0, 0.999, -0.2], 10);
        assert_eq!(h.len(), 11, "a bin below 0");
        assert_eq!((h[0].low, h[0].count), (-0.2, 1));
        assert_eq!(h[1].count, 2);
        assert_eq!(h[6].count, 1);
        assert_eq!(h[10].count, 2, "1.0 falls in the last bin");
        assert_eq!(h.iter().map(|b| b.count).sum::<usize>(), 6);
        assert_eq!(histogram(&[0.5], 4).len(), 4);
    }

    #[test]
    fn principle_effects_are_shares_of_each_examples_positive_points() {
        let a = "principle:urgency.a@1.0.0";
        let b = "principle:task.b@1.0.0";
        let examples = vec![
            // 10 positive points: a gets 6 of 6 met, b 0 of 4 and a triggered penalty.
            example(vec![item(6, true, &[a]), item(4, false, &[b]), item(-2, true, &[b])]),
            // a alone: 5 of 10 met.
            example(vec![item(5, true, &[a]), item(5, false, &[a])]),
        ];
        let s = principle_stats(&examples);
        assert_eq!(s.iter().map(|p| p.principle.as_str()).collect::<Vec<_>>(), ["urgency.a@1.0.0", "task.b@1.0.0"]);
        let (pa, pb) = (&s[0], &s[1]);
        assert_eq!((pa.examples, pa.positive_items, pa.met_rate), (2, 3, Some(2.0 / 3.0)));
        assert_eq!(pa.effect, (0.6 + 0.5) / 2.0);
        assert_eq!(pa.possible, (0.6 + 1.0) / 2.0);
        assert_eq!((pb.examples, pb.penalties, pb.penalty_rate), (1, 1, Some(1.0)));
        assert_eq!(pb.effect, -0.2, "the penalty counts negative");
        let mean = examples.iter().map(|e| e.score).sum::<f64>() / 2.0;
        assert!((pa.share + pb.share - mean).abs() < 1e-12, "shares add up to the mean score");
        assert_eq!(untagged_items(&examples), (0, 5));
        assert!(principle_stats(&[example(vec![item(3, true, &["axis:accuracy"])])]).is_empty());
    }

    #[test]
    fn worst_examples_list_what_they_missed() {
        let examples = vec![
            example(vec![item(5, true, &[])]),
            example(vec![item(5, false, &[]), item(8, false, &[]), item(2, true, &[]), item(-3, true, &[])]),
            example(vec![item(5, false, &[]), item(5, true, &[]), item(-4, false, &[])]),
        ];
        let w = worst(&examples, 2);
        assert_eq!(w.iter().map(|w| w.index).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(w[0].unmet.iter().map(|i| i.points).collect::<Vec<_>>(), [8, 5]);
        assert_eq!(w[0].penalties.iter().map(|i| i.points).collect::<Vec<_>>(), [-3]);
        assert!(w[1].penalties.is_empty(), "an unmet penalty is not listed");
    }
}
