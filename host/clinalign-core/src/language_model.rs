//! The language model the engine offers principles (`generate`, `score-options`), and the
//! errors every model call can end in. The inference crate implements [`LanguageModel`] for
//! local models; the engine never depends on it.

/// Why a model call produced nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// No model can serve the call: none is configured, or the caller may not use it.
    #[error("{0}")]
    Unavailable(String),
    /// The model cannot do what was asked (e.g. a tokenizer without single-token "yes"/"no",
    /// a server that returns no log-probabilities).
    #[error("{0}")]
    Unsupported(String),
    /// The request cannot be used (an empty prompt, a token id outside the vocabulary).
    #[error("{0}")]
    Invalid(String),
    /// Running the model failed: a malformed file, a numerical failure, a remote server that
    /// did not answer or answered badly after its retries.
    #[error("{0}")]
    Failed(String),
}

/// A language model principles may call through the host when their manifest grants the
/// capability.
pub trait LanguageModel: Send + Sync {
    /// A short name for logs and reports, e.g. the model file's name.
    fn name(&self) -> &str;

    /// Up to `max_tokens` generated tokens after `prompt`.
    fn generate(&self, prompt: &str, max_tokens: u32) -> Result<String, ModelError>;

    /// Log-probability of each option as the continuation of `prompt`.
    fn score_options(&self, prompt: &str, options: &[String]) -> Result<Vec<f32>, ModelError>;

    /// A JSON document answering `prompt`, meant to match `json_schema` (JSON Schema text).
    /// The text returned always parses as JSON. A model that can constrain its output or ask
    /// its server to overrides this; the default asks [`LanguageModel::generate`] with the
    /// schema in the prompt, takes the first JSON value of the reply, and, when there is
    /// none, asks again (at most [`JSON_ATTEMPTS`] times in all) saying what was wrong.
    fn generate_json(&self, prompt: &str, json_schema: &str, max_tokens: u32) -> Result<String, ModelError> {
        generate_json_by_asking(self, prompt, json_schema, max_tokens)
    }
}

/// The default [`LanguageModel::generate_json`]: the schema in the prompt, the first JSON
/// value of the reply, and at most [`JSON_ATTEMPTS`] asks.
pub fn generate_json_by_asking<M: LanguageModel + ?Sized>(
    model: &M,
    prompt: &str,
    json_schema: &str,
    max_tokens: u32,
) -> Result<String, ModelError> {
    generate_json_checked(model, prompt, json_schema, max_tokens, |_| Ok(()))
}

/// [`generate_json_by_asking`] that also holds each reply's JSON to `check` (e.g. a JSON
/// Schema validator): a reply that fails is asked again with the reason, at most
/// [`JSON_ATTEMPTS`] asks in all.
pub fn generate_json_checked<M: LanguageModel + ?Sized>(
    model: &M,
    prompt: &str,
    json_schema: &str,
    max_tokens: u32,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<String, ModelError> {
    let mut ask =
        format!("{prompt}\n\nAnswer with JSON only, no other text, matching this JSON Schema:\n{json_schema}");
    let mut last = String::new();
    for _ in 0..JSON_ATTEMPTS {
        let reply = model.generate(&ask, max_tokens)?;
        let why = match first_json_value(&reply) {
            Some(json) => match check(&json) {
                Ok(()) => return Ok(json),
                Err(why) => format!("did not match the schema: {why}"),
            },
            None => "was not valid JSON".to_string(),
        };
        last = format!("{why}; it began {:?}", reply.chars().take(200).collect::<String>());
        ask.push_str(&format!("\n\nYour previous answer {why}. Reply with the JSON document only."));
    }
    Err(ModelError::Failed(format!(
        "{} gave no valid JSON in {JSON_ATTEMPTS} attempts; the last reply {last}",
        model.name()
    )))
}

/// How many times the default [`LanguageModel::generate_json`] asks.
pub const JSON_ATTEMPTS: usize = 3;

/// The first complete JSON object or array in `text` (a reply may wrap it in prose or a
/// code fence), as text; `None` when there is none.
pub fn first_json_value(text: &str) -> Option<String> {
    for (start, c) in text.char_indices() {
        if c != '{' && c != '[' {
            continue;
        }
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<serde_json::Value>();
        if let Some(Ok(value)) = stream.next() {
            let end = start + stream.byte_offset();
            if value.is_object() || value.is_array() {
                return Some(text[start..end].to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_json_value_is_found_inside_prose_and_fences() {
        assert_eq!(first_json_value("Sure! ```json\n{\"a\": [1, 2]}\n``` done").as_deref(), Some("{\"a\": [1, 2]}"));
        assert_eq!(first_json_value("[{\"x\": 1}] and {\"y\": 2}").as_deref(), Some("[{\"x\": 1}]"));
        assert_eq!(first_json_value("{broken {\"ok\": true}").as_deref(), Some("{\"ok\": true}"));
        assert_eq!(first_json_value("no json here"), None);
    }

    struct Replies(std::sync::Mutex<Vec<&'static str>>);

    impl LanguageModel for Replies {
        fn name(&self) -> &str {
            "replies"
        }
        fn generate(&self, prompt: &str, _: u32) -> Result<String, ModelError> {
            assert!(prompt.contains("JSON Schema"));
            Ok(self.0.lock().unwrap().remove(0).to_string())
        }
        fn score_options(&self, _: &str, _: &[String]) -> Result<Vec<f32>, ModelError> {
            unreachable!()
        }
    }

    #[test]
    fn generate_json_asks_again_and_gives_up_with_a_clear_error() {
        let m = Replies(std::sync::Mutex::new(vec!["nope", "{\"items\": []}"]));
        assert_eq!(m.generate_json("p", "{}", 10).unwrap(), "{\"items\": []}");
        let m = Replies(std::sync::Mutex::new(vec!["a", "b", "c"]));
        let e = m.generate_json("p", "{}", 10).unwrap_err().to_string();
        assert!(e.contains("no valid JSON in 3 attempts") && e.contains("was not valid JSON"), "{e}");
    }

    #[test]
    fn a_checked_reply_that_fails_its_check_is_asked_again_with_the_reason() {
        let m = Replies(std::sync::Mutex::new(vec!["{\"items\": 3}", "{\"items\": []}"]));
        let check = |j: &str| if j.contains('3') { Err("items must be a list".to_string()) } else { Ok(()) };
        assert_eq!(generate_json_checked(&m, "p", "{}", 10, check).unwrap(), "{\"items\": []}");
        let m = Replies(std::sync::Mutex::new(vec!["{\"items\": 3}"; 3]));
        let e = generate_json_checked(&m, "p", "{}", 10, check).unwrap_err().to_string();
        assert!(e.contains("did not match the schema: items must be a list"), "{e}");
    }
}
