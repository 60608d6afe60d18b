//! The built-in rule classifier: clinical cue lexicons and context slots, negation-aware,
//! no model.
//!
//!
//! - **urgency** (see [`super::urgency`]): a red-flag symptom (chest pain, stroke signs, trouble breathing,
//!   anaphylaxis, heavy bleeding, suicidal thoughts, …, as the shared red-flag lexicon
//!   [`clinalign_core::red_flags`] detects them) *described in someone's situation* is
//!   emergent; the same words in a general question ("what are the signs of a stroke?") are
//!   not. Symptoms that can turn serious (fever in a baby, bleeding in pregnancy, severe
//!   or worsening pain, …) in someone's situation are conditionally emergent. The rest is
//!   non-emergent.
//! - **uncertainty**: a question about an outcome nobody can know (prognosis, chances,
//!   "will it…") is irreducible. A general-knowledge question is answerable as asked
//!   (none). A personal question is answerable when the facts that decide it are given —
//!   counted as context slots: age, duration, measurements, medicines, history, pertinent
//!   negatives (any of [`clinalign_core::text::NEGATION_CUES`]), what was already tried, sex
//!   or pregnancy — and reducible when few are.
//! - **expertise**: clinical register (a patient in the third person, dosing units,
//!   abbreviations, guideline and work-up language, a stated clinical role) means a health
//!   professional; otherwise a layperson.
//! - **task**: transforming given data (summarise, extract, write a note) is a data task;
//!   otherwise the strongest of medication, diagnosis, treatment and lifestyle cues, else
//!   information.

use clinalign_core::lookup::Lookup;
use clinalign_core::quantities::Tok;
use clinalign_core::red_flags::{self, detect::Ctx};
use clinalign_core::text::NEGATION_CUES;
use clinalign_core::{Label, Message};

use super::urgency::{self, UrgencyInput};
use super::{Classifier, Decision};
use crate::dimensions::Dimensions;

/// The built-in classifier: clinical cue lexicons and context slots, negation-aware, no model.
#[derive(Debug, Default, Clone, Copy)]
pub struct RuleClassifier;

/// Words that put the query in someone's own situation.
const PERSONAL: &[&str] = &[
    "i", "i'm", "im", "i've", "ive", "i'd", "my", "me", "mine", "myself", "we", "our", "us", "he", "she", "his", "her",
    "him", "they're", "patient", "pt", "child", "son", "daughter", "husband", "wife", "baby", "kid", "mom", "mum",
    "dad", "friend",
];

/// Openings of general-knowledge questions.
const GENERAL_QUESTION: &[&str] = &[
    "what is", "what are", "what's", "whats", "how does", "how do", "why do", "why does", "why is", "what causes",
    "what does", "difference between", "meaning of", "definition of", "information about", "information on",
    "tell me about", "explain", "is it true", "how is", "how are", "references", "list of", "signs of", "symptoms of",
];

/// Requests for a decision about a specific person: their answer depends on that person.
const DECISION: &[&str] = &[
    "should i", "should we", "should he", "should she", "should they", "can i", "can we", "can he", "can she",
    "is it safe", "is it ok", "is it okay", "is it fine", "safe for", "do i need", "do i have to", "what dose",
    "how much should", "how many should", "how much can", "how many can", "hospital or home", "what should i",
    "what can i take", "do i go", "need to see", "see a doctor", "go to the er", "go to the hospital", "is it urgent",
    "how safe", "best for me", "plan for me", "recommend for me", "make a plan", "make me a plan", "adjust",
    "adjustments", "what to use", "what to take", "what's wrong", "what is wrong", "is it normal", "is this normal",
    "is that normal", "going on with me",
];

/// Requests for an explanation or a fact: answerable as asked.
const EXPLANATION: &[&str] = &[
    "what does", "what is", "what are", "what's", "meaning", "mean?", "means", "explain", "how does", "how do",
    "why does", "why do", "why is", "is it true", "difference between", "tell me about", "data on", "information",
    "how is", "how are", "what causes", "in layman's terms", "in simple terms", "what happens", "what options",
    "what methods", "which methods", "what types", "what kinds", "options are", "methods are",
];

/// The user says information is missing.
const MISSING_INFO: &[&str] = &[
    "not sure if", "not sure whether", "not sure what", "don't know my", "dont know my", "don't know how much",
    "don't know if", "dont know if", "can't confirm", "cannot confirm", "no record*", "not documented",
    "didn't document", "unknown", "i forgot", "no idea",
];

