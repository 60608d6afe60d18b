//! Plain data types of the principle interface.
//!
//! They mirror the WIT types of `clinalign:principle@0.1.0` but are ordinary Rust structs,
//! so principle logic can be written, tested and benchmarked natively; the export macro
//! converts between them and the generated bindings.

use serde::{Deserialize, Serialize};

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// "system", "user" or "assistant".
    pub role: String,
    pub content: String,
}

/// A query's value on one clinical dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub dimension: String,
    pub value: String,
    /// 0..1; 1 for labels that came with the input.
    pub confidence: f32,
}

/// A medical query: the conversation so far and its scenario labels.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Query {
    pub id: String,
    pub conversation: Vec<Message>,
    pub scenario: Vec<Label>,
}

impl Query {
    /// The label on `dimension`, if the query has one.
    pub fn label(&self, dimension: &str) -> Option<&Label> {
        self.scenario.iter().find(|l| l.dimension == dimension)
    }

    /// The value on `dimension`, if the query has one.
    pub fn value(&self, dimension: &str) -> Option<&str> {
        self.label(dimension).map(|l| l.value.as_str())
    }

    /// The contents of the turns whose role is in `roles`, joined by blank lines.
    pub fn text_of(&self, roles: &[&str]) -> String {
        let mut out = String::new();
        for m in self.conversation.iter().filter(|m| roles.contains(&m.role.as_str())) {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&m.content);
        }
        out
    }

    /// Everything the user wrote, joined by blank lines.
    pub fn user_text(&self) -> String {
        self.text_of(&["user"])
    }

    /// The last user turn, if any.
    pub fn last_user(&self) -> Option<&str> {
        self.conversation.iter().rev().find(|m| m.role == "user").map(|m| m.content.as_str())
    }
}

/// The HealthBench axis a rubric item grades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Axis {
    Accuracy,
    Completeness,
    ContextAwareness,
    CommunicationQuality,
    InstructionFollowing,
}

impl Axis {
    /// Every axis, in WIT order.
    pub const ALL: [Axis; 5] = [
        Axis::Accuracy,
        Axis::Completeness,
        Axis::ContextAwareness,
        Axis::CommunicationQuality,
        Axis::InstructionFollowing,
    ];

    /// The kebab-case name used in manifests and WIT ("context-awareness").
    pub fn name(self) -> &'static str {
        match self {
            Axis::Accuracy => "accuracy",
            Axis::Completeness => "completeness",
            Axis::ContextAwareness => "context-awareness",
            Axis::CommunicationQuality => "communication-quality",
            Axis::InstructionFollowing => "instruction-following",
        }
    }

    /// The HealthBench tag, e.g. `axis:context_awareness`.
    pub fn tag(self) -> String {
        format!("axis:{}", self.name().replace('-', "_"))
    }

    /// Parses a kebab-case or snake_case axis name.
    pub fn parse(s: &str) -> Option<Axis> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        Axis::ALL.into_iter().find(|a| a.name() == s)
    }
}

impl std::fmt::Display for Axis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One checkable statement about a response, worth `points` when met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RubricItem {
    pub criterion: String,
    /// Non-zero, -10..10.
    pub points: i32,
    pub axis: Axis,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl RubricItem {
    /// An item without extra tags.
    pub fn new(criterion: impl Into<String>, points: i32, axis: Axis) -> Self {
        RubricItem { criterion: criterion.into(), points, axis, tags: Vec::new() }
    }

    /// Adds one extra tag.
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }
}

/// Why `emit` could not produce items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmitError {
    /// The `[config]` table cannot drive the principle.
    InvalidConfig(String),
    /// Anything else.
    Failed(String),
}

impl std::fmt::Display for EmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmitError::InvalidConfig(m) => write!(f, "invalid config: {m}"),
            EmitError::Failed(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for EmitError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_names_round_trip_through_both_spellings() {
        for a in Axis::ALL {
            assert_eq!(Axis::parse(a.name()), Some(a));
            assert_eq!(Axis::parse(&a.name().replace('-', "_")), Some(a));
        }
        assert_eq!(Axis::ContextAwareness.tag(), "axis:context_awareness");
        assert_eq!(Axis::parse("vibes"), None);
    }

    #[test]
    fn query_text_helpers_pick_roles() {
        let q = Query {
            id: "q".into(),
            conversation: vec![
                Message { role: "user".into(), content: "a".into() },
                Message { role: "assistant".into(), content: "b".into() },
                Message { role: "user".into(), content: "c".into() },
            ],
            scenario: vec![Label { dimension: "urgency".into(), value: "emergent".into(), confidence: 1.0 }],
        };
        assert_eq!(q.user_text(), "a\n\nc");
        assert_eq!(q.last_user(), Some("c"));
        assert_eq!(q.value("urgency"), Some("emergent"));
        assert_eq!(q.value("task"), None);
    }
}
