//! Judges: whether a response meets rubric items (HealthBench grading).

use crate::language_model::ModelError;
use crate::rubric::{Grade, RubricEntry};
use crate::types::Message;

/// A conversation and the responses to grade against it, each with its items: one GRPO
/// group, as [`Judge::grade_groups`] takes it.
pub type ConversationGroup<'a> = (&'a [Message], &'a [(&'a str, &'a [RubricEntry])]);

/// Decides whether a response meets rubric items.
pub trait Judge: Send + Sync {
    /// A short name for reports (`local:<model>`, `openai:<model>`).
    fn name(&self) -> String;

    /// One grade per item, in order, for one response to a conversation. Only each item's
    /// criterion and points are read.
    fn grade(&self, conversation: &[Message], response: &str, items: &[RubricEntry]) -> Result<Vec<Grade>, ModelError>;

    /// Grades several responses to one conversation (a GRPO group): one `Vec<Grade>` per
    /// response, in order, each with one grade per item of that response. The default grades
    /// each response on its own; a judge that can share work across the group overrides it.
    fn grade_group(
        &self,
        conversation: &[Message],
        responses: &[(&str, &[RubricEntry])],
    ) -> Result<Vec<Vec<Grade>>, ModelError> {
        responses.iter().map(|(r, items)| self.grade(conversation, r, items)).collect()
    }

    /// Grades several groups, each a conversation and its responses (what concurrent
    /// requests bring together): one result per group, as [`Judge::grade_group`] gives it.
    /// The default grades each group on its own; a judge that can pack different
    /// conversations into the same batches overrides it.
    fn grade_groups(&self, groups: &[ConversationGroup<'_>]) -> Result<Vec<Vec<Vec<Grade>>>, ModelError> {
        groups.iter().map(|(conversation, responses)| self.grade_group(conversation, responses)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Meets an item when the response mentions the item's criterion; fails on an empty response.
    struct Mentions;

    impl Judge for Mentions {
        fn name(&self) -> String {
            "mentions".into()
        }

        fn grade(&self, _: &[Message], response: &str, items: &[RubricEntry]) -> Result<Vec<Grade>, ModelError> {
            if response.is_empty() {
                return Err(ModelError::Invalid("empty response".into()));
            }
            Ok(items
                .iter()
                .map(|i| Grade { criteria_met: response.contains(&i.criterion), p_met: None, explanation: None })
                .collect())
        }
    }

    #[test]
    fn the_default_group_grades_each_response_in_order() {
        let conversation = [Message { role: "user".into(), content: "Chest pain?".into() }];
        let items = [RubricEntry::new("911", 5, vec![]), RubricEntry::new("aspirin", 3, vec![])];
        let only_rest = [RubricEntry::new("rest", 2, vec![])];
        let group: [(&str, &[RubricEntry]); 3] =
            [("Call 911.", &items), ("Take aspirin and rest.", &only_rest[..]), ("Nothing to grade.", &[])];
        let grades = Mentions.grade_group(&conversation, &group).unwrap();
        let met: Vec<Vec<bool>> = grades.iter().map(|g| g.iter().map(|g| g.criteria_met).collect()).collect();
        assert_eq!(met, vec![vec![true, false], vec![true], vec![]]);
        let failing: [(&str, &[RubricEntry]); 2] = [("Call 911.", &items), ("", &items)];
        assert!(Mentions.grade_group(&conversation, &failing).is_err(), "one response's error is the group's");
    }
}
