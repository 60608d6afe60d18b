//! Hand-validated JSON configs whose errors name the offending field.
//!
//! [`parse_config`](crate::parse_config) is enough when serde's messages will do. A
//! principle that wants precise, user-facing messages ("max_items: expected a whole number
//! from 1 to 32, got 50") reads its `[config]` table with these helpers instead: parse the
//! text with [`parse_object`], then match over the keys and read each value with a typed
//! reader. Every reader takes the field's path (`"max_items"`, `"extra_drugs[1].name"`) and
//! starts its error with it.
//!
//! ```
//! use clinalign_sdk::config;
//!
//! #[derive(Debug, PartialEq)]
//! struct Config { max_items: usize, label: String }
//!
//! fn from_json(json: &str) -> Result<Config, String> {
//!     let mut c = Config { max_items: 8, label: "default".into() };
//!     let Some(map) = config::parse_object(json)? else { return Ok(c) };
//!     for (key, v) in &map {
//!         match key.as_str() {
//!             "max_items" => c.max_items = config::whole_number(key, v, 1..=32)?,
//!             "label" => c.label = config::non_empty_text(key, v, 40)?.to_string(),
//!             other => return Err(config::unknown_field(other, &["max_items", "label"])),
//!         }
//!     }
//!     Ok(c)
//! }
//!
//! assert_eq!(from_json("").unwrap().max_items, 8);
//! assert_eq!(from_json(r#"{"max_items": 50}"#).unwrap_err(),
//!            "max_items: expected a whole number from 1 to 32, got 50");
//! assert_eq!(from_json(r#"{"colour": 1}"#).unwrap_err(),
//!            "colour: unknown field (known: max_items, label)");
//! ```

use std::ops::RangeInclusive;

pub use serde_json::Value;

/// A JSON object: a config table or one of its sub-tables.
pub type Map = serde_json::Map<String, Value>;

/// Parses a config's JSON text. An empty text or `null` gives `None` (use the defaults), an
/// object gives its map; anything else is an error starting with `config:`.
pub fn parse_object(json: &str) -> Result<Option<Map>, String> {
    if json.trim().is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(json).map_err(|e| format!("config: not valid JSON: {e}"))?;
    match value {
        Value::Object(map) => Ok(Some(map)),
        Value::Null => Ok(None),
        other => Err(expected("config", "a table of settings", &other)),
    }
}

/// Names a JSON value's type as a config author would: "text", "a number", "a list",
/// "a table", "a boolean" or "null".
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

/// The error for a value of the wrong type: `"{field}: expected {what}, got {kind}"`.
pub fn expected(field: &str, what: &str, v: &Value) -> String {
    format!("{field}: expected {what}, got {}", kind(v))
}

/// The path of `key` inside the table at `at`: `"at.key"`, or `key` at the top level
/// (`at` empty).
pub fn path(at: &str, key: &str) -> String {
    if at.is_empty() { key.to_string() } else { format!("{at}.{key}") }
}

/// The error for a key the principle does not know:
/// `"{field}: unknown field (known: a, b)"`.
pub fn unknown_field(field: &str, known: &[&str]) -> String {
    format!("{field}: unknown field (known: {})", known.join(", "))
}

/// Checks that every key of the table at `at` is one of `known`; the error names the first
/// other key (see [`unknown_field`]).
pub fn check_fields(at: &str, map: &Map, known: &[&str]) -> Result<(), String> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(unknown_field(&path(at, k), known)),
        None => Ok(()),
    }
}

/// The value of `key` in the table at `at`; `"{at}.{key}: missing"` when absent.
pub fn required<'m>(map: &'m Map, at: &str, key: &str) -> Result<&'m Value, String> {
    map.get(key).ok_or_else(|| format!("{}: missing", path(at, key)))
}

