//! `/healthz` (what the server runs: the principle set, the last reload and its error, the
//! judge, the model, the transcript formats, the backend), `/metrics` and `/openapi.json`.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::AppState;

/// `GET /healthz`.
pub async fn healthz(State(s): State<AppState>) -> Response {
    let (set, last) = s.engine.status();
    let reload = last.as_ref().map(|r| {
        let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
        if let clinalign::ReloadOutcome::Rejected { reason, .. } = &r.outcome {
            v["error"] = Value::String(reason.clone());
        }
        v
    });
    let body = json!({
        "status": "ok",
        "principle_set": {
            "hash": set.hash(),
            "principles": set.principles().len(),
            "left_out": set.failures().len(),
        },
        "watching": s.watching,
        "last_reload": reload,
        "judge": s.judge.as_ref().map(|j| j.name().to_string()),
        "model": s.model.as_ref().map(|m| m.path().display().to_string()),
        // The model principles granted "generate"/"score" reach (local or remote).
        "principle_model": s.engine.language_model().map(|m| m.name().to_string()),
        // The chat formats `/get_reward` reads transcripts in.
        "transcripts": {
            "served_model": s.chat_reader.is_ok(),
            "served_model_error": s.chat_reader.as_ref().err(),
            "builtin": ["chatml", "llama3"],
        },
        "backend": s.config.backend,
        "version": env!("CARGO_PKG_VERSION"),
    });
    crate::routes::named(axum::Json(body).into_response(), &set)
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(s): State<AppState>) -> Response {
    let mut resp = s.metrics.render().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    resp
}

/// `GET /v1/tools`: the engine's tools as OpenAI function-calling schemas, each with the route
/// that executes it.
pub async fn tools() -> Response {
    let tools: Vec<Value> = crate::tool_schema::tools()
        .into_iter()
        .map(|(name, route, schema)| json!({ "name": name, "route": format!("POST {route}"), "schema": schema }))
        .collect();
    axum::Json(json!({ "tools": tools })).into_response()
}

/// `GET /openapi.json`.
pub async fn openapi() -> Response {
    axum::Json(crate::openapi::document()).into_response()
}
