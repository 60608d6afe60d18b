//! The pool and the gate: which principles are called for a query.
//!
//! The pool is every principle whose `applies_when` matches the query's labels. The gate
//! then skips principles that cannot speak: a principle with gate terms (the manifest's
//! `gate`, or a template's user-turn `triggers.any`, see [`Manifest::gate_terms`]) is
//! called only when one of them occurs, negated or not, in the user's turns. The terms of
//! a whole set are indexed once, so the check is one pass over the query's words whatever
//! the number of principles.

use clinalign_core::Query;
use clinalign_core::lookup::{Lookup, TermIndex};

use crate::manifest::Manifest;

/// The gate terms of a list of principles, indexed.
#[derive(Debug, Clone)]
pub struct Gate {
    index: TermIndex,
    /// Term id → the principles (positions in the list) it opens.
    owners: Vec<Vec<usize>>,
    /// Whether principle `i` has a gate at all.
    gated: Vec<bool>,
}

impl Gate {
    /// Indexes the gate terms of `manifests`; positions in this list are the principle
    /// numbers [`Gate::open`] and [`Gate::called`] use.
    pub fn new<'m>(manifests: impl IntoIterator<Item = &'m Manifest>) -> Gate {
        let mut terms: Vec<&str> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        let mut gated = Vec::new();
        for (i, m) in manifests.into_iter().enumerate() {
            gated.push(m.gate_terms().is_some());
            for t in m.gate_terms().unwrap_or_default() {
                match terms.iter().position(|x| *x == t) {
                    Some(j) => owners[j].push(i),
                    None => {
                        terms.push(t);
                        owners.push(vec![i]);
                    }
                }
            }
        }
        Gate { index: TermIndex::new(terms), owners, gated }
    }

    /// For each principle, whether its gate lets it speak for `query` (always, without one).
    pub fn open(&self, query: &Query) -> Vec<bool> {
        let mut open: Vec<bool> = self.gated.iter().map(|g| !g).collect();
        if self.owners.is_empty() {
            return open;
        }
        let user = Lookup::new(&query.user_text());
        for (term, _) in self.index.find_in(&user) {
            for &p in &self.owners[term] {
                open[p] = true;
            }
        }
        open
    }

    /// The principles to call for `query`, in list order: in its pool and past their gate.
    /// `manifests` is the list the gate was built from.
    pub fn called<'m>(&self, manifests: impl IntoIterator<Item = &'m Manifest>, query: &Query) -> Vec<usize> {
        let open = self.open(query);
        manifests
            .into_iter()
            .enumerate()
            .filter(|(i, m)| open[*i] && m.applies_to(&query.scenario))
            .map(|(i, _)| i)
            .collect()
    }
}
