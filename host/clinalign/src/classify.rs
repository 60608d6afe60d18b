//! Scenario classification: a value and a confidence on each clinical dimension.
//!
//! [`Classifier`] is the seam: the built-in [`RuleClassifier`] reads clinical cues from
//! the conversation with no model; a model-based classifier (log-probs over the label
//! options) can take its place.

use clinalign_sdk::text::Text;
use clinalign_sdk::{Label, Message};

use crate::dimensions::Dimensions;

/// Labels a conversation on the dimensions of a vocabulary.
pub trait Classifier: Send + Sync {
    /// A short name for reports.
    fn name(&self) -> &str;

    /// One label per dimension of `dims` this classifier knows; values must come from the
    /// vocabulary.
    fn classify(&self, conversation: &[Message], dims: &Dimensions) -> Vec<Label>;
}

/// The built-in classifier: clinical cue lexicons, negation-aware, no model.
#[derive(Debug, Default, Clone, Copy)]
pub struct RuleClassifier;

/// Symptoms and situations that need emergency care now.
const EMERGENT: &[&str] = &[
    "chest pain", "chest pressure", "crushing", "can't breathe", "cannot breathe", "struggling to breathe",
    "not breathing", "stopped breathing", "turning blue", "blue lips", "unconscious", "unresponsive",
    "passed out", "fainted", "seizure", "seizing", "convulsion*", "stroke", "face drooping", "slurred speech",
    "sudden weakness", "sudden numbness", "worst headache", "thunderclap", "suicid*", "kill myself",
    "end my life", "overdose", "overdosed", "took too many", "anaphyla*", "throat closing", "throat is closing",
    "swollen tongue", "severe bleeding", "bleeding heavily", "won't stop bleeding", "vomiting blood",
    "coughing up blood", "stiff neck", "severe burn*", "poisoning", "swallowed bleach", "heart attack",
];

/// Situations that may be emergencies depending on details.
const CONDITIONAL: &[&str] = &[
    "fever", "high fever", "shortness of breath", "short of breath", "dizz*", "bleeding", "pregnan*",
    "head injury", "hit my head", "severe pain", "getting worse", "worsening", "dehydrat*", "infant",
    "newborn", "baby", "confus*", "rash", "swelling", "palpitation*", "fall", "fell", "blood in",
    "black stool*", "vomiting", "abdominal pain", "stomach pain", "allergic reaction",
];

/// Phrasings of professional users.
const PROFESSIONAL: &[&str] = &[
    "my patient", "our patient", "the patient", "pt ", "as a nurse", "as a doctor", "as a physician",
    "i'm a nurse", "i am a nurse", "i'm a doctor", "i am a doctor", "i'm a physician", "resident", "clinician",
    "differential", "ddx", "mg/kg", "titrate", "contraindicat*", "dosing regimen", "guideline*", "sensitivity",
    "specificity", "icd-10", "soap note", "discharge summary", "hpi", "prn", "bid", "tid", "q8h", "q6h",
    "clinical trial", "pharmacokinetic*", "etiology", "prophylaxis",
];

/// Requests to transform health data.
const DATA_TASK: &[&str] = &[
    "summarize", "summarise", "summary of", "write a note", "soap note", "discharge summary", "extract",
    "convert this", "format this", "fill in", "template", "structured", "table of", "chart note",
    "progress note", "referral letter", "translate this note", "icd-10 code", "coding",
];

const MEDICATION: &[&str] = &[
    "dose", "dosage", "mg", "milligram*", "tablet*", "pill*", "capsule*", "medication*", "medicine*",
    "drug*", "prescription", "side effect*", "interaction*", "ibuprofen", "acetaminophen", "paracetamol",
    "tylenol", "advil", "aspirin", "antibiotic*", "amoxicillin", "metformin", "insulin", "warfarin",
    "statin*", "lisinopril", "prednisone", "opioid*", "oxycodone", "antidepressant*", "sertraline",
    "birth control", "vaccine*", "generic", "ndc",
];

const TREATMENT: &[&str] = &[
    "treat*", "treatment", "cure", "therapy", "therapies", "surgery", "operation", "manage", "management",
    "get rid of", "remedy", "remedies", "recover*", "rehab*", "how to stop", "what can i do", "what should i do",
];

const DIAGNOSIS: &[&str] = &[
    "what is wrong", "what's wrong", "could it be", "could this be", "do i have", "is it", "is this",
    "diagnos*", "cause of", "causing", "why do i", "why does my", "symptom*", "test result*", "results show",
    "what does it mean", "normal?",
];

const LIFESTYLE: &[&str] = &[
    "diet", "eat", "eating", "food", "exercise", "workout", "sleep", "weight", "lose weight", "smoking",
    "quit smoking", "alcohol", "drinking", "stress", "nutrition", "vitamin*", "supplement*", "gluten",
    "fasting", "hydration",
];

/// Questions that nobody can answer with certainty.
const IRREDUCIBLE: &[&str] = &[
    "will i", "will it", "will my", "how long will", "how long do i have", "life expectancy", "prognosis",
    "chance of", "chances of", "odds of", "risk of getting", "is it genetic", "will the baby", "survival rate",
    "what are the odds", "guarantee",
];

