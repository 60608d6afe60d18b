//! Principle packs made outside the repository: `clinalign pack new` scaffolds one in a
//! temporary folder (a Rust principle with its crate, and a template principle), `pack test`
//! passes it, `pack build` makes one .pack file; composed with the built-in set (from the
//! folder and from the file, with the same rubrics and set hash) its items name the pack;
//! its principles run strict unless trusted; a component that differs from pack.lock is
//! refused; an edit to the pack goes live under `watch`; clashes and build scripts are
//! refused.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clinalign::{Engine, Message, Query};
use common::*;

const ANTIBIOTIC: &str = "I feel better after three days of amoxicillin. Can I stop taking it?";
const SUNBURN: &str = "Got sunburnt on holiday, any tips for next time?";

fn user(id: &str, text: &str) -> Query {
    Query { id: id.into(), conversation: vec![Message { role: "user".into(), content: text.into() }], scenario: vec![] }
}

/// `clinalign pack new` in a fresh temporary folder (outside the repository).
fn new_pack(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    assert!(!tmp.path().starts_with(repo()), "the pack must live outside the repository");
    let dir = tmp.path().join(name);
    let out = run(clinalign().args(["pack", "new"]).arg(&dir).current_dir(tmp.path()));
    assert!(out.status.success());
    (tmp, dir)
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn engine_with(pack: &Path) -> clinalign::EngineBuilder {
    Engine::builder()
        .principles_dir(repo().join("principles"))
        .pack(pack)
        .cache_dir(Some(cache_dir()))
        .plugin_target_dir(plugin_target_dir())
}

fn pack_items(engine: &Engine, text: &str) -> Vec<(String, Vec<String>)> {
    let rubric = engine.synthesize(&user("q", text)).unwrap();
    rubric
        .items
        .into_iter()
        .filter(|i| i.tags.iter().any(|t| t.starts_with("pack:")))
        .map(|i| (i.criterion, i.tags))
        .collect()
}

#[test]
fn a_pack_made_outside_the_repository_is_tested_built_composed_and_reloaded() {
    let (tmp, dir) = new_pack("ward");
    for f in ["pack.toml", "plugins/Cargo.toml", "plugins/ward-antibiotic-course/src/lib.rs", "README.md"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert!(std::fs::read_to_string(dir.join("pack.toml")).unwrap().contains("wit = \"0.2.0\""));

    // Self-test, from outside the repository.
    let tested = run(clinalign().args(["pack", "test"]).arg(&dir).current_dir(tmp.path()));
    assert!(tested.status.success());
    assert!(stdout(&tested).contains("2 principles loaded, 0 failed; fixtures: 4 passed, 0 failed; 0 style problems"));

    // Built into one file, which is self-tested too.
    let built = run(clinalign().args(["pack", "build"]).arg(&dir).current_dir(tmp.path()));
    assert!(built.status.success());
    let file = dir.join("dist/ward-0.1.0.pack");
    assert!(file.is_file());
    let text = stdout(&built);
    assert!(
        text.contains("components/ward-antibiotic-course.wasm") && text.contains("components/template.wasm"),
        "{text}"
    );
    assert!(text.contains("fixtures: 4 passed, 0 failed"), "{text}");

    // Composed with the built-in set, from the folder and from the file.
    let queries = tmp.path().join("q.jsonl");
    std::fs::write(
        &queries,
        format!(
            "{{\"id\":\"a\",\"messages\":[{{\"role\":\"user\",\"content\":\"{ANTIBIOTIC}\"}}]}}\n\
             {{\"id\":\"b\",\"messages\":[{{\"role\":\"user\",\"content\":\"{SUNBURN}\"}}]}}\n"
        ),
    )
    .unwrap();
    let mut outputs = Vec::new();
    for (name, pack) in [("from-folder", &dir), ("from-file", &file)] {
        let out = tmp.path().join(format!("{name}.jsonl"));
        let done = run(clinalign()
            .args(["synthesize", "--principles", "builtin", "--principles"])
            .arg(pack)
            .arg(&queries)
            .arg("--output")
            .arg(&out)
            .current_dir(tmp.path()));
        assert!(done.status.success());
        assert!(stderr(&done).contains("loaded 122 principles"), "{}", stderr(&done));
        let rows: Vec<serde_json::Value> =
            std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        outputs.push(rows);
    }
    assert_eq!(outputs[0], outputs[1], "the built pack writes the same rubrics, under the same set hash");
    for (row, principle) in outputs[0].iter().zip(["task.ward-antibiotic-course", "task.ward-sun-protection"]) {
        let tags: Vec<Vec<String>> = row["rubrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect())
            .collect();
        let ours: Vec<&Vec<String>> = tags.iter().filter(|t| t.contains(&"pack:ward@0.1.0".to_string())).collect();
        assert_eq!(ours.len(), 2, "{row}");
        assert!(ours.iter().all(|t| t.contains(&format!("principle:{principle}@0.1.0"))), "{row}");
        assert!(tags.iter().any(|t| !t.iter().any(|x| x.starts_with("pack:"))), "built-in items are there too: {row}");
    }

    // In the library: pack principles run strict unless trusted.
    let engine = engine_with(&dir).build().unwrap();
    let set = engine.principle_set();
    assert!(set.failures().is_empty(), "{:?}", set.failures());
    assert_eq!(set.principles().len(), 122);
    let ours = set.get("task.ward-antibiotic-course").unwrap();
    assert_eq!(ours.manifest.pack.as_deref(), Some("ward@0.1.0"));
    assert!(ours.strict(), "a pack's principle gets a fresh instance per call");
    assert!(!set.get("urgency.dental-emergencies").unwrap().strict());
    let trusted = engine_with(&dir).trust_packs(true).build().unwrap();
    assert!(!trusted.principle_set().get("task.ward-antibiotic-course").unwrap().strict());
    assert_eq!(trusted.principle_set().hash(), set.hash());

    // A built pack's component that differs from its pack.lock does not run.
    let unpacked = clinalign::pack::Pack::open(&file, Some(&cache_dir())).unwrap().root;
    let tampered = tmp.path().join("tampered");
    copy_dir(&unpacked, &tampered);
    let component = tampered.join("components/ward-antibiotic-course.wasm");
    let mut bytes = std::fs::read(&component).unwrap();
    bytes.extend_from_slice(b"\0");
    std::fs::write(&component, bytes).unwrap();
    let refused = engine_with(&tampered).build().unwrap();
    let failure = refused
        .principle_set()
        .plugin_failures()
        .iter()
        .find(|f| f.principles == ["task.ward-antibiotic-course"])
        .cloned();
    let failure = failure.expect("the tampered component is refused");
    assert!(failure.message.contains("does not match") && failure.message.contains("pack.lock"), "{}", failure.message);
    assert!(refused.principle_set().get("task.ward-sun-protection").is_some(), "the rest of the pack loads");

    // Hot reload: an edit to the pack's manifest goes live.
    assert_eq!(pack_items(&engine, SUNBURN).len(), 2);
    let watch = engine.watch().unwrap();
    let manifest = dir.join("principles/task/ward-sun-protection.toml");
    let edited = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("version = \"0.1.0\"", "version = \"0.2.0\"")
        .replace("reapplied about every two hours", "reapplied every two hours");
    std::fs::write(&manifest, edited).unwrap();
    let start = Instant::now();
    while !pack_items(&engine, SUNBURN)
        .iter()
        .any(|(_, t)| t.contains(&"principle:task.ward-sun-protection@0.2.0".to_string()))
    {
        assert!(start.elapsed() < Duration::from_secs(90), "the pack edit never went live: {:?}", engine.last_reload());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(pack_items(&engine, SUNBURN).iter().any(|(c, _)| c.contains("reapplied every two hours")));
    assert_ne!(engine.principle_set().hash(), set.hash());
    drop(watch);
}

#[test]
fn clashes_are_refused_naming_both_files() {
    let (tmp, dir) = new_pack("clash");
    // An id the built-in set already has.
    let builtin = repo().join("principles/urgency/dental-emergencies.toml");
    let copy = dir.join("principles/urgency/dental-emergencies.toml");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&builtin, &copy).unwrap();
    let out = run(clinalign()
        .args(["synthesize", "--principles", "builtin", "--principles"])
        .arg(&dir)
        .arg(repo().join("data/queries.jsonl"))
        .arg("--output")
        .arg(tmp.path().join("out.jsonl"))
        .current_dir(tmp.path()));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}: id \"urgency.dental-emergencies\" is already used by", copy.display())),
        "{err}"
    );
    assert!(err.contains("principles/urgency/dental-emergencies.toml"), "{err}");
    assert!(!tmp.path().join("out.jsonl").exists());
    let tested = run(clinalign().args(["pack", "test"]).arg(&dir));
    assert_eq!(tested.status.code(), Some(1), "pack test refuses it too");
    std::fs::remove_file(&copy).unwrap();

    // A value outside the vocabulary.
    let manifest = dir.join("principles/task/clash-sun-protection.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("\"lifestyle\", \"information\"", "\"lifestyle\", \"sunbathing\"");
    std::fs::write(&manifest, text).unwrap();
    let out = run(clinalign().args(["principles", "list", "--principles", "builtin", "--principles"]).arg(&dir));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:", manifest.display())) && err.contains("\"sunbathing\""), "{err}");
    assert!(err.contains("principles/dimensions.toml"), "the vocabulary's file is named: {err}");
}

