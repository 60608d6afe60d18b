//! The matching engine: conditions over a user's text, plus the few facts that need
//! parsing rather than term look-ups: stated ages (read by
//! [`clinalign_sdk::quantities::ages_in_days`]) and blood-glucose readings.

use clinalign_sdk::lookup::Lookup;
use clinalign_sdk::quantities::{Tok, Token, ages_in_days, tokenize, word_at};
use clinalign_sdk::text::Match;

/// When a red-flag feature is present. Term lists use [`clinalign_sdk::text::Text`] syntax (word-bounded,
/// case-insensitive, trailing `*` wildcard) and only affirmed (non-negated) mentions count.
#[derive(Debug)]
pub enum Cond {
    /// At least one of the terms.
    Any(&'static [&'static str]),
    /// A term of the first list within `n` words of a term of the second, in one sentence.
    Near(&'static [&'static str], &'static [&'static str], usize),
    /// Every condition.
    All(&'static [Cond]),
    /// At least one condition.
    Either(&'static [Cond]),
    /// A baby under 3 months old (a stated age, "newborn" or "neonate").
    InfantUnder3Months,
    /// A child: a stated age under 18, or a word such as "toddler" or "my son".
    Child,
    /// A blood-glucose reading of 300 mg/dL (16.7 mmol/L) or more.
    HighGlucose,
}

/// A user's text prepared for evaluating conditions.
pub struct Ctx {
    pub text: Lookup,
    ages_days: Vec<u32>,
    high_glucose: bool,
}

/// Words that, without a stated age, say the patient is a child.
const CHILD_WORDS: &[&str] = &[
    "baby", "babies", "infant", "newborn", "toddler", "child", "kid", "my son", "our son", "my daughter",
    "our daughter", "little boy", "little girl", "my boy", "my girl", "grandson", "granddaughter", "preschooler",
];

const PREGNANCY_WORDS: &[&str] = &["pregnant", "pregnancy", "trimester", "weeks along", "my bump"];

const NEWBORN_WORDS: &[&str] = &["newborn", "new born", "neonate", "neonatal"];

impl Ctx {
    /// Prepares `raw` (the user's turns).
    pub fn new(raw: &str) -> Ctx {
        let text = Lookup::new(raw);
        let tokens = tokenize(text.normalized());
        let ages_days = ages_in_days(&tokens);
        let high_glucose = high_glucose(&tokens);
        Ctx { text, ages_days, high_glucose }
    }

    /// Stated ages, in days, in order of appearance.
    pub fn ages_days(&self) -> &[u32] {
        &self.ages_days
    }

    /// Whether `cond` holds for this text.
    pub fn holds(&self, cond: &Cond) -> bool {
        match cond {
            Cond::Any(terms) => terms.iter().any(|t| self.text.mentions(t)),
            Cond::Near(a, b, n) => self.near(a, b, *n),
            Cond::All(cs) => cs.iter().all(|c| self.holds(c)),
            Cond::Either(cs) => cs.iter().any(|c| self.holds(c)),
            Cond::InfantUnder3Months => {
                self.ages_days.iter().any(|d| *d < 91) || NEWBORN_WORDS.iter().any(|t| self.text.mentions(t))
            }
            Cond::Child => {
                // In a pregnancy, "the baby" is usually the unborn baby.
                let pregnant = PREGNANCY_WORDS.iter().any(|t| self.text.mentions(t));
                self.ages_days.iter().any(|d| *d < 18 * 365)
                    || CHILD_WORDS.iter().filter(|t| !(pregnant && t.starts_with("bab"))).any(|t| self.text.mentions(t))
            }
            Cond::HighGlucose => self.high_glucose,
        }
    }

    fn affirmed(&self, terms: &[&str]) -> Vec<Match> {
        terms.iter().flat_map(|t| self.text.find_all(t)).filter(|m| !m.negated).collect()
    }

    /// Whether an affirmed term of `a` and one of `b` stand at most `n` words apart with no
    /// sentence end between them (overlapping matches count as near).
    fn near(&self, a: &[&str], b: &[&str], n: usize) -> bool {
        let am = self.affirmed(a);
        if am.is_empty() {
            return false;
        }
        let bm = self.affirmed(b);
        let norm = self.text.normalized();
        am.iter().any(|x| {
            bm.iter().any(|y| {
                let (first, second) = if x.start <= y.start { (x, y) } else { (y, x) };
                if second.start < first.end {
                    return true;
                }
                let gap = &norm[first.end..second.start];
                if gap.contains(['.', '!', '?', ';']) {
                    return false;
                }
                gap.split_whitespace().filter(|w| w.chars().any(char::is_alphanumeric)).count() <= n
            })
        })
    }
}

/// Whether a blood-glucose reading of at least 300 mg/dL (or 16.7 mmol/L when the unit is
/// given) follows "sugar", "glucose" or "bg" within six tokens of the same sentence.
pub fn high_glucose(tokens: &[Token]) -> bool {
    for (i, t) in tokens.iter().enumerate() {
        let Tok::Word(w) = &t.kind else { continue };
        if !matches!(w.as_str(), "sugar" | "sugars" | "glucose" | "bg" | "bgl" | "bsl") {
            continue;
        }
        for j in i + 1..(i + 7).min(tokens.len()) {
            match &tokens[j].kind {
                Tok::Break => break,
                Tok::Num(v) => {
                    let mmol = matches!(word_at(tokens, j + 1), Some("mmol" | "mmol/l"));
                    if (mmol && *v >= 16.7 && *v <= 60.0) || (!mmol && *v >= 300.0 && *v <= 2000.0) {
                        return true;
                    }
                }
                Tok::Word(_) => {}
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ages(s: &str) -> Vec<u32> {
        Ctx::new(s).ages_days().to_vec()
    }

    /// The ages come from the SDK (every phrasing is tested there); this checks the wiring.
    #[test]
    fn stated_ages_feed_the_conditions() {
        assert_eq!(ages("my 6-week-old has a fever"), [42]);
        assert_eq!(ages("he was born 10 days ago"), [10]);
        assert_eq!(ages("she's 7 and my dad is 70"), [7 * 365, 70 * 365]);
        assert!(ages("I am 38 weeks pregnant").is_empty());
        assert!(Ctx::new("she's 7 and has a fever").holds(&Cond::Child));
        assert!(Ctx::new("he was born 10 days ago").holds(&Cond::InfantUnder3Months));
    }

    #[test]
    fn conditions_combine() {
        let c = Ctx::new("My 5 week old has a temperature of 38.4 and is floppy");
        assert!(c.holds(&Cond::InfantUnder3Months));
        assert!(c.holds(&Cond::Child));
        assert!(c.holds(&Cond::All(&[Cond::Any(&["temperature"]), Cond::Any(&["floppy"])])));
        assert!(c.holds(&Cond::Either(&[Cond::Any(&["nothing here"]), Cond::Any(&["floppy"])])));
        assert!(!c.holds(&Cond::All(&[Cond::Any(&["temperature"]), Cond::Any(&["rash"])])));
        let adult = Ctx::new("I am 45 years old and very sleepy");
        assert!(!adult.holds(&Cond::Child));
        assert!(!Ctx::new("4 month old baby").holds(&Cond::InfantUnder3Months));
        assert!(Ctx::new("our newborn").holds(&Cond::InfantUnder3Months));
        assert!(!Ctx::new("I'm pregnant and the baby is kicking").holds(&Cond::Child));
        assert!(Ctx::new("I'm pregnant and my toddler is sick").holds(&Cond::Child));
    }

    #[test]
    fn near_respects_distance_sentences_and_negation() {
        let c = Ctx::new("Pain in my chest that goes down my left arm.");
        assert!(c.holds(&Cond::Near(&["pain in my chest"], &["left arm"], 4)));
        assert!(!c.holds(&Cond::Near(&["pain in my chest"], &["left arm"], 2)));
        let split = Ctx::new("My chest hurts. My arm is fine after the gym");
        assert!(!split.holds(&Cond::Near(&["chest hurts"], &["arm"], 8)));
        let neg = Ctx::new("her face is not drooping");
        assert!(!neg.holds(&Cond::Near(&["face"], &["droop*"], 4)));
        assert!(Ctx::new("his face is drooping").holds(&Cond::Near(&["face"], &["droop*"], 4)));
    }

    #[test]
    fn glucose_readings() {
        assert!(Ctx::new("my sugar is 450 and I keep vomiting").holds(&Cond::HighGlucose));
        assert!(Ctx::new("blood glucose 22 mmol/L").holds(&Cond::HighGlucose));
        assert!(!Ctx::new("blood glucose 22 this morning").holds(&Cond::HighGlucose));
        assert!(!Ctx::new("sugar was 140. I weigh 300 pounds").holds(&Cond::HighGlucose));
        assert!(!Ctx::new("blood sugar 9 mmol").holds(&Cond::HighGlucose));
    }
}
