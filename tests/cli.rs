//! The `clinalign` command end to end: synthesize on the bundled queries, input errors
//! with file:line, atomic output, principles list/test/new, bench, exit codes.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

fn synthesize(p: &Project, input: &std::path::Path, out: &std::path::Path) -> Command {
    let mut c = clinalign();
    c.arg("synthesize")
        .arg(input)
        .arg("-o")
        .arg(out)
        .arg("--principles")
        .arg(p.principles())
        .arg("--plugins")
        .arg(p.plugins());
    c
}

fn read_rows(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn synthesize_the_bundled_queries() {
    let p = Project::with_principles();
    let input = repo().join("data/queries/liveqa_medical_test_104.jsonl");
    let out = p.dir.path().join("out/rubrics.jsonl");
    let report = p.dir.path().join("report.json");
    let o = run(synthesize(&p, &input, &out).arg("--report").arg(&report));
    assert!(o.status.success());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("synthesized 104 rubrics"), "{stdout}");
    assert!(stdout.contains("principle errors: none"), "{stdout}");

    let rows = read_rows(&out);
    assert_eq!(rows.len(), 104);
    let set = rows[0]["principle_set"].as_str().unwrap().to_string();
    assert_eq!(set.len(), 16);
    let mut items = 0;
    for r in &rows {
        assert_eq!(r["principle_set"], set.as_str());
        for dim in ["urgency", "uncertainty", "expertise", "task"] {
            assert!(r["scenario"][dim]["value"].is_string(), "{dim} missing in {r}");
            let c = r["scenario"][dim]["confidence"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&c));
        }
        assert!(r["rubrics"].as_array().unwrap().len() <= 20, "rubrics are capped at 20 items");
        for item in r["rubrics"].as_array().unwrap() {
            items += 1;
            let tags: Vec<&str> = item["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
            assert!(tags.iter().any(|t| t.starts_with("axis:")), "{item}");
            assert!(tags.iter().any(|t| t.starts_with("dimension:")), "{item}");
            assert!(tags.iter().any(|t| t.starts_with("principle:") && t.contains('@')), "{item}");
            let points = item["points"].as_i64().unwrap();
            assert!(points != 0 && (-10..=10).contains(&points));
        }
        assert_eq!(r["prompt"], r["prompt"], "input fields are kept");
    }
    assert!(items > 0, "the bundled queries get rubric items");

    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["principle_set"], set.as_str());
    assert_eq!(report["queries"], 104);
    assert_eq!(report["items"], items);
    for s in report["principles"].as_array().unwrap() {
        assert!(s["id"].is_string() && s["calls"].is_u64() && s["emitted"].is_u64() && s["errors"].is_object(), "{s}");
    }
}

#[test]
fn earlier_rubrics_move_to_reference_rubrics() {
    let p = Project::with_principles();
    let input = repo().join("data/healthbench/oss_eval_sample_9.jsonl");
    let out = p.dir.path().join("hb.jsonl");
    assert!(run(&mut synthesize(&p, &input, &out)).status.success());
    let rows = read_rows(&out);
    assert!(!rows.is_empty());
    for r in rows {
        assert!(r["reference_rubrics"].as_array().is_some_and(|a| !a.is_empty()), "{r}");
        assert!(r["rubrics"].is_array());
        assert!(r["example_tags"].is_array(), "other fields are kept");
    }
}

#[test]
fn a_bad_line_is_named_and_nothing_is_half_written() {
    let p = Project::with_principles();
    let input = p.dir.path().join("in.jsonl");
    std::fs::write(&input, format!("{}\n{{not json\n\n{}\n", row("a", "hello"), row("b", "chest pain"))).unwrap();
    let out = p.dir.path().join("out.jsonl");
    std::fs::write(&out, "previous contents\n").unwrap();

    let o = run(&mut synthesize(&p, &input, &out));
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains(&format!("{}:2: invalid JSON", input.display())), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous contents\n", "the old output is untouched");
    let leftovers: Vec<_> = std::fs::read_dir(p.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files are left behind");

    let o = run(synthesize(&p, &input, &out).arg("--skip-invalid"));
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("skipped 1 invalid input rows"));
    assert!(String::from_utf8_lossy(&o.stderr).contains(":2: invalid JSON"));
    let rows = read_rows(&out);
    assert_eq!(rows.iter().map(|r| r["prompt_id"].as_str().unwrap()).collect::<Vec<_>>(), ["a", "b"]);
}

#[test]
fn labels_outside_the_vocabulary_are_rejected_with_the_line() {
    let p = Project::with_principles();
    let input = p.dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        r#"{"id": "x", "messages": [{"role": "user", "content": "hi"}], "scenario": {"urgency": "whenever"}}"#,
    )
    .unwrap();
    let o = run(&mut synthesize(&p, &input, &p.dir.path().join("o.jsonl")));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains(":1: scenario.urgency: unknown urgency value \"whenever\""));
}

