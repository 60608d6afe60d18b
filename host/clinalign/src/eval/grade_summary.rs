//! The summary `clinalign grade` prints and `/v1/grade` answers: the HealthBench metrics of
//! graded rows (from `criteria_met`) and their mean soft reward (`grade.soft_score`).

use std::collections::BTreeMap;

use clinalign_core::Reading;
use serde_json::{Value, json};

use super::scoring::{aggregate, example_metrics};
use crate::row::Row;

/// Graded rows, added one at a time.
#[derive(Debug, Default)]
pub struct GradeSummary {
    examples: Vec<BTreeMap<String, f64>>,
    soft: Vec<f64>,
}

impl GradeSummary {
    /// Adds one graded row; the error names the row's field that cannot be read.
    pub fn add(&mut self, row: &Row) -> Result<(), String> {
        let tags = row.example_tags()?;
        let items = row.rubric()?.unwrap_or_default();
        if let Some(m) = example_metrics(&tags, &items, Reading::Verdict) {
            self.examples.push(m);
        }
        if let Some(s) = row.field("grade.soft_score").and_then(Value::as_f64) {
            self.soft.push(s);
        }
        Ok(())
    }

    /// `{n_examples, score, soft_reward, metrics}` (`{n_examples: 0}` without an example).
    pub fn finish(&self) -> Value {
        if self.examples.is_empty() {
            return json!({ "n_examples": 0 });
        }
        let agg = aggregate(&self.examples, 0);
        let soft = (!self.soft.is_empty()).then(|| self.soft.iter().sum::<f64>() / self.soft.len() as f64);
        json!({ "n_examples": self.examples.len(), "score": agg.score, "soft_reward": soft, "metrics": agg.metrics })
    }
}
