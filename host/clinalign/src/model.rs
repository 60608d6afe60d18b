//! The model traits the engine consumes. The inference crate implements them; the engine
//! never depends on it, so embedders that only synthesize rubrics don't pay for it.

/// A language model principles may call through the host (`generate`, `score-options`),
/// when their manifest grants the capability.
pub trait LanguageModel: Send + Sync {
    /// A short name for logs and reports, e.g. the model file's name.
    fn name(&self) -> &str;

    /// Up to `max_tokens` generated tokens after `prompt`.
    fn generate(&self, prompt: &str, max_tokens: u32) -> Result<String, String>;

    /// Log-probability of each option as the continuation of `prompt`.
    fn score_options(&self, prompt: &str, options: &[String]) -> Result<Vec<f32>, String>;
}