#[test]
fn given_labels_are_kept_and_missing_ones_classified() {
    let p = Project::with_principles();
    let input = p.dir.path().join("in.jsonl");
    std::fs::write(&input, r#"{"id": "x", "messages": [{"role": "user", "content": "Is a bit of dandruff normal?"}], "scenario": {"urgency": "emergent"}}"#).unwrap();
    let out = p.dir.path().join("o.jsonl");
    assert!(run(&mut synthesize(&p, &input, &out)).status.success());
    let r = &read_rows(&out)[0];
    assert_eq!(r["scenario"]["urgency"]["value"], "emergent");
    assert_eq!(r["scenario"]["urgency"]["confidence"], 1.0);
    assert!(r["scenario"]["task"]["value"].is_string());
    let criteria: Vec<&str> =
        r["rubrics"].as_array().unwrap().iter().map(|i| i["criterion"].as_str().unwrap()).collect();
    assert!(
        criteria.iter().any(|c| c.contains("emergency")),
        "the emergent label selects the emergency principles: {criteria:?}"
    );
}

#[test]
fn principles_list_reads_manifests() {
    let o = run(clinalign().arg("principles").arg("list").arg("--principles").arg(repo().join("principles")));
    assert!(o.status.success());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("urgency.emergency-first"), "{stdout}");

    let o = run(clinalign().args(["principles", "list", "--json", "--principles"]).arg(repo().join("principles")));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let ps = v["principles"].as_array().unwrap();
    assert!(ps.len() >= 10, "at least ten principles ship");
    let dims: std::collections::BTreeSet<&str> = ps.iter().map(|p| p["dimension"].as_str().unwrap()).collect();
    assert_eq!(dims.into_iter().collect::<Vec<_>>(), ["expertise", "task", "uncertainty", "urgency"]);
    assert!(v["failures"].as_array().unwrap().is_empty());
}

#[test]
fn a_bad_manifest_is_reported_with_file_line_and_key() {
    let p = Project::with_principles();
    let path = p.write_manifest(
        "urgency",
        "broken",
        "id = \"urgency.broken\"\nversion = \"1.0.0\"\ndimension = \"urgency\"\ntitle = \"t\"\nstatement = \"s\"\nplugin = \"template\"\n[applies_when]\nurgency = [\"soonish\"]\n",
    );
    let o = run(clinalign().arg("principles").arg("list").arg("--principles").arg(p.principles()));
    assert_eq!(o.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(&format!("{}:8: applies_when.urgency: unknown urgency value \"soonish\"", path.display())),
        "{stdout}"
    );

    // The rest still loads and runs; the broken one is reported.
    let input = p.dir.path().join("in.jsonl");
    std::fs::write(&input, row("a", "hi")).unwrap();
    let report = p.dir.path().join("r.json");
    let o = run(synthesize(&p, &input, &p.dir.path().join("o.jsonl")).arg("--report").arg(&report));
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("left out"));
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let broken = r["principles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_str().unwrap().ends_with("broken.toml"))
        .unwrap();
    assert_eq!(broken["errors"]["load"], 1);
}

#[test]
fn principles_test_fails_on_a_failing_fixture() {
    let p = Project::with_principles();
    let src = std::fs::read_to_string(p.principles().join("urgency/emergency-first.toml")).unwrap();
    // Claim the routine fixture emits: it cannot (outside applies_when).
    let broken = src.replacen("expect = \"silent\"", "expect = \"emits\"", 1);
    std::fs::write(p.principles().join("urgency/emergency-first.toml"), broken).unwrap();
    let o = run(clinalign()
        .args(["principles", "test", "urgency.emergency-first", "--principles"])
        .arg(p.principles())
        .arg("--plugins")
        .arg(p.plugins()));
    assert_eq!(o.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("FAIL  urgency.emergency-first"), "{stdout}");
    assert!(stdout.contains("outside applies_when"), "{stdout}");
}

#[test]
fn principles_test_passes_for_the_shipped_set() {
    let o = run(clinalign().args(["principles", "test", "--principles"]).arg(repo().join("principles")));
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains(" 0 failed; fixtures:"));
}

/// A template principle whose second item has a misspelt key (`whne_any`).
const MISSPELT: &str = r#"id = "urgency.misspelt"
version = "1.0.0"
dimension = "urgency"
title = "Misspelt"
statement = "Advises care."
plugin = "template"

[config.triggers]
any = ["chest pain"]

[[config.items]]
criterion = "Advises emergency care for the {term}."
points = 9
axis = "accuracy"

[[config.items]]
criterion = "Asks how long the {term} has lasted."
whne_any = ["chest pain"]
points = 5
axis = "completeness"

[[fixtures]]
conversation = [{ role = "user", content = "I have chest pain." }]
expect = "emits"
"#;

/// 1-based line of the first line of `src` that starts with `start`.
fn line_starting(src: &str, start: &str) -> usize {
    src.lines().position(|l| l.starts_with(start)).unwrap() + 1
}

