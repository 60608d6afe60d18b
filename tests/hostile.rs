//! Hostile plugins are contained: a principle that loops, hoards memory, recurses without
//! end, floods the output or the log, panics, or reaches for files, the environment or the
//! network fails alone, with the right error kind, while the real principles keep
//! answering. Broken components (truncated, wrong world, failing init) are left out at
//! load with a reason.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use clinalign::{CurationPolicy, ErrorKind, Rubric};
use common::*;

/// Every hostile mode, and what the host must report for it at call time.
const CALL_TIME: &[(&str, Option<ErrorKind>)] = &[
    ("loop", Some(ErrorKind::Timeout)),
    ("alloc", Some(ErrorKind::Memory)),
    ("recurse", Some(ErrorKind::Trap)),
    ("huge-criterion", Some(ErrorKind::InvalidOutput)),
    ("bad-points", Some(ErrorKind::InvalidOutput)),
    ("panic", Some(ErrorKind::Trap)),
    ("read-file", Some(ErrorKind::Failed)),
    ("read-env", Some(ErrorKind::Failed)),
    ("socket", Some(ErrorKind::Failed)),
    ("log-flood", None),
    ("sandbox-probe", None),
];

/// A manifest for the hostile component in `mode`; always in the pool, no fixtures (so it
/// loads and misbehaves at call time).
fn hostile_manifest(name: &str, wasm: &std::path::Path, config: &str, capabilities: &str) -> String {
    format!(
        "id = \"task.{name}\"\nversion = \"0.0.1\"\ndimension = \"task\"\ntitle = \"Hostile {name}\"\n\
         statement = \"Misbehaves on purpose.\"\nplugin = {:?}\ncapabilities = {capabilities}\n[config]\n{config}\n",
        wasm.display().to_string()
    )
}

/// A project with the real principles plus one hostile principle per mode, and the
/// components that must fail at load.
fn hostile_project(port: u16) -> Project {
    let p = Project::with_principles();
    let (hostile, wrong_world) = hostile_components();
    for (mode, _) in CALL_TIME {
        let config = format!("mode = {mode:?}\nport = {port}");
        p.write_manifest(
            "task",
            &format!("hostile-{mode}"),
            &hostile_manifest(&format!("hostile-{mode}"), hostile, &config, "[]"),
        );
    }
    p.write_manifest(
        "task",
        "hostile-model-denied",
        &hostile_manifest("hostile-model-denied", hostile, "mode = \"model\"", "[]"),
    );
    p.write_manifest(
        "task",
        "hostile-model-missing",
        &hostile_manifest("hostile-model-missing", hostile, "mode = \"model\"", "[\"generate\", \"score\"]"),
    );
    p.write_manifest(
        "task",
        "hostile-init-fail",
        &hostile_manifest("hostile-init-fail", hostile, "mode = \"init-fail\"", "[]"),
    );
    p.write_manifest(
        "task",
        "hostile-init-loop",
        &hostile_manifest("hostile-init-loop", hostile, "mode = \"init-loop\"", "[]"),
    );
    p.write_manifest("task", "hostile-wrong-world", &hostile_manifest("hostile-wrong-world", wrong_world, "", "[]"));
    let bytes = std::fs::read(hostile).unwrap();
    let truncated = p.dir.path().join("truncated.wasm");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    p.write_manifest("task", "hostile-truncated", &hostile_manifest("hostile-truncated", &truncated, "", "[]"));
    p
}

const QUERIES: [(&str, &str); 3] = [
    ("emergency", "My father has crushing chest pain spreading to his left arm and is sweating. What should I do?"),
    ("routine", "How much water should I drink a day when exercising?"),
    ("medication", "Can I take ibuprofen 400 mg with my warfarin?"),
];

fn call<'a>(r: &'a Rubric, principle: &str) -> &'a clinalign::PrincipleCall {
    r.calls
        .iter()
        .find(|c| c.principle == principle)
        .unwrap_or_else(|| panic!("{principle} was not called: {:?}", r.calls))
}

