//! Judges by spec, for `grade` and `serve`: `local:smollm2` / `local:PATH` (the log-prob judge
//! on a local model), `openai:URL` (any OpenAI-compatible chat server, HealthBench grader
//! prompts) and `openai-logprobs:URL` (the log-prob judge's prompt, p_met from a server's
//! top log-probs).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use clinalign::Judge;
use clinalign_infer::local::{LocalModel, Precision};

/// How a judge runs; shared by the commands that take `--judge`.
#[derive(Args, Debug, Clone)]
pub struct JudgeOptions {
    /// Model name sent to an OpenAI-compatible server.
    #[arg(long, default_value = "gpt-4.1")]
    pub judge_model: String,
    /// Requests in flight at once (OpenAI-compatible judges).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Retries of one item on transport errors, HTTP 408, 429 and 5xx, or unusable answers.
    #[arg(long, default_value_t = 5)]
    pub max_retries: u32,
    /// First retry delay; doubles each retry (capped at 30 s).
    #[arg(long, default_value_t = 500)]
    pub retry_delay_ms: u64,
    /// Local model weights: `f32` (reference numerics, shared-prefix scores equal
    /// full-prompt ones) or `native` (4-bit layers with 8-bit activations, as llama.cpp).
    #[arg(long, default_value = "f32")]
    pub precision: Precision,
}

/// A judge and whether it runs here (a local judge parallelises inside the model; a remote
/// one wants requests in flight).
pub struct BuiltJudge {
    pub judge: Arc<dyn Judge>,
    pub local: bool,
}

/// Opens a local model by `local:` spec (a path, or a known name fetched on first use).
pub fn open_model(spec: &str, precision: Precision) -> Result<Arc<LocalModel>> {
    let Some(name) = spec.strip_prefix("local:") else {
        bail!("--model {spec:?}: use local:smollm2 or local:PATH (a GGUF file or a Hugging Face model folder)")
    };
    let path = crate::models::resolve_local(name)?;
    open_path(&path, precision)
}

fn open_path(path: &Path, precision: Precision) -> Result<Arc<LocalModel>> {
    let lm = LocalModel::open_with(path, precision).with_context(|| format!("loading model {}", path.display()))?;
    Ok(Arc::new(lm))
}

/// Builds the judge of `spec`; a local judge on the model already open as `shared` (same
/// file) uses it instead of loading the weights again.
pub fn build(spec: &str, opts: &JudgeOptions, shared: Option<&Arc<LocalModel>>) -> Result<BuiltJudge> {
    if let Some(name) = spec.strip_prefix("local:") {
        let path = crate::models::resolve_local(name)?;
        let lm = match shared {
            Some(m) if same_file(m.path(), &path) => m.clone(),
            _ => open_path(&path, opts.precision)?,
        };
        Ok(BuiltJudge { judge: Arc::new(clinalign_infer::judge::LogprobJudge::new(lm)?), local: true })
    } else if let Some(url) = spec.strip_prefix("openai-logprobs:") {
        let judge = crate::openai_logprobs::OpenAiLogprobJudge::new(
            url,
            &opts.judge_model,
            std::env::var("OPENAI_API_KEY").ok(),
            opts.max_retries,
            Duration::from_millis(opts.retry_delay_ms),
            opts.concurrency,
        )?;
        Ok(BuiltJudge { judge: Arc::new(judge), local: false })
    } else if let Some(url) = spec.strip_prefix("openai:") {
        let judge = crate::openai::OpenAiJudge::new(
            url,
            &opts.judge_model,
            std::env::var("OPENAI_API_KEY").ok(),
            opts.max_retries,
            Duration::from_millis(opts.retry_delay_ms),
        );
        Ok(BuiltJudge { judge: Arc::new(judge), local: false })
    } else {
        bail!("--judge {spec:?}: use local:smollm2, local:PATH, openai:URL or openai-logprobs:URL")
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