#[test]
fn a_config_the_plugin_rejects_is_reported_at_its_manifest_line() {
    let p = Project::with_principles();
    let test = |id: &str| {
        let o = run(clinalign()
            .args(["principles", "test", id, "--principles"])
            .arg(p.principles())
            .arg("--plugins")
            .arg(p.plugins()));
        assert_eq!(o.status.code(), Some(1));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };

    // serde's unknown-field error (a position in the JSON init was given) names the TOML line.
    let path = p.write_manifest("urgency", "misspelt", MISSPELT);
    let want = format!(
        "FAIL  urgency.misspelt: {}:{}: config.items[1].whne_any: unknown field `whne_any`, expected one of",
        path.display(),
        line_starting(MISSPELT, "whne_any")
    );
    let stdout = test("urgency.misspelt");
    assert!(stdout.contains(&want), "{stdout}");
    assert!(!stdout.contains("column"), "no JSON positions: {stdout}");

    // The template's own field-path errors too.
    let zero = MISSPELT.replace("whne_any", "when_any").replace("points = 5", "points = 0");
    let path = p.write_manifest("urgency", "misspelt", &zero);
    let points = zero.lines().enumerate().filter(|(_, l)| l.starts_with("points")).nth(1).unwrap().0 + 1;
    let want = format!("{}:{points}: config.items[1].points: 0 is not allowed", path.display());
    let stdout = test("urgency.misspelt");
    assert!(stdout.contains(&want), "{stdout}");
}

#[test]
fn principles_test_id_shows_why_that_manifest_does_not_parse() {
    let p = Project::with_principles();
    let test = |id: &str| {
        let o = run(clinalign()
            .args(["principles", "test", id, "--principles"])
            .arg(p.principles())
            .arg("--plugins")
            .arg(p.plugins()));
        assert_eq!(o.status.code(), Some(1), "{id}");
        assert!(!String::from_utf8_lossy(&o.stderr).contains("no principle"), "{id}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };

    // A value of the wrong type: one line with the file, the line and the key.
    let path = p.write_manifest("urgency", "misspelt", &MISSPELT.replace("version = \"1.0.0\"", "version = 1.0"));
    let stdout = test("urgency.misspelt");
    let want = format!("FAIL  {}:2: version: invalid type: floating point `1.0`, expected a string\n", path.display());
    assert!(stdout.contains(&want), "{stdout}");
    std::fs::remove_file(path).unwrap();

    // A manifest in the wrong folder is found by the id it declares, and by its place.
    let path = p.write_manifest("task", "misspelt", MISSPELT);
    let want = format!("FAIL  {}:3: dimension: \"urgency\" but the file is in folder \"task\"", path.display());
    for id in ["urgency.misspelt", "task.misspelt"] {
        let stdout = test(id);
        assert!(stdout.contains(&want), "{id}: {stdout}");
    }
}

#[test]
fn principles_new_scaffolds_principles_whose_fixtures_pass_and_whose_todos_are_flagged() {
    let p = Project::with_plugins();
    let base = |c: &mut Command| {
        c.arg("--principles").arg(p.principles()).arg("--plugins").arg(p.plugins());
    };
    let mut c = clinalign();
    c.args(["principles", "new", "night-sweats", "--dimension", "task"]);
    base(&mut c);
    let o = run(&mut c);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("replace the TODOs"));
    assert!(p.principles().join("task/night-sweats.toml").is_file());

    let mut c = clinalign();
    c.args(["principles", "new", "urgency.my-rust-check", "--dimension", "urgency", "--rust"]);
    base(&mut c);
    assert!(run(&mut c).status.success());
    let lib = p.plugins().join("my-rust-check/src/lib.rs");
    assert!(lib.is_file());
    assert!(std::fs::read_to_string(p.plugins().join("Cargo.toml")).unwrap().contains("\"my-rust-check\""));

    let test = |id: &str| {
        let mut c = clinalign();
        c.args(["principles", "test", id]);
        base(&mut c);
        let o = run(&mut c);
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    // The fixtures pass, but the TODOs are style problems until rewritten.
    for id in ["task.night-sweats", "urgency.my-rust-check"] {
        let (code, stdout) = test(id);
        assert_eq!(code, Some(1), "{id}: {stdout}");
        assert!(stdout.contains("fixtures: 2 passed, 0 failed; 4 style problems"), "{id}: {stdout}");
        assert!(stdout.contains(&format!("STYLE {id}: title \"TODO: a short title\" still holds a TODO marker")));
        assert!(stdout.contains(&format!("STYLE {id}: statement \"TODO: one sentence")));
        assert_eq!(stdout.matches("still holds a TODO marker").count(), 4, "{id}: {stdout}");
    }

    // The author rewrites them: the principles pass.
    let finished = |text: &str| {
        text.replace("TODO: a short title", "Night sweats")
            .replace("TODO: one sentence saying what a good response does.", "Asks about night sweats.")
            .replace(" (TODO: rewrite as a checkable statement about the response.)", "")
            .replace(" (TODO: rewrite as the harmful behaviour to penalise.)", "")
    };
    for file in [p.principles().join("task/night-sweats.toml"), p.principles().join("urgency/my-rust-check.toml"), lib]
    {
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, finished(&text)).unwrap();
    }
    for id in ["task.night-sweats", "urgency.my-rust-check"] {
        let (code, stdout) = test(id);
        assert_eq!(code, Some(0), "{id}: {stdout}");
        assert!(stdout.contains("fixtures: 2 passed, 0 failed; 0 style problems"), "{id}: {stdout}");
    }

    let mut c = clinalign();
    c.args(["principles", "new", "night-sweats", "--dimension", "task"]);
    base(&mut c);
    let o = run(&mut c);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
}

#[test]
fn usage_errors_exit_with_2() {
    let o = run(clinalign().arg("synthesize"));
    assert_eq!(o.status.code(), Some(2));
    let o = run(clinalign()
        .args(["principles", "new", "x", "--dimension", "mood", "--principles"])
        .arg(repo().join("principles")));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown dimension \"mood\""));
    let o = run(clinalign().arg("--help"));
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("synthesize"));
}

