//! Principles written in Python: the examples in `examples/python-principles/` build with
//! componentize-py (installed by the host on first use), pass their fixtures and write
//! rubric items; a Python principle that does not build fails alone, naming its file and
//! line; a Python exception fails one query of one principle; `clinalign principles new
//! --python` scaffolds a principle whose fixtures pass.
//!
//! Every build goes through the shared test cache, so each Python component is built (and
//! compiled by wasmtime) once, not once per test or per run.

mod common;

use std::path::{Path, PathBuf};

use clinalign::{Message, Query};
use common::*;

/// The example principles written in Python.
fn examples() -> PathBuf {
    repo().join("examples/python-principles")
}

/// Files under `dir` that building left behind (`__pycache__`, `.pyc`): none may appear.
fn build_litter(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name == "__pycache__" || name.ends_with(".pyc") || name.ends_with(".wasm") {
            out.push(path.clone());
        }
        if path.is_dir() {
            out.extend(build_litter(&path));
        }
    }
    out
}

fn user(text: &str) -> Query {
    Query {
        id: "q".into(),
        conversation: vec![Message { role: "user".into(), content: text.into() }],
        scenario: Vec::new(),
    }
}

#[test]
fn the_examples_folder_has_the_builtin_vocabulary() {
    let ours = std::fs::read(examples().join("dimensions.toml")).unwrap();
    let builtin = std::fs::read(repo().join("principles/dimensions.toml")).unwrap();
    assert!(
        ours == builtin,
        "examples/python-principles/dimensions.toml must be a byte-for-byte copy of principles/dimensions.toml"
    );
}

