//! Numbers in clinical text: a tokenizer for numbers, words and sentence breaks, spelled
//! numbers, and stated ages.
//!
//! Works on [`Text::normalized`](crate::text::Text::normalized) text (lower case, straight
//! quotes), so token offsets line up with term matches. Principles build their own readings
//! on the tokens (doses, blood-glucose values, …) with [`word_at`] and [`number_at`].
//!
//! ```
//! use clinalign_core::quantities::{ages_in_days, tokenize};
//! use clinalign_core::text::normalize;
//!
//! let ages = |s: &str| ages_in_days(&tokenize(&normalize(s)));
//! assert_eq!(ages("My 6-week-old has a fever"), [42]);
//! assert_eq!(ages("my mother is 84"), [84 * 365]);
//! assert!(ages("I am 38 weeks pregnant").is_empty());
//! ```

/// A token of normalised text with its byte offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: Tok,
    /// Byte offset of the token's first character.
    pub start: usize,
}

/// A number, a word, or a sentence break.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Num(f64),
    Word(String),
    Break,
}

/// Splits normalised text into numbers, words and sentence breaks. "500mg" gives a number
/// and a word; "1,000" is one number and "2.5" another; "y/o" gives the words "y" and "o";
/// ".", "!", "?" and ";" give a break. Other punctuation and spaces separate tokens.
pub fn tokenize(norm: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = norm.char_indices().collect();
    let digit = |k: usize| chars.get(k).is_some_and(|(_, c)| c.is_ascii_digit());
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if c.is_ascii_digit() {
            let mut s = String::new();
            while let Some(&(_, d)) = chars.get(i) {
                if d.is_ascii_digit() {
                    s.push(d);
                } else if d == '.' && digit(i + 1) && !s.contains('.') {
                    s.push('.');
                } else if !(d == ',' && digit(i + 1) && digit(i + 2) && digit(i + 3) && !digit(i + 4)) {
                    break; // a comma followed by exactly three digits separates thousands
                }
                i += 1;
            }
            if let Ok(v) = s.parse::<f64>() {
                out.push(Token { kind: Tok::Num(v), start });
            }
            continue;
        }
        if c.is_alphabetic() {
            let mut s = String::new();
            while let Some(&(_, w)) = chars.get(i).filter(|(_, w)| w.is_alphabetic() || *w == '\'') {
                s.push(w);
                i += 1;
            }
            out.push(Token { kind: Tok::Word(s), start });
            continue;
        }
        if matches!(c, '.' | '!' | '?' | ';') {
            out.push(Token { kind: Tok::Break, start });
        }
        i += 1;
    }
    out
}

/// The word at token `i`, if that token is a word.
pub fn word_at(tokens: &[Token], i: usize) -> Option<&str> {
    match &tokens.get(i)?.kind {
        Tok::Word(w) => Some(w.as_str()),
        _ => None,
    }
}

/// The number at token `i`: digits, or a number spelled out from "one" to "twenty" (see
/// [`word_number`]; "a" and "an" are not numbers here).
pub fn number_at(tokens: &[Token], i: usize) -> Option<f64> {
    match &tokens.get(i)?.kind {
        Tok::Num(v) => Some(*v),
        Tok::Word(w) => word_number(w),
        Tok::Break => None,
    }
}

/// "one" to "twenty" as numbers.
pub fn word_number(w: &str) -> Option<f64> {
    const WORDS: [&str; 20] = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
        "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
    ];
    WORDS.iter().position(|x| *x == w).map(|i| (i + 1) as f64)
}

/// Days per unit of an age ("weeks" → 7, "months" → 30, "yo" → 365).
pub fn age_unit_days(w: &str) -> Option<u32> {
    Some(match w {
        "day" | "days" => 1,
        "week" | "weeks" | "wk" | "wks" => 7,
        "month" | "months" | "mo" | "mos" | "mth" | "mths" => 30,
        "year" | "years" | "yr" | "yrs" | "y" | "yo" => 365,
        _ => return None,
    })
}

/// See [`is_measure_word`].
const MEASURE_WORDS: &[&str] = &[
    "mg", "mgs", "milligram", "milligrams", "mcg", "ug", "μg", "µg", "microgram", "micrograms", "g", "gm", "gms",
    "gram", "grams", "ml", "mls", "millilitre", "millilitres", "milliliter", "milliliters", "cc", "unit", "units",
    "iu", "tablet", "tablets", "tab", "tabs", "pill", "pills", "caplet", "caplets", "capsule", "capsules", "puff",
    "puffs", "drop", "drops", "gummy", "gummies", "tsp", "teaspoon", "teaspoons", "tbsp", "tablespoon", "tablespoons",
    "kg", "kgs", "kilo", "kilos", "kilogram", "kilograms", "lb", "lbs", "pound", "pounds", "percent", "degrees", "c",
    "f", "am", "pm", "second", "seconds", "sec", "secs", "minute", "minutes", "min", "mins", "hour", "hours", "hr",
    "hrs", "foot", "feet", "ft", "inch", "inches", "cm", "centimetre", "centimetres", "centimeter", "centimeters",
    "metre", "metres", "meter", "meters",
];

