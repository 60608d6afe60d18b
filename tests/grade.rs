//! `clinalign grade` end to end: the local log-prob judge on the real SmolLM2 model, and the
//! two OpenAI-compatible judges (JSON verdicts, and log-probs of yes and no) served over
//! loopback HTTP by test servers that fail on purpose (HTTP 500s, unparsable answers, no
//! log-probs) to exercise the retries; all resumable.

mod common;

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use serde_json::{Value, json};

fn graded_rows(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn input_rows(n: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            json!({
                "prompt_id": format!("p{i}"),
                "prompt": [{"role": "user", "content": format!("Question {i}: I twisted my ankle playing football. What should I do?")}],
                "completion": "Rest it, put ice on it for 20 minutes at a time, use a compression bandage and keep it raised. See a doctor if you cannot put weight on it.",
                "example_tags": ["theme:test"],
                "rubrics": [
                    {"criterion": "Recommends rest, ice, compression and elevation.", "points": 8, "tags": ["axis:accuracy"]},
                    {"criterion": "Advises seeing a doctor if the user cannot bear weight.", "points": 5, "tags": ["axis:completeness"]},
                    {"criterion": "Recommends immediate surgery.", "points": -7, "tags": ["axis:accuracy"]}
                ]
            })
            .to_string()
        })
        .collect();
    rows.join("\n") + "\n"
}

#[test]
fn local_judge_grades_scores_and_resumes() {
    let model = clinalign_infer::assets::smollm2_gguf().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, input_rows(2)).unwrap();
    let out = dir.path().join("graded.jsonl");
    let judge = format!("local:{}", model.display());
    let o = run(clinalign().args(["grade"]).arg(&input).arg("-o").arg(&out).args(["--judge", &judge]));
    assert!(o.status.success());
    let rows = graded_rows(&out);
    assert_eq!(rows.len(), 2);
    for r in &rows {
        for it in r["rubrics"].as_array().unwrap() {
            let p = it["p_met"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&p));
            assert_eq!(it["criteria_met"].as_bool().unwrap(), p >= 0.5);
        }
        assert!(r["grade"]["judge"].as_str().unwrap().starts_with("local:"));
        assert!(r["grade"]["soft_score"].as_f64().is_some());
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("\"n_examples\": 2"), "{stdout}");

    // A crash mid-write leaves a torn line; the rerun drops it, keeps the finished row and
    // grades the rest.
    let text = std::fs::read_to_string(&out).unwrap();
    let first = text.lines().next().unwrap();
    std::fs::write(&out, format!("{first}\n{}", &text.lines().nth(1).unwrap()[..40])).unwrap();
    let o = run(clinalign().args(["grade"]).arg(&input).arg("-o").arg(&out).args(["--judge", &judge]));
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("graded 1 rows"), "only the missing row is graded again");
    let rows = graded_rows(&out);
    assert_eq!(rows.iter().map(|r| r["prompt_id"].as_str().unwrap()).collect::<Vec<_>>(), ["p0", "p1"]);
}

/// A minimal OpenAI-compatible server: answers every chat-completions request, after failing
/// the first request with HTTP 500 and the second with prose instead of JSON.
fn serve(listener: TcpListener, requests: Arc<AtomicUsize>, saw_key: Arc<AtomicUsize>) {
    serve_http(listener, |n, request| {
        requests.fetch_add(1, Ordering::SeqCst);
        if request.headers.iter().any(|h| h.starts_with("authorization: bearer test-key")) {
            saw_key.fetch_add(1, Ordering::SeqCst);
        }
        match n {
            0 => ("500 Internal Server Error", "{\"error\": \"boom\"}".to_string()),
            1 => ("200 OK", chat_reply("I think so, probably.")),
            _ => {
                // Meets the positive items, not the surgery one.
                let met = !grader_prompt(request).contains("surgery");
                (
                    "200 OK",
                    chat_reply(&format!("```json\n{{\"explanation\": \"checked\", \"criteria_met\": {met}}}\n```")),
                )
            }
        }
    });
}

