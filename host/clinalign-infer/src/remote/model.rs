//! The engine's language model behind any OpenAI-compatible server (vLLM, SGLang, llama.cpp's
//! server, `clinalign serve --model`), for principles whose manifest grants `generate` or
//! `score`: `generate` through chat completions (the prompt as one user turn, greedy), and
//! `score-options` through the log-probs of legacy text completions.
//!
//! A server returns the log-probs of its most likely next tokens only, not of a text the
//! caller names. An option is scored along its own tokens: at each step, the longest of the
//! top [`TOP_LOGPROBS`] next tokens that the rest of the option starts with is taken, its
//! log-prob added, and the prompt extended by it. One-token options (labels, yes/no) are
//! scored exactly; an option none of whose possible next tokens is among the top ones cannot
//! be scored, and the error says so.

use std::time::Duration;

use clinalign_core::{LanguageModel, ModelError};
use serde_json::{Value, json};

use super::endpoint::{ChatEndpoint, completions_url};

/// Top log-probs asked for per step (what vLLM allows by default).
const TOP_LOGPROBS: u32 = 20;

/// Tokens one option may span.
const MAX_OPTION_TOKENS: usize = 16;

/// A model served over the OpenAI API.
pub struct OpenAiModel {
    chat: ChatEndpoint,
    completions: ChatEndpoint,
    model: String,
    name: String,
}

impl OpenAiModel {
    /// The model `model` of the server at `base`; requests are retried as the judges' are.
    pub fn new(
        base: &str,
        model: &str,
        api_key: Option<String>,
        max_retries: u32,
        first_delay: Duration,
    ) -> OpenAiModel {
        OpenAiModel {
            chat: ChatEndpoint::new(base, api_key.clone(), max_retries, first_delay),
            completions: ChatEndpoint::at(completions_url(base), api_key, max_retries, first_delay),
            model: model.to_string(),
            name: format!("openai:{model}"),
        }
    }

    /// The log-prob of `option` after `prompt`, step by step along its tokens.
    fn score_one(&self, prompt: &str, option: &str) -> Result<f32, ModelError> {
        if option.is_empty() {
            return Err(ModelError::Invalid("an empty option cannot be scored".into()));
        }
        let (mut total, mut done) = (0f32, 0usize);
        for _ in 0..MAX_OPTION_TOKENS {
            let rest = &option[done..];
            if rest.is_empty() {
                return Ok(total);
            }
            let body = json!({
                "model": self.model, "prompt": format!("{prompt}{}", &option[..done]),
                "max_tokens": 1, "temperature": 0, "logprobs": TOP_LOGPROBS,
            });
            let reply = self.completions.with_retries(|| self.completions.post(&body)).map_err(ModelError::Failed)?;
            let top =
                next_tokens(&reply).map_err(|e| ModelError::Failed(format!("{}: {e}", self.completions.url())))?;
            let best = top
                .iter()
                .filter(|(token, _)| !token.is_empty() && rest.starts_with(token.as_str()))
                .max_by_key(|(token, _)| token.len());
            let Some((token, logprob)) = best else {
                let after = if done == 0 { String::new() } else { format!(" and {:?}", &option[..done]) };
                return Err(ModelError::Unsupported(format!(
                    "{}: none of the {} most likely next tokens after the prompt{after} begins {rest:?}, so this server cannot score the option {option:?}",
                    self.completions.url(),
                    top.len()
                )));
            };
            total += *logprob;
            done += token.len();
        }
        if done == option.len() {
            Ok(total)
        } else {
            Err(ModelError::Unsupported(format!("the option {option:?} spans more than {MAX_OPTION_TOKENS} tokens")))
        }
    }
}

/// The next token's top log-probs in a legacy completions reply
/// (`choices[0].logprobs.top_logprobs[0]`, a map of token text to log-prob).
fn next_tokens(reply: &Value) -> Result<Vec<(String, f32)>, String> {
    let first = &reply["choices"][0]["logprobs"]["top_logprobs"][0];
    let Value::Object(map) = first else {
        return Err("the reply has no choices[0].logprobs.top_logprobs[0]: the server returned no log-probs".into());
    };
    map.iter()
        .map(|(token, lp)| {
            lp.as_f64()
                .map(|v| (token.clone(), v as f32))
                .ok_or_else(|| format!("the log-prob of {token:?} is not a number"))
        })
        .collect()
}

