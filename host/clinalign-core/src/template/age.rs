//! Age ranges for the template's `age` and `when_age`: a short phrase such as "under 3
//! months", read once when the template is built (see [`super::conditions`]).

use std::cmp::Ordering;

use super::conditions::{Interval, Stated};
use crate::quantities::{Tok, Token, age_unit_days, number_at, tokenize, word_at};
use crate::text::normalize;

/// How to write an age range, for error messages.
const AGE_EXAMPLES: &str = r#"write e.g. "under 3 months", "65 years or older", "2 to 12 years""#;

/// An age: a number of a unit of `unit_days` days.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Age {
    value: f64,
    unit_days: u32,
}

/// Months and years compare in months, anything else in days.
fn cmp_ages(a: &Age, b: &Age) -> Ordering {
    let monthly = |x: &Age| matches!(x.unit_days, 30 | 365);
    let (x, y) = if monthly(a) && monthly(b) {
        let months = |x: &Age| if x.unit_days == 365 { x.value * 12.0 } else { x.value };
        (months(a), months(b))
    } else {
        (a.value * a.unit_days as f64, b.value * b.unit_days as f64)
    };
    x.partial_cmp(&y).unwrap_or(Ordering::Equal)
}

/// An age range, read from a phrase such as "under 3 months".
#[derive(Debug, Clone, PartialEq)]
pub struct AgeCondition {
    range: Interval<Age>,
}

impl AgeCondition {
    /// Reads an age range. The error says how to write one.
    pub fn parse(phrase: &str) -> Result<AgeCondition, String> {
        let cannot = || format!("cannot read {phrase:?} ({AGE_EXAMPLES})");
        let tokens = tokenize(&normalize(phrase));
        let mut p = Phrase { tokens: &tokens, i: 0 };
        let range = p.age_range().filter(|_| p.at_end()).ok_or_else(cannot)?;
        let zero = Age { value: 0.0, unit_days: 1 };
        let from_birth = Interval { lower: range.lower.or(Some((zero, true))), upper: range.upper };
        if from_birth.is_empty(cmp_ages) {
            return Err(format!("{phrase:?} contains no age (the lower bound is above the upper one)"));
        }
        Ok(AgeCondition { range })
    }

    /// The first age within range that the text states, as written: "7-week-old",
    /// "3 months old", or for an age stated without a unit its number and "years"
    /// ("my mother is 84" gives "84 years").
    pub fn first_in(&self, stated: &Stated<'_>) -> Option<String> {
        let a = stated
            .ages
            .iter()
            .find(|a| self.range.contains(&Age { value: a.value, unit_days: a.unit_days }, cmp_ages))?;
        let text = stated.span(a.tokens.start, a.tokens.end - 1);
        Some(if a.has_unit() { text.to_string() } else { format!("{text} years") })
    }
}

/// A cursor over the tokens of an age-range phrase.
struct Phrase<'a> {
    tokens: &'a [Token],
    i: usize,
}

