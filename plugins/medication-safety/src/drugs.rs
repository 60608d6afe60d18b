//! The lexicon at run time: the built-in drugs, combination products and class words of
//! [`crate::lexicon`] plus the names a config adds, indexed for look-up.

use clinalign_sdk::lookup::{Lookup, TermIndex};
use clinalign_sdk::text::Match;

use crate::lexicon::{CLASS_WORDS, COMBOS, Class, DRUGS, DrugDef};

/// A drug name added by the config.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtraDrug {
    pub name: String,
    pub generic: String,
    pub class: Class,
}

/// A drug as the principle knows it: the built-in lexicon plus config additions.
#[derive(Debug, Clone)]
pub struct Drug {
    pub generic: String,
    pub class: Class,
    pub names: Vec<String>,
    pub rx: bool,
    pub nti: Option<&'static str>,
    pub teratogen: bool,
}

/// The drugs, combination products and class words the principle recognises.
#[derive(Debug, Clone)]
pub struct Lexicon {
    pub drugs: Vec<Drug>,
    /// (brand, indices into `drugs`).
    pub combos: Vec<(String, Vec<usize>)>,
    /// Every drug name, combination product and class word, indexed for fast look-up, with
    /// what each names (same order as the lists above).
    index: TermIndex,
    targets: Vec<Target>,
}

/// What a lexicon name stands for: a drug, a combination product or a class word (indices
/// into [`Lexicon::drugs`], [`Lexicon::combos`] and [`CLASS_WORDS`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    Drug(usize),
    Combo(usize),
    ClassWord(usize),
}

impl Lexicon {
    /// The built-in lexicon with `extra` added. An extra name for a built-in generic must
    /// keep its class; a name may not already belong to another drug.
    pub fn new(extra: &[ExtraDrug]) -> Result<Lexicon, String> {
        let mut drugs: Vec<Drug> = DRUGS.iter().map(Drug::built_in).collect();
        // Combination products contain built-in generics only.
        let combos = combination_products(&drugs);
        for (i, e) in extra.iter().enumerate() {
            add_extra_drug(&mut drugs, e, &format!("extra_drugs[{i}]"))?;
        }
        let (names, targets) = names_and_targets(&drugs, &combos);
        Ok(Lexicon { drugs, combos, index: TermIndex::new(&names), targets })
    }

    /// Every occurrence in `text` of a name the lexicon knows: the name, what it stands for,
    /// and the match (negated ones included).
    pub(crate) fn names_in(&self, text: &Lookup) -> Vec<(&str, Target, Match)> {
        let mut out = Vec::new();
        for (id, matches) in self.index.find_in(text) {
            for m in matches {
                out.push((self.index.term(id), self.targets[id], m));
            }
        }
        out
    }
}

impl Drug {
    /// A drug of the built-in lexicon.
    fn built_in(d: &DrugDef) -> Drug {
        Drug {
            generic: d.generic.to_string(),
            class: d.class,
            names: d.names.iter().map(|n| n.to_string()).collect(),
            rx: d.rx,
            nti: d.nti,
            teratogen: d.teratogen,
        }
    }

    /// A drug only the config names, known by its generic and the given name; prescription-only
    /// unless its class is sold over the counter (herbal, supplement, antacid, food).
    fn from_config(e: &ExtraDrug) -> Drug {
        Drug {
            generic: e.generic.clone(),
            class: e.class,
            names: vec![e.generic.clone(), e.name.clone()],
            rx: !matches!(e.class, Class::Herbal | Class::Supplement | Class::Antacid | Class::Food),
            nti: None,
            teratogen: false,
        }
    }
}

/// The built-in combination products, each with the indices of its generics in `drugs`.
fn combination_products(drugs: &[Drug]) -> Vec<(String, Vec<usize>)> {
    COMBOS
        .iter()
        .map(|(name, parts)| {
            let idx = parts.iter().filter_map(|p| drugs.iter().position(|d| d.generic == *p)).collect();
            (name.to_string(), idx)
        })
        .collect()
}

/// Adds one `extra_drugs` entry (`at` is its path): a name already known for the same generic
/// is skipped, a new name of a known generic joins it (same class only), anything else
/// becomes a new drug.
fn add_extra_drug(drugs: &mut Vec<Drug>, e: &ExtraDrug, at: &str) -> Result<(), String> {
    let lower = e.name.to_lowercase();
    if let Some(owner) = drugs.iter().find(|d| d.names.iter().any(|n| n.to_lowercase() == lower)) {
        if owner.generic != e.generic {
            return Err(format!("{at}.name: {:?} already names {}", e.name, owner.generic));
        }
        return Ok(());
    }
    match drugs.iter_mut().find(|d| d.generic == e.generic) {
        Some(d) if d.class != e.class => {
            return Err(format!("{at}.class: {} is a built-in {} drug, not {}", d.generic, d.class.id(), e.class.id()));
        }
        Some(d) => d.names.push(e.name.clone()),
        None => drugs.push(Drug::from_config(e)),
    }
    Ok(())
}

/// Every name to index — drug names, then combination products, then class words — each with
/// what it stands for.
fn names_and_targets(drugs: &[Drug], combos: &[(String, Vec<usize>)]) -> (Vec<String>, Vec<Target>) {
    let mut names: Vec<String> = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    for (i, d) in drugs.iter().enumerate() {
        for n in &d.names {
            names.push(n.clone());
            targets.push(Target::Drug(i));
        }
    }
    for (i, (name, _)) in combos.iter().enumerate() {
        names.push(name.clone());
        targets.push(Target::Combo(i));
    }
    for (i, (terms, _, _)) in CLASS_WORDS.iter().enumerate() {
        for t in *terms {
            names.push(t.to_string());
            targets.push(Target::ClassWord(i));
        }
    }
    (names, targets)
}
