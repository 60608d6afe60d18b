//! Rubric synthesis: run the principles of the pool on a query and merge their items
//! into one HealthBench rubric.

use std::time::Instant;

use clinalign_core::Query;

use crate::curation::{Candidate, CurationPolicy, candidate, curate};
use crate::principle_set::PrincipleSet;
use crate::rubric::{PrincipleCall, Rubric};
use crate::runtime::PreparedQuery;

impl PrincipleSet {
    /// Writes the rubric for a query whose scenario is complete: every principle of the
    /// pool runs (a failing principle adds nothing and is listed in `calls`), then the items
    /// are curated: near-duplicates merged, the rubric capped with a balance of rewards and
    /// penalties (see [`crate::curation`]).
    pub fn synthesize(&self, query: &Query, policy: &CurationPolicy) -> Rubric {
        let prepared = PreparedQuery::new(query);
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut calls = Vec::new();
        for p in self.called(query) {
            let started = Instant::now();
            let result = p.runtime.emit(&prepared);
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
