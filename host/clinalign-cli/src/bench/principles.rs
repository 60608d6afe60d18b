//! `clinalign bench principles`: principles written in Python against the Rust template
//! principles, in one run: the cold build of each Python module (componentize-py, no
//! cache), the engine's load from a warm cache, one `emit` call on each fixture, and how
//! often the pool and the gate let the Python principles be called on real queries.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clinalign::manifest::PluginRef;
use clinalign::python_build::PythonBuilder;
use clinalign::{Engine, PrincipleSet, Query};
use serde_json::json;

use super::stats::{latency, median, round2};
use crate::EngineArgs;
use crate::queries::read_rows;

/// What `bench principles` is given.
#[derive(clap::Args, Debug)]
pub struct PrinciplesBenchArgs {
    /// The principles written in Python.
    #[arg(long, default_value = "examples/python-principles")]
    pub python: PathBuf,
    /// JSONL queries (HealthBench rows or {id, messages}), for how often the Python
    /// principles are called.
    #[arg(long)]
    pub queries: PathBuf,
    /// The Rust side: `--principles` (default `principles/`); its template principles are timed.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Cold builds of each Python module (each takes seconds).
    #[arg(long, default_value_t = 1)]
    pub builds: usize,
    /// Engine builds timed for each load figure.
    #[arg(long, default_value_t = 5)]
    pub loads: usize,
    /// Timed passes over the fixtures (after one warm-up pass).
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
    /// Also write the JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: &PrinciplesBenchArgs) -> Result<serde_json::Value> {
    let cache = args.engine.cache_dir.clone().unwrap_or_else(clinalign::default_cache_dir);
    let python_builder = || args.engine.builder().map(|b| b.principles_dir(&args.python));

    // First loads fill the caches (and install componentize-py if it is missing).
    let python = python_builder()?.build().context("loading the Python principles")?;
    let rust = args.engine.builder()?.build().context("loading the Rust principles")?;
    for (name, engine) in [("Python", &python), ("Rust", &rust)] {
        let failed = engine.principle_set().failures().len();
        if failed > 0 {
            bail!("{failed} {name} principle(s) failed to load; see `clinalign principles test`");
        }
    }
    let modules: Vec<PathBuf> = python
        .principle_set()
        .principles()
        .iter()
        .filter_map(|p| match &p.manifest.plugin {
            PluginRef::Python(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    if modules.is_empty() {
        bail!("{}: no principle with plugin = \"python:…\"", args.python.display());
    }

    let cold = cold_builds(&modules, &cache, args.builds.max(1))?;
    let python_load = loads(args.loads.max(1), &python_builder)?;
    let rust_load = loads(args.loads.max(1), &|| args.engine.builder())?;

    let python_set = python.principle_set();
    let rust_set = rust.principle_set();
    let is_python = |p: &&clinalign::principle_set::LoadedPrinciple| matches!(p.manifest.plugin, PluginRef::Python(_));
    let python_calls = per_call(&python_set, &is_python, args.rounds)?;
    let rust_calls = per_call(&rust_set, &|p| p.manifest.is_template(), args.rounds)?;
    let ratio = python_calls.p50_us / rust_calls.p50_us.max(1e-3);

    let queries = read_rows(&args.queries, python_set.dimensions())?;
    if queries.is_empty() {
        bail!("{}: no queries", args.queries.display());
    }
    let reach = reach(&python, &queries)?;
    let calls_per_query = reach.calls as f64 / queries.len() as f64;

    Ok(json!({
        "python_principles": python_set.principles().iter().filter(is_python).count(),
        "rust_template_principles": rust_set.principles().iter().filter(|p| p.manifest.is_template()).count(),
        "cold_build": cold,
        "load_ms": {
            "python_set_median": round2(median(&mut python_load.clone())),
            "python_set_runs": python_load,
            "rust_set_median": round2(median(&mut rust_load.clone())),
            "rust_set_runs": rust_load,
            "rust_set_principles": rust_set.principles().len(),
        },
        "per_call": {
            "python": python_calls.json(),
            "rust_template": rust_calls.json(),
            "python_rust_ratio": round2(ratio),
        },
        "gate": {
            "queries": queries.len(),
            "queries_calling_a_python_principle": reach.queries,
            "python_calls": reach.calls,
            "python_calls_per_query": round2(calls_per_query),
            "python_us_per_query": round2(calls_per_query * python_calls.p50_us),
            "by_principle": reach.by_principle,
        },
    }))
}

/// componentize-py on each module with no cache (componentize-py itself from `cache`):
/// seconds per module, and the component's size.
fn cold_builds(modules: &[PathBuf], cache: &Path, builds: usize) -> Result<serde_json::Value> {
    let mut out = Vec::new();
    for module in modules {
        let mut seconds = Vec::new();
        let mut bytes = 0;
        for _ in 0..builds {
            let mut builder = PythonBuilder::new(None);
            builder.tool_cache_dir = Some(cache.to_path_buf());
            let t = Instant::now();
            let built = builder.build_one(module)?;
            seconds.push(t.elapsed().as_secs_f64());
            bytes = built.len();
        }
        out.push(json!({
            "module": module.file_name().map(|f| f.to_string_lossy().into_owned()),
            "componentize_s_median": round2(median(&mut seconds.clone())),
            "componentize_s_runs": seconds.iter().map(|s| round2(*s)).collect::<Vec<_>>(),
            "component_mib": round2(bytes as f64 / (1 << 20) as f64),
        }));
    }
    Ok(json!(out))
}

/// Engine builds from the warm cache (a new wasmtime engine each time), in ms.
fn loads(n: usize, builder: &dyn Fn() -> Result<clinalign::EngineBuilder>) -> Result<Vec<f64>> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let engine = builder()?.build()?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            drop(engine);
            Ok(round2(ms))
        })
        .collect()
}