#[test]
fn bench_synthesize_prints_the_figures() {
    let p = Project::with_principles();
    let o = run(clinalign()
        // A generous deadline: the test shares the machine with the rest of the suite.
        .args(["bench", "synthesize", "--rounds", "1", "--loads", "1", "--plugin-timeout-ms", "2000", "--queries"])
        .arg(repo().join("data/queries/liveqa_medical_test_104.jsonl"))
        .arg("--principles")
        .arg(p.principles())
        .arg("--plugins")
        .arg(p.plugins()));
    assert!(o.status.success());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in ["queries", "principles", "p50_us", "p99_us", "queries_per_s", "cold_load_ms"] {
        assert!(v[key].is_number(), "{key} missing: {v}");
    }
    assert_eq!(v["queries"], 104);
    let t = &v["template"];
    assert!(t["wasm_native_ratio"].as_f64().unwrap() > 0.0, "{t}");
    assert!(t["principles"].as_u64().unwrap() > 0);
}

#[test]
fn bench_serve_measures_the_service_against_the_engine() {
    let o = run(clinalign()
        .args([
            "bench", "serve", "--rounds", "1", "--seconds", "0.3", "--clients", "1,4", "--open-loop-clients", "4",
            "--open-loop-fraction", "0.1", "--plugin-timeout-ms", "2000",
        ])
        .arg("--queries")
        .arg(repo().join("data/queries/liveqa_medical_test_104.jsonl"))
        .arg("--principles")
        .arg(repo().join("principles")));
    assert!(o.status.success());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["in_process_queries_per_s"].as_f64().unwrap() > 0.0, "{v}");
    let levels = v["rubrics"].as_array().unwrap();
    assert_eq!(levels.len(), 2, "{v}");
    for l in levels {
        assert!(l["req_per_s"].as_f64().unwrap() > 0.0, "{v}");
        assert!(l["requests"].as_u64().unwrap() > 0, "{v}");
        assert!(l["p99_ms"].as_f64().unwrap() >= l["p50_ms"].as_f64().unwrap(), "{v}");
    }
    // Open loop: 4 clients at a tenth of the closed-loop rate at 4, paced, not back to back.
    let open = v["rubrics_open_loop"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{v}");
    let target = open[0]["target_req_per_s"].as_f64().unwrap();
    let closed = levels[1]["req_per_s"].as_f64().unwrap();
    assert!((target - 0.1 * closed).abs() < 0.02, "{v}");
    let sent = open[0]["req_per_s"].as_f64().unwrap();
    assert!(sent > 0.0 && sent <= target * 1.5 + 10.0, "paced near the target rate: {v}");
}

#[test]
fn bench_reward_compares_one_and_two_levels_of_sharing() {
    let dir = tempfile::tempdir().unwrap();
    let rows = dir.path().join("rows.jsonl");
    let row = |id: &str, prompt: Value, ideal: &str, refs: &[&str]| {
        serde_json::json!({
            "prompt_id": id, "prompt": prompt,
            "rubrics": [{"criterion": "Advises urgent care.", "points": 8, "tags": []},
                        {"criterion": "Suggests waiting.", "points": -6, "tags": []}],
            "ideal_completions_data": {"ideal_completion": ideal, "ideal_completions_ref_completions": refs},
        })
        .to_string()
    };
    let single = serde_json::json!([{"role": "user", "content": "My chest hurts. What should I do?"}]);
    let multi = serde_json::json!([
        {"role": "user", "content": "I feel dizzy."},
        {"role": "assistant", "content": "Since when?"},
        {"role": "user", "content": "An hour. Should I worry?"},
    ]);
    let text = [
        row("a", single, "Call emergency services now.", &["Rest and wait.", "See a doctor today."]),
        row("b", multi, "Sit down and get checked today.", &["Drink water."]),
    ]
    .join("\n");
    std::fs::write(&rows, text).unwrap();
    let model = tiny_judge_model(&dir.path().join("judge"));
    let o = run(clinalign()
        .args(["bench", "reward", "--group", "3", "--rounds", "1", "--criteria", "0", "--prompts", "0"])
        .args(["--history-chars", "50"])
        .arg("--judge")
        .arg(format!("local:{}", model.display()))
        .arg("--rows")
        .arg(&rows));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let sets = &v["sets"];
    assert_eq!(sets["healthbench"]["criteria"], 10, "groups of 3 and 2 responses, 2 items each: {v}");
    let long = &sets["long_multi_turn"];
    assert_eq!(long["groups"][0]["id"], "b+history");
    assert_eq!(long["groups"][0]["turns"], 5, "row a's question and ideal answer come first: {long}");
    for set in ["healthbench", "long_multi_turn", "all"] {
        let s = &sets[set];
        let t = |k: &str| s["tokens"][k].as_u64().unwrap();
        assert!(t("two_level") < t("one_level") && t("one_level") < t("full"), "{set}: {s}");
        assert!(s["max_p_met_diff"].as_f64().unwrap() <= 1e-4, "{set}: {s}");
        for k in ["speedup", "token_saving", "speedup_vs_token_saving"] {
            assert!(s[k].as_f64().unwrap() > 0.0, "{set}: {k} missing: {s}");
        }
        assert!(s["two_level"]["criteria_per_s"].as_f64().unwrap() > 0.0);
    }
    // Two different conversations, one response each, packed into shared forward calls.
    let across = &sets["across_conversations"];
    assert_eq!((across["conversations"].as_u64(), across["criteria"].as_u64()), (Some(2), Some(4)), "{across}");
    assert!(across["max_p_met_diff"].as_f64().unwrap() <= 1e-4, "{across}");
    assert!(across["packed"]["criteria_per_s"].as_f64().unwrap() > 0.0, "{across}");
}

