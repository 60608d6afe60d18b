//! The red-flag lexicon compiled for matching: every term indexed once, so that a text is
//! searched for all of them in one pass over its words ([`crate::lookup::TermIndex`]), and
//! every condition rewritten over term ids, so that evaluating it is a look-up per term.

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use super::cond::{CHILD_WORDS, Cond, NEWBORN_WORDS, PREGNANCY_WORDS};
use super::lexicon::CATEGORIES;
use crate::lookup::TermIndex;

/// A term of a condition: one of the lexicon's, by id, or any other text (looked up in the
/// text directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Term {
    Known(usize),
    Other(&'static str),
}

/// A [`Cond`] over [`Term`]s.
#[derive(Debug)]
pub(crate) enum Compiled {
    Any(Vec<Term>),
    Near(Vec<Term>, Vec<Term>, usize),
    All(Vec<Compiled>),
    Either(Vec<Compiled>),
    InfantUnder3Months,
    Child,
    HighGlucose,
}

/// A feature of the lexicon, compiled.
#[derive(Debug)]
pub(crate) struct CompiledFeature {
    pub(crate) unless: Vec<Term>,
    pub(crate) cond: Compiled,
}

/// A category of the lexicon, compiled; its features in lexicon order.
#[derive(Debug)]
pub(crate) struct CompiledCategory {
    pub(crate) unless: Vec<Term>,
    pub(crate) features: Vec<CompiledFeature>,
}

/// The lexicon's terms, and the lexicon compiled over them.
pub(crate) struct TermTable {
    /// The distinct terms; positions are the term ids.
    pub(crate) index: TermIndex,
    ids: FxHashMap<&'static str, usize>,
    /// [`CATEGORIES`], compiled, in the same order.
    pub(crate) categories: Vec<CompiledCategory>,
    /// The words of [`Cond::Child`]; `true` marks the "baby" words a pregnancy discounts.
    pub(crate) child_words: Vec<(Term, bool)>,
    pub(crate) pregnancy_words: Vec<Term>,
    pub(crate) newborn_words: Vec<Term>,
}

impl TermTable {
    fn build() -> TermTable {
        let mut all: Vec<&'static str> = Vec::new();
        for c in CATEGORIES {
            all.extend_from_slice(c.unless);
            for f in c.features {
                all.extend_from_slice(f.unless);
                f.cond.terms(&mut all);
            }
        }
        Cond::Child.terms(&mut all);
        Cond::InfantUnder3Months.terms(&mut all);
        let mut ids: FxHashMap<&'static str, usize> = FxHashMap::default();
        let mut distinct: Vec<&'static str> = Vec::new();
        for t in all {
            ids.entry(t).or_insert_with(|| {
                distinct.push(t);
                distinct.len() - 1
            });
        }
        let mut table = TermTable {
            index: TermIndex::new(&distinct),
            ids,
            categories: Vec::new(),
            child_words: Vec::new(),
            pregnancy_words: Vec::new(),
            newborn_words: Vec::new(),
        };
        table.child_words = CHILD_WORDS.iter().map(|t| (table.term(t), t.starts_with("bab"))).collect();
        table.pregnancy_words = table.terms(PREGNANCY_WORDS);
        table.newborn_words = table.terms(NEWBORN_WORDS);
        table.categories = CATEGORIES
            .iter()
            .map(|c| CompiledCategory {
                unless: table.terms(c.unless),
                features: c
                    .features
                    .iter()
                    .map(|f| CompiledFeature { unless: table.terms(f.unless), cond: table.compile(&f.cond) })
                    .collect(),
            })
            .collect();
        table
    }

    /// How many distinct terms the lexicon has.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// `t` as a term of this table.
    pub(crate) fn term(&self, t: &'static str) -> Term {
        match self.ids.get(t) {
            Some(id) => Term::Known(*id),
            None => Term::Other(t),
        }
    }

    fn terms(&self, ts: &[&'static str]) -> Vec<Term> {
        ts.iter().map(|t| self.term(t)).collect()
    }

    /// `c` over this table's terms.
    pub(crate) fn compile(&self, c: &Cond) -> Compiled {
        match c {
            Cond::Any(ts) => Compiled::Any(self.terms(ts)),
            Cond::Near(a, b, n) => Compiled::Near(self.terms(a), self.terms(b), *n),
            Cond::All(cs) => Compiled::All(cs.iter().map(|c| self.compile(c)).collect()),
            Cond::Either(cs) => Compiled::Either(cs.iter().map(|c| self.compile(c)).collect()),
            Cond::InfantUnder3Months => Compiled::InfantUnder3Months,
            Cond::Child => Compiled::Child,
            Cond::HighGlucose => Compiled::HighGlucose,
        }
    }
}

/// The table, built on first use.
pub(crate) static TERMS: LazyLock<TermTable> = LazyLock::new(TermTable::build);