/// One warm `emit` per fixture of the chosen principles.
struct PerCall {
    calls: usize,
    p50_us: f64,
    p99_us: f64,
    /// The slowest principle's p50.
    slowest: (String, f64),
}

impl PerCall {
    fn json(&self) -> serde_json::Value {
        json!({
            "calls_per_round": self.calls,
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
            "slowest_principle": self.slowest.0,
            "slowest_p50_us": self.slowest.1,
        })
    }
}

/// Times `emit` on each fixture of the principles `chosen` picks (the fixture's own
/// labels; no pool or gate), one warm-up pass first.
fn per_call(
    set: &PrincipleSet,
    chosen: &dyn Fn(&&clinalign::principle_set::LoadedPrinciple) -> bool,
    rounds: usize,
) -> Result<PerCall> {
    let mut all: Vec<Duration> = Vec::new();
    let mut slowest = (String::new(), 0.0);
    let mut calls = 0;
    for p in set.principles().iter().filter(chosen) {
        let queries: Vec<Query> = p
            .manifest
            .fixtures
            .iter()
            .map(|f| Query { id: f.name.clone(), conversation: f.conversation.clone(), scenario: f.scenario.clone() })
            .collect();
        let mut own = Vec::new();
        for round in 0..=rounds {
            for q in &queries {
                let t = Instant::now();
                let r = p.emit(q);
                let dt = t.elapsed();
                if let Err(e) = r {
                    bail!("{} failed on fixture {} ({e})", p.manifest.id, q.id);
                }
                if round > 0 {
                    own.push(dt);
                }
            }
        }
        calls += queries.len();
        let (p50, _, _) = latency(&mut own.clone());
        if p50 > slowest.1 {
            slowest = (p.manifest.id.clone(), p50);
        }
        all.extend(own);
    }
    if all.is_empty() {
        bail!("no fixtures to time");
    }
    let (p50_us, p99_us, _) = latency(&mut all);
    Ok(PerCall { calls, p50_us, p99_us, slowest })
}

/// How often the Python principles are called (in the pool and past the gate).
struct Reach {
    queries: usize,
    calls: usize,
    by_principle: serde_json::Value,
}

fn reach(engine: &Engine, queries: &[Query]) -> Result<Reach> {
    let set = engine.principle_set();
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let (mut reached, mut calls) = (0, 0);
    for q in queries {
        let labelled = Query { scenario: engine.scenario(q)?, ..q.clone() };
        let called: Vec<&str> = set
            .called(&labelled)
            .filter(|p| matches!(p.manifest.plugin, PluginRef::Python(_)))
            .map(|p| p.manifest.id.as_str())
            .collect();
        reached += usize::from(!called.is_empty());
        calls += called.len();
        for id in called {
            *counts.entry(id.to_string()).or_default() += 1;
        }
    }
    Ok(Reach { queries: reached, calls, by_principle: json!(counts) })
}