/// `clinalign principles test` on the examples folder passes, and `clinalign synthesize`
/// writes their items, tagged with the principle and its version.
#[test]
fn the_python_examples_pass_their_fixtures_and_write_rubric_items() {
    let out = run(clinalign().args(["principles", "test", "--principles"]).arg(examples()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("2 principles loaded, 0 failed"), "{stdout}");
    assert!(stdout.contains("0 failed; 0 style problems"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("queries.jsonl");
    let rows = [
        r#"{"id": "dose", "messages": [{"role": "user", "content": "My 4 year old weighs 16 kg and has a fever. How much Calpol (paracetamol) can I give her?"}]}"#,
        r#"{"id": "lab", "messages": [{"role": "user", "content": "My potassium came back at 6.8 mmol/L, can it wait until my appointment next week?"}]}"#,
        r#"{"id": "other", "messages": [{"role": "user", "content": "What are good stretches for a stiff neck?"}]}"#,
    ];
    std::fs::write(&input, rows.join("\n") + "\n").unwrap();
    let output = dir.path().join("rubrics.jsonl");
    let out = run(clinalign().args(["synthesize", "--principles"]).arg(examples()).arg(&input).arg("-o").arg(&output));
    assert!(out.status.success());
    let text = std::fs::read_to_string(&output).unwrap();
    let rows: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let tagged = |row: &serde_json::Value, tag: &str| -> Vec<String> {
        row["rubrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["tags"].as_array().unwrap().iter().any(|t| t == tag))
            .map(|i| i["criterion"].as_str().unwrap().to_string())
            .collect()
    };
    let dose = tagged(&rows[0], "principle:task.paediatric-analgesic-dosing@1.0.0");
    assert!(
        dose.iter().any(|c| c.contains("about 240 mg for a 16 kg child") && c.contains("960 mg in 24 hours")),
        "{dose:?}"
    );
    let lab = tagged(&rows[1], "principle:task.lab-value-interpretation@1.0.0");
    assert!(lab.iter().any(|c| c.contains("potassium of 6.8 mmol/L as a critically high value")), "{lab:?}");
    assert!(rows[2]["rubrics"].as_array().unwrap().is_empty(), "the gate keeps both off other queries: {}", rows[2]);
    assert_eq!(build_litter(&examples()), Vec::<PathBuf>::new(), "building writes nothing beside the sources");
}

/// A Python principle with a syntax error fails alone: the principles beside it load and
/// answer, and the error names the file and the line. A Python exception in `emit` fails
/// that principle for that query only.
#[test]
fn a_broken_python_principle_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let principles = dir.path().join("principles");
    copy_dir(&examples(), &principles);
    let task = principles.join("task");
    std::fs::write(
        task.join("broken_one.py"),
        "import wit_world\n\nclass WitWorld(wit_world.WitWorld):\n    def init(self, config)\n        pass\n",
    )
    .unwrap();
    std::fs::write(
        task.join("broken-one.toml"),
        r#"id = "task.broken-one"
version = "0.1.0"
dimension = "task"
title = "A principle that does not build"
statement = "A good response is graded by a principle that builds."
plugin = "python:broken_one.py"
"#,
    )
    .unwrap();
    // The lab principle's own module with a config that divides by zero for a value in
    // mg/dL: the same component, so nothing more to build.
    let lab = std::fs::read_to_string(task.join("lab-value-interpretation.toml")).unwrap();
    let zero = lab
        .replace("task.lab-value-interpretation", "task.lab-value-zero-division")
        .replace("other_per_unit = 18.0", "other_per_unit = 0.0")
        .split("[[fixtures]]")
        .next()
        .unwrap()
        .to_string();
    let zero = format!(
        "{zero}[[fixtures]]\nconversation = [{{ role = \"user\", content = \"My sodium is 139, is that ok?\" }}]\nscenario = {{ task = \"information\" }}\nexpect = \"emits\"\n"
    );
    std::fs::write(task.join("lab-value-zero-division.toml"), zero).unwrap();

    let engine = clinalign::Engine::builder()
        .principles_dir(&principles)
        .cache_dir(Some(cache_dir()))
        .build()
        .expect("a principle that does not build does not stop the engine");
    let set = engine.principle_set();
    let loaded: Vec<&str> = set.principles().iter().map(|p| p.manifest.id.as_str()).collect();
    assert_eq!(
        loaded,
        ["task.lab-value-interpretation", "task.lab-value-zero-division", "task.paediatric-analgesic-dosing"],
        "{:?}",
        set.failures().iter().map(|f| &f.message).collect::<Vec<_>>()
    );
    assert_eq!(set.plugin_failures().len(), 1, "{:?}", set.plugin_failures());
    let failure = &set.plugin_failures()[0];
    assert_eq!(failure.principles, ["task.broken-one"]);
    let at = format!("{}:4: SyntaxError: expected ':'", task.join("broken_one.py").display());
    assert!(failure.message.starts_with(&at), "{}", failure.message);
    assert!(failure.message.contains("def init(self, config)"), "the source line is shown: {}", failure.message);
    let listed = &set.failures().iter().find(|f| f.principle == "task.broken-one").unwrap().message;
    assert!(listed.contains("broken_one.py:4: SyntaxError"), "{listed}");

    let rubric = engine.synthesize(&user("Fasting blood sugar 126 mg/dL this morning, what does that mean?")).unwrap();
    let failed: Vec<_> = rubric.failures().collect();
    assert_eq!(failed.len(), 1, "{:?}", rubric.calls);
    assert_eq!(failed[0].principle, "task.lab-value-zero-division");
    let why = failed[0].error.as_ref().unwrap().to_string();
    assert!(why.contains("lab_value_interpretation.py:") && why.contains("ZeroDivisionError"), "{why}");
    assert!(
        rubric.items.iter().any(|i| i.tags.iter().any(|t| t == "principle:task.lab-value-interpretation@1.0.0")),
        "the same module with a good config answers the same query"
    );
    let zero = set.get("task.lab-value-zero-division").unwrap();
    let items = zero.emit(&user("My sodium is 128 mmol/L, is that ok?")).expect("the next query runs");
    assert!(items.iter().any(|i| i.criterion.contains("sodium of 128 mmol/L is below the usual range")), "{items:?}");
}

/// `clinalign principles new ID --dimension D --python` writes a manifest and a module
/// beside it whose fixtures pass as they are (the TODOs are style problems until rewritten).
#[test]
fn principles_new_python_scaffolds_a_principle_that_passes_its_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let principles = dir.path().join("principles");
    std::fs::create_dir_all(&principles).unwrap();
    std::fs::copy(examples().join("dimensions.toml"), principles.join("dimensions.toml")).unwrap();
    let out = run(clinalign()
        .args(["principles", "new", "fever-check", "--dimension", "urgency", "--python", "--principles"])
        .arg(&principles));
    assert!(out.status.success());
    let manifest = std::fs::read_to_string(principles.join("urgency/fever-check.toml")).unwrap();
    assert!(manifest.contains("plugin = \"python:fever_check.py\""), "{manifest}");
    assert!(principles.join("urgency/fever_check.py").is_file());

    let out = run(clinalign().args(["principles", "test", "--show-items", "--principles"]).arg(&principles));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 principles loaded, 0 failed; fixtures: 2 passed, 0 failed"), "{stdout}");
    assert!(stdout.contains("Addresses the example symptom the user describes."), "{stdout}");
    assert!(stdout.contains("STYLE urgency.fever-check"), "the TODOs are reported: {stdout}");
    assert_eq!(out.status.code(), Some(1), "until the TODOs are rewritten");
    assert_eq!(build_litter(&principles), Vec::<PathBuf>::new());

    // Built again from nothing (another machine, another cache; componentize-py's output
    // differs from build to build), the same sources give the same principle set, as the
    // Ray actors on a cluster's nodes need.
    let fresh = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(cache_dir().join("tools"), fresh.path().join("tools")).unwrap();
    let again = run(clinalign()
        .env("CLINALIGN_CACHE_DIR", fresh.path())
        .args(["principles", "test", "--principles"])
        .arg(&principles));
    let set = |text: &str| text.rsplit("(principle set ").next().map(|s| s.trim().trim_end_matches(')').to_string());
    let again_stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again_stdout.contains("1 principles loaded, 0 failed"), "{again_stdout}");
    assert!(
        fresh.path().join("python").read_dir().unwrap().any(|e| e.unwrap().path().extension() == Some("wasm".as_ref()))
    );
    assert_eq!(set(&again_stdout), set(&stdout), "{again_stdout}\n{stdout}");
}
