//! Self-tests: a principle's fixtures, run when its set is built and before a reload goes
//! live, through the path a query takes (pool, gate, emit).

use std::collections::BTreeMap;

use clinalign_core::{Query, RubricItem};
use serde::Serialize;

use crate::criterion_style::criterion_problems;
use crate::gate::Gate;
use crate::manifest::{Expect, Fixture, Manifest};
use crate::runtime::{PreparedQuery, PrincipleError, PrincipleRuntime};

/// One fixture run at load time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelfTest {
    pub principle: String,
    pub fixture: String,
    pub expect: Expect,
    pub passed: bool,
    /// What happened: the items emitted, or why it failed.
    pub detail: String,
    /// Style problems of the emitted criteria (see [`criterion_problems`]). They do not fail
    /// the self-test, but `clinalign principles test` reports them.
    pub lint: Vec<String>,
}

/// Runs every fixture of a principle.
pub(crate) fn run_fixtures(m: &Manifest, rt: &PrincipleRuntime) -> Vec<SelfTest> {
    let gate = Gate::new([m]);
    m.fixtures.iter().map(|f| run_fixture(m, &gate, rt, f)).collect()
}

fn run_fixture(m: &Manifest, gate: &Gate, rt: &PrincipleRuntime, f: &Fixture) -> SelfTest {
    let query =
        Query { id: format!("fixture:{}", f.name), conversation: f.conversation.clone(), scenario: f.scenario.clone() };
    let got: Result<Vec<RubricItem>, PrincipleError> =
        if gate.called([m], &query).is_empty() { Ok(Vec::new()) } else { rt.emit(&PreparedQuery::new(&query)) };
    let (passed, detail) = match (&got, f.expect) {
        (Err(e), _) => (false, e.to_string()),
        (Ok(items), Expect::Emits) if items.is_empty() => {
            let why = if m.applies_to(&f.scenario) {
                "emitted nothing".to_string()
            } else {
                format!("its scenario is outside applies_when ({})", describe(&m.applies_when))
            };
            (false, format!("expected items, but {why}"))
        }
        (Ok(items), Expect::Silent) if !items.is_empty() => {
            (false, format!("expected silence, got {} item(s), first: {:?}", items.len(), items[0].criterion))
        }
        (Ok(items), _) => (true, format!("{} item(s)", items.len())),
    };
    let lint = got
        .iter()
        .flatten()
        .flat_map(|i| {
            criterion_problems(&i.criterion)
                .into_iter()
                .map(move |p| format!("{:?} {p}", i.criterion.chars().take(60).collect::<String>()))
        })
        .collect();
    SelfTest { principle: m.id.clone(), fixture: f.name.clone(), expect: f.expect, passed, detail, lint }
}

fn describe(applies_when: &BTreeMap<String, Vec<String>>) -> String {
    applies_when.iter().map(|(d, v)| format!("{d} in [{}]", v.join(", "))).collect::<Vec<_>>().join(", ")
}
