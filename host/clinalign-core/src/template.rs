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
//! ```
//!
//! Slots in criteria: `{term}` (the first affirmed trigger, as written by the user),
//! `{terms}` (all affirmed `any` triggers, "a, b and c"), `{urgency}`, `{uncertainty}`,
//! `{expertise}`, `{task}` (the query's labels), and every key of `[config.vars]`.

mod why;

use std::collections::BTreeMap;

use serde::Deserialize;

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
    axes: Vec<Axis>,
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
        let mut axes = Vec::with_capacity(config.items.len());
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
            axes.push(axis);
            let names = slots::names(&item.criterion).map_err(|e| format!("{at}.criterion: {e}"))?;
            for n in names {
                let has_terms = !t.any.is_empty() || !item.when_any.is_empty();
                let known = DIMENSION_SLOTS.contains(&n.as_str())
                    || config.vars.contains_key(&n)
                    || ((n == "term" || n == "terms") && has_terms);
                if !known {
                    return Err(format!(
                        "{at}.criterion: unknown slot {{{n}}} (known: term, terms, urgency, uncertainty, expertise, task, and [config.vars] keys; term/terms need trigger terms)"
                    ));
                }
            }
        }
        Ok(Template { config, axes })
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

        let mut out = Vec::new();
        for (item, axis) in self.config.items.iter().zip(&self.axes) {
            if !scenario_holds(query, &item.when_scenario, t.min_confidence) {
                continue;
            }
            if item.unless_any.iter().any(|term| find(term).is_some()) {
                continue;
            }
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
mod tests {
    use super::*;
    use crate::types::{Label, Message};

    fn query(text: &str, labels: &[(&str, &str)]) -> Query {
        Query {
            id: "t".into(),
            conversation: vec![Message { role: "user".into(), content: text.into() }],
            scenario: labels
                .iter()
                .map(|(d, v)| Label { dimension: d.to_string(), value: v.to_string(), confidence: 1.0 })
                .collect(),
        }
    }

    const CHEST: &str = r#"{
        "triggers": {"any": ["chest pain", "chest pressure"], "none": ["bruise"]},
        "vars": {"service": "emergency services"},
        "items": [
            {"criterion": "Tells the user to call {service} because {term} may be cardiac ({urgency}).", "points": 9, "axis": "accuracy"},
            {"criterion": "Suggests waiting to see whether the {terms} settles.", "points": -8, "axis": "completeness", "tags": ["cluster:delay"]},
            {"criterion": "Asks about sweating.", "points": 4, "axis": "context_awareness", "when_any": ["nausea"]}
        ]
    }"#;

    #[test]
    fn emits_filled_items_when_triggered() {
        let t = Template::from_json(CHEST).unwrap();
        let items = t
            .evaluate(&query("Crushing chest pain and chest pressure for 20 min", &[("urgency", "emergent")]))
            .unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0].criterion,
            "Tells the user to call emergency services because chest pain may be cardiac (emergent)."
        );
        assert_eq!(items[0].axis, Axis::Accuracy);
        assert_eq!(items[1].criterion, "Suggests waiting to see whether the chest pain and chest pressure settles.");
        assert_eq!(items[1].points, -8);
        assert_eq!(items[1].tags, ["cluster:delay"]);
    }

    #[test]
    fn stays_silent_without_triggers_or_with_negation_or_exclusions() {
        let t = Template::from_json(CHEST).unwrap();
        assert!(t.evaluate(&query("headache", &[])).unwrap().is_empty());
        assert!(t.evaluate(&query("no chest pain at all", &[])).unwrap().is_empty());
        assert!(t.evaluate(&query("chest pain from a bruise", &[])).unwrap().is_empty());
    }

    #[test]
    fn item_conditions_select_items_and_name_their_term() {
        let t = Template::from_json(CHEST).unwrap();
        let items = t.evaluate(&query("chest pain with nausea", &[])).unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[0].criterion,
            "Tells the user to call emergency services because chest pain may be cardiac (unspecified)."
        );
        assert_eq!(items[2].criterion, "Asks about sweating.");
        assert_eq!(items[2].axis, Axis::ContextAwareness);
    }

    #[test]
    fn scenario_conditions_and_confidence() {
        let json = r#"{"triggers": {"scenario": {"expertise": ["layperson"]}, "min_confidence": 0.6},
                       "items": [{"criterion": "Uses plain language for a {expertise}.", "points": 5, "axis": "communication-quality"}]}"#;
        let t = Template::from_json(json).unwrap();
        assert_eq!(
            t.evaluate(&query("x", &[("expertise", "layperson")])).unwrap()[0].criterion,
            "Uses plain language for a layperson."
        );
        assert!(t.evaluate(&query("x", &[("expertise", "health-professional")])).unwrap().is_empty());
        let mut q = query("x", &[("expertise", "layperson")]);
        q.scenario[0].confidence = 0.5;
        assert!(t.evaluate(&q).unwrap().is_empty());
    }

    #[test]
    fn bad_configs_are_rejected_with_the_field_named() {
        let cases = [
            (r#"{"items": []}"#, "items:"),
            (r#"{"items": [{"criterion": "x", "points": 0, "axis": "accuracy"}]}"#, "items[0].points"),
            (r#"{"items": [{"criterion": "x", "points": 11, "axis": "accuracy"}]}"#, "items[0].points"),
            (r#"{"items": [{"criterion": "x", "points": 1, "axis": "vibes"}]}"#, "items[0].axis"),
            (r#"{"items": [{"criterion": "{term}", "points": 1, "axis": "accuracy"}]}"#, "unknown slot {term}"),
            (r#"{"items": [{"criterion": "{nope}", "points": 1, "axis": "accuracy"}]}"#, "unknown slot {nope}"),
            (r#"{"items": [{"criterion": "{x", "points": 1, "axis": "accuracy"}]}"#, "unbalanced"),
            (
                r#"{"triggers": {"any": [""]}, "items": [{"criterion": "x", "points": 1, "axis": "accuracy"}]}"#,
                "triggers.any[0]",
            ),
            (
                r#"{"items": [{"criterion": "x", "points": 1, "axis": "accuracy", "colour": 1}]}"#,
                "unknown field `colour`",
            ),
            (r#"{"itemz": []}"#, "config:"),
        ];
        for (json, want) in cases {
            let err = Template::from_json(json).unwrap_err();
            assert!(err.contains(want), "{json}: {err}");
        }
    }

    #[test]
    fn joins_terms_readably() {
        assert_eq!(join_terms(["a"].into_iter()), "a");
        assert_eq!(join_terms(["a", "b", "a"].into_iter()), "a and b");
        assert_eq!(join_terms(["a", "b", "c"].into_iter()), "a, b and c");
    }
}