impl Classifier for RuleClassifier {
    fn name(&self) -> &str {
        "rules-v1"
    }

    fn classify(&self, conversation: &[Message], dims: &Dimensions) -> Vec<Label> {
        let user: Vec<&str> = conversation.iter().filter(|m| m.role == "user").map(|m| m.content.as_str()).collect();
        let raw = user.join("\n\n");
        let text = Text::new(&raw);
        let hits = |terms: &[&str]| terms.iter().filter(|t| text.mentions(t)).count();
        let words = raw.split_whitespace().count();

        let mut labels = Vec::new();
        let mut push = |dim: &str, value: &str, confidence: f32| {
            if dims.check(dim, value).is_ok() {
                labels.push(Label { dimension: dim.into(), value: value.into(), confidence });
            }
        };

        let emergent = hits(EMERGENT);
        let conditional = hits(CONDITIONAL);
        match (emergent, conditional) {
            (e, _) if e >= 2 => push("urgency", "emergent", 0.9),
            (1, _) => push("urgency", "emergent", 0.75),
            (0, c) if c >= 2 => push("urgency", "conditionally-emergent", 0.7),
            (0, 1) => push("urgency", "conditionally-emergent", 0.55),
            _ => push("urgency", "non-emergent", 0.7),
        }

        let professional = hits(PROFESSIONAL);
        if professional >= 2 {
            push("expertise", "health-professional", 0.85);
        } else if professional == 1 {
            push("expertise", "health-professional", 0.6);
        } else {
            push("expertise", "layperson", 0.75);
        }

        let scores = [
            ("data-task", hits(DATA_TASK) * 3),
            ("medication", hits(MEDICATION) * 2),
            ("diagnosis", hits(DIAGNOSIS) * 2),
            ("treatment", hits(TREATMENT) * 2),
            ("lifestyle", hits(LIFESTYLE)),
        ];
        let best = scores.iter().max_by_key(|(_, s)| *s).filter(|(_, s)| *s > 0);
        match best {
            Some((task, s)) => push("task", task, if *s >= 4 { 0.8 } else { 0.6 }),
            None => push("task", "information", 0.6),
        }

        if hits(IRREDUCIBLE) > 0 {
            push("uncertainty", "irreducible", 0.65);
        } else if words < 12 || (emergent + conditional > 0 && words < 30) {
            push("uncertainty", "reducible", 0.6);
        } else {
            push("uncertainty", "none", 0.55);
        }

        // Vocabulary order.
        let order: Vec<&str> = dims.iter().map(|d| d.name.as_str()).collect();
        labels.sort_by_key(|l| order.iter().position(|d| *d == l.dimension));
        labels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims() -> Dimensions {
        Dimensions::parse(
            r#"
[[dimension]]
name = "urgency"
values = ["emergent", "conditionally-emergent", "non-emergent"]
[[dimension]]
name = "uncertainty"
values = ["none", "reducible", "irreducible"]
[[dimension]]
name = "expertise"
values = ["health-professional", "layperson"]
[[dimension]]
name = "task"
values = ["information", "diagnosis", "treatment", "medication", "lifestyle", "data-task"]
"#,
            "dims",
        )
        .unwrap()
    }

    fn classify(text: &str) -> Vec<(String, String)> {
        let conv = vec![Message { role: "user".into(), content: text.into() }];
        RuleClassifier.classify(&conv, &dims()).into_iter().map(|l| (l.dimension, l.value)).collect()
    }

    fn value(text: &str, dim: &str) -> String {
        classify(text).into_iter().find(|(d, _)| d == dim).unwrap().1
    }

    #[test]
    fn labels_every_dimension_in_vocabulary_order() {
        let dims: Vec<String> = classify("hello").into_iter().map(|(d, _)| d).collect();
        assert_eq!(dims, ["urgency", "uncertainty", "expertise", "task"]);
    }

    #[test]
    fn red_flags_are_emergent_unless_negated() {
        assert_eq!(value("My dad has crushing chest pain and is sweating", "urgency"), "emergent");
        assert_eq!(value("No chest pain, just a mild itch on my arm since yesterday", "urgency"), "non-emergent");
        assert_eq!(value("My baby has a fever", "urgency"), "conditionally-emergent");
    }

    #[test]
    fn professional_cues_and_data_tasks() {
        assert_eq!(value("My patient on warfarin needs a dosing regimen in mg/kg", "expertise"), "health-professional");
        assert_eq!(value("Summarize this discharge summary into a SOAP note", "task"), "data-task");
        assert_eq!(value("What is the max dose of ibuprofen per day?", "task"), "medication");
        assert_eq!(value("What's a good diet to lose weight?", "task"), "lifestyle");
    }

    #[test]
    fn prognosis_questions_are_irreducibly_uncertain() {
        assert_eq!(value("Will my father recover fully after this type of stroke surgery next month?", "uncertainty"), "irreducible");
    }
}
