//! The local model behind OpenAI-compatible routes: `POST /v1/chat/completions` and
//! `POST /v1/completions`, with `logprobs`/`top_logprobs` (the protocol layer is
//! `clinalign_infer::openai_api`). Errors come in OpenAI's shape
//! (`{"error": {"message", "type", "param"}}`), which OpenAI clients read.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clinalign_infer::local::LocalModel;
use clinalign_infer::openai_api::{self, ChatCompletionRequest, CompletionRequest};

use crate::body::Body;
use crate::error::ApiError;
use crate::state::{AppState, blocking};

/// An OpenAI-shaped error response.
fn openai_error(e: openai_api::ApiError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(e.body())).into_response()
}

/// The body's bytes, or the error a too-large body is.
fn bytes(body: Body) -> Result<axum::body::Bytes, openai_api::ApiError> {
    body.map_err(|r| openai_api::ApiError::invalid_request(format!("cannot read the body: {}", r.body_text())))
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(State(s): State<AppState>, body: Body) -> Response {
    answer(s, body, ChatCompletionRequest::from_json, openai_api::chat_completion_until).await
}

/// `POST /v1/completions`.
pub async fn completions(State(s): State<AppState>, body: Body) -> Response {
    answer(s, body, CompletionRequest::from_json, openai_api::completion_until).await
}

/// Sets its flag when dropped: when the request's future is dropped (its client left, or
/// the deadline passed), the generation it started stops at the next token.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Reads a request with `parse` and answers it with `reply` on the local model, off the
/// async threads; generation stops if the request goes away first.
async fn answer<Req: Send + 'static, Reply: serde::Serialize + Send + 'static>(
    s: AppState,
    body: Body,
    parse: fn(&[u8]) -> Result<Req, openai_api::ApiError>,
    reply: fn(&LocalModel, &Req, &AtomicBool) -> Result<Reply, openai_api::ApiError>,
) -> Response {
    let model = match s.model() {
        Ok(m) => m.clone(),
        Err(e) => return e.into_response(),
    };
    let req = match bytes(body).and_then(|b| parse(&b)) {
        Ok(r) => r,
        Err(e) => return openai_error(e),
    };
    let cancelled = Arc::new(AtomicBool::new(false));
    let _cancel_on_drop = CancelOnDrop(cancelled.clone());
    let metrics = s.metrics.clone();
    let work = move || {
        let r = reply(&model, &req, &cancelled);
        if r.as_ref().is_err_and(|e| e.is_cancelled()) {
            metrics.generations_cancelled.inc();
        }
        Ok::<_, ApiError>(r)
    };
    match blocking(work).await {
        Ok(Ok(r)) => axum::Json(r).into_response(),
        Ok(Err(e)) => openai_error(e),
        Err(e) => e.into_response(),
    }
}
