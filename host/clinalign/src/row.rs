//! HealthBench rows (one JSON object per JSONL line): the one place where rows are read.
//!
//! A row is kept as its JSON fields, in input order, so that what a command writes back is the
//! input with its own fields added; the typed parts (conversation, scenario, rubric, tags,
//! response) are read through the methods here, each with one set of rules and errors that
//! name the field: `prompt[2].role: unknown role "bot" (user, assistant, system)`. Callers add
//! the `file:line:` in front.
//!
//! Conversations come as `prompt` (HealthBench) or `messages` (`{id, messages}` rows): a list
//! of `{role, content}` whose roles are `user`, `assistant`, `system` or `developer` (read as
//! `system`), with at least one user turn.

use clinalign_core::{Grade, Label, Message, Query, Reading, RubricEntry};
use serde_json::{Map, Value, json};

use crate::dimensions::Dimensions;
use crate::eval::{score, soft_score};
use crate::rubric::Rubric;

/// The fields that may hold the response to grade, in the order they are tried.
pub const RESPONSE_FIELDS: [&str; 3] = ["completion", "response", "ideal_completions_data.ideal_completion"];

/// One JSONL row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Every field of the row, in input order.
    pub fields: Map<String, Value>,
}

impl Row {
    /// Parses one JSONL line (a JSON object).
    pub fn parse(line: &str) -> Result<Row, String> {
        match serde_json::from_str::<Value>(line).map_err(|e| format!("invalid JSON: {e}"))? {
            Value::Object(fields) => Ok(Row { fields }),
            _ => Err("expected a JSON object".into()),
        }
    }

    /// The row's id: `prompt_id`, else `id` (a string or a number).
    pub fn id(&self) -> Option<String> {
        match self.fields.get("prompt_id").or_else(|| self.fields.get("id")) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The conversation (`prompt` or `messages`), checked: known roles, `developer` read as
    /// `system`, at least one user turn.
    pub fn conversation(&self) -> Result<Vec<Message>, String> {
        let (key, turns) = ["prompt", "messages"]
            .iter()
            .find_map(|k| self.fields.get(*k).map(|v| (*k, v)))
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
            let role = match role.as_str() {
                "user" | "assistant" | "system" => role,
                "developer" => "system".to_string(),
                _ => return Err(format!("{key}[{i}].role: unknown role {role:?} (user, assistant, system)")),
            };
            conversation.push(Message { role, content: field("content")? });
        }
        if !conversation.iter().any(|m| m.role == "user") {
            return Err(format!("{key}: no user message"));
        }
        Ok(conversation)
    }