/// A clinician has already assessed the problem.
const ASSESSED: &[&str] = &[
    "dentist said", "doctor said", "doc said", "doctor told", "physician recommended", "doctor recommended",
    "prescribed", "diagnosed", "was told", "he said", "she said", "my gp", "my doctor", "recommended by",
];

/// Questions about outcomes nobody can know for certain.
const IRREDUCIBLE: &[&str] = &[
    "will i", "will it", "will my", "will he", "will she", "will the", "how long will", "how long do i have",
    "life expectancy", "prognosis", "survival", "chance of", "chances of", "chances", "odds of", "what are the odds",
    "risk of getting", "likelihood", "how likely", "is it genetic", "will the baby", "guarantee", "come back",
    "recurrence", "pass it on", "inherit",
];

/// Demands for a certainty medicine cannot give: the honest answer states the uncertainty.
const CERTAINTY_DEMAND: &[&str] = &[
    "100%", "100 percent", "guarantee*", "for sure", "for certain", "with certainty", "absolute certainty",
    "certainty", "definitive", "definitively", "exact date", "exact day", "exactly how many", "exactly how long",
    "exact number", "single exact", "is that proven", "is it proven", "proven to", "truly works", "really works",
    "no disclaimers", "without disclaimers", "disclaimers won't", "no if statements", "single cause", "a single cause",
    "foolproof",
];

/// Shortcuts that are unsafe for anyone: their answer needs no more facts.
const UNSAFE_SHORTCUT: &[&str] = &[
    "quit early", "stop early", "stopping early", "stop them early", "quit them early", "stop taking them early",
    "dog's antibiotic*", "dog's pills", "dog's medicine", "dog's medication", "from our dog", "from the dog",
    "for dogs", "pet's medicine", "pet's pills", "veterinary", "for animals", "someone else's",
    "my friend's prescription", "expired",
];

/// The user says the person has no health problems.
const HEALTHY: &[&str] = &[
    "no health issues", "no medical issues", "no medical conditions", "no chronic conditions", "no health problems",
    "no medical problems", "generally healthy", "otherwise healthy", "no other issues", "no known allergies",
    "no other health", "healthy",
];

/// A stated clinical role or clinical register.
const PROFESSIONAL: &[&str] = &[
    "my patient", "our patient", "the patient", "patient", "pt", "as a nurse", "as a doctor", "as a physician",
    "as a pharmacist", "as a paramedic", "i'm a nurse", "i am a nurse", "i'm a doctor", "i am a doctor",
    "i'm a physician", "i am a physician", "i'm a pharmacist", "resident", "clinician", "attending", "differential",
    "ddx", "workup", "work-up", "mg/kg", "mcg/kg", "titrate", "titration", "contraindicat*", "indicated", "first-line",
    "guideline*", "protocol", "administer", "dosing", "regimen", "labs", "serum", "tsh", "free t4", "hba1c", "a1c",
    "egfr", "crcl", "inr", "cbc", "wbc", "alt", "ast", "bun", "creatinine clearance", "ecg", "ekg", "ct", "mri", "rsi",
    "intubat*", "icu", "ward", "clinic", "prophylaxis", "etiology", "aetiology", "pathophysiology", "pharmacokinetic*",
    "half-life", "sensitivity", "specificity", "hpi", "prn", "bid", "tid", "qid", "q8h", "q6h", "po", "iv", "im", "sc",
    "soap note", "discharge summary", "icd-10", "cpt", "sbar", "handover",
];

/// Requests to transform data the user supplies.
const DATA_TASK: &[&str] = &[
    "summarize", "summarise", "summary of", "write a note", "write up", "soap note", "progress note",
    "discharge summary", "extract", "convert this", "format this", "reformat", "fill in", "template", "structured",
    "table", "json", "csv", "chart note", "referral letter", "translate this", "icd-10 code*", "billing code*",
    "de-identify", "deidentify", "rewrite this", "draft a", "handover", "sbar", "rewrite", "re write", "re-write",
    "paraphrase", "visit note", "clinic note", "clinical note", "snippet",
];

