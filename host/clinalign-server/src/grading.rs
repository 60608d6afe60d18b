//! The path every grading route shares: a sample (conversation, response, rubric or none)
//! gets its rubric — the one it came with, or one synthesized by the request's principle set
//! (cached per conversation) — and then its grades from the judge queue.

use std::sync::Arc;

use clinalign::{Grade, Label, Message, PrincipleSet, Query, Rubric, RubricEntry};

use crate::error::ApiError;
use crate::judge_queue::Refused;
use crate::rubric_cache::conversation_key;
use crate::state::{AppState, on_cores};

/// One response to grade.
pub struct Sample {
    /// Names the query of a synthesized rubric.
    pub id: String,
    pub conversation: Vec<Message>,
    /// Labels the caller gave (the classifier fills in the rest).
    pub scenario: Vec<Label>,
    pub response: String,
    /// The caller's rubric; `None` synthesizes one.
    pub rubric: Option<Vec<RubricEntry>>,
}

/// A graded sample.
pub struct Graded {
    /// The rubric's items, ungraded.
    pub items: Vec<RubricEntry>,
    /// One grade per item.
    pub grades: Vec<Grade>,
    /// The rubric synthesized for it, when it came without one.
    pub synthesized: Option<Arc<Rubric>>,
}

impl Graded {
    /// The items with their grades.
    pub fn graded_items(&self) -> Vec<RubricEntry> {
        let mut items = self.items.clone();
        for (item, g) in items.iter_mut().zip(&self.grades) {
            item.apply(g);
        }
        items
    }
}

/// Grades `samples` (the entries of the request's `list`) against their rubrics, synthesizing
/// the missing ones with `set`. Errors name the sample.
pub async fn grade(
    state: &AppState,
    set: Arc<PrincipleSet>,
    samples: Vec<Sample>,
    list: &'static str,
) -> Result<Vec<Graded>, ApiError> {
    let judge = state.judge()?.clone();
    let st = state.clone();
    // Rubrics first (CPU work), then every response joins the judge queue at once.
    let prepared = on_cores(move || {
        samples
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let key: Arc<str> = conversation_key(&s.conversation, &s.scenario).into();
                let (items, synthesized) = match s.rubric {
                    Some(items) => (items.iter().map(RubricEntry::ungraded).collect::<Vec<_>>(), None),
                    None => {
                        let rubric = rubric_for(&st, &set, &key, &s.id, &s.conversation, &s.scenario)
                            .map_err(|e| ApiError::in_row(list, i, &e))?;
                        (rubric.items.iter().map(RubricEntry::ungraded).collect(), Some(rubric))
                    }
                };
                Ok((key, s.conversation, s.response, items, synthesized))
            })
            .collect::<Result<Vec<_>, ApiError>>()
    })
    .await?;
    let mut pending = Vec::with_capacity(prepared.len());
    for (key, conversation, response, items, synthesized) in prepared {
        let reply = if items.is_empty() {
            None
        } else {
            match judge.submit(Arc::new(conversation), key, response, items.clone()) {
                Ok(rx) => Some(rx),
                Err(Refused::Full) => {
                    state.metrics.rejected.inc();
                    return Err(ApiError::unavailable("the judge queue is full; retry shortly", 1));
                }
                Err(Refused::Closed) => return Err(ApiError::unavailable("the server is stopping", 5)),
            }
        };
        pending.push((items, synthesized, reply));
    }
    let mut out = Vec::with_capacity(pending.len());
    for (i, (items, synthesized, reply)) in pending.into_iter().enumerate() {
        let mut grades = Vec::new();
        if let Some(rx) = reply {
            grades = match rx.await {
                Ok(Ok(g)) => g,
                Ok(Err(e)) => return Err(ApiError { row: Some(i), ..ApiError::internal(format!("{list}[{i}]: {e}")) }),
                Err(_) => return Err(ApiError::internal(format!("{list}[{i}]: the judge stopped before grading it"))),
            };
        }
        out.push(Graded { items, grades, synthesized });
    }
    Ok(out)
}

/// The rubric of a conversation (labelled `scenario` by the caller, `id` naming its query)
/// under `set`: cached, else synthesized and cached under `key`.
pub(crate) fn rubric_for(
    state: &AppState,
    set: &PrincipleSet,
    key: &str,
    id: &str,
    conversation: &[Message],
    scenario: &[Label],
) -> Result<Arc<Rubric>, String> {
    if let Some(r) = state.rubrics.get(key, set.hash()) {
        state.metrics.rubric_cache_hits.inc();
        return Ok(r);
    }
    state.metrics.rubric_cache_misses.inc();
    let query = Query { id: id.to_string(), conversation: conversation.to_vec(), scenario: scenario.to_vec() };
    let rubric = Arc::new(state.engine.synthesize_on(set, &query).map_err(|e| e.to_string())?);
    state.metrics.rubric(&rubric);
    state.rubrics.put(key, set.hash(), rubric.clone());
    Ok(rubric)
}
