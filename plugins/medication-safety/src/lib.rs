//! # medication-safety — medication and dose questions
//!
//! A ClinAlign principle with its own logic. It finds the medicines a user mentions (a
//! built-in lexicon of generic and brand names, combination products and class words such
//! as "blood thinners", extendable from the config), reads doses and how often they are
//! taken, and recognises the question: a dose question, a missed dose, stopping a
//! medicine, an interaction between the mentioned drugs (and alcohol), and special
//! populations (pregnancy, breastfeeding, children, older adults, kidney or liver disease).
//!
//! It then emits specific, checkable items — labelled maximums (acetaminophen 4 g a day,
//! over-the-counter ibuprofen 1,200 mg a day), the named interaction and its risk,
//! narrow-therapeutic-index cautions, weight-based dosing for children — and penalises the
//! harmful answers (a dose above the labelled maximum, doubling up, stopping a prescribed
//! medicine abruptly). It stays silent when no medicine is involved.
//!
//! Config (`[config]` in the manifest, all optional):
//!
//! ```toml
//! max_items = 8                # 1..32, highest-priority items first
//! [[config.extra_drugs]]       # names the built-in lexicon lacks
//! name = "Tylex"
//! generic = "acetaminophen"    # a built-in generic gains the name; a new one is added
//! class = "analgesic"          # a class id (see lexicon::Class::id)
//! ```

pub mod lexicon;
pub mod parse;

mod analysis;
mod checks;
mod drugs;

use clinalign_sdk::config::{self, Value};
use clinalign_sdk::{EmitError, Query, RubricItem};

pub use crate::analysis::{Analysis, Interaction, Mention, analyze, analyze_text, interactions};
pub use crate::checks::{MAX_ITEMS_LIMIT, items};
pub use crate::drugs::{Drug, ExtraDrug, Lexicon};
use crate::lexicon::Class;

/// The longest name or generic accepted in `extra_drugs`.
pub const MAX_NAME_CHARS: usize = 64;

// ---- config ---------------------------------------------------------------------------

/// The principle's settings, from the manifest's `[config]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The most items per query, highest priority first.
    pub max_items: usize,
    pub extra_drugs: Vec<ExtraDrug>,
}

impl Default for Config {
    fn default() -> Self {
        Config { max_items: 8, extra_drugs: Vec::new() }
    }
}

const CONFIG_FIELDS: [&str; 2] = ["max_items", "extra_drugs"];
const EXTRA_FIELDS: [&str; 3] = ["name", "generic", "class"];

impl Config {
    /// Parses and validates the JSON form of `[config]`; an empty text or `{}` gives the
    /// defaults. Errors name the offending field, e.g. `extra_drugs[1].class`.
    pub fn from_json(json: &str) -> Result<Config, String> {
        let mut config = Config::default();
        let Some(map) = config::parse_object(json)? else { return Ok(config) };
        for (key, v) in &map {
            match key.as_str() {
                "max_items" => config.max_items = config::whole_number(key, v, 1..=MAX_ITEMS_LIMIT)?,
                "extra_drugs" => {
                    for (at, entry) in config::list(key, v, "a list of {name, generic, class} tables")? {
                        config.extra_drugs.push(parse_extra(&at, entry)?);
                    }
                }
                other => return Err(config::unknown_field(other, &CONFIG_FIELDS)),
            }
        }
        // Building the lexicon checks the entries against the built-in one.
        Lexicon::new(&config.extra_drugs)?;
        Ok(config)
    }
}

/// One `extra_drugs` entry; `at` is its path, `extra_drugs[i]`.
fn parse_extra(at: &str, entry: &Value) -> Result<ExtraDrug, String> {
    let map = config::table(at, entry, "a table with name, generic and class")?;
    config::check_fields(at, map, &EXTRA_FIELDS)?;
    let text = |key: &str| -> Result<String, String> {
        let field = config::path(at, key);
        let s = config::text(&field, config::required(map, at, key)?)?;
        if !s.chars().any(char::is_alphanumeric) {
            return Err(format!("{field}: must contain a letter or digit"));
        }
        config::check_length(&field, s, MAX_NAME_CHARS)?;
        if s.contains('*') {
            return Err(format!("{field}: wildcards are not allowed"));
        }
        Ok(s.to_string())
    };
    let name = text("name")?;
    let generic = text("generic")?.to_lowercase();
    let class_text = text("class")?;
    let class = Class::parse(&class_text).filter(|c| *c != Class::Alcohol).ok_or_else(|| {
        let known: Vec<_> = Class::ALL.iter().filter(|c| **c != Class::Alcohol).map(|c| c.id()).collect();
        format!("{at}.class: unknown class {class_text:?} (one of {})", known.join(", "))
    })?;
    Ok(ExtraDrug { name, generic, class })
}

// ---- the principle ----------------------------------------------------------------------------

/// The principle as the host sees it.
pub struct MedicationSafety {
    config: Config,
    lexicon: Lexicon,
}

impl MedicationSafety {
    /// Builds the principle from its JSON config.
    pub fn new(config: &str) -> Result<MedicationSafety, String> {
        let config = Config::from_json(config)?;
        let lexicon = Lexicon::new(&config.extra_drugs)?;
        Ok(MedicationSafety { config, lexicon })
    }

    /// What the principle reads from `query`.
    pub fn analyze(&self, query: &Query) -> Analysis {
        analyze(query, &self.lexicon)
    }

    /// The rubric items for `query`.
    pub fn emit(&self, query: &Query) -> Result<Vec<RubricItem>, EmitError> {
        Ok(items(&self.analyze(query), self.config.max_items))
    }
}

#[cfg(test)]
mod tests;

// ---- WebAssembly glue ----------------------------------------------------------------

impl clinalign_sdk::Principle for MedicationSafety {
    fn init(config: &str) -> Result<Self, String> {
        MedicationSafety::new(config)
    }

    fn emit(&self, query: &Query) -> Result<Vec<RubricItem>, EmitError> {
        MedicationSafety::emit(self, query)
    }
}

clinalign_sdk::export_principle!(MedicationSafety);
