//! JSONL rows in and out: HealthBench rows (`prompt`, `prompt_id`, …) or `{id, messages}`
//! rows become queries; synthesized rows get `scenario`, `rubrics` and `principle_set`.

use clinalign_sdk::{Label, Message, Query};
use serde_json::{Map, Value, json};

use crate::dimensions::Dimensions;
use crate::synthesis::Rubric;

/// One parsed input row: its fields as read, and the query they describe.
#[derive(Debug, Clone)]
pub struct InputRow {
    /// Every field of the row, in input order.
    pub fields: Map<String, Value>,
    /// The conversation, id, and the labels the row itself supplied (possibly none).
    pub query: Query,
}

/// Parses one JSONL line. `fallback_id` names the row when it has no `prompt_id`/`id`.
/// The error says what is wrong, without the `file:line:` prefix (the caller adds it).
pub fn parse_row(line: &str, fallback_id: &str, dims: &Dimensions) -> Result<InputRow, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(fields) = value else {
        return Err("expected a JSON object".into());
    };
    let (key, turns) = ["prompt", "messages"]
        .iter()
        .find_map(|k| fields.get(*k).map(|v| (*k, v)))
        .ok_or("no conversation: expected a \"prompt\" or \"messages\" list of {role, content}")?;
    let Value::Array(turns) = turns else {
        return Err(format!("{key}: expected a list of {{role, content}}"));
    };
    let mut conversation = Vec::with_capacity(turns.len());
    for (i, t) in turns.iter().enumerate() {
        let field = |name: &str| -> Result<String, String> {
            match t.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(format!("{key}[{i}].{name}: expected a string")),
                None => Err(format!("{key}[{i}]: missing \"{name}\"")),
            }
        };
        let role = field("role")?;
        if !matches!(role.as_str(), "user" | "assistant" | "system" | "developer") {
            return Err(format!("{key}[{i}].role: unknown role {role:?} (user, assistant, system)"));
        }
        let role = if role == "developer" { "system".to_string() } else { role };
        conversation.push(Message { role, content: field("content")? });
    }
    if !conversation.iter().any(|m| m.role == "user") {
        return Err(format!("{key}: no user message"));
    }
    let id = match fields.get("prompt_id").or_else(|| fields.get("id")) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => fallback_id.to_string(),
    };
    let scenario = match fields.get("scenario") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => parse_scenario(v, dims)?,
    };
    Ok(InputRow { fields, query: Query { id, conversation, scenario } })
}

/// Reads `{"urgency": "emergent"}` or `{"urgency": {"value": "emergent", "confidence": 0.8}}`.
pub fn parse_scenario(v: &Value, dims: &Dimensions) -> Result<Vec<Label>, String> {
    let Value::Object(map) = v else {
        return Err("scenario: expected an object of dimension → value".into());
    };
    let mut labels = Vec::new();
    for (dim, entry) in map {
        let (value, confidence) = match entry {
            Value::String(s) => (s.clone(), 1.0),
            Value::Object(o) => {
                let value = o
                    .get("value")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("scenario.{dim}: expected \"value\" (a string)"))?
                    .to_string();
                let confidence = match o.get("confidence") {
                    None => 1.0,
                    Some(c) => c.as_f64().ok_or_else(|| format!("scenario.{dim}.confidence: expected a number"))?,
                };
                (value, confidence)
            }
            _ => return Err(format!("scenario.{dim}: expected a string or {{value, confidence}}")),
        };
        if !(0.0..=1.0).contains(&confidence) {
            return Err(format!("scenario.{dim}.confidence: {confidence} is outside 0..1"));
        }
        dims.check(dim, &value).map_err(|e| format!("scenario.{dim}: {e}"))?;
        labels.push(Label { dimension: dim.clone(), value, confidence: confidence as f32 });
    }
    Ok(labels)
}

/// `{"urgency": {"value": …, "confidence": …}, …}`.
pub fn scenario_json(labels: &[Label]) -> Value {
    let mut m = Map::new();
    for l in labels {
        m.insert(l.dimension.clone(), json!({ "value": l.value, "confidence": round3(l.confidence) }));
    }
    Value::Object(m)
}

fn round3(x: f32) -> f64 {
    (x as f64 * 1000.0).round() / 1000.0
}

