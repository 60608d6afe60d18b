//! Tests of the template as a whole: triggers, items, slots and config errors.

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
    let items =
        t.evaluate(&query("Crushing chest pain and chest pressure for 20 min", &[("urgency", "emergent")])).unwrap();
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
        (r#"{"items": [{"criterion": "x", "points": 1, "axis": "accuracy", "colour": 1}]}"#, "unknown field `colour`"),
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

const INFANT_FEVER: &str = r#"{
    "triggers": {"any": ["fever", "temperature"], "age": "under 3 months"},
    "items": [
        {"criterion": "Advises that a {age} with a {term} needs same-day medical review.", "points": 9, "axis": "accuracy"},
        {"criterion": "Advises urgent care now, since a fever in the first 28 days is an emergency.", "points": 8, "axis": "accuracy", "when_age": "28 days or younger"}
    ]
}"#;

#[test]
fn age_conditions_gate_the_template_and_its_items() {
    // The worked example of docs/authoring.md, "Ages and quantities".
    let t = Template::from_json(INFANT_FEVER).unwrap();
    let items = t.evaluate(&query("My 7-week-old has a fever of 38.2", &[])).unwrap();
    assert_eq!(items.len(), 1, "the 28-day item needs its own age");
    assert_eq!(items[0].criterion, "Advises that a 7-week-old with a fever needs same-day medical review.");
    let items = t.evaluate(&query("she is 3 weeks old and has a temperature", &[])).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].criterion, "Advises urgent care now, since a fever in the first 28 days is an emergency.");
    for silent in ["my 4-month-old has a fever", "my baby has a fever", "I am 38 weeks pregnant with a fever"] {
        assert!(t.evaluate(&query(silent, &[])).unwrap().is_empty(), "{silent}");
    }
}

#[test]
fn item_age_conditions_name_their_own_age() {
    let json = r#"{"triggers": {"any": ["warfarin"]}, "items": [
        {"criterion": "Asks about falls in a {age} patient on {term}.", "points": 5, "axis": "completeness", "when_age": "65 years or older"},
        {"criterion": "Mentions bleeding signs.", "points": 5, "axis": "completeness"}
    ]}"#;
    let t = Template::from_json(json).unwrap();
    let items = t.evaluate(&query("My 84 year old mother takes warfarin", &[])).unwrap();
    assert_eq!(items[0].criterion, "Asks about falls in a 84 year old patient on warfarin.");
    assert_eq!(items.len(), 2);
    assert_eq!(t.evaluate(&query("I'm 40 and take warfarin", &[])).unwrap().len(), 1);
}

#[test]
fn an_item_age_comes_before_the_triggers_age() {
    let json = r#"{"triggers": {"age": "under 1 year"}, "items": [
        {"criterion": "Names the {age}.", "points": 5, "axis": "completeness"},
        {"criterion": "Names the {age} first.", "points": 5, "axis": "completeness", "when_age": "28 days or younger"}
    ]}"#;
    let t = Template::from_json(json).unwrap();
    let items = t.evaluate(&query("my 2-month-old and her 3-week-old cousin", &[])).unwrap();
    assert_eq!(items[0].criterion, "Names the 2-month-old.");
    assert_eq!(items[1].criterion, "Names the 3-week-old first.");
}

