use super::*;
use clinalign_sdk::{Label, Message};

fn pool() -> Vec<PoolPrinciple> {
    ["urgency.red-flag-symptoms", "task.medication-dosing"]
        .iter()
        .map(|id| PoolPrinciple {
            id: id.to_string(),
            version: "1.0.0".into(),
            dimension: id.split('.').next().unwrap().into(),
            title: format!("title of {id}"),
            statement: format!("statement of {id}"),
        })
        .collect()
}

fn query() -> Query {
    Query {
        id: "q".into(),
        conversation: vec![Message {
            role: "user".into(),
            content: "Crushing chest pain for 20 minutes; I take aspirin and other medicines".into(),
        }],
        scenario: vec![Label { dimension: "urgency".into(), value: "emergent".into(), confidence: 1.0 }],
    }
}

#[test]
fn the_prompt_holds_the_conversation_scenario_and_labelled_principles() {
    let p = prompt(&query(), &pool(), &Config::default());
    assert!(p.contains("user: Crushing chest pain"), "{p}");
    assert!(p.contains("urgency emergent"));
    assert!(p.contains("P1: statement of urgency.red-flag-symptoms") && p.contains("P2: statement of task"));
    assert!(p.contains("at most 4 rubric items"));
    assert!(!p.contains("{"), "every placeholder is filled: {p}");
}

#[test]
fn items_are_checked_tagged_with_their_principle_and_capped() {
    let c = Config { max_items: 2, ..Config::default() };
    let reply = r#"{"items": [
        {"criterion": "Tells the user to call emergency services now for the chest pain.", "points": 10, "axis": "accuracy", "principle": "P1", "about": "chest pain"},
        {"criterion": "Ok", "points": 5, "axis": "accuracy", "principle": "P1", "about": "chest pain"},
        {"criterion": "Suggests a dose of aspirin without checking allergies.", "points": -11, "axis": "accuracy", "principle": "P2", "about": "aspirin"},
        {"criterion": "Asks which medicines the user already takes.", "points": 4, "axis": "context-awareness", "principle": "task.medication-dosing", "about": "other medicines"},
        {"criterion": "Mentions something from a principle not in the pool.", "points": 3, "axis": "accuracy", "principle": "P9", "about": "chest pain"},
        {"criterion": "Tells the user to call emergency services now for the chest pain.", "points": 10, "axis": "accuracy", "principle": "P1", "about": "chest pain"},
        {"criterion": "A third item about the chest pain, over the cap of two items.", "points": 2, "axis": "completeness", "principle": "P2", "about": "aspirin"}
    ]}"#;
    let (kept, dropped) = items(reply, &query(), &pool(), &c).unwrap();
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].tags, ["derives-from:urgency.red-flag-symptoms"]);
    assert_eq!(
        (kept[1].axis, kept[1].tags[0].as_str()),
        (Axis::ContextAwareness, "derives-from:task.medication-dosing")
    );
    let why = dropped.join("\n");
    for expected in
        ["too short", "-11 is not in -10..10", "\"P9\" is not one of the pool's", "repeats", "over max_items"]
    {
        assert!(why.contains(expected), "{expected}: {why}");
    }
    assert!(items("not json", &query(), &pool(), &c).unwrap_err().contains("not JSON"));
    assert!(items("{\"x\": 1}", &query(), &pool(), &c).unwrap_err().contains("no \"items\""));
}

#[test]
fn the_schema_names_the_limits_and_labels() {
    let text = schema(&Config::default(), &["P1".into(), "P2".into()], &["chest pain".into()]);
    let s: Value = serde_json::from_str(&text).unwrap();
    let item = &s["properties"]["items"];
    assert_eq!(item["maxItems"], 4);
    let fields = &item["items"]["properties"];
    assert_eq!(fields["principle"]["enum"], serde_json::json!(["P1", "P2"]));
    assert_eq!(fields["about"]["enum"], serde_json::json!(["chest pain"]));
    assert_eq!(fields["points"]["minimum"], -10);
    assert!(fields["criterion"]["pattern"].as_str().unwrap().starts_with("^(Advises|Asks"));
    // The model writes the fields in this order: what to apply, to what, then the criterion.
    let at = |f: &str| text.find(&format!("\"{f}\":{{")).unwrap();
    assert!(at("principle") < at("about") && at("about") < at("criterion") && at("criterion") < at("points"));
}

