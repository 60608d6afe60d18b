//! The log-prob judge behind any OpenAI-compatible server that returns log-probs (vLLM,
//! llama.cpp, `clinalign serve`): `grade --judge openai-logprobs:URL`.
//!
//! Each rubric item is asked with the local log-prob judge's prompt
//! ([`crate::judge::judge_prompt`], as one user message) for one token at
//! temperature 0 with the 20 most likely first tokens; `p_met = P(yes) / (P(yes) + P(no))`,
//! each side summed over the alternatives that read "yes" (resp. "no") once trimmed and
//! case-folded. Alternatives outside the top 20 are not seen, so the sums can be a little
//! lower than the local judge's; when neither answer is among them, the generated token
//! decides (p_met 1 or 0) if it is "yes" or "no".
//!
//! Failures: transport errors, HTTP 408, 429 and 5xx and malformed replies are retried with
//! backoff; a reply without log-probs (a server that cannot return them) and a first token
//! whose alternatives hold neither answer are not, because at temperature 0 another attempt
//! gets the same reply.

use std::time::Duration;

use anyhow::Context;
use clinalign_core::{Grade, Judge, Message, ModelError, RubricEntry};
use rayon::prelude::*;
use serde_json::{Value, json};

use super::endpoint::{ChatEndpoint, Failure};

/// How many first-token alternatives are asked for (vLLM's default maximum).
pub const TOP_LOGPROBS: u32 = 20;

/// What one reply says about an item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Answer {
    /// P(yes) / (P(yes) + P(no)).
    pub p_met: f64,
    /// P(yes), summed over the alternatives that read "yes".
    pub p_yes: f64,
    /// P(no), likewise.
    pub p_no: f64,
}

/// Judges rubric items by an OpenAI-compatible server's log-probs of "yes" and "no".
pub struct OpenAiLogprobJudge {
    endpoint: ChatEndpoint,
    model: String,
    /// Bounds the requests in flight.
    pool: rayon::ThreadPool,
}

impl OpenAiLogprobJudge {
    /// A judge asking `model` at `base_url` (`http://host:port`, `…/v1` or the full
    /// chat-completions URL), with a bearer `api_key` when given; each item is tried up to
    /// `max_retries + 1` times, from `first_delay` doubling, and at most `concurrency`
    /// requests are in flight.
    pub fn new(
        base_url: &str,
        model: &str,
        api_key: Option<String>,
        max_retries: u32,
        first_delay: Duration,
        concurrency: usize,
    ) -> anyhow::Result<OpenAiLogprobJudge> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(concurrency.max(1))
            .thread_name(|i| format!("judge-request-{i}"))
            .build()
            .context("starting the judge's request threads")?;
        Ok(OpenAiLogprobJudge {
            endpoint: ChatEndpoint::new(base_url, api_key, max_retries, first_delay),
            model: model.to_string(),
            pool,
        })
    }

    /// The chat-completions request for one item: the judge prompt as one user message,
    /// one greedy token, its 20 most likely alternatives.
    pub fn request(&self, conversation: &[Message], response: &str, item: &RubricEntry) -> Value {
        let parts = crate::judge::judge_prompt(conversation, response, item);
        json!({
            "model": self.model,
            "messages": [{"role": "user", "content": format!("{}{}", parts.prefix, parts.suffix)}],
            "max_tokens": 1,
            "temperature": 0,
            "logprobs": true,
            "top_logprobs": TOP_LOGPROBS,
        })
    }

    /// Reads the answer from a chat-completions reply body.
    pub fn read(reply: &Value) -> Result<Answer, Failure> {
        let choice = reply
            .pointer("/choices/0")
            .ok_or_else(|| Failure::passing("the reply has no choices[0] (not a chat completion)"))?;
        let first = choice.pointer("/logprobs/content/0").ok_or_else(|| {
            Failure::lasting(
                "the server's reply has no log-probs (choices[0].logprobs.content is missing or empty): this \
                 server cannot return log-probs; use --judge openai:URL, which reads a JSON answer instead",
            )
        })?;
        let token = first.get("token").and_then(Value::as_str).unwrap_or_default();
        let top = first.get("top_logprobs").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let (mut p_yes, mut p_no) = (0.0f64, 0.0f64);
        for alt in top {
            let (Some(t), Some(lp)) =
                (alt.get("token").and_then(Value::as_str), alt.get("logprob").and_then(Value::as_f64))
            else {
                continue;
            };
            match answer_word(t) {
                Some(true) => p_yes += lp.exp(),
                Some(false) => p_no += lp.exp(),
                None => {}
            }
        }
        if p_yes + p_no > 0.0 {
            return Ok(Answer { p_met: p_yes / (p_yes + p_no), p_yes, p_no });
        }
        match answer_word(token) {
            Some(met) => {
                let p = if met { 1.0 } else { 0.0 };
                Ok(Answer { p_met: p, p_yes: p, p_no: 1.0 - p })
            }
            None => {
                let seen: Vec<&str> = top.iter().filter_map(|a| a.get("token").and_then(Value::as_str)).collect();
                Err(Failure::lasting(format!(
                    "the server's top log-probs had no yes/no answer: the first token was {token:?}, its alternatives {seen:?}"
                )))
            }
        }
    }

    fn grade_one(&self, conversation: &[Message], response: &str, item: &RubricEntry) -> Result<Grade, String> {
        let body = self.request(conversation, response, item);
        let answer = self.endpoint.with_retries(|| Self::read(&self.endpoint.post(&body)?))?;
        Ok(Grade { criteria_met: answer.p_met >= 0.5, p_met: Some(answer.p_met), explanation: None })
    }
}

