//! Bearer-token access: with `--token-file`, every route but `/healthz` wants
//! `Authorization: Bearer <token>`, compared in constant time.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// Whether `header` (the `Authorization` value) carries `token`.
pub fn authorized(header: Option<&str>, token: &str) -> bool {
    let given = header.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim).unwrap_or("");
    // ct_eq compares every byte of equal-length inputs; only the length can differ in time.
    !given.is_empty() && bool::from(given.as_bytes().ct_eq(token.as_bytes()))
}

/// The middleware: 401 unless the request carries the server's token (when it has one).
pub async fn require_token(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(token) = &s.config.token {
        let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if !authorized(header, token) {
            let mut resp = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token: send Authorization: Bearer <the token in the server's --token-file>",
            )
            .into_response();
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return resp;
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_passes() {
        assert!(authorized(Some("Bearer s3cret"), "s3cret"));
        assert!(!authorized(Some("Bearer s3cre"), "s3cret"));
        assert!(!authorized(Some("Bearer s3cretx"), "s3cret"));
        assert!(!authorized(Some("s3cret"), "s3cret"), "the scheme is required");
        assert!(!authorized(Some("Bearer "), "s3cret"));
        assert!(!authorized(None, "s3cret"));
    }
}
