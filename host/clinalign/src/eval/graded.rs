//! The rows `clinalign score` reads: graded examples, and grader-vs-physician rows for the
//! meta-evaluation.

use clinalign_core::RubricEntry;
use serde_json::Value;

use super::meta::MetaRow;
use crate::row::Row;

/// A graded input row for `score`: an example (graded rubric items) or a meta-evaluation
/// row (a grader's label and physicians' labels).
#[derive(Debug, Clone, PartialEq)]
pub enum GradedRow {
    /// A graded example: its id (`prompt_id` or `id`) and last user turn when the row has
    /// them (for reports), its `example_tags` and its graded items.
    Example {
        id: Option<String>,
        last_user_turn: Option<String>,
        example_tags: Vec<String>,
        items: Vec<RubricEntry>,
    },
    Meta(MetaRow),
}

/// Reads one JSONL row for `score`. Examples carry `rubrics` (or `rubric_items`) whose items
/// have `points`, `tags` and `criteria_met` (bool) or `p_met` (0..1), plus optional
/// `example_tags`. Meta rows carry `binary_labels` (physicians), the grader's label as
/// `criteria_met`, `p_met` (≥ 0.5 counts as met) or `grader_label`, and `category`.
pub fn parse_graded_row(line: &str) -> Result<GradedRow, String> {
    let row = Row::parse(line)?;
    if let Some(labels) = row.fields.get("binary_labels") {
        return meta_row(&row, labels).map(GradedRow::Meta);
    }
    let (key, list) = ["rubrics", "rubric_items"]
        .iter()
        .find_map(|k| row.fields.get(*k).map(|v| (*k, v)))
        .ok_or("no graded rubric: expected \"rubrics\" (items with criteria_met or p_met) or \"binary_labels\"")?;
    let list = list.as_array().ok_or(format!("{key}: expected a list"))?;
    let mut items = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let graded = ["criteria_met", "p_met"].iter().any(|k| item.get(*k).is_some_and(|v| !v.is_null()));
        if !graded {
            return Err(format!("{key}[{i}]: not graded (no criteria_met or p_met)"));
        }
        items.push(RubricEntry::from_json(item, &format!("{key}[{i}]"))?);
    }
    // A graded row need not carry its conversation; when it has none (or one that does not
    // read), the report just shows no question.
    let last_user_turn =
        row.conversation().ok().and_then(|c| c.into_iter().rev().find(|m| m.role == "user")).map(|m| m.content);
    Ok(GradedRow::Example { id: row.id(), last_user_turn, example_tags: row.example_tags()?, items })
}

fn meta_row(row: &Row, labels: &Value) -> Result<MetaRow, String> {
    let physicians: Vec<bool> = labels
        .as_array()
        .ok_or("binary_labels: expected a list of booleans")?
        .iter()
        .enumerate()
        .map(|(i, b)| b.as_bool().ok_or(format!("binary_labels[{i}]: expected true or false")))
        .collect::<Result<_, _>>()?;
    let o = &row.fields;
    let grader = match (o.get("grader_label"), o.get("criteria_met"), o.get("p_met")) {
        (Some(Value::Bool(b)), _, _) => *b,
        (Some(_), _, _) => return Err("grader_label: expected true or false".into()),
        (None, Some(Value::Bool(b)), _) => *b,
        (None, Some(v), _) if !v.is_null() => return Err("criteria_met: expected true or false".into()),
        (None, _, Some(Value::Number(n))) => {
            let p = n.as_f64().unwrap_or(f64::NAN);
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("p_met: {p} is outside 0..1"));
            }
            p >= 0.5
        }
        (None, _, Some(v)) if !v.is_null() => return Err("p_met: expected a number".into()),
        _ => return Err("no grader label: expected criteria_met, p_met or grader_label".into()),
    };
    let category = o.get("category").and_then(Value::as_str).unwrap_or("").to_string();
    let physician_ids = clinalign_core::rubric::strings(o.get("anonymized_physician_ids"), "anonymized_physician_ids")?;
    Ok(MetaRow { grader, physicians, category, physician_ids })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_graded_and_meta_rows() {
        let r = parse_graded_row(r#"{"example_tags": ["theme:x"], "rubrics": [{"criterion": "a", "points": 5, "tags": ["axis:accuracy"], "criteria_met": true}, {"criterion": "b", "points": -2, "tags": [], "p_met": 0.25}]}"#).unwrap();
        let GradedRow::Example { id, last_user_turn, example_tags, items } = r else { panic!() };
        assert_eq!((id, last_user_turn), (None, None), "no id, no conversation");
        assert_eq!(example_tags, ["theme:x"]);
        assert_eq!(items[0].met(clinalign_core::Reading::Verdict), Some(1.0));
        assert_eq!(items[1].met(clinalign_core::Reading::Verdict), Some(0.25));
        let r = parse_graded_row(r#"{"prompt_id": "p", "prompt": [{"role": "user", "content": "first"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "last"}], "rubrics": [{"criterion": "a", "points": 1, "criteria_met": true}]}"#).unwrap();
        let GradedRow::Example { id, last_user_turn, .. } = r else { panic!() };
        assert_eq!((id.as_deref(), last_user_turn.as_deref()), (Some("p"), Some("last")));
        let r = parse_graded_row(
            r#"{"binary_labels": [true, false], "p_met": 0.7, "category": "c", "anonymized_physician_ids": ["a", "b"]}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            GradedRow::Meta(MetaRow {
                grader: true,
                physicians: vec![true, false],
                category: "c".into(),
                physician_ids: vec!["a".into(), "b".into()]
            })
        );
        for (line, want) in [
            ("{", "invalid JSON"),
            (r#"{"rubrics": [{"points": 5}]}"#, "rubrics[0]: not graded"),
            (r#"{"rubrics": [{"points": 5, "p_met": 2}]}"#, "rubrics[0].p_met: 2 is outside 0..1"),
            (r#"{"rubrics": [{"criteria_met": true}]}"#, "rubrics[0].points: expected a number"),
            (r#"{"binary_labels": [true]}"#, "no grader label"),
            (r#"{"prompt": []}"#, "no graded rubric"),
        ] {
            let e = parse_graded_row(line).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
        }
    }
}
