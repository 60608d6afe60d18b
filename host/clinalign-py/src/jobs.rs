//! The package's jobs on rows given as JSON text, one object per row, in the CLI's formats:
//! classify, synthesize, grade, reward and score. Plain Rust (no Python types), so the
//! bindings only convert and release the GIL, and the jobs are tested with `cargo test`.
//!
//! Rows are worked on in parallel on the engine's thread pool and returned in input order.
//! A row that cannot be read stops the batch with an error naming the row and the field.

use std::fmt;

use clinalign::eval::{ScoreRun, soft_score};
use clinalign::{Engine, Judge, Query, Reading, Row, RubricEntry};
use rayon::prelude::*;
use serde_json::{Value, json};

/// What went wrong with which row of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    /// The row's position in the batch (0-based).
    pub index: usize,
    /// What is wrong, naming the field (`prompt[2].role: unknown role "bot"`).
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}: {}", self.index, self.message)
    }
}

impl std::error::Error for RowError {}

fn at(index: usize) -> impl Fn(String) -> RowError {
    move |message| RowError { index, message }
}

/// Reads row `i` and its query (the id falls back to `row-<i>`).
fn query_of(engine: &Engine, i: usize, line: &str) -> Result<(Row, Query), RowError> {
    let row = Row::parse(line).map_err(at(i))?;
    let query = row.query(&format!("row-{i}"), engine.principle_set().dimensions()).map_err(at(i))?;
    Ok((row, query))
}

fn to_line(row: &Row) -> String {
    serde_json::to_string(row).expect("a row is JSON")
}

/// Each row with `scenario`: its own labels kept, the classifier's for the rest.
pub fn classify(engine: &Engine, pool: &rayon::ThreadPool, lines: &[String]) -> Result<Vec<String>, RowError> {
    pool.install(|| {
        lines
            .par_iter()
            .enumerate()
            .map(|(i, line)| {
                let (mut row, query) = query_of(engine, i, line)?;
                let labels = engine.scenario(&query).map_err(|e| at(i)(e.to_string()))?;
                row.set_scenario(&labels);
                Ok(to_line(&row))
            })
            .collect()
    })
}

/// Each row with `scenario`, `rubrics` and `principle_set` (`clinalign synthesize`'s rows).
pub fn synthesize(engine: &Engine, pool: &rayon::ThreadPool, lines: &[String]) -> Result<Vec<String>, RowError> {
    let set = engine.principle_set();
    pool.install(|| {
        lines
            .par_iter()
            .enumerate()
            .map(|(i, line)| {
                let (row, query) = query_of(engine, i, line)?;
                let rubric = engine.synthesize_on(&set, &query).map_err(|e| at(i)(e.to_string()))?;
                Ok(to_line(&row.synthesized(&rubric)))
            })
            .collect()
    })
}

/// Each row graded against its `rubrics` (`clinalign grade`'s rows: `criteria_met`, `p_met`
/// from a log-prob judge, and `grade` = {judge, score, soft_score}). A local judge works on
/// one row at a time on every core; a remote one has rows in flight on the pool's threads.
pub fn grade(
    judge: &dyn Judge,
    local: bool,
    pool: &rayon::ThreadPool,
    lines: &[String],
    response_field: Option<&str>,
) -> Result<Vec<String>, RowError> {
    let one = |(i, line): (usize, &String)| -> Result<String, RowError> {
        let row = Row::parse(line).map_err(at(i))?;
        let (conversation, response) = row.graded_turns(response_field).map_err(at(i))?.ok_or_else(|| {
            at(i)(
                "no response to grade (completion, response, ideal_completions_data.ideal_completion, a final \
                   assistant turn, or response_field)"
                    .into(),
            )
        })?;
        let items = row.rubric().map_err(at(i))?.ok_or_else(|| at(i)("no \"rubrics\" list to grade against".into()))?;
        let grades = judge.grade(&conversation, &response, &items).map_err(|e| at(i)(e.to_string()))?;
        Ok(to_line(&row.graded(items, &grades, &judge.name())))
    };
    if local {
        lines.iter().enumerate().map(one).collect()
    } else {
        pool.install(|| lines.par_iter().enumerate().map(one).collect())
    }
}

