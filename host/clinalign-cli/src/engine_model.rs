//! `--model` for the commands that synthesize: the language model that principles whose
//! manifest grants `generate` or `score` reach through the host. Principles without the
//! capability never reach it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use clinalign::{AutoClassifier, Classifier, LanguageModel, ModelClassifier, RuleClassifier};
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
    /// Who labels a query's scenario where the input gives no label: `rules` (the built-in
    /// clinical rules, no model), `model` (the --model scores each dimension's options;
    /// calibrated confidence) or `auto` (per dimension, the model where it is more confident
    /// than the rules; lowering urgency needs a margin). `model` and `auto` need --model.
    #[arg(long, value_enum, default_value_t = ClassifierKind::Rules)]
    pub classifier: ClassifierKind,
}

/// `--classifier`.
#[derive(clap::ValueEnum, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum ClassifierKind {
    #[default]
    Rules,
    Model,
    Auto,
}

/// The classifier `kind` names, over `model` where it needs one.
pub fn classifier(kind: ClassifierKind, model: Option<&Arc<dyn LanguageModel>>) -> Result<Arc<dyn Classifier>> {
    let with_model = |what: &str| match model {
        Some(m) => Ok(ModelClassifier::new(m.clone())),
        None => {
            bail!("--classifier {what} needs a language model: add --model local:smollm2 (or local:PATH, openai:URL)")
        }
    };
    Ok(match kind {
        ClassifierKind::Rules => Arc::new(RuleClassifier),
        ClassifierKind::Model => Arc::new(with_model("model")?),
        ClassifierKind::Auto => Arc::new(AutoClassifier::new(with_model("auto")?)),
    })
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

    #[test]
    fn model_classifiers_need_a_model() {
        assert_eq!(classifier(ClassifierKind::Rules, None).unwrap().name(), "rules-v2");
        let e = classifier(ClassifierKind::Auto, None).err().unwrap().to_string();
        assert!(e.contains("--classifier auto needs a language model"), "{e}");
        let remote = open("openai:http://127.0.0.1:9/v1#qwen3", Precision::F32).unwrap().model;
        assert_eq!(classifier(ClassifierKind::Model, Some(&remote)).unwrap().name(), "model:openai:qwen3");
        assert!(classifier(ClassifierKind::Auto, Some(&remote)).unwrap().name().starts_with("auto(rules, model:"));
    }
}
