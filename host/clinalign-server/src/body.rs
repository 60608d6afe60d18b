//! Reading request bodies: JSON with errors that say where it broke, and the row lists the
//! row routes take (one row object, or `{"rows": [...]}`), checked against the request caps.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use clinalign::Row;
use serde_json::{Map, Value};

use crate::config::RequestCaps;
use crate::error::ApiError;

/// A request body as handlers take it: the bytes, or why they could not be read (too large).
pub type Body = Result<Bytes, BytesRejection>;

/// Parses a body as JSON; a syntax error is a 400 with its line and column, a body over the
/// size limit a 413.
pub fn json(body: Body) -> Result<Value, ApiError> {
    let bytes = body.map_err(|r| ApiError::new(r.status(), format!("cannot read the body: {}", r.body_text())))?;
    parse(&bytes)
}

/// Parses bytes as JSON.
pub fn parse(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("empty body: expected a JSON object"));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

/// The rows of a row route's body, and whether it came as one bare row (answered with one
/// row) or as `{"rows": [...]}` (answered with a list).
pub struct Rows {
    pub rows: Vec<Row>,
    pub single: bool,
    /// The body's other fields (options such as `"detail": true`).
    pub options: Map<String, Value>,
}

/// Reads `{"rows": [row, …], …options}` or one bare row.
pub fn rows(body: Value, caps: &RequestCaps) -> Result<Rows, ApiError> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::bad_request("expected a JSON object: one row, or {\"rows\": [row, …]}"));
    };
    let (list, single) = match map.remove("rows") {
        Some(Value::Array(list)) => (list, false),
        Some(_) => return Err(ApiError::invalid("rows", "expected a list of row objects")),
        None => (vec![Value::Object(std::mem::take(&mut map))], true),
    };
    check_count("rows", list.len(), caps)?;
    let mut rows = Vec::with_capacity(list.len());
    for (i, v) in list.into_iter().enumerate() {
        let Value::Object(fields) = v else {
            return Err(ApiError::in_row("rows", i, "expected a JSON object"));
        };
        let row = Row { fields };
        check_chars("rows", i, &row, caps)?;
        rows.push(row);
    }
    Ok(Rows { rows, single, options: map })
}

/// 422 unless a batch is within the row cap (and not empty).
pub fn check_count(list: &str, n: usize, caps: &RequestCaps) -> Result<(), ApiError> {
    if n > caps.max_rows {
        return Err(ApiError::invalid(
            list,
            format!("{n} entries, more than the {} one request may hold", caps.max_rows),
        ));
    }
    Ok(())
}

/// 422 unless a row's text (every string in it) is within the character cap.
pub fn check_chars(list: &str, i: usize, row: &Row, caps: &RequestCaps) -> Result<(), ApiError> {
    let chars: usize = row.fields.values().map(text_chars).sum();
    if chars > caps.max_chars {
        return Err(ApiError::in_row(
            list,
            i,
            &format!("{chars} characters of text, more than the {} one row may hold", caps.max_chars),
        ));
    }
    Ok(())
}

/// Characters in every string of a JSON value.
pub fn text_chars(v: &Value) -> usize {
    match v {
        Value::String(s) => s.chars().count(),
        Value::Array(a) => a.iter().map(text_chars).sum(),
        Value::Object(o) => o.iter().map(|(k, v)| k.chars().count() + text_chars(v)).sum(),
        _ => 0,
    }
}

/// A boolean option of the body (`false` when absent); 422 when it is not a boolean.
pub fn flag(options: &Map<String, Value>, name: &str) -> Result<bool, ApiError> {
    match options.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::invalid(name, "expected true or false")),
    }
}

/// A whole-number option within `[lo, hi]`, `default` when absent; 422 naming it otherwise.
pub fn whole(options: &Map<String, Value>, name: &str, lo: u64, hi: u64, default: u64) -> Result<u64, ApiError> {
    match options.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|n| (lo..=hi).contains(n))
            .ok_or_else(|| ApiError::invalid(name, format!("expected a whole number from {lo} to {hi}, got {v}"))),
    }
}

/// Option `response_field`: the dotted field holding each row's response (`None` when absent);
/// 422 when it is not a string.
pub fn response_field(options: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match options.get("response_field") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(f)) => Ok(Some(f.clone())),
        Some(_) => Err(ApiError::invalid("response_field", "expected a dotted field name")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn caps() -> RequestCaps {
        RequestCaps { max_rows: 2, max_chars: 20 }
    }

    #[test]
    fn one_row_or_a_list() {
        let r = rows(json!({"prompt": [{"role": "user", "content": "hi"}]}), &caps()).unwrap();
        assert!(r.single);
        assert_eq!(r.rows.len(), 1);
        let r = rows(json!({"rows": [{"id": "a"}, {"id": "b"}], "detail": true}), &caps()).unwrap();
        assert!(!r.single);
        assert_eq!(r.rows.len(), 2);
        assert!(flag(&r.options, "detail").unwrap());
    }

    #[test]
    fn caps_and_shapes_are_named() {
        let e = rows(json!({"rows": [{}, {}, {}]}), &caps()).err().unwrap();
        assert_eq!(e.field.as_deref(), Some("rows"));
        let e = rows(json!({"rows": [{"id": "a"}, 3]}), &caps()).err().unwrap();
        assert_eq!((e.field.as_deref(), e.row), (Some("rows[1]"), Some(1)));
        let e = rows(json!({"rows": [{"prompt": "x".repeat(30)}]}), &caps()).err().unwrap();
        assert!(e.message.contains("characters"), "{}", e.message);
        let e = parse(b"{\"rows\": [").err().unwrap();
        assert_eq!(e.status.as_u16(), 400);
        assert!(e.message.contains("line 1"), "{}", e.message);
        assert_eq!(flag(&json!({"detail": "yes"}).as_object().unwrap().clone(), "detail").err().unwrap().status, 422);
    }

    #[test]
    fn whole_number_and_field_options_are_checked_and_named() {
        let o = json!({"rounds": 3, "max_tokens": 0, "bad": "x", "response_field": 7}).as_object().unwrap().clone();
        assert_eq!(whole(&o, "rounds", 0, 20, 2).unwrap(), 3);
        assert_eq!(whole(&o, "absent", 0, 20, 2).unwrap(), 2);
        let e = whole(&o, "max_tokens", 1, 4096, 256).unwrap_err();
        assert_eq!((e.status.as_u16(), e.field.as_deref()), (422, Some("max_tokens")));
        assert!(whole(&o, "bad", 0, 20, 2).unwrap_err().message.contains("whole number"));
        assert_eq!(response_field(&o).unwrap_err().field.as_deref(), Some("response_field"));
        let o = json!({"response_field": "answer.text"}).as_object().unwrap().clone();
        assert_eq!(response_field(&o).unwrap().as_deref(), Some("answer.text"));
        assert_eq!(response_field(&Map::new()).unwrap(), None);
    }
}
