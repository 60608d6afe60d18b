//! `--model` for the commands that synthesize: the language model that principles whose
//! manifest grants `generate` or `score` reach through the host. Principles without the
//! capability never reach it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use clinalign::LanguageModel;
use clinalign_infer::local::{LocalModel, Precision};

/// Retries of one request to a remote model, and the first wait between them.
const REMOTE_RETRIES: u32 = 3;
const REMOTE_FIRST_DELAY: Duration = Duration::from_millis(500);

#[derive(Args, Debug, Default, Clone)]
pub struct ModelArgs {
    /// Language model for principles whose manifest grants "generate" or "score":
    /// local:smollm2 (fetched on first use), local:PATH (a GGUF file or a Hugging Face model
    /// folder), or openai:URL[#MODEL] (any OpenAI-compatible server; OPENAI_API_KEY is sent
    /// when set; vLLM needs the served model's name as MODEL). Without it, such principles
    /// get a clear "no language model" error. With `serve`, a local model also answers
    /// /v1/chat/completions and /v1/completions.
    #[arg(long, value_name = "SPEC")]
    pub model: Option<String>,
}

/// The model of a `--model` spec, and the local model when it is one (which `serve` also
/// answers OpenAI requests with).
pub struct EngineModel {
    pub model: Arc<dyn LanguageModel>,
    pub local: Option<Arc<LocalModel>>,
}

/// Opens the model `spec` names.
pub fn open(spec: &str, precision: Precision) -> Result<EngineModel> {
    if spec.starts_with("local:") {
        let lm = crate::judges::open_model(spec, precision)?;
        Ok(EngineModel { model: lm.clone(), local: Some(lm) })
    } else if let Some(rest) = spec.strip_prefix("openai:") {
        let (url, model) = rest.split_once('#').unwrap_or((rest, "default"));
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("--model {spec:?}: the server's URL must start with http:// or https://");
        }
        let remote = crate::openai_model::OpenAiModel::new(
            url,
            model,
            std::env::var("OPENAI_API_KEY").ok(),
            REMOTE_RETRIES,
            REMOTE_FIRST_DELAY,
        );
        Ok(EngineModel { model: Arc::new(remote), local: None })
    } else {
        bail!("--model {spec:?}: use local:smollm2, local:PATH or openai:URL[#MODEL]")
    }
}

impl ModelArgs {
    /// The model, when one is given.
    pub fn open(&self) -> Result<Option<EngineModel>> {
        self.model.as_deref().map(|spec| open(spec, Precision::F32)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_a_model_or_say_what_is_wrong() {
        let remote = open("openai:http://127.0.0.1:9/v1#qwen3", Precision::F32).unwrap();
        assert_eq!(remote.model.name(), "openai:qwen3");
        assert!(remote.local.is_none());
        assert_eq!(open("openai:http://127.0.0.1:9", Precision::F32).unwrap().model.name(), "openai:default");
        let e = open("openai:localhost:9", Precision::F32).err().unwrap().to_string();
        assert!(e.contains("http://"), "{e}");
        let e = open("gpt", Precision::F32).err().unwrap().to_string();
        assert!(e.contains("local:smollm2, local:PATH or openai:URL"), "{e}");
    }
}