/// A whole number within `range`:
/// `"{field}: expected a whole number from 1 to 8, got 2.5"` otherwise.
pub fn whole_number(field: &str, v: &Value, range: RangeInclusive<usize>) -> Result<usize, String> {
    let (lo, hi) = (*range.start(), *range.end());
    v.as_u64()
        .filter(|n| (lo as u64..=hi as u64).contains(n))
        .map(|n| n as usize)
        .ok_or_else(|| format!("{field}: expected a whole number from {lo} to {hi}, got {v}"))
}

/// A text value, trimmed: `"{field}: expected text, got {kind}"` otherwise. It may be
/// empty; see [`non_empty_text`].
pub fn text<'v>(field: &str, v: &'v Value) -> Result<&'v str, String> {
    v.as_str().map(str::trim).ok_or_else(|| expected(field, "text", v))
}

/// `"{field}: longer than {max_chars} characters"` when `s` has more than `max_chars`
/// characters.
pub fn check_length(field: &str, s: &str, max_chars: usize) -> Result<(), String> {
    if s.chars().count() > max_chars {
        return Err(format!("{field}: longer than {max_chars} characters"));
    }
    Ok(())
}

/// A text value, trimmed, not empty (`"{field}: must not be empty"`) and at most
/// `max_chars` characters long (see [`check_length`]).
pub fn non_empty_text<'v>(field: &str, v: &'v Value, max_chars: usize) -> Result<&'v str, String> {
    let s = text(field, v)?;
    if s.is_empty() {
        return Err(format!("{field}: must not be empty"));
    }
    check_length(field, s, max_chars)?;
    Ok(s)
}

/// A table: `"{field}: expected {what}, got {kind}"` otherwise.
pub fn table<'v>(field: &str, v: &'v Value, what: &str) -> Result<&'v Map, String> {
    v.as_object().ok_or_else(|| expected(field, what, v))
}

/// The items of a list, each with its path (`"{field}[i]"`), for reading one by one:
/// `"{field}: expected {what}, got {kind}"` when `v` is not a list.
pub fn list<'v>(field: &str, v: &'v Value, what: &str) -> Result<Vec<(String, &'v Value)>, String> {
    let items = v.as_array().ok_or_else(|| expected(field, what, v))?;
    Ok(items.iter().enumerate().map(|(i, item)| (format!("{field}[{i}]"), item)).collect())
}

/// A text list item, as written (not trimmed): `"{field}: expected {what}, got {kind}"`
/// otherwise.
pub fn string<'v>(field: &str, v: &'v Value, what: &str) -> Result<&'v str, String> {
    v.as_str().ok_or_else(|| expected(field, what, v))
}

