//! Judges: whether a response meets rubric items (HealthBench grading).

use crate::language_model::ModelError;
use crate::rubric::{Grade, RubricEntry};
use crate::types::Message;

/// Decides whether a response meets rubric items.
pub trait Judge: Send + Sync {
    /// A short name for reports (`local:<model>`, `openai:<model>`).
    fn name(&self) -> String;

    /// One grade per item, in order, for one response to a conversation. Only each item's
    /// criterion and points are read.
    fn grade(&self, conversation: &[Message], response: &str, items: &[RubricEntry]) -> Result<Vec<Grade>, ModelError>;
}