#[test]
fn a_pack_with_a_build_script_is_refused_by_default() {
    let (tmp, dir) = new_pack("scripted");
    let marker = tmp.path().join("the-build-script-ran");
    std::fs::write(
        dir.join("plugins/scripted-antibiotic-course/build.rs"),
        format!("fn main() {{ std::fs::write({:?}, \"yes\").unwrap(); }}\n", marker.display().to_string()),
    )
    .unwrap();
    let out = run(clinalign().args(["pack", "test"]).arg(&dir));
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("refusing to build") && text.contains("scripted-antibiotic-course@0.1.0 has a build script"),
        "{text}"
    );
    assert!(text.contains("--allow-build-scripts"), "{text}");
    assert!(text.contains("ok    task.scripted-sun-protection"), "the template principle still loads: {text}");
    assert!(!marker.exists(), "nothing of the pack ran natively");

    let allowed = run(clinalign().args(["pack", "test", "--allow-build-scripts"]).arg(&dir));
    assert!(allowed.status.success());
    assert!(marker.exists(), "allowed explicitly, the build script runs");
}

/// A principle written in Python is part of a pack like the others: built by componentize-py
/// (from the shared cache when the same module was built before), and shipped as a component
/// in the .pack file, whose fixtures then pass without building anything.
#[test]
fn a_pack_with_a_python_principle_ships_its_component() {
    let (tmp, dir) = new_pack("pylab");
    let examples = repo().join("examples/python-principles/task");
    for f in ["lab-value-interpretation.toml", "lab_value_interpretation.py"] {
        std::fs::copy(examples.join(f), dir.join("principles/task").join(f)).unwrap();
    }
    let built = run(clinalign().args(["pack", "build"]).arg(&dir).current_dir(tmp.path()));
    assert!(built.status.success());
    let text = stdout(&built);
    assert!(
        text.contains("components/lab-value-interpretation.wasm") && text.contains("task.lab-value-interpretation"),
        "{text}"
    );
    assert!(text.contains("3 principles loaded, 0 failed"), "{text}");
    let file = dir.join("dist/pylab-0.1.0.pack");
    let engine = engine_with(&file).build().unwrap();
    let set = engine.principle_set();
    assert!(set.failures().is_empty(), "{:?}", set.failures());
    let lab = set.get("task.lab-value-interpretation").unwrap();
    assert!(
        matches!(&lab.manifest.plugin, clinalign::manifest::PluginRef::Wasm(p) if p.ends_with("components/lab-value-interpretation.wasm"))
    );
    let items = pack_items(&engine, "My sodium is 128 mmol/L, is that ok?");
    assert!(
        items.iter().any(|(c, t)| c.contains("sodium") && t.contains(&"pack:pylab@0.1.0".to_string())),
        "{items:?}"
    );
}