#[test]
fn shipped_principles_meet_the_catalogue_rules() {
    let catalog = clinalign::Catalog::load(&repo().join("principles")).unwrap();
    assert!(catalog.failures.is_empty(), "{:?}", catalog.failures);
    // The HealthPrinciples, and beside them the model-backed rubric writer (which needs a
    // model to emit anything, so its fixtures cannot show it emitting).
    let (model_backed, health): (Vec<_>, Vec<_>) =
        catalog.manifests.iter().partition(|m| m.capabilities.generate || m.capabilities.score);
    assert_eq!(health.len(), 119, "the ClinAlign method has 119 HealthPrinciples");
    assert_eq!(model_backed.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["task.rubric-writer"]);
    for d in catalog.dimensions.iter() {
        let n = health.iter().filter(|m| m.dimension == d.name).count();
        assert!(n >= 15, "{}: only {n} principles", d.name);
    }
    for m in health {
        assert!(m.fixtures.len() >= 2, "{}: needs at least two fixtures", m.id);
        assert!(
            m.fixtures.iter().any(|f| f.expect == clinalign::manifest::Expect::Emits),
            "{}: no emitting fixture",
            m.id
        );
        assert!(
            m.fixtures.iter().any(|f| f.expect == clinalign::manifest::Expect::Silent),
            "{}: no silent fixture",
            m.id
        );
        assert!(!m.statement.trim_end_matches('.').contains(". "), "{}: the statement must be one sentence", m.id);
        if let Some(items) = m.config["items"].as_array() {
            assert!(items.iter().any(|i| i["points"].as_i64().unwrap() > 0), "{}: no reward", m.id);
            assert!(items.iter().any(|i| i["points"].as_i64().unwrap() < 0), "{}: no penalty", m.id);
        }
    }
}

#[test]
fn principles_docs_are_in_sync_with_the_manifests() {
    let o = run(clinalign().args(["principles", "docs", "--principles"]).arg(repo().join("principles")));
    assert!(o.status.success());
    let committed = std::fs::read_to_string(repo().join("docs/principles.md")).unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout) == committed,
        "docs/principles.md is stale: run `cargo run -- principles docs -o docs/principles.md`"
    );
}

#[test]
fn principles_stats_counts_dimensions_axes_and_plugins() {
    let o = run(clinalign().args(["principles", "stats", "--json", "--principles"]).arg(repo().join("principles")));
    assert!(o.status.success());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["principles"], 120, "119 HealthPrinciples and the rubric writer");
    for d in ["urgency", "uncertainty", "expertise", "task"] {
        assert!(v["dimensions"][d]["principles"].as_u64().unwrap() >= 15, "{d}");
        assert!(v["dimensions"][d]["negative"].as_u64().unwrap() > 0, "{d}");
    }
    assert!(v["axes"]["accuracy"].as_u64().unwrap() > 0);
    assert_eq!(v["plugins"]["red-flags"], 1);
}

#[test]
fn score_computes_healthbench_metrics_and_the_meta_eval() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("graded.jsonl");
    let lines = [
        r#"{"example_tags": ["theme:t"], "rubrics": [{"criterion": "a", "points": 7, "tags": ["axis:accuracy"], "criteria_met": true}, {"criterion": "b", "points": 5, "tags": ["axis:accuracy"], "criteria_met": false}, {"criterion": "c", "points": 10, "tags": ["axis:completeness"], "criteria_met": true}, {"criterion": "d", "points": -6, "tags": ["axis:completeness"], "criteria_met": true}]}"#,
        r#"{"example_tags": ["theme:t"], "rubrics": [{"criterion": "a", "points": 4, "tags": ["axis:accuracy"], "p_met": 0.5}]}"#,
        r#"{"binary_labels": [true, true, false], "criteria_met": true, "category": "c"}"#,
        r#"{"binary_labels": [true, false], "criteria_met": false, "category": "c"}"#,
        r#"{"binary_labels": [false], "criteria_met": true, "category": "c"}"#,
    ];
    std::fs::write(&input, lines.join("\n")).unwrap();
    let out = dir.path().join("score.json");
    let o = run(clinalign().arg("score").arg(&input).arg("-o").arg(&out));
    assert!(o.status.success());
    let v: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["score"], 0.5, "(0.5 + 0.5) / 2");
    assert_eq!(v["metrics"]["overall_score:n_samples"], 2.0);
    assert_eq!(v["metrics"]["theme:t"], 0.5);
    assert!(v["metrics"]["score:bootstrap_std"].is_number());
    assert_eq!(v["meta"]["metrics"]["pairwise_model_precision_pos"], 0.5);
    assert_eq!(v["meta"]["n_rows"], 3);

    std::fs::write(&input, format!("{}\n{{\"rubrics\": [{{\"points\": 3}}]}}\n", lines[0])).unwrap();
    let o = run(clinalign().arg("score").arg(&input));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains(":2: rubrics[0]: not graded"));
}

