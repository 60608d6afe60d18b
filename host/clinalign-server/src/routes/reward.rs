//! The reward routes: `/v1/reward` (a batch of `{conversation, response, rubric?}`, one
//! reward per pair) and `/get_reward` (OpenRLHF's remote reward-model shape). A reward is the
//! soft HealthBench score — Σ points·p_met / Σ positive points, clipped to 0..1 — and the
//! hard score (from `criteria_met`) comes with it. A sample that cannot be read or graded is
//! an error naming it, never a silent 0.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use clinalign::eval::soft_score;
use clinalign::{Message, PrincipleSet, Reading, Row, RubricEntry};
use serde_json::{Map, Value, json};

use crate::body;
use crate::error::ApiError;
use crate::grading::{self, Graded, Sample};
use crate::routes::named;
use crate::state::AppState;
use crate::transcript;

/// `POST /v1/reward`: `{"samples": [{conversation|messages|prompt, response, rubric?,
/// scenario?, id?}], "detail": false}` → `{"rewards", "scores", "principle_set", "judge",
/// "details"?}`.
pub async fn reward(State(s): State<AppState>, bytes: body::Body) -> Result<Response, ApiError> {
    let Value::Object(mut req) = body::json(bytes)? else {
        return Err(ApiError::bad_request("expected a JSON object {\"samples\": [...]}"));
    };
    let detail = body::flag(&req, "detail")?;
    let list = match req.remove("samples") {
        Some(Value::Array(l)) => l,
        Some(_) => return Err(ApiError::invalid("samples", "expected a list of {conversation, response, rubric?}")),
        None => {
            return Err(ApiError::invalid("samples", "missing: expected a list of {conversation, response, rubric?}"));
        }
    };
    body::check_count("samples", list.len(), &s.config.caps)?;
    let set = s.engine.principle_set();
    let mut samples = Vec::with_capacity(list.len());
    for (i, v) in list.into_iter().enumerate() {
        samples.push(sample(v, i, &set, &s)?);
    }
    let graded = grading::grade(&s, set.clone(), samples, "samples").await?;
    let judge = s.judge()?.name().to_string();
    let (rewards, scores) = rewards(&graded, "samples")?;
    let mut out = json!({ "rewards": rewards, "scores": scores, "principle_set": set.hash(), "judge": judge });
    if detail {
        out["details"] = graded
            .iter()
            .map(|g| {
                let mut d = json!({ "rubrics": g.graded_items() });
                if let Some(r) = &g.synthesized {
                    d["scenario"] = clinalign::row::scenario_json(&r.scenario);
                }
                d
            })
            .collect();
    }
    Ok(named(axum::Json(out).into_response(), &set))
}

/// Reads one sample of `/v1/reward`.
fn sample(v: Value, i: usize, set: &PrincipleSet, s: &AppState) -> Result<Sample, ApiError> {
    let Value::Object(fields) = v else {
        return Err(ApiError::in_row("samples", i, "expected a JSON object {conversation, response, rubric?}"));
    };
    let bad = |e: String| ApiError::in_row("samples", i, &e);
    let (row, response) = Row::from_sample(fields).map_err(bad)?;
    body::check_chars("samples", i, &row, &s.config.caps)?;
    let conversation = row.conversation().map_err(bad)?;
    let scenario = row.scenario(set.dimensions()).map_err(bad)?;
    let rubric = row.rubric().map_err(bad)?;
    let id = row.id().unwrap_or_else(|| format!("sample-{i}"));
    Ok(Sample { id, conversation, scenario, response, rubric })
}

/// The soft rewards and hard scores of graded samples; a rubric with no positive item has no
/// reward, which is an error naming the sample.
fn rewards(graded: &[Graded], list: &str) -> Result<(Vec<f64>, Vec<f64>), ApiError> {
    let mut rewards = Vec::with_capacity(graded.len());
    let mut scores = Vec::with_capacity(graded.len());
    for (i, g) in graded.iter().enumerate() {
        let items = g.graded_items();
        let soft = soft_score(&items).ok_or_else(|| {
            ApiError::in_row(list, i, "the rubric has no item with positive points, so the reward is undefined")
        })?;
        rewards.push(soft);
        scores.push(clinalign::eval::score(&items, Reading::Verdict).unwrap_or(0.0));
    }
    Ok((rewards, scores))
}

