//! Run reports: per principle, how often it ran, what it emitted and how it failed.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::explain::Explanation;
use crate::principle_set::PrincipleSet;
use crate::rubric::Rubric;
use crate::runtime::ErrorKind;

/// Counters of one principle over a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PrincipleStats {
    pub id: String,
    /// Queries the principle was called for (in its pool and past its gate).
    pub calls: u64,
    /// Items it returned, before de-duplication.
    pub emitted: u64,
    /// Wall time of all its calls, in milliseconds.
    pub total_ms: f64,
    /// Its slowest call, in microseconds.
    pub max_us: u64,
    /// Failures by kind (`timeout`, `memory`, `trap`, `invalid-output`, `load`, …).
    pub errors: BTreeMap<ErrorKind, u64>,
    /// The message of the latest failure, to say why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Everything a `synthesize` run reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunReport {
    pub principle_set: String,
    /// Queries synthesized.
    pub queries: u64,
    /// Input rows skipped as invalid.
    pub skipped: u64,
    /// Rubric items written.
    pub items: u64,
    /// Per principle, in id order; includes principles that failed to load.
    pub principles: Vec<PrincipleStats>,
    /// Per query, why its rubric came out as it did (only when asked for: `synthesize
    /// --explain`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub explanations: Vec<Explanation>,
    #[serde(skip)]
    index: BTreeMap<String, usize>,
}

impl RunReport {
    /// A report for `set`: one row per loaded principle, and a `load` error for each one
    /// that was left out.
    pub fn new(set: &PrincipleSet) -> RunReport {
        let mut r = RunReport { principle_set: set.hash().to_string(), ..Default::default() };
        for p in set.principles() {
            r.stats(&p.manifest.id);
        }
        for f in set.failures() {
            let s = r.stats(&f.principle);
            *s.errors.entry(ErrorKind::Load).or_default() += 1;
            s.last_error = Some(f.message.clone());
        }
        r.principles.sort_by(|a, b| a.id.cmp(&b.id));
        r.reindex();
        r
    }

    fn reindex(&mut self) {
        self.index = self.principles.iter().enumerate().map(|(i, p)| (p.id.clone(), i)).collect();
    }

    fn stats(&mut self, id: &str) -> &mut PrincipleStats {
        let i = match self.index.get(id) {
            Some(i) => *i,
            None => {
                self.principles.push(PrincipleStats { id: id.to_string(), ..Default::default() });
                self.index.insert(id.to_string(), self.principles.len() - 1);
                self.principles.len() - 1
            }
        };
        &mut self.principles[i]
    }

    /// Adds one query's rubric.
    pub fn record(&mut self, rubric: &Rubric) {
        self.queries += 1;
        self.items += rubric.items.len() as u64;
        for c in &rubric.calls {
            let s = self.stats(&c.principle);
            s.calls += 1;
            s.emitted += c.emitted as u64;
            s.total_ms += c.micros as f64 / 1000.0;
            s.max_us = s.max_us.max(c.micros);
            if let Some(e) = &c.error {
                *s.errors.entry(e.kind).or_default() += 1;
                s.last_error = Some(e.message.clone());
            }
        }
    }

    /// Total failures of every principle, load failures included.
    pub fn error_count(&self) -> u64 {
        self.principles.iter().flat_map(|p| p.errors.values()).sum()
    }

    /// Failures of one kind across principles.
    pub fn errors_of(&self, kind: ErrorKind) -> u64 {
        self.principles.iter().filter_map(|p| p.errors.get(&kind)).sum()
    }
}
