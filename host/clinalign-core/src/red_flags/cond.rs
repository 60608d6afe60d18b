//! The conditions a red-flag feature is defined by, and the word lists that give the
//! person-describing ones (a child, a newborn, a pregnancy) their meaning.

/// When a red-flag feature is present. Term lists use [`crate::text::Text`] syntax (word-bounded,
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

impl Cond {
    /// Every term the condition names, in order (with repeats).
    pub fn terms(&self, out: &mut Vec<&'static str>) {
        match self {
            Cond::Any(terms) => out.extend_from_slice(terms),
            Cond::Near(a, b, _) => {
                out.extend_from_slice(a);
                out.extend_from_slice(b);
            }
            Cond::All(cs) | Cond::Either(cs) => cs.iter().for_each(|c| c.terms(out)),
            Cond::InfantUnder3Months => out.extend_from_slice(NEWBORN_WORDS),
            Cond::Child => {
                out.extend_from_slice(CHILD_WORDS);
                out.extend_from_slice(PREGNANCY_WORDS);
            }
            Cond::HighGlucose => {}
        }
    }
}

/// Words that, without a stated age, say the patient is a child.
pub static CHILD_WORDS: &[&str] = &[
    "baby", "babies", "infant", "newborn", "toddler", "child", "kid", "my son", "our son", "my daughter",
    "our daughter", "little boy", "little girl", "my boy", "my girl", "grandson", "granddaughter", "preschooler",
];

pub static PREGNANCY_WORDS: &[&str] = &["pregnant", "pregnancy", "trimester", "weeks along", "my bump"];

pub static NEWBORN_WORDS: &[&str] = &["newborn", "new born", "neonate", "neonatal"];
