//! Why a template stayed silent for a query, in words an author can act on: the first of
//! its conditions, in the order [`Template::evaluate`] checks them, that did not hold.

use super::Template;
use super::conditions::Stated;
use crate::text::Text;
use crate::types::Query;

impl Template {
    /// Why [`Template::evaluate`] returns no item for `query`; `None` when it emits.
    pub fn why_silent(&self, query: &Query) -> Option<String> {
        if self.evaluate(query).is_ok_and(|items| !items.is_empty()) {
            return None;
        }
        let t = &self.config.triggers;
        if let Some(miss) = scenario_miss(query, &t.scenario, t.min_confidence) {
            return Some(format!("triggers.scenario: {miss}"));
        }
        let roles: Vec<&str> = t.roles.iter().map(String::as_str).collect();
        let text = Text::new(&query.text_of(&roles));
        let turns = roles.join("/");
        let affirmed = |term: &str| if t.respect_negation { text.mentions(term) } else { text.contains(term) };
        if let Some(term) = t.none.iter().find(|term| affirmed(term)) {
            return Some(format!("triggers.none: \"{term}\" is affirmed in the {turns} turns"));
        }
        if let Some(term) = t.all.iter().find(|term| !affirmed(term)) {
            return Some(format!("triggers.all: \"{term}\" is not affirmed in the {turns} turns"));
        }
        if !t.any.is_empty() && !t.any.iter().any(|term| affirmed(term)) {
            let negated: Vec<&String> = t.any.iter().filter(|term| text.contains(term)).collect();
            return Some(if negated.is_empty() {
                format!("triggers.any: none of its {} terms occurs in the {turns} turns", t.any.len())
            } else {
                let shown: Vec<String> = negated.iter().take(3).map(|n| format!("\"{n}\"")).collect();
                format!("triggers.any: {} occurs only negated (\"no …\", \"denies …\")", shown.join(", "))
            });
        }
        let stated = Stated::new(text.normalized());
        if let Some(age) = &t.age
            && self.numbers.age.as_ref().is_some_and(|c| c.first_in(&stated).is_none())
        {
            return Some(format!("triggers.age: no age \"{age}\" is stated in the {turns} turns"));
        }
        if self.numbers.quantity.as_ref().is_some_and(|c| c.first_in(&stated).is_none()) {
            return Some(format!("triggers.quantity: no amount within its bounds is stated in the {turns} turns"));
        }
        let item = self.config.items.first()?;
        let own = &self.items.first()?.1;
        let first = if let Some(miss) = scenario_miss(query, &item.when_scenario, t.min_confidence) {
            format!("items[0].when_scenario: {miss}")
        } else if let Some(term) = item.unless_any.iter().find(|term| affirmed(term)) {
            format!("items[0].unless_any: \"{term}\" is affirmed")
        } else if !item.when_any.is_empty() && !item.when_any.iter().any(|term| affirmed(term)) {
            format!("items[0].when_any: none of its {} terms is affirmed", item.when_any.len())
        } else if let Some(age) = item.when_age.as_ref().filter(|_| own.find(&stated).is_none()) {
            format!("items[0].when_age: no age \"{age}\" is stated")
        } else if item.when_quantity.is_some() && own.find(&stated).is_none() {
            "items[0].when_quantity: no amount within its bounds is stated".to_string()
        } else {
            "items[0] has no condition of its own".into()
        };
        Some(format!("every item's own condition failed, e.g. {first}"))
    }
}

/// The first `dimension → values` condition the query's labels miss.
fn scenario_miss(
    query: &Query,
    conditions: &std::collections::BTreeMap<String, Vec<String>>,
    min_confidence: f32,
) -> Option<String> {
    conditions.iter().find_map(|(dim, values)| match query.label(dim) {
        None => Some(format!("{dim} has no label")),
        Some(l) if !values.contains(&l.value) => {
            Some(format!("{dim} is {}, not one of [{}]", l.value, values.join(", ")))
        }
        Some(l) if l.confidence < min_confidence => Some(format!(
            "{dim} is {} with confidence {:.2}, below min_confidence {:.2}",
            l.value, l.confidence, min_confidence
        )),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Label, Message};

    fn query(text: &str, urgency: &str) -> Query {
        Query {
            id: "t".into(),
            conversation: vec![Message { role: "user".into(), content: text.into() }],
            scenario: vec![Label { dimension: "urgency".into(), value: urgency.into(), confidence: 1.0 }],
        }
    }

    #[test]
    fn names_the_condition_that_did_not_hold() {
        let t = Template::from_json(
            r#"{"triggers": {"any": ["chest pain"], "none": ["bruise"], "scenario": {"urgency": ["emergent"]}},
                "items": [{"criterion": "Advises care.", "points": 5, "axis": "accuracy"}]}"#,
        )
        .unwrap();
        assert_eq!(t.why_silent(&query("chest pain", "emergent")), None);
        let why = |text: &str, u: &str| t.why_silent(&query(text, u)).unwrap();
        assert_eq!(
            why("chest pain", "non-emergent"),
            "triggers.scenario: urgency is non-emergent, not one of [emergent]"
        );
        assert_eq!(
            why("chest pain and a bruise", "emergent"),
            "triggers.none: \"bruise\" is affirmed in the user turns"
        );
        assert_eq!(why("a headache", "emergent"), "triggers.any: none of its 1 terms occurs in the user turns");
        assert_eq!(
            why("no chest pain", "emergent"),
            "triggers.any: \"chest pain\" occurs only negated (\"no …\", \"denies …\")"
        );
    }
}