    /// The labels the row supplies in `scenario` (none when absent), checked against the
    /// vocabulary: `{"urgency": "emergent"}` or `{"urgency": {"value": …, "confidence": …}}`.
    pub fn scenario(&self, dims: &Dimensions) -> Result<Vec<Label>, String> {
        match self.fields.get("scenario") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(v) => parse_scenario(v, dims),
        }
    }

    /// The query the row describes: its id (`fallback_id` when it has none), conversation and
    /// own labels.
    pub fn query(&self, fallback_id: &str, dims: &Dimensions) -> Result<Query, String> {
        let conversation = self.conversation()?;
        let id = self.id().unwrap_or_else(|| fallback_id.to_string());
        Ok(Query { id, conversation, scenario: self.scenario(dims)? })
    }

    /// The rubric in `rubrics` (`rubric_items` is read too), `None` when the row has none.
    pub fn rubric(&self) -> Result<Option<Vec<RubricEntry>>, String> {
        self.rubric_at(&["rubrics", "rubric_items"])
    }

    /// The physician rubric a synthesized row moved to `reference_rubrics`.
    pub fn reference_rubric(&self) -> Result<Option<Vec<RubricEntry>>, String> {
        self.rubric_at(&["reference_rubrics"])
    }

    fn rubric_at(&self, keys: &[&str]) -> Result<Option<Vec<RubricEntry>>, String> {
        match keys.iter().find_map(|k| self.fields.get(*k).map(|v| (*k, v))) {
            None | Some((_, Value::Null)) => Ok(None),
            Some((key, v)) => RubricEntry::list_from_json(v, key).map(Some),
        }
    }

    /// Replaces `rubrics` with these items (their fields in HealthBench order: criterion,
    /// points, tags, then the grade when there is one).
    pub fn set_rubric(&mut self, items: &[RubricEntry]) {
        let items = serde_json::to_value(items).expect("rubric entries serialize to JSON");
        self.fields.insert("rubrics".into(), items);
    }

    /// HealthBench's `example_tags` (`theme:*`, `physician_agreed_category:*`), if any.
    pub fn example_tags(&self) -> Result<Vec<String>, String> {
        clinalign_core::rubric::strings(self.fields.get("example_tags"), "example_tags")
    }

    /// The value at a dotted path (`ideal_completions_data.ideal_completion`).
    pub fn field(&self, dotted: &str) -> Option<&Value> {
        let mut parts = dotted.split('.');
        let mut v = self.fields.get(parts.next()?)?;
        for p in parts {
            v = v.get(p)?;
        }
        Some(v)
    }

    /// The response stored in the row: `field` when given, else the first of
    /// [`RESPONSE_FIELDS`] that holds a string.
    pub fn response(&self, field: Option<&str>) -> Option<&str> {
        match field {
            Some(f) => self.field(f).and_then(Value::as_str),
            None => RESPONSE_FIELDS.iter().find_map(|f| self.field(f).and_then(Value::as_str)),
        }
    }

    /// What a judge grades: the conversation and the response. The response is the stored
    /// one (see [`Row::response`]); without one, a conversation that ends with the
    /// assistant's turn has that turn graded, as HealthBench's grader does. `None` when there
    /// is nothing to grade.
    pub fn graded_turns(&self, field: Option<&str>) -> Result<Option<(Vec<Message>, String)>, String> {
        let mut conversation = self.conversation()?;
        if let Some(r) = self.response(field) {
            return Ok(Some((conversation, r.to_string())));
        }
        // `conversation` has a user turn, so one is left when the assistant's last turn goes.
        if field.is_none() && conversation.last().is_some_and(|m| m.role == "assistant") {
            let last = conversation.pop().expect("a last turn");
            return Ok(Some((conversation, last.content)));
        }
        Ok(None)
    }

    /// A reward sample (`/v1/reward`'s and the Python package's `reward` shape): `{conversation
    /// | messages | prompt, response | completion, rubric?, scenario?, id?}`, read as a row
    /// (`conversation` → `messages`, a plain-text `prompt` → one user turn, `rubric` →
    /// `rubrics`) and its response. The response may also be TRL's conversational completion,
    /// a list of turns whose last assistant turn is graded.
    pub fn from_sample(mut fields: Map<String, Value>) -> Result<(Row, String), String> {
        let response = match fields.remove("response").or_else(|| fields.remove("completion")) {
            Some(Value::String(r)) => r,
            Some(Value::Array(turns)) => turns
                .iter()
                .rev()
                .find(|t| t.get("role").and_then(Value::as_str) == Some("assistant"))
                .and_then(|t| t.get("content").and_then(Value::as_str))
                .map(str::to_string)
                .ok_or("response: a list must hold an {\"role\": \"assistant\", \"content\"} turn")?,
            Some(_) => return Err("response: expected a string".into()),
            None => return Err("response: missing (the text to grade)".into()),
        };
        if let Some(c) = fields.remove("conversation") {
            fields.insert("messages".into(), c);
        }
        if let Some(Value::String(p)) = fields.get("prompt") {
            let turn = json!([{ "role": "user", "content": p }]);
            fields.insert("prompt".into(), turn);
        }
        if let Some(r) = fields.remove("rubric") {
            fields.insert("rubrics".into(), r);
        }
        Ok((Row { fields }, response))
    }

    /// What a revision starts from: the conversation, and the draft when the row has one (as
    /// [`Row::graded_turns`] finds a response); without one, the whole conversation and `None`.
    pub fn draft_turns(&self, field: Option<&str>) -> Result<(Vec<Message>, Option<String>), String> {
        Ok(match self.graded_turns(field)? {
            Some((conversation, response)) => (conversation, Some(response)),
            None => (self.conversation()?, None),
        })
    }

    /// The output row of `grade`: each item of `items` with its grade in `rubrics`, and
    /// `grade` = {judge, score (HealthBench, from `criteria_met`), soft_score (the reward:
    /// from `p_met`, clipped to 0..1)}.
    pub fn graded(mut self, mut items: Vec<RubricEntry>, grades: &[Grade], judge: &str) -> Row {
        for (item, g) in items.iter_mut().zip(grades) {
            item.apply(g);
        }
        let (hard, soft) = (score(&items, Reading::Verdict), soft_score(&items));
        self.set_rubric(&items);
        self.fields.insert("grade".into(), json!({ "judge": judge, "score": hard, "soft_score": soft }));
        self
    }

    /// Sets `scenario` to these labels.
    pub fn set_scenario(&mut self, labels: &[Label]) {
        self.fields.insert("scenario".into(), scenario_json(labels));
    }

    /// The output row of `synthesize`: `scenario`, `rubrics` and `principle_set` set; a
    /// rubric the row already had moves to `reference_rubrics`.
    pub fn synthesized(mut self, rubric: &Rubric) -> Row {
        if let Some(old) = self.fields.remove("rubrics")
            && !self.fields.contains_key("reference_rubrics")
        {
            self.fields.insert("reference_rubrics".into(), old);
        }
        self.set_scenario(&rubric.scenario);
        self.set_rubric(&rubric.items);
        self.fields.insert("principle_set".into(), Value::String(rubric.principle_set.clone()));
        self
    }
}

