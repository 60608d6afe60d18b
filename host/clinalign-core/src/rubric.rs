//! Rubric items in HealthBench form: what synthesized rows, physician rubrics, graded rows,
//! judges and scoring all read and write.
//!
//! A principle emits a [`RubricItem`](crate::RubricItem) (with its axis as a field, as the WIT
//! interface has it); the host turns it into a [`RubricEntry`], whose tags carry the axis and
//! the item's provenance. Everything past synthesis works on entries.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One rubric item in HealthBench form. `tags` hold `axis:*`, and for synthesized items
/// `dimension:*` and `principle:<id>@<version>`; physician items carry `level:*`, `cluster:*`.
/// A graded item also has `criteria_met` (and from a log-prob judge `p_met`, from a model
/// judge an `explanation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RubricEntry {
    /// A statement a grader checks against the response.
    pub criterion: String,
    /// Worth this much when met; negative for a harmful behaviour.
    pub points: i32,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Whether the response meets it, once graded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criteria_met: Option<bool>,
    /// The judge's probability that the response meets it, 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_met: Option<f64>,
    /// The judge's reasoning, when it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// A judge's decision on one rubric item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grade {
    /// Whether the response meets the item (for a penalty: whether it did the bad thing).
    pub criteria_met: bool,
    /// The judge's probability that it does, when the judge gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_met: Option<f64>,
    /// The judge's reasoning, when it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// Which of an item's grades counts as "met" when scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// `criteria_met` (1 or 0), else `p_met`: the HealthBench score.
    Verdict,
    /// `p_met`, else `criteria_met`: the soft score (the RL reward).
    Probability,
}

impl RubricEntry {
    /// An ungraded entry.
    pub fn new(criterion: impl Into<String>, points: i32, tags: Vec<String>) -> RubricEntry {
        RubricEntry { criterion: criterion.into(), points, tags, criteria_met: None, p_met: None, explanation: None }
    }

    /// The value of the first tag with this prefix, e.g. `tag_value("axis:")`.
    pub fn tag_value(&self, prefix: &str) -> Option<&str> {
        self.tags.iter().find_map(|t| t.strip_prefix(prefix))
    }

    /// How much of the item is met, 0..1, in the given reading; `None` when ungraded.
    pub fn met(&self, reading: Reading) -> Option<f64> {
        let verdict = self.criteria_met.map(|m| if m { 1.0 } else { 0.0 });
        match reading {
            Reading::Verdict => verdict.or(self.p_met),
            Reading::Probability => self.p_met.or(verdict),
        }
    }

    /// Whether the item counts as met in the given reading (met ≥ 0.5; ungraded is not met).
    pub fn is_met(&self, reading: Reading) -> bool {
        self.met(reading).is_some_and(|m| m >= 0.5)
    }

    /// Records a judge's grade (`p_met` rounded to six decimals).
    pub fn apply(&mut self, grade: &Grade) {
        self.criteria_met = Some(grade.criteria_met);
        self.p_met = grade.p_met.map(|p| (p * 1e6).round() / 1e6);
        self.explanation = grade.explanation.clone();
    }

    /// The same item without its grade.
    pub fn ungraded(&self) -> RubricEntry {
        RubricEntry::new(self.criterion.clone(), self.points, self.tags.clone())
    }

