//! Queries for the commands that look at a few at a time (`watch --queries`, `explain`):
//! a JSONL file of rows, or one question as plain text.

use std::path::Path;

use anyhow::{Result, bail};
use clinalign::{Dimensions, Message, Query};

/// Every row of a JSONL file as a query (HealthBench rows or `{id, messages}`); a bad row
/// is an error naming the file and line.
pub fn read_rows(path: &Path, dims: &Dimensions) -> Result<Vec<Query>> {
    let mut out = Vec::new();
    for (number, row) in crate::jsonl::read_rows(path)? {
        match row.query(&format!("line-{number}"), dims) {
            Ok(q) => out.push(q),
            Err(msg) => bail!("{}:{number}: {msg}", path.display()),
        }
    }
    if out.is_empty() {
        bail!("{}: no rows", path.display());
    }
    Ok(out)
}

/// A single user turn as a query with no labels.
pub fn from_text(id: &str, text: &str) -> Query {
    Query { id: id.into(), conversation: vec![Message { role: "user".into(), content: text.into() }], scenario: vec![] }
}