#[test]
fn config_errors_name_the_field() {
    assert_eq!(Config::from_json("").unwrap(), Config::default());
    assert!(Config::from_json(r#"{"max_items": 40}"#).unwrap_err().starts_with("max_items:"));
    assert!(Config::from_json(r#"{"prompt": "no placeholders"}"#).unwrap_err().contains("{conversation}"));
    assert!(Config::from_json(r#"{"colour": 1}"#).unwrap_err().contains("unknown field"));
}

#[test]
fn items_must_concern_the_query_not_copy_a_principle() {
    let reply = r#"{"items": [
        {"criterion": "P1: statement of urgency.red-flag-symptoms applies here", "points": 3, "axis": "accuracy", "principle": "P1", "about": "chest pain"},
        {"criterion": "Recommends a balanced diet and regular exercise.", "points": 3, "axis": "completeness", "principle": "P2", "about": "life"},
        {"criterion": "Says the crushing chest pain needs an ambulance now.", "points": 9, "axis": "accuracy", "principle": "P1", "about": "chest pain"}
    ]}"#;
    let (kept, dropped) = items(reply, &query(), &pool(), &Config::default()).unwrap();
    assert_eq!(kept.len(), 1, "{dropped:?}");
    assert!(kept[0].criterion.contains("ambulance"));
    let why = dropped.join("\n");
    assert!(why.contains("copies a principle") && why.contains("names nothing from the query"), "{why}");
}

#[test]
fn anchors_are_the_user_s_clauses_then_content_words() {
    let mut q = query();
    q.conversation.insert(0, Message { role: "assistant".into(), content: "Hello, how can I help?".into() });
    q.conversation[1].content = "My father (70) has crushing chest pain and is sweating, he takes warfarin".into();
    let a = anchors(&q);
    for expected in ["My father", "has crushing chest pain", "is sweating", "he takes warfarin", "father", "warfarin"] {
        assert!(a.iter().any(|x| x == expected), "{expected}: {a:?}");
    }
    assert!(!a.iter().any(|x| x.contains("help")), "the assistant's words are no anchor: {a:?}");
    assert!(a.iter().all(|x| (3..=ABOUT_CHARS).contains(&x.chars().count())), "{a:?}");
    let long = Message { role: "user".into(), content: "word ".repeat(400) };
    assert!(anchors(&Query { conversation: vec![long], ..query() }).len() <= MAX_ANCHORS);
}

#[test]
fn a_criterion_that_names_nothing_of_the_query_is_tied_to_its_about() {
    let reply = r#"{"items": [
        {"principle": "P1", "about": "chest pain", "criterion": "Tells the user to call an ambulance now", "points": 9, "axis": "accuracy"},
        {"principle": "P2", "about": "other", "criterion": "Advises on something general.", "points": 2, "axis": "accuracy"}
    ]}"#;
    let (kept, dropped) = items(reply, &query(), &pool(), &Config::default()).unwrap();
    assert_eq!(kept.len(), 1, "{dropped:?}");
    assert_eq!(kept[0].criterion, "Tells the user to call an ambulance now (about: chest pain)");
    assert!(dropped[0].contains("names nothing from the query"), "{dropped:?}");
}

#[test]
fn a_statement_with_non_ascii_text_is_compared_by_characters() {
    let mut pool = pool();
    // The em dash takes bytes 39..42: a cut at byte 40 would split it.
    pool[0].statement =
        "When chest pain is crushing or spreads — to the arm or jaw — the response says to call 999.".into();
    let reply = r#"{"items": [
        {"principle": "P1", "about": "chest pain", "criterion": "Says when chest pain is crushing or spreads — to the arm or jaw — call 999.", "points": 9, "axis": "accuracy"},
        {"principle": "P1", "about": "chest pain", "criterion": "Tells the user to call 999 now for the crushing chest pain.", "points": 9, "axis": "accuracy"}
    ]}"#;
    let (kept, dropped) = items(reply, &query(), &pool, &Config::default()).unwrap();
    assert_eq!(kept.len(), 1, "{dropped:?}");
    assert!(dropped[0].contains("copies a principle"), "{dropped:?}");
}
