//! Judges and language models named by a spec string, as `--judge` and `--model` of the CLI
//! and `judge=` and `model=` of the Python package take them:
//!
//! - `local:NAME` or `local:PATH`: a model run here (a known name such as `smollm2` is fetched
//!   and cached on first use; a path is a GGUF file or a Hugging Face model folder); as a judge,
//!   the log-prob judge over it;
//! - `openai:URL[#MODEL]`: any OpenAI-compatible server (as a judge, HealthBench's grader
//!   prompt and JSON verdict; as the engine's model, chat completions and log-probs);
//! - `openai-logprobs:URL`: the log-prob judge's prompt on a server that returns log-probs.
//!
//! Where a local name becomes a file is the caller's (the CLI shows download progress, the
//! Python package logs a line), so the functions take a resolver.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clinalign_core::{Judge, LanguageModel};

use crate::judge::LogprobJudge;
use crate::local::{LocalModel, Precision};
use crate::remote::{OpenAiJudge, OpenAiLogprobJudge, OpenAiModel};

/// Turns the `NAME` or `PATH` of a `local:` spec into the model's file or folder.
pub type Resolve<'a> = &'a dyn Fn(&str) -> Result<PathBuf>;

/// Retries of one request to a remote language model, and the first wait between them.
const MODEL_RETRIES: u32 = 3;
const MODEL_FIRST_DELAY: Duration = Duration::from_millis(500);

/// How a judge runs.
#[derive(Debug, Clone)]
pub struct JudgeSettings {
    /// Model name sent to an OpenAI-compatible server.
    pub judge_model: String,
    /// Requests in flight at once (`openai-logprobs:` judges).
    pub concurrency: usize,
    /// Retries of one item on transport errors, HTTP 408, 429 and 5xx, or unusable answers.
    pub max_retries: u32,
    /// First retry delay; doubles each retry (capped at 30 s).
    pub retry_delay: Duration,
    /// Local model weights.
    pub precision: Precision,
    /// Bearer token for remote servers (`$OPENAI_API_KEY` by default).
    pub api_key: Option<String>,
}

impl Default for JudgeSettings {
    fn default() -> Self {
        JudgeSettings {
            judge_model: "gpt-4.1".into(),
            concurrency: 8,
            max_retries: 5,
            retry_delay: Duration::from_millis(500),
            precision: Precision::F32,
            api_key: std::env::var("OPENAI_API_KEY").ok(),
        }
    }
}

/// A judge and whether it runs here (a local judge parallelises inside the model; a remote
/// one wants requests in flight).
pub struct BuiltJudge {
    pub judge: Arc<dyn Judge>,
    pub local: bool,
}

/// The engine's language model, and the local model when it is one (which a server also
/// answers OpenAI requests with, and a local judge on the same file shares).
pub struct OpenedModel {
    pub model: Arc<dyn LanguageModel>,
    pub local: Option<Arc<LocalModel>>,
}

/// Opens a local model by `local:` spec; `flag` names the option in errors (`--model`).
pub fn open_local(spec: &str, precision: Precision, resolve: Resolve, flag: &str) -> Result<Arc<LocalModel>> {
    let Some(name) = spec.strip_prefix("local:") else {
        bail!("{flag} {spec:?}: use local:smollm2 or local:PATH (a GGUF file or a Hugging Face model folder)")
    };
    open_path(&resolve(name)?, precision)
}

fn open_path(path: &Path, precision: Precision) -> Result<Arc<LocalModel>> {
    let lm = LocalModel::open_with(path, precision).with_context(|| format!("loading model {}", path.display()))?;
    Ok(Arc::new(lm))
}

