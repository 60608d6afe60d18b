//! The language model the engine offers principles (`generate`, `score-options`), and the
//! errors every model call can end in. The inference crate implements [`LanguageModel`] for
//! local models; the engine never depends on it.

/// Why a model call produced nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// No model can serve the call: none is configured, or the caller may not use it.
    #[error("{0}")]
    Unavailable(String),
    /// The model cannot do what was asked (e.g. a tokenizer without single-token "yes"/"no",
    /// a server that returns no log-probabilities).
    #[error("{0}")]
    Unsupported(String),
    /// The request cannot be used (an empty prompt, a token id outside the vocabulary).
    #[error("{0}")]
    Invalid(String),
    /// Running the model failed: a malformed file, a numerical failure, a remote server that
    /// did not answer or answered badly after its retries.
    #[error("{0}")]
    Failed(String),
}

/// A language model principles may call through the host when their manifest grants the
/// capability.
pub trait LanguageModel: Send + Sync {
    /// A short name for logs and reports, e.g. the model file's name.
    fn name(&self) -> &str;

    /// Up to `max_tokens` generated tokens after `prompt`.
    fn generate(&self, prompt: &str, max_tokens: u32) -> Result<String, ModelError>;

    /// Log-probability of each option as the continuation of `prompt`.
    fn score_options(&self, prompt: &str, options: &[String]) -> Result<Vec<f32>, ModelError>;
}
