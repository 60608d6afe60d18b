//! What synthesis produces: a query-specific rubric, and what each principle did for it.

use clinalign_core::{Label, RubricEntry};
use serde::{Deserialize, Serialize};

use crate::curation::CurationStats;
use crate::runtime::PrincipleError;

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
    /// HealthBench items; tags hold `axis:*`, `dimension:*`, `principle:<id>@<version>` and
    /// any tags the principle added.
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