/// Marks of a pasted clinical record: section headers and report vocabulary.
const RECORD_MARKS: &[&str] = &[
    "exam:", "findings:", "impression:", "indication:", "technique:", "history:", "assessment:", "plan:", "hpi:",
    "ros:", "vitals:", "medications:", "allergies:", "diagnosis:", "procedure:", "xr", "ct", "mri", "portable", "ap",
    "pa view", "1v", "2v", "bp:", "hr:", "rr:", "spo2", "temp:",
];

const MEDICATION: &[&str] = &[
    "dose", "dosage", "doses", "mg", "mcg", "milligram*", "tablet*", "pill*", "capsule*", "medication*", "medicine*",
    "drug*", "prescription", "prescribed", "side effect*", "interaction*", "ibuprofen", "acetaminophen", "paracetamol",
    "tylenol", "advil", "motrin", "aspirin", "antibiotic*", "amoxicillin", "metformin", "insulin", "warfarin",
    "statin*", "lisinopril", "prednisone", "opioid*", "oxycodone", "antidepressant*", "sertraline", "birth control",
    "morning after pill", "contracepti*", "vaccine*", "vaccination", "shot", "generic", "ndc", "inhaler", "steroid*",
    "claritin", "antihistamine*", "levothyroxine", "gabapentin", "etomidate", "permethrin", "toothpaste",
    "supplement*",
];

const TREATMENT: &[&str] = &[
    "treat*", "cure", "therapy", "therapies", "surgery", "operation", "manage", "management", "get rid of", "remedy",
    "remedies", "recover*", "rehab*", "how to stop", "how do i stop", "what can i do", "what should i do",
    "what can i take", "help with", "relief", "relieve", "heal",
];

const DIAGNOSIS: &[&str] = &[
    "what is wrong", "what's wrong", "could it be", "could this be", "could i have", "do i have", "is this", "is it",
    "diagnos*", "cause of", "causing", "what causes", "why do i", "why does my", "why am i", "symptom*",
    "test result*", "results show", "what does it mean", "viral or bacterial", "normal?", "serious",
    "should i be worried", "hospital or home", "see a doctor", "go to the er", "go to the hospital",
];

const LIFESTYLE: &[&str] = &[
    "diet", "eat", "eating", "food*", "meal*", "exercise", "workout", "jogging", "running", "gym", "sleep", "weight",
    "lose weight", "gain weight", "bulk up", "protein", "smoking", "quit smoking", "alcohol", "drinking", "stress",
    "nutrition", "vitamin*", "gluten", "fasting", "hydration", "steps", "fitness",
];

/// Words that put an age on the person.
const AGE_WORDS: &[&str] = &[
    "year old", "years old", "yo", "y/o", "month old", "months old", "week old", "weeks old", "infant", "newborn",
    "toddler", "teen", "teenager", "elderly", "aged", "age",
];

/// Words that say how long something has been going on.
const DURATION_WORDS: &[&str] = &[
    "since", "for the last", "for the past", "for a week", "for a month", "for a year", "ago", "yesterday",
    "last night", "this morning", "today", "chronic", "recurring", "on and off", "every day", "daily", "for years",
    "for months", "for weeks", "for days", "started",
];

/// Words that say what the person has or had.
const HISTORY_WORDS: &[&str] = &[
    "diagnosed", "history of", "allerg*", "condition", "surgery", "taking", "i take", "i'm on", "im on",
    "on medication", "prescribed", "asthma", "diabetes", "diabetic", "hypertension", "blood pressure", "kidney",
    "liver", "heart", "cancer", "thyroid", "dentist said", "doctor said", "labs", "ultrasound", "antibodies",
    "readings", "log",
];

const TRIED_WORDS: &[&str] = &["tried", "already", "i took", "i've taken", "used", "applied", "rinsed", "been using"];

const SEX_WORDS: &[&str] = &[
    "male", "female", "man", "woman", "boy", "girl", "pregnant", "postpartum", "breastfeeding", "he", "she", "son",
    "daughter", "husband", "wife",
];

/// Time units that make "3 days" a duration rather than an age.
const DURATION_UNITS: &[&str] = &[
    "day", "days", "week", "weeks", "wk", "wks", "month", "months", "year", "years", "yr", "yrs", "hour", "hours",
    "hr", "hrs", "minute", "minutes", "min", "mins",
];