/// Builds the judge of `spec`; a local judge on the model already open as `shared` (same
/// file) uses it instead of loading the weights again. `flag` names the option in errors.
pub fn judge(
    spec: &str,
    settings: &JudgeSettings,
    shared: Option<&Arc<LocalModel>>,
    resolve: Resolve,
    flag: &str,
) -> Result<BuiltJudge> {
    if let Some(name) = spec.strip_prefix("local:") {
        let path = resolve(name)?;
        let lm = match shared {
            Some(m) if same_file(m.path(), &path) => m.clone(),
            _ => open_path(&path, settings.precision)?,
        };
        Ok(BuiltJudge { judge: Arc::new(LogprobJudge::new(lm)?), local: true })
    } else if let Some(url) = spec.strip_prefix("openai-logprobs:") {
        let judge = OpenAiLogprobJudge::new(
            url,
            &settings.judge_model,
            settings.api_key.clone(),
            settings.max_retries,
            settings.retry_delay,
            settings.concurrency,
        )?;
        Ok(BuiltJudge { judge: Arc::new(judge), local: false })
    } else if let Some(url) = spec.strip_prefix("openai:") {
        let judge = OpenAiJudge::new(
            url,
            &settings.judge_model,
            settings.api_key.clone(),
            settings.max_retries,
            settings.retry_delay,
        );
        Ok(BuiltJudge { judge: Arc::new(judge), local: false })
    } else {
        bail!("{flag} {spec:?}: use local:smollm2, local:PATH, openai:URL or openai-logprobs:URL")
    }
}

/// Opens the engine's language model `spec` names; `flag` names the option in errors.
pub fn model(spec: &str, precision: Precision, resolve: Resolve, flag: &str) -> Result<OpenedModel> {
    if spec.starts_with("local:") {
        let lm = open_local(spec, precision, resolve, flag)?;
        Ok(OpenedModel { model: lm.clone(), local: Some(lm) })
    } else if let Some(rest) = spec.strip_prefix("openai:") {
        let (url, model) = rest.split_once('#').unwrap_or((rest, "default"));
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("{flag} {spec:?}: the server's URL must start with http:// or https://");
        }
        let remote =
            OpenAiModel::new(url, model, std::env::var("OPENAI_API_KEY").ok(), MODEL_RETRIES, MODEL_FIRST_DELAY);
        Ok(OpenedModel { model: Arc::new(remote), local: None })
    } else {
        bail!("{flag} {spec:?}: use local:smollm2, local:PATH or openai:URL[#MODEL]")
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nowhere(name: &str) -> Result<PathBuf> {
        bail!("local:{name}: not here")
    }

    #[test]
    fn specs_name_a_model_or_say_what_is_wrong() {
        let remote = model("openai:http://127.0.0.1:9/v1#qwen3", Precision::F32, &nowhere, "--model").unwrap();
        assert_eq!(remote.model.name(), "openai:qwen3");
        assert!(remote.local.is_none());
        let plain = model("openai:http://127.0.0.1:9", Precision::F32, &nowhere, "--model").unwrap();
        assert_eq!(plain.model.name(), "openai:default");
        let e = model("openai:localhost:9", Precision::F32, &nowhere, "--model").err().unwrap().to_string();
        assert!(e.contains("http://"), "{e}");
        let e = model("gpt", Precision::F32, &nowhere, "model=").err().unwrap().to_string();
        assert!(e.starts_with("model= \"gpt\"") && e.contains("local:smollm2, local:PATH or openai:URL"), "{e}");
        let e = model("local:x", Precision::F32, &nowhere, "--model").err().unwrap().to_string();
        assert_eq!(e, "local:x: not here");
    }

    #[test]
    fn judges_by_spec() {
        let s = JudgeSettings { judge_model: "m".into(), ..JudgeSettings::default() };
        let j = judge("openai:http://h:1/v1", &s, None, &nowhere, "--judge").unwrap();
        assert!(!j.local);
        let j = judge("openai-logprobs:http://h:1/v1", &s, None, &nowhere, "--judge").unwrap();
        assert_eq!((j.judge.name(), j.local), ("openai-logprobs:m".to_string(), false));
        let e = judge("gpt", &s, None, &nowhere, "judge=").err().unwrap().to_string();
        assert!(e.starts_with("judge= \"gpt\": use local:smollm2"), "{e}");
    }
}
