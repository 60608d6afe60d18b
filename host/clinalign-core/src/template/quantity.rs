//! Amounts for the template's `quantity` and `when_quantity`: unit words and bounds (see
//! [`super::conditions`]).

use std::cmp::Ordering;

use serde::{Deserialize, Deserializer};

use super::conditions::{Interval, Stated};
use crate::quantities::{Tok, number_at, tokenize, word_at};
use crate::text::normalize;

/// The `quantity` / `when_quantity` table: unit words and at least one bound.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantityBounds {
    /// Words that name the unit right after the number ("mg", "milligrams"); one word may
    /// be written without the list.
    #[serde(default, deserialize_with = "one_or_many")]
    pub unit: Vec<String>,
    /// More than this (exclusive).
    #[serde(default, deserialize_with = "bound")]
    pub over: Option<f64>,
    /// Less than this (exclusive).
    #[serde(default, deserialize_with = "bound")]
    pub under: Option<f64>,
    /// This or more.
    #[serde(default, deserialize_with = "bound")]
    pub at_least: Option<f64>,
    /// This or less.
    #[serde(default, deserialize_with = "bound")]
    pub at_most: Option<f64>,
}

/// A bound that is present reads as a number; `null` (TOML's `nan` and `inf` become JSON
/// `null` on the way to the guest) reads as NaN, so that validation names the field.
fn bound<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(Some(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN)))
}

/// `"mg"` or `["mg", "milligrams"]`.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    match OneOrMany::deserialize(d) {
        Ok(OneOrMany::One(s)) => Ok(vec![s]),
        Ok(OneOrMany::Many(v)) => Ok(v),
        Err(_) => {
            Err(serde::de::Error::custom("expected a unit word or a list of them, e.g. [\"mg\", \"milligrams\"]"))
        }
    }
}

fn cmp_numbers(a: &f64, b: &f64) -> Ordering {
    a.partial_cmp(b).unwrap_or(Ordering::Equal)
}

/// Unit words and bounds for an amount, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantityCondition {
    /// Each unit as its words ("fl oz" → ["fl", "oz"]).
    units: Vec<Vec<String>>,
    range: Interval<f64>,
}

impl QuantityCondition {
    /// Checks the bounds. An error names the part at fault, below `field` (the table's own
    /// name, e.g. `triggers.quantity`): `triggers.quantity.unit[1]: …`.
    pub fn new(b: &QuantityBounds, field: &str) -> Result<QuantityCondition, String> {
        if b.unit.is_empty() {
            return Err(format!("{field}.unit: needs at least one unit word, e.g. unit = [\"mg\", \"milligrams\"]"));
        }
        let mut units = Vec::with_capacity(b.unit.len());
        for (i, u) in b.unit.iter().enumerate() {
            let words: Option<Vec<String>> = tokenize(&normalize(u))
                .into_iter()
                .map(|t| match t.kind {
                    Tok::Word(w) => Some(w),
                    _ => None,
                })
                .collect();
            match words {
                Some(w) if !w.is_empty() => units.push(w),
                _ => return Err(format!("{field}.unit[{i}]: {u:?} is not a unit word (letters only, e.g. \"mg\")")),
            }
        }
        let named = [("over", b.over), ("under", b.under), ("at_least", b.at_least), ("at_most", b.at_most)];
        if let Some((name, v)) = named.iter().find(|(_, v)| v.is_some_and(|v| !v.is_finite())) {
            return Err(format!("{field}.{name}: {} is not a finite number", v.unwrap_or_default()));
        }
        if b.over.is_some() && b.at_least.is_some() {
            return Err(format!("{field}: give one lower bound, over or at_least, not both"));
        }
        if b.under.is_some() && b.at_most.is_some() {
            return Err(format!("{field}: give one upper bound, under or at_most, not both"));
        }
        let lower = b.over.map(|v| (v, false)).or(b.at_least.map(|v| (v, true)));
        let upper = b.under.map(|v| (v, false)).or(b.at_most.map(|v| (v, true)));
        if lower.is_none() && upper.is_none() {
            return Err(format!("{field}: needs a bound: over, under, at_least or at_most"));
        }
        let range = Interval { lower, upper };
        if range.is_empty(cmp_numbers) {
            return Err(format!("{field}: no amount is within these bounds (the lower bound is above the upper one)"));
        }
        Ok(QuantityCondition { units, range })
    }

