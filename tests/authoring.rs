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
