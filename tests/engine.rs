//! The engine as a library, end to end, on the shipped principle set.

mod common;

use clinalign::{Dimensions, Query, Row};
use common::*;

/// The query of one JSONL line of the bundled data.
fn parse_row(line: &str, fallback_id: &str, dims: &Dimensions) -> Query {
    Row::parse(line).and_then(|row| row.query(fallback_id, dims)).unwrap()
}

/// The gate only skips calls that could not have produced items: for every bundled query
/// and every principle in its pool that the gate skips, calling the principle directly
/// yields nothing.
#[test]
fn the_gate_never_skips_a_principle_that_would_speak() {
    let p = Project::with_principles();
    let engine = p.builder().build().unwrap();
    let set = engine.principle_set();
    let text = std::fs::read_to_string(repo().join("data/queries/liveqa_medical_test_104.jsonl")).unwrap();
    let (mut skipped, mut called) = (0, 0);
    for (i, line) in text.lines().enumerate() {
        let row = parse_row(line, &format!("line-{i}"), set.dimensions());
        let query = clinalign::Query { scenario: engine.scenario(&row).unwrap(), ..row };
        let called_ids: Vec<&str> = set.called(&query).map(|p| p.manifest.id.as_str()).collect();
        for principle in set.pool(&query.scenario) {
            if called_ids.contains(&principle.manifest.id.as_str()) {
                called += 1;
                continue;
            }
            skipped += 1;
            let items = principle.emit(&query).unwrap();
            assert!(
                items.is_empty(),
                "the gate skipped {} on {}, which emits {items:?}",
                principle.manifest.id,
                query.id
            );
        }
    }
    assert!(skipped > called, "the gate should skip most calls (skipped {skipped}, called {called})");
}

/// Curation keeps rubrics within the policy on real queries.
#[test]
fn rubrics_respect_the_curation_policy() {
    let p = Project::with_principles();
    let engine = p.builder().build().unwrap();
    let policy = engine.curation().clone();
    let text = std::fs::read_to_string(repo().join("data/queries/liveqa_medical_test_104.jsonl")).unwrap();
    for (i, line) in text.lines().enumerate() {
        let query = parse_row(line, &format!("line-{i}"), engine.principle_set().dimensions());
        let r = engine.synthesize(&query).unwrap();
        assert!(r.items.len() <= policy.max_items, "{}: {} items", r.query_id, r.items.len());
        assert!(r.items.iter().any(|i| i.points > 0), "{}: a rubric needs a reward", r.query_id);
        let negatives = r.items.iter().filter(|i| i.points < 0).count();
        assert!(
            negatives as f64 <= (policy.max_negative_share * r.items.len() as f64).floor().max(1.0),
            "{}: {negatives} penalties of {}",
            r.query_id,
            r.items.len()
        );
        assert_eq!(r.curation.candidates, r.items.len() + r.curation.merged + r.curation.dropped);
        for item in &r.items {
            assert!(clinalign::criterion_style::criterion_problems(&item.criterion).is_empty(), "{}", item.criterion);
        }
    }
}

/// A model that answers `generate-json` with a fixed rubric and remembers the prompt.
struct WritingModel {
    prompts: std::sync::Mutex<Vec<String>>,
}

impl clinalign::LanguageModel for WritingModel {
    fn name(&self) -> &str {
        "writing"
    }
    fn generate(&self, _: &str, _: u32) -> Result<String, clinalign::ModelError> {
        Err(clinalign::ModelError::Unsupported("only JSON".into()))
    }
    fn score_options(&self, _: &str, _: &[String]) -> Result<Vec<f32>, clinalign::ModelError> {
        Err(clinalign::ModelError::Unsupported("no scores".into()))
    }
    fn generate_json(&self, prompt: &str, schema: &str, _: u32) -> Result<String, clinalign::ModelError> {
        assert!(schema.contains("\"maxItems\":3"), "{schema}");
        assert!(
            schema.contains("\"about\":{\"type\":\"string\",\"enum\":[") && schema.contains("\"warfarin\""),
            "{schema}"
        );
        self.prompts.lock().unwrap().push(prompt.to_string());
        let item = |c: &str, points: i32, principle: &str| serde_json::json!({"principle": principle, "about": "has crushing chest pain", "criterion": c, "points": points, "axis": "accuracy"});
        Ok(serde_json::json!({"items": [
            item("Tells the user to call an ambulance now for his father's crushing chest pain and sweating.", 10, "P1"),
            item("Warns that his father's warfarin raises the bleeding risk of taking aspirin.", 6, "P2"),
            item("Advises him to drive his father to hospital himself instead of calling an ambulance.", -9, "P1"),
            item("Names a principle that is not in the pool.", 5, "P99"),
            item("Points outside the range are dropped by the writer.", 50, "P1"),
        ]})
        .to_string())
    }
}

/// The rubric writer end to end in the shipped set: it sees the query's pool (not itself),
/// its checked items come with their provenance, and what fails its checks is dropped.
#[test]
fn the_rubric_writer_writes_query_specific_items_traced_to_the_pool() {
    let p = Project::with_principles();
    let model = std::sync::Arc::new(WritingModel { prompts: Default::default() });
    let engine = p.builder().model(model.clone()).build().unwrap();
    let query =
        query("q", "My father (70) has crushing chest pain and is sweating, he takes warfarin. What should I do?");
    let rubric = engine.synthesize(&query).unwrap();
    assert!(rubric.failures().next().is_none(), "{:?}", rubric.calls);
    let prompts = model.prompts.lock().unwrap();
    assert_eq!(prompts.len(), 1, "one call per query");
    assert!(prompts[0].contains("crushing chest pain") && prompts[0].contains("P1: "), "{}", prompts[0]);
    assert!(!prompts[0].contains("A language model turns the principles"), "the writer is not in its own pool");
    // A written item curation folded into a template item leaves its principle tag on it;
    // the items kept as written carry their provenance.
    let written: Vec<_> =
        rubric.items.iter().filter(|i| i.tags.iter().any(|t| t.starts_with("derives-from:"))).collect();
    assert!(!written.is_empty() && written.len() <= 3, "{:?}", rubric.items);
    for item in &written {
        assert!(item.tags.iter().any(|t| t == "principle:task.rubric-writer@1.0.0"), "{item:?}");
        let from = item.tags.iter().find_map(|t| t.strip_prefix("derives-from:")).unwrap();
        assert!(engine.principle_set().principles().iter().any(|p| p.manifest.id == from), "{from}");
        assert!(!item.criterion.contains("not in the pool") && item.points.abs() <= 10);
    }
}