    /// The first amount within bounds that the text states, as written ("4000 mg", "500mg").
    pub fn first_in(&self, stated: &Stated<'_>) -> Option<String> {
        let tokens = &stated.tokens;
        (0..tokens.len()).find_map(|i| {
            let n = number_at(tokens, i)?;
            let unit = self
                .units
                .iter()
                .find(|unit| unit.iter().enumerate().all(|(k, w)| word_at(tokens, i + 1 + k) == Some(w.as_str())))?;
            self.range.contains(&n, cmp_numbers).then(|| stated.span(i, i + unit.len()).to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount_in(b: QuantityBounds, text: &str) -> Option<String> {
        QuantityCondition::new(&b, "q").unwrap().first_in(&Stated::new(&normalize(text)))
    }

    fn mg() -> QuantityBounds {
        QuantityBounds { unit: vec!["mg".into(), "milligrams".into()], ..Default::default() }
    }

    #[test]
    fn amounts_match_bounds_with_spaced_or_glued_units() {
        let over = |v| QuantityBounds { over: Some(v), ..mg() };
        assert_eq!(amount_in(over(4000.0), "I took 5000 mg today").as_deref(), Some("5000 mg"));
        assert_eq!(amount_in(over(4000.0), "I took 500mg, then 4,500mg").as_deref(), Some("4,500mg"));
        assert_eq!(amount_in(over(4000.0), "I took 4000 mg"), None, "over is exclusive");
        assert_eq!(amount_in(over(400.0), "took 500mg").as_deref(), Some("500mg"));
        assert_eq!(amount_in(over(400.0), "took 500 Milligrams").as_deref(), Some("500 milligrams"));
        assert_eq!(amount_in(over(400.0), "took 500 mcg"), None, "another unit");
        assert_eq!(amount_in(over(400.0), "took 500 tablets"), None);
        assert_eq!(amount_in(over(400.0), "took mg 500"), None, "the unit comes after the number");
        let at_least = QuantityBounds { at_least: Some(4000.0), ..mg() };
        assert_eq!(amount_in(at_least, "4000 mg").as_deref(), Some("4000 mg"));
        let window = QuantityBounds { at_least: Some(2.0), under: Some(5.0), unit: vec!["tablets".into()], ..mg() };
        assert_eq!(amount_in(window.clone(), "I took two tablets").as_deref(), Some("two tablets"));
        assert_eq!(amount_in(window, "I took 5 tablets"), None);
        let fl_oz = QuantityBounds { unit: vec!["fl oz".into()], at_most: Some(8.0), ..mg() };
        assert_eq!(amount_in(fl_oz, "drank 6 fl oz").as_deref(), Some("6 fl oz"));
    }

    #[test]
    fn one_unit_may_be_written_without_a_list() {
        let read = |json: &str| serde_json::from_str::<QuantityBounds>(json).map(|b| b.unit);
        assert_eq!(read(r#"{"unit": "mg", "over": 1}"#).unwrap(), ["mg"]);
        assert_eq!(read(r#"{"unit": ["mg", "milligrams"], "over": 1}"#).unwrap(), ["mg", "milligrams"]);
        let err = read(r#"{"unit": 5, "over": 1}"#).unwrap_err().to_string();
        assert!(err.starts_with("expected a unit word or a list of them"), "{err}");
    }

    #[test]
    fn bad_quantity_bounds_name_the_part_at_fault() {
        let err = |b: QuantityBounds| QuantityCondition::new(&b, "q").unwrap_err();
        assert!(err(QuantityBounds { over: Some(1.0), ..Default::default() }).starts_with("q.unit: needs"));
        assert!(err(QuantityBounds { unit: vec!["5 mg".into()], over: Some(1.0), ..mg() }).starts_with("q.unit[0]:"));
        assert!(
            err(QuantityBounds { unit: vec!["mg".into(), " ".into()], over: Some(1.0), ..mg() })
                .starts_with("q.unit[1]:")
        );
        assert!(err(mg()).starts_with("q: needs a bound"));
        assert!(err(QuantityBounds { over: Some(f64::NAN), ..mg() }).starts_with("q.over: NaN is not a finite"));
        assert!(err(QuantityBounds { at_most: Some(f64::INFINITY), ..mg() }).starts_with("q.at_most: inf"));
        assert!(err(QuantityBounds { over: Some(1.0), at_least: Some(2.0), ..mg() }).contains("one lower bound"));
        assert!(err(QuantityBounds { under: Some(1.0), at_most: Some(2.0), ..mg() }).contains("one upper bound"));
        assert!(err(QuantityBounds { over: Some(5.0), under: Some(5.0), ..mg() }).contains("no amount"));
    }
}