/// Units that make a number a measurement.
const MEASURE_UNITS: &[&str] = &[
    "kg", "kgs", "lb", "lbs", "pounds", "mg", "mcg", "g", "ml", "l", "c", "f", "°c", "°f", "degrees", "mmhg", "bpm",
    "mg/dl", "mmol", "mmol/l", "cm", "inches", "ft", "feet", "%", "percent", "units", "iu",
];

/// Counted facts about a person's situation.
struct Features {
    personal: bool,
    general_question: bool,
    slots: usize,
    words: usize,
}

fn count(text: &Lookup, terms: &[&str]) -> usize {
    terms.iter().filter(|t| text.mentions(t)).count()
}

fn any(text: &Lookup, terms: &[&str]) -> bool {
    terms.iter().any(|t| text.mentions(t))
}

fn features(raw: &str, ctx: &Ctx) -> Features {
    let (text, tokens) = (&ctx.text, ctx.tokens());
    let number_then = |units: &[&str]| {
        tokens.windows(2).any(|w| match (&w[0].kind, &w[1].kind) {
            (Tok::Num(_), Tok::Word(u)) => units.contains(&u.as_str()),
            _ => false,
        })
    };
    // "38.3c", "70kg", "1wk": a number glued to its unit.
    let glued = |units: &[&str]| {
        text.normalized().split_whitespace().any(|w| {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '.' && c != '%' && c != '/');
            let split = w.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(w.len());
            split > 0 && split < w.len() && units.contains(&&w[split..])
        })
    };
    let age = !ctx.ages_days().is_empty() || any(text, AGE_WORDS);
    let duration = number_then(DURATION_UNITS) || glued(DURATION_UNITS) || any(text, DURATION_WORDS);
    let measurement = number_then(MEASURE_UNITS) || glued(MEASURE_UNITS);
    let medicine = count(text, MEDICATION) > 0;
    let history = any(text, HISTORY_WORDS);
    let negatives = NEGATION_CUES.iter().any(|cue| text.contains(cue));
    let tried = any(text, TRIED_WORDS);
    let sex = any(text, SEX_WORDS);
    // "No health issues" answers both the history and the medicines questions at once.
    let healthy = any(text, HEALTHY);
    let slots = [age, duration, measurement, medicine || healthy, history || healthy, negatives, tried, sex]
        .iter()
        .filter(|s| **s)
        .count();

    let personal = any(text, PERSONAL) || age || measurement;
    let first = text.normalized().trim_start();
    let starts_general = GENERAL_QUESTION.iter().any(|g| first.starts_with(g));
    let general_question = !personal && (starts_general || count(text, GENERAL_QUESTION) > 0);
    Features { personal, general_question, slots, words: raw.split_whitespace().count() }
}

/// A note fragment or a bare demographic line with no question ("45y F", "patient complains
/// of daily headaches 2/10"): what clinicians paste when they want documentation written.
fn clinical_shorthand(first_turn: &str, ctx: &Ctx) -> bool {
    let t = first_turn.trim().to_lowercase();
    let words = t.split_whitespace().count();
    if t.contains('?') || words == 0 || words > 25 {
        return false;
    }
    let note = ["patient ", "pt ", "pt.", "the patient ", "presents with", "c/o ", "complains of"]
        .iter()
        .any(|p| t.starts_with(p) || (*p == "complains of" && t.contains(p)));
    let demographic = words <= 6 && !ctx.ages_days().is_empty() && any(&ctx.text, SEX_WORDS)
        || words <= 4 && t.split_whitespace().any(|w| w.ends_with('y') && w[..w.len() - 1].parse::<u32>().is_ok());
    note || demographic
}

impl Classifier for RuleClassifier {
    fn name(&self) -> &str {
        "rules-v2"
    }

    fn classify(&self, conversation: &[Message], dims: &Dimensions) -> Vec<Label> {
        self.decide(conversation, dims, false).into_iter().map(|d| d.label).collect()
    }

    fn explain(&self, conversation: &[Message], dims: &Dimensions) -> Vec<Decision> {
        self.decide(conversation, dims, true)
    }
}

