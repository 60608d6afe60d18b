//! What can go wrong in a principle call, and the checks on what a principle returns.

use clinalign_core::RubricItem;
use serde::{Deserialize, Serialize};

use super::limits::Limits;

/// Tags the host sets itself; a principle may not emit them.
pub const RESERVED_TAG_PREFIXES: [&str; 4] = ["axis:", "dimension:", "principle:", "pack:"];

/// The kind of a principle failure, as counted in run reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The call ran past its deadline.
    Timeout,
    /// The principle tried to grow its memory past the cap.
    Memory,
    /// The principle trapped (panic, stack overflow, unreachable, …).
    Trap,
    /// The principle returned items that break the output caps.
    InvalidOutput,
    /// The principle said its `[config]` cannot drive it.
    InvalidConfig,
    /// The principle reported a failure of its own.
    Failed,
    /// The principle could not be loaded, instantiated or initialised.
    Load,
}

impl ErrorKind {
    /// The kebab-case name used in reports ("invalid-output").
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Memory => "memory",
            ErrorKind::Trap => "trap",
            ErrorKind::InvalidOutput => "invalid-output",
            ErrorKind::InvalidConfig => "invalid-config",
            ErrorKind::Failed => "failed",
            ErrorKind::Load => "load",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why one principle produced nothing for one query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipleError {
    pub kind: ErrorKind,
    pub message: String,
}

/// How a failed `init` is described, before the plugin's own message.
const INIT_REJECTED: &str = "init rejected the config: ";

impl PrincipleError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> PrincipleError {
        PrincipleError { kind, message: message.into() }
    }

    /// The error of an `init` that returned `message`.
    pub(crate) fn init_rejected(message: &str) -> PrincipleError {
        PrincipleError::new(ErrorKind::Load, format!("{INIT_REJECTED}{message}"))
    }

    /// The plugin's own message, when this is the error of an `init` that rejected the config.
    pub(crate) fn init_rejection(&self) -> Option<&str> {
        if self.kind == ErrorKind::Load { self.message.strip_prefix(INIT_REJECTED) } else { None }
    }
}

impl std::fmt::Display for PrincipleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for PrincipleError {}

/// Checks a call's items against the caps of `limits` (criteria trimmed).
pub(crate) fn check_items(items: Vec<RubricItem>, limits: &Limits) -> Result<Vec<RubricItem>, PrincipleError> {
    let bad = |msg: String| Err(PrincipleError::new(ErrorKind::InvalidOutput, msg));
    if items.len() > limits.max_items {
        return bad(format!("returned {} items; at most {} are allowed", items.len(), limits.max_items));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let criterion = item.criterion.trim();
        let chars = criterion.chars().count();
        if chars == 0 {
            return bad(format!("item {i}: empty criterion"));
        }
        if chars > limits.max_criterion_chars {
            return bad(format!(
                "item {i}: criterion has {chars} characters; at most {} are allowed",
                limits.max_criterion_chars
            ));
        }
        if criterion.chars().any(|c| c.is_control() && c != '\n') {
            return bad(format!("item {i}: criterion contains control characters"));
        }
        if item.points == 0 || !(-10..=10).contains(&item.points) {
            return bad(format!("item {i}: points {} (must be non-zero, -10..10)", item.points));
        }
        if item.tags.len() > limits.max_tags {
            return bad(format!("item {i}: {} tags; at most {} are allowed", item.tags.len(), limits.max_tags));
        }
        for t in &item.tags {
            if t.is_empty()
                || t.chars().count() > limits.max_tag_chars
                || t.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return bad(format!(
                    "item {i}: tag {:?} must be 1..{} characters without spaces",
                    cut(t),
                    limits.max_tag_chars
                ));
            }
            if let Some(p) = RESERVED_TAG_PREFIXES.iter().find(|p| t.starts_with(*p)) {
                return bad(format!("item {i}: tag {t:?}: the host sets {p}* tags itself"));
            }
        }
        out.push(RubricItem { criterion: criterion.to_string(), ..item });
    }
    Ok(out)
}

fn cut(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinalign_core::Axis;

    fn item(criterion: &str, points: i32, tags: &[&str]) -> RubricItem {
        RubricItem {
            criterion: criterion.into(),
            points,
            axis: Axis::Completeness,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn accepts_good_items() {
        let out = check_items(vec![item("  Asks about fever. ", -3, &["cluster:x"])], &Limits::default()).unwrap();
        assert_eq!(out[0].criterion, "Asks about fever.");
        assert_eq!(out[0].axis, Axis::Completeness);
    }

    #[test]
    fn rejects_each_broken_cap_with_a_reason() {
        let l = Limits::default();
        let long = "x".repeat(1001);
        let cases: Vec<(Vec<RubricItem>, &str)> = vec![
            ((0..33).map(|_| item("a", 1, &[])).collect(), "returned 33 items; at most 32"),
            (vec![item(&long, 1, &[])], "1001 characters"),
            (vec![item(" ", 1, &[])], "empty criterion"),
            (vec![item("a", 0, &[])], "points 0"),
            (vec![item("a", 11, &[])], "points 11"),
            (vec![item("a", -11, &[])], "points -11"),
            (vec![item("a\u{0}", 1, &[])], "control characters"),
            (vec![item("a", 1, &["axis:accuracy"])], "sets axis:* tags itself"),
            (vec![item("a", 1, &["two words"])], "without spaces"),
            (vec![item("a", 1, &["t"; 9])], "9 tags"),
        ];
        for (items, want) in cases {
            let e = check_items(items, &l).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidOutput);
            assert!(e.message.contains(want), "{want}: {}", e.message);
        }
    }
}
