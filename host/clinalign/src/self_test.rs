//! Self-tests: a principle's fixtures, run when its set is built and before a reload goes
//! live. A fixture is a real query: the labels it leaves out come from the classifier, as
//! for any input row, and it takes the path a query takes (pool, gate, emit). A failing
//! fixture says why: outside `applies_when` (and which label), gated out, or called and
//! silent (for a template principle, which condition did not hold).

use clinalign_core::template::Template;
use clinalign_core::{Label, Query, RubricItem};
use serde::Serialize;

use crate::classify::{Classifier, complete_scenario};
use crate::criterion_style::criterion_problems;
use crate::curation::{CurationPolicy, candidate, curate_traced};
use crate::dimensions::Dimensions;
use crate::gate::Gate;
use crate::manifest::{Expect, Fixture, Manifest};
use crate::runtime::{PreparedQuery, PrincipleError, PrincipleRuntime};

/// One fixture run at load time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelfTest {
    pub principle: String,
    pub fixture: String,
    pub expect: Expect,
    pub passed: bool,
    /// What happened: the items emitted, or why it failed.
    pub detail: String,
    /// The fixture's scenario as the principle saw it: its own labels, then the
    /// classifier's for the dimensions it left out.
    pub scenario: Vec<Label>,
    /// The dimensions whose label came from the classifier.
    pub classified: Vec<String>,
    /// The items the principle emitted.
    pub items: Vec<RubricItem>,
    /// Style problems of the emitted criteria (see [`criterion_problems`]). They do not fail
    /// the self-test, but `clinalign principles test` reports them.
    pub lint: Vec<String>,
}

/// Runs every fixture of a principle.
pub(crate) fn run_fixtures(
    m: &Manifest,
    rt: &PrincipleRuntime,
    dims: &Dimensions,
    classifier: &dyn Classifier,
) -> Vec<SelfTest> {
    let gate = Gate::new([m]);
    let path = PrinciplePath::new(m, &gate);
    m.fixtures.iter().map(|f| run_fixture(&path, rt, f, dims, classifier)).collect()
}

fn run_fixture(
    path: &PrinciplePath<'_>,
    rt: &PrincipleRuntime,
    f: &Fixture,
    dims: &Dimensions,
    classifier: &dyn Classifier,
) -> SelfTest {
    let (m, gate) = (path.m, path.gate);
    let mut query =
        Query { id: format!("fixture:{}", f.name), conversation: f.conversation.clone(), scenario: f.scenario.clone() };
    // The manifest's parser checked the fixture's labels against the vocabulary.
    let labels = complete_scenario(dims, classifier, &query, false).unwrap_or_default();
    let classified: Vec<String> =
        labels.iter().filter(|(_, r)| r.is_some()).map(|(l, _)| l.dimension.clone()).collect();
    query.scenario = labels.into_iter().map(|(l, _)| l).collect();

    let called = !gate.called([m], &query).is_empty();
    let got: Result<Vec<RubricItem>, PrincipleError> =
        if called { rt.emit(&PreparedQuery::new(&query)) } else { Ok(Vec::new()) };
    let (passed, detail) = match (&got, f.expect) {
        (Err(e), _) => (false, e.to_string()),
        (Ok(items), Expect::Emits) if items.is_empty() => {
            (false, format!("expected items, but {}", path.why_silent(&query, &classified)))
        }
        (Ok(items), Expect::Silent) if !items.is_empty() => (
            false,
            format!(
                "expected silence, got {} item(s), first: {:?}; its scenario: {}",
                items.len(),
                items[0].criterion,
                describe_scenario(&query.scenario, &classified)
            ),
        ),
        (Ok(items), Expect::Emits) => (true, format!("{} item(s){}", items.len(), curated_alone(m, items, &query))),
        (Ok(_), Expect::Silent) => (true, path.why_silent(&query, &classified)),
    };
    let items = got.unwrap_or_default();
    let lint = items
        .iter()
        .flat_map(|i| {
            criterion_problems(&i.criterion)
                .into_iter()
                .map(move |p| format!("{:?} {p}", i.criterion.chars().take(60).collect::<String>()))
        })
        .collect();
    SelfTest {
        principle: m.id.clone(),
        fixture: f.name.clone(),
        expect: f.expect,
        passed,
        detail,
        scenario: query.scenario,
        classified,
        items,
        lint,
    }
}

