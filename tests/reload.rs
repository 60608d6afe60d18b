//! Hot reload while serving: edits to a manifest and to a plugin's source go live
//! atomically while queries run, no query fails, and broken edits never go live.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clinalign::{Engine, ReloadOutcome};
use common::*;

const EMERGENCY: &str = "My husband suddenly can't move his right arm and his speech is slurred.";

/// Waits until `done` holds or `limit` passes; the watcher and cargo take a while.
fn wait_for(engine: &Engine, limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}; last reload: {:?}", engine.last_reload());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The emergency query, labelled emergent (so the test does not depend on the classifier).
fn emergency(id: &str) -> clinalign::Query {
    let mut q = query(id, EMERGENCY);
    q.scenario.push(clinalign::Label { dimension: "urgency".into(), value: "emergent".into(), confidence: 1.0 });
    q
}

fn criteria(engine: &Engine) -> Vec<String> {
    engine.synthesize(&emergency("q")).unwrap().items.into_iter().map(|i| i.criterion).collect()
}

/// Queries run on two threads for the whole test; every answer must come back whole.
struct Load {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<Vec<String>>>,
}

impl Load {
    fn start(engine: &Engine) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let threads = (0..2)
            .map(|t| {
                let (engine, stop, answered) = (engine.clone(), stop.clone(), answered.clone());
                std::thread::spawn(move || {
                    let mut problems = Vec::new();
                    let mut sets = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        match engine.synthesize(&emergency(&format!("load-{t}"))) {
                            Ok(r) => {
                                if r.items.is_empty() {
                                    problems.push(format!("empty rubric from set {}", r.principle_set));
                                }
                                for c in r.failures() {
                                    problems.push(format!("{} failed: {:?}", c.principle, c.error));
                                }
                                if sets.last() != Some(&r.principle_set) {
                                    sets.push(r.principle_set.clone());
                                }
                            }
                            Err(e) => problems.push(e.to_string()),
                        }
                        // The live set and its reload report are read as one.
                        let (set, report) = engine.status();
                        let named = report.map(|r| match r.outcome {
                            ReloadOutcome::Live { principle_set, .. } => principle_set,
                            ReloadOutcome::Unchanged { principle_set } => principle_set,
                            ReloadOutcome::Rejected { live, .. } => live,
                        });
                        if named.as_ref().is_some_and(|h| h != set.hash()) {
                            problems.push(format!("set {} reported with the report of {named:?}", set.hash()));
                        }
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    assert!(problems.is_empty(), "queries failed during reloads: {problems:?}");
                    sets
                })
            })
            .collect();
        Load { stop, answered, threads }
    }

    fn finish(self) -> Vec<Vec<String>> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads.into_iter().map(|t| t.join().expect("query thread")).collect()
    }
}

