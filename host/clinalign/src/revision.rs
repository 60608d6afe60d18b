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
}

/// Whether an item counts as met: its probability from a log-prob judge (≥ 0.5), else its
/// verdict.
fn is_met(item: &RubricEntry) -> bool {
    item.met(Reading::Probability).is_some_and(|p| p >= 0.5)
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
                .filter(|i| (i.points > 0) == positive && is_met(i) == met)
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

    #[test]
    fn feedback_names_unmet_items_and_penalties_in_plain_words() {
        let f = feedback(&["Advises calling 911.".into()], &["Suggests waiting.".into()]);
        assert!(f.contains("does not yet do") && f.contains("- Advises calling 911."));
        assert!(f.contains("must not do") && f.contains("- Suggests waiting."));
        assert_eq!(feedback(&[], &[]), "");
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
