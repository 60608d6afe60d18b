//! `POST /v1/revise`: self-revision of an answer per row, as `clinalign revise` does it — the
//! served model drafts (or the row's response is the draft), the judge grades against the
//! row's rubric (cached per conversation), and the unmet items and triggered penalties become
//! the feedback for the next answer. Each row comes back with its `revision`.
//!
//! The body is one row or `{"rows": [...]}`, with options `rounds` (0–20, default 2),
//! `max_tokens` (1–4096, default 256) and `response_field`. A bare row may carry the options
//! among its own fields, so the arguments of the `clinalign_revise` tool call
//! ([`crate::tool_schema`]) can be posted as they are.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use clinalign::revision::{RevisionPolicy, revise as revise_answer};
use clinalign::{Grade, Judge, Message, ModelError, RubricEntry};

use crate::body;
use crate::error::ApiError;
use crate::grading::rubric_for;
use crate::judge_queue::{JudgeQueue, Refused};
use crate::routes::rows::rows_reply;
use crate::rubric_cache::conversation_key;
use crate::state::{AppState, blocking};

/// The options a body may set.
const OPTIONS: [&str; 3] = ["rounds", "max_tokens", "response_field"];

/// `POST /v1/revise`.
pub async fn revise(State(s): State<AppState>, bytes: body::Body) -> Result<Response, ApiError> {
    let mut req = body::rows(body::json(bytes)?, &s.config.caps)?;
    if req.single {
        for name in OPTIONS {
            if let Some(v) = req.rows[0].fields.remove(name) {
                req.options.insert(name.into(), v);
            }
        }
    }
    let policy = RevisionPolicy {
        rounds: body::whole(&req.options, "rounds", 0, 20, 2)? as usize,
        max_tokens: body::whole(&req.options, "max_tokens", 1, 4096, 256)? as u32,
    };
    let response_field = body::response_field(&req.options)?;
    let model = s.model()?.clone();
    let queue = s.judge()?.clone();
    let set = s.engine.principle_set();
    let (st, set2) = (s.clone(), set.clone());
    let single = req.single;
    let rows = blocking(move || {
        let mut out = Vec::with_capacity(req.rows.len());
        for (i, mut row) in req.rows.into_iter().enumerate() {
            let bad = |e: &str| ApiError::in_row("rows", i, e);
            let (conversation, draft) = row.draft_turns(response_field.as_deref()).map_err(|e| bad(&e))?;
            let scenario = row.scenario(set2.dimensions()).map_err(|e| bad(&e))?;
            let key: Arc<str> = conversation_key(&conversation, &scenario).into();
            let items = match row.rubric().map_err(|e| bad(&e))? {
                Some(items) => items.iter().map(RubricEntry::ungraded).collect::<Vec<_>>(),
                None => {
                    let id = row.id().unwrap_or_else(|| format!("row-{i}"));
                    let rubric = rubric_for(&st, &set2, &key, &id, &conversation, &scenario).map_err(|e| bad(&e))?;
                    rubric.items.iter().map(RubricEntry::ungraded).collect()
                }
            };
            if items.is_empty() {
                return Err(bad(
                    "the principles wrote no rubric item for this conversation, so there is nothing to revise against",
                ));
            }
            let judge = QueuedJudge { queue: queue.clone(), key };
            let r = revise_answer(&conversation, &items, draft.as_deref(), model.as_ref(), &judge, policy)
                .map_err(|e| revision_error(i, e))?;
            row.fields.insert("revision".into(), r.to_value());
            out.push(row);
        }
        Ok(out)
    })
    .await?;
    Ok(rows_reply(rows, single, &set, None))
}

/// Messages of a judge refusal, told apart from the model's own errors.
const QUEUE_FULL: &str = "the judge queue is full; retry shortly";
const STOPPING: &str = "the server is stopping";

fn revision_error(i: usize, e: ModelError) -> ApiError {
    match &e {
        ModelError::Unavailable(m) if m == QUEUE_FULL => ApiError::unavailable(QUEUE_FULL, 1),
        ModelError::Unavailable(m) if m == STOPPING => ApiError::unavailable(STOPPING, 5),
        _ => ApiError { row: Some(i), ..ApiError::internal(format!("rows[{i}]: {e}")) },
    }
}

/// The server's judge queue as a [`Judge`] for the revision loop, which runs on a blocking
/// thread: each answer joins the queue (and its batches) like any other response and waits
/// for its grades.
struct QueuedJudge {
    queue: JudgeQueue,
    /// The conversation's key, shared with the grading routes' jobs.
    key: Arc<str>,
}

impl Judge for QueuedJudge {
    fn name(&self) -> String {
        self.queue.name().to_string()
    }

    fn grade(&self, conversation: &[Message], response: &str, items: &[RubricEntry]) -> Result<Vec<Grade>, ModelError> {
        let rx = self
            .queue
            .submit(Arc::new(conversation.to_vec()), self.key.clone(), response.to_string(), items.to_vec())
            .map_err(|r| match r {
                Refused::Full => ModelError::Unavailable(QUEUE_FULL.into()),
                Refused::Closed => ModelError::Unavailable(STOPPING.into()),
            })?;
        match rx.blocking_recv() {
            Ok(r) => r.map_err(ModelError::Failed),
            Err(_) => Err(ModelError::Failed("the judge stopped before grading the answer".into())),
        }
    }
}
