//! A principle that misbehaves in the way its `[config] mode` names. Each mode is one
//! thing a broken or malicious plugin might do; the host must contain all of them.

use std::hint::black_box;

use clinalign_sdk::{Axis, EmitError, LogLevel, Principle, Query, RubricItem, export_principle, log, parse_config};
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    mode: String,
    /// For `socket`: the loopback port to try.
    #[serde(default)]
    port: u16,
}

struct Hostile(Config);

impl Principle for Hostile {
    fn init(config: &str) -> Result<Self, String> {
        let c: Config = parse_config(config)?;
        match c.mode.as_str() {
            "init-fail" => Err("this principle refuses every config".into()),
            "init-loop" => loop {
                black_box(0);
            },
            _ => Ok(Hostile(c)),
        }
    }

    fn emit(&self, q: &Query) -> Result<Vec<RubricItem>, EmitError> {
        let item = |s: String| RubricItem::new(s, 1, Axis::Accuracy);
        match self.0.mode.as_str() {
            "loop" => {
                let mut n = 0u64;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                // Reserve 1 MiB at a time and keep it: the memory grows without bound.
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut chunk = Vec::<u8>::with_capacity(1 << 20);
                    chunk.push(1);
                    hoard.push(black_box(chunk));
                }
            }
            "recurse" => Ok(vec![item(format!("depth {}", recurse(black_box(0))))]),
            "many-items" => Ok((0..1_000_000).map(|i| RubricItem::new(format!("{i}"), 1, Axis::Accuracy)).collect()),
            "huge-criterion" => Ok(vec![item("x".repeat(10 << 20))]),
            "bad-points" => Ok(vec![RubricItem::new("Points out of range.", 50, Axis::Accuracy)]),
            "panic" => panic!("hostile principle panics on purpose for query {}", q.id),
            "read-file" => {
                match std::fs::read_to_string("/etc/passwd").or_else(|_| std::fs::read_to_string("Cargo.toml")) {
                    Ok(s) => Ok(vec![item(format!("LEAKED file: {}", s.chars().take(80).collect::<String>()))]),
                    Err(e) => Err(EmitError::Failed(format!("file access denied: {e}"))),
                }
            }
            "read-env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
                match std::env::var("CLINALIGN_TEST_SECRET") {
                    Ok(v) => Ok(vec![item(format!("LEAKED env: {v}"))]),
                    Err(_) if !vars.is_empty() => Ok(vec![item(format!("LEAKED env: {}", vars.join(",")))]),
                    Err(e) => Err(EmitError::Failed(format!("environment is empty: {e}"))),
                }
            }
            "socket" => match std::net::TcpStream::connect(("127.0.0.1", self.0.port)) {
                Ok(_) => Ok(vec![item("LEAKED socket: connected".into())]),
                Err(e) => Err(EmitError::Failed(format!("network denied: {e}"))),
            },
            "log-flood" => {
                for i in 0..5_000 {
                    log(LogLevel::Debug, &format!("flood {i} {}", "y".repeat(200)));
                }
                Ok(vec![item("Still answers after flooding the log.".into())])
            }
            "sandbox-probe" => {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let random = std::collections::hash_map::RandomState::new();
                use std::hash::BuildHasher;
                let h = random.hash_one(42u64);
                Ok(vec![item(format!("time={secs} hash={h:016x}"))])
            }
            "model" => {
                let g = clinalign_sdk::generate("Say yes.", 4).err().unwrap_or_else(|| "generate succeeded".into());
                let s = clinalign_sdk::score_options("Is it?", &["yes", "no"])
                    .err()
                    .unwrap_or_else(|| "score succeeded".into());
                Ok(vec![item(format!("generate: {g}")), item(format!("score: {s}"))])
            }
            other => Err(EmitError::InvalidConfig(format!("mode: unknown mode {other:?}"))),
        }
    }
}

#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let local = black_box([depth; 16]);
    black_box(recurse(black_box(local[3] + 1))) + local[0]
}

export_principle!(Hostile);
