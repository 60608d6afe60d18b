//! Rubric synthesis: run the principles of the pool on a query and merge their items
//! into one HealthBench rubric.

use std::time::Instant;

use clinalign_core::{Query, RubricItem};

use crate::curation::{Candidate, CurationPolicy, candidate, curate};
use crate::principle_set::{LoadedPrinciple, PrincipleSet};
use crate::rubric::{PrincipleCall, Rubric};
use crate::runtime::PreparedQuery;

impl PrincipleSet {
    /// Writes the rubric for a query whose scenario is complete: every principle of the
    /// pool runs (a failing principle adds nothing and is listed in `calls`), then the items
    /// are curated: near-duplicates merged, the rubric capped with a balance of rewards and
    /// penalties (see [`crate::curation`]).
    pub fn synthesize(&self, query: &Query, policy: &CurationPolicy) -> Rubric {
        let called: Vec<&LoadedPrinciple> = self.called(query).collect();
        let prepared = PreparedQuery::with_pool(query, called.iter().map(|p| p.pool_entry.clone()).collect());
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut calls = Vec::new();
        for p in called {
            let (emitted, call) = p.call(&prepared);
            candidates.extend(emitted.into_iter().map(|item| candidate(&p.manifest, item, query)));
            calls.push(call);
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

impl LoadedPrinciple {
    /// Calls the principle on a prepared query, timed: its items (none when it failed) and
    /// the record of the call, with the error if it failed.
    pub(crate) fn call(&self, prepared: &PreparedQuery) -> (Vec<RubricItem>, PrincipleCall) {
        let started = Instant::now();
        let result = self.runtime.emit(prepared);
        let micros = started.elapsed().as_micros() as u64;
        let principle = self.manifest.id.clone();
        match result {
            Ok(items) => {
                let call = PrincipleCall { principle, emitted: items.len(), error: None, micros };
                (items, call)
            }
            Err(e) => (Vec::new(), PrincipleCall { principle, emitted: 0, error: Some(e), micros }),
        }
    }
}
