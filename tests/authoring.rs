//! The principle author's loop: a plugin crate that does not compile fails alone, the
//! watcher reloads only for edits that matter and names them, `clinalign watch` and
//! `clinalign explain` show an author what a principle set does.

mod common;

use common::*;

/// A compile error in one Rust plugin crate leaves out only the principles that use it; the
/// template principles and the other crates load and answer, and the error is shown once.
#[test]
fn a_crate_that_does_not_compile_fails_alone() {
    let p = Project::with_plugins();
    let lib = p.plugins().join("medication-safety/src/lib.rs");
    let src = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, format!("{src}\nfn broken() -> u32 {{ undefined_name }}\n")).unwrap();

    let engine = p.builder().build().unwrap();
    let set = engine.principle_set();
    let failed: Vec<&str> = set.failures().iter().map(|f| f.principle.as_str()).collect();
    assert_eq!(failed, ["task.medication-safety"], "only the broken crate's principle is left out");
    assert!(set.principles().len() >= 118, "{} loaded", set.principles().len());
    assert!(set.get("urgency.red-flag-symptoms").is_some(), "the other Rust crate loads");
    let plugin = &set.plugin_failures()[0];
    assert_eq!(
        (plugin.plugin.as_str(), plugin.principles.as_slice()),
        ("medication-safety", &["task.medication-safety".to_string()][..])
    );
    assert!(plugin.message.contains("undefined_name") && plugin.message.contains("E0425"), "{}", plugin.message);
    assert!(plugin.message.len() < 4000, "trimmed to the first errors: {} bytes", plugin.message.len());
    let rubric = engine.synthesize(&query("q", "I have crushing chest pain spreading to my left arm.")).unwrap();
    assert!(!rubric.items.is_empty(), "the rest still answer");

    // The CLI shows the compiler's error once, naming the crate and its principle.
    let out = run(clinalign()
        .args(["principles", "test", "--principles"])
        .arg(p.principles())
        .arg("--plugins")
        .arg(p.plugins()));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("cannot find value `undefined_name`").count(), 1, "{stdout}");
    assert!(stdout.contains("FAIL  plugin medication-safety (task.medication-safety)"), "{stdout}");
    assert!(stdout.contains("1 failed"), "{stdout}");
}

/// Waits until `done` holds or `limit` passes.
fn wait_for(limit: std::time::Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// An idle watcher does not reload at all; a file saved without an edit is not a change;
/// an edit goes live and the report names the file that changed.
#[test]
fn the_watcher_is_quiet_when_idle_and_names_the_edit() {
    let p = Project::with_plugins();
    let engine = p.builder().build().unwrap();
    let reports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = reports.clone();
    let watch = engine.watch_with(move |r| seen.lock().unwrap().push(r.clone())).unwrap();

    // Reading every source (as a reload does) and saving a file unchanged are not edits.
    let set = engine.principle_set().hash().to_string();
    let manifest = p.principles().join("urgency/emergency-first.toml");
    let original = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, &original).unwrap();
    for f in walk(&p.plugins()) {
        let _ = std::fs::read(f);
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(engine.last_reload().is_none(), "idle, no reload: {:?}", engine.last_reload());
    assert!(reports.lock().unwrap().is_empty());

    // Build output is not a source.
    let target = p.plugins().join("target/wasm32-wasip2/release");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("noise.wasm"), b"\0asm").unwrap();
    std::fs::write(p.principles().join("urgency/.emergency-first.toml.swp"), b"x").unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(engine.last_reload().is_none(), "{:?}", engine.last_reload());

    // An edit goes live, and the report names it.
    std::fs::write(&manifest, original.replace("version = \"1.0.0\"", "version = \"1.0.1\"")).unwrap();
    wait_for(std::time::Duration::from_secs(60), "the edit to go live", || engine.principle_set().hash() != set);
    let report = engine.last_reload().unwrap();
    assert!(matches!(report.outcome, clinalign::ReloadOutcome::Live { .. }), "{report:?}");
    assert_eq!(report.trigger, "watch: principles/urgency/emergency-first.toml (modified)");
    assert_eq!(report.files.len(), 1);
    assert_eq!(report.changes.changed, ["urgency.emergency-first"]);
    assert!(report.changes.added.is_empty() && report.changes.removed.is_empty());
    assert!(report.fixtures_failed.is_empty() && report.fixtures_passed > 300, "{report:?}");

    // After the reload (which read every source again), the watcher rests.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(reports.lock().unwrap().len(), 1, "{:?}", reports.lock().unwrap());
    drop(watch);
}

/// Every file below `dir`, build output included.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() { out.extend(walk(&e.path())) } else { out.push(e.path()) }
    }
    out
}

/// `clinalign watch --queries`: an edit to a manifest goes live, and the output names the
/// file, the changed principle, the fixtures and each query's rubric diff.
#[test]
fn clinalign_watch_shows_what_an_edit_changed() {
    use std::io::BufRead;
    let p = Project::with_principles();
    let queries = p.dir.path().join("queries.jsonl");
    let stroke = row("stroke", "My husband suddenly can't move his right arm and his speech is slurred.");
    std::fs::write(&queries, format!("{stroke}\n{}\n", row("sleep", "How many hours of sleep do teenagers need?")))
        .unwrap();
    let mut child = clinalign()
        .current_dir(p.dir.path())
        .args(["watch", "--principles", "principles", "--plugins"])
        .arg(repo().join("plugins"))
        .args(["--queries", "queries.jsonl", "--reloads", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut next = |lines: &mut Vec<String>| {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|_| panic!("watch output so far: {lines:#?}"));
        lines.push(line.clone());
        line
    };
    while !next(&mut lines).starts_with("watching ") {}

    let manifest = p.principles().join("urgency/emergency-first.toml");
    let src = std::fs::read_to_string(&manifest).unwrap();
    let edited = src.replace(
        "Explains briefly why the situation may be an emergency", "Says in one sentence why this may be an emergency",
    );
    assert_ne!(edited, src);
    std::fs::write(&manifest, edited).unwrap();
    while !next(&mut lines).starts_with("  rubrics: ") {}
    let status = child.wait().unwrap();
    let text = lines.join("\n");
    assert!(status.success(), "{text}");
    assert!(text.contains("principles/urgency/emergency-first.toml (modified)\n  live: principle set "), "{text}");
    assert!(text.contains("  changed: urgency.emergency-first\n"), "{text}");
    assert!(text.contains(" failed\n") && text.contains("  fixtures: "), "{text}");
    assert!(text.contains("  stroke: 1 item(s) added, 1 removed"), "{text}");
    assert!(text.contains("    + [") && text.contains("] Says in one sentence why this may be an emergency"), "{text}");
    assert!(
        text.contains("    - [") && text.contains("] Explains briefly why the situation may be an emergency"),
        "{text}"
    );
    assert!(text.contains("  rubrics: 1 of 2 queries changed"), "{text}");
}
