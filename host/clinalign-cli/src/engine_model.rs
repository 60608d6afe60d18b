//! `--model` for the commands that synthesize: the language model that principles whose
//! manifest grants `generate` or `score` reach through the host. Principles without the
//! capability never reach it.

use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use clinalign::{Classifier, LanguageModel};
use clinalign_infer::local::Precision;

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
    let name = match kind {
        ClassifierKind::Rules => "rules",
        ClassifierKind::Model => "model",
        ClassifierKind::Auto => "auto",
    };
    clinalign::classify::by_name(name, model, "--classifier").map_err(anyhow::Error::msg)
}

/// The model of a `--model` spec, and the local model when it is one (which `serve` also
/// answers OpenAI requests with).
pub use clinalign_infer::spec::OpenedModel as EngineModel;

/// Opens the model `spec` names.
pub fn open(spec: &str, precision: Precision) -> Result<EngineModel> {
    clinalign_infer::spec::model(spec, precision, &crate::models::resolve_local, "--model")
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
    fn model_classifiers_need_a_model() {
        assert_eq!(classifier(ClassifierKind::Rules, None).unwrap().name(), "rules-v2");
        let e = classifier(ClassifierKind::Auto, None).err().unwrap().to_string();
        assert!(e.contains("--classifier auto needs a language model"), "{e}");
        assert!(clinalign::classify::by_name("x", None, "classifier=").err().unwrap().contains("rules, model or auto"));
        let remote = open("openai:http://127.0.0.1:9/v1#qwen3", Precision::F32).unwrap().model;
        assert_eq!(classifier(ClassifierKind::Model, Some(&remote)).unwrap().name(), "model:openai:qwen3");
        assert!(classifier(ClassifierKind::Auto, Some(&remote)).unwrap().name().starts_with("auto(rules, model:"));
    }
}