#[test]
fn every_hostile_principle_fails_alone_with_the_right_kind() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    // SAFETY: set before any engine thread exists in this test; read by nothing but the
    // guest's (empty) environment, which must not see it.
    unsafe { std::env::set_var("CLINALIGN_TEST_SECRET", "hunter2") };

    let p = hostile_project(port);
    // A 500 ms deadline, so that under any machine load only the endless loop times out
    // (the default 50 ms is checked below); the default 64 MiB memory cap.
    // No curation here (no cap, no merging): the test inspects every item returned.
    let uncapped =
        CurationPolicy { max_items: 10_000, max_per_principle: 10_000, merge_similarity: 2.0, ..Default::default() };
    let engine = p
        .builder()
        .plugin_timeout(Duration::from_millis(500))
        .curation(uncapped.clone())
        .build()
        .expect("the engine loads despite broken principles");
    let set = engine.principle_set();

    // Broken components are left out at load, each with its reason.
    let failures: BTreeMap<&str, &str> =
        set.failures().iter().map(|f| (f.principle.as_str(), f.message.as_str())).collect();
    let expect_failure = |id: &str, needle: &str| {
        let msg = failures.get(id).unwrap_or_else(|| panic!("{id} should fail to load; failures: {failures:?}"));
        assert!(msg.contains(needle), "{id}: {msg}");
    };
    // The plugin's message names no config key: it is pointed at the manifest's [config] line.
    expect_failure("task.hostile-init-fail", "hostile-init-fail.toml:8: config: this principle refuses every config");
    // Setting up an instance gets ten call deadlines.
    expect_failure("task.hostile-init-loop", "init: ran past its 5000 ms deadline");
    expect_failure("task.hostile-wrong-world", "not a clinalign:principle@0.2.0 component");
    expect_failure("task.hostile-truncated", "not a valid WebAssembly component");
    assert_eq!(failures.len(), 4, "only the broken components fail to load: {failures:?}");

    let real: Vec<String> =
        set.principles().iter().map(|p| p.manifest.id.clone()).filter(|id| !id.contains("hostile")).collect();
    assert!(real.len() >= 3, "the real principles load too: {real:?}");

    let started = Instant::now();
    let rubrics: Vec<Rubric> = QUERIES.iter().map(|(id, text)| engine.synthesize(&query(id, text)).unwrap()).collect();
    eprintln!("3 queries with every hostile principle took {:?}", started.elapsed());

    for r in &rubrics {
        for (mode, kind) in CALL_TIME {
            let c = call(r, &format!("task.hostile-{mode}"));
            assert_eq!(c.error.as_ref().map(|e| e.kind), *kind, "{mode} on {}: {:?}", r.query_id, c.error);
        }
        for item in &r.items {
            assert!(!item.criterion.contains("LEAKED"), "sandbox escape: {}", item.criterion);
        }
        // Every real principle that was called ran cleanly.
        for c in r.calls.iter().filter(|c| !c.principle.contains("hostile")) {
            assert!(c.error.is_none(), "{} failed on {}: {:?}", c.principle, r.query_id, c.error);
        }
    }

    // The real principles still answer: the emergency gets the emergency items.
    let emergency = &rubrics[0];
    assert!(
        emergency.items.iter().any(|i| i.tags.iter().any(|t| t.starts_with("principle:urgency.emergency-first@"))),
        "emergency-first items are missing: {:#?}",
        emergency.items
    );

    // Messages say what happened.
    let msg = |r: &Rubric, mode: &str| call(r, &format!("task.hostile-{mode}")).error.clone().unwrap().message;
    assert!(msg(emergency, "loop").contains("deadline"));
    assert!(msg(emergency, "alloc").contains("over the 65536 KiB cap"));
    let recurse = msg(emergency, "recurse");
    assert!(recurse.contains("stack overflow") || recurse.contains("out of bounds memory access"), "{recurse}");
    assert!(msg(emergency, "huge-criterion").contains("criterion has 10485760 characters"));
    assert!(msg(emergency, "bad-points").contains("points 50"));
    assert!(msg(emergency, "panic").contains("trapped"));
    assert!(msg(emergency, "read-file").contains("file access denied"));
    assert!(msg(emergency, "read-env").contains("environment is empty"));
    assert!(msg(emergency, "socket").contains("network denied"));

    // No connection reached the listener.
    assert!(listener.accept().is_err(), "a guest connected to the loopback listener");

    // Clock and randomness are fixed: the probe sees 2026-01-01, and a fresh instance
    // (strict mode) draws the same "random" hash keys as the first call of a warm one.
    let probe = |r: &Rubric| -> String {
        r.items
            .iter()
            .find(|i| i.tags.iter().any(|t| t.starts_with("principle:task.hostile-sandbox-probe@")))
            .map(|i| i.criterion.clone())
            .expect("probe item")
    };
    let first = probe(&rubrics[0]);
    assert!(first.starts_with("time=1767225600 "), "{first}");
    let strict =
        p.builder().strict(true).curation(uncapped).only(vec!["task.hostile-sandbox-probe".into()]).build().unwrap();
    for (id, text) in QUERIES {
        assert_eq!(probe(&strict.synthesize(&query(id, text)).unwrap()), first);
    }

    // The log flood was cut to the budget, and the principle still answered.
    assert!(rubrics.iter().all(|r| r.items.iter().any(|i| i.criterion == "Still answers after flooding the log.")));

    // The model functions say what is missing: the capability, or a model.
    let model_items = |id: &str| -> Vec<String> {
        emergency.items.iter().filter(|i| i.tags.iter().any(|t| t.contains(id))).map(|i| i.criterion.clone()).collect()
    };
    let denied = model_items("hostile-model-denied@");
    assert!(denied.iter().any(|c| c.contains("generate: principle task.hostile-model-denied may not call the model: its manifest does not grant the \"generate\" capability")), "{denied:?}");
    assert!(denied.iter().any(|c| c.contains("does not grant the \"score\" capability")), "{denied:?}");
    // Granted the model but with none configured, synthesis does not call it at all; called
    // directly, it is told that no model is configured.
    assert!(model_items("hostile-model-missing@").is_empty());
    assert!(emergency.calls.iter().all(|c| c.principle != "task.hostile-model-missing"));
    let granted = set.principles().iter().find(|p| p.manifest.id == "task.hostile-model-missing").unwrap();
    let missing: Vec<String> =
        granted.emit(&query("q", "Is this an emergency?")).unwrap().into_iter().map(|i| i.criterion).collect();
    assert!(missing.iter().any(|c| c.contains("generate: no language model is configured")), "{missing:?}");
    assert!(missing.iter().any(|c| c.contains("score: no language model is configured")), "{missing:?}");
}

