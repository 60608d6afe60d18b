//! `clinalign serve` end to end: a real server on a random loopback port, real HTTP clients.
//! Every route; OpenRLHF-, verl- and TRL-shaped calls; auth, limits and bad input; graceful
//! shutdown; and hot reload under a continuous load of concurrent requests.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// A running `clinalign serve` (its process and address: [`Serving`]) and an HTTP client.
struct Server {
    serving: Serving,
    agent: ureq::Agent,
}

impl std::ops::Deref for Server {
    type Target = Serving;
    fn deref(&self) -> &Serving {
        &self.serving
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Serving {
        &mut self.serving
    }
}

/// A reply: status, the x-principle-set header, the body (JSON when it parses, else a string).
struct Reply {
    status: u16,
    set: Option<String>,
    retry_after: Option<String>,
    body: Value,
}

impl Server {
    /// Starts `clinalign serve --addr 127.0.0.1:0 ARGS` and waits for its `listening on` line.
    fn start(args: &[&str]) -> Server {
        let serving = Serving::start(args);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .build()
            .into();
        Server { serving, agent }
    }

    fn send(&self, method: &str, path: &str, body: Option<&[u8]>, token: Option<&str>) -> Reply {
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        let resp = match method {
            "GET" => {
                let mut r = self.agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            _ => {
                let mut r = self.agent.post(&url).header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.send(body.unwrap_or_default())
            }
        };
        let mut resp = resp.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (set, retry_after) = (header("x-principle-set"), header("retry-after"));
        let status = resp.status().as_u16();
        let text = resp.body_mut().with_config().limit(256 << 20).read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, set, retry_after, body }
    }

    fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, Some(body.to_string().as_bytes()), None)
    }

    fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, None)
    }

    /// Sends SIGTERM and waits for the exit.
    fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the server stops within a minute of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn smollm2() -> String {
    format!("local:{}", clinalign_infer::assets::smollm2_gguf().unwrap().display())
}

fn principles() -> String {
    repo().join("principles").display().to_string()
}

/// The shipped principles without the model-backed rubric writer, for the tests that give
/// the server a model to exercise its routes (the writer would spend seconds of model time
/// on every rubric); use with `--plugins` [`plugins`].
fn principles_without_the_writer() -> String {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        copy_dir(&repo().join("principles"), &d.path().join("principles"));
        std::fs::remove_file(d.path().join("principles/task/rubric-writer.toml")).unwrap();
        d
    });
    dir.path().join("principles").display().to_string()
}

fn plugins() -> String {
    repo().join("plugins").display().to_string()
}

