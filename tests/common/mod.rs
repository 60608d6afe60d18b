//! Helpers shared by the end-to-end tests: the repository's paths, the `clinalign`
//! binary with a shared cache, temporary projects, and the hostile test components.

#![allow(dead_code)]

pub mod browser;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use clinalign::plugin_build::PluginBuilder;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A component cache shared by every test run (content-addressed, so sharing is safe and
/// keeps repeated runs fast).
pub fn cache_dir() -> PathBuf {
    repo().join("target").join("test-cache")
}

/// One cargo target dir for every plugins workspace the tests build (copies included), so
/// dependencies compile once; builders take turns on it.
pub fn plugin_target_dir() -> PathBuf {
    repo().join("plugins").join("target")
}

/// The `clinalign` binary, with the shared cache.
pub fn clinalign() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clinalign"));
    c.env("CLINALIGN_CACHE_DIR", cache_dir())
        .env("CLINALIGN_MODELS_DIR", clinalign_infer::assets::models_dir())
        .env("CLINALIGN_PLUGIN_TARGET_DIR", plugin_target_dir())
        .env_remove("CLINALIGN_PRINCIPLES")
        .env_remove("CLINALIGN_PLUGINS");
    c
}

/// Runs a command and returns its output, printing stderr when the test fails later.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the command runs");
    eprintln!(
        "$ {cmd:?}\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Copies a directory tree, skipping `target/` folders. Refuses to copy onto itself.
pub fn copy_dir(from: &Path, to: &Path) {
    assert!(!to.starts_with(from) && !from.starts_with(to), "copy_dir({}, {}) overlaps", from.display(), to.display());
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == "target" {
            continue;
        }
        let dest = to.join(&name);
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A temporary project: `principles/` copied from the repository, and either the real
/// plugins workspace (read-only use) or a copy of it with `wit/` and the toolchain file.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// Principles copied; plugins used in place.
    pub fn with_principles() -> Project {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&repo().join("principles"), &dir.path().join("principles"));
        Project { dir }
    }

    /// Principles, plugins, wit, the core crate the SDK builds on (`host/clinalign-core`) and
    /// rust-toolchain.toml copied, for tests that edit plugin sources. Cargo shares the
    /// repository's plugin target dir, so only edited crates rebuild.
    pub fn with_plugins() -> Project {
        let p = Project::with_principles();
        copy_dir(&repo().join("plugins"), &p.dir.path().join("plugins"));
        copy_dir(&repo().join("host/clinalign-core"), &p.dir.path().join("host/clinalign-core"));
        copy_dir(&repo().join("wit"), &p.dir.path().join("wit"));
        std::fs::copy(repo().join("rust-toolchain.toml"), p.dir.path().join("rust-toolchain.toml")).unwrap();
        p
    }

    pub fn principles(&self) -> PathBuf {
        self.dir.path().join("principles")
    }

    /// The plugins workspace this project uses.
    pub fn plugins(&self) -> PathBuf {
        let own = self.dir.path().join("plugins");
        if own.exists() { own } else { repo().join("plugins") }
    }

    /// An engine builder over this project with the shared cache.
    pub fn builder(&self) -> clinalign::EngineBuilder {
        clinalign::Engine::builder()
            .principles_dir(self.principles())
            .plugins_dir(self.plugins())
            .plugin_target_dir(plugin_target_dir())
            .cache_dir(Some(cache_dir()))
    }

    /// Writes a manifest file under `principles/<dimension>/<name>.toml`.
    pub fn write_manifest(&self, dimension: &str, name: &str, body: &str) -> PathBuf {
        let path = self.principles().join(dimension).join(format!("{name}.toml"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, body).unwrap();
        path
    }
}

/// `clinalign serve --addr 127.0.0.1:0 ARGS`, up and listening; stopped when dropped.
pub struct Serving {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Serving {
    /// Starts the server and waits (up to 15 minutes: the first start may build the plugins)
    /// for its `listening on` line; the rest of its stdout is drained, its stderr inherited.
    pub fn start<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Serving {
        let mut child = clinalign()
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("clinalign serve starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            for _ in lines {}
        });
        let line = rx.recv_timeout(std::time::Duration::from_secs(900)).expect("the server prints its address");
        let base = line.strip_prefix("listening on ").expect("a `listening on` line").trim().to_string();
        Serving { child, base }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The hostile test components (`tests/hostile`), built once per test binary:
/// (hostile.wasm, wrong_world.wasm).
pub fn hostile_components() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let builder = PluginBuilder {
            workspace: repo().join("tests/hostile"),
            target_dir: repo().join("target/hostile-plugins"),
            cache_dir: Some(cache_dir()),
        };
        let paths: Vec<PathBuf> = builder
            .build(&["hostile".into(), "wrong-world".into()])
            .expect("cargo runs")
            .into_iter()
            .map(|p| p.expect("hostile components build"))
            .collect();
        (paths[0].clone(), paths[1].clone())
    })
}

