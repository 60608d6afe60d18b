//! Queries for the commands that look at a few at a time (`watch --queries`, `explain`):
//! a JSONL file of rows, or one question as plain text.

use std::path::Path;

use anyhow::{Result, bail};
use clinalign::{Dimensions, Message, Query, Row};

use crate::jsonl::JsonlReader;

/// Every row of a JSONL file as a query (HealthBench rows or `{id, messages}`); a bad row
/// is an error naming the file and line.
pub fn read_rows(path: &Path, dims: &Dimensions) -> Result<Vec<Query>> {
    let mut reader = JsonlReader::open(path)?;
    let mut out = Vec::new();
    loop {
        let batch = reader.next_batch(256)?;
        if batch.is_empty() {
            break;
        }
        for line in batch {
            match Row::parse(&line.text).and_then(|row| row.query(&format!("line-{}", line.number), dims)) {
                Ok(q) => out.push(q),
                Err(msg) => bail!("{}:{}: {msg}", path.display(), line.number),
            }
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
