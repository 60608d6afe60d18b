//! The template's number conditions: a stated age within a range (`age`, `when_age`, read
//! by [`super::age`]), and an amount of some unit within bounds (`quantity`,
//! `when_quantity`, read by [`super::quantity`]). This module holds what they share: the
//! numbers a text states, read once per query ([`Stated`]), and the bounds they are checked
//! against.
//!
//! An age range is a short phrase, read once when the template is built: "under 3 months",
//! "65 years or older", "2 to 12 years". Bounds are exclusive for under/below/younger than/
//! less than and over/above/older than/more than, inclusive for everything else ("at
//! least", "at most", "or older", "or younger", "N to M", "between N and M"). Ages stated in
//! months and years compare in months (12 to a year); any other pair compares in days (30 to
//! a month, 365 to a year), as
//! [`age_unit_days`](crate::quantities::age_unit_days) counts them.
//!
//! A quantity is a number, digits or "one" to "twenty", right before one of the unit words
//! ("4000 mg", "500mg", "two tablets"). `over` and `under` are exclusive, `at_least` and
//! `at_most` inclusive.
//!
//! A condition holds when any age (or amount) the searched turns state is within range;
//! negation cues do not apply. A text that states none does not meet it.
//!
//! ```
//! use clinalign_core::template::{AgeCondition, Stated};
//! use clinalign_core::text::normalize;
//!
//! let infant = AgeCondition::parse("under 3 months").unwrap();
//! let first = |s: &str| infant.first_in(&Stated::new(&normalize(s)));
//! assert_eq!(first("My 7-week-old has a fever").as_deref(), Some("7-week-old"));
//! assert_eq!(first("my 4-month-old has a fever"), None);
//! assert_eq!(first("I am 38 weeks pregnant"), None); // a pregnancy, not an age
//! assert!(AgeCondition::parse("under three-ish months").is_err());
//! ```

use std::cmp::Ordering;

use crate::quantities::{StatedAge, Tok, Token, stated_ages, tokenize};

/// Lower and upper bounds, each exclusive or inclusive (`true`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Interval<V> {
    pub(super) lower: Option<(V, bool)>,
    pub(super) upper: Option<(V, bool)>,
}

impl<V> Interval<V> {
    pub(super) fn contains(&self, x: &V, cmp: impl Fn(&V, &V) -> Ordering) -> bool {
        let above = |(v, inclusive): &(V, bool)| match cmp(x, v) {
            Ordering::Greater => true,
            Ordering::Equal => *inclusive,
            Ordering::Less => false,
        };
        let below = |(v, inclusive): &(V, bool)| match cmp(x, v) {
            Ordering::Less => true,
            Ordering::Equal => *inclusive,
            Ordering::Greater => false,
        };
        self.lower.as_ref().is_none_or(above) && self.upper.as_ref().is_none_or(below)
    }

    pub(super) fn is_empty(&self, cmp: impl Fn(&V, &V) -> Ordering) -> bool {
        match (&self.lower, &self.upper) {
            (Some((l, li)), Some((u, ui))) => match cmp(l, u) {
                Ordering::Greater => true,
                Ordering::Equal => !(*li && *ui),
                Ordering::Less => false,
            },
            _ => false,
        }
    }
}

/// What a text states in numbers, read once per query: its tokens and its ages.
pub struct Stated<'t> {
    norm: &'t str,
    pub(super) tokens: Vec<Token>,
    pub(super) ages: Vec<StatedAge>,
}

impl<'t> Stated<'t> {
    /// Reads normalised text (see [`normalize`](crate::text::normalize)).
    pub fn new(norm: &'t str) -> Stated<'t> {
        let tokens = tokenize(norm);
        let ages = stated_ages(&tokens);
        Stated { norm, tokens, ages }
    }

    /// The text of tokens `first..=last`.
    pub(super) fn span(&self, first: usize, last: usize) -> &'t str {
        let start = self.tokens[first].start;
        let t = &self.tokens[last];
        let end = match &t.kind {
            Tok::Word(w) => t.start + w.len(),
            _ => number_end(self.norm, t.start),
        };
        &self.norm[start..end]
    }
}

/// The end of the number written at byte `start`: digits, with "." or "," between digits.
fn number_end(norm: &str, start: usize) -> usize {
    let bytes = norm.as_bytes();
    let mut i = start;
    while i < bytes.len()
        && (bytes[i].is_ascii_digit()
            || (matches!(bytes[i], b'.' | b',') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)))
    {
        i += 1;
    }
    i
}
