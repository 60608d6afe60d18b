//! The row routes, whose bodies mirror the CLI's files (one row, or `{"rows": [...]}`):
//! `/v1/classify` (rows + `scenario`), `/v1/rubrics` (rows + `scenario`, `rubrics`,
//! `principle_set`, as `clinalign synthesize`), `/v1/explain` (rows + `explanation`) and `/v1/grade` (rows + graded `rubrics` and
//! `grade`, as `clinalign grade`, with the HealthBench summary).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use clinalign::eval::GradeSummary;
use clinalign::{PrincipleSet, Row};
use serde_json::{Value, json};

use crate::body;
use crate::error::ApiError;
use crate::grading::{self, Sample};
use crate::routes::{engine_detail, named};
use crate::state::{AppState, on_cores};

/// `POST /v1/classify`: each row with its `scenario` (own labels kept, the rest classified).
pub async fn classify(State(s): State<AppState>, bytes: body::Body) -> Result<Response, ApiError> {
    each_row(s, bytes, |st, set, mut row, query| {
        let labels = st.engine.scenario_on(set, &query).map_err(|e| engine_detail(&e))?;
        row.set_scenario(&labels);
        row.fields.insert("principle_set".into(), Value::String(set.hash().to_string()));
        Ok(row)
    })
    .await
}

/// `POST /v1/rubrics`: each row synthesized, as `clinalign synthesize` writes it.
pub async fn rubrics(State(s): State<AppState>, bytes: body::Body) -> Result<Response, ApiError> {
    each_row(s, bytes, |st, set, row, query| {
        let rubric = st.engine.synthesize_on(set, &query).map_err(|e| engine_detail(&e))?;
        st.metrics.rubric(&rubric);
        Ok(row.synthesized(&rubric))
    })
    .await
}

/// `POST /v1/explain`: each row with its `explanation`, as `clinalign explain --json` gives
/// it: every scenario label with its confidence and the rule behind it, the principle pool
/// (what each principle did: emitted, silent and why, skipped by its gate, failed) and the
/// rubric. The playground shows it.
pub async fn explain(State(s): State<AppState>, bytes: body::Body) -> Result<Response, ApiError> {
    each_row(s, bytes, |st, set, mut row, query| {
        let e = st.engine.explain_on(set, &query).map_err(|e| engine_detail(&e))?;
        let v = serde_json::to_value(&e).map_err(|e| format!("cannot write the explanation: {e}"))?;
        row.fields.insert("explanation".into(), v);
        row.fields.insert("principle_set".into(), Value::String(set.hash().to_string()));
        Ok(row)
    })
    .await
}

/// Answers a row route: every row of the body, read as a query, through `answer` with the
/// set live when the request came in (off the async threads); an error names its row.
async fn each_row(
    s: AppState,
    bytes: body::Body,
    answer: fn(&AppState, &PrincipleSet, Row, clinalign::Query) -> Result<Row, String>,
) -> Result<Response, ApiError> {
    let req = body::rows(body::json(bytes)?, &s.config.caps)?;
    let single = req.single;
    let set = s.engine.principle_set();
    let set2 = set.clone();
    let rows = on_cores(move || {
        req.rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let query =
                    row.query(&format!("row-{i}"), set2.dimensions()).map_err(|e| ApiError::in_row("rows", i, &e))?;
                answer(&s, &set2, row, query).map_err(|e| ApiError::in_row("rows", i, &e))
            })
            .collect::<Result<Vec<_>, ApiError>>()
    })
    .await?;
    Ok(rows_reply(rows, single, &set, None))
}

/// `POST /v1/grade`: each row's response judged against its rubric (synthesized when the row
/// has none), with per-item `criteria_met`/`p_met`, the row's `grade`, and a `summary` of the
/// HealthBench metrics over the request's rows. Option `"response_field"`: the dotted field
/// holding the response.
pub async fn grade(State(s): State<AppState>, bytes: body::Body) -> Result<Response, ApiError> {
    let req = body::rows(body::json(bytes)?, &s.config.caps)?;
    let response_field = body::response_field(&req.options)?;
    let set = s.engine.principle_set();
    let judge = s.judge()?.name().to_string();
    let mut samples = Vec::with_capacity(req.rows.len());
    for (i, row) in req.rows.iter().enumerate() {
        let bad = |e: String| ApiError::in_row("rows", i, &e);
        let (conversation, response) = row.graded_turns(response_field.as_deref()).map_err(bad)?.ok_or_else(|| {
            bad("no response to grade: put it in \"completion\" or \"response\" (or name the field with \"response_field\"), or end the conversation with the assistant's turn".into())
        })?;
        let scenario = row.scenario(set.dimensions()).map_err(bad)?;
        let rubric = row.rubric().map_err(bad)?;
        let id = row.id().unwrap_or_else(|| format!("row-{i}"));
        samples.push(Sample { id, conversation, scenario, response, rubric });
    }
    let graded = grading::grade(&s, set.clone(), samples, "rows").await?;
    let mut rows = Vec::with_capacity(graded.len());
    for (row, g) in req.rows.into_iter().zip(graded) {
        let row = match &g.synthesized {
            Some(r) => row.synthesized(r),
            None => row,
        };
        rows.push(row.graded(g.items, &g.grades, &judge));
    }
    let summary = summary(&rows);
    Ok(rows_reply(rows, req.single, &set, Some(json!({ "summary": summary, "judge": judge }))))
}

/// HealthBench metrics over graded rows, and the mean soft reward.
fn summary(rows: &[Row]) -> Value {
    let mut summary = GradeSummary::default();
    for row in rows {
        // These rows were graded just now, so only the caller's `example_tags` can be
        // unreadable: such a row counts without its tags.
        if summary.add(row).is_err() {
            let mut untagged = row.clone();
            untagged.fields.remove("example_tags");
            let _ = summary.add(&untagged);
        }
    }
    summary.finish()
}

/// One row back for one row in; `{"rows": [...], "principle_set", …extra}` for a list.
pub(crate) fn rows_reply(rows: Vec<Row>, single: bool, set: &Arc<PrincipleSet>, extra: Option<Value>) -> Response {
    // Rows are JSON objects already: they are serialized as they are, not copied into a new
    // tree first (a rubric row is 10–20 KB).
    let extra = match extra {
        Some(Value::Object(extra)) => extra,
        _ => serde_json::Map::new(),
    };
    if single {
        let mut row = rows.into_iter().next().expect("one row");
        row.fields.extend(extra);
        return named(axum::Json(row).into_response(), set);
    }
    #[derive(serde::Serialize)]
    struct Batch<'a> {
        principle_set: &'a str,
        #[serde(flatten)]
        extra: serde_json::Map<String, Value>,
        rows: Vec<Row>,
    }
    named(axum::Json(Batch { principle_set: set.hash(), extra, rows }).into_response(), set)
}
