//! PENDING MERGE: OpenAI-compatible routes (replaced when the protocol layer lands).

use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub async fn chat_completions() -> Response {
    ApiError::internal("pending").into_response()
}

pub async fn completions() -> Response {
    ApiError::internal("pending").into_response()
}
