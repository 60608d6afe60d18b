//! The log-prob scenario classifier: per dimension, the language model scores the label
//! options as the answer to a short clinical question about the conversation.
//!
//! Confidence is calibrated, not raw. A model's option log-probs carry a bias of their own (a
//! small model prefers short or frequent answers whatever the query), so each dimension's
//! options are first scored after a content-free conversation, and that prior is subtracted
//! from every query's scores before the softmax ("contextual calibration", Zhao et al. 2021).
//! The label is the calibrated argmax; its confidence the calibrated probability. Scores are
//! compared per token (the mean log-prob of an option's tokens), so a long option is not
//! penalised for its length.
//!
//! A model call that fails leaves that dimension to the rule classifier, and the label's rule
//! says so: a query is never left unlabelled because a remote server timed out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use clinalign_core::{Label, LanguageModel, Message};

use super::rules::RuleClassifier;
use super::{Classifier, Decision};
use crate::dimensions::{Dimension, Dimensions};

/// At most this much of the conversation goes into a prompt (the latest text is kept).
const MAX_CONVERSATION_CHARS: usize = 1600;

/// The classifier over a language model's option scores.
pub struct ModelClassifier {
    model: Arc<dyn LanguageModel>,
    name: String,
    /// Per dimension (name and values): the options' log-probs after a content-free query.
    priors: Mutex<HashMap<String, Vec<f32>>>,
}

impl ModelClassifier {
    /// A classifier that asks `model`.
    pub fn new(model: Arc<dyn LanguageModel>) -> ModelClassifier {
        let name = format!("model:{}", model.name());
        ModelClassifier { model, name, priors: Mutex::new(HashMap::new()) }
    }

    /// Per dimension: the label and its rule, or why the model could not decide.
    fn decide(&self, conversation: &[Message], dims: &Dimensions) -> Vec<Result<Decision, String>> {
        let text = conversation_text(conversation);
        dims.iter()
            .map(|d| {
                let q = question(d);
                let prior = self.prior(d, &q)?;
                let scores = self.scores(&prompt(&text, &q), &q)?;
                let calibrated: Vec<f32> = scores.iter().zip(&prior).map(|(s, p)| s - p).collect();
                let probs = softmax(&calibrated);
                // The first of equal options wins (vocabulary order).
                let (best, p) = probs
                    .iter()
                    .copied()
                    .enumerate()
                    .fold(None, |best: Option<(usize, f32)>, (i, p)| match best {
                        Some((_, bp)) if bp >= p => best,
                        _ => Some((i, p)),
                    })
                    .ok_or_else(|| format!("dimension {} has no values", d.name))?;
                let shown: Vec<String> = d.values.iter().zip(&probs).map(|(v, p)| format!("{v} {:.2}", p)).collect();
                Ok(Decision {
                    label: Label { dimension: d.name.clone(), value: d.values[best].clone(), confidence: p },
                    rule: format!("{} scored the options (calibrated): {}", self.name, shown.join(", ")),
                })
            })
            .collect()
    }

    /// Mean per-token log-prob of each option after `prompt`.
    fn scores(&self, prompt: &str, q: &Question) -> Result<Vec<f32>, String> {
        let options: Vec<String> = q.answers.iter().map(|a| format!(" {a}")).collect();
        let lp = self.model.score_options(prompt, &options).map_err(|e| format!("{}: {e}", self.name))?;
        if lp.len() != options.len() || lp.iter().any(|x| !x.is_finite()) {
            return Err(format!("{} gave {} scores for {} options", self.name, lp.len(), options.len()));
        }
        Ok(lp.iter().zip(&q.answer_words).map(|(l, n)| l / *n as f32).collect())
    }

    /// The options' scores after a content-free conversation, computed once per dimension.
    fn prior(&self, d: &Dimension, q: &Question) -> Result<Vec<f32>, String> {
        let key = format!("{}={}", d.name, d.values.join("|"));
        if let Some(p) = self.priors.lock().unwrap().get(&key) {
            return Ok(p.clone());
        }
        let p = self.scores(&prompt("N/A", q), q)?;
        self.priors.lock().unwrap().insert(key, p.clone());
        Ok(p)
    }
}

impl Classifier for ModelClassifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn classify(&self, conversation: &[Message], dims: &Dimensions) -> Vec<Label> {
        self.explain(conversation, dims).into_iter().map(|d| d.label).collect()
    }

    fn explain(&self, conversation: &[Message], dims: &Dimensions) -> Vec<Decision> {
        let decided = self.decide(conversation, dims);
        if decided.iter().all(Result::is_ok) {
            return decided.into_iter().flatten().collect();
        }
        let rules = RuleClassifier.explain(conversation, dims);
        decided
            .into_iter()
            .zip(dims.iter())
            .filter_map(|(d, dim)| match d {
                Ok(d) => Some(d),
                Err(why) => {
                    tracing::warn!(dimension = %dim.name, "model classifier failed, the rules decide: {why}");
                    rules.iter().find(|r| r.label.dimension == dim.name).map(|r| Decision {
                        label: r.label.clone(),
                        rule: format!("the model could not decide ({why}); rules: {}", r.rule),
                    })
                }
            })
            .collect()
    }
}

/// One dimension's question and the answer text scored for each value.
struct Question {
    text: String,
    answers: Vec<String>,
    /// Words per answer, for per-token comparison (a word is about a token or two for every
    /// tokenizer; what matters is that longer answers are not penalised for their length).
    answer_words: Vec<usize>,
}

