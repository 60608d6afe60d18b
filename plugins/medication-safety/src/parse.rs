//! Numbers in a medication question: dose amounts and how often they are taken, and body
//! weights. Built on the SDK's tokens ([`clinalign_sdk::quantities`], which also reads the
//! stated ages), so byte offsets line up with term matches.

use clinalign_sdk::quantities::{Tok, Token, number_at, word_at};

/// The unit of an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Mg,
    Mcg,
    G,
    Ml,
    Units,
    /// Tablets, pills, capsules, puffs, drops.
    Count,
    Spoon,
    Kg,
    Lb,
}

impl Unit {
    fn parse(w: &str) -> Option<Unit> {
        Some(match w {
            "mg" | "mgs" | "milligram" | "milligrams" => Unit::Mg,
            "mcg" | "ug" | "μg" | "µg" | "microgram" | "micrograms" => Unit::Mcg,
            "g" | "gm" | "gms" | "gram" | "grams" => Unit::G,
            "ml" | "mls" | "millilitre" | "millilitres" | "milliliter" | "milliliters" | "cc" => Unit::Ml,
            "unit" | "units" | "iu" => Unit::Units,
            "tablet" | "tablets" | "tab" | "tabs" | "pill" | "pills" | "caplet" | "caplets" | "capsule"
            | "capsules" | "puff" | "puffs" | "drop" | "drops" | "gummy" | "gummies" => Unit::Count,
            "tsp" | "teaspoon" | "teaspoons" | "tbsp" | "tablespoon" | "tablespoons" => Unit::Spoon,
            "kg" | "kgs" | "kilo" | "kilos" | "kilogram" | "kilograms" => Unit::Kg,
            "lb" | "lbs" | "pound" | "pounds" => Unit::Lb,
            _ => return None,
        })
    }

    /// Milligrams per unit, for mass units.
    pub fn mg_factor(self) -> Option<f64> {
        match self {
            Unit::Mg => Some(1.0),
            Unit::Mcg => Some(0.001),
            Unit::G => Some(1000.0),
            _ => None,
        }
    }

    /// Whether the unit measures a dose (not a body weight).
    pub fn is_dose(self) -> bool {
        !matches!(self, Unit::Kg | Unit::Lb)
    }
}

/// A number with a unit: "500 mg", "2 tablets", "15 kg".
#[derive(Debug, Clone, PartialEq)]
pub struct Amount {
    pub value: f64,
    pub unit: Unit,
    /// Byte offset of the number.
    pub start: usize,
    /// Index of the number's token.
    pub token: usize,
    /// The amount as written, e.g. "500 mg".
    pub text: String,
}

/// Every number-with-unit in the text.
pub fn amounts(tokens: &[Token]) -> Vec<Amount> {
    let mut out = Vec::new();
    for i in 0..tokens.len() {
        let Tok::Num(value) = tokens[i].kind else { continue };
        let Some(unit) = word_at(tokens, i + 1).and_then(Unit::parse) else { continue };
        let unit_word = word_at(tokens, i + 1).unwrap_or("");
        out.push(Amount {
            value,
            unit,
            start: tokens[i].start,
            token: i,
            text: format!("{} {unit_word}", fmt_num(value)),
        });
    }
    out
}

