//! The matching engine: conditions over a user's text, plus the few facts that need
//! parsing rather than term look-ups: stated ages (read by
//! [`crate::quantities::ages_in_days`]) and blood-glucose readings.

use rustc_hash::FxHashMap;

use super::cond::Cond;
use super::terms::{Compiled, TERMS, Term};
use crate::lookup::Lookup;
use crate::quantities::{Tok, Token, ages_in_days, tokenize, word_at};
use crate::text::Match;

/// A user's text prepared for evaluating conditions.
pub struct Ctx {
    pub text: Lookup,
    /// The matches of the lexicon's terms that occur in the text (negated or not), by term
    /// id: found in one pass over the text's words.
    found: FxHashMap<usize, Vec<Match>>,
    /// By term id: whether the term occurs without a negation cue.
    affirmed: Vec<bool>,
    tokens: Vec<Token>,
    ages_days: Vec<u32>,
    high_glucose: bool,
}

impl Ctx {
    /// Prepares `raw` (the user's turns).
    pub fn new(raw: &str) -> Ctx {
        let text = Lookup::new(raw);
        let tokens = tokenize(text.normalized());
        let ages_days = ages_in_days(&tokens);
        let high_glucose = high_glucose(&tokens);
        let mut affirmed = vec![false; TERMS.len()];
        let mut found = FxHashMap::default();
        for (id, matches) in TERMS.index.find_in(&text) {
            affirmed[id] = matches.iter().any(|m| !m.negated);
            found.insert(id, matches);
        }
        Ctx { text, found, affirmed, tokens, ages_days, high_glucose }
    }

    /// The text's tokens (see [`tokenize`]).
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// Stated ages, in days, in order of appearance.
    pub fn ages_days(&self) -> &[u32] {
        &self.ages_days
    }

    /// Whether `term` occurs without a negation cue (as [`Lookup::mentions`]). The
    /// lexicon's own terms are answered from the search done once in [`Ctx::new`].
    pub fn mentions(&self, term: &'static str) -> bool {
        self.affirms(TERMS.term(term))
    }

    /// Whether `cond` holds for this text.
    pub fn holds(&self, cond: &Cond) -> bool {
        self.satisfies(&TERMS.compile(cond))
    }

    pub(crate) fn affirms(&self, t: Term) -> bool {
        match t {
            Term::Known(id) => self.affirmed[id],
            Term::Other(s) => self.text.mentions(s),
        }
    }

    /// Whether a compiled condition holds.
    pub(crate) fn satisfies(&self, cond: &Compiled) -> bool {
        match cond {
            Compiled::Any(terms) => terms.iter().any(|t| self.affirms(*t)),
            Compiled::Near(a, b, n) => self.near(a, b, *n),
            Compiled::All(cs) => cs.iter().all(|c| self.satisfies(c)),
            Compiled::Either(cs) => cs.iter().any(|c| self.satisfies(c)),
            Compiled::InfantUnder3Months => {
                self.ages_days.iter().any(|d| *d < 91) || TERMS.newborn_words.iter().any(|t| self.affirms(*t))
            }
            Compiled::Child => {
                // In a pregnancy, "the baby" is usually the unborn baby.
                let pregnant = TERMS.pregnancy_words.iter().any(|t| self.affirms(*t));
                self.ages_days.iter().any(|d| *d < 18 * 365)
                    || TERMS.child_words.iter().filter(|(_, baby)| !(pregnant && *baby)).any(|(t, _)| self.affirms(*t))
            }
            Compiled::HighGlucose => self.high_glucose,
        }
    }

    /// The affirmed matches of `terms`, in term order.
    fn affirmed_matches(&self, terms: &[Term]) -> Vec<Match> {
        let matches = |t: &Term| match t {
            Term::Known(id) => self.found.get(id).cloned().unwrap_or_default(),
            Term::Other(s) => self.text.find_all(s),
        };
        terms.iter().flat_map(matches).filter(|m| !m.negated).collect()
    }

    /// Whether an affirmed term of `a` and one of `b` stand at most `n` words apart with no
    /// sentence end between them (overlapping matches count as near).
    fn near(&self, a: &[Term], b: &[Term], n: usize) -> bool {
        if !a.iter().any(|t| self.affirms(*t)) {
            return false;
        }
        let am = self.affirmed_matches(a);
        let bm = self.affirmed_matches(b);
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

    /// The index answers for the lexicon's terms exactly as looking each up in the text does.
    #[test]
    fn indexed_terms_answer_as_direct_look_ups() {
        let texts = [
            "Crushing chest pain down my left arm, sweating, no nausea. My 3 week old baby's lips are blue!",
            "She can't breathe and her face is drooping; not allergic; denies fever but has a stiff neck",
            "I'm 30 weeks pregnant with a bad headache, blurry vision and swollen hands. He took too many pills.",
            "",
        ];
        let mut terms = Vec::new();
        for c in super::super::lexicon::CATEGORIES {
            terms.extend_from_slice(c.unless);
            for f in c.features {
                terms.extend_from_slice(f.unless);
                f.cond.terms(&mut terms);
            }
        }
        assert!(terms.len() > 500, "{} terms", terms.len());
        for text in texts {
            let ctx = Ctx::new(text);
            let direct = Lookup::new(text);
            for t in &terms {
                assert_eq!(ctx.mentions(t), direct.mentions(t), "{t:?} in {text:?}");
            }
        }
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
