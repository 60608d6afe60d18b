//! `--classifier auto`: per dimension, the model's label where the model is more confident
//! than the rules, else the rules'.
//!
//! One exception, and it is clinical logic: on urgency the model may *lower* the rules' label
//! only when it is more confident by [`LOWERING_MARGIN`]. Under-triage (an emergency given a
//! routine rubric) costs far more than over-triage, so the evidence needed to step down is
//! higher than the evidence needed to step up.

use clinalign_core::{Label, Message};

use super::{Classifier, Decision, ModelClassifier, RuleClassifier};
use crate::dimensions::Dimensions;

/// How much more confident than the rules the model must be to lower urgency.
pub const LOWERING_MARGIN: f32 = 0.2;

/// The rules and a model, per dimension the more confident.
pub struct AutoClassifier {
    model: ModelClassifier,
    name: String,
}

impl AutoClassifier {
    /// Combines the rules with `model`.
    pub fn new(model: ModelClassifier) -> AutoClassifier {
        let name = format!("auto(rules, {})", model.name());
        AutoClassifier { model, name }
    }
}

/// Position in the urgency vocabulary's order of severity (0 = most urgent); other values
/// have none.
fn severity(value: &str) -> Option<usize> {
    ["emergent", "conditionally-emergent", "non-emergent"].iter().position(|v| *v == value)
}

fn choose(rules: Decision, model: Decision) -> Decision {
    let lowers = rules.label.dimension == "urgency"
        && matches!((severity(&rules.label.value), severity(&model.label.value)), (Some(r), Some(m)) if m > r);
    let margin = if lowers { LOWERING_MARGIN } else { 0.0 };
    if model.label.value != rules.label.value && model.label.confidence > rules.label.confidence + margin {
        let rule = format!(
            "the model ({:.2}) is more confident than the rules ({:.2}: {}); {}",
            model.label.confidence, rules.label.confidence, rules.rule, model.rule
        );
        Decision { label: model.label, rule }
    } else {
        let rule = if model.label.value == rules.label.value {
            format!("rules and model agree; {}", rules.rule)
        } else {
            format!(
                "the rules ({:.2}) win over the model's {} ({:.2}{}); {}",
                rules.label.confidence,
                model.label.value,
                model.label.confidence,
                if lowers { ", which would lower urgency" } else { "" },
                rules.rule
            )
        };
        Decision { label: rules.label, rule }
    }
}

impl Classifier for AutoClassifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn classify(&self, conversation: &[Message], dims: &Dimensions) -> Vec<Label> {
        self.explain(conversation, dims).into_iter().map(|d| d.label).collect()
    }

    fn explain(&self, conversation: &[Message], dims: &Dimensions) -> Vec<Decision> {
        let rules = RuleClassifier.explain(conversation, dims);
        let mut model = self.model.explain(conversation, dims);
        dims.iter()
            .filter_map(|d| {
                let r = rules.iter().find(|r| r.label.dimension == d.name).cloned();
                let m = model.iter().position(|m| m.label.dimension == d.name).map(|i| model.swap_remove(i));
                match (r, m) {
                    (Some(r), Some(m)) => Some(choose(r, m)),
                    (r, m) => r.or(m),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(dim: &str, value: &str, confidence: f32) -> Decision {
        Decision { label: Label { dimension: dim.into(), value: value.into(), confidence }, rule: "r".into() }
    }

    #[test]
    fn the_more_confident_wins_except_that_lowering_urgency_needs_a_margin() {
        assert_eq!(choose(d("task", "information", 0.6), d("task", "medication", 0.7)).label.value, "medication");
        assert_eq!(choose(d("task", "information", 0.8), d("task", "medication", 0.7)).label.value, "information");
        // Raising urgency: more confident is enough.
        let up = choose(d("urgency", "non-emergent", 0.55), d("urgency", "emergent", 0.6));
        assert_eq!(up.label.value, "emergent");
        // Lowering: 0.1 more confident is not enough, 0.25 is.
        let down = choose(d("urgency", "emergent", 0.75), d("urgency", "non-emergent", 0.85));
        assert_eq!(down.label.value, "emergent");
        assert!(down.rule.contains("lower urgency"), "{}", down.rule);
        assert_eq!(
            choose(d("urgency", "emergent", 0.7), d("urgency", "non-emergent", 0.95)).label.value,
            "non-emergent"
        );
    }
}