#[test]
fn a_million_items_hit_the_output_cap() {
    let p = Project::with_principles();
    let (hostile, _) = hostile_components();
    p.write_manifest(
        "task",
        "hostile-many-items",
        &hostile_manifest("hostile-many-items", hostile, "mode = \"many-items\"", "[]"),
    );
    let only = || p.builder().only(vec!["task.hostile-many-items".into()]);

    // Given the time and memory to build them, the million items come back and the
    // output cap rejects them.
    let engine = only().plugin_timeout(Duration::from_secs(20)).memory_limit(256 << 20).build().unwrap();
    let r = engine.synthesize(&query("q", "hello")).unwrap();
    let e = r.calls[0].error.clone().expect("rejected");
    assert_eq!(e.kind, ErrorKind::InvalidOutput, "{e}");
    assert!(e.message.contains("returned 1000000 items; at most 32"), "{e}");
    assert!(r.items.is_empty());

    // Under the default limits building them runs out of time or memory first; either way
    // it is contained.
    let engine = only().build().unwrap();
    let r = engine.synthesize(&query("q", "hello")).unwrap();
    let kind = r.calls[0].error.as_ref().map(|e| e.kind);
    assert!(matches!(kind, Some(ErrorKind::Timeout | ErrorKind::Memory)), "{:?}", r.calls[0]);
}