/// Whether `w`, right after a number, makes it a measurement rather than an age ("he is
/// 70 kg", "she's 5 mg"): units of mass, volume, dose counts and body weight, percent,
/// degrees and temperature scales, and the time of day.
pub fn is_measure_word(w: &str) -> bool {
    MEASURE_WORDS.contains(&w)
}

/// Who "is N" may describe in "my mother is 84".
const PERSONS: &[&str] = &[
    "he", "she", "mom", "mum", "dad", "mother", "father", "son", "daughter", "grandmother", "grandfather", "grandma",
    "grandpa", "husband", "wife", "child", "baby", "kid",
];

/// Ages the text states, in days, in order of appearance: [`stated_ages`], each in days.
pub fn ages_in_days(tokens: &[Token]) -> Vec<u32> {
    stated_ages(tokens).iter().map(StatedAge::days).collect()
}

/// One age a text states (see [`stated_ages`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StatedAge {
    /// The number stated ("a week old" gives 1).
    pub value: f64,
    /// Days per unit (see [`age_unit_days`]); 365 for an age stated without a unit.
    pub unit_days: u32,
    /// The tokens that state it: the number, then its unit and "old" (or "y/o") when given.
    pub tokens: std::ops::Range<usize>,
}

impl StatedAge {
    /// The age in whole days.
    pub fn days(&self) -> u32 {
        (self.value * self.unit_days as f64).round() as u32
    }

    /// Whether the text gave a unit ("7 weeks old"), rather than a bare number ("I'm 70").
    pub fn has_unit(&self) -> bool {
        self.tokens.len() > 1
    }
}

/// Ages the text states, in order of appearance.
///
/// With an age unit: "6-week-old", "3 months old", "2yo", "70 y/o", "aged 4 months",
/// "born 10 days ago", "a week old" ("a"/"an" count as one only here). In years, without a
/// unit: "aged 7", "age 52", and whole numbers from 1 after "I'm", "I am", "he's", "she's"
/// or "my mother is" (and the like) unless a measure follows ("he is 70 kg", see
/// [`is_measure_word`]). Durations and pregnancies are not ages: "fever for 3 days",
/// "a week ago", "38 weeks pregnant". Numbers above 120 are never ages.
pub fn stated_ages(tokens: &[Token]) -> Vec<StatedAge> {
    let mut out = Vec::new();
    for i in 0..tokens.len() {
        let article = matches!(word_at(tokens, i), Some("a" | "an"));
        let Some(n) = number_at(tokens, i).or(article.then_some(1.0)) else { continue };
        if !(0.0..=120.0).contains(&n) {
            continue;
        }
        let prev = i.checked_sub(1).and_then(|p| word_at(tokens, p));
        let prev2 = i.checked_sub(2).and_then(|p| word_at(tokens, p));
        let aged = matches!(prev, Some("aged" | "age"));
        let unit = word_at(tokens, i + 1);
        if let Some(days) = unit.and_then(age_unit_days) {
            let after = word_at(tokens, i + 2);
            let old = after == Some("old") || (unit == Some("y") && after == Some("o"));
            let is_age = unit == Some("yo")
                || old
                || aged
                || (after == Some("ago") && (prev == Some("born") || prev2 == Some("born")));
            if is_age {
                let end = if old { i + 3 } else { i + 2 };
                out.push(StatedAge { value: n, unit_days: days, tokens: i..end });
            }
        } else if !article && (aged || is_subject_age(tokens, i, n, prev, prev2)) {
            out.push(StatedAge { value: n, unit_days: 365, tokens: i..i + 1 });
        }
    }
    out
}

