//! Numbers in a medication question: dose amounts and how often they are taken, stated
//! ages, and body weights. Works on [`clinalign_sdk::text::Text::normalized`] text, so
//! byte offsets line up with term matches.

/// A token of normalised text with its byte offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: Tok,
    pub start: usize,
}

/// A number, a word, or a sentence break.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Num(f64),
    Word(String),
    Break,
}

/// Splits normalised text: "500mg" gives a number and a word, "1,000" one number,
/// "2.5" one number, ".", "!", "?" and ";" a break.
pub fn tokenize(norm: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = norm.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if c.is_ascii_digit() {
            let mut s = String::new();
            while i < chars.len() {
                let d = chars[i].1;
                let next_digit = |k: usize| chars.get(k).is_some_and(|(_, n)| n.is_ascii_digit());
                if d.is_ascii_digit() {
                    s.push(d);
                } else if d == '.' && next_digit(i + 1) && !s.contains('.') {
                    s.push('.');
                } else if d == ',' && next_digit(i + 1) && next_digit(i + 2) && next_digit(i + 3) && !next_digit(i + 4)
                {
                    // thousands separator
                } else {
                    break;
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
            while i < chars.len() && (chars[i].1.is_alphabetic() || chars[i].1 == '\'') {
                s.push(chars[i].1);
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

/// 1..20 spelled out, and "a"/"an" as one (only where callers allow it).
pub fn word_number(w: &str) -> Option<f64> {
    const WORDS: [&str; 20] = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
        "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
    ];
    match w {
        "a" | "an" => Some(1.0),
        "twice" => Some(2.0),
        _ => WORDS.iter().position(|x| *x == w).map(|i| (i + 1) as f64),
    }
}

fn word(tokens: &[Token], i: usize) -> Option<&str> {
    match &tokens.get(i)?.kind {
        Tok::Word(w) => Some(w.as_str()),
        _ => None,
    }
}

fn number(tokens: &[Token], i: usize) -> Option<f64> {
    match &tokens.get(i)?.kind {
        Tok::Num(v) => Some(*v),
        Tok::Word(w) if w != "a" && w != "an" && w != "twice" => word_number(w),
        _ => None,
    }
}

/// Every number-with-unit in the text.
pub fn amounts(tokens: &[Token]) -> Vec<Amount> {
    let mut out = Vec::new();
    for i in 0..tokens.len() {
        let Tok::Num(value) = tokens[i].kind else { continue };
        let Some(unit) = word(tokens, i + 1).and_then(Unit::parse) else { continue };
        let unit_word = word(tokens, i + 1).unwrap_or("");
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
        let count = match a.token.checked_sub(1).and_then(|p| number(tokens, p)) {
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
                matches!(word(tokens, k), Some("daily" | "today" | "total" | "altogether"))
                    || (matches!(word(tokens, k), Some("a" | "per" | "each")) && word(tokens, k + 1) == Some("day"))
                    || (word(tokens, k) == Some("in") && number(tokens, k + 1) == Some(24.0))
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
        match word(tokens, k) {
            Some("every") => {
                // "every 4 hours", "every hour", "every 4 to 6 hours", "every 4-6 hours":
                // the shortest interval gives the most doses a day.
                let (n, mut unit_at) = match number(tokens, k + 1) {
                    Some(n) => (n, k + 2),
                    None => (1.0, k + 1),
                };
                if word(tokens, unit_at) == Some("to") && number(tokens, unit_at + 1).is_some() {
                    unit_at += 2;
                } else if number(tokens, unit_at).is_some() {
                    unit_at += 1;
                }
                if matches!(word(tokens, unit_at), Some("hours" | "hour" | "hrs" | "hr" | "h"))
                    && (1.0..=24.0).contains(&n)
                {
                    return Some((24.0 / n).ceil());
                }
            }
            Some("times" | "x") => {
                let Some(n) = k.checked_sub(1).and_then(|p| number(tokens, p)) else { continue };
                let next = word(tokens, k + 1);
                let daily = matches!(next, Some("daily"))
                    || (matches!(next, Some("a" | "per")) && word(tokens, k + 2) == Some("day"));
                if daily && (1.0..=24.0).contains(&n) {
                    return Some(n);
                }
            }
            Some("twice") => {
                let next = word(tokens, k + 1);
                if next == Some("daily") || (matches!(next, Some("a" | "per")) && word(tokens, k + 2) == Some("day")) {
                    return Some(2.0);
                }
            }
            Some("once") => {
                let next = word(tokens, k + 1);
                if next == Some("daily") || (matches!(next, Some("a" | "per")) && word(tokens, k + 2) == Some("day")) {
                    return Some(1.0);
                }
            }
            _ => {}
        }
    }
    None
}

fn age_unit_days(w: &str) -> Option<u32> {
    Some(match w {
        "day" | "days" => 1,
        "week" | "weeks" | "wk" | "wks" => 7,
        "month" | "months" | "mo" | "mos" | "mth" | "mths" => 30,
        "year" | "years" | "yr" | "yrs" | "y" | "yo" => 365,
        _ => return None,
    })
}

/// Ages the text states, in days: "6-week-old", "3 months old", "2yo", "aged 4",
/// "my mother is 84", "she's 7". A pregnancy's "20 weeks" is not an age.
pub fn ages_in_days(tokens: &[Token]) -> Vec<u32> {
    let mut out = Vec::new();
    for i in 0..tokens.len() {
        let spelled_article = matches!(word(tokens, i), Some("a" | "an"));
        let n = match &tokens[i].kind {
            Tok::Num(v) => *v,
            Tok::Word(w) => match word_number(w) {
                Some(v) if w != "twice" => v,
                _ => continue,
            },
            Tok::Break => continue,
        };
        if !(0.0..=120.0).contains(&n) {
            continue;
        }
        let prev = i.checked_sub(1).and_then(|p| word(tokens, p));
        let prev2 = i.checked_sub(2).and_then(|p| word(tokens, p));
        match word(tokens, i + 1) {
            Some(u) if age_unit_days(u).is_some() => {
                let next = word(tokens, i + 2);
                let is_age = u == "yo"
                    || next == Some("old")
                    || (u == "y" && next == Some("o"))
                    || matches!(prev, Some("aged" | "age"));
                if is_age {
                    out.push((n * age_unit_days(u).unwrap_or(365) as f64).round() as u32);
                }
            }
            next => {
                if spelled_article || tokens.get(i + 1).is_some_and(|t| matches!(t.kind, Tok::Num(_))) {
                    continue;
                }
                // A unit after the number means it is not an age ("he is 70 kg").
                if next.is_some_and(|w| {
                    Unit::parse(w).is_some() || matches!(w, "percent" | "degrees" | "c" | "f" | "am" | "pm")
                }) {
                    continue;
                }
                let subject = matches!(prev, Some("aged" | "age" | "i'm" | "im" | "he's" | "she's" | "hes" | "shes"))
                    || (prev == Some("is")
                        && matches!(
                            prev2,
                            Some(
                                "he" | "she"
                                    | "mom"
                                    | "mum"
                                    | "dad"
                                    | "mother"
                                    | "father"
                                    | "son"
                                    | "daughter"
                                    | "grandmother"
                                    | "grandfather"
                                    | "grandma"
                                    | "grandpa"
                                    | "husband"
                                    | "wife"
                                    | "child"
                                    | "baby"
                                    | "kid"
                            )
                        ))
                    || (prev == Some("am") && prev2 == Some("i"));
                if subject && n >= 1.0 && n.fract() == 0.0 {
                    out.push((n * 365.0) as u32);
                }
            }
        }
    }
    out
}

/// Whether the text gives a body weight ("15 kg", "33 lbs").
pub fn states_weight(tokens: &[Token]) -> bool {
    amounts(tokens).iter().any(|a| !a.unit.is_dose())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinalign_sdk::text::normalize;

    fn toks(s: &str) -> Vec<Token> {
        tokenize(&normalize(s))
    }

    fn doses(s: &str) -> Vec<(f64, Option<f64>)> {
        dose_statements(&toks(s)).iter().map(|d| (d.per_dose_mg, d.daily_mg)).collect()
    }

    #[test]
    fn tokens_keep_offsets() {
        let t = toks("Took 1,000mg; ok");
        assert_eq!(t[1], Token { kind: Tok::Num(1000.0), start: 5 });
        assert_eq!(t[2], Token { kind: Tok::Word("mg".into()), start: 10 });
        assert_eq!(t[3].kind, Tok::Break);
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
    fn ages_in_common_phrasings() {
        let ages = |s: &str| ages_in_days(&toks(s));
        assert_eq!(ages("my 6-week-old"), [42]);
        assert_eq!(ages("my 3 year old son"), [3 * 365]);
        assert_eq!(ages("My mother is 84 and takes warfarin"), [84 * 365]);
        assert_eq!(ages("I'm 70"), [70 * 365]);
        assert_eq!(ages("she's 7 and weighs 20 kg"), [7 * 365]);
        assert!(ages("I am 20 weeks pregnant").is_empty());
        assert!(ages("he is 70 kg").is_empty());
        assert!(ages("take it twice a day").is_empty());
        assert!(ages("my dose is 50").is_empty());
    }

    #[test]
    fn weights() {
        assert!(states_weight(&toks("she weighs 18kg")));
        assert!(states_weight(&toks("he is 40 lbs")));
        assert!(!states_weight(&toks("she is 4")));
    }
}