impl Phrase<'_> {
    /// Consumes `words` if they come next.
    fn eat(&mut self, words: &[&str]) -> bool {
        let ok = words.iter().enumerate().all(|(k, w)| word_at(self.tokens, self.i + k) == Some(*w));
        if ok {
            self.i += words.len();
        }
        ok
    }

    fn eat_any(&mut self, phrases: &[&[&str]]) -> bool {
        phrases.iter().any(|words| self.eat(words))
    }

    /// Nothing but sentence breaks left.
    fn at_end(&self) -> bool {
        self.tokens[self.i..].iter().all(|t| t.kind == Tok::Break)
    }

    /// A number ("3", "three", "a"), then an optional unit and an optional "old".
    fn number_and_unit(&mut self) -> Option<(f64, Option<u32>)> {
        let n = number_at(self.tokens, self.i)
            .or_else(|| matches!(word_at(self.tokens, self.i), Some("a" | "an")).then_some(1.0))?;
        self.i += 1;
        let unit = word_at(self.tokens, self.i).and_then(age_unit_days);
        if unit.is_some() {
            self.i += 1;
            self.eat(&["old"]);
        }
        Some((n, unit))
    }

    /// A number and its unit.
    fn age(&mut self) -> Option<Age> {
        match self.number_and_unit()? {
            (value, Some(unit_days)) => Some(Age { value, unit_days }),
            (_, None) => None,
        }
    }

    /// A number with an optional unit, then "to" / "and" and an age; the first number
    /// takes the second's unit when it has none ("2 to 12 years").
    fn two_ages(&mut self, joiner: &str) -> Option<Interval<Age>> {
        let (value, unit) = self.number_and_unit()?;
        if !self.eat(&[joiner]) {
            return None;
        }
        let high = self.age()?;
        let low = Age { value, unit_days: unit.unwrap_or(high.unit_days) };
        Some(Interval { lower: Some((low, true)), upper: Some((high, true)) })
    }

    fn age_range(&mut self) -> Option<Interval<Age>> {
        let upper = |age: Age, inclusive| Interval { lower: None, upper: Some((age, inclusive)) };
        let lower = |age: Age, inclusive| Interval { lower: Some((age, inclusive)), upper: None };
        if self.eat_any(&[&["under"], &["below"], &["younger", "than"], &["less", "than"]]) {
            return Some(upper(self.age()?, false));
        }
        if self.eat_any(&[&["over"], &["above"], &["older", "than"], &["more", "than"]]) {
            return Some(lower(self.age()?, false));
        }
        if self.eat(&["at", "least"]) {
            return Some(lower(self.age()?, true));
        }
        if self.eat(&["at", "most"]) {
            return Some(upper(self.age()?, true));
        }
        if self.eat(&["between"]) {
            return self.two_ages("and");
        }
        let start = self.i;
        if let Some(range) = self.two_ages("to") {
            return Some(range);
        }
        self.i = start;
        let age = self.age()?;
        if self.eat_any(&[&["or", "older"], &["and", "older"], &["or", "over"], &["and", "over"], &["or", "more"]]) {
            return Some(lower(age, true));
        }
        if self.eat_any(&[
            &["or", "younger"],
            &["and", "younger"],
            &["or", "under"],
            &["and", "under"],
            &["or", "less"],
        ]) {
            return Some(upper(age, true));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age_in(range: &str, text: &str) -> Option<String> {
        AgeCondition::parse(range).unwrap().first_in(&Stated::new(&normalize(text)))
    }

    #[test]
    fn age_phrases_read_with_their_bounds() {
        let a = |value, unit_days| Age { value, unit_days };
        let read = |s: &str| AgeCondition::parse(s).unwrap().range;
        let i = |lower, upper| Interval { lower, upper };
        assert_eq!(read("under 3 months"), i(None, Some((a(3.0, 30), false))));
        assert_eq!(read("Younger than three months old."), i(None, Some((a(3.0, 30), false))));
        assert_eq!(read("below 1 year"), read("less than a year"));
        assert_eq!(read("over 65 years"), i(Some((a(65.0, 365), false)), None));
        assert_eq!(read("older than 65 years"), read("more than 65 yrs"));
        assert_eq!(read("65 years or older"), i(Some((a(65.0, 365), true)), None));
        assert_eq!(read("65 years old and over"), read("at least 65 years"));
        assert_eq!(read("28 days or younger"), i(None, Some((a(28.0, 1), true))));
        assert_eq!(read("at most 28 days"), read("28 days or younger"));
        assert_eq!(read("2 to 12 years"), i(Some((a(2.0, 365), true)), Some((a(12.0, 365), true))));
        assert_eq!(read("between 2 and 12 years"), read("2 to 12 years"));
        assert_eq!(read("6 months to 2 years"), i(Some((a(6.0, 30), true)), Some((a(2.0, 365), true))));
    }

    #[test]
    fn unreadable_or_empty_age_phrases_are_errors() {
        for s in
            ["under three-ish months", "under 3", "65 or older", "3 months", "", "under 3 months or so", "to 2 years"]
        {
            let e = AgeCondition::parse(s).unwrap_err();
            assert!(e.starts_with(&format!("cannot read {s:?} (write e.g. \"under 3 months\"")), "{s}: {e}");
        }
        assert!(AgeCondition::parse("12 to 2 years").unwrap_err().contains("contains no age"));
        assert!(AgeCondition::parse("under 0 days").unwrap_err().contains("contains no age"));
        assert!(AgeCondition::parse("3 to 3 months").is_ok(), "inclusive bounds may meet");
    }

    #[test]
    fn stated_ages_match_ranges_as_written() {
        assert_eq!(age_in("under 3 months", "my 7-week-old has a fever").as_deref(), Some("7-week-old"));
        assert_eq!(age_in("under 3 months", "she is 7 weeks old").as_deref(), Some("7 weeks old"));
        assert_eq!(age_in("under 3 months", "my 4-month-old has a fever"), None);
        assert_eq!(age_in("under 3 months", "my 3-month-old has a fever"), None, "under is exclusive");
        assert_eq!(age_in("under 3 months", "a 12-week-old"), Some("12-week-old".into()), "84 days");
        assert_eq!(age_in("under 3 months", "a 13-week-old"), None, "91 days, a month being 30");
        assert_eq!(age_in("under 3 months", "I am 38 weeks pregnant"), None);
        assert_eq!(age_in("under 3 months", "baby has had a fever for 3 days"), None, "a duration");
        assert_eq!(age_in("under 3 months", "my baby has a fever"), None, "no age stated");
        assert_eq!(age_in("65 years or older", "my 84 year old mother").as_deref(), Some("84 year old"));
        assert_eq!(age_in("65 years or older", "my mother is 84").as_deref(), Some("84 years"));
        assert_eq!(age_in("65 years or older", "I'm 65").as_deref(), Some("65 years"), "inclusive");
        assert_eq!(age_in("65 years or older", "I'm 64"), None);
        assert_eq!(age_in("over 65 years", "I'm 65"), None, "over is exclusive");
        assert_eq!(
            age_in("65 years or older", "my 4yo and my 70 y/o dad").as_deref(),
            Some("70 y/o"),
            "any stated age may match; the first that does is named"
        );
    }

    #[test]
    fn months_and_years_compare_in_months() {
        assert_eq!(age_in("2 to 12 years", "my 24-month-old").as_deref(), Some("24-month-old"));
        assert_eq!(age_in("under 2 years", "my 24-month-old"), None);
        assert_eq!(age_in("under 2 years", "my 23-month-old").as_deref(), Some("23-month-old"));
        assert_eq!(age_in("2 to 12 years", "he is 12 years old").as_deref(), Some("12 years old"));
        assert_eq!(age_in("2 to 12 years", "he is 13 years old"), None);
        assert_eq!(age_in("28 days or younger", "a 4-week-old").as_deref(), Some("4-week-old"));
        assert_eq!(age_in("28 days or younger", "a 5-week-old"), None);
    }
}