/// A list of texts, each as written: `list_what` names the list and `item_what` one item
/// in the errors (`"a list of category ids"`, `"a category id"`).
pub fn strings<'v>(field: &str, v: &'v Value, list_what: &str, item_what: &str) -> Result<Vec<&'v str>, String> {
    list(field, v, list_what)?.into_iter().map(|(at, item)| string(&at, item, item_what)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_and_null_mean_defaults_and_only_tables_are_configs() {
        assert_eq!(parse_object(""), Ok(None));
        assert_eq!(parse_object("  \n"), Ok(None));
        assert_eq!(parse_object("null"), Ok(None));
        assert_eq!(parse_object("{}"), Ok(Some(Map::new())));
        assert_eq!(parse_object(r#"{"a": 1}"#).unwrap().unwrap()["a"], json!(1));
        assert_eq!(parse_object("[1, 2]").unwrap_err(), "config: expected a table of settings, got a list");
        assert_eq!(parse_object("3").unwrap_err(), "config: expected a table of settings, got a number");
        assert!(parse_object(r#"{"a": "#).unwrap_err().starts_with("config: not valid JSON: "));
    }

    #[test]
    fn kinds_read_naturally() {
        let kinds: Vec<_> =
            [json!(null), json!(true), json!(1.5), json!("x"), json!([]), json!({})].iter().map(kind).collect();
        assert_eq!(kinds, ["null", "a boolean", "a number", "text", "a list", "a table"]);
    }

    #[test]
    fn whole_numbers_must_be_in_range() {
        assert_eq!(whole_number("n", &json!(8), 1..=8), Ok(8));
        assert_eq!(whole_number("n", &json!(1), 1..=8), Ok(1));
        let err = |v: Value| whole_number("max_items", &v, 1..=32).unwrap_err();
        assert_eq!(err(json!(50)), "max_items: expected a whole number from 1 to 32, got 50");
        assert_eq!(err(json!(0)), "max_items: expected a whole number from 1 to 32, got 0");
        assert_eq!(err(json!(-1)), "max_items: expected a whole number from 1 to 32, got -1");
        assert_eq!(err(json!(2.5)), "max_items: expected a whole number from 1 to 32, got 2.5");
        assert_eq!(err(json!("3")), "max_items: expected a whole number from 1 to 32, got \"3\"");
    }

    #[test]
    fn texts_are_trimmed_and_checked() {
        assert_eq!(text("t", &json!("  a b ")), Ok("a b"));
        assert_eq!(text("t", &json!(" ")), Ok(""));
        assert_eq!(text("x.name", &json!(3)).unwrap_err(), "x.name: expected text, got a number");
        assert_eq!(non_empty_text("num", &json!(" 999 "), 10), Ok("999"));
        assert_eq!(non_empty_text("num", &json!("  "), 10).unwrap_err(), "num: must not be empty");
        assert_eq!(non_empty_text("num", &json!("12345678901"), 10).unwrap_err(), "num: longer than 10 characters");
        assert_eq!(non_empty_text("num", &json!(911), 10).unwrap_err(), "num: expected text, got a number");
        assert_eq!(check_length("f", "ééé", 3), Ok(()), "characters, not bytes");
    }

    #[test]
    fn lists_and_their_items_carry_paths() {
        let v = json!(["cardiac", 3]);
        let items = list("disable", &v, "a list of category ids").unwrap();
        assert_eq!(items[0], ("disable[0]".to_string(), &json!("cardiac")));
        assert_eq!(items[1].0, "disable[1]");
        assert_eq!(
            list("disable", &json!("cardiac"), "a list of category ids").unwrap_err(),
            "disable: expected a list of category ids, got text"
        );
        assert_eq!(
            strings("disable", &v, "a list of category ids", "a category id").unwrap_err(),
            "disable[1]: expected a category id, got a number"
        );
        assert_eq!(strings("d", &json!([" a", "b"]), "a list", "text"), Ok(vec![" a", "b"]));
        assert_eq!(string("d[0]", &json!(null), "an id").unwrap_err(), "d[0]: expected an id, got null");
    }

    #[test]
    fn tables_fields_and_unknown_keys() {
        let v = json!({"name": "X", "dose": 1});
        let map = table("extra[0]", &v, "a table with name").unwrap();
        assert_eq!(required(map, "extra[0]", "name"), Ok(&json!("X")));
        assert_eq!(required(map, "extra[0]", "generic").unwrap_err(), "extra[0].generic: missing");
        assert_eq!(
            check_fields("extra[0]", map, &["name", "generic"]).unwrap_err(),
            "extra[0].dose: unknown field (known: name, generic)"
        );
        assert_eq!(check_fields("", map, &["name", "dose"]), Ok(()));
        assert_eq!(check_fields("", map, &["name"]).unwrap_err(), "dose: unknown field (known: name)");
        assert_eq!(table("e", &json!("x"), "a table").unwrap_err(), "e: expected a table, got text");
        assert_eq!(path("", "a"), "a");
        assert_eq!(path("a[1]", "b"), "a[1].b");
        assert_eq!(unknown_field("x", &["a", "b"]), "x: unknown field (known: a, b)");
    }
}
