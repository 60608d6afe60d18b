//! What `clinalign score` and the Python package's `Engine.score` compute over a set of graded
//! rows: the HealthBench metrics of the example rows and the grader's meta-evaluation of the
//! meta rows, as one JSON summary.

use serde_json::{Map, Value, json};

use super::grading_report::ReportExample;
use super::{Aggregate, GradedRow, MetaEval, MetaRow, aggregate, example_metrics, meta_eval, parse_graded_row};
use crate::Reading;
use std::collections::BTreeMap;

/// Graded rows read so far.
#[derive(Default)]
pub struct ScoreRun {
    examples: Vec<BTreeMap<String, f64>>,
    /// What the HTML report shows of each example; kept only when asked for.
    report_examples: Option<Vec<ReportExample>>,
    meta: Vec<MetaRow>,
    skipped: u64,
}

/// The summary of a run, and the parts the report draws.
pub struct Scored {
    /// `{score, metrics, n_examples}` and/or `{meta: {…}}`, plus `skipped` when rows were.
    pub summary: Value,
    pub aggregate: Option<Aggregate>,
    pub meta: Option<MetaEval>,
}

impl ScoreRun {
    /// A run; `keep_examples` keeps what a grading report needs of each example row.
    pub fn new(keep_examples: bool) -> ScoreRun {
        ScoreRun { report_examples: keep_examples.then(Vec::new), ..ScoreRun::default() }
    }

    /// Reads one graded row (an example row with a rubric, or a meta row with physician
    /// labels); the error says what is wrong with it.
    pub fn add(&mut self, line: &str) -> Result<(), String> {
        match parse_graded_row(line)? {
            GradedRow::Example { id, last_user_turn, example_tags, items } => {
                let m = example_metrics(&example_tags, &items, Reading::Verdict)
                    .ok_or_else(|| "no rubric item has positive points, so the example has no score".to_string())?;
                if let Some(kept) = &mut self.report_examples {
                    let score = m["overall_score"];
                    kept.push(ReportExample { id, last_user_turn, example_tags, items, score });
                }
                self.examples.push(m);
            }
            GradedRow::Meta(m) => self.meta.push(m),
        }
        Ok(())
    }

    /// Counts a row the caller skipped.
    pub fn skip(&mut self) {
        self.skipped += 1;
    }

    /// Rows skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Whether no row was read.
    pub fn is_empty(&self) -> bool {
        self.examples.is_empty() && self.meta.is_empty()
    }

    /// The example rows kept for a report (empty unless asked for).
    pub fn report_examples(&self) -> &[ReportExample] {
        self.report_examples.as_deref().unwrap_or_default()
    }

    /// Meta rows read.
    pub fn meta_rows(&self) -> usize {
        self.meta.len()
    }

    /// The metrics (bootstrap resamples seeded by `seed`).
    pub fn finish(&self, seed: u64) -> Scored {
        let mut out = Map::new();
        let agg = (!self.examples.is_empty()).then(|| aggregate(&self.examples, seed));
        if let Some(agg) = &agg {
            out.insert("score".into(), json!(agg.score));
            out.insert("metrics".into(), json!(agg.metrics));
            out.insert("n_examples".into(), json!(self.examples.len()));
        }
        let meta = (!self.meta.is_empty()).then(|| meta_eval(&self.meta));
        if let Some(m) = &meta {
            let model: Map<String, Value> =
                m.model.iter().filter_map(|(k, r)| r.value.map(|v| (k.clone(), json!(v)))).collect();
            out.insert(
                "meta".into(),
                json!({
                    "score": m.score,
                    "n_rows": self.meta.len(),
                    "metrics": model,
                    "physician_mean_f1_balanced": m.physician_mean_f1_balanced,
                    "physicians": m.physicians,
                }),
            );
        }
        if self.skipped > 0 {
            out.insert("skipped".into(), json!(self.skipped));
        }
        Scored { summary: Value::Object(out), aggregate: agg, meta }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_and_meta_rows_make_one_summary() {
        let mut run = ScoreRun::new(true);
        assert!(run.is_empty());
        run.add(
            r#"{"prompt_id": "a", "rubrics": [{"criterion": "x", "points": 4, "tags": [], "criteria_met": true},
            {"criterion": "y", "points": 4, "tags": [], "criteria_met": false}]}"#,
        )
        .unwrap();
        let e = run.add(r#"{"rubrics": [{"criterion": "x", "points": -4, "tags": [], "criteria_met": true}]}"#);
        assert!(e.unwrap_err().contains("no rubric item has positive points"));
        run.skip();
        let s = run.finish(0);
        assert_eq!(s.summary["score"], json!(0.5));
        assert_eq!(s.summary["n_examples"], json!(1));
        assert_eq!(s.summary["skipped"], json!(1));
        assert!(s.summary.get("meta").is_none() && s.meta.is_none());
        assert_eq!(run.report_examples().len(), 1);
    }
}
