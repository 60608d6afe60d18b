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

/// One rubric item for a judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JudgeItem<'a> {
    pub criterion: &'a str,
    pub points: i32,
}

/// A judge's decision on one rubric item.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Grade {
    /// Whether the response meets the item (for a penalty: whether it did the bad thing).
    pub criteria_met: bool,
    /// The judge's probability that it does, when the judge gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_met: Option<f32>,
    /// The judge's reasoning, when it gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// Decides whether a response meets rubric items (HealthBench grading).
pub trait Judge: Send + Sync {
    /// A short name for reports (`local:<model>`, `openai:<model>`).
    fn name(&self) -> String;

    /// Grades every item for one response to a conversation.
    fn grade(
        &self,
        conversation: &[clinalign_sdk::Message],
        response: &str,
        items: &[JudgeItem<'_>],
    ) -> Result<Vec<Grade>, String>;
}
