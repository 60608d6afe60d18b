//! Explaining one rubric: why the scenario got its labels, which principles were in the
//! pool and what each did (gated out, silent and why, emitted, failed), what curation merged
//! and dropped, and the rubric that came out. It takes the very path synthesis takes, so its
//! rubric is the one [`crate::Engine::synthesize`] writes.

use clinalign_core::{Label, Query, RubricEntry};
use serde::Serialize;

use crate::curation::{CurationPolicy, DropReason, candidate, curate_traced};
use crate::gate::Gate;
use crate::principle_set::PrincipleSet;
use crate::rubric::Rubric;
use crate::runtime::PreparedQuery;
use crate::self_test::PrinciplePath;

/// Everything that decided one query's rubric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub query_id: String,
    pub principle_set: String,
    /// Each label, and the rule that decided it (none for a label the query came with).
    pub scenario: Vec<LabelReason>,
    /// Principles in the set, and how many of them the scenario put in the pool.
    pub principles_in_set: usize,
    /// Every principle of the pool, in id order, and what it did.
    pub pool: Vec<PrincipleStep>,
    /// The curation policy the rubric was made with.
    pub policy: CurationPolicy,
    /// The rubric, as synthesis writes it.
    pub rubric: Rubric,
}

/// One scenario label and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelReason {
    #[serde(flatten)]
    pub label: Label,
    /// The classifier's rule in words; `None` when the query gave this label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// What one principle of the pool did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrincipleStep {
    pub principle: String,
    #[serde(flatten)]
    pub outcome: StepOutcome,
}

/// How a principle of the pool took part.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum StepOutcome {
    /// Not called: none of its gate terms occurs in the user's turns.
    GatedOut { gate_terms: Vec<String> },
    /// Called; it added nothing, and why.
    Silent { why: String },
    /// Called; its items (tagged as in the rubric) and what curation did with each.
    Emitted { items: Vec<EmittedItem> },
    /// Called; it failed, and added nothing.
    Failed { error: String },
}

/// An item a principle emitted, and its fate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmittedItem {
    #[serde(flatten)]
    pub entry: RubricEntry,
    pub fate: Fate,
}

/// What curation did with an item.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "fate", rename_all = "kebab-case")]
pub enum Fate {
    /// In the rubric.
    Kept,
    /// Folded into a near-duplicate, whose wording the rubric keeps.
    Merged { into_principle: String, into: String, similarity: f64 },
    /// Left out of the rubric.
    Dropped { reason: DropReason, why: String },
}

impl PrincipleSet {
    /// Explains the rubric of a query whose scenario is complete; `rules` gives, per label
    /// of `query.scenario`, the classifier's rule (or `None` for a given label).
    pub fn explain(&self, query: &Query, rules: Vec<Option<String>>, policy: &CurationPolicy) -> Explanation {
        let open = self.gate().open(query);
        let pool_entries = self
            .principles()
            .iter()
            .enumerate()
            .filter(|(i, p)| open[*i] && p.manifest.applies_to(&query.scenario))
            .map(|(_, p)| p.pool_entry.clone())
            .collect();
        let prepared = PreparedQuery::with_pool(query, pool_entries);
        let mut pool = Vec::new();
        let mut candidates = Vec::new();
        // Which principle's step each candidate belongs to, and its place there.
        let mut owner: Vec<(usize, usize)> = Vec::new();
        let mut calls = Vec::new();
        for (i, p) in self.principles().iter().enumerate() {
            let m = &p.manifest;
            if !m.applies_to(&query.scenario) {
                continue;
            }
            let outcome = if !open[i] {
                StepOutcome::GatedOut { gate_terms: m.gate_terms().unwrap_or_default().to_vec() }
            } else {
                let (items, call) = p.call(&prepared);
                let outcome = match &call.error {
                    Some(e) => StepOutcome::Failed { error: e.to_string() },
                    None if items.is_empty() => {
                        let gate = Gate::new([m]);
                        StepOutcome::Silent { why: PrinciplePath::new(m, &gate).why_silent(query, &[]) }
                    }
                    None => {
                        let step = pool.len();
                        let mut emitted = Vec::new();
                        for (k, item) in items.into_iter().enumerate() {
                            let c = candidate(m, item, query);
                            emitted.push(EmittedItem { entry: c.entry.clone(), fate: Fate::Kept });
                            candidates.push(c);
                            owner.push((step, k));
                        }
                        StepOutcome::Emitted { items: emitted }
                    }
                };
                calls.push(call);
                outcome
            };
            pool.push(PrincipleStep { principle: m.id.clone(), outcome });
        }

        let wording: Vec<(String, String)> =
            candidates.iter().map(|c| (c.principle.clone(), c.entry.criterion.clone())).collect();
        let (items, stats, trace) = curate_traced(candidates, policy);
        let mut set_fate = |item: usize, fate: Fate| {
            let (step, k) = owner[item];
            if let StepOutcome::Emitted { items } = &mut pool[step].outcome {
                items[k].fate = fate;
            }
        };
        for m in &trace.merged {
            let (into_principle, into) = wording[m.into].clone();
            set_fate(m.item, Fate::Merged { into_principle, into, similarity: m.similarity });
        }
        for d in &trace.dropped {
            set_fate(d.item, Fate::Dropped { reason: d.reason, why: d.reason.describe(policy) });
        }
        let scenario = query
            .scenario
            .iter()
            .zip(rules.into_iter().chain(std::iter::repeat(None)))
            .map(|(label, rule)| LabelReason { label: label.clone(), rule })
            .collect();
        Explanation {
            query_id: query.id.clone(),
            principle_set: self.hash().to_string(),
            scenario,
            principles_in_set: self.principles().len(),
            pool,
            policy: policy.clone(),
            rubric: Rubric {
                query_id: query.id.clone(),
                scenario: query.scenario.clone(),
                items,
                principle_set: self.hash().to_string(),
                calls,
                curation: stats,
            },
        }
    }
}