/// One crate of the hostile test workspace (`tests/hostile`), built into its component.
fn hostile_crate(name: &str) -> PathBuf {
    let builder = PluginBuilder {
        workspace: repo().join("tests/hostile"),
        target_dir: repo().join("target/hostile-plugins"),
        cache_dir: Some(cache_dir()),
    };
    builder.build(&[name.into()]).expect("cargo runs").remove(0).unwrap_or_else(|e| panic!("{name} builds: {e:?}"))
}

/// A principle component built against a changed copy of the WIT package
/// (`clinalign:principle@0.9.0`, `tests/hostile/future-version`), built once per test binary.
pub fn future_version_component() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| hostile_crate("future-version"))
}

/// A principle component built against the first published interface,
/// `clinalign:principle@0.1.0` (`tests/hostile/legacy-v0-1-0`), built once per test binary.
pub fn legacy_component() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| hostile_crate("legacy-v0-1-0"))
}

/// A user message as a query with no labels.
pub fn query(id: &str, text: &str) -> clinalign::Query {
    clinalign::Query {
        id: id.into(),
        conversation: vec![clinalign::Message { role: "user".into(), content: text.into() }],
        scenario: vec![],
    }
}

/// One JSONL line for a user message.
pub fn row(id: &str, text: &str) -> String {
    serde_json::json!({"prompt_id": id, "prompt": [{"role": "user", "content": text}]}).to_string()
}

/// One HTTP request read off a loopback connection: its header lines (lower case) and body.
pub struct Request {
    pub headers: Vec<String>,
    pub body: Vec<u8>,
}

/// Serves a minimal OpenAI-compatible chat-completions endpoint on `listener`, one
/// connection at a time, until the listener fails: `answer(n, request)` gives the status line
/// (`"200 OK"`) and the JSON body of the `n`th request (counted from 0).
pub fn serve_http(listener: TcpListener, mut answer: impl FnMut(usize, &Request) -> (&'static str, String)) {
    for (n, stream) in listener.incoming().enumerate() {
        let Ok(mut stream) = stream else { break };
        let Some(request) = read_request(&stream) else { continue };
        let (status, payload) = answer(n, &request);
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            payload.len()
        );
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let (mut headers, mut length) = (Vec::new(), 0usize);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        let lower = line.trim_end().to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        headers.push(lower);
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { headers, body })
}

/// A chat-completions reply whose message is `content`.
pub fn chat_reply(content: &str) -> String {
    serde_json::json!({"choices": [{"message": {"role": "assistant", "content": content}}]}).to_string()
}

/// The user message of a chat-completions request (the grader prompt).
pub fn grader_prompt(request: &Request) -> String {
    let req: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    req["messages"][1]["content"].as_str().unwrap().to_string()
}

/// The tiny random-weight Qwen3 fixture as a log-prob judge, written into `dir`: its weights,
/// its config with room for judge-length prompts, and a character-level `tokenizer.json` in
/// which "yes" and "no" are one token each. Fast, and its verdicts mean nothing.
pub fn tiny_judge_model(dir: &Path) -> PathBuf {
    let src = repo().join("tests/fixtures/models/tiny-qwen3");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(src.join("model.safetensors"), dir.join("model.safetensors")).unwrap();
    let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(src.join("config.json")).unwrap()).unwrap();
    cfg["max_position_embeddings"] = serde_json::json!(8192);
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    let mut vocab = serde_json::Map::new();
    for word in ["[UNK]", "yes", "no", "\n"] {
        vocab.insert(word.into(), serde_json::json!(vocab.len()));
    }
    for c in ' '..='~' {
        vocab.insert(c.to_string(), serde_json::json!(vocab.len()));
    }
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
        "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "yes|no|[\\s\\S]"}, "behavior": "Isolated", "invert": false},
        "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"},
    });
    std::fs::write(dir.join("tokenizer.json"), serde_json::to_vec(&tokenizer).unwrap()).unwrap();
    dir.to_path_buf()
}