#[test]
fn default_deadline_stops_an_endless_loop() {
    let p = Project::with_principles();
    let (hostile, _) = hostile_components();
    p.write_manifest("task", "hostile-loop", &hostile_manifest("hostile-loop", hostile, "mode = \"loop\"", "[]"));
    let engine = p.builder().only(vec!["task.hostile-loop".into()]).build().unwrap();
    assert_eq!(engine.limits().timeout, Duration::from_millis(50));
    for i in 0..2 {
        let r = engine.synthesize(&query(&format!("q{i}"), "hello")).unwrap();
        let e = r.calls[0].error.clone().expect("the loop is stopped");
        assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
        assert_eq!(e.message, "ran past its 50 ms deadline");
    }
}

#[test]
fn default_memory_cap_stops_a_memory_bomb() {
    let p = Project::with_principles();
    let (hostile, _) = hostile_components();
    p.write_manifest("task", "hostile-alloc", &hostile_manifest("hostile-alloc", hostile, "mode = \"alloc\"", "[]"));
    let engine = p.builder().only(vec!["task.hostile-alloc".into()]).build().unwrap();
    assert_eq!(engine.limits().memory_bytes, 64 << 20);
    let r = engine.synthesize(&query("q", "hello")).unwrap();
    let e = r.calls[0].error.clone().expect("the bomb fails");
    assert_eq!(e.kind, ErrorKind::Memory, "{e}");
    assert!(e.message.contains("over the 65536 KiB cap"), "{e}");
    // The instance was recycled: the next call fails the same way instead of hanging.
    let r = engine.synthesize(&query("q2", "hello")).unwrap();
    assert_eq!(r.calls[0].error.as_ref().map(|e| e.kind), Some(ErrorKind::Memory));
}

#[test]
fn cli_reports_hostile_principles_and_honours_fail_on_plugin_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = hostile_project(listener.local_addr().unwrap().port());
    let input = p.dir.path().join("in.jsonl");
    let lines: Vec<String> = QUERIES.iter().map(|(id, text)| row(id, text)).collect();
    std::fs::write(&input, lines.join("\n")).unwrap();

    for strict in [false, true] {
        let out = p.dir.path().join("out.jsonl");
        let report = p.dir.path().join("report.json");
        let mut cmd = clinalign();
        cmd.arg("synthesize").arg(&input).arg("-o").arg(&out).arg("--report").arg(&report);
        cmd.arg("--principles").arg(p.principles()).arg("--plugins").arg(p.plugins());
        cmd.args(["--plugin-timeout-ms", "500"]);
        if strict {
            cmd.arg("--strict");
        }
        let o = run(&mut cmd);
        assert!(o.status.success(), "a failing principle does not change the exit code");
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.contains("synthesized 3 rubrics"), "{stdout}");

        let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        assert_eq!(report["queries"], 3);
        let stats = |id: &str| -> serde_json::Value {
            report["principles"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["id"] == id)
                .cloned()
                .unwrap_or_else(|| panic!("{id} not in report"))
        };
        for (mode, kind) in CALL_TIME {
            let s = stats(&format!("task.hostile-{mode}"));
            assert_eq!(s["calls"], 3, "{mode}: {s}");
            match kind {
                Some(k) => assert_eq!(s["errors"][k.name()], 3, "{mode} (strict={strict}): {s}"),
                None => assert_eq!(s["errors"], serde_json::json!({}), "{mode}: {s}"),
            }
        }
        for id in
            ["task.hostile-init-fail", "task.hostile-init-loop", "task.hostile-wrong-world", "task.hostile-truncated"]
        {
            assert_eq!(stats(id)["errors"]["load"], 1, "{id}");
            assert_eq!(stats(id)["calls"], 0, "{id}");
        }
        let s = stats("urgency.emergency-first");
        assert_eq!(s["errors"], serde_json::json!({}));
        assert!(s["emitted"].as_u64().unwrap() > 0);
        let rows: Vec<serde_json::Value> =
            std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| r["principle_set"] == report["principle_set"]));
    }

    let out2 = p.dir.path().join("out2.jsonl");
    let mut cmd = clinalign();
    cmd.arg("synthesize").arg(&input).arg("-o").arg(&out2).arg("--fail-on-plugin-error");
    cmd.arg("--principles").arg(p.principles()).arg("--plugins").arg(p.plugins());
    let o = run(&mut cmd);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--fail-on-plugin-error"));
    assert!(!out2.exists(), "a failed run leaves OUT as it was (here: absent)");
}