/// `Some(true)` for a token that reads "yes" once trimmed and case-folded, `Some(false)`
/// for "no", `None` otherwise.
fn answer_word(token: &str) -> Option<bool> {
    match token.trim().to_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

impl Judge for OpenAiLogprobJudge {
    fn name(&self) -> String {
        format!("openai-logprobs:{}", self.model)
    }

    fn grade(&self, conversation: &[Message], response: &str, items: &[RubricEntry]) -> Result<Vec<Grade>, ModelError> {
        self.pool.install(|| {
            items.par_iter().map(|it| self.grade_one(conversation, response, it).map_err(ModelError::Failed)).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(token: &str, top: &[(&str, f64)]) -> Value {
        let top: Vec<Value> = top.iter().map(|(t, lp)| json!({"token": t, "logprob": lp, "bytes": []})).collect();
        json!({"object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": token},
               "logprobs": {"content": [{"token": token, "logprob": -0.1, "bytes": [], "top_logprobs": top}]},
               "finish_reason": "length"}]})
    }

    #[test]
    fn p_met_sums_the_spellings_of_yes_and_no() {
        let a = OpenAiLogprobJudge::read(&reply(
            "Yes",
            &[
                ("Yes", -0.5),
                (" yes", -1.5),
                ("YES\n", -3.0),
                ("No", -1.2),
                ("no", -4.0),
                ("Maybe", -2.0),
                ("yess", -2.0),
            ],
        ))
        .unwrap();
        let (y, n) = ((-0.5f64).exp() + (-1.5f64).exp() + (-3.0f64).exp(), (-1.2f64).exp() + (-4.0f64).exp());
        assert!((a.p_yes - y).abs() < 1e-12 && (a.p_no - n).abs() < 1e-12);
        assert!((a.p_met - y / (y + n)).abs() < 1e-12);
        // One side alone decides.
        let a = OpenAiLogprobJudge::read(&reply("No", &[("No", -0.1), ("The", -3.0)])).unwrap();
        assert_eq!(a.p_met, 0.0);
    }

    #[test]
    fn without_either_answer_in_the_top_the_generated_token_decides_or_it_fails() {
        let a = OpenAiLogprobJudge::read(&reply(" yes", &[])).unwrap();
        assert_eq!(a.p_met, 1.0);
        let a = OpenAiLogprobJudge::read(&reply("NO", &[("Well", -1.0)])).unwrap();
        assert_eq!(a.p_met, 0.0);
        let e = OpenAiLogprobJudge::read(&reply("The", &[("The", -0.1), ("I", -2.0)])).unwrap_err();
        assert!(!e.retry);
        assert!(e.message.contains("top log-probs had no yes/no answer") && e.message.contains("\"The\""), "{e:?}");
    }

    #[test]
    fn a_reply_without_logprobs_says_the_server_cannot_return_them() {
        for body in [
            json!({"choices": [{"message": {"role": "assistant", "content": "yes"}, "finish_reason": "length"}]}),
            json!({"choices": [{"message": {"content": "yes"}, "logprobs": null}]}),
            json!({"choices": [{"message": {"content": ""}, "logprobs": {"content": []}}]}),
        ] {
            let e = OpenAiLogprobJudge::read(&body).unwrap_err();
            assert!(!e.retry, "not retried: {body}");
            assert!(e.message.contains("cannot return log-probs"), "{}", e.message);
        }
        let e = OpenAiLogprobJudge::read(&json!({"error": "overloaded"})).unwrap_err();
        assert!(e.retry && e.message.contains("no choices[0]"), "{e:?}");
    }

    #[test]
    fn requests_carry_the_local_judge_prompt_and_ask_for_one_token_with_its_alternatives() {
        let j = OpenAiLogprobJudge::new("http://h:1", "m", None, 0, Duration::ZERO, 2).unwrap();
        assert_eq!(j.name(), "openai-logprobs:m");
        let convo = [Message { role: "user".into(), content: "My ankle hurts.".into() }];
        let item = RubricEntry::new("Recommends rest.", 5, vec![]);
        let body = j.request(&convo, "Rest it.", &item);
        let parts = crate::judge::judge_prompt(&convo, "Rest it.", &item);
        assert_eq!(
            body,
            json!({"model": "m", "messages": [{"role": "user", "content": format!("{}{}", parts.prefix, parts.suffix)}],
                   "max_tokens": 1, "temperature": 0, "logprobs": true, "top_logprobs": 20})
        );
    }

    /// The request answered by the protocol layer over the real SmolLM2 (what `clinalign
    /// serve` does) gives the local log-prob judge's p_met, up to the spellings of yes and no
    /// outside the top 20 (SmolLM2 spreads them thin: its lower-case "yes" ranks about 20th).
    #[test]
    fn over_the_protocol_layer_p_met_matches_the_local_judge() {
        use crate::openai_api::{ChatCompletionRequest, chat_completion};
        let path = crate::assets::smollm2_gguf().expect("SmolLM2 (fetched on first use)");
        let lm = std::sync::Arc::new(crate::local::LocalModel::open(&path).unwrap());
        let local = crate::judge::LogprobJudge::new(lm.clone()).unwrap();
        let j = OpenAiLogprobJudge::new("http://h:1", "smollm2", None, 0, Duration::ZERO, 1).unwrap();
        let convo = [Message { role: "user".into(), content: "I twisted my ankle. What should I do?".into() }];
        let response = "Rest it, ice it for 20 minutes at a time, and keep it raised.";
        let items = [
            RubricEntry::new("Recommends rest and ice.", 8, vec![]),
            RubricEntry::new("Recommends immediate surgery.", -7, vec![]),
        ];
        let want = local.judge_each(&convo, response, &items).unwrap();
        for (item, v) in items.iter().zip(want) {
            let body = serde_json::to_vec(&j.request(&convo, response, item)).unwrap();
            let reply = chat_completion(&lm, &ChatCompletionRequest::from_json(&body).unwrap()).unwrap();
            let a = OpenAiLogprobJudge::read(&serde_json::to_value(&reply).unwrap()).unwrap();
            assert!(
                (a.p_met - v.p_met as f64).abs() < 0.02,
                "{}: {} over the API, {} locally",
                item.criterion,
                a.p_met,
                v.p_met
            );
        }
    }
}
