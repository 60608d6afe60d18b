//! Self-revision, the paper's inference-time use of the principles: a model drafts an
//! answer, a judge checks it against the query's rubric, and the items it missed (and the
//! penalties it triggered) become plain-words feedback for the next answer. It stops after
//! `rounds` revisions, when the score stops improving, or when every positive item is met and
//! no penalty is; it keeps the best answer, not the last, and records every round.

use serde::Serialize;

use crate::eval::scoring::soft_score;
use clinalign_core::{Judge, LanguageModel, Message, ModelError, Reading, RubricEntry};

/// How long a revision runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevisionPolicy {
    /// Most revisions after the draft.
    pub rounds: usize,
    /// Most tokens of one answer.
    pub max_tokens: u32,
}

impl Default for RevisionPolicy {
    fn default() -> Self {
        RevisionPolicy { rounds: 2, max_tokens: 256 }
    }
}

/// One answer and what the judge made of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Round {
    /// 0 for the draft.
    pub round: usize,
    pub answer: String,
    /// The soft score (the RL reward) of this answer: clip(Σ points·p_met / Σ positive points).
    pub score: Option<f64>,
    /// Positive items met, unmet, and penalties triggered (criteria, in rubric order).
    pub met: Vec<String>,
    pub unmet: Vec<String>,
    pub penalties: Vec<String>,
    /// The feedback this answer got for the next round (none for the last).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// `rounds` revisions were made.
    Rounds,
    /// A revision did not score above the best answer so far.
    NoImprovement,
    /// Every positive item was met and no penalty was.
    AllMet,
}

/// A whole revision: every round, the best one and why it stopped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Revision {
    pub rounds: Vec<Round>,
    /// Index into `rounds` of the best-scoring answer (the earliest among equals).
    pub best: usize,
    pub stopped: Stop,
}

impl Revision {
    /// The answer to keep.
    pub fn best_answer(&self) -> &str {
        &self.rounds[self.best].answer
    }

    /// The revision as rows carry it (`revision` of `clinalign revise` and `POST /v1/revise`):
    /// every round, `best`, `stopped`, and `best_answer`, `draft_score`, `best_score`.
    pub fn to_value(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("a revision is plain data");
        v["best_answer"] = serde_json::Value::String(self.best_answer().to_string());
        v["draft_score"] = serde_json::json!(self.rounds[0].score);
        v["best_score"] = serde_json::json!(self.rounds[self.best].score);
        v
    }
}

/// The conversation as the model reads it: the user's words alone for a single turn, else a
/// transcript.
fn transcript(conversation: &[Message]) -> String {
    match conversation {
        [only] if only.role == "user" => only.content.clone(),
        _ => {
            let turns: Vec<String> =
                conversation.iter().map(|m| format!("{}: {}", role_name(&m.role), m.content)).collect();
            format!("{}\n\nReply to the user's last message.", turns.join("\n\n"))
        }
    }
}

fn role_name(role: &str) -> &str {
    match role {
        "user" => "User",
        "assistant" => "Assistant",
        "system" => "System",
        other => other,
    }
}

/// The feedback on one answer, in plain words.
pub fn feedback(unmet: &[String], penalties: &[String]) -> String {
    let list = |items: &[String]| items.iter().map(|c| format!("- {c}")).collect::<Vec<_>>().join("\n");
    let mut parts = Vec::new();
    if !unmet.is_empty() {
        parts.push(format!("The draft does not yet do these things a good reply does:\n{}", list(unmet)));
    }
    if !penalties.is_empty() {
        parts.push(format!("The draft does these things a good reply must not do:\n{}", list(penalties)));
    }
    parts.join("\n\n")
}

/// The prompt for the next answer.
fn revision_prompt(conversation: &[Message], answer: &str, feedback: &str) -> String {
    format!(
        "{}\n\nA draft reply:\n\"\"\"\n{answer}\n\"\"\"\n\nA clinician reviewed the draft.\n{feedback}\n\nWrite an improved \
         reply to the user: keep what was right, fix what the review names. Give only the new reply.",
        transcript(conversation)
    )
}

