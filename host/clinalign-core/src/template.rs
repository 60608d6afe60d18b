//! The declarative template principle: triggers and rubric-item templates from `[config]`.
//!
//! Most principles need no code: their manifest names `plugin = "template"` and its
//! `[config]` table says when to speak and what to say.
//!
//! ```toml
//! [config.triggers]
//! any = ["chest pain", "chest pressure"]   # at least one, affirmed (not negated), in user turns
//! all = []                                 # every one of these too
//! none = ["chest wall bruise"]             # silent if any of these is affirmed
//! respect_negation = true                  # "no chest pain" does not count (default true)
//! roles = ["user"]                         # turns searched (default: user)
//! scenario = { urgency = ["emergent"] }    # extra label conditions beyond applies_when
//! min_confidence = 0.0                     # labels below this confidence do not count
//! # age = "under 3 months"                 # a stated age in range (see `conditions`)
//! # quantity = { unit = ["mg"], over = 4000 } # a stated amount: over, under, at_least, at_most
//!
//! [config.vars]                            # constants for slots
//! service = "emergency services"
//!
//! [[config.items]]
//! criterion = "Tells the user to contact {service} now because {term} can signal a heart attack."
//! points = 9
//! axis = "accuracy"                        # or completeness, context-awareness, ...
//! tags = ["cluster:red-flags"]             # optional extra tags
//! when_any = []                            # optional: only when one of these is affirmed
//! unless_any = []                          # optional: not when one of these is affirmed
//! when_scenario = {}                       # optional: label conditions for this item only
//! # when_age = "65 years or older"         # optional: an age condition for this item only
//! # when_quantity = { unit = ["tablets"], at_least = 10 } # optional: likewise for an amount
//! ```
//!
//! Slots in criteria: `{term}` (the first affirmed trigger, as written by the user),
//! `{terms}` (all affirmed `any` triggers, "a, b and c"), `{age}` and `{quantity}` (the
//! first stated age or amount that meets the item's condition, else the triggers' one, as
//! written: "7-week-old", "4000 mg"; only with such a condition), `{urgency}`,
//! `{uncertainty}`, `{expertise}`, `{task}` (the query's labels), and every key of
//! `[config.vars]`. Ages and amounts are searched in the turns of `roles`; see
//! [`conditions`] for the phrasings and bounds.

mod why;

use std::collections::BTreeMap;

use serde::Deserialize;

pub mod age;
pub mod conditions;
pub mod quantity;

pub use age::AgeCondition;
pub use conditions::Stated;
pub use quantity::{QuantityBounds, QuantityCondition};

use crate::slots;
use crate::text::{Match, Text};
use crate::types::{Axis, EmitError, Query, RubricItem};

/// The four scenario dimensions, usable as slots.
pub const DIMENSION_SLOTS: [&str; 4] = ["urgency", "uncertainty", "expertise", "task"];

/// When the principle speaks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triggers {
    /// At least one of these must be affirmed (when the list is not empty).
    #[serde(default)]
    pub any: Vec<String>,
    /// Every one of these must be affirmed.
    #[serde(default)]
    pub all: Vec<String>,
    /// None of these may be affirmed.
    #[serde(default)]
    pub none: Vec<String>,
    /// Whether a negated mention ("no fever") counts as absent. Default true.
    #[serde(default = "default_true")]
    pub respect_negation: bool,
    /// Roles whose turns are searched. Default `["user"]`.
    #[serde(default = "default_roles")]
    pub roles: Vec<String>,
    /// Label conditions: dimension → accepted values.
    #[serde(default)]
    pub scenario: BTreeMap<String, Vec<String>>,
    /// Labels below this confidence do not satisfy `scenario` conditions.
    #[serde(default)]
    pub min_confidence: f32,
    /// An age range one stated age must be within ("under 3 months").
    #[serde(default)]
    pub age: Option<String>,
    /// Unit words and bounds one stated amount must meet.
    #[serde(default)]
    pub quantity: Option<QuantityBounds>,
}