#[test]
fn classify_labels_rows_and_measures_against_physician_categories() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("hb.jsonl");
    let mut text =
        std::fs::read_to_string(repo().join("data/healthbench/consensus_context_seeking_104.jsonl")).unwrap();
    text.push_str(&std::fs::read_to_string(repo().join("data/healthbench/oss_eval_sample_9.jsonl")).unwrap());
    std::fs::write(&input, text).unwrap();
    let out = dir.path().join("out.jsonl");
    let eval = dir.path().join("eval.json");
    let o = run(clinalign()
        .arg("classify")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .arg("--eval")
        .arg(&eval)
        .arg("--principles")
        .arg(repo().join("principles")));
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("uncertainty: accuracy"));
    let rows = read_rows(&out);
    assert_eq!(rows.len(), 113);
    assert!(
        rows.iter()
            .all(|r| r["scenario"]["urgency"]["value"].is_string() && r["scenario"]["task"]["value"].is_string())
    );
    let e: Value = serde_json::from_slice(&std::fs::read(&eval).unwrap()).unwrap();
    let u = &e["dimensions"]["uncertainty"];
    assert_eq!(u["n"], 107, "104 context-seeking, 1 context-seeking, 1 hedging, 1 data-task row");
    let acc = u["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert!(u["confusion"]["reducible"].is_object());
}

#[test]
fn eval_rubrics_compares_with_physician_rubrics() {
    let p = Project::with_principles();
    let out = p.dir.path().join("eval.json");
    let o = run(clinalign()
        .arg("eval-rubrics")
        .arg(repo().join("data/healthbench/oss_eval_sample_9.jsonl"))
        .arg("--out")
        .arg(&out)
        .arg("--principles")
        .arg(p.principles())
        .arg("--plugins")
        .arg(p.plugins()));
    assert!(o.status.success());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("coverage of physician criteria"), "{stdout}");
    let v: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["rows"], 8, "the 9th row has only cluster-level criteria");
    assert_eq!(v["physician"]["items"], 94);
    for t in ["0.2", "0.3", "0.4"] {
        assert!(v["coverage"][t].as_f64().is_some(), "{t}");
    }
    assert_eq!(v["pairs"].as_array().unwrap().len(), 94);
    assert_eq!(v["method"], "tf-idf");

    // The same rows matched by sentence embeddings (all-MiniLM-L6-v2), on the rubrics just
    // written (rows with `reference_rubrics` are compared as they are).
    let synthesized = p.dir.path().join("synthesized.jsonl");
    let o = run(&mut synthesize(&p, &repo().join("data/healthbench/oss_eval_sample_9.jsonl"), &synthesized));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let by_meaning = p.dir.path().join("eval-embedding.json");
    let o =
        run(clinalign().arg("eval-rubrics").arg(&synthesized).args(["--match", "embedding", "--out"]).arg(&by_meaning));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("coverage of physician criteria (all-minilm-l6-v2): "), "{stdout}");
    let e: Value = serde_json::from_slice(&std::fs::read(&by_meaning).unwrap()).unwrap();
    assert_eq!((e["rows"].as_u64(), e["physician"]["items"].as_u64()), (Some(8), Some(94)));
    assert_eq!(e["thresholds"], serde_json::json!([0.6, 0.5, 0.7]));
    let at = |t: &str| e["coverage"][t].as_f64().unwrap();
    let (c5, c6, c7) = (at("0.5"), at("0.6"), at("0.7"));
    assert!(c5 >= c6 && c6 >= c7, "coverage falls as the threshold rises: {c5} {c6} {c7}");
    // Every pair's similarity is a cosine of unit vectors.
    assert!(e["pairs"].as_array().unwrap().iter().all(|p| p["similarity"].as_f64().unwrap().abs() <= 1.0001));
}