/// A component built against a changed copy of the WIT package, at a version this host has
/// no bindings for, fails to load alone, with an error that names the version; the other
/// principles load through the bindings of the version they were built against.
#[test]
fn a_component_of_an_unknown_wit_version_fails_to_load_naming_the_version() {
    let p = Project::with_principles();
    let manifest = hostile_manifest("hostile-future-version", future_version_component(), "", "[]");
    p.write_manifest("task", "hostile-future-version", &manifest);
    p.write_manifest("task", "legacy", &hostile_manifest("legacy", legacy_component(), "", "[]"));
    let engine = p.builder().build().unwrap();
    let set = engine.principle_set();
    let failure = set.failures().iter().find(|f| f.principle == "task.hostile-future-version").expect("left out");
    assert!(
        failure.message.contains(
            "built against clinalign:principle@0.9.0, which this host does not support (it supports 0.1.0, 0.2.0)"
        ),
        "{}",
        failure.message
    );
    assert_eq!(set.failures().len(), 1, "only that one: {:?}", set.failures());
    assert_eq!(clinalign::SUPPORTED_VERSIONS, ["0.1.0", "0.2.0"]);
    assert!(set.principles().len() > 100);
    // The shipped principles are built with the SDK (0.2.0); the legacy one against 0.1.0,
    // and it runs beside them.
    let legacy = set.principles().iter().find(|p| p.manifest.id == "task.legacy").expect("the 0.1.0 component loads");
    assert_eq!(legacy.wit_version(), "0.1.0");
    assert!(set.principles().iter().filter(|p| p.manifest.id != "task.legacy").all(|p| p.wit_version() == "0.2.0"));
    let rubric = engine.synthesize(&query("q", "Is a fever of 39 C serious?")).unwrap();
    assert!(rubric.failures().next().is_none(), "{:?}", rubric.calls);
    let call = rubric.calls.iter().find(|c| c.principle == "task.legacy").expect("the 0.1.0 principle is called");
    assert_eq!((call.emitted, call.error.is_none()), (1, true), "{call:?}");
}

/// A principle set in `dir` of one principle, granted "generate" and "score", that reports
/// what the host answered its model calls; its principles folder.
fn model_principle(dir: &std::path::Path) -> std::path::PathBuf {
    let principles = dir.join("principles");
    std::fs::create_dir_all(principles.join("task")).unwrap();
    std::fs::copy(repo().join("principles/dimensions.toml"), principles.join("dimensions.toml")).unwrap();
    let (hostile, _) = hostile_components();
    std::fs::write(
        principles.join("task/hostile-model.toml"),
        hostile_manifest("hostile-model", hostile, "mode = \"model\"", "[\"generate\", \"score\"]"),
    )
    .unwrap();
    principles
}

