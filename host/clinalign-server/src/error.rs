//! Errors as the service answers them: an HTTP status and a JSON body that names what is wrong
//! — `{"error": {"message", "field", "row"}}` — so a caller can fix the request without
//! reading the server's logs.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One failed request.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// The request field at fault (`rows[3].prompt[0].role`), when one is.
    pub field: Option<String>,
    /// The row (or sample) at fault, when one is.
    pub row: Option<usize>,
    /// Seconds after which a retry may succeed (429/503).
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), field: None, row: None, retry_after: None }
    }

    /// 400: the body is not the JSON the route reads.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 422: well-formed JSON whose content cannot be used; `field` is the path of the bad
    /// value inside the body.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        let field = field.into();
        let message = message.into();
        ApiError {
            field: Some(field.clone()),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, format!("{field}: {message}"))
        }
    }

    /// 422 for one row of a batch. `detail` is what the row reader said, which usually starts
    /// with the field inside the row (`prompt[0].role: …`); the field named is then
    /// `<list>[row].<that field>`.
    pub fn in_row(list: &str, row: usize, detail: &str) -> ApiError {
        let inner = detail.split_once(": ").map(|(f, _)| f).filter(|f| is_field_path(f));
        let field = match inner {
            Some(f) => format!("{list}[{row}].{f}"),
            None => format!("{list}[{row}]"),
        };
        ApiError {
            field: Some(field),
            row: Some(row),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, format!("{list}[{row}]: {detail}"))
        }
    }

    /// 503 with `Retry-After`: the server is full or not ready for this route.
    pub fn unavailable(message: impl Into<String>, retry_after: u32) -> ApiError {
        ApiError { retry_after: Some(retry_after), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, message) }
    }

    /// 500: something broke inside the server while answering this request only.
    pub fn internal(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

/// What a caught panic said.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".into())
}

/// Whether `s` reads as a field path (`prompt[0].role`, `rubrics`), not prose.
fn is_field_path(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '-'))
}

/// The 500 a panic while answering a request becomes (logged).
pub fn panicked(panic: &(dyn std::any::Any + Send)) -> ApiError {
    let what = panic_message(panic);
    tracing::error!("a request panicked: {what}");
    ApiError::internal(format!("the server failed on this request ({what}); other requests are unaffected"))
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "message": self.message, "field": self.field, "row": self.row } });
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_error_names_the_field_inside_the_row() {
        let e = ApiError::in_row("rows", 3, "prompt[0].role: unknown role \"bot\" (user, assistant, system)");
        assert_eq!(e.field.as_deref(), Some("rows[3].prompt[0].role"));
        assert_eq!(e.row, Some(3));
        assert!(e.message.starts_with("rows[3]: prompt[0].role: unknown role"), "{}", e.message);
        let e = ApiError::in_row("samples", 0, "no conversation: expected a \"prompt\" or \"messages\" list");
        assert_eq!(e.field.as_deref(), Some("samples[0]"), "prose before the colon is not a field");
    }
}