/// The rubric writer's items in `clinalign synthesize --model MODEL` output over two
/// queries, checked for what every written item must carry; returns them all.
fn written_items(p: &Project, model: &str) -> Vec<Value> {
    let input = p.dir.path().join("writer-queries.jsonl");
    std::fs::write(
        &input,
        [
            row(
                "fever",
                "My 4 year old has had a fever of 39.5 C for two days and is drinking less. Should I give ibuprofen?",
            ),
            row("ankles", "I'm on lisinopril and my ankles have started swelling. Is that the pill?"),
        ]
        .join("\n"),
    )
    .unwrap();
    let out = p.dir.path().join("written.jsonl");
    let o = run(synthesize(p, &input, &out).args(["--model", model, "--max-items", "60"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("principle errors: none"), "the writer's reply parsed and passed: {stdout}");
    let shipped = clinalign::Catalog::load(&p.principles()).unwrap();
    let verbs = [
        "Advises", "Asks", "Explains", "Recommends", "Says", "States", "Suggests", "Tells", "Warns", "Fails to",
        "Does not",
    ];
    let mut written = Vec::new();
    for r in read_rows(&out) {
        let mine: Vec<Value> = r["rubrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["tags"].as_array().unwrap().iter().any(|t| t == "principle:task.rubric-writer@1.0.0"))
            .cloned()
            .collect();
        assert!(mine.len() <= 3, "max_items = 3 in the manifest: {mine:?}");
        for item in &mine {
            let tags: Vec<&str> = item["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
            let from = tags.iter().find_map(|t| t.strip_prefix("derives-from:")).expect("a derives-from tag");
            assert!(from != "task.rubric-writer" && shipped.manifests.iter().any(|m| m.id == from), "{from}");
            let points = item["points"].as_i64().unwrap();
            assert!(points != 0 && points.abs() <= 10, "{item}");
            let criterion = item["criterion"].as_str().unwrap();
            assert!(verbs.iter().any(|v| criterion.starts_with(v)), "the schema's pattern: {criterion}");
            // 160 characters (max_criterion_chars) and at most an `(about: …)` anchor.
            assert!(criterion.chars().count() <= 160 + 90, "{criterion}");
        }
        written.extend(mine);
    }
    written
}

/// The rubric writer with the real SmolLM2, locally and through `clinalign serve --model`
/// as an OpenAI-compatible server (its JSON-schema response format): the reply parses, the
/// items carry their provenance and respect the manifest's limits.
#[test]
fn the_rubric_writer_with_smollm2_locally_and_over_http() {
    let p = Project::with_principles();
    let smollm2 = format!("local:{}", clinalign_infer::assets::smollm2_gguf().unwrap().display());
    let local = written_items(&p, &smollm2);
    assert!(!local.is_empty(), "greedy SmolLM2 writes at least one item that passes the checks");

    let server = Serving::start(&[
        "--model".as_ref(),
        smollm2.as_ref(),
        "--principles".as_ref(),
        p.principles().as_os_str(),
        "--plugins".as_ref(),
        p.plugins().as_os_str(),
    ]);
    let remote = written_items(&p, &format!("openai:{}#smollm2", server.base));
    drop(server);
    assert!(!remote.is_empty(), "the same model behind the server writes items too");
}

/// The scenario classifier with the real SmolLM2: `--classifier model` labels every dimension
/// from the vocabulary with a calibrated confidence, and `auto` takes, per dimension, the
/// label of the rules or of the model.
#[test]
fn the_model_classifier_with_smollm2_labels_every_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("q.jsonl");
    std::fs::write(
        &input,
        [
            row("chest", "My father has crushing chest pain and is sweating. What should I do?"),
            row("gluten", "Do zolmitriptan 5 mg tablets contain gluten? I have celiac disease."),
        ]
        .join("\n"),
    )
    .unwrap();
    let dims = clinalign::Dimensions::load(&repo().join("principles/dimensions.toml")).unwrap();
    let smollm2 = format!("local:{}", clinalign_infer::assets::smollm2_gguf().unwrap().display());
    let labels = |kind: &str| -> Vec<Value> {
        let out = dir.path().join(format!("{kind}.jsonl"));
        let mut c = clinalign();
        c.arg("classify").arg(&input).arg("-o").arg(&out).args(["--classifier", kind]);
        c.arg("--principles").arg(repo().join("principles"));
        if kind != "rules" {
            c.args(["--model", &smollm2]);
        }
        let o = run(&mut c);
        assert!(o.status.success(), "{kind}: {}", String::from_utf8_lossy(&o.stderr));
        let name = match kind {
            "rules" => "rules-v2",
            "model" => "model:SmolLM2",
            _ => "auto(rules, model:SmolLM2",
        };
        assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("(classifier {name}")), "{kind}");
        read_rows(&out).into_iter().map(|r| r["scenario"].clone()).collect()
    };
    let (rules, model, auto) = (labels("rules"), labels("model"), labels("auto"));
    for (i, m) in model.iter().enumerate() {
        for d in dims.iter() {
            let value = m[&d.name]["value"].as_str().unwrap();
            assert!(d.values.iter().any(|v| v == value), "{}: {value}", d.name);
            let confidence = m[&d.name]["confidence"].as_f64().unwrap();
            assert!(confidence > 0.0 && confidence <= 1.0, "{}: {confidence}", d.name);
            let chosen = &auto[i][&d.name]["value"];
            assert!(chosen == &m[&d.name]["value"] || chosen == &rules[i][&d.name]["value"], "{}: {chosen}", d.name);
        }
    }
    assert_eq!(rules[0]["urgency"]["value"], "emergent");
    assert_eq!(auto[0]["urgency"]["value"], "emergent", "the model may not lower urgency without a wide margin");
}

/// `--device`: `auto` always runs (on the CPU here, with the reason in `lm info`); `cuda`
/// without a usable GPU is a clear error, not a panic; a bad name is a usage error.
#[test]
fn the_device_flag_chooses_the_backend_and_says_why() {
    let tiny = repo().join("tests/fixtures/models/tiny-qwen3");
    let out = run(clinalign().args(["lm", "info", "--model"]).arg(&tiny));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("backend: ")).expect("lm info names the backend");
    assert!(line.starts_with("backend: cpu (") && line.len() > 20, "{line}");

    let out = run(clinalign().args(["--device", "cpu", "lm", "info", "--model"]).arg(&tiny));
    assert!(String::from_utf8_lossy(&out.stdout).contains("backend: cpu (asked for (--device cpu))"));

    let out = run(clinalign().args(["--device", "cuda:0", "lm", "info", "--model"]).arg(&tiny));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--device cuda:0: ") && err.contains("use --device cpu or auto"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let out = run(clinalign().args(["--device", "tpu", "lm", "info", "--model"]).arg(&tiny));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected cpu, cuda, cuda:N or auto"));
}