/// One reward sample's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Reward {
    /// The soft HealthBench score: Σ points·p_met / Σ positive points, clipped to 0..1.
    pub reward: f64,
    /// The hard score, from `criteria_met`.
    pub score: f64,
    /// The graded rubric items (HealthBench items with `criteria_met` and `p_met`).
    pub rubrics: Value,
}

/// Rewards of samples `{conversation | messages | prompt, response | completion, rubric?,
/// scenario?}` (`/v1/reward`'s shape): the rubric given, or the one the engine writes for the
/// conversation, graded by `judge`.
pub fn reward(
    engine: &Engine,
    judge: &dyn Judge,
    local: bool,
    pool: &rayon::ThreadPool,
    samples: &[String],
) -> Result<Vec<Reward>, RowError> {
    let set = engine.principle_set();
    let prepare = |(i, line): (usize, &String)| -> Result<_, RowError> {
        let Value::Object(fields) =
            serde_json::from_str::<Value>(line).map_err(|e| at(i)(format!("invalid JSON: {e}")))?
        else {
            return Err(at(i)("expected an object {conversation, response, rubric?}".into()));
        };
        let (row, response) = Row::from_sample(fields).map_err(at(i))?;
        let items = match row.rubric().map_err(at(i))? {
            Some(items) => items.iter().map(RubricEntry::ungraded).collect(),
            None => {
                let query = row.query(&format!("sample-{i}"), set.dimensions()).map_err(at(i))?;
                let rubric = engine.synthesize_on(&set, &query).map_err(|e| at(i)(e.to_string()))?;
                rubric.items.iter().map(RubricEntry::ungraded).collect::<Vec<_>>()
            }
        };
        let conversation = row.conversation().map_err(at(i))?;
        Ok((i, conversation, response, items))
    };
    let prepared: Vec<_> = pool.install(|| samples.par_iter().enumerate().map(prepare).collect::<Result<_, _>>())?;
    let grade_one =
        |(i, conversation, response, mut items): (usize, Vec<clinalign::Message>, String, Vec<RubricEntry>)| {
            if !items.is_empty() {
                let grades = judge.grade(&conversation, &response, &items).map_err(|e| at(i)(e.to_string()))?;
                for (item, g) in items.iter_mut().zip(&grades) {
                    item.apply(g);
                }
            }
            let reward = soft_score(&items).ok_or_else(|| {
                at(i)("the rubric has no item with positive points, so the reward is undefined".into())
            })?;
            let score = clinalign::eval::score(&items, Reading::Verdict).unwrap_or(0.0);
            Ok(Reward { reward, score, rubrics: json!(items) })
        };
    if local {
        prepared.into_iter().map(grade_one).collect()
    } else {
        pool.install(|| prepared.into_par_iter().map(grade_one).collect())
    }
}

/// HealthBench metrics of graded rows (`clinalign score`'s JSON): `{score, metrics,
/// n_examples}` for rows whose items carry `criteria_met` or `p_met`, `meta` for rows with
/// physician `binary_labels`.
pub fn score(lines: &[String], seed: u64) -> Result<Value, RowError> {
    let mut run = ScoreRun::new(false);
    for (i, line) in lines.iter().enumerate() {
        run.add(line).map_err(at(i))?;
    }
    if run.is_empty() {
        return Err(RowError { index: 0, message: "no graded rows".into() });
    }
    Ok(run.finish(seed).summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_names_the_row_that_has_no_score() {
        let good = r#"{"rubrics": [{"criterion": "a", "points": 5, "tags": [], "criteria_met": true},
            {"criterion": "b", "points": 5, "tags": [], "criteria_met": false}]}"#;
        let v = score(&[good.to_string()], 0).unwrap();
        assert_eq!(v["score"], json!(0.5));
        let bad = r#"{"rubrics": [{"criterion": "a", "points": -5, "tags": [], "criteria_met": true}]}"#;
        let e = score(&[good.to_string(), bad.to_string()], 0).unwrap_err();
        assert_eq!(e.index, 1);
        assert!(e.to_string().starts_with("row 1: no rubric item has positive points"), "{e}");
        assert_eq!(score(&[], 0).unwrap_err().message, "no graded rows");
        let e = score(&["{".to_string()], 0).unwrap_err();
        assert!(e.to_string().starts_with("row 0: invalid JSON"), "{e}");
    }
}