/// A check that a JSON text matches `schema`; its error names the first place that does not.
fn schema_check(schema: &Value) -> Result<impl Fn(&str) -> Result<(), String>, ModelError> {
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| ModelError::Invalid(format!("the JSON schema is not valid: {e}")))?;
    Ok(move |json: &str| -> Result<(), String> {
        let v: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        match validator.iter_errors(&v).next() {
            None => Ok(()),
            Some(e) => Err(format!("at {:?}: {e}", e.instance_path().to_string())),
        }
    })
}

impl LanguageModel for OpenAiModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate(&self, prompt: &str, max_tokens: u32) -> Result<String, ModelError> {
        if prompt.is_empty() {
            return Err(ModelError::Invalid("an empty prompt".into()));
        }
        let body = json!({
            "model": self.model, "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens.max(1), "temperature": 0,
        });
        let reply = self.chat.with_retries(|| self.chat.post(&body)).map_err(ModelError::Failed)?;
        reply["choices"][0]["message"]["content"].as_str().map(str::to_string).ok_or_else(|| {
            ModelError::Failed(format!("{}: the reply has no choices[0].message.content", self.chat.url()))
        })
    }

    fn score_options(&self, prompt: &str, options: &[String]) -> Result<Vec<f32>, ModelError> {
        options.iter().map(|o| self.score_one(prompt, o)).collect()
    }

    /// The server's JSON-schema response format (vLLM, SGLang, OpenAI and `clinalign serve
    /// --model` constrain decoding with it). The reply is validated against the schema;
    /// where the server refuses the format or its reply fails validation, the schema goes
    /// into the prompt and each reply is validated, with bounded retries that say what was
    /// wrong.
    fn generate_json(&self, prompt: &str, json_schema: &str, max_tokens: u32) -> Result<String, ModelError> {
        let schema: Value = serde_json::from_str(json_schema)
            .map_err(|e| ModelError::Invalid(format!("the JSON schema does not parse: {e}")))?;
        let check = schema_check(&schema)?;
        let body = json!({
            "model": self.model, "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens.max(1), "temperature": 0,
            "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": true}},
        });
        let constrained = self.chat.post(&body).ok().and_then(|reply| {
            reply["choices"][0]["message"]["content"]
                .as_str()
                .and_then(clinalign_core::language_model::first_json_value)
        });
        match constrained {
            Some(json) if check(&json).is_ok() => Ok(json),
            _ => clinalign_core::language_model::generate_json_checked(self, prompt, json_schema, max_tokens, check),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_validated_against_the_schema() {
        let schema = json!({"type": "object", "properties": {"items": {"type": "array", "maxItems": 1,
            "items": {"type": "object", "properties": {"points": {"type": "integer", "minimum": -10, "maximum": 10}}}}},
            "required": ["items"]});
        let check = schema_check(&schema).unwrap();
        assert_eq!(check(r#"{"items": [{"points": 4}]}"#), Ok(()));
        let e = check(r#"{"items": [{"points": 40}]}"#).unwrap_err();
        assert!(e.contains("/items/0/points") && e.contains("40"), "{e}");
        assert!(check(r#"{"items": [{}, {}]}"#).unwrap_err().contains("/items"));
        assert!(check(r#"{"other": 1}"#).unwrap_err().contains("\"items\" is a required property"));
        let bad = schema_check(&json!({"type": 5})).err().unwrap();
        assert!(bad.to_string().contains("the JSON schema is not valid"), "{bad}");
    }

    #[test]
    fn a_server_without_log_probs_is_a_clear_error() {
        assert!(next_tokens(&json!({"choices": [{"text": "x"}]})).unwrap_err().contains("no log-probs"));
        assert_eq!(
            next_tokens(&json!({"choices": [{"logprobs": {"top_logprobs": [{"a": -0.5}]}}]})).unwrap(),
            vec![("a".to_string(), -0.5)]
        );
    }
}