/// "I'm 70", "she's 7", "my mother is 84": a whole number of years from 1 after a person,
/// with no further number or measure after it.
fn is_subject_age(tokens: &[Token], i: usize, n: f64, prev: Option<&str>, prev2: Option<&str>) -> bool {
    let followed = matches!(tokens.get(i + 1), Some(Token { kind: Tok::Num(_), .. }))
        || word_at(tokens, i + 1).is_some_and(is_measure_word);
    let subject = matches!(prev, Some("i'm" | "im" | "he's" | "she's" | "hes" | "shes"))
        || (prev == Some("is") && prev2.is_some_and(|p| PERSONS.contains(&p)))
        || (prev == Some("am") && prev2 == Some("i"));
    subject && !followed && n >= 1.0 && n.fract() == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize;

    fn toks(s: &str) -> Vec<Token> {
        tokenize(&normalize(s))
    }

    fn ages(s: &str) -> Vec<u32> {
        ages_in_days(&toks(s))
    }

    fn kinds(s: &str) -> Vec<Tok> {
        tokenize(s).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn tokens_keep_offsets() {
        let t = toks("Took 1,000mg; ok");
        assert_eq!(t[1], Token { kind: Tok::Num(1000.0), start: 5 });
        assert_eq!(t[2], Token { kind: Tok::Word("mg".into()), start: 10 });
        assert_eq!(t[3].kind, Tok::Break);
        assert_eq!(t[4], Token { kind: Tok::Word("ok".into()), start: 14 });
        assert_eq!(toks("café 3")[1].start, 6, "byte offsets, not characters");
    }

    #[test]
    fn tokenizer_splits_numbers_units_and_breaks() {
        let w = |s: &str| Tok::Word(s.into());
        assert_eq!(
            kinds("took 1,000mg. then 2.5 ml y/o"),
            [w("took"), Tok::Num(1000.0), w("mg"), Tok::Break, w("then"), Tok::Num(2.5), w("ml"), w("y"), w("o")]
        );
        assert_eq!(
            kinds("baby's 1,5 ok? 12,3456"),
            [w("baby's"), Tok::Num(1.0), Tok::Num(5.0), w("ok"), Tok::Break, Tok::Num(12.0), Tok::Num(3456.0)]
        );
        assert_eq!(kinds("1.2.3 end."), [Tok::Num(1.2), Tok::Break, Tok::Num(3.0), w("end"), Tok::Break]);
        assert!(tokenize("").is_empty());
    }

    #[test]
    fn numbers_and_words_at_positions() {
        let t = toks("take two, a dose of 5");
        assert_eq!(word_at(&t, 0), Some("take"));
        assert_eq!(number_at(&t, 1), Some(2.0));
        assert_eq!(number_at(&t, 2), None, "\"a\" is not a number on its own");
        assert_eq!(number_at(&t, 5), Some(5.0));
        assert_eq!(word_at(&t, 5), None);
        assert_eq!(word_at(&t, 99), None);
        assert_eq!(word_number("twenty"), Some(20.0));
        assert_eq!(word_number("twice"), None);
        assert_eq!(age_unit_days("mths"), Some(30));
        assert_eq!(age_unit_days("hours"), None);
        assert!(is_measure_word("kg") && is_measure_word("µg") && is_measure_word("pm"));
        assert!(!is_measure_word("years") && !is_measure_word("and"));
        assert!(is_measure_word("hours") && is_measure_word("foot"));
    }

    #[test]
    fn ages_with_units() {
        assert_eq!(ages("my 6-week-old has a fever"), [42]);
        assert_eq!(ages("She is 2 months old"), [60]);
        assert_eq!(ages("my 3 year old son"), [3 * 365]);
        assert_eq!(ages("a two week old baby"), [14]);
        assert_eq!(ages("my 4yo and my 70 y/o dad"), [4 * 365, 70 * 365]);
        assert_eq!(ages("a week old"), [7]);
        assert_eq!(ages("aged 4 months"), [120]);
        assert_eq!(ages("he was born 10 days ago"), [10]);
        assert_eq!(ages("born 3 weeks ago"), [21]);
    }

    #[test]
    fn ages_in_years_without_a_unit() {
        assert_eq!(ages("aged 7, he"), [7 * 365]);
        assert_eq!(ages("age 0.5"), [183]);
        assert_eq!(ages("My mother is 84 and takes warfarin"), [84 * 365]);
        assert_eq!(ages("I'm 70"), [70 * 365]);
        assert_eq!(ages("I am 45"), [45 * 365]);
        assert_eq!(ages("she's 7 and weighs 20 kg"), [7 * 365]);
    }

    #[test]
    fn stated_ages_keep_their_tokens_and_unit() {
        let t = toks("my 7-week-old and my 70 y/o dad, I'm 40, born 3 days ago");
        let a = stated_ages(&t);
        let spans: Vec<_> = a.iter().map(|a| (a.value, a.unit_days, a.tokens.clone(), a.has_unit())).collect();
        assert_eq!(
            spans,
            [(7.0, 7, 1..4, true), (70.0, 365, 6..9, true), (40.0, 365, 11..12, false), (3.0, 1, 13..15, true)]
        );
        assert_eq!(a[0].days(), 49);
    }

    #[test]
    fn pregnancies_durations_and_measures_are_not_ages() {
        for s in [
            "I am 20 weeks pregnant", "I am 38 weeks pregnant", "fever for 3 days", "a week ago", "he is 70 kg",
            "she is 39 degrees", "I'm 2.5", "he's 0", "take it twice a day", "my dose is 50", "an hour ago",
            "aged 130", "she's 3 hours postpartum", "I'm 5 foot 2", "he is 180 cm tall",
        ] {
            assert!(ages(s).is_empty(), "{s}: {:?}", ages(s));
        }
    }
}