/// The question for a dimension: clinical wording for the built-in vocabulary, the
/// dimension's own description and values for any other.
fn question(d: &Dimension) -> Question {
    let known = |value: &str| -> Option<&'static str> {
        Some(match (d.name.as_str(), value) {
            ("urgency", "emergent") => "emergency care now",
            ("urgency", "conditionally-emergent") => "urgent care, depending on the details",
            ("urgency", "non-emergent") => "routine care or self-care",
            ("uncertainty", "none") => "nothing, it can be answered as asked",
            ("uncertainty", "reducible") => "more details from the user",
            ("uncertainty", "irreducible") => "knowledge nobody has, it is uncertain",
            ("expertise", "health-professional") => "a health professional",
            ("expertise", "layperson") => "a patient or member of the public",
            ("task", "information") => "general health information",
            ("task", "diagnosis") => "what might be causing a problem",
            ("task", "treatment") => "how to treat a problem",
            ("task", "medication") => "advice about a medicine or its dose",
            ("task", "lifestyle") => "diet, exercise, sleep or habits",
            ("task", "data-task") => "rewriting, summarising or documenting given text",
            _ => return None,
        })
    };
    let custom = || Question {
        text: format!("{} Answer with one of: {}.", d.description, d.values.join(", ")),
        answers: d.values.clone(),
        answer_words: d.values.iter().map(|v| v.split(['-', ' ']).count().max(1)).collect(),
    };
    let Some(answers) = d.values.iter().map(|v| known(v).map(str::to_string)).collect::<Option<Vec<String>>>() else {
        return custom();
    };
    let text = match d.name.as_str() {
        "urgency" => "How soon does the person in this conversation need medical care?",
        "uncertainty" => "To answer well, what does a clinician still need?",
        "expertise" => "Who is asking?",
        "task" => "What does the user want?",
        _ => return custom(),
    }
    .to_string();
    let answer_words = answers.iter().map(|a| a.split_whitespace().count().max(1)).collect();
    Question { text, answers, answer_words }
}

/// The user's side of the conversation, latest text kept when it is long.
fn conversation_text(conversation: &[Message]) -> String {
    let text: Vec<String> = conversation
        .iter()
        .filter(|m| m.role != "system")
        .map(|m| format!("{}: {}", if m.role == "user" { "User" } else { "Assistant" }, m.content.trim()))
        .collect();
    let text = text.join("\n");
    if text.len() <= MAX_CONVERSATION_CHARS {
        return text;
    }
    let mut start = text.len() - MAX_CONVERSATION_CHARS;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

fn prompt(conversation: &str, q: &Question) -> String {
    format!(
        "A clinician reads a conversation with a health assistant and labels it.\n\nConversation:\n{conversation}\n\nQuestion: {}\nAnswer:",
        q.text
    )
}

fn softmax(x: &[f32]) -> Vec<f32> {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = x.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinalign_core::ModelError;

    /// A model whose scores are given: it prefers options containing `favourite`, and is biased
    /// towards the first option whatever the prompt.
    struct Scripted {
        favourite: &'static str,
        fail: bool,
    }

    impl LanguageModel for Scripted {
        fn name(&self) -> &str {
            "scripted"
        }
        fn generate(&self, _: &str, _: u32) -> Result<String, ModelError> {
            Err(ModelError::Unsupported("no".into()))
        }
        fn score_options(&self, prompt: &str, options: &[String]) -> Result<Vec<f32>, ModelError> {
            if self.fail {
                return Err(ModelError::Failed("server down".into()));
            }
            let content_free = prompt.contains("Conversation:\nN/A");
            Ok(options
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let bias = if i == 0 { 0.0 } else { -3.0 };
                    let signal = if !content_free && o.contains(self.favourite) { 2.0 } else { 0.0 };
                    (bias + signal) * o.split_whitespace().count() as f32
                })
                .collect())
        }
    }

    fn dims() -> Dimensions {
        Dimensions::parse(
            "[[dimension]]\nname = \"urgency\"\nvalues = [\"emergent\", \"conditionally-emergent\", \"non-emergent\"]\n[[dimension]]\nname = \"mood\"\ndescription = \"The user's mood.\"\nvalues = [\"calm\", \"anxious\"]\n",
            "dims",
        )
        .unwrap()
    }

    fn conv(text: &str) -> Vec<Message> {
        vec![Message { role: "user".into(), content: text.into() }]
    }

    #[test]
    fn calibration_removes_the_models_bias_towards_an_option() {
        let c = ModelClassifier::new(Arc::new(Scripted { favourite: "routine", fail: false }));
        let labels = c.classify(&conv("my knee aches after running"), &dims());
        // Raw scores favour the first option (bias 0 vs -3 + 2); calibrated, the signal wins.
        assert_eq!(labels[0].value, "non-emergent");
        assert!(labels[0].confidence > 0.5 && labels[0].confidence <= 1.0, "{}", labels[0].confidence);
        let custom = &labels[1];
        assert_eq!((custom.dimension.as_str(), custom.value.as_str()), ("mood", "calm"));
    }

    #[test]
    fn a_failing_model_leaves_the_dimension_to_the_rules_and_says_so() {
        let c = ModelClassifier::new(Arc::new(Scripted { favourite: "x", fail: true }));
        let d = c.explain(&conv("My dad has crushing chest pain and is sweating"), &dims());
        assert_eq!(d[0].label.value, "emergent");
        assert!(d[0].rule.contains("server down") && d[0].rule.contains("rules:"), "{}", d[0].rule);
    }

    #[test]
    fn long_conversations_keep_their_latest_text() {
        let long = "a".repeat(5000) + " LATEST";
        let t = conversation_text(&conv(&long));
        assert!(t.len() <= MAX_CONVERSATION_CHARS + 4 && t.ends_with("LATEST"));
    }
}