/// `kernels check` compiles every embedded kernel with NVRTC for sm_80 and sm_90 (no GPU),
/// prints registers/spills per entry point, writes the JSON report, and a second run comes
/// from the cache.
#[test]
fn kernels_check_compiles_every_kernel_and_reports_registers() {
    use clinalign_infer::cuda::nvrtc::Toolkit;
    let tk = Toolkit::locate_or_fetch(&clinalign_infer::assets::Quiet).expect("NVRTC from PyPI");
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("kernels.json");
    let check = |extra: &[&str]| {
        let mut c = clinalign();
        c.args(["kernels", "check", "--cache"]).arg(dir.path().join("cache")).args(extra);
        c.env("CLINALIGN_CUDA_INCLUDE", &tk.include);
        if let Some(lib) = &tk.library {
            c.env("CLINALIGN_NVRTC", lib);
        }
        run(&mut c)
    };
    let out = check(&["--json", json.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ok: 10 kernel files × 2 architectures"), "{text}");
    let gemm = text.lines().find(|l| l.contains("moe_grouped_gemm_bf16") && l.contains("sm_90")).unwrap();
    let cols: Vec<&str> = gemm.split_whitespace().collect();
    assert_eq!(cols[4], "0", "no spills: {gemm}");
    assert!(cols[3].parse::<u32>().unwrap() > 0, "registers: {gemm}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["kernels"].as_array().unwrap().len(), 20);
    let again = check(&[]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("cached"));

    let bad = run(clinalign().args(["kernels", "check", "--arch", "hopper"]));
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected sm_XY"));
}

/// `revise` with the real SmolLM2 as writer and judge, on two bundled HealthBench rows: one
/// whose ideal completion is the draft, one the model drafts itself. Every round is written
/// with its score and met/unmet items; the best-of-rounds answer never scores below the
/// draft; at most `--rounds` revisions.
#[test]
fn revise_keeps_the_best_answer_and_records_every_round() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(repo().join("data/healthbench/oss_eval_sample_9.jsonl")).unwrap();
    let first: Value = serde_json::from_str(sample.lines().next().unwrap()).unwrap();
    let with_draft = sample
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["ideal_completions_data"]["ideal_completion"].is_string())
        .expect("a row with an ideal completion");
    let input = dir.path().join("in.jsonl");
    let rows = [serde_json::json!({"id": "drafted", "messages": first["prompt"]}), with_draft.clone()];
    std::fs::write(&input, rows.iter().map(|r| r.to_string() + "\n").collect::<String>()).unwrap();
    let out = dir.path().join("out.jsonl");
    let model = format!("local:{}", clinalign_infer::assets::smollm2_gguf().unwrap().display());
    let res = run(clinalign()
        .arg("revise")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args(["--model", &model, "--judge", &model, "--rounds", "1", "--max-tokens", "48", "--principles"])
        .arg(repo().join("principles")));
    assert!(res.status.success());
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(stderr.contains("revised 2 rows") && stderr.contains("mean soft score: draft"), "{stderr}");
    let written = read_rows(&out);
    assert_eq!(written.len(), 2);
    for (row, given) in written.iter().zip([None, with_draft["ideal_completions_data"]["ideal_completion"].as_str()]) {
        let r = &row["revision"];
        let rounds = r["rounds"].as_array().unwrap();
        assert!((1..=2).contains(&rounds.len()), "{r}");
        for (i, round) in rounds.iter().enumerate() {
            assert_eq!(round["round"], i);
            assert!(round["score"].as_f64().is_some_and(|s| (0.0..=1.0).contains(&s)), "{round}");
            assert!(!round["answer"].as_str().unwrap().is_empty());
            let counted = ["met", "unmet"].iter().map(|k| round[k].as_array().unwrap().len()).sum::<usize>();
            assert!(counted > 0, "positive items are sorted into met and unmet: {round}");
            // Every round but the last passed its feedback on.
            assert_eq!(round.get("feedback").is_some(), i + 1 < rounds.len(), "{round}");
        }
        if let Some(draft) = given {
            assert_eq!(rounds[0]["answer"], draft, "the row's response is the draft");
        }
        let best = r["best"].as_u64().unwrap() as usize;
        assert_eq!(r["best_answer"], rounds[best]["answer"]);
        assert!(r["best_score"].as_f64().unwrap() >= r["draft_score"].as_f64().unwrap(), "{r}");
        assert!(["rounds", "no-improvement", "all-met"].contains(&r["stopped"].as_str().unwrap()));
    }
    // Without --model there is nobody to write answers.
    let res = run(clinalign()
        .arg("revise")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args(["--judge", &model, "--principles"])
        .arg(repo().join("principles")));
    assert_eq!(res.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&res.stderr).contains("revise needs --model"));
}