impl Default for Triggers {
    fn default() -> Self {
        Triggers {
            any: Vec::new(),
            all: Vec::new(),
            none: Vec::new(),
            respect_negation: true,
            roles: default_roles(),
            scenario: BTreeMap::new(),
            min_confidence: 0.0,
            age: None,
            quantity: None,
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_roles() -> Vec<String> {
    vec!["user".to_string()]
}

/// One rubric item to emit, with its own optional conditions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemTemplate {
    /// The criterion, with `{slots}`.
    pub criterion: String,
    /// Non-zero, -10..10.
    pub points: i32,
    /// Axis name ("accuracy", "context-awareness", …).
    pub axis: String,
    /// Extra tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Only when one of these is affirmed; `{term}` then names it.
    #[serde(default)]
    pub when_any: Vec<String>,
    /// Not when one of these is affirmed.
    #[serde(default)]
    pub unless_any: Vec<String>,
    /// Label conditions for this item only.
    #[serde(default)]
    pub when_scenario: BTreeMap<String, Vec<String>>,
    /// Only when a stated age is within this range; `{age}` then names it.
    #[serde(default)]
    pub when_age: Option<String>,
    /// Only when a stated amount meets these bounds; `{quantity}` then names it.
    #[serde(default)]
    pub when_quantity: Option<QuantityBounds>,
}

/// The whole `[config]` table of a template principle.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    #[serde(default)]
    pub triggers: Triggers,
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    pub items: Vec<ItemTemplate>,
}

/// A validated template, ready to evaluate queries.
#[derive(Debug, Clone)]
pub struct Template {
    config: TemplateConfig,
    /// The triggers' age and quantity conditions, parsed.
    numbers: Numbers,
    /// For each item: its axis and its own age and quantity conditions.
    items: Vec<(Axis, Numbers)>,
}

/// Age and quantity conditions, parsed once.
#[derive(Debug, Clone, Default)]
struct Numbers {
    age: Option<AgeCondition>,
    quantity: Option<QuantityCondition>,
}

impl Numbers {
    /// Parses `age` and `quantity`; an error names its field (`fields`: the age's, the
    /// quantity's).
    fn new(fields: [&str; 2], age: &Option<String>, quantity: &Option<QuantityBounds>) -> Result<Numbers, String> {
        let [age_field, quantity_field] = fields;
        let age = match age {
            Some(phrase) => Some(AgeCondition::parse(phrase).map_err(|e| format!("{age_field}: {e}"))?),
            None => None,
        };
        let quantity = match quantity {
            Some(bounds) => Some(QuantityCondition::new(bounds, quantity_field)?),
            None => None,
        };
        Ok(Numbers { age, quantity })
    }

    fn is_empty(&self) -> bool {
        self.age.is_none() && self.quantity.is_none()
    }

    /// The first stated age and amount meeting these conditions, as written (`None` for a
    /// condition not set); `None` overall when a set condition is not met.
    fn find(&self, stated: &Stated<'_>) -> Option<(Option<String>, Option<String>)> {
        let age = match &self.age {
            Some(c) => Some(c.first_in(stated)?),
            None => None,
        };
        let quantity = match &self.quantity {
            Some(c) => Some(c.first_in(stated)?),
            None => None,
        };
        Some((age, quantity))
    }
}

impl Template {
    /// Parses and validates the JSON form of `[config]`. The error names the offending
    /// field, e.g. `items[2].points: 0 is not allowed`.
    pub fn from_json(json: &str) -> Result<Template, String> {
        let config: TemplateConfig = serde_json::from_str(json).map_err(|e| format!("config: {e}"))?;
        Template::new(config)
    }

    /// Validates a parsed config.
    pub fn new(config: TemplateConfig) -> Result<Template, String> {
        if config.items.is_empty() {
            return Err("items: a template needs at least one [[config.items]] entry".into());
        }
        let t = &config.triggers;
        for (name, list) in [("any", &t.any), ("all", &t.all), ("none", &t.none)] {
            if let Some(i) = list.iter().position(|s| s.trim().is_empty() || s.trim() == "*") {
                return Err(format!("triggers.{name}[{i}]: empty term"));
            }
        }
        if !(0.0..=1.0).contains(&t.min_confidence) {
            return Err(format!("triggers.min_confidence: {} is outside 0..1", t.min_confidence));
        }
        if t.roles.is_empty() {
            return Err("triggers.roles: must name at least one role".into());
        }
        let numbers = Numbers::new(["triggers.age", "triggers.quantity"], &t.age, &t.quantity)?;
        let mut items = Vec::with_capacity(config.items.len());
        for (i, item) in config.items.iter().enumerate() {
            let at = format!("items[{i}]");
            if item.criterion.trim().is_empty() {
                return Err(format!("{at}.criterion: empty"));
            }
            if item.points == 0 || !(-10..=10).contains(&item.points) {
                return Err(format!("{at}.points: {} is not allowed (non-zero, -10..10)", item.points));
            }
            let axis = Axis::parse(&item.axis).ok_or_else(|| {
                let known: Vec<_> = Axis::ALL.iter().map(|a| a.name()).collect();
                format!("{at}.axis: unknown axis {:?} (one of {})", item.axis, known.join(", "))
            })?;
            let fields = [format!("{at}.when_age"), format!("{at}.when_quantity")];
            let own = Numbers::new(fields.each_ref().map(String::as_str), &item.when_age, &item.when_quantity)?;
            let names = slots::names(&item.criterion).map_err(|e| format!("{at}.criterion: {e}"))?;
            for n in names {
                let has_terms = !t.any.is_empty() || !item.when_any.is_empty();
                let known = DIMENSION_SLOTS.contains(&n.as_str())
                    || config.vars.contains_key(&n)
                    || ((n == "term" || n == "terms") && has_terms)
                    || (n == "age" && (numbers.age.is_some() || own.age.is_some()))
                    || (n == "quantity" && (numbers.quantity.is_some() || own.quantity.is_some()));
                if !known {
                    return Err(format!(
                        "{at}.criterion: unknown slot {{{n}}} (known: term, terms, age, quantity, urgency, uncertainty, expertise, task, and [config.vars] keys; term/terms need trigger terms, age and quantity an age or quantity condition)"
                    ));
                }
            }
            items.push((axis, own));
        }
        Ok(Template { config, numbers, items })
    }