/// A server over [`principles_without_the_writer`] with `--model MODEL` and `extra` flags.
fn serve_with_model(model: &str, extra: &[&str]) -> Server {
    let (principles, plugins) = (principles_without_the_writer(), plugins());
    let mut args = vec!["--principles", &principles, "--plugins", &plugins, "--model", model];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn ankle_row(id: &str) -> Value {
    json!({
        "prompt_id": id,
        "prompt": [{"role": "user", "content": "I twisted my ankle playing football an hour ago. It is swollen. What should I do?"}],
        "completion": "Rest it, put ice on it for 20 minutes at a time, use a compression bandage and keep it raised. See a doctor if you cannot put weight on it.",
        "example_tags": ["theme:test"],
        "rubrics": [
            {"criterion": "Recommends rest, ice, compression and elevation.", "points": 8, "tags": ["axis:accuracy"]},
            {"criterion": "Recommends immediate surgery.", "points": -7, "tags": ["axis:accuracy"]}
        ]
    })
}

const RESPONSES: [&str; 3] = [
    "Rest the ankle, ice it for 20 minutes every few hours, wrap it and keep it raised. If you cannot bear weight or it looks deformed, get an X-ray today.",
    "Walk it off, it will be fine.",
    "Call an ambulance now.",
];

#[test]
fn every_route_answers_with_the_local_judge_and_model() {
    let model = smollm2();
    let s = serve_with_model(&model, &["--judge", &model]);

    // /healthz names the set, the judge and the model.
    let h = s.get("/healthz");
    assert_eq!(h.status, 200, "{}", h.body);
    let hash = h.body["principle_set"]["hash"].as_str().unwrap().to_string();
    assert_eq!(h.body["principle_set"]["principles"], 119);
    assert!(h.body["judge"].as_str().unwrap().starts_with("local:"), "{}", h.body);
    assert!(h.body["model"].as_str().unwrap().ends_with(".gguf"), "{}", h.body);
    // The backend and why: `--device auto` on a machine without a usable GPU runs on the CPU.
    assert_eq!(h.body["backend"]["name"], "cpu");
    assert!(!h.body["backend"]["why"].as_str().unwrap().is_empty(), "{}", h.body);
    assert!(h.body["backend"]["driver"].is_object(), "auto probes the driver: {}", h.body);
    assert_eq!(h.set.as_deref(), Some(hash.as_str()));

    // /v1/classify: one row in, one row out; a list in, a list out.
    let one = s.post("/v1/classify", &json!({"prompt": [{"role": "user", "content": "Crushing chest pain spreading to my left arm, what do I do?"}]}));
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.body["scenario"]["urgency"]["value"], "emergent", "{}", one.body);
    assert_eq!(one.body["principle_set"], hash.as_str());
    let many = s.post("/v1/classify", &json!({"rows": [ankle_row("a"), ankle_row("b")]}));
    assert_eq!(many.body["rows"].as_array().unwrap().len(), 2, "{}", many.body);
    assert_eq!(many.body["principle_set"], hash.as_str());

    // /v1/rubrics: as `clinalign synthesize` writes rows.
    let r = s.post("/v1/rubrics", &json!({"rows": [ankle_row("a")]}));
    assert_eq!(r.status, 200, "{}", r.body);
    let row = &r.body["rows"][0];
    let items = row["rubrics"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items.iter().all(|i| i["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t.as_str().unwrap().starts_with("principle:")))
    );
    assert_eq!(row["reference_rubrics"].as_array().unwrap().len(), 2, "the row's own rubric moved aside");
    assert_eq!(row["principle_set"], hash.as_str());

    // /v1/grade: the row's own rubric, and a synthesized one when the row has none.
    let g = s.post("/v1/grade", &ankle_row("g1"));
    assert_eq!(g.status, 200, "{}", g.body);
    let graded = g.body["rubrics"].as_array().unwrap();
    assert_eq!(graded.len(), 2);
    for it in graded {
        let p = it["p_met"].as_f64().unwrap();
        assert_eq!(it["criteria_met"].as_bool().unwrap(), p >= 0.5);
    }
    assert!(g.body["grade"]["soft_score"].as_f64().is_some(), "{}", g.body);
    assert_eq!(g.body["summary"]["n_examples"], 1);
    let mut bare = ankle_row("g2");
    bare.as_object_mut().unwrap().remove("rubrics");
    let g = s.post("/v1/grade", &json!({"rows": [bare]}));
    assert_eq!(g.status, 200, "{}", g.body);
    assert!(g.body["rows"][0]["rubrics"].as_array().unwrap().len() > 2, "a synthesized rubric");
    assert!(g.body["rows"][0]["scenario"].is_object());

    // /v1/reward: a GRPO group, rubric synthesized once and cached.
    let convo = json!([{"role": "user", "content": "I twisted my ankle playing football an hour ago. It is swollen. What should I do?"}]);
    let samples: Vec<Value> = RESPONSES.iter().map(|r| json!({"conversation": convo, "response": r})).collect();
    let rw = s.post("/v1/reward", &json!({"samples": samples, "detail": true}));
    assert_eq!(rw.status, 200, "{}", rw.body);
    let rewards: Vec<f64> = rw.body["rewards"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(rewards.len(), 3);
    assert!(rewards.iter().all(|r| (0.0..=1.0).contains(r)), "{rewards:?}");
    assert_eq!(rw.body["details"].as_array().unwrap().len(), 3);
    assert_eq!(rw.body["principle_set"], hash.as_str());
    // TRL's conversational completion and a plain-string prompt.
    let trl = s.post("/v1/reward", &json!({"samples": [{"prompt": "My ankle is swollen after football, what do I do?", "response": [{"role": "assistant", "content": RESPONSES[0]}]}]}));
    assert_eq!(trl.status, 200, "{}", trl.body);

    // /get_reward, OpenRLHF's shape: ChatML transcript with the prompt, one sample.
    let prompt = "<|im_start|>user\nI twisted my ankle playing football an hour ago. It is swollen. What should I do?<|im_end|>\n<|im_start|>assistant\n";
    let query = format!("{prompt}{}<|im_end|>", RESPONSES[0]);
    let o = s.post("/get_reward", &json!({"query": [query], "prompts": [prompt], "labels": [""]}));
    assert_eq!(o.status, 200, "{}", o.body);
    let reward = o.body["rewards"][0].as_f64().unwrap();
    assert!((reward - rewards[0]).abs() < 1e-9, "the same pair gets the same reward: {reward} vs {}", rewards[0]);
    assert_eq!(o.body["scores"].as_array().unwrap().len(), 1);
    assert!(o.body["extra_logs"]["healthbench_score"][0].is_number(), "{}", o.body);
    // The empty lists a second reward server receives.
    let e = s.post("/get_reward", &json!({"query": [], "prompts": [], "labels": []}));
    assert_eq!((e.status, e.body["rewards"].as_array().unwrap().len()), (200, 0), "{}", e.body);
    // A conversation given as the label.
    let l = s.post("/get_reward", &json!({"query": [query], "labels": [convo.to_string()]}));
    assert_eq!(l.status, 200, "{}", l.body);
    // A query with no template and no prompt: 422 naming its index, never a 0.
    let bad = s.post("/get_reward", &json!({"query": [query, "just some text"]}));
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.body["error"]["field"], "query[1]", "{}", bad.body);

    // The local model behind OpenAI-compatible routes, with log-probs.
    let chat = s.post("/v1/chat/completions", &json!({"model": "smollm2", "messages": [{"role": "user", "content": "Is ibuprofen an anti-inflammatory? Answer yes or no."}], "max_tokens": 3, "temperature": 0, "logprobs": true, "top_logprobs": 5}));
    assert_eq!(chat.status, 200, "{}", chat.body);
    assert_eq!(chat.body["object"], "chat.completion");
    let first = &chat.body["choices"][0]["logprobs"]["content"][0];
    assert_eq!(first["top_logprobs"].as_array().unwrap().len(), 5, "{}", chat.body);
    assert!(first["logprob"].as_f64().unwrap() <= 0.0);
    let text = s.post(
        "/v1/completions",
        &json!({"prompt": "The capital of France is", "max_tokens": 2, "temperature": 0, "logprobs": 3}),
    );
    assert_eq!(text.status, 200, "{}", text.body);
    assert_eq!(text.body["choices"][0]["logprobs"]["tokens"].as_array().unwrap().len(), 2, "{}", text.body);
    let refused = s.post(
        "/v1/chat/completions",
        &json!({"messages": [{"role": "user", "content": "hi"}], "logprobs": true, "top_logprobs": 50}),
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["error"]["param"], "top_logprobs", "{}", refused.body);

    // The log-prob judge through this server's OpenAI routes agrees with the local judge.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, format!("{}\n", ankle_row("lp"))).unwrap();
    let out = dir.path().join("graded.jsonl");
    let judge = format!("openai-logprobs:{}", s.base);
    let o = run(clinalign()
        .args(["grade"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args(["--judge", &judge, "--judge-model", "smollm2"]));
    assert!(o.status.success());
    let remote: Value = serde_json::from_str(std::fs::read_to_string(&out).unwrap().lines().next().unwrap()).unwrap();
    let local = s.post("/v1/grade", &ankle_row("lp"));
    for (r, l) in remote["rubrics"].as_array().unwrap().iter().zip(local.body["rubrics"].as_array().unwrap()) {
        let (pr, pl) = (r["p_met"].as_f64().unwrap(), l["p_met"].as_f64().unwrap());
        assert!((pr - pl).abs() < 0.02, "p_met over HTTP log-probs {pr} vs local {pl}");
    }

    // /metrics counts what happened.
    let m = s.get("/metrics");
    let text = m.body.as_str().unwrap();
    assert!(text.contains("clinalign_http_requests_total{route=\"/v1/reward\",status=\"200\"}"), "{text}");
    assert!(text.contains("clinalign_rubric_cache_hits_total"), "{text}");
    assert!(text.contains("clinalign_principle_calls_total{principle="), "{text}");
    assert!(text.contains("clinalign_http_request_duration_seconds_bucket"), "{text}");
    let judged = metric(text, "clinalign_judge_criteria_total");
    assert!(judged >= 8.0, "criteria judged: {judged}");
    assert!(metric(text, "clinalign_rubric_cache_hits_total") >= 2.0, "the group's rubric was cached: {text}");

    // /openapi.json and an unknown route.
    let doc = s.get("/openapi.json");
    assert!(doc.body["paths"]["/get_reward"]["post"].is_object());
    let nf = s.get("/nope");
    assert_eq!(nf.status, 404);
    assert!(nf.body["error"]["message"].as_str().unwrap().contains("/v1/rubrics"));

    assert!(s.stop().success(), "SIGTERM exits 0");
}

/// Sends only the headers of a POST announcing a body of `length` bytes and returns the
/// status line the server answers with (a server that waited for the body would time out).
fn announce_body(base: &str, path: &str, length: usize, token: &str) -> String {
    use std::io::{Read, Write};
    let addr = base.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_string()
}

/// A metric's value in Prometheus text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().split(' ').next()?.parse().ok()))
        .unwrap_or(0.0)
}

#[test]
fn auth_limits_bad_input_and_graceful_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let s = Server::start(&[
        "--principles",
        &principles(),
        "--judge",
        &smollm2(),
        "--token-file",
        token.to_str().unwrap(),
        "--max-rows",
        "3",
        "--max-chars",
        "5000",
        "--body-limit-mib",
        "1",
        "--max-concurrency",
        "1",
    ]);
    let t = Some("s3cret-token");
    let body = json!({"rows": [ankle_row("a")]}).to_string();

    // Auth: /healthz is open, the rest wants the token.
    assert_eq!(s.get("/healthz").status, 200);
    let no = s.send("POST", "/v1/rubrics", Some(body.as_bytes()), None);
    assert_eq!(no.status, 401, "{}", no.body);
    assert_eq!(s.send("POST", "/v1/rubrics", Some(body.as_bytes()), Some("wrong")).status, 401);
    assert_eq!(s.send("GET", "/metrics", None, None).status, 401);
    assert_eq!(s.send("POST", "/v1/rubrics", Some(body.as_bytes()), t).status, 200);

    // Bad input: 400 for broken JSON, 422 naming the field and row.
    let r = s.send("POST", "/v1/rubrics", Some(b"{\"rows\": [{\"prompt\": "), t);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("invalid JSON"), "{}", r.body);
    let wrong = json!({"rows": [ankle_row("a"), {"prompt": [{"role": "bot", "content": "hi"}]}]}).to_string();
    let r = s.send("POST", "/v1/rubrics", Some(wrong.as_bytes()), t);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["error"]["field"], "rows[1].prompt[0].role", "{}", r.body);
    assert_eq!(r.body["error"]["row"], 1);
    let r = s.send(
        "POST",
        "/v1/reward",
        Some(br#"{"samples": [{"conversation": [{"role": "user", "content": "hi"}]}]}"#),
        t,
    );
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (422, Some("samples[0].response")), "{}", r.body);
    let r = s.send("POST", "/get_reward", Some(br#"{"query": "x", "prompts": ["a", "b"]}"#), t);
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (422, Some("prompts")), "{}", r.body);

    // Caps: rows, characters, body size.
    let four = json!({"rows": [ankle_row("a"), ankle_row("b"), ankle_row("c"), ankle_row("d")]}).to_string();
    let r = s.send("POST", "/v1/rubrics", Some(four.as_bytes()), t);
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (422, Some("rows")), "{}", r.body);
    let long = json!({"prompt": [{"role": "user", "content": "pain ".repeat(2000)}]}).to_string();
    let r = s.send("POST", "/v1/rubrics", Some(long.as_bytes()), t);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("characters"), "{}", r.body);
    // A body over the limit is refused from its Content-Length, before it is sent.
    let status = announce_body(&s.base, "/v1/rubrics", 2 << 20, "s3cret-token");
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    // Concurrency 1: while a slow grading request runs, another is turned away with 503 and
    // Retry-After at once; the first still succeeds.
    let many_items: Vec<Value> = (0..24)
        .map(|i| json!({"criterion": format!("Mentions point number {i} about ankle sprains and when to see a doctor."), "points": 1 + i % 5, "tags": []}))
        .collect();
    let mut slow = ankle_row("slow");
    slow["rubrics"] = Value::Array(many_items);
    let slow_body = json!({"rows": [slow]}).to_string();
    let s = Arc::new(s);
    let first = {
        let (s, b) = (s.clone(), slow_body.clone());
        std::thread::spawn(move || s.send("POST", "/v1/grade", Some(b.as_bytes()), Some("s3cret-token")))
    };
    // Let the slow request take the one slot (it grades for seconds).
    std::thread::sleep(Duration::from_millis(500));
    let mut turned_away = None;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) && !first.is_finished() {
        let r = s.send("POST", "/v1/rubrics", Some(body.as_bytes()), t);
        if r.status == 503 {
            turned_away = Some(r);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let Some(turned_away) = turned_away else {
        let r = first.join().unwrap();
        panic!("no request beyond the concurrency limit got 503; the slow one answered {} {}", r.status, r.body);
    };
    assert_eq!(turned_away.retry_after.as_deref(), Some("1"));
    assert!(turned_away.body["error"]["message"].as_str().unwrap().contains("concurrency limit"));
    assert_eq!(first.join().unwrap().status, 200);

    // Graceful shutdown: SIGTERM while a request runs; it finishes, the server exits 0.
    let inflight = {
        let (s, b) = (s.clone(), slow_body.clone());
        std::thread::spawn(move || s.send("POST", "/v1/grade", Some(b.as_bytes()), Some("s3cret-token")))
    };
    std::thread::sleep(Duration::from_millis(300));
    let pid = s.child.id() as i32;
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let done = inflight.join().unwrap();
    assert_eq!(done.status, 200, "the request in flight finished: {}", done.body);
    let mut s = Arc::into_inner(s).expect("no other handle");
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit {status:?}");
}

#[test]
fn reload_under_load_loses_no_request() {
    let p = Project::with_principles();
    let plugins = p.plugins().display().to_string();
    let s =
        Arc::new(Server::start(&["--principles", p.principles().to_str().unwrap(), "--plugins", &plugins, "--watch"]));
    let first = s.get("/healthz").body["principle_set"]["hash"].as_str().unwrap().to_string();

    // Four clients, back to back, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    // Should the test fail, the clients stop too, so the server (which they share) is dropped.
    let _stop_clients = StopOnDrop(stop.clone());
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let seen = Arc::new(std::sync::Mutex::new(Vec::<(Instant, String)>::new()));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (s, stop, ok, failed, seen) = (s.clone(), stop.clone(), ok.clone(), failed.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let r = s.post("/v1/rubrics", &json!({"rows": [ankle_row(&format!("c{c}-{n}"))]}));
                    n += 1;
                    let named = r.body["rows"][0]["principle_set"].as_str().map(str::to_string);
                    match named {
                        Some(set) if r.status == 200 && Some(&set) == r.set.as_ref() => {
                            ok.fetch_add(1, Ordering::SeqCst);
                            seen.lock().unwrap().push((Instant::now(), set));
                        }
                        _ => {
                            eprintln!("failed request: {} {}", r.status, r.body);
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    let wait_for = |what: &str, f: &dyn Fn(&Value) -> bool| -> Value {
        let started = Instant::now();
        loop {
            let h = s.get("/healthz").body;
            if f(&h) {
                return h;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "{what}: {h}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    std::thread::sleep(Duration::from_millis(500));

    // 1. A manifest edit goes live.
    let manifest = p.principles().join("urgency/emergency-first.toml");
    let original = std::fs::read_to_string(&manifest).unwrap();
    let edited = original.replacen("version = \"", "version = \"9", 1);
    assert_ne!(edited, original);
    std::fs::write(&manifest, &edited).unwrap();
    let edit_at = Instant::now();
    let h = wait_for("the edited set goes live", &|h| h["principle_set"]["hash"] != first.as_str());
    let second = h["principle_set"]["hash"].as_str().unwrap().to_string();
    let live_ms = wait_until_seen(&seen, &second, edit_at);
    eprintln!("edited manifest answered by the new set {live_ms} ms after the write");

    // 2. Broken TOML never goes live; /healthz says why.
    std::fs::write(&manifest, "this is [not toml").unwrap();
    let h = wait_for("the broken set is rejected", &|h| h["last_reload"]["outcome"]["status"] == "rejected");
    assert_eq!(h["principle_set"]["hash"], second.as_str(), "the live set stayed");
    assert!(h["last_reload"]["error"].as_str().unwrap().contains("emergency-first"), "{h}");

    // 3. A principle that fails its own fixture never goes live either.
    let failing = edited.replace("expect = \"silent\"", "expect = \"emits\"");
    assert_ne!(failing, edited);
    std::fs::write(&manifest, &failing).unwrap();
    let h = wait_for("the failing fixture is rejected", &|h| {
        h["last_reload"]["error"].is_string()
            && h["last_reload"]["fixtures_failed"].as_array().is_some_and(|f| !f.is_empty())
    });
    assert_eq!(h["principle_set"]["hash"], second.as_str());

    // 4. Fixed: the original manifest is back and answers.
    std::fs::write(&manifest, &original).unwrap();
    let fix_at = Instant::now();
    // The set is swapped in just before its report is stored: wait for both.
    let h = wait_for("the fixed set goes live", &|h| {
        h["principle_set"]["hash"] == first.as_str() && h["last_reload"]["outcome"]["status"] == "live"
    });
    assert!(h["last_reload"]["error"].is_null(), "{h}");
    let back_ms = wait_until_seen(&seen, &first, fix_at);
    eprintln!("fixed manifest answered by the new set {back_ms} ms after the write");

    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    eprintln!("{ok} requests answered during the reloads, {failed} failed");
    assert_eq!(failed, 0, "no request failed or was dropped");
    assert!(ok > 20, "the load kept running: {ok}");
    let m = s.get("/metrics").body.as_str().unwrap().to_string();
    assert!(metric(&m, "clinalign_reloads_total{outcome=\"rejected\"}") >= 2.0, "{m}");
    assert!(metric(&m, "clinalign_reloads_total{outcome=\"live\"}") >= 2.0, "{m}");
}

/// Sets its flag when dropped (also when a test panics).
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Milliseconds from `since` until a client first saw a response from `set`.
fn wait_until_seen(seen: &std::sync::Mutex<Vec<(Instant, String)>>, set: &str, since: Instant) -> u128 {
    let started = Instant::now();
    loop {
        if let Some((at, _)) = seen.lock().unwrap().iter().find(|(at, s)| s == set && *at >= since) {
            return at.duration_since(since).as_millis();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no response from set {set}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn trainer_recipes_run_against_the_server() {
    let s = Server::start(&["--principles", &principles(), "--judge", &smollm2()]);
    let o = run(std::process::Command::new("python3").arg(repo().join("examples/check_clients.py")).arg(&s.base));
    assert!(o.status.success(), "examples/check_clients.py failed");
    let stdout = String::from_utf8_lossy(&o.stdout);
    for line in ["verl compute_score", "TRL reward", "OpenRLHF /get_reward", "ok"] {
        assert!(stdout.contains(line), "{line:?} missing from {stdout}");
    }
    // verl's async path and TRL's batch were answered by this server.
    let m = s.get("/metrics").body.as_str().unwrap().to_string();
    assert!(metric(&m, "clinalign_http_requests_total{route=\"/v1/reward\",status=\"200\"}") >= 5.0, "{m}");
    assert!(metric(&m, "clinalign_http_requests_total{route=\"/get_reward\",status=\"200\"}") >= 2.0, "{m}");
}

#[test]
fn a_request_past_its_deadline_gets_503_and_the_server_goes_on() {
    let s = Server::start(&["--principles", &principles(), "--judge", &smollm2(), "--request-timeout-s", "1"]);
    let items: Vec<Value> = (0..96)
        .map(|i| json!({"criterion": format!("Mentions detail number {i} of ankle sprain care."), "points": 1 + i % 5, "tags": []}))
        .collect();
    let mut slow = ankle_row("slow");
    slow["rubrics"] = Value::Array(items);
    let started = Instant::now();
    let r = s.post("/v1/grade", &slow);
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("deadline"), "{}", r.body);
    assert!(started.elapsed() < Duration::from_secs(30), "answered at the deadline, not after the work");
    let h = s.get("/healthz");
    assert_eq!(h.status, 200, "the server goes on");
    let ok = s.post("/v1/rubrics", &ankle_row("after"));
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[test]
fn a_generation_past_its_deadline_stops() {
    // A chat completion that would run for thousands of tokens: at the deadline the client
    // gets a 503 and the generation stops, instead of holding the cores to its end.
    let s = serve_with_model(&smollm2(), &["--request-timeout-s", "1"]);
    let long = json!({
        "messages": [{"role": "user", "content": "Write a very long essay about the history of medicine."}],
        "max_tokens": 4000, "stop": ["never appears in text 0x1f"],
    });
    let r = s.post("/v1/chat/completions", &long);
    assert_eq!(r.status, 503, "{}", r.body);
    let started = Instant::now();
    loop {
        let m = s.get("/metrics").body.as_str().unwrap_or_default().to_string();
        if metric(&m, "clinalign_generations_cancelled_total") >= 1.0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the generation was not stopped:\n{m}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The server goes on (a route that needs no model: under CI load even a 2-token
    // completion may not fit this test's 1 s deadline in a debug build).
    let ok = s.post("/v1/rubrics", &ankle_row("after"));
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[test]
fn get_reward_reads_the_served_models_own_chat_format() {
    // A model whose chat format is neither ChatML nor Llama 3 (Gemma's turns): the server
    // learns it from the model's template and reads OpenRLHF transcripts in it.
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_judge_model(dir.path());
    let gemma = "{% for m in messages %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}{{ '<start_of_turn>' + role + '\\n' + m['content'] + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}";
    std::fs::write(model.join("tokenizer_config.json"), json!({"chat_template": gemma}).to_string()).unwrap();
    let spec = format!("local:{}", model.display());
    let s = serve_with_model(&spec, &["--judge", &spec]);
    let h = s.get("/healthz");
    assert_eq!(h.body["transcripts"]["served_model"], json!(true), "{}", h.body);
    // --model is also the principles' model.
    assert!(h.body["principle_model"].as_str().is_some_and(|m| !m.is_empty()), "{}", h.body);

    let question = "I twisted my ankle an hour ago and it is swollen. What should I do?";
    let answer = "Rest it, ice it and keep it raised; see a doctor if you cannot stand on it.";
    let query = format!("<start_of_turn>user\n{question}<end_of_turn>\n<start_of_turn>model\n{answer}<end_of_turn>\n");
    let r = s.post("/get_reward", &json!({"query": [query], "prompts": [], "labels": []}));
    assert_eq!(r.status, 200, "{}", r.body);
    // The same conversation and response given as fields get the same reward: the transcript
    // was read into exactly them.
    let direct = s.post("/v1/reward", &json!({"samples": [{"prompt": question, "response": answer}]}));
    assert_eq!(direct.status, 200, "{}", direct.body);
    assert_eq!(r.body["rewards"], direct.body["rewards"], "{} vs {}", r.body, direct.body);
    // A two-turn transcript: the earlier exchange is conversation, the last turn the response.
    let two = format!("<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n{query}");
    let r2 = s.post("/get_reward", &json!({"query": [two]}));
    assert_eq!(r2.status, 200, "{}", r2.body);
    // Something in no known format is a 422 naming the query, never a silent 0.
    let bad = s.post("/get_reward", &json!({"query": ["<start_of_turn>user\nHi<end_of_turn>\n"]}));
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.body["error"]["field"], json!("query[0]"), "{}", bad.body);
}

/// Self-revision as a tool: `GET /v1/tools` publishes `clinalign_revise` with its route, a
/// tool call's arguments post to `/v1/revise` as they are (the served SmolLM2 drafts, the
/// judge queue grades), and `clinalign revise` runs against the same server as an
/// OpenAI-compatible model and log-prob judge on loopback.
#[test]
fn revise_runs_as_a_tool_call_and_against_an_openai_compatible_server() {
    let model = smollm2();
    let s = serve_with_model(&model, &["--judge", &model]);
    let tools = s.get("/v1/tools").body;
    let tool = &tools["tools"][0];
    assert_eq!((tool["name"].as_str(), tool["route"].as_str()), (Some("revise"), Some("POST /v1/revise")), "{tools}");
    let schema = &tool["schema"];
    assert_eq!(schema["function"]["name"], "clinalign_revise");
    // The CLI prints the same schema.
    let printed = run(clinalign().args(["tool-schema", "revise"]));
    assert!(printed.status.success());
    assert_eq!(serde_json::from_slice::<Value>(&printed.stdout).unwrap(), *schema);
    let unknown = run(clinalign().args(["tool-schema", "nope"]));
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("the tools are: revise"));

    // The arguments a model would produce for the tool, posted as they are.
    let args = json!({
        "messages": [{"role": "user", "content": "I twisted my ankle playing football an hour ago. It is swollen. What should I do?"}],
        "rounds": 1,
        "max_tokens": 32
    });
    let allowed: Vec<&str> =
        schema["function"]["parameters"]["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    assert!(args.as_object().unwrap().keys().all(|k| allowed.contains(&k.as_str())), "the call fits the schema");
    let r = s.post("/v1/revise", &args);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.set.is_some(), "the set that answered is named");
    let rev = &r.body["revision"];
    let rounds = rev["rounds"].as_array().unwrap();
    assert!((1..=2).contains(&rounds.len()), "{rev}");
    for (i, round) in rounds.iter().enumerate() {
        assert_eq!(round["round"], i);
        assert!(!round["answer"].as_str().unwrap().is_empty(), "the served model drafted: {round}");
        assert!(round["score"].as_f64().is_some_and(|v| (0.0..=1.0).contains(&v)), "{round}");
    }
    assert!(rev["best_score"].as_f64().unwrap() >= rev["draft_score"].as_f64().unwrap(), "{rev}");
    assert_eq!(rev["best_answer"], rounds[rev["best"].as_u64().unwrap() as usize]["answer"]);
    // A given response is the draft; options out of range name their field.
    let r = s.post("/v1/revise", &json!({"rows": [ankle_row("a")], "rounds": 0}));
    assert_eq!(r.status, 200, "{}", r.body);
    let rounds = r.body["rows"][0]["revision"]["rounds"].as_array().unwrap().clone();
    assert_eq!(rounds.len(), 1, "rounds 0 only grades the draft");
    assert_eq!(rounds[0]["answer"], ankle_row("a")["completion"]);
    let r = s.post("/v1/revise", &json!({"messages": [{"role": "user", "content": "hi"}], "rounds": 99}));
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (422, Some("rounds")), "{}", r.body);
    let r = s.post("/v1/revise", &json!({"rows": [{"messages": "not a list"}]}));
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["error"]["row"], 0, "{}", r.body);

    // `clinalign revise` with the server as its OpenAI-compatible model and log-prob judge.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, format!("{}\n", json!({"id": "ankle", "messages": args["messages"]}))).unwrap();
    let out = dir.path().join("out.jsonl");
    let res = run(clinalign()
        .arg("revise")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args(["--model", &format!("openai:{}/v1#smollm2", s.base)])
        .args(["--judge", &format!("openai-logprobs:{}/v1", s.base)])
        .args(["--rounds", "1", "--max-tokens", "32", "--principles", &principles_without_the_writer()])
        .args(["--plugins", &plugins()]));
    assert!(res.status.success());
    let row: Value = serde_json::from_str(std::fs::read_to_string(&out).unwrap().lines().next().unwrap()).unwrap();
    let rev = &row["revision"];
    assert!(!rev["rounds"].as_array().unwrap().is_empty(), "{row}");
    assert!(rev["best_score"].as_f64().unwrap() >= rev["draft_score"].as_f64().unwrap(), "{rev}");
    let judged =
        rev["rounds"][0]["met"].as_array().unwrap().len() + rev["rounds"][0]["unmet"].as_array().unwrap().len();
    assert!(judged > 0, "the remote judge sorted the items: {rev}");
}

/// The engine's model behind `clinalign serve --model` (what `--model openai:URL` uses for
/// principles that generate or score): greedy generation and one-token option scores over
/// HTTP equal the local model's.
#[test]
fn the_remote_model_generates_and_scores_options_as_the_local_one() {
    use clinalign::{LanguageModel, ModelError};
    use clinalign_infer::remote::OpenAiModel;
    let server = serve_with_model(&smollm2(), &[]);
    let lm = clinalign_infer::local::LocalModel::open(&clinalign_infer::assets::smollm2_gguf().unwrap()).unwrap();
    let remote = OpenAiModel::new(&server.base, "smollm2", None, 1, Duration::from_millis(10));
    assert_eq!(remote.name(), "openai:smollm2");
    let text = remote.generate("Name one symptom of the flu.", 8).unwrap();
    assert!(!text.is_empty());
    assert_eq!(text, lm.generate("Name one symptom of the flu.", 8).unwrap());
    let prompt = "Question: Is chest pain with sweating an emergency? Answer:";
    let options = vec![" Yes".to_string(), " No".to_string()];
    let got = remote.score_options(prompt, &options).unwrap();
    let want = lm.score_options(prompt, &options).unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-3, "{got:?} vs {want:?}");
    }
    // An option the server's top tokens never begin cannot be scored, and the error says why.
    let e = remote.score_options(prompt, &["\u{1F9EA}zqx".to_string()]).unwrap_err();
    assert!(matches!(e, ModelError::Unsupported(_)), "{e:?}");
    assert!(e.to_string().contains("cannot score the option"), "{e}");
}