#[test]
fn edits_go_live_while_queries_run_and_broken_edits_never_do() {
    let p = Project::with_plugins();
    let engine = p.builder().build().unwrap();
    assert!(engine.principle_set().failures().is_empty(), "{:?}", engine.principle_set().failures());
    let watch = engine.watch().unwrap();
    let load = Load::start(&engine);
    let manifest = p.principles().join("urgency/emergency-first.toml");
    let original = std::fs::read_to_string(&manifest).unwrap();

    // 1. A manifest edit: new wording, new version.
    let set0 = engine.principle_set().hash().to_string();
    let edited = original.replace("version = \"1.0.0\"", "version = \"1.1.0\"").replace(
        "Explains briefly why the situation may be an emergency", "Says in one sentence why this may be an emergency",
    );
    assert_ne!(edited, original);
    std::fs::write(&manifest, &edited).unwrap();
    wait_for(&engine, Duration::from_secs(60), "the manifest edit to go live", || {
        engine.principle_set().hash() != set0
    });
    let set1 = engine.principle_set().hash().to_string();
    match engine.last_reload().unwrap().outcome {
        ReloadOutcome::Live { principle_set, .. } | ReloadOutcome::Unchanged { principle_set } => {
            assert_eq!(principle_set, set1)
        }
        other => panic!("{other:?}"),
    }
    let c = criteria(&engine);
    assert!(c.iter().any(|c| c.starts_with("Says in one sentence why this may be an emergency")), "{c:?}");
    let item = engine.synthesize(&emergency("q")).unwrap();
    assert!(item.items.iter().any(|i| i.tags.contains(&"principle:urgency.emergency-first@1.1.0".to_string())));

    // 2. A broken manifest never goes live; the old set keeps answering.
    let bad = p.write_manifest("urgency", "half-written", "id = \"urgency.half-written\"\nversion = ");
    wait_for(&engine, Duration::from_secs(60), "the broken manifest to be rejected", || {
        engine.last_reload().is_some_and(|r| matches!(r.outcome, ReloadOutcome::Rejected { .. }))
    });
    let report = engine.last_reload().unwrap();
    let ReloadOutcome::Rejected { reason, live } = &report.outcome else { unreachable!() };
    assert!(reason.contains("half-written.toml"), "{reason}");
    assert_eq!(live, &set1);
    assert_eq!(engine.principle_set().hash(), set1);
    std::fs::remove_file(&bad).unwrap();
    wait_for(&engine, Duration::from_secs(60), "the removal to settle", || {
        engine.last_reload().is_some_and(|r| matches!(r.outcome, ReloadOutcome::Unchanged { .. }))
    });

    // 3. A plugin source edit: the template tags every item; cargo rebuilds it.
    let lib = p.plugins().join("template/src/lib.rs");
    let src = std::fs::read_to_string(&lib).unwrap();
    let tagged = src.replace(
        "self.0.evaluate(query)",
        "self.0.evaluate(query).map(|items| items.into_iter().map(|i| i.with_tag(\"build:edited\")).collect())",
    );
    assert_ne!(tagged, src);
    std::fs::write(&lib, &tagged).unwrap();
    wait_for(&engine, Duration::from_secs(300), "the plugin edit to go live", || engine.principle_set().hash() != set1);
    let set2 = engine.principle_set().hash().to_string();
    let r = engine.synthesize(&emergency("q")).unwrap();
    let template_items: Vec<_> =
        r.items.iter().filter(|i| i.tags.iter().any(|t| t.starts_with("principle:urgency.emergency-first@"))).collect();
    assert!(!template_items.is_empty());
    assert!(template_items.iter().all(|i| i.tags.contains(&"build:edited".to_string())), "{template_items:?}");

    // 4. A plugin edit that does not compile never goes live.
    std::fs::write(&lib, format!("{tagged}\nthis is not rust\n")).unwrap();
    wait_for(&engine, Duration::from_secs(300), "the broken plugin to be rejected", || {
        engine.last_reload().is_some_and(|r| matches!(r.outcome, ReloadOutcome::Rejected { .. }))
    });
    let ReloadOutcome::Rejected { reason, .. } = engine.last_reload().unwrap().outcome else { unreachable!() };
    assert!(reason.contains("template") && reason.contains("does not compile"), "{reason}");
    assert_eq!(engine.principle_set().hash(), set2);

    let answered = load.answered.load(Ordering::Relaxed);
    let sets_seen = load.finish();
    drop(watch);
    assert!(answered > 0);
    // Each thread saw the sets in order: the old one, then the new ones, never back.
    for seen in sets_seen {
        let order: Vec<usize> =
            seen.iter().map(|s| [&set0, &set1, &set2].iter().position(|x| *x == s).expect("a known set")).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "sets went backwards: {seen:?}");
    }
}

#[test]
fn a_manual_reload_with_a_failing_self_test_is_rejected() {
    let p = Project::with_principles();
    let engine = p.builder().build().unwrap();
    let before = engine.principle_set().hash().to_string();
    let manifest = p.principles().join("urgency/emergency-first.toml");
    let src = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, src.replacen("expect = \"silent\"", "expect = \"emits\"", 1)).unwrap();
    let report = engine.reload();
    let ReloadOutcome::Rejected { reason, live } = &report.outcome else { panic!("{report:?}") };
    assert!(reason.contains("urgency.emergency-first") && reason.contains("self-test"), "{reason}");
    assert_eq!(live, &before);
    assert_eq!(engine.principle_set().hash(), before);
    assert_eq!(engine.last_reload(), Some(report));

    std::fs::write(&manifest, src).unwrap();
    assert!(matches!(engine.reload().outcome, ReloadOutcome::Unchanged { .. }));
}