/// What curation (the default policy) does to these items when the principle speaks alone:
/// nothing (empty), or which it drops, so an author sees a penalty lost to the balance rule
/// before it is lost in a real rubric.
fn curated_alone(m: &Manifest, items: &[RubricItem], query: &Query) -> String {
    let policy = CurationPolicy::default();
    let candidates = items.iter().map(|i| candidate(m, i.clone(), query)).collect();
    let (kept, _, trace) = curate_traced(candidates, &policy);
    if trace.dropped.is_empty() && trace.merged.is_empty() {
        return String::new();
    }
    let why: Vec<String> = trace
        .dropped
        .iter()
        .map(|d| format!("[{}] dropped: {}", items[d.item].points, d.reason.describe(&policy)))
        .chain(
            trace.merged.iter().map(|g| format!("[{}] merged into [{}]", items[g.item].points, items[g.into].points)),
        )
        .collect();
    format!("; alone, curation keeps {} of them ({})", kept.len(), why.join("; "))
}

/// The path a query takes to one principle: its pool condition, its gate, and its template
/// (when it is one), to say where a query stopped.
pub struct PrinciplePath<'a> {
    pub m: &'a Manifest,
    /// A gate built over this principle alone.
    pub gate: &'a Gate,
    /// The template, parsed when first needed (once for all of a principle's fixtures).
    template: std::cell::OnceCell<Option<Template>>,
}

impl<'a> PrinciplePath<'a> {
    /// The path to `m`, with `gate` built over `m` alone.
    pub fn new(m: &'a Manifest, gate: &'a Gate) -> PrinciplePath<'a> {
        PrinciplePath { m, gate, template: std::cell::OnceCell::new() }
    }

    fn template(&self) -> Option<&Template> {
        self.template.get_or_init(|| self.m.template_config().and_then(|c| Template::new(c).ok())).as_ref()
    }

    /// Why the principle added nothing for `query`: the first step of the path that stopped
    /// it. `classified` names the dimensions whose labels came from the classifier.
    pub fn why_silent(&self, query: &Query, classified: &[String]) -> String {
        let m = self.m;
        if let Some(miss) = outside_pool(m, &query.scenario, classified) {
            return format!("its scenario is outside applies_when: {miss}");
        }
        if self.gate.called([m], query).is_empty() {
            let terms = m.gate_terms().unwrap_or_default();
            return format!(
                "the gate skipped it: none of its {} trigger term(s) occurs in the user's turns ({})",
                terms.len(),
                examples(terms)
            );
        }
        if let Some(why) = self.template().and_then(|t| t.why_silent(query)) {
            return format!("no template condition held: {why}");
        }
        "it was called and returned no items".into()
    }
}

/// The first `applies_when` dimension the labels miss, in words.
pub fn outside_pool(m: &Manifest, scenario: &[Label], classified: &[String]) -> Option<String> {
    for (dim, values) in &m.applies_when {
        let label = scenario.iter().find(|l| &l.dimension == dim);
        let fits = label.is_some_and(|l| values.contains(&l.value));
        if !fits {
            let had = match label {
                Some(l) => format!("{} is {} ({})", dim, l.value, source(&l.dimension, classified)),
                None => format!("{dim} has no label"),
            };
            return Some(format!("{had}, but it applies when {dim} is one of [{}]", values.join(", ")));
        }
    }
    None
}

fn source(dim: &str, classified: &[String]) -> &'static str {
    if classified.iter().any(|c| c == dim) { "classified" } else { "given" }
}

/// "urgency emergent (given), task diagnosis (classified), …"
pub fn describe_scenario(scenario: &[Label], classified: &[String]) -> String {
    let parts: Vec<String> = scenario
        .iter()
        .map(|l| format!("{} {} ({})", l.dimension, l.value, source(&l.dimension, classified)))
        .collect();
    parts.join(", ")
}

/// Up to five terms, quoted, and how many more.
fn examples(terms: &[String]) -> String {
    let shown: Vec<String> = terms.iter().take(5).map(|t| format!("\"{t}\"")).collect();
    let more = if terms.len() > 5 { format!(", … {} more", terms.len() - 5) } else { String::new() };
    format!("{}{more}", shown.join(", "))
}
