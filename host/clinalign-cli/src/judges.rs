//! Judges by spec, for `grade`, `revise` and `serve`: `local:smollm2` / `local:PATH` (the
//! log-prob judge on a local model), `openai:URL` (any OpenAI-compatible chat server,
//! HealthBench grader prompts) and `openai-logprobs:URL` (the log-prob judge's prompt, p_met
//! from a server's top log-probs). The judges live in [`clinalign_infer::spec`]; this is the
//! command line's side: the options, and `local:` names resolved with download progress.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use clinalign_infer::local::{LocalModel, Precision};
use clinalign_infer::spec::{self, JudgeSettings};

pub use clinalign_infer::spec::BuiltJudge;

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

impl JudgeOptions {
    fn settings(&self) -> JudgeSettings {
        JudgeSettings {
            judge_model: self.judge_model.clone(),
            concurrency: self.concurrency,
            max_retries: self.max_retries,
            retry_delay: Duration::from_millis(self.retry_delay_ms),
            precision: self.precision,
            api_key: std::env::var("OPENAI_API_KEY").ok(),
        }
    }
}

/// Builds the judge of `spec`; a local judge on the model already open as `shared` (same
/// file) uses it instead of loading the weights again.
pub fn build(spec: &str, opts: &JudgeOptions, shared: Option<&Arc<LocalModel>>) -> Result<BuiltJudge> {
    spec::judge(spec, &opts.settings(), shared, &crate::models::resolve_local, "--judge")
}