/// Writes 1000 as "1,000" and 2.5 as "2.5".
pub fn fmt_num(v: f64) -> String {
    if v.fract() != 0.0 {
        return format!("{v}");
    }
    let digits = format!("{}", v as i64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The sentence index of each token (breaks end a sentence).
fn sentence_of(tokens: &[Token]) -> Vec<usize> {
    let mut s = 0;
    tokens
        .iter()
        .map(|t| {
            let here = s;
            if t.kind == Tok::Break {
                s += 1;
            }
            here
        })
        .collect()
}

/// A dose of a mass unit, with the daily total when the sentence says how often.
#[derive(Debug, Clone, PartialEq)]
pub struct DoseStatement {
    /// The amount as written ("500 mg").
    pub amount: String,
    /// Milligrams per dose, counting "two 500 mg tablets" as 1,000 mg.
    pub per_dose_mg: f64,
    /// Milligrams in 24 hours, when the sentence gives a frequency or says it is a daily total.
    pub daily_mg: Option<f64>,
    /// Byte offset of the amount.
    pub start: usize,
    /// Sentence index, to match the dose to a drug named in the same sentence.
    pub sentence: usize,
}

/// Reads the doses in the text: amount × count × doses per day.
///
/// Frequencies understood: "every N hours", "every hour", "N times a day/daily",
/// "twice a day", "once a day". "a day", "per day", "daily", "today", "in 24 hours" and
/// "in total" without a frequency make the amount a daily total.
pub fn dose_statements(tokens: &[Token]) -> Vec<DoseStatement> {
    let sentences = sentence_of(tokens);
    let all = amounts(tokens);
    let mut out = Vec::new();
    for a in all.iter().filter(|a| a.unit.mg_factor().is_some()) {
        let s = sentences[a.token];
        let in_sentence: Vec<usize> = (0..tokens.len()).filter(|&k| sentences[k] == s).collect();
        let factor = a.unit.mg_factor().unwrap_or(1.0);
        // A count just before ("two 500 mg tablets") or a count amount shortly before
        // ("2 tablets of 500 mg").
        let count = match a.token.checked_sub(1).and_then(|p| number_at(tokens, p)) {
            Some(k) => Some(k),
            None => all
                .iter()
                .find(|c| {
                    c.unit == Unit::Count && c.token < a.token && a.token - c.token <= 4 && sentences[c.token] == s
                })
                .map(|c| c.value),
        }
        .filter(|k| (1.0..=10.0).contains(k))
        .unwrap_or(1.0);
        let per_dose_mg = a.value * factor * count;
        let daily_mg = doses_per_day(tokens, &in_sentence).map(|n| per_dose_mg * n).or_else(|| {
            let total = in_sentence.iter().any(|&k| {
                matches!(word_at(tokens, k), Some("daily" | "today" | "total" | "altogether"))
                    || (matches!(word_at(tokens, k), Some("a" | "per" | "each"))
                        && word_at(tokens, k + 1) == Some("day"))
                    || (word_at(tokens, k) == Some("in") && number_at(tokens, k + 1) == Some(24.0))
            });
            total.then_some(per_dose_mg)
        });
        out.push(DoseStatement { amount: a.text.clone(), per_dose_mg, daily_mg, start: a.start, sentence: s });
    }
    out
}

/// Doses in 24 hours from a frequency phrase among `idx` (token indices of one sentence).
fn doses_per_day(tokens: &[Token], idx: &[usize]) -> Option<f64> {
    for &k in idx {
        match word_at(tokens, k) {
            Some("every") => {
                // "every 4 hours", "every hour", "every 4 to 6 hours", "every 4-6 hours":
                // the shortest interval gives the most doses a day.
                let (n, mut unit_at) = match number_at(tokens, k + 1) {
                    Some(n) => (n, k + 2),
                    None => (1.0, k + 1),
                };
                if word_at(tokens, unit_at) == Some("to") && number_at(tokens, unit_at + 1).is_some() {
                    unit_at += 2;
                } else if number_at(tokens, unit_at).is_some() {
                    unit_at += 1;
                }
                if matches!(word_at(tokens, unit_at), Some("hours" | "hour" | "hrs" | "hr" | "h"))
                    && (1.0..=24.0).contains(&n)
                {
                    return Some((24.0 / n).ceil());
                }
            }
            Some("times" | "x") => {
                let Some(n) = k.checked_sub(1).and_then(|p| number_at(tokens, p)) else { continue };
                let next = word_at(tokens, k + 1);
                let daily = matches!(next, Some("daily"))
                    || (matches!(next, Some("a" | "per")) && word_at(tokens, k + 2) == Some("day"));
                if daily && (1.0..=24.0).contains(&n) {
                    return Some(n);
                }
            }
            Some("twice") => {
                let next = word_at(tokens, k + 1);
                if next == Some("daily") || (matches!(next, Some("a" | "per")) && word_at(tokens, k + 2) == Some("day"))
                {
                    return Some(2.0);
                }
            }
            Some("once") => {
                let next = word_at(tokens, k + 1);
                if next == Some("daily") || (matches!(next, Some("a" | "per")) && word_at(tokens, k + 2) == Some("day"))
                {
                    return Some(1.0);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether the text gives a body weight ("15 kg", "33 lbs").
pub fn states_weight(tokens: &[Token]) -> bool {
    amounts(tokens).iter().any(|a| !a.unit.is_dose())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinalign_sdk::quantities::tokenize;
    use clinalign_sdk::text::normalize;

    fn toks(s: &str) -> Vec<Token> {
        tokenize(&normalize(s))
    }

    fn doses(s: &str) -> Vec<(f64, Option<f64>)> {
        dose_statements(&toks(s)).iter().map(|d| (d.per_dose_mg, d.daily_mg)).collect()
    }

    #[test]
    fn amounts_read_units() {
        let a = amounts(&toks("500 mg, 2 tablets, 5ml, 1.5 g, 12 kg and 400mcg"));
        let got: Vec<_> = a.iter().map(|a| (a.value, a.unit)).collect();
        assert_eq!(
            got,
            [
                (500.0, Unit::Mg),
                (2.0, Unit::Count),
                (5.0, Unit::Ml),
                (1.5, Unit::G),
                (12.0, Unit::Kg),
                (400.0, Unit::Mcg)
            ]
        );
        assert_eq!(a[0].text, "500 mg");
        assert_eq!(fmt_num(4000.0), "4,000");
        assert_eq!(fmt_num(12500.0), "12,500");
        assert_eq!(fmt_num(2.5), "2.5");
    }

    #[test]
    fn daily_totals_from_frequencies() {
        assert_eq!(doses("I take 1000 mg every 4 hours"), [(1000.0, Some(6000.0))]);
        assert_eq!(doses("two 500mg tablets every 6 hours"), [(1000.0, Some(4000.0))]);
        assert_eq!(doses("2 tablets of 500 mg three times a day"), [(1000.0, Some(3000.0))]);
        assert_eq!(doses("400 mg twice daily"), [(400.0, Some(800.0))]);
        assert_eq!(doses("800mg 4 times per day"), [(800.0, Some(3200.0))]);
        assert_eq!(doses("I've had 5 g today"), [(5000.0, Some(5000.0))]);
        assert_eq!(doses("Can I take 1000 mg?"), [(1000.0, None)]);
        assert_eq!(doses("500 mg every hour"), [(500.0, Some(12000.0))]);
        assert_eq!(doses("1000 mg every 4 to 6 hours"), [(1000.0, Some(6000.0))]);
        assert_eq!(doses("1000 mg every 4-6 hours"), [(1000.0, Some(6000.0))]);
        assert_eq!(doses("many times a day I take 200 mg, 3 times a day"), [(200.0, Some(600.0))]);
        // The frequency belongs to its own sentence.
        assert_eq!(doses("I took 650 mg. I take it every 4 hours"), [(650.0, None)]);
    }

    #[test]
    fn weights() {
        assert!(states_weight(&toks("she weighs 18kg")));
        assert!(states_weight(&toks("he is 40 lbs")));
        assert!(!states_weight(&toks("she is 4")));
    }
}