    /// The parsed configuration.
    pub fn config(&self) -> &TemplateConfig {
        &self.config
    }

    /// The rubric items this template adds for `query` (empty when its triggers do not hold).
    pub fn evaluate(&self, query: &Query) -> Result<Vec<RubricItem>, EmitError> {
        let t = &self.config.triggers;
        if !scenario_holds(query, &t.scenario, t.min_confidence) {
            return Ok(Vec::new());
        }
        let roles: Vec<&str> = t.roles.iter().map(String::as_str).collect();
        let text = Text::new(&query.text_of(&roles));
        let find = |term: &str| -> Option<Match> {
            if t.respect_negation { text.find(term) } else { text.find_all(term).into_iter().next() }
        };
        if t.none.iter().any(|term| find(term).is_some()) {
            return Ok(Vec::new());
        }
        if !t.all.iter().all(|term| find(term).is_some()) {
            return Ok(Vec::new());
        }
        let matched: Vec<Match> = t.any.iter().filter_map(|term| find(term)).collect();
        if !t.any.is_empty() && matched.is_empty() {
            return Ok(Vec::new());
        }
        // Numbers are read only for templates with an age or quantity condition.
        let reads_numbers = !self.numbers.is_empty() || self.items.iter().any(|(_, n)| !n.is_empty());
        let stated = Stated::new(if reads_numbers { text.normalized() } else { "" });
        let Some((age, quantity)) = self.numbers.find(&stated) else { return Ok(Vec::new()) };

        let mut out = Vec::new();
        for (item, (axis, own)) in self.config.items.iter().zip(&self.items) {
            if !scenario_holds(query, &item.when_scenario, t.min_confidence) {
                continue;
            }
            if item.unless_any.iter().any(|term| find(term).is_some()) {
                continue;
            }
            let Some((item_age, item_quantity)) = own.find(&stated) else { continue };
            let age = item_age.or_else(|| age.clone());
            let quantity = item_quantity.or_else(|| quantity.clone());
            let item_term = if item.when_any.is_empty() {
                None
            } else {
                match item.when_any.iter().find_map(|term| find(term)) {
                    Some(m) => Some(m),
                    None => continue,
                }
            };
            let term = item_term.as_ref().or(matched.first()).map(|m| m.text.clone());
            let criterion = slots::fill(&item.criterion, |name| match name {
                "term" => term.clone(),
                "terms" => Some(join_terms(matched.iter().map(|m| m.text.as_str()))),
                "age" if age.is_some() => age.clone(),
                "quantity" if quantity.is_some() => quantity.clone(),
                n if DIMENSION_SLOTS.contains(&n) => Some(query.value(n).unwrap_or("unspecified").to_string()),
                n => self.config.vars.get(n).cloned(),
            })
            .map_err(|e| EmitError::InvalidConfig(format!("criterion {:?}: {e}", item.criterion)))?;
            out.push(RubricItem { criterion, points: item.points, axis: *axis, tags: item.tags.clone() });
        }
        Ok(out)
    }
}

/// Whether every `dimension → values` condition holds for the query's labels.
pub fn scenario_holds(query: &Query, conditions: &BTreeMap<String, Vec<String>>, min_confidence: f32) -> bool {
    conditions.iter().all(|(dim, values)| {
        query.label(dim).is_some_and(|l| l.confidence >= min_confidence && values.iter().any(|v| v == &l.value))
    })
}

/// "a", "a and b", "a, b and c"; duplicates dropped.
pub fn join_terms<'a>(terms: impl Iterator<Item = &'a str>) -> String {
    let mut uniq: Vec<&str> = Vec::new();
    for t in terms {
        if !uniq.contains(&t) {
            uniq.push(t);
        }
    }
    match uniq.len() {
        0 => String::new(),
        1 => uniq[0].to_string(),
        n => format!("{} and {}", uniq[..n - 1].join(", "), uniq[n - 1]),
    }
}

#[cfg(test)]
mod tests;