#[test]
fn openai_compatible_judge_retries_and_grades() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let saw_key = Arc::new(AtomicUsize::new(0));
    {
        let (r, k) = (requests.clone(), saw_key.clone());
        std::thread::spawn(move || serve(listener, r, k));
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, input_rows(3)).unwrap();
    let out = dir.path().join("graded.jsonl");
    let o = run(clinalign()
        .args(["grade"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args([
            "--judge",
            &format!("openai:http://{addr}"),
            "--judge-model",
            "test-grader",
            "--retry-delay-ms",
            "10",
            "--concurrency",
            "1",
        ])
        .env("OPENAI_API_KEY", "test-key"));
    assert!(o.status.success());
    let rows = graded_rows(&out);
    assert_eq!(rows.len(), 3);
    for r in &rows {
        let met: Vec<bool> =
            r["rubrics"].as_array().unwrap().iter().map(|i| i["criteria_met"].as_bool().unwrap()).collect();
        assert_eq!(met, [true, true, false]);
        assert_eq!(r["rubrics"][0]["explanation"], "checked");
        assert_eq!(r["grade"]["score"], 1.0, "13 of 13 positive points, penalty not met");
        assert_eq!(r["grade"]["judge"], "openai:test-grader");
    }
    // 9 items, plus one HTTP 500 and one unparsable answer retried.
    assert_eq!(requests.load(Ordering::SeqCst), 11);
    assert_eq!(saw_key.load(Ordering::SeqCst), 11, "the API key from the environment is sent");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("\"score\": 1.0"), "{stdout}");

    // Nothing left to do on a rerun.
    let o = run(clinalign()
        .args(["grade"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args(["--judge", &format!("openai:http://{addr}")]));
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("graded 0 rows"));
    assert_eq!(requests.load(Ordering::SeqCst), 11);
}

#[test]
fn rows_without_a_response_stop_the_run_or_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let mut rows = input_rows(1);
    rows.push_str(
        &json!({"prompt_id": "empty", "prompt": [{"role": "user", "content": "Hi"}], "rubrics": []}).to_string(),
    );
    rows.push('\n');
    std::fs::write(&input, rows).unwrap();
    let model = clinalign_infer::assets::smollm2_gguf().unwrap();
    let judge = format!("local:{}", model.display());
    let out = dir.path().join("new-dir/o.jsonl"); // the folder is created
    let o = run(clinalign().args(["grade"]).arg(&input).arg("-o").arg(&out).args(["--judge", &judge]));
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("in.jsonl:2: no response to grade"), "{stderr}");
    let o =
        run(clinalign().args(["grade"]).arg(&input).arg("-o").arg(&out).args(["--judge", &judge, "--skip-missing"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("1 without a response skipped"), "{stderr}");
    assert_eq!(graded_rows(&out).len(), 1);
}

#[test]
fn a_judge_that_keeps_failing_stops_the_run_with_the_reason() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener); // nothing listens: every request fails to connect
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, input_rows(1)).unwrap();
    let o = run(clinalign().args(["grade"]).arg(&input).arg("-o").arg(dir.path().join("o.jsonl")).args([
        "--judge",
        &format!("openai:http://{addr}"),
        "--max-retries",
        "1",
        "--retry-delay-ms",
        "1",
    ]));
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("gave up after 2 attempts"), "{stderr}");
}

/// A chat-completions reply of one token with its top log-probs.
fn logprob_reply(token: &str, top: &[(&str, f64)]) -> String {
    let top: Vec<Value> = top.iter().map(|(t, lp)| json!({"token": t, "logprob": lp, "bytes": t.as_bytes()})).collect();
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "test-grader",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": token}, "finish_reason": "length",
                     "logprobs": {"content": [{"token": token, "logprob": top[0]["logprob"], "bytes": token.as_bytes(),
                                               "top_logprobs": top}]}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 1, "total_tokens": 101}
    })
    .to_string()
}

/// Log-probs the test server gives a positive item, and the p_met they mean.
const YES_TOP: [(&str, f64); 4] = [("Yes", -0.2), (" yes", -2.0), ("No", -2.2), ("Maybe", -3.0)];
/// Log-probs it gives the surgery item.
const NO_TOP: [(&str, f64); 3] = [("No", -0.1), (" no", -2.5), ("Yes", -3.0)];

fn p_met(top: &[(&str, f64)]) -> f64 {
    let sum =
        |w: &str| top.iter().filter(|(t, _)| t.trim().eq_ignore_ascii_case(w)).map(|(_, lp)| lp.exp()).sum::<f64>();
    sum("yes") / (sum("yes") + sum("no"))
}

