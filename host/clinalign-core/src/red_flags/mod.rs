//! Red-flag symptoms: a lexicon of emergencies (heart attack, stroke, breathing
//! emergencies, anaphylaxis, bleeding, sepsis and meningitis, suicide risk, poisoning,
//! collapse and seizures, paediatric and obstetric red flags, DKA, head injury, testicular
//! torsion), the features that signal each, and a detector over a user's text.
//!
//! The `red-flags` principle writes its rubric items from the findings; the host's rule
//! classifier reads urgency from them. One lexicon, so the two never disagree about what a
//! red flag is. Negated mentions ("no chest pain", "denies fever") do not count.

pub mod cond;
pub mod detect;
pub mod lexicon;
mod terms;

use self::detect::Ctx;
use self::lexicon::{CATEGORIES, Category, Feature};
use self::terms::TERMS;

/// Every category id, in lexicon order.
pub fn category_ids() -> Vec<&'static str> {
    CATEGORIES.iter().map(|c| c.id).collect()
}

/// One detected category.
#[derive(Debug, Clone)]
pub struct Finding {
    pub category: &'static Category,
    /// The strongest feature that fired; it names the finding in criteria.
    pub feature: &'static Feature,
    /// Every feature that fired, strongest first.
    pub features: Vec<&'static Feature>,
    /// Ranking score: 10 × the strongest weight, plus one per further feature (up to 5).
    pub strength: u32,
}

/// Every category the text signals, strongest first; equal strengths keep lexicon order.
pub fn detect_text(text: &str, disable: &[String]) -> Vec<Finding> {
    detect(&Ctx::new(text), disable)
}

/// [`detect_text`] on a text already prepared.
pub fn detect(ctx: &Ctx, disable: &[String]) -> Vec<Finding> {
    let mut found = Vec::new();
    for (category, compiled) in CATEGORIES.iter().zip(&TERMS.categories) {
        if disable.iter().any(|d| d == category.id) || compiled.unless.iter().any(|t| ctx.affirms(*t)) {
            continue;
        }
        let features: Vec<&'static Feature> = category
            .features
            .iter()
            .zip(&compiled.features)
            .filter(|(_, c)| !c.unless.iter().any(|t| ctx.affirms(*t)) && ctx.satisfies(&c.cond))
            .map(|(f, _)| f)
            .collect();
        let Some(top) = features.iter().copied().max_by_key(|f| (f.weight, std::cmp::Reverse(position(category, f))))
        else {
            continue;
        };
        let strength = 10 * top.weight as u32 + (features.len() as u32 - 1).min(5);
        found.push(Finding { category, feature: top, features, strength });
    }
    // Stable: equal strengths keep lexicon order.
    found.sort_by_key(|f| std::cmp::Reverse(f.strength));
    found
}

fn position(category: &Category, feature: &Feature) -> usize {
    category.features.iter().position(|f| std::ptr::eq(f, feature)).unwrap_or(usize::MAX)
}