impl serde::Serialize for Row {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.fields.serialize(s)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dims() -> Dimensions {
        Dimensions::parse("[[dimension]]\nname = \"urgency\"\nvalues = [\"emergent\", \"non-emergent\"]\n", "d")
            .unwrap()
    }

    #[test]
    fn reward_samples_read_as_rows() {
        let obj = |v: Value| v.as_object().unwrap().clone();
        let (row, response) = Row::from_sample(obj(json!({"prompt": "Is a fever of 39 C dangerous?",
            "completion": [{"role": "assistant", "content": "Usually not."}], "rubric": []})))
        .unwrap();
        assert_eq!(response, "Usually not.");
        assert_eq!(row.conversation().unwrap()[0].content, "Is a fever of 39 C dangerous?");
        assert_eq!(row.rubric().unwrap(), Some(vec![]));
        let (row, _) = Row::from_sample(obj(json!({"conversation": [{"role": "user", "content": "Hi"}],
            "response": "Hello"})))
        .unwrap();
        assert_eq!(row.conversation().unwrap().len(), 1);
        assert!(Row::from_sample(obj(json!({"prompt": "x"}))).unwrap_err().starts_with("response: missing"));
        assert!(Row::from_sample(obj(json!({"prompt": "x", "response": 3}))).unwrap_err().contains("a string"));
        let e = Row::from_sample(obj(json!({"prompt": "x", "response": [{"role": "user", "content": "y"}]})));
        assert!(e.unwrap_err().contains("assistant"));
    }

    fn parse_row(line: &str, fallback_id: &str, dims: &Dimensions) -> Result<(Row, Query), String> {
        let row = Row::parse(line)?;
        let query = row.query(fallback_id, dims)?;
        Ok((row, query))
    }

