//! `clinalign bench synthesize`: per-query latency (one thread), throughput (all threads),
//! cold load from a warm cache, and the template principles as wasm vs the same code native.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clinalign::curation::{Candidate, CurationPolicy, candidate, curate};
use clinalign::gate::Gate;
use clinalign::{Manifest, PrincipleSet, Query};
use clinalign_core::template::Template;
use rayon::prelude::*;
use serde_json::json;

use super::stats::{latency, median, round2};
use crate::EngineArgs;
use crate::queries::read_rows;

pub fn run(path: &Path, args: &EngineArgs, rounds: usize, loads: usize) -> Result<serde_json::Value> {
    // First build: fills the caches (plugin builds, compiled components).
    let engine = args.builder()?.build().context("loading principles")?;
    drop(engine);

    // Cold load: a new engine (new wasmtime Engine, nothing in memory) from the disk cache.
    let mut load_ms = Vec::new();
    let mut engine = None;
    for _ in 0..loads {
        let t = Instant::now();
        let e = args.builder()?.build()?;
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

    let queries = read_rows(path, set.dimensions())?;
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
    let (p50, p99, mean) = latency(&mut samples);

    // Classification alone.
    let mut classify = Vec::new();
    for q in &queries {
        let t = Instant::now();
        std::hint::black_box(engine.scenario(q)?);
        classify.push(t.elapsed());
    }
    let (classify_p50, _, _) = latency(&mut classify);

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
    let manifests: Vec<Manifest> =
        set.principles().iter().filter(|p| p.manifest.is_template()).map(|p| p.manifest.clone()).collect();
    if manifests.is_empty() {
        return Ok(json!(null));
    }
    let ids: Vec<String> = manifests.iter().map(|m| m.id.clone()).collect();
    let wasm = args.builder()?.only(ids).build()?;
    let native = Native::new(manifests)?;
    let labelled: Vec<Query> =
        queries.iter().map(|q| Ok(Query { scenario: engine.scenario(q)?, ..q.clone() })).collect::<Result<_>>()?;
    let policy = engine.curation();

    let (items, w50, n50) = whole_template_path(&wasm.principle_set(), &native, &labelled, policy, rounds)?;
    let (e50, c50) = native_breakdown(&native, &labelled, policy);
    let (calls, wc50, nc50) = one_call_each(&wasm.principle_set(), &native, &labelled)?;
    Ok(json!({
        "principles": native.principles.len(),
        "items": items,
        "wasm_p50_us": w50,
        "native_p50_us": n50,
        "wasm_native_ratio": round2(w50 / n50.max(1e-3)),
        "native_evaluate_p50_us": e50,
        "curate_p50_us": c50,
        "per_call": {
            "calls": calls,
            "wasm_p50_us": wc50,
            "native_p50_us": nc50,
            "wasm_native_ratio": round2(wc50 / nc50.max(1e-3)),
        },
    }))
}

/// The whole template path per query (pool, gate, calls, curation), wasm and native in
/// turn: (items, wasm p50 µs, native p50 µs). Both must write the same number of items.
fn whole_template_path(
    wasm: &PrincipleSet,
    native: &Native,
    labelled: &[Query],
    policy: &CurationPolicy,
    rounds: usize,
) -> Result<(usize, f64, f64)> {
    let mut wasm_samples = Vec::new();
    let mut native_samples = Vec::new();
    let (mut wasm_items, mut native_items) = (0usize, 0usize);
    for round in 0..=rounds {
        for q in labelled {
            let t = Instant::now();
            let r = wasm.synthesize(q, policy);
            let dt = t.elapsed();
            let t = Instant::now();
            let n = native_synthesize(native, q, policy);
            let dn = t.elapsed();
            if round > 0 {
                wasm_samples.push(dt);
                native_samples.push(dn);
                continue;
            }
            if let Some(failed) = r.failures().next() {
                let e = failed.error.as_ref().expect("a failed call has an error");
                bail!(
                    "principle {} failed on query {} ({e}); the wasm/native comparison needs every call to succeed (a busy machine can push calls past --plugin-timeout-ms)",
                    failed.principle,
                    q.id
                );
            }
            wasm_items += r.items.len();
            native_items += n;
        }
    }
    if wasm_items != native_items {
        bail!("template principles emitted {wasm_items} items as wasm but {native_items} natively");
    }
    Ok((wasm_items, latency(&mut wasm_samples).0, latency(&mut native_samples).0))
}

/// Where the native time goes: (evaluating the principles, curating their items), p50 µs.
fn native_breakdown(native: &Native, labelled: &[Query], policy: &CurationPolicy) -> (f64, f64) {
    let mut eval_samples = Vec::new();
    let mut curate_samples = Vec::new();
    for q in labelled {
        let t = Instant::now();
        let c = native_candidates(native, q);
        eval_samples.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(curate(c, policy));
        curate_samples.push(t.elapsed());
    }
    (latency(&mut eval_samples).0, latency(&mut curate_samples).0)
}

/// One principle call, sandboxed vs native, for every (query, template principle in the
/// pool) pair, gates ignored: the cost of the sandbox itself. (calls, wasm p50, native p50).
fn one_call_each(wasm: &PrincipleSet, native: &Native, labelled: &[Query]) -> Result<(usize, f64, f64)> {
    let mut wasm_calls = Vec::new();
    let mut native_calls = Vec::new();
    for q in labelled {
        for (m, t) in native.principles.iter().filter(|(m, _)| m.applies_to(&q.scenario)) {
            let p = wasm.get(&m.id).expect("loaded");
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
    Ok((wasm_calls.len(), latency(&mut wasm_calls).0, latency(&mut native_calls).0))
}

/// The template principles compiled into this binary, with their gate.
struct Native {
    principles: Vec<(Manifest, Template)>,
    gate: Gate,
}

impl Native {
    /// Each manifest's template, built from its config as the guest's `init` builds it.
    fn new(manifests: Vec<Manifest>) -> Result<Native> {
        let principles: Vec<(Manifest, Template)> = manifests
            .into_iter()
            .map(|m| {
                let t = Template::from_json(&m.config.to_string()).map_err(|e| anyhow::anyhow!("{}: {e}", m.id))?;
                Ok((m, t))
            })
            .collect::<Result<_>>()?;
        let gate = Gate::new(principles.iter().map(|(m, _)| m));
        Ok(Native { principles, gate })
    }
}

/// What the engine does for template principles, natively: pool, gate, evaluate, tag, curate.
fn native_synthesize(native: &Native, q: &Query, policy: &CurationPolicy) -> usize {
    let candidates = native_candidates(native, q);
    let (items, _) = curate(candidates, policy);
    std::hint::black_box(&items);
    items.len()
}

/// The template principles' items for `q`, natively, before curation.
fn native_candidates(native: &Native, q: &Query) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for i in native.gate.called(native.principles.iter().map(|(m, _)| m), q) {
        let (m, t) = &native.principles[i];
        if let Ok(items) = t.evaluate(q) {
            candidates.extend(items.into_iter().map(|item| candidate(m, item, q)));
        }
    }
    candidates
}