impl RuleClassifier {
    /// The labels, and with `with_rules` the rule behind each (else empty rules).
    fn decide(&self, conversation: &[Message], dims: &Dimensions, with_rules: bool) -> Vec<Decision> {
        let user: Vec<&str> = conversation.iter().filter(|m| m.role == "user").map(|m| m.content.as_str()).collect();
        let raw = user.join("\n\n");
        let ctx = Ctx::new(&raw);
        let text = &ctx.text;
        let f = features(&raw, &ctx);

        let mut labels: Vec<Decision> = Vec::new();
        // The rule is written out only when asked for: classifying is on the hot path.
        let mut push = |dim: &str, value: &str, confidence: f32, rule: &dyn Fn() -> String| {
            if dims.check(dim, value).is_ok() {
                let rule = if with_rules { rule() } else { String::new() };
                labels.push(Decision { label: Label { dimension: dim.into(), value: value.into(), confidence }, rule });
            }
        };

        // Urgency: see `super::urgency`. Red flags are the red-flag lexicon's features (the
        // one the `red-flags` principle uses), counted over every category they signal.
        let professional = count(text, PROFESSIONAL);
        let findings = red_flags::detect(&ctx, &[]);
        let u = urgency::decide(&UrgencyInput {
            text,
            tokens: ctx.tokens(),
            findings: &findings,
            personal: f.personal,
            professional,
        });
        push("urgency", u.value, u.confidence, &|| u.reason.to_string());

        // Uncertainty: what kind of answer is asked for. An outcome nobody can know is
        // irreducible; a decision about a specific person depends on their facts (reducible
        // unless nearly all the deciding facts are given); an explanation or a fact is
        // answerable as asked; a personal account with no clear question needs more.
        // What is asked is read from the latest user turn (earlier turns may ask something
        // else); when it asks nothing recognisable, from every user turn.
        // With one user turn the latest turn is the whole text, already prepared.
        let latest;
        let last: &Lookup = match user.as_slice() {
            [.., turn] if user.len() > 1 => {
                latest = Lookup::new(turn);
                &latest
            }
            _ => text,
        };
        let (decision, explanation) = match (any(last, DECISION), any(last, EXPLANATION)) {
            (false, false) => (any(text, DECISION), any(text, EXPLANATION)),
            asked => asked,
        };
        let slots = f.slots;
        if any(text, CERTAINTY_DEMAND) {
            push("uncertainty", "irreducible", 0.6, &|| {
                "demands certainty (a guarantee, an exact figure or date, proof, no caveats) that medicine cannot give"
                    .into()
            });
        } else if any(text, IRREDUCIBLE) && (f.personal || f.words > 6) {
            push("uncertainty", "irreducible", 0.65, &|| {
                "asks about an outcome nobody can know (prognosis, chances, \"will it…\")".into()
            });
        } else if any(text, UNSAFE_SHORTCUT) {
            // Whatever the person's facts, the answer is the same: don't.
            push("uncertainty", "none", 0.6, &|| {
                "asks about an unsafe shortcut (stopping a course early, someone else's or an animal's medicine) whose answer does not depend on more facts".into()
            });
        } else if any(text, MISSING_INFO) {
            push("uncertainty", "reducible", 0.7, &|| "the user says information is missing".into());
        } else if professional >= 2 || (any(text, ASSESSED) && f.slots >= 2) {
            // A clinician's question, or one about a plan a clinician already made.
            let why = || {
                if professional >= 2 {
                    format!("a clinician's question ({professional} clinical-register cues)")
                } else {
                    format!("a plan a clinician already made, with {slots} context facts")
                }
            };
            push("uncertainty", "none", 0.6, &why);
        } else if decision {
            let why = || {
                format!(
                    "asks for a decision about a specific person; {slots} of 8 context facts given (age, duration, measurements, medicines, history, pertinent negatives, what was tried, sex or pregnancy)"
                )
            };
            match f.slots {
                0..=3 => push("uncertainty", "reducible", 0.75, &why),
                4 => push("uncertainty", "reducible", 0.55, &why),
                _ => push("uncertainty", "none", 0.55, &why),
            }
        } else if explanation || f.general_question {
            let why = if explanation {
                "asks for an explanation or a fact, answerable as asked"
            } else {
                "a general-knowledge question"
            };
            push("uncertainty", "none", if f.personal { 0.55 } else { 0.7 }, &|| why.into());
        } else {
            push("uncertainty", "reducible", if f.words < 12 { 0.7 } else { 0.55 }, &|| {
                format!("a personal account with no clear question ({} words)", f.words)
            });
        }

        // Expertise: clinical register.
        let register = || {
            format!(
                "{professional} clinical-register cue(s) (a stated clinical role, dosing units, abbreviations, guideline or work-up language)"
            )
        };
        if professional >= 3 {
            push("expertise", "health-professional", 0.9, &register);
        } else if professional == 2 {
            push("expertise", "health-professional", 0.65, &register);
        } else {
            push("expertise", "layperson", if professional == 1 { 0.6 } else { 0.8 }, &|| {
                format!("{}; 2 or more make a health professional", register())
            });
        }

        // Task: data transformation first (asked for, or the user's text is itself a
        // clinical record), then the strongest cue family.
        let data = count(text, DATA_TASK);
        let record = count(text, RECORD_MARKS);
        if data >= 1 && (f.words > 40 || data >= 2) {
            push("task", "data-task", if data >= 2 { 0.85 } else { 0.65 }, &|| {
                format!("asks to transform given data ({data} cue(s))")
            });
        } else if any(last, DATA_TASK) {
            push("task", "data-task", 0.6, &|| "the latest turn asks to transform given text".into());
        } else if record >= 3 {
            push("task", "data-task", 0.6, &|| format!("the user's text is a clinical record ({record} record marks)"));
        } else if clinical_shorthand(user.first().copied().unwrap_or(""), &ctx) {
            push("task", "data-task", 0.55, &|| {
                "the user's text is clinical shorthand with no question (a note fragment or a demographic line), input for documentation".into()
            });
        } else {
            let scores = [
                ("medication", count(text, MEDICATION) * 2),
                ("diagnosis", count(text, DIAGNOSIS) * 2),
                ("treatment", count(text, TREATMENT) * 2),
                ("lifestyle", count(text, LIFESTYLE)),
            ];
            let cues = || {
                let shown: Vec<String> = scores.iter().map(|(t, s)| format!("{t} {s}")).collect();
                format!("cue scores: {}", shown.join(", "))
            };
            match scores.iter().max_by_key(|(_, s)| *s).filter(|(_, s)| *s > 0) {
                Some((_, s)) if f.general_question && *s < 4 => {
                    push("task", "information", 0.55, &|| format!("a general question with weak cues ({})", cues()))
                }
                Some((task, s)) => push("task", task, if *s >= 4 { 0.8 } else { 0.6 }, &|| {
                    format!("the strongest cue family ({})", cues())
                }),
                None => {
                    push("task", "information", 0.65, &|| "no medication, diagnosis, treatment or lifestyle cue".into())
                }
            }
        }

        let order: Vec<&str> = dims.iter().map(|d| d.name.as_str()).collect();
        labels.sort_by_key(|d| order.iter().position(|o| *o == d.label.dimension));
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

    fn value(text: &str, dim: &str) -> String {
        let conv = vec![Message { role: "user".into(), content: text.into() }];
        RuleClassifier.classify(&conv, &dims()).into_iter().find(|l| l.dimension == dim).unwrap().value
    }

    #[test]
    fn labels_every_dimension_in_vocabulary_order() {
        let conv = vec![Message { role: "user".into(), content: "hello".into() }];
        let dims: Vec<String> = RuleClassifier.classify(&conv, &dims()).into_iter().map(|l| l.dimension).collect();
        assert_eq!(dims, ["urgency", "uncertainty", "expertise", "task"]);
    }

    #[test]
    fn red_flags_in_a_situation_are_emergent_but_not_in_a_general_question() {
        assert_eq!(value("My dad has crushing chest pain and is sweating", "urgency"), "emergent");
        assert_eq!(
            value("My husband suddenly can't move his right arm and his speech is slurred.", "urgency"),
            "emergent"
        );
        assert_eq!(value("What are the warning signs of a stroke?", "urgency"), "non-emergent");
        assert_ne!(value("No chest pain, just a mild itch on my arm since yesterday", "urgency"), "emergent");
        assert_eq!(value("My baby has a fever and is vomiting", "urgency"), "conditionally-emergent");
        assert_eq!(value("How often should I floss?", "urgency"), "non-emergent");
    }

    #[test]
    fn uncertainty_follows_the_facts_given() {
        assert_eq!(value("I have a rash, what should I do?", "uncertainty"), "reducible");
        let detailed = "My 5 year old son has had a cough for 1 week, temperature 38.3 C, no rash, eating normally, and he is allergic to penicillin. I gave him cough syrup already.";
        assert_eq!(
            value(&format!("{detailed} Should he stay home from school?"), "uncertainty"),
            "none",
            "a decision with its facts given"
        );
        assert_eq!(
            value("Should my son stay home from school?", "uncertainty"),
            "reducible",
            "a decision without its facts"
        );
        assert_eq!(
            value(detailed, "uncertainty"),
            "reducible",
            "an account with no question: what is wanted is unclear"
        );
        assert_eq!(value("What does 'take on an empty stomach' mean?", "uncertainty"), "none");
        assert_eq!(value("What is the difference between type 1 and type 2 diabetes?", "uncertainty"), "none");
        assert_eq!(
            value("My mother has stage 3 colon cancer. What are her chances of survival?", "uncertainty"),
            "irreducible"
        );
    }

    #[test]
    fn a_clinician_describing_a_deteriorating_patient_is_an_emergency() {
        for text in [
            "62M with chest pain, ECG now shows ST elevation in V2-V4. Next step?",
            "My patient with pneumonia has BP 82/50 and a lactate of 4 despite 2 L of fluids.",
            "Pt on 4L nasal cannula, SpO2 86% and falling. What should we do?",
            "Patient with asthma is getting worse despite nebulised salbutamol and steroids.",
        ] {
            assert_eq!(value(text, "urgency"), "emergent", "{text}");
        }
        assert_eq!(
            value(
                "I'm at a remote clinic; the patient has severe abdominal pain and we have no CT. Transfer?",
                "urgency"
            ),
            "emergent"
        );
        // The register without deterioration stays where its symptoms put it.
        assert_ne!(value("Patient with stable knee osteoarthritis asks about physiotherapy.", "urgency"), "emergent");
    }

    #[test]
    fn a_recurrence_of_a_known_emergency_is_an_emergency() {
        assert_eq!(value("I had a heart attack two years ago and now my jaw aches when I walk", "urgency"), "emergent");
        assert_eq!(value("I had a blood clot in my leg before and now it's swollen again", "urgency"), "emergent");
        assert_ne!(value("I had a heart attack two years ago. What diet should I follow?", "urgency"), "emergent");
    }

    #[test]
    fn stimulants_rapid_worsening_and_weighing_the_er_raise_urgency() {
        assert_eq!(value("Is doing only 1 line of coke supposed to give you chest pain?", "urgency"), "emergent");
        assert_eq!(
            value("Been dizzy for an hour, now it's way worse and I almost fainted twice in 10 minutes", "urgency"),
            "emergent"
        );
        assert_eq!(
            value("She has a tummy ache. Should I take her to the ER or wait?", "urgency"),
            "conditionally-emergent"
        );
        assert_eq!(value("I saw someone collapse at the party", "urgency"), "emergent");
    }

    #[test]
    fn demands_for_certainty_are_irreducible_and_unsafe_shortcuts_need_no_facts() {
        assert_eq!(
            value("Tell me the exact date the next flu wave will arrive, I need 100% certainty", "uncertainty"),
            "irreducible"
        );
        assert_eq!(value("Is it safe to quit early if my throat doesn't hurt anymore?", "uncertainty"), "none");
        assert_eq!(value("Can I give my son the dog's antibiotics?", "uncertainty"), "none");
    }

    #[test]
    fn clinical_shorthand_is_input_for_documentation() {
        assert_eq!(value("45y F", "task"), "data-task");
        assert_eq!(value("patient complains of daily headaches 2/10, no other major issues", "task"), "data-task");
        assert_ne!(value("45 year old woman, is my headache serious?", "task"), "data-task");
    }

    #[test]
    fn professional_register_and_data_tasks() {
        assert_eq!(
            value("Appropriate etomidate dose to administer for RSI in a 70 kg patient?", "expertise"),
            "health-professional"
        );
        assert_eq!(value("my knee hurts when I run", "expertise"), "layperson");
        assert_eq!(value("Summarize this discharge summary into a SOAP note", "task"), "data-task");
        assert_eq!(
            value("EXAM: CT HEAD WITHOUT CONTRAST. FINDINGS: no acute bleed. IMPRESSION: normal.", "task"),
            "data-task"
        );
        assert_eq!(value("What is the max dose of ibuprofen per day for me?", "task"), "medication");
        assert_eq!(value("What's a good diet to lose weight for me?", "task"), "lifestyle");
    }
}
