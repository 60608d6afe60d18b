//! Scenario classification: a value and a confidence per clinical dimension.
//!
//! [`Classifier`] is the seam. [`RuleClassifier`] ([`rules`]) reads clinical features from
//! the user's turns, with no model; [`ModelClassifier`] ([`model`]) asks a language model to
//! score the label options; [`AutoClassifier`] ([`auto`]) takes, per dimension, whichever of
//! the two is more confident.

mod auto;
mod model;
mod rules;
mod urgency;

pub use auto::{AutoClassifier, LOWERING_MARGIN};
pub use model::ModelClassifier;
pub use rules::RuleClassifier;

use clinalign_core::{Label, Message};

use crate::dimensions::Dimensions;

/// Labels a conversation on the dimensions of a vocabulary.
pub trait Classifier: Send + Sync {
    /// A short name for reports.
    fn name(&self) -> &str;

    /// One label per dimension of `dims` this classifier knows; values must come from the
    /// vocabulary.
    fn classify(&self, conversation: &[Message], dims: &Dimensions) -> Vec<Label>;

    /// [`Classifier::classify`] with the rule (or the reason) that decided each label, for
    /// an author asking why. The default names the classifier only.
    fn explain(&self, conversation: &[Message], dims: &Dimensions) -> Vec<Decision> {
        let rule = format!("decided by the {} classifier", self.name());
        self.classify(conversation, dims).into_iter().map(|label| Decision { label, rule: rule.clone() }).collect()
    }
}

/// The classifier a name stands for, as `--classifier` and the Python package's
/// `classifier=` take it: `rules` (the built-in clinical rules, no model), `model` (the
/// language model scores each dimension's options) or `auto` (per dimension, the model where it
/// is more confident than the rules). `model` and `auto` need `model`; `what` names the option
/// in the error.
pub fn by_name(
    name: &str,
    model: Option<&std::sync::Arc<dyn clinalign_core::LanguageModel>>,
    what: &str,
) -> Result<std::sync::Arc<dyn Classifier>, String> {
    let with_model = || match model {
        Some(m) => Ok(ModelClassifier::new(m.clone())),
        None => {
            Err(format!("{what} {name} needs a language model: add a model (local:smollm2, local:PATH or openai:URL)"))
        }
    };
    Ok(match name {
        "rules" => std::sync::Arc::new(RuleClassifier),
        "model" => std::sync::Arc::new(with_model()?),
        "auto" => std::sync::Arc::new(AutoClassifier::new(with_model()?)),
        other => return Err(format!("{what} {other:?}: use rules, model or auto")),
    })
}

/// A label and why the classifier chose it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Decision {
    pub label: Label,
    /// The rule that decided it, in words.
    pub rule: String,
}

/// The query's full scenario: its own labels (checked against the vocabulary), and the
/// classifier's for the dimensions it lacks, in vocabulary order. Each label comes with
/// where it came from: `None` for a given label, else the classifier's rule.
pub fn complete_scenario(
    dims: &Dimensions,
    classifier: &dyn Classifier,
    query: &clinalign_core::Query,
    with_rules: bool,
) -> Result<Vec<(Label, Option<String>)>, String> {
    for l in &query.scenario {
        dims.check(&l.dimension, &l.value)?;
    }
    let missing = dims.iter().any(|d| !query.scenario.iter().any(|l| l.dimension == d.name));
    let guessed: Vec<Decision> = match (missing, with_rules) {
        (false, _) => Vec::new(),
        (true, true) => classifier.explain(&query.conversation, dims),
        (true, false) => classifier
            .classify(&query.conversation, dims)
            .into_iter()
            .map(|label| Decision { label, rule: String::new() })
            .collect(),
    };
    let mut out = Vec::new();
    for d in dims.iter() {
        if let Some(l) = query.scenario.iter().find(|l| l.dimension == d.name) {
            out.push((l.clone(), None));
        } else if let Some(g) = guessed.iter().find(|g| g.label.dimension == d.name) {
            out.push((g.label.clone(), Some(g.rule.clone())));
        }
    }
    Ok(out)
}