#[test]
fn quantity_conditions_fill_their_slot() {
    let json = r#"{"triggers": {"any": ["paracetamol", "acetaminophen"], "quantity": {"unit": ["mg", "milligrams"], "over": 4000}},
        "items": [{"criterion": "States that {quantity} of {term} a day exceeds the adult maximum.", "points": 8, "axis": "accuracy"}]}"#;
    let t = Template::from_json(json).unwrap();
    let items = t.evaluate(&query("I took 5000 mg of paracetamol today", &[])).unwrap();
    assert_eq!(items[0].criterion, "States that 5000 mg of paracetamol a day exceeds the adult maximum.");
    assert!(t.evaluate(&query("I took 500mg of paracetamol", &[])).unwrap().is_empty());
    assert!(t.evaluate(&query("I took paracetamol", &[])).unwrap().is_empty(), "no amount stated");

    let item_only = r#"{"items": [{"criterion": "Flags {quantity}.", "points": 5, "axis": "accuracy",
        "when_quantity": {"unit": ["mg"], "at_least": 500}}]}"#;
    let t = Template::from_json(item_only).unwrap();
    assert_eq!(t.evaluate(&query("took 500mg", &[])).unwrap()[0].criterion, "Flags 500mg.");
    assert!(t.evaluate(&query("took 499 mg", &[])).unwrap().is_empty());
}

#[test]
fn only_the_searched_roles_count() {
    let json = r#"{"triggers": {"age": "65 years or older"},
        "items": [{"criterion": "Considers the age ({age}).", "points": 5, "axis": "context-awareness"}]}"#;
    let t = Template::from_json(json).unwrap();
    let mut q = query("what dose should I take?", &[]);
    q.conversation.insert(0, Message { role: "assistant".into(), content: "Are you 70 years old?".into() });
    assert!(t.evaluate(&q).unwrap().is_empty(), "user turns only by default");
    let both = json.replace(r#""age":"#, r#""roles": ["user", "assistant"], "age":"#);
    assert_eq!(
        Template::from_json(&both).unwrap().evaluate(&q).unwrap()[0].criterion,
        "Considers the age (70 years old)."
    );
}

#[test]
fn age_and_quantity_slots_need_their_condition_and_errors_name_the_field() {
    let item = |extra: &str, criterion: &str| {
        format!(r#"{{{extra} "items": [{{"criterion": "{criterion}", "points": 1, "axis": "accuracy"}}]}}"#)
    };
    let cases = [
        (item("", "{age}"), "items[0].criterion: unknown slot {age}"),
        (item("", "{quantity}"), "items[0].criterion: unknown slot {quantity}"),
        (item(r#""triggers": {"age": "under 3 months"},"#, "{quantity}"), "unknown slot {quantity}"),
        (
            item(r#""triggers": {"age": "under three-ish months"},"#, "x"),
            r#"triggers.age: cannot read "under three-ish months" (write e.g. "under 3 months", "65 years or older", "2 to 12 years")"#,
        ),
        (item(r#""triggers": {"age": "12 to 2 years"},"#, "x"), "triggers.age: \"12 to 2 years\" contains no age"),
        (item(r#""triggers": {"quantity": {"over": 1}},"#, "x"), "triggers.quantity.unit: needs at least one"),
        (item(r#""triggers": {"quantity": {"unit": ["mg"]}},"#, "x"), "triggers.quantity: needs a bound"),
        (item(r#""triggers": {"quantity": {"unit": ["mg"], "over": null}},"#, "x"), "triggers.quantity.over: NaN"),
        (item(r#""triggers": {"quantity": {"unit": ["mg"], "above": 1}},"#, "x"), "unknown field `above`"),
        (
            r#"{"items": [{"criterion": "x", "points": 1, "axis": "accuracy", "when_age": "infants"}]}"#.into(),
            "items[0].when_age: cannot read \"infants\"",
        ),
        (
            r#"{"items": [{"criterion": "x", "points": 1, "axis": "accuracy", "when_quantity": {"unit": [""], "over": 1}}]}"#.into(),
            "items[0].when_quantity.unit[0]:",
        ),
    ];
    for (json, want) in cases {
        let err = Template::from_json(&json).unwrap_err();
        assert!(err.contains(want), "{json}: {err}");
    }
    let vars = item(r#""vars": {"age": "any age"},"#, "For {age}.");
    let t = Template::from_json(&vars).unwrap();
    assert_eq!(t.evaluate(&query("x", &[])).unwrap()[0].criterion, "For any age.", "a var may still be named age");
}
