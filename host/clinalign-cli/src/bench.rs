//! `clinalign bench …`: measurements, printed as JSON.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use clinalign::manifest::PluginRef;
use clinalign::rows::parse_row;
use clinalign::rubric_quality::{Candidate, CurationPolicy, curate};
use clinalign::synthesis::candidate;
use clinalign::{Manifest, Query};
use clinalign_sdk::lookup::Lookup;
use clinalign_sdk::template::Template;
use rayon::prelude::*;
use serde_json::json;

use crate::EngineArgs;
use crate::jsonl::{JsonlReader, write_json_atomic};

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Rubric synthesis: per-query latency (one thread), throughput (all threads), cold
    /// load from a warm cache, and the template principles as wasm vs the same code native.
    Synthesize {
        /// JSONL queries (HealthBench rows or {id, messages}).
        #[arg(long)]
        queries: PathBuf,
        #[command(flatten)]
        engine: EngineArgs,
        /// Timed passes over the queries (after one warm-up pass).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Engine builds timed for the cold-load figure.
        #[arg(long, default_value_t = 5)]
        loads: usize,
        /// Also write the JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The log-prob judge on HealthBench rows (ideal completions against their rubrics):
    /// prompt tokens/s and criteria/s with the shared prefix and one full prompt per
    /// criterion, GFLOP/s against this machine's gemm peak, and llama.cpp on the same
    /// prompts when llama-cpp-python is installed.
    Score(crate::bench_score::ScoreBenchArgs),
}