/// The criteria a one-principle set writes for one query, from `clinalign synthesize --model`.
fn model_items(principles: &std::path::Path, dir: &std::path::Path, model: &str) -> Vec<String> {
    let input = dir.join("in.jsonl");
    std::fs::write(&input, r#"{"id": "q1", "messages": [{"role": "user", "content": "Is a fever of 39 C serious?"}]}"#)
        .unwrap();
    let out = dir.join("out.jsonl");
    let o = run(clinalign()
        .arg("synthesize")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .arg("--principles")
        .arg(principles)
        .args(["--model", model]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let row: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
    row["rubrics"].as_array().unwrap().iter().map(|i| i["criterion"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_principle_granted_the_model_reaches_it_locally_and_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let principles = model_principle(dir.path());
    let smollm2 = format!("local:{}", clinalign_infer::assets::smollm2_gguf().unwrap().display());

    let local = model_items(&principles, dir.path(), &smollm2);
    assert_eq!(local, ["generate: generate succeeded", "score: score succeeded"], "the local model");

    // The same through `clinalign serve --model` on loopback, as the OpenAI-compatible model.
    let server =
        Serving::start(&["--model".as_ref(), smollm2.as_ref(), "--principles".as_ref(), principles.as_os_str()]);
    let remote = model_items(&principles, dir.path(), &format!("openai:{}#smollm2", server.base));
    drop(server);
    assert_eq!(remote[0], "generate: generate succeeded", "{remote:?}");
    // The principle scores "yes" and "no" right after "Is it?" (no space). Over HTTP only the
    // server's top 20 next tokens are seen, and none begins "yes" there: the principle gets
    // an error that says so, not a made-up number. (Options a server can see are scored
    // exactly: `tests/server.rs`, the remote model test.)
    assert!(remote[1].starts_with("score: http://"), "{remote:?}");
    assert!(remote[1].contains("so this server cannot score the option \"yes\""), "{remote:?}");
}

/// A model that takes `delay` to answer anything.
struct SlowModel {
    delay: Duration,
}

impl clinalign::LanguageModel for SlowModel {
    fn name(&self) -> &str {
        "slow"
    }
    fn generate(&self, _: &str, _: u32) -> Result<String, clinalign::ModelError> {
        std::thread::sleep(self.delay);
        Ok("yes".into())
    }
    fn score_options(&self, _: &str, options: &[String]) -> Result<Vec<f32>, clinalign::ModelError> {
        std::thread::sleep(self.delay);
        Ok(vec![-1.0; options.len()])
    }
}

#[test]
fn time_waiting_for_the_model_is_not_the_principles_and_has_its_own_budget() {
    let dir = tempfile::tempdir().unwrap();
    let principles = model_principle(dir.path());
    let criteria = |model_time: Duration| -> Vec<String> {
        let limits = clinalign::Limits { model_time, ..Default::default() };
        let engine = clinalign::Engine::builder()
            .principles_dir(&principles)
            .cache_dir(Some(cache_dir()))
            .limits(limits)
            .model(std::sync::Arc::new(SlowModel { delay: Duration::from_millis(120) }))
            .build()
            .unwrap();
        let rubric = engine.synthesize(&query("q", "Is a fever of 39 C serious?")).unwrap();
        assert!(rubric.failures().next().is_none(), "no timeout: {:?}", rubric.calls);
        rubric.items.into_iter().map(|i| i.criterion).collect()
    };
    // Each model call takes longer than the 50 ms deadline, yet the principle does not time
    // out: only its own time counts.
    assert_eq!(criteria(Duration::from_secs(10)), ["generate: generate succeeded", "score: score succeeded"]);
    // With 100 ms of model time, the first call (120 ms) uses it up and the second is refused.
    let refused = criteria(Duration::from_millis(100));
    assert_eq!(refused[0], "generate: generate succeeded");
    assert!(refused[1].contains("its whole budget; \"score\" is refused"), "{refused:?}");
}