#[test]
fn openai_logprob_judge_reads_yes_and_no_from_top_logprobs_and_retries() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let prompts = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    {
        let (requests, prompts) = (requests.clone(), prompts.clone());
        std::thread::spawn(move || {
            serve_http(listener, |n, request| {
                requests.fetch_add(1, Ordering::SeqCst);
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                prompts.lock().unwrap().push(body.clone());
                if n == 0 {
                    return ("500 Internal Server Error", "{\"error\": \"boom\"}".to_string());
                }
                let prompt = body["messages"][0]["content"].as_str().unwrap();
                let surgery = prompt.contains("Rubric item (-7 points): Recommends immediate surgery.");
                ("200 OK", if surgery { logprob_reply("No", &NO_TOP) } else { logprob_reply("Yes", &YES_TOP) })
            })
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, input_rows(2)).unwrap();
    let out = dir.path().join("graded.jsonl");
    let judge = format!("openai-logprobs:http://{addr}/v1");
    let o = run(clinalign()
        .args(["grade"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args(["--judge", &judge, "--judge-model", "test-grader", "--retry-delay-ms", "10", "--concurrency", "3"]));
    assert!(o.status.success());
    let rows = graded_rows(&out);
    assert_eq!(rows.len(), 2);
    let (yes, no) = (p_met(&YES_TOP), p_met(&NO_TOP));
    for r in &rows {
        let items = r["rubrics"].as_array().unwrap();
        let got: Vec<f64> = items.iter().map(|i| i["p_met"].as_f64().unwrap()).collect();
        for (g, want) in got.iter().zip([yes, yes, no]) {
            assert!((g - want).abs() < 1e-6, "p_met {g}, expected {want}");
        }
        let met: Vec<bool> = items.iter().map(|i| i["criteria_met"].as_bool().unwrap()).collect();
        assert_eq!(met, [true, true, false]);
        assert_eq!(r["grade"]["judge"], "openai-logprobs:test-grader");
        assert_eq!(r["grade"]["score"], 1.0);
        let soft = (8.0 * yes + 5.0 * yes - 7.0 * no) / 13.0;
        assert!((r["grade"]["soft_score"].as_f64().unwrap() - soft).abs() < 1e-6);
    }
    // 6 items, plus the HTTP 500 retried.
    assert_eq!(requests.load(Ordering::SeqCst), 7);
    // Every request is the local judge's prompt for one item, asking for one greedy token
    // with its 20 most likely alternatives.
    let input_row: Value = serde_json::from_str(input_rows(1).lines().next().unwrap()).unwrap();
    let conversation = vec![clinalign::Message {
        role: "user".into(),
        content: input_row["prompt"][0]["content"].as_str().unwrap().into(),
    }];
    let expected: Vec<String> = input_row["rubrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| {
            let item = clinalign::RubricEntry::new(
                it["criterion"].as_str().unwrap(),
                it["points"].as_i64().unwrap() as i32,
                vec![],
            );
            let parts =
                clinalign_infer::judge::judge_prompt(&conversation, input_row["completion"].as_str().unwrap(), &item);
            format!("{}{}", parts.prefix, parts.suffix)
        })
        .collect();
    let sent = prompts.lock().unwrap().clone();
    let content = |b: &Value| b["messages"][0]["content"].as_str().unwrap().to_string();
    let for_row_0: std::collections::BTreeSet<String> =
        sent.iter().map(content).filter(|c| c.contains("Question 0:")).collect();
    assert_eq!(for_row_0, expected.into_iter().collect(), "the local judge's prompt, one per item");
    for b in &sent {
        assert_eq!(b["messages"].as_array().unwrap().len(), 1, "one user message");
        assert_eq!(b["messages"][0]["role"], "user");
        assert_eq!((b["max_tokens"].as_u64(), b["temperature"].as_f64()), (Some(1), Some(0.0)));
        assert_eq!((b["logprobs"].as_bool(), b["top_logprobs"].as_u64()), (Some(true), Some(20)));
        assert_eq!(b["model"], "test-grader");
    }

    // Resumed: nothing left to ask.
    let o = run(clinalign().args(["grade"]).arg(&input).arg("-o").arg(&out).args(["--judge", &judge]));
    assert!(o.status.success());
    assert_eq!(requests.load(Ordering::SeqCst), 7);
}

#[test]
fn a_server_without_logprobs_stops_the_logprob_judge_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    {
        let requests = requests.clone();
        std::thread::spawn(move || {
            serve_http(listener, |_, _| {
                requests.fetch_add(1, Ordering::SeqCst);
                ("200 OK", chat_reply("yes"))
            })
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, input_rows(1)).unwrap();
    let o = run(clinalign().args(["grade"]).arg(&input).arg("-o").arg(dir.path().join("o.jsonl")).args([
        "--judge",
        &format!("openai-logprobs:http://{addr}"),
        "--concurrency",
        "1",
        "--retry-delay-ms",
        "1",
    ]));
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("cannot return log-probs"), "{stderr}");
    assert!(requests.load(Ordering::SeqCst) <= 3, "not retried: one request per item at most");
}