/// `POST /get_reward`, OpenRLHF's remote reward model: `{"query": [prompt+response as the
/// trainer decoded it], "prompts": [...], "labels": [...]}` → `{"rewards", "scores",
/// "extra_logs"}`. The conversation comes from `labels` when one is a row id the server was
/// given (`--rows`) or a JSON conversation/row, else from the transcript; the response is what
/// follows the prompt in the query, else the transcript's last assistant turn.
pub async fn get_reward(State(s): State<AppState>, bytes: body::Body) -> Result<Response, ApiError> {
    let Value::Object(req) = body::json(bytes)? else {
        return Err(ApiError::bad_request(
            "expected a JSON object {\"query\": [...], \"prompts\": [...], \"labels\": [...]}",
        ));
    };
    let query = strings(&req, "query", None)?;
    body::check_count("query", query.len(), &s.config.caps)?;
    let prompts = strings(&req, "prompts", Some(query.len()))?;
    let labels = labels(&req, query.len())?;
    let set = s.engine.principle_set();
    let own = s.chat_reader.as_ref().ok();
    let mut samples = Vec::with_capacity(query.len());
    for (i, q) in query.iter().enumerate() {
        let chars = q.chars().count();
        if chars > s.config.caps.max_chars {
            return Err(ApiError::in_row(
                "query",
                i,
                &format!("{chars} characters, more than the {} one sample may hold", s.config.caps.max_chars),
            ));
        }
        let prompt = prompts.get(i).map(String::as_str);
        let label =
            labels.get(i).and_then(|l| labelled(l, &s)).transpose().map_err(|e| ApiError::in_row("labels", i, &e))?;
        let (conversation, rubric, id, response) = match label {
            // The label gave the conversation: the response is what follows the prompt, the
            // transcript's last turn, or (plain text) the whole query.
            Some((conversation, rubric, id)) => {
                let response = match transcript::split(q, prompt, own) {
                    Ok((_, r)) => r,
                    Err(_) if transcript::turns(q, own).is_none() && !q.trim().is_empty() => q.trim().to_string(),
                    Err(e) => return Err(ApiError::in_row("query", i, &e)),
                };
                (conversation, rubric, id, response)
            }
            None => {
                let (conversation, response) =
                    transcript::split(q, prompt, own).map_err(|e| ApiError::in_row("query", i, &e))?;
                (conversation, None, format!("query-{i}"), response)
            }
        };
        samples.push(Sample { id, conversation, scenario: Vec::new(), response, rubric });
    }
    let graded = grading::grade(&s, set.clone(), samples, "query").await?;
    let (rewards, scores) = rewards(&graded, "query")?;
    let items: Vec<usize> = graded.iter().map(|g| g.items.len()).collect();
    let out = json!({
        "rewards": rewards,
        "scores": rewards,
        "extra_logs": { "healthbench_score": scores, "rubric_items": items },
        "principle_set": set.hash(),
    });
    Ok(named(axum::Json(out).into_response(), &set))
}

/// A list of strings (a bare string counts as a list of one); absent or empty is an empty
/// list; `len`, when given, is the only other length allowed.
fn strings(req: &Map<String, Value>, field: &str, len: Option<usize>) -> Result<Vec<String>, ApiError> {
    let list = match req.get(field) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ApiError::invalid(format!("{field}[{i}]"), "expected a string"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ApiError::invalid(field, "expected a list of strings")),
    };
    match len {
        Some(n) if !list.is_empty() && list.len() != n => {
            Err(ApiError::invalid(field, format!("{} entries for {n} queries", list.len())))
        }
        _ => Ok(list),
    }
}

/// `labels`: any JSON values, one per query (or none).
fn labels(req: &Map<String, Value>, n: usize) -> Result<Vec<Value>, ApiError> {
    match req.get("labels") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) if a.is_empty() || a.len() == n => Ok(a.clone()),
        Some(Value::Array(a)) => Err(ApiError::invalid("labels", format!("{} entries for {n} queries", a.len()))),
        Some(other) if n == 1 => Ok(vec![other.clone()]),
        Some(_) => Err(ApiError::invalid("labels", "expected a list, one entry per query")),
    }
}

/// What a label gives: the conversation, the rubric when it has one, and an id.
type Labelled = (Vec<Message>, Option<Vec<RubricEntry>>, String);

/// What a label says about its sample: a row id the server knows, or a conversation / row as
/// JSON (a string holding JSON, or the value itself). `None` for a label that is neither (a
/// math answer, say): the transcript is used.
fn labelled(label: &Value, s: &AppState) -> Option<Result<Labelled, String>> {
    let value = match label {
        Value::String(id) => {
            if let Some(row) = s.rows.get(id) {
                return Some(from_row(row, id));
            }
            match serde_json::from_str::<Value>(id) {
                Ok(v @ (Value::Array(_) | Value::Object(_))) => v,
                _ => return None,
            }
        }
        v @ (Value::Array(_) | Value::Object(_)) => v.clone(),
        _ => return None,
    };
    let row = match value {
        Value::Array(turns) => {
            let mut fields = Map::new();
            fields.insert("messages".into(), Value::Array(turns));
            Row { fields }
        }
        Value::Object(fields) => Row { fields },
        _ => return None,
    };
    let id = row.id().unwrap_or_else(|| "label".into());
    Some(from_row(&row, &id))
}

fn from_row(row: &Row, id: &str) -> Result<Labelled, String> {
    let mut conversation = row.conversation()?;
    // A row whose conversation ends with a reference answer: the trainer's response replaces it.
    if conversation.len() > 1 && conversation.last().is_some_and(|m| m.role == "assistant") {
        conversation.pop();
    }
    Ok((conversation, row.rubric()?, id.to_string()))
}