pub fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Synthesize { queries, engine, rounds, loads, out } => {
            let result = bench_synthesize(&queries, &engine, rounds.max(1), loads.max(1))?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            if let Some(path) = out {
                write_json_atomic(&path, &result)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Score(args) => {
            let result = crate::bench_score::run(args)?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn bench_synthesize(path: &PathBuf, args: &EngineArgs, rounds: usize, loads: usize) -> Result<serde_json::Value> {
    // First build: fills the caches (plugin builds, compiled components).
    let engine = args.builder().build().context("loading principles")?;
    drop(engine);

    // Cold load: a new engine (new wasmtime Engine, nothing in memory) from the disk cache.
    let mut load_ms = Vec::new();
    let mut engine = None;
    for _ in 0..loads {
        let t = Instant::now();
        let e = args.builder().build()?;
        load_ms.push(t.elapsed().as_secs_f64() * 1e3);
        engine = Some(e);
    }
    let engine = engine.expect("loads >= 1");
    let set = engine.principle_set();
    if !set.failures().is_empty() {
        bail!(
            "{} principle(s) failed to load; fix them before benchmarking (see `clinalign principles test`)",
            set.failures().len()
        );
    }

    let queries = read_queries(path, set.dimensions())?;
    if queries.is_empty() {
        bail!("{}: no queries", path.display());
    }

    // End to end, one thread: classify + pool + every principle + merge.
    let mut samples = Vec::with_capacity(queries.len() * rounds);
    let mut items = 0usize;
    for q in &queries {
        items += engine.synthesize(q)?.items.len();
    }
    for _ in 0..rounds {
        for q in &queries {
            let t = Instant::now();
            let r = engine.synthesize(q)?;
            samples.push(t.elapsed());
            std::hint::black_box(r);
        }
    }
    let (p50, p99, mean) = stats(&mut samples);

    // Classification alone.
    let mut classify = Vec::new();
    for q in &queries {
        let t = Instant::now();
        std::hint::black_box(engine.scenario(q)?);
        classify.push(t.elapsed());
    }
    let (classify_p50, _, _) = stats(&mut classify);

    // Throughput on every thread.
    let threads = rayon::current_num_threads();
    let total = queries.len() * rounds;
    let t = Instant::now();
    (0..total).into_par_iter().try_for_each(|i| engine.synthesize(&queries[i % queries.len()]).map(|_| ()))?;
    let qps = total as f64 / t.elapsed().as_secs_f64();

    let template = bench_template(args, &engine, &queries, rounds)?;

    Ok(json!({
        "queries": queries.len(),
        "principles": set.principles().len(),
        "principle_set": set.hash(),
        "rounds": rounds,
        "items_per_query": items as f64 / queries.len() as f64,
        "p50_us": p50,
        "p99_us": p99,
        "mean_us": mean,
        "classify_p50_us": classify_p50,
        "queries_per_s": qps.round(),
        "threads": threads,
        "cold_load_ms": round2(median(&mut load_ms)),
        "cold_load_runs_ms": load_ms,
        "pooling_allocator": engine.pooling(),
        "strict": args.strict,
        "template": template,
    }))
}

/// The template principles alone, as wasm (through the engine) and natively (the same
/// SDK code compiled into this binary), on the same labelled queries.
fn bench_template(
    args: &EngineArgs,
    engine: &clinalign::Engine,
    queries: &[Query],
    rounds: usize,
) -> Result<serde_json::Value> {
    let set = engine.principle_set();
    let manifests: Vec<Manifest> = set
        .principles()
        .iter()
        .filter(|p| p.manifest.plugin == PluginRef::Crate("template".into()))
        .map(|p| p.manifest.clone())
        .collect();
    if manifests.is_empty() {
        return Ok(json!(null));
    }
    let ids: Vec<String> = manifests.iter().map(|m| m.id.clone()).collect();
    let wasm = args.builder().only(ids).build()?;
    let wasm_set = wasm.principle_set();
    let native: Vec<(Manifest, Template)> = manifests
        .into_iter()
        .map(|m| {
            let t = Template::from_json(&m.config.to_string()).map_err(|e| anyhow::anyhow!("{}: {e}", m.id))?;
            Ok((m, t))
        })
        .collect::<Result<_>>()?;
    let labelled: Vec<Query> =
        queries.iter().map(|q| Ok(Query { scenario: engine.scenario(q)?, ..q.clone() })).collect::<Result<_>>()?;

    let mut wasm_samples = Vec::new();
    let mut native_samples = Vec::new();
    let mut wasm_items = 0usize;
    let mut native_items = 0usize;
    for round in 0..=rounds {
        for q in &labelled {
            let t = Instant::now();
            let r = wasm_set.synthesize(q, engine.curation());
            let dt = t.elapsed();
            let t = Instant::now();
            let n = native_synthesize(&native, q, engine.curation());
            let dn = t.elapsed();
            if round == 0 {
                wasm_items += r.items.len();
                native_items += n;
            } else {
                wasm_samples.push(dt);
                native_samples.push(dn);
            }
        }
    }
    if wasm_items != native_items {
        bail!("template principles emitted {wasm_items} items as wasm but {native_items} natively");
    }
    let (w50, _, _) = stats(&mut wasm_samples);
    let (n50, _, _) = stats(&mut native_samples);
    // Where the native time goes: evaluating the principles vs curating their items.
    let mut eval_samples = Vec::new();
    let mut curate_samples = Vec::new();
    for q in &labelled {
        let t = Instant::now();
        let c = native_candidates(&native, q);
        eval_samples.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(curate(c, engine.curation()));
        curate_samples.push(t.elapsed());
    }
    let (e50, _, _) = stats(&mut eval_samples);
    let (c50, _, _) = stats(&mut curate_samples);
    // One principle call, sandboxed vs native, for every (query, template principle in the
    // pool) pair, gates ignored: the cost of the sandbox itself.
    let mut wasm_calls = Vec::new();
    let mut native_calls = Vec::new();
    for q in &labelled {
        for (m, t) in native.iter().filter(|(m, _)| m.applies_to(&q.scenario)) {
            let p = wasm_set.get(&m.id).expect("loaded");
            let tw = Instant::now();
            let w = p.emit(q);
            wasm_calls.push(tw.elapsed());
            let tn = Instant::now();
            let n = t.evaluate(q);
            native_calls.push(tn.elapsed());
            if w.as_ref().map(|v| v.len()).ok() != n.as_ref().map(|v| v.len()).ok() {
                bail!("{} disagrees with its native twin on {}", m.id, q.id);
            }
        }
    }
    let (wc50, _, _) = stats(&mut wasm_calls);
    let (nc50, _, _) = stats(&mut native_calls);
    Ok(json!({
        "principles": native.len(),
        "items": wasm_items,
        "wasm_p50_us": w50,
        "native_p50_us": n50,
        "wasm_native_ratio": round2(w50 / n50.max(1e-3)),
        "native_evaluate_p50_us": e50,
        "curate_p50_us": c50,
        "per_call": {
            "calls": wasm_calls.len(),
            "wasm_p50_us": wc50,
            "native_p50_us": nc50,
            "wasm_native_ratio": round2(wc50 / nc50.max(1e-3)),
        },
    }))
}

/// What the engine does for template principles, natively: pool, gate, evaluate, tag, curate.
fn native_synthesize(principles: &[(Manifest, Template)], q: &Query, policy: &CurationPolicy) -> usize {
    let candidates = native_candidates(principles, q);
    let (items, _) = curate(candidates, policy);
    std::hint::black_box(&items);
    items.len()
}

/// The template principles' items for `q`, natively, before curation.
fn native_candidates(principles: &[(Manifest, Template)], q: &Query) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    let user = Lookup::new(&q.user_text());
    let gated = |m: &Manifest| m.gate_terms().is_none_or(|terms| terms.iter().any(|t| user.contains(t)));
    for (m, t) in principles.iter().filter(|(m, _)| m.applies_to(&q.scenario) && gated(m)) {
        if let Ok(items) = t.evaluate(q) {
            candidates.extend(items.into_iter().map(|item| candidate(m, item, q)));
        }
    }
    candidates
}

fn read_queries(path: &PathBuf, dims: &clinalign::Dimensions) -> Result<Vec<Query>> {
    let mut reader = JsonlReader::open(path)?;
    let mut out = Vec::new();
    loop {
        let batch = reader.next_batch(1024)?;
        if batch.is_empty() {
            break;
        }
        for line in batch {
            let row = parse_row(&line.text, &format!("line-{}", line.number), dims)
                .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), line.number))?;
            out.push(row.query);
        }
    }
    Ok(out)
}

/// (p50, p99, mean) in microseconds.
fn stats(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort();
    let us = |d: Duration| (d.as_secs_f64() * 1e7).round() / 10.0;
    let pick = |q: f64| us(samples[((samples.len() - 1) as f64 * q).round() as usize]);
    let mean = samples.iter().map(|d| d.as_secs_f64()).sum::<f64>() / samples.len() as f64;
    (pick(0.5), pick(0.99), (mean * 1e7).round() / 10.0)
}

/// The middle value (the upper one of an even count); `v` must not be empty.
pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Rounded to two decimals, for printing.
pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
