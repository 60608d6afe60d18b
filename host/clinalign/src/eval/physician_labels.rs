//! Physician-agreed scenario labels from HealthBench rows, mapped onto the four dimensions
//! (DESIGN §4), and the classifier evaluation built on them.

use std::collections::BTreeMap;

use clinalign_core::Label;
use serde::Serialize;

/// The labels a HealthBench row's `example_tags` imply: (dimension, value) pairs.
///
/// | theme | category | label |
/// |---|---|---|
/// | emergency_referrals | emergent / conditionally-emergent / non-emergent | urgency = same |
/// | context_seeking | enough-context / not-enough-context | uncertainty = none / reducible |
/// | hedging | no-uncertainty / any-reducible-uncertainty / only-irreducible-uncertainty | uncertainty = none / reducible / irreducible |
/// | health_data_tasks | (any) | task = data-task |
/// | health_data_tasks | enough-info-to-complete-task / not-enough-info-to-complete-task | uncertainty = none / reducible |
/// | communication | health-professional / not-health-professional | expertise = health-professional / layperson |
pub fn healthbench_labels(example_tags: &[String]) -> Vec<(String, String)> {
    let theme = example_tags.iter().find_map(|t| t.strip_prefix("theme:")).unwrap_or("");
    let category = example_tags.iter().find_map(|t| t.strip_prefix("physician_agreed_category:")).unwrap_or("");
    let mut out = Vec::new();
    let mut push = |d: &str, v: &str| out.push((d.to_string(), v.to_string()));
    match (theme, category) {
        ("emergency_referrals", c @ ("emergent" | "conditionally-emergent" | "non-emergent")) => push("urgency", c),
        ("context_seeking", "enough-context") => push("uncertainty", "none"),
        ("context_seeking", "not-enough-context") => push("uncertainty", "reducible"),
        ("hedging", "no-uncertainty") => push("uncertainty", "none"),
        ("hedging", "any-reducible-uncertainty") => push("uncertainty", "reducible"),
        ("hedging", "only-irreducible-uncertainty") => push("uncertainty", "irreducible"),
        ("communication", "health-professional") => push("expertise", "health-professional"),
        ("communication", "not-health-professional") => push("expertise", "layperson"),
        _ => {}
    }
    if theme == "health_data_tasks" {
        push("task", "data-task");
        match category {
            "enough-info-to-complete-task" => push("uncertainty", "none"),
            "not-enough-info-to-complete-task" => push("uncertainty", "reducible"),
            _ => {}
        }
    }
    out
}

/// Accuracy and confusion of predicted labels against physician labels, per dimension.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DimensionEval {
    /// Rows with a physician label on this dimension.
    pub n: u64,
    pub correct: u64,
    pub accuracy: f64,
    /// Accuracy of always answering the most common physician label.
    pub majority_baseline: f64,
    /// physician label → predicted label → count.
    pub confusion: BTreeMap<String, BTreeMap<String, u64>>,
}

/// Classifier evaluation over many rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClassifierEval {
    pub dimensions: BTreeMap<String, DimensionEval>,
}

impl ClassifierEval {
    /// Adds one row: its physician labels and the predicted labels.
    pub fn add(&mut self, truth: &[(String, String)], predicted: &[Label]) {
        for (dim, want) in truth {
            let got = predicted.iter().find(|l| &l.dimension == dim).map(|l| l.value.as_str()).unwrap_or("(none)");
            let d = self.dimensions.entry(dim.clone()).or_default();
            d.n += 1;
            if got == want {
                d.correct += 1;
            }
            *d.confusion.entry(want.clone()).or_default().entry(got.to_string()).or_default() += 1;
        }
    }

    /// Fills in the rates once every row is added.
    pub fn finish(&mut self) {
        for d in self.dimensions.values_mut() {
            d.accuracy = if d.n > 0 { d.correct as f64 / d.n as f64 } else { 0.0 };
            let most = d.confusion.values().map(|row| row.values().sum::<u64>()).max().unwrap_or(0);
            d.majority_baseline = if d.n > 0 { most as f64 / d.n as f64 } else { 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn maps_physician_categories_onto_dimensions() {
        let l = |t: &[&str]| healthbench_labels(&tags(t));
        assert_eq!(
            l(&["theme:emergency_referrals", "physician_agreed_category:non-emergent"]),
            [("urgency".into(), "non-emergent".into())]
        );
        assert_eq!(
            l(&["theme:context_seeking", "physician_agreed_category:not-enough-context"]),
            [("uncertainty".into(), "reducible".into())]
        );
        assert_eq!(
            l(&["theme:hedging", "physician_agreed_category:only-irreducible-uncertainty"]),
            [("uncertainty".into(), "irreducible".into())]
        );
        assert_eq!(
            l(&["theme:communication", "physician_agreed_category:not-health-professional"]),
            [("expertise".into(), "layperson".into())]
        );
        assert_eq!(
            l(&["theme:health_data_tasks", "physician_agreed_category:not-enough-info-to-complete-task"]),
            [("task".into(), "data-task".into()), ("uncertainty".into(), "reducible".into())]
        );
        assert!(l(&["theme:global_health", "physician_agreed_category:context-matters-is-clear"]).is_empty());
        assert!(l(&[]).is_empty());
    }

    #[test]
    fn evaluation_counts_accuracy_confusion_and_baseline() {
        let mut e = ClassifierEval::default();
        let lab = |v: &str| vec![Label { dimension: "uncertainty".into(), value: v.into(), confidence: 1.0 }];
        let t = |v: &str| vec![("uncertainty".to_string(), v.to_string())];
        e.add(&t("reducible"), &lab("reducible"));
        e.add(&t("reducible"), &lab("none"));
        e.add(&t("none"), &lab("none"));
        e.finish();
        let d = &e.dimensions["uncertainty"];
        assert_eq!((d.n, d.correct), (3, 2));
        assert!((d.accuracy - 2.0 / 3.0).abs() < 1e-12);
        assert!((d.majority_baseline - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(d.confusion["reducible"]["none"], 1);
    }
}
