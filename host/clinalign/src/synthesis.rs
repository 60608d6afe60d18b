//! Rubric synthesis: run the principles of the pool on a query and merge their items
//! into one HealthBench rubric.

use std::time::Instant;

use clinalign_sdk::{Label, Query, RubricItem};

use crate::manifest::Manifest;
use serde::{Deserialize, Serialize};

use crate::principle_set::{PrincipleSet, to_wit_query};
use crate::rubric_quality::{Candidate, CurationPolicy, CurationStats, curate};
use crate::runtime::PrincipleError;

/// One rubric item in HealthBench form. `tags` hold `axis:*`, `dimension:*`,
/// `principle:<id>@<version>` and any tags the principle added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RubricEntry {
    pub criterion: String,
    pub points: i32,
    pub tags: Vec<String>,
}

impl RubricEntry {
    /// The value of the first tag with this prefix, e.g. `tag_value("axis:")`.
    pub fn tag_value(&self, prefix: &str) -> Option<&str> {
        self.tags.iter().find_map(|t| t.strip_prefix(prefix))
    }
}

/// What one principle did for one query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipleCall {
    /// The principle's id.
    pub principle: String,
    /// Items it contributed (before de-duplication across principles).
    pub emitted: usize,
    /// Why it contributed nothing, if it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<PrincipleError>,
    /// Wall time of the call, in microseconds.
    pub micros: u64,
}

/// A query-specific rubric and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rubric {
    pub query_id: String,
    /// The labels the pool was chosen by, in vocabulary order.
    pub scenario: Vec<Label>,
    pub items: Vec<RubricEntry>,
    /// The content hash of the principle set that wrote it.
    pub principle_set: String,
    /// One entry per principle that was called: in the pool, and past its gate (see
    /// [`crate::Manifest::gate_terms`]); in id order.
    pub calls: Vec<PrincipleCall>,
    /// What curation merged and dropped.
    #[serde(default)]
    pub curation: CurationStats,
}

impl Rubric {
    /// The calls that failed.
    pub fn failures(&self) -> impl Iterator<Item = &PrincipleCall> {
        self.calls.iter().filter(|c| c.error.is_some())
    }
}

/// A principle's item as a rubric candidate: tagged `axis:*`, `dimension:*` and
/// `principle:<id>@<version>` (before its own tags), and ranked by the principle's
/// specificity and the confidence of the label that put it in the pool.
pub fn candidate(m: &Manifest, item: RubricItem, query: &Query) -> Candidate {
    let mut tags = Vec::with_capacity(item.tags.len() + 3);
    tags.push(item.axis.tag());
    tags.push(format!("dimension:{}", m.dimension));
    tags.push(m.tag());
    tags.extend(item.tags);
    Candidate {
        entry: RubricEntry { criterion: item.criterion, points: item.points, tags },
        principle: m.id.clone(),
        specific: m.is_specific(),
        confidence: query.label(&m.dimension).map(|l| l.confidence).unwrap_or(1.0),
    }
}

impl PrincipleSet {
    /// Writes the rubric for a query whose scenario is complete: every principle of the
    /// pool runs (a failing principle adds nothing and is listed in `calls`), then the items
    /// are curated: near-duplicates merged, the rubric capped with a balance of rewards and
    /// penalties (see [`crate::rubric_quality`]).
    pub fn synthesize(&self, query: &Query, policy: &CurationPolicy) -> Rubric {
        let wit_query = to_wit_query(query);
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut calls = Vec::new();
        for p in self.called(query) {
            let started = Instant::now();
            let result = p.runtime.emit(&wit_query);
            let micros = started.elapsed().as_micros() as u64;
            let m = &p.manifest;
            match result {
                Ok(emitted) => {
                    calls.push(PrincipleCall { principle: m.id.clone(), emitted: emitted.len(), error: None, micros });
                    candidates.extend(emitted.into_iter().map(|item| candidate(m, item, query)));
                }
                Err(e) => calls.push(PrincipleCall { principle: m.id.clone(), emitted: 0, error: Some(e), micros }),
            }
        }
        let (items, curation) = curate(candidates, policy);
        Rubric {
            query_id: query.id.clone(),
            scenario: query.scenario.clone(),
            items,
            principle_set: self.hash().to_string(),
            calls,
            curation,
        }
    }
}