    #[test]
    fn reads_healthbench_and_messages_rows() {
        let (_, q) = parse_row(
            r#"{"prompt_id": "p1", "prompt": [{"role": "user", "content": "hi"}], "example_tags": ["theme:x"]}"#,
            "line-1",
            &dims(),
        )
        .unwrap();
        assert_eq!(q.id, "p1");
        assert_eq!(q.conversation[0].content, "hi");
        assert!(q.scenario.is_empty());
        let (_, q) = parse_row(r#"{"messages": [{"role": "developer", "content": "sys"}, {"role": "user", "content": "q"}], "scenario": {"urgency": "emergent"}}"#, "line-2", &dims()).unwrap();
        assert_eq!(q.id, "line-2");
        assert_eq!(q.conversation[0].role, "system");
        assert_eq!(q.scenario[0].value, "emergent");
        assert_eq!(q.scenario[0].confidence, 1.0);
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
        let (row, _) = parse_row(r#"{"prompt_id": "p", "prompt": [{"role": "user", "content": "x"}], "rubrics": [{"criterion": "old", "points": 1, "tags": []}]}"#, "l", &dims()).unwrap();
        let rubric = Rubric {
            query_id: "p".into(),
            scenario: vec![Label { dimension: "urgency".into(), value: "emergent".into(), confidence: 0.75 }],
            items: vec![RubricEntry::new("new", 5, vec!["axis:accuracy".into()])],
            principle_set: "abc".into(),
            calls: vec![],
            curation: Default::default(),
        };
        let out = row.synthesized(&rubric).fields;
        assert_eq!(out["reference_rubrics"][0]["criterion"], "old");
        assert_eq!(out["rubrics"][0]["criterion"], "new");
        assert_eq!(out["scenario"]["urgency"]["value"], "emergent");
        assert_eq!(out["scenario"]["urgency"]["confidence"], 0.75);
        assert_eq!(out["principle_set"], "abc");
        let keys: Vec<&String> = out.keys().collect();
        assert_eq!(keys, ["prompt_id", "prompt", "reference_rubrics", "scenario", "rubrics", "principle_set"]);
    }

    #[test]
    fn graded_turns_take_the_stored_response_or_the_final_assistant_turn() {
        let row = |s: &str| Row::parse(s).unwrap();
        let stored = row(r#"{"prompt": [{"role": "user", "content": "q"}], "completion": "a"}"#);
        assert_eq!(stored.graded_turns(None).unwrap().unwrap().1, "a");
        let nested = row(
            r#"{"prompt": [{"role": "user", "content": "q"}], "ideal_completions_data": {"ideal_completion": "b"}}"#,
        );
        assert_eq!(nested.graded_turns(None).unwrap().unwrap().1, "b");
        let ends = row(r#"{"prompt": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "c"}]}"#);
        let (conversation, response) = ends.graded_turns(None).unwrap().unwrap();
        assert_eq!((conversation.len(), response.as_str()), (1, "c"));
        let none = row(r#"{"prompt": [{"role": "user", "content": "q"}]}"#);
        assert_eq!(none.graded_turns(None), Ok(None));
        assert_eq!(ends.graded_turns(Some("answer")), Ok(None), "an explicit field is the only source");
        let no_user = row(r#"{"prompt": [{"role": "system", "content": "s"}], "completion": "a"}"#);
        assert!(no_user.graded_turns(None).unwrap_err().contains("no user message"));
        // A revision starts from the same draft, or from the whole conversation without one.
        assert_eq!(stored.draft_turns(None).unwrap().1.as_deref(), Some("a"));
        let (conversation, draft) = ends.draft_turns(Some("answer")).unwrap();
        assert_eq!((conversation.len(), draft), (2, None));
        assert!(no_user.draft_turns(None).is_err());
    }

    /// A JSON line with some bytes changed.
    fn mangled(line: &'static str) -> impl Strategy<Value = String> {
        let n = line.len();
        prop_oneof![
            (0..=n).prop_map(move |cut| String::from_utf8_lossy(&line.as_bytes()[..cut]).into_owned()),
            prop::collection::vec((0..n, any::<u8>()), 1..6).prop_map(move |writes| {
                let mut b = line.as_bytes().to_vec();
                for (i, v) in writes {
                    b[i] = v;
                }
                String::from_utf8_lossy(&b).into_owned()
            }),
            ".{0,300}",
        ]
    }

    const FULL: &str = r#"{"prompt_id": "p", "prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "scenario": {"urgency": {"value": "emergent", "confidence": 0.5}}, "example_tags": ["theme:x"], "rubrics": [{"criterion": "c", "points": 5, "tags": ["axis:accuracy"], "criteria_met": true, "p_met": 0.5}], "ideal_completions_data": {"ideal_completion": "i"}}"#;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Whatever a line holds, reading a row and every part of it returns (never panics).
        #[test]
        fn damaged_rows_are_read_or_refused_without_a_panic(line in mangled(FULL)) {
            if let Ok(row) = Row::parse(&line) {
                let _ = row.query("l", &dims());
                let _ = row.rubric();
                let _ = row.reference_rubric();
                let _ = row.example_tags();
                let _ = row.graded_turns(None);
                let _ = row.graded_turns(Some("ideal_completions_data.ideal_completion"));
                let _ = crate::eval::parse_graded_row(&line);
            }
        }
    }
}