/// Revises an answer to `conversation` against `items` (the query's rubric): from `draft`
/// when given, else from one the model writes.
pub fn revise(
    conversation: &[Message],
    items: &[RubricEntry],
    draft: Option<&str>,
    model: &dyn LanguageModel,
    judge: &dyn Judge,
    policy: RevisionPolicy,
) -> Result<Revision, ModelError> {
    let mut answer = match draft {
        Some(d) => d.to_string(),
        None => model.generate(&transcript(conversation), policy.max_tokens)?.trim().to_string(),
    };
    let mut rounds: Vec<Round> = Vec::new();
    let mut best: Option<(usize, f64)> = None;
    loop {
        let n = rounds.len();
        let grades = judge.grade(conversation, &answer, items)?;
        let mut graded = items.to_vec();
        for (item, g) in graded.iter_mut().zip(&grades) {
            item.apply(g);
        }
        let score = soft_score(&graded);
        let pick = |positive: bool, met: bool| -> Vec<String> {
            graded
                .iter()
                .filter(|i| (i.points > 0) == positive && i.is_met(Reading::Probability) == met)
                .map(|i| i.criterion.clone())
                .collect()
        };
        let (met, unmet, penalties) = (pick(true, true), pick(true, false), pick(false, true));
        let value = score.unwrap_or(0.0);
        let improved = best.is_none_or(|(_, b)| value > b);
        if improved {
            best = Some((n, value));
        }
        let stop = if unmet.is_empty() && penalties.is_empty() {
            Some(Stop::AllMet)
        } else if n > 0 && !improved {
            Some(Stop::NoImprovement)
        } else if n >= policy.rounds {
            Some(Stop::Rounds)
        } else {
            None
        };
        let mut round = Round { round: n, answer: answer.clone(), score, met, unmet, penalties, feedback: None };
        if let Some(stopped) = stop {
            rounds.push(round);
            let best = best.map_or(0, |(i, _)| i);
            return Ok(Revision { rounds, best, stopped });
        }
        let fb = feedback(&round.unmet, &round.penalties);
        answer = model.generate(&revision_prompt(conversation, &answer, &fb), policy.max_tokens)?.trim().to_string();
        round.feedback = Some(fb);
        rounds.push(round);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinalign_core::Grade;

    #[test]
    fn feedback_names_unmet_items_and_penalties_in_plain_words() {
        let f = feedback(&["Advises calling 911.".into()], &["Suggests waiting.".into()]);
        assert!(f.contains("does not yet do") && f.contains("- Advises calling 911."));
        assert!(f.contains("must not do") && f.contains("- Suggests waiting."));
        assert_eq!(feedback(&[], &[]), "");
    }

    /// Answers in turn from a script.
    struct Writer(std::sync::Mutex<Vec<&'static str>>);

    impl LanguageModel for Writer {
        fn name(&self) -> &str {
            "writer"
        }
        fn generate(&self, _prompt: &str, _max_tokens: u32) -> Result<String, ModelError> {
            let mut left = self.0.lock().unwrap();
            Ok(if left.is_empty() { "out of answers".into() } else { left.remove(0).into() })
        }
        fn score_options(&self, _prompt: &str, options: &[String]) -> Result<Vec<f32>, ModelError> {
            Ok(vec![0.0; options.len()])
        }
    }

    /// Meets an item when the answer mentions the item's first word.
    struct WordJudge;

    impl Judge for WordJudge {
        fn name(&self) -> String {
            "word".into()
        }
        fn grade(&self, _c: &[Message], response: &str, items: &[RubricEntry]) -> Result<Vec<Grade>, ModelError> {
            Ok(items
                .iter()
                .map(|i| {
                    let word = i.criterion.split(':').next().unwrap().to_lowercase();
                    let met = response.to_lowercase().contains(&word);
                    Grade { criteria_met: met, p_met: Some(if met { 0.9 } else { 0.1 }), explanation: None }
                })
                .collect())
        }
    }

    fn rubric() -> Vec<RubricEntry> {
        vec![
            RubricEntry::new("Ambulance: says to call one.", 10, vec![]),
            RubricEntry::new("Aspirin: suggests chewing one.", 5, vec![]),
            RubricEntry::new("Wait: suggests waiting at home.", -8, vec![]),
        ]
    }

    fn user(c: &str) -> Vec<Message> {
        vec![Message { role: "user".into(), content: c.into() }]
    }

    #[test]
    fn the_loop_keeps_the_best_answer_and_says_why_it_stopped() {
        let items = rubric();
        let policy = RevisionPolicy { rounds: 3, max_tokens: 16 };
        // Draft 0 points; round 1 meets the ambulance item; round 2 regresses: no improvement.
        let writer = Writer(std::sync::Mutex::new(vec!["wait and see", "call an ambulance", "wait at home"]));
        let r = revise(&user("chest pain"), &items, None, &writer, &WordJudge, policy).unwrap();
        assert_eq!(r.rounds.len(), 3);
        assert_eq!(r.stopped, Stop::NoImprovement);
        assert_eq!(r.best, 1);
        assert_eq!(r.best_answer(), "call an ambulance");
        assert!(r.rounds[r.best].score >= r.rounds[0].score);
        assert_eq!(r.rounds[0].penalties, ["Wait: suggests waiting at home."]);
        let fb = r.rounds[0].feedback.as_deref().unwrap();
        assert!(fb.contains("- Ambulance: says to call one.") && fb.contains("must not do"), "{fb}");
        assert!(r.rounds[2].feedback.is_none(), "the last round gives no feedback");
        let v = r.to_value();
        assert_eq!((v["best"].as_u64(), v["stopped"].as_str()), (Some(1), Some("no-improvement")));
        assert_eq!(v["best_answer"], "call an ambulance");

        // Everything met at once: no revision is asked for.
        let r = revise(&user("x"), &items, Some("ambulance and aspirin"), &writer, &WordJudge, policy).unwrap();
        assert_eq!((r.rounds.len(), r.stopped), (1, Stop::AllMet));

        // Rounds run out while every revision improves.
        let writer = Writer(std::sync::Mutex::new(vec!["ambulance"]));
        let policy = RevisionPolicy { rounds: 1, max_tokens: 16 };
        let r = revise(&user("x"), &items, Some("nothing useful"), &writer, &WordJudge, policy).unwrap();
        assert_eq!((r.rounds.len(), r.best, r.stopped), (2, 1, Stop::Rounds));
        assert_eq!(r.rounds[0].answer, "nothing useful", "the given response is the draft");
    }

    #[test]
    fn a_single_user_turn_is_sent_as_is_and_longer_ones_as_a_transcript() {
        let user = |c: &str| Message { role: "user".into(), content: c.into() };
        assert_eq!(transcript(&[user("Is 38.5 a fever?")]), "Is 38.5 a fever?");
        let t =
            transcript(&[user("Hi"), Message { role: "assistant".into(), content: "Hello".into() }, user("Fever?")]);
        assert!(t.starts_with("User: Hi\n\nAssistant: Hello\n\nUser: Fever?") && t.ends_with("last message."));
    }
}