/// The output row: the input's fields, with `scenario`, `rubrics` and `principle_set`
/// set; rubrics the row already had move to `reference_rubrics`.
pub fn synthesized_row(mut fields: Map<String, Value>, rubric: &Rubric) -> Map<String, Value> {
    if let Some(old) = fields.remove("rubrics")
        && !fields.contains_key("reference_rubrics")
    {
        fields.insert("reference_rubrics".into(), old);
    }
    fields.insert("scenario".into(), scenario_json(&rubric.scenario));
    fields.insert("rubrics".into(), serde_json::to_value(&rubric.items).unwrap_or(Value::Array(Vec::new())));
    fields.insert("principle_set".into(), Value::String(rubric.principle_set.clone()));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthesis::RubricEntry;

    fn dims() -> Dimensions {
        Dimensions::parse("[[dimension]]\nname = \"urgency\"\nvalues = [\"emergent\", \"non-emergent\"]\n", "d")
            .unwrap()
    }

    #[test]
    fn reads_healthbench_and_messages_rows() {
        let r = parse_row(
            r#"{"prompt_id": "p1", "prompt": [{"role": "user", "content": "hi"}], "example_tags": ["theme:x"]}"#,
            "line-1",
            &dims(),
        )
        .unwrap();
        assert_eq!(r.query.id, "p1");
        assert_eq!(r.query.conversation[0].content, "hi");
        assert!(r.query.scenario.is_empty());
        let r = parse_row(r#"{"messages": [{"role": "developer", "content": "sys"}, {"role": "user", "content": "q"}], "scenario": {"urgency": "emergent"}}"#, "line-2", &dims()).unwrap();
        assert_eq!(r.query.id, "line-2");
        assert_eq!(r.query.conversation[0].role, "system");
        assert_eq!(r.query.scenario[0].value, "emergent");
        assert_eq!(r.query.scenario[0].confidence, 1.0);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let cases = [
            ("{", "invalid JSON"),
            ("[]", "expected a JSON object"),
            (r#"{"id": "x"}"#, "no conversation"),
            (r#"{"prompt": "hi"}"#, "prompt: expected a list"),
            (r#"{"prompt": [{"role": "user"}]}"#, "prompt[0]: missing \"content\""),
            (r#"{"prompt": [{"role": "bot", "content": "x"}]}"#, "prompt[0].role: unknown role \"bot\""),
            (r#"{"prompt": [{"role": "assistant", "content": "x"}]}"#, "no user message"),
            (
                r#"{"prompt": [{"role": "user", "content": "x"}], "scenario": {"urgency": "soon"}}"#,
                "scenario.urgency: unknown urgency value \"soon\"",
            ),
            (
                r#"{"prompt": [{"role": "user", "content": "x"}], "scenario": {"urgency": {"value": "emergent", "confidence": 2}}}"#,
                "outside 0..1",
            ),
        ];
        for (line, want) in cases {
            let e = parse_row(line, "l", &dims()).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
        }
    }

    #[test]
    fn output_moves_old_rubrics_and_adds_fields() {
        let r = parse_row(r#"{"prompt_id": "p", "prompt": [{"role": "user", "content": "x"}], "rubrics": [{"criterion": "old", "points": 1, "tags": []}]}"#, "l", &dims()).unwrap();
        let rubric = Rubric {
            query_id: "p".into(),
            scenario: vec![Label { dimension: "urgency".into(), value: "emergent".into(), confidence: 0.75 }],
            items: vec![RubricEntry { criterion: "new".into(), points: 5, tags: vec!["axis:accuracy".into()] }],
            principle_set: "abc".into(),
            calls: vec![],
            curation: Default::default(),
        };
        let out = synthesized_row(r.fields, &rubric);
        assert_eq!(out["reference_rubrics"][0]["criterion"], "old");
        assert_eq!(out["rubrics"][0]["criterion"], "new");
        assert_eq!(out["scenario"]["urgency"]["value"], "emergent");
        assert_eq!(out["scenario"]["urgency"]["confidence"], 0.75);
        assert_eq!(out["principle_set"], "abc");
        let keys: Vec<&String> = out.keys().collect();
        assert_eq!(keys, ["prompt_id", "prompt", "reference_rubrics", "scenario", "rubrics", "principle_set"]);
    }
}