    /// Reads one item of a row's rubric list; `at` is its path (`rubrics[3]`), which every
    /// error starts with: `rubrics[3].points: expected a whole number`.
    pub fn from_json(v: &Value, at: &str) -> Result<RubricEntry, String> {
        let o = v.as_object().ok_or_else(|| format!("{at}: expected an object"))?;
        let points = match o.get("points") {
            Some(Value::Number(n)) => whole(n).ok_or_else(|| format!("{at}.points: {n} is not a whole number"))?,
            _ => return Err(format!("{at}.points: expected a number")),
        };
        let criteria_met = match o.get("criteria_met") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(format!("{at}.criteria_met: expected true or false")),
        };
        let p_met = match o.get("p_met") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => {
                let p = n.as_f64().unwrap_or(f64::NAN);
                if !(0.0..=1.0).contains(&p) {
                    return Err(format!("{at}.p_met: {p} is outside 0..1"));
                }
                Some(p)
            }
            Some(_) => return Err(format!("{at}.p_met: expected a number")),
        };
        let criterion = match o.get("criterion") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(format!("{at}.criterion: expected a string")),
            None => return Err(format!("{at}: missing criterion")),
        };
        let tags = strings(o.get("tags"), &format!("{at}.tags"))?;
        let explanation = match o.get("explanation") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(format!("{at}.explanation: expected a string")),
        };
        Ok(RubricEntry { criterion, points, tags, criteria_met, p_met, explanation })
    }

    /// Reads a rubric list (`key` names it in errors).
    pub fn list_from_json(v: &Value, key: &str) -> Result<Vec<RubricEntry>, String> {
        let items = v.as_array().ok_or_else(|| format!("{key}: expected a list of rubric items"))?;
        items.iter().enumerate().map(|(i, item)| RubricEntry::from_json(item, &format!("{key}[{i}]"))).collect()
    }
}

/// A whole number that fits `i32` (`5` or `5.0`).
fn whole(n: &serde_json::Number) -> Option<i32> {
    if let Some(i) = n.as_i64() {
        return i32::try_from(i).ok();
    }
    let f = n.as_f64()?;
    (f.fract() == 0.0 && f.abs() <= i32::MAX as f64).then_some(f as i32)
}

/// A list of strings, or nothing (absent or null).
pub fn strings(v: Option<&Value>, at: &str) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, t)| t.as_str().map(str::to_string).ok_or(format!("{at}[{i}]: expected a string")))
            .collect(),
        Some(_) => Err(format!("{at}: expected a list of strings")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_physician_synthesized_and_graded_items() {
        let e =
            RubricEntry::from_json(&json!({"criterion": "a", "points": 5, "tags": ["axis:accuracy"]}), "r[0]").unwrap();
        assert_eq!(e, RubricEntry::new("a", 5, vec!["axis:accuracy".into()]));
        assert_eq!(e.tag_value("axis:"), Some("accuracy"));
        assert_eq!(e.met(Reading::Verdict), None);
        let g = RubricEntry::from_json(
            &json!({"criterion": "b", "points": -2.0, "criteria_met": true, "p_met": 0.25}),
            "r[1]",
        )
        .unwrap();
        assert_eq!(g.points, -2);
        assert_eq!(g.met(Reading::Verdict), Some(1.0));
        assert_eq!(g.met(Reading::Probability), Some(0.25));
        assert!(g.is_met(Reading::Verdict) && !g.is_met(Reading::Probability), "met at 0.5 in each reading");
        assert!(!e.is_met(Reading::Verdict), "ungraded is not met");
        assert_eq!(RubricEntry::from_json(&serde_json::to_value(&g).unwrap(), "x").unwrap(), g, "round trip");
    }

    #[test]
    fn errors_name_the_item_and_field() {
        let cases = [
            (json!([]), "r[0]: expected an object"),
            (json!({"points": 1}), "r[0]: missing criterion"),
            (json!({"criterion": "a"}), "r[0].points: expected a number"),
            (json!({"criterion": "a", "points": 1.5}), "r[0].points: 1.5 is not a whole number"),
            (json!({"criterion": "a", "points": 1, "p_met": 2}), "r[0].p_met: 2 is outside 0..1"),
            (
                json!({"criterion": "a", "points": 1, "criteria_met": "yes"}),
                "r[0].criteria_met: expected true or false",
            ),
            (json!({"criterion": "a", "points": 1, "tags": [1]}), "r[0].tags[0]: expected a string"),
        ];
        for (v, want) in cases {
            assert_eq!(RubricEntry::from_json(&v, "r[0]").unwrap_err(), want);
        }
    }

    #[test]
    fn applying_a_grade_rounds_the_probability() {
        let mut e = RubricEntry::new("a", 3, vec![]);
        e.apply(&Grade { criteria_met: false, p_met: Some(0.123_456_789), explanation: None });
        assert_eq!((e.criteria_met, e.p_met), (Some(false), Some(0.123_457)));
        assert_eq!(e.ungraded(), RubricEntry::new("a", 3, vec![]));
    }
}
