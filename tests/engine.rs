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
