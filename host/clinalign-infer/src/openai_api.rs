//! The OpenAI-compatible protocol over a [`LocalModel`]: the request and response bodies of
//! `POST /v1/chat/completions` and `POST /v1/completions` as serde types, and
//! [`chat_completion`] and [`completion`], which answer them.
//!
//! Plain synchronous code: an HTTP server reads a body with
//! [`ChatCompletionRequest::from_json`] (or its own JSON extractor), calls
//! [`chat_completion`] on a blocking thread, and writes the response, or [`ApiError::body`]
//! with [`ApiError::status`]. What is honoured, ignored and rejected is listed in
//! docs/formats.md ("OpenAI-compatible requests").
//!
//! Log-probabilities are those of the raw logits (log-softmax before temperature and top-p,
//! as vLLM's default `raw_logprobs`): at temperature 0 the chosen token is the first of its
//! `top_logprobs`. Each token's text is that token decoded on its own (special tokens
//! spelled out), and `bytes` are that text's UTF-8 bytes.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::chat::Turn;
use crate::generate::{Sampling, generate_with};
use crate::local::LocalModel;
use crate::ops::logsumexp;
use crate::tokenizer::Tokenizer;

/// The most top log-probs one token may carry (`top_logprobs`, legacy `logprobs`): vLLM's
/// default `--max-logprobs`.
pub const MAX_TOP_LOGPROBS: u32 = 20;

/// `max_tokens` of a `/v1/completions` request that gives none (OpenAI's default).
pub const DEFAULT_COMPLETION_TOKENS: u32 = 16;

/// Whose fault a failed request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// The request is malformed, asks for something unsupported or does not fit the model's
    /// context: HTTP 400, OpenAI type `invalid_request_error`.
    InvalidRequest,
    /// The model could not answer a valid request (no tokenizer, a failed forward pass):
    /// HTTP 500, OpenAI type `server_error`.
    Server,
    /// The caller cancelled the request while it ran: HTTP 503.
    Cancelled,
}

/// Why a request got no completion. `message` starts with the field at fault when there is
/// one (`top_logprobs: must be at most 20`), which `param` also names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// Whose fault it is; [`ApiError::status`] is the HTTP status that goes with it.
    pub kind: ApiErrorKind,
    /// The request field at fault, as a path (`top_logprobs`, `messages[2].role`).
    pub param: Option<String>,
    /// What went wrong, for the client.
    pub message: String,
}

impl ApiError {
    /// A request error about `param`: the message is `"{param}: {problem}"`.
    pub fn invalid(param: impl Into<String>, problem: impl std::fmt::Display) -> ApiError {
        let param = param.into();
        ApiError { kind: ApiErrorKind::InvalidRequest, message: format!("{param}: {problem}"), param: Some(param) }
    }

    /// A request error about the request as a whole.
    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError { kind: ApiErrorKind::InvalidRequest, param: None, message: message.into() }
    }

    /// The model failed on a valid request.
    pub fn server(e: impl std::fmt::Display) -> ApiError {
        ApiError { kind: ApiErrorKind::Server, param: None, message: e.to_string() }
    }

    /// Generation stopped because the request was cancelled, after `tokens` tokens.
    pub fn cancelled(tokens: usize) -> ApiError {
        ApiError {
            kind: ApiErrorKind::Cancelled,
            param: None,
            message: format!("the request was cancelled; generation stopped after {tokens} tokens"),
        }
    }

    /// Whether this is [`ApiError::cancelled`].
    pub fn is_cancelled(&self) -> bool {
        self.kind == ApiErrorKind::Cancelled
    }

    /// The HTTP status to answer with: 400 for request errors, 500 for the model's, 503 for a
    /// cancelled request (seldom read: its client is usually gone).
    pub fn status(&self) -> u16 {
        match self.kind {
            ApiErrorKind::InvalidRequest => 400,
            ApiErrorKind::Server => 500,
            ApiErrorKind::Cancelled => 503,
        }
    }

    /// The error body OpenAI sends: `{"error": {"message", "type", "param", "code"}}`.
    pub fn body(&self) -> ErrorResponse {
        let kind = match self.kind {
            ApiErrorKind::InvalidRequest => "invalid_request_error",
            ApiErrorKind::Server | ApiErrorKind::Cancelled => "server_error",
        };
        ErrorResponse {
            error: ErrorDetail {
                message: self.message.clone(),
                kind: kind.into(),
                param: self.param.clone(),
                code: None,
            },
        }
    }
}

/// The body of an error reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

/// What an error reply says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub message: String,
    /// `invalid_request_error` or `server_error`.
    #[serde(rename = "type")]
    pub kind: String,
    pub param: Option<String>,
    pub code: Option<String>,
}

/// `stop`: one string or a list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, expecting = "expected a string or a list of strings")]
pub enum StopStrings {
    One(String),
    Many(Vec<String>),
}

impl StopStrings {
    fn list(&self) -> Vec<String> {
        match self {
            StopStrings::One(s) => vec![s.clone()],
            StopStrings::Many(v) => v.clone(),
        }
    }
}

/// A message's `content`: a string, or a list of parts of which only text parts are read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, expecting = "expected a string or a list of content parts")]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

/// One part of a message's content: `{"type": "text", "text": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

/// One message of a chat request. Other fields (`name`, `tool_calls`, …) are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `developer` (read as `system`), `user` or `assistant`.
    pub role: String,
    /// The text; `null` reads as empty.
    #[serde(default)]
    pub content: Option<MessageContent>,
}

/// The body of `POST /v1/chat/completions`. Fields not listed are ignored; `null` means
/// absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatCompletionRequest {
    /// Echoed in the response; the model's own name when absent.
    pub model: Option<String>,
    pub messages: Vec<ChatMessage>,
    /// The most tokens to generate (`max_completion_tokens` wins when both are given);
    /// absent: as many as the model's context leaves.
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    /// 0 is greedy; absent: 1.
    pub temperature: Option<f32>,
    /// Nucleus sampling, in (0, 1]; absent: 1.
    pub top_p: Option<f32>,
    /// Seeds the sampler; absent: a fresh seed per request.
    pub seed: Option<u64>,
    /// Text that ends the reply; the reply is cut before it.
    pub stop: Option<StopStrings>,
    /// Return each generated token's log-prob.
    pub logprobs: Option<bool>,
    /// How many alternatives per token (0 to [`MAX_TOP_LOGPROBS`]); needs `logprobs`.
    pub top_logprobs: Option<u32>,
    /// Only 1.
    pub n: Option<u32>,
    /// Only `false`.
    pub stream: Option<bool>,
    /// Extra variables for the chat template (e.g. `{"enable_thinking": false}` for Qwen3).
    pub chat_template_kwargs: Option<serde_json::Map<String, Value>>,
    /// `{"type": "text"}` (the default), `{"type": "json_object"}`, or `{"type": "json_schema",
    /// "json_schema": {"name": …, "schema": {…}}}`. The JSON formats decode greedily under the
    /// schema's token mask (llguidance), so the reply always parses and matches the schema's
    /// structure; they take no `logprobs` or `stop`.
    pub response_format: Option<ResponseFormat>,
}

/// `response_format` of a chat completions request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseFormat {
    /// `text`, `json_object` or `json_schema`.
    #[serde(rename = "type")]
    pub kind: String,
    /// With `json_schema`: the schema (its `name` and `strict` are accepted and not needed).
    #[serde(default)]
    pub json_schema: Option<JsonSchemaFormat>,
}

/// `response_format.json_schema`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub schema: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

/// The JSON schema (text) a request's `response_format` asks for; `None` for plain text.
fn json_schema_of(format: Option<&ResponseFormat>) -> Result<Option<String>, ApiError> {
    let Some(f) = format else { return Ok(None) };
    match f.kind.as_str() {
        "text" => Ok(None),
        "json_object" => Ok(Some(r#"{"type": "object"}"#.to_string())),
        "json_schema" => match f.json_schema.as_ref().and_then(|j| j.schema.as_ref()) {
            Some(schema @ Value::Object(_)) => Ok(Some(schema.to_string())),
            Some(_) => Err(ApiError::invalid("response_format.json_schema.schema", "must be a JSON Schema object")),
            None => Err(ApiError::invalid("response_format.json_schema.schema", "is missing")),
        },
        other => Err(ApiError::invalid(
            "response_format.type",
            format!("{other:?} is not one of \"text\", \"json_object\", \"json_schema\""),
        )),
    }
}

/// `prompt` of a completions request: text or token ids, one prompt or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "expected a string, a list of strings, a list of token ids or a list of lists of token ids"
)]
pub enum PromptInput {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

/// The body of `POST /v1/completions` (the legacy text completions). Fields not listed are
/// ignored; `null` means absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompletionRequest {
    /// Echoed in the response; the model's own name when absent.
    pub model: Option<String>,
    /// The text to continue, as is (no chat template); several prompts give one choice each.
    pub prompt: Option<PromptInput>,
    /// Absent: [`DEFAULT_COMPLETION_TOKENS`].
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub seed: Option<u64>,
    pub stop: Option<StopStrings>,
    /// How many top log-probs per token (0 to [`MAX_TOP_LOGPROBS`]); the chosen token's is
    /// always given too. Absent: no log-probs.
    pub logprobs: Option<u32>,
    /// Only `false` (llama.cpp rejects it too).
    pub echo: Option<bool>,
    /// Only 1.
    pub n: Option<u32>,
    /// Only `false`.
    pub stream: Option<bool>,
}

impl ChatCompletionRequest {
    /// Reads a request body; a field of the wrong type is named in the error.
    pub fn from_json(body: &[u8]) -> Result<ChatCompletionRequest, ApiError> {
        parse_body(body)
    }
}

impl CompletionRequest {
    /// Reads a request body; a field of the wrong type is named in the error.
    pub fn from_json(body: &[u8]) -> Result<CompletionRequest, ApiError> {
        parse_body(body)
    }
}

/// Deserialises a request; when that fails, each field is tried on its own so the error can
/// name the one at fault (every field of the request types is optional).
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_request(format!("the request body is not JSON: {e}")))?;
    let Value::Object(fields) = &v else {
        return Err(ApiError::invalid_request("the request body must be a JSON object"));
    };
    serde_json::from_value::<T>(v.clone()).map_err(|whole| {
        for (name, value) in fields {
            let one = Value::Object([(name.clone(), value.clone())].into_iter().collect());
            if let Err(e) = serde_json::from_value::<T>(one) {
                return ApiError::invalid(name.clone(), e);
            }
        }
        ApiError::invalid_request(whole.to_string())
    })
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// An end-of-turn token or a stop string.
    Stop,
    /// `max_tokens` (or the model's context).
    Length,
}

/// Token counts of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    /// Every generated token, the end-of-turn token included.
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

/// One alternative at a position of a chat reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopLogprob {
    pub token: String,
    pub logprob: f32,
    pub bytes: Vec<u8>,
}

/// One generated token of a chat reply with its log-prob and the most likely alternatives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f32,
    pub bytes: Vec<u8>,
    /// The `top_logprobs` most likely tokens at this position, most likely first (ties: the
    /// lower token id first).
    pub top_logprobs: Vec<TopLogprob>,
}

/// `choices[].logprobs` of a chat reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatLogprobs {
    /// One entry per generated token, the end-of-turn token included.
    pub content: Vec<TokenLogprob>,
}

/// The assistant's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// Always `assistant`.
    pub role: String,
    pub content: String,
}

/// One choice of a chat reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatChoice {
    pub index: u32,
    pub message: AssistantMessage,
    /// `null` unless the request set `logprobs`.
    pub logprobs: Option<ChatLogprobs>,
    pub finish_reason: FinishReason,
}

/// The body of a `/v1/chat/completions` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionResponse {
    /// `chatcmpl-…`.
    pub id: String,
    /// Always `chat.completion`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    pub model: String,
    pub choices: Vec<ChatChoice>,
    pub usage: Usage,
}

/// The legacy `top_logprobs` entry of one position: token text → log-prob, most likely
/// first. A JSON object, so two tokens with the same text keep only the more likely.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopLogprobMap(pub Vec<(String, f32)>);

impl Serialize for TopLogprobMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for TopLogprobMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = TopLogprobMap;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of token → log-prob")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<TopLogprobMap, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = a.next_entry::<String, f32>()? {
                    v.push(e);
                }
                Ok(TopLogprobMap(v))
            }
        }
        d.deserialize_map(Entries)
    }
}

/// `choices[].logprobs` of a legacy completion: one entry per generated token in each list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionLogprobs {
    pub tokens: Vec<String>,
    pub token_logprobs: Vec<f32>,
    /// The `logprobs` most likely tokens, then the chosen one when it is not among them.
    pub top_logprobs: Vec<TopLogprobMap>,
    /// Where each token's text starts in `text`, in characters (tokens after a stop string
    /// point at the end of `text`).
    pub text_offset: Vec<u32>,
}

/// One choice of a legacy completion: the continuation of one prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionChoice {
    /// The prompt's position in `prompt`.
    pub index: u32,
    pub text: String,
    /// `null` unless the request set `logprobs`.
    pub logprobs: Option<CompletionLogprobs>,
    pub finish_reason: FinishReason,
}

/// The body of a `/v1/completions` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionResponse {
    /// `cmpl-…`.
    pub id: String,
    /// Always `text_completion`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    pub model: String,
    pub choices: Vec<CompletionChoice>,
    /// Summed over the prompts.
    pub usage: Usage,
}

/// What both endpoints ask of the generator, validated.
struct Decoding {
    temperature: f32,
    top_p: f32,
    seed: u64,
    stop: Vec<String>,
    /// How many alternatives per token; `None`: no log-probs.
    top_k: Option<usize>,
}

/// One generated token as the generator saw it.
struct GeneratedToken {
    id: u32,
    logprob: f32,
    /// The `top_k` most likely tokens and their log-probs, most likely first.
    top: Vec<(u32, f32)>,
    /// The reply's length in characters before this token.
    offset: usize,
}

/// A finished generation.
struct Generation {
    text: String,
    /// How many tokens were generated, the end-of-turn token included.
    generated: usize,
    /// Each generated token's log-probs, when asked for.
    tokens: Vec<GeneratedToken>,
    finish: FinishReason,
}

/// Answers a chat-completions request: the messages in the model's chat template (with
/// `chat_template_kwargs`), then generation until the end of the turn, a stop string or
/// `max_tokens`.
pub fn chat_completion(lm: &LocalModel, req: &ChatCompletionRequest) -> Result<ChatCompletionResponse, ApiError> {
    chat_completion_until(lm, req, &AtomicBool::new(false))
}

/// [`chat_completion`] that stops generating once `cancelled` is set (the client left, or the
/// request ran past its deadline), answering [`ApiError::cancelled`].
pub fn chat_completion_until(
    lm: &LocalModel,
    req: &ChatCompletionRequest,
    cancelled: &AtomicBool,
) -> Result<ChatCompletionResponse, ApiError> {
    only_one_choice(req.n, req.stream)?;
    let (max_field, max_tokens) = match (req.max_completion_tokens, req.max_tokens) {
        (Some(m), _) => ("max_completion_tokens", Some(m)),
        (None, m) => ("max_tokens", m),
    };
    if max_tokens == Some(0) {
        return Err(ApiError::invalid(max_field, "must be at least 1"));
    }
    let want_logprobs = req.logprobs.unwrap_or(false);
    let top = req.top_logprobs.unwrap_or(0);
    if top > MAX_TOP_LOGPROBS {
        return Err(ApiError::invalid("top_logprobs", format!("must be at most {MAX_TOP_LOGPROBS}")));
    }
    if top > 0 && !want_logprobs {
        return Err(ApiError::invalid("top_logprobs", "needs \"logprobs\": true"));
    }
    let decoding = decoding(req.temperature, req.top_p, req.seed, req.stop.as_ref(), want_logprobs.then_some(top))?;
    let json_schema = json_schema_of(req.response_format.as_ref())?;
    if json_schema.is_some() {
        if want_logprobs {
            return Err(ApiError::invalid("logprobs", "is not supported with a JSON response_format"));
        }
        if !decoding.stop.is_empty() {
            return Err(ApiError::invalid("stop", "is not supported with a JSON response_format"));
        }
    }
    let texts = message_texts(&req.messages)?;
    let turns: Vec<Turn<'_>> = texts.iter().map(|(role, content)| Turn { role, content }).collect();
    let vars = req.chat_template_kwargs.clone().unwrap_or_default();
    let prompt = lm.chat_prompt_with(&turns, &vars).map_err(|e| ApiError::invalid("messages", e))?;
    let tok = lm.tokenizer().map_err(ApiError::server)?;
    let ids = tok.encode(&prompt, false).map_err(|e| ApiError::invalid("messages", e))?;
    let budget = token_budget(lm, ids.len(), max_tokens, max_field, "messages")?;
    if let Some(schema) = &json_schema {
        return json_reply(lm, req, &ids, schema, budget, cancelled);
    }
    let g = generate_reply(lm, tok, &ids, budget, &decoding, cancelled)?;
    let logprobs = decoding.top_k.map(|_| ChatLogprobs {
        content: g
            .tokens
            .iter()
            .map(|t| {
                let token = token_text(tok, t.id);
                TokenLogprob {
                    bytes: token.as_bytes().to_vec(),
                    token,
                    logprob: t.logprob,
                    top_logprobs: t
                        .top
                        .iter()
                        .map(|&(id, logprob)| {
                            let token = token_text(tok, id);
                            TopLogprob { bytes: token.as_bytes().to_vec(), token, logprob }
                        })
                        .collect(),
                }
            })
            .collect(),
    });
    Ok(chat_response(lm, req, usage(ids.len(), g.generated), g.text, logprobs, g.finish))
}

/// A chat completion with one choice.
fn chat_response(
    lm: &LocalModel,
    req: &ChatCompletionRequest,
    usage: Usage,
    content: String,
    logprobs: Option<ChatLogprobs>,
    finish_reason: FinishReason,
) -> ChatCompletionResponse {
    ChatCompletionResponse {
        id: response_id("chatcmpl"),
        object: "chat.completion".into(),
        created: unix_now(),
        model: req.model.clone().unwrap_or_else(|| lm.name().to_string()),
        usage,
        choices: vec![ChatChoice {
            index: 0,
            message: AssistantMessage { role: "assistant".into(), content },
            logprobs,
            finish_reason,
        }],
    }
}

/// A chat reply that is a JSON document of `schema`, greedy under its token mask.
fn json_reply(
    lm: &LocalModel,
    req: &ChatCompletionRequest,
    ids: &[u32],
    schema: &str,
    budget: usize,
    cancelled: &AtomicBool,
) -> Result<ChatCompletionResponse, ApiError> {
    let doc = lm.json_after(ids, schema, budget, cancelled).map_err(|e| match e {
        crate::error::Error::Invalid(why) => ApiError::invalid("response_format.json_schema.schema", why),
        other => ApiError::server(other),
    })?;
    if cancelled.load(Ordering::Relaxed) {
        return Err(ApiError::cancelled(doc.generated));
    }
    let finish = if doc.complete { FinishReason::Stop } else { FinishReason::Length };
    Ok(chat_response(lm, req, usage(ids.len(), doc.generated), doc.text, None, finish))
}

/// Answers a legacy completions request: each prompt continued as is (no chat template;
/// the tokenizer's automatic tokens, e.g. BOS, added to text prompts), one choice per prompt.
pub fn completion(lm: &LocalModel, req: &CompletionRequest) -> Result<CompletionResponse, ApiError> {
    completion_until(lm, req, &AtomicBool::new(false))
}

/// [`completion`] that stops generating once `cancelled` is set.
pub fn completion_until(
    lm: &LocalModel,
    req: &CompletionRequest,
    cancelled: &AtomicBool,
) -> Result<CompletionResponse, ApiError> {
    only_one_choice(req.n, req.stream)?;
    if req.echo == Some(true) {
        return Err(ApiError::invalid("echo", "is not supported; send \"echo\": false"));
    }
    let max_tokens = req.max_tokens.unwrap_or(DEFAULT_COMPLETION_TOKENS);
    if max_tokens == 0 {
        return Err(ApiError::invalid("max_tokens", "must be at least 1"));
    }
    if let Some(k) = req.logprobs.filter(|k| *k > MAX_TOP_LOGPROBS) {
        return Err(ApiError::invalid("logprobs", format!("must be at most {MAX_TOP_LOGPROBS}, not {k}")));
    }
    let decoding = decoding(req.temperature, req.top_p, req.seed, req.stop.as_ref(), req.logprobs)?;
    let tok = lm.tokenizer().map_err(ApiError::server)?;
    let prompts = prompt_tokens(tok, req.prompt.as_ref(), lm.model().cfg.vocab_size)?;
    let (mut prompt_total, mut completion_total) = (0, 0);
    let mut choices = Vec::with_capacity(prompts.len());
    for (i, (field, ids)) in prompts.iter().enumerate() {
        let budget = token_budget(lm, ids.len(), Some(max_tokens), "max_tokens", field)?;
        let g = generate_reply(lm, tok, ids, budget, &decoding, cancelled)?;
        prompt_total += ids.len();
        completion_total += g.generated;
        let text_chars = g.text.chars().count();
        let logprobs = decoding.top_k.map(|_| CompletionLogprobs {
            tokens: g.tokens.iter().map(|t| token_text(tok, t.id)).collect(),
            token_logprobs: g.tokens.iter().map(|t| t.logprob).collect(),
            top_logprobs: g
                .tokens
                .iter()
                .map(|t| {
                    let mut m: Vec<(String, f32)> = Vec::with_capacity(t.top.len() + 1);
                    let chosen = (!t.top.iter().any(|(id, _)| *id == t.id)).then_some((t.id, t.logprob));
                    for (id, lp) in t.top.iter().copied().chain(chosen) {
                        let text = token_text(tok, id);
                        if !m.iter().any(|(k, _)| *k == text) {
                            m.push((text, lp));
                        }
                    }
                    TopLogprobMap(m)
                })
                .collect(),
            text_offset: g.tokens.iter().map(|t| t.offset.min(text_chars) as u32).collect(),
        });
        choices.push(CompletionChoice { index: i as u32, text: g.text, logprobs, finish_reason: g.finish });
    }
    Ok(CompletionResponse {
        id: response_id("cmpl"),
        object: "text_completion".into(),
        created: unix_now(),
        model: req.model.clone().unwrap_or_else(|| lm.name().to_string()),
        usage: usage(prompt_total, completion_total),
        choices,
    })
}

fn only_one_choice(n: Option<u32>, stream: Option<bool>) -> Result<(), ApiError> {
    if let Some(n) = n.filter(|n| *n != 1) {
        return Err(ApiError::invalid("n", format!("only 1 choice per request is supported, not {n}")));
    }
    if stream == Some(true) {
        return Err(ApiError::invalid("stream", "streaming is not supported; send \"stream\": false"));
    }
    Ok(())
}

/// The sampler's settings and the stop strings, checked.
fn decoding(
    temperature: Option<f32>,
    top_p: Option<f32>,
    seed: Option<u64>,
    stop: Option<&StopStrings>,
    top_k: Option<u32>,
) -> Result<Decoding, ApiError> {
    let temperature = temperature.unwrap_or(1.0);
    if !(temperature.is_finite() && temperature >= 0.0) {
        return Err(ApiError::invalid("temperature", "must be a number of at least 0"));
    }
    let top_p = top_p.unwrap_or(1.0);
    if !(top_p > 0.0 && top_p <= 1.0) {
        return Err(ApiError::invalid("top_p", "must be more than 0 and at most 1"));
    }
    let stop = stop.map(StopStrings::list).unwrap_or_default();
    if stop.iter().any(String::is_empty) {
        return Err(ApiError::invalid("stop", "must not hold an empty string"));
    }
    Ok(Decoding { temperature, top_p, seed: seed.unwrap_or_else(fresh_seed), stop, top_k: top_k.map(|k| k as usize) })
}

/// Each message's role (for the template) and text, checked.
fn message_texts(messages: &[ChatMessage]) -> Result<Vec<(String, String)>, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid("messages", "must hold at least one message"));
    }
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let role = match m.role.as_str() {
                "developer" => "system",
                r @ ("system" | "user" | "assistant") => r,
                other => {
                    return Err(ApiError::invalid(
                        format!("messages[{i}].role"),
                        format!("{other:?} is not one of system, developer, user, assistant"),
                    ));
                }
            };
            let text = match &m.content {
                None => String::new(),
                Some(MessageContent::Text(t)) => t.clone(),
                Some(MessageContent::Parts(parts)) => {
                    let mut text = String::new();
                    for (j, p) in parts.iter().enumerate() {
                        match (p.kind.as_str(), &p.text) {
                            ("text", Some(t)) => text.push_str(t),
                            ("text", None) => {
                                return Err(ApiError::invalid(
                                    format!("messages[{i}].content[{j}].text"),
                                    "is missing",
                                ));
                            }
                            (other, _) => {
                                return Err(ApiError::invalid(
                                    format!("messages[{i}].content[{j}].type"),
                                    format!("only \"text\" parts are supported, not {other:?}"),
                                ));
                            }
                        }
                    }
                    text
                }
            };
            Ok((role.to_string(), text))
        })
        .collect()
}

/// Each prompt's token ids, with the field path that names it in errors.
fn prompt_tokens(
    tok: &Tokenizer,
    prompt: Option<&PromptInput>,
    vocab: usize,
) -> Result<Vec<(String, Vec<u32>)>, ApiError> {
    let encode = |field: String, text: &str| -> Result<(String, Vec<u32>), ApiError> {
        let ids = tok.encode(text, true).map_err(|e| ApiError::invalid(field.clone(), e))?;
        Ok((field, ids))
    };
    let in_vocab = |field: String, ids: &[u32]| -> Result<(String, Vec<u32>), ApiError> {
        if let Some(bad) = ids.iter().find(|t| **t as usize >= vocab) {
            return Err(ApiError::invalid(field, format!("token id {bad} is outside the vocabulary of {vocab}")));
        }
        Ok((field, ids.to_vec()))
    };
    let many = |n: usize| n > 1;
    let field = |i: usize, several: bool| if several { format!("prompt[{i}]") } else { "prompt".to_string() };
    let prompts = match prompt {
        None => return Err(ApiError::invalid("prompt", "is required")),
        Some(PromptInput::Text(t)) => vec![encode("prompt".into(), t)?],
        Some(PromptInput::Texts(ts)) => {
            ts.iter().enumerate().map(|(i, t)| encode(field(i, many(ts.len())), t)).collect::<Result<_, _>>()?
        }
        Some(PromptInput::Tokens(ids)) => vec![in_vocab("prompt".into(), ids)?],
        Some(PromptInput::TokenLists(ls)) => {
            ls.iter().enumerate().map(|(i, l)| in_vocab(field(i, many(ls.len())), l)).collect::<Result<_, _>>()?
        }
    };
    if prompts.is_empty() {
        return Err(ApiError::invalid("prompt", "must hold at least one prompt"));
    }
    if let Some((field, _)) = prompts.iter().find(|(_, ids)| ids.is_empty()) {
        return Err(ApiError::invalid(field.clone(), "must not be empty (it has no tokens)"));
    }
    Ok(prompts)
}

/// How many tokens to generate after a prompt of `prompt_len` tokens: what was asked, or
/// what the model's context leaves, and an error when the two do not fit together.
fn token_budget(
    lm: &LocalModel,
    prompt_len: usize,
    asked: Option<u32>,
    asked_field: &str,
    prompt_field: &str,
) -> Result<usize, ApiError> {
    let context = lm.model().max_positions();
    if prompt_len >= context {
        return Err(ApiError::invalid(
            prompt_field,
            format!("the prompt is {prompt_len} tokens, and the model's context holds {context} with the reply"),
        ));
    }
    match asked {
        None => Ok(context - prompt_len),
        Some(m) if prompt_len + m as usize > context => Err(ApiError::invalid(
            asked_field,
            format!(
                "{m} tokens after a prompt of {prompt_len} exceed the model's context of {context}; ask for at most {}",
                context - prompt_len
            ),
        )),
        Some(m) => Ok(m as usize),
    }
}

/// Generates after `prompt` until an end-of-turn token, a stop string or `max_tokens`,
/// reading each token's log-probs from the logits it was picked from.
fn generate_reply(
    lm: &LocalModel,
    tok: &Tokenizer,
    prompt: &[u32],
    max_tokens: usize,
    d: &Decoding,
    cancelled: &AtomicBool,
) -> Result<Generation, ApiError> {
    let end_of_turn = lm.stop_tokens().map_err(ApiError::server)?;
    let sampling =
        Sampling { temperature: d.temperature, top_p: d.top_p, seed: d.seed, max_tokens, stop: end_of_turn.clone() };
    let reply_text = |ids: &[u32]| {
        let body: Vec<u32> = ids.iter().copied().filter(|t| !end_of_turn.contains(t)).collect();
        tok.decode(&body, true)
    };
    // The text is decoded after every token only when stop strings or offsets need it.
    let follow_text = !d.stop.is_empty() || d.top_k.is_some();
    let (mut ids, mut tokens, mut text) = (Vec::new(), Vec::new(), String::new());
    let mut stopped_at: Option<usize> = None;
    let out = generate_with(lm.model(), prompt, &sampling, |id, logits| {
        if cancelled.load(Ordering::Relaxed) {
            return Ok(ControlFlow::Break(()));
        }
        ids.push(id);
        if let Some(k) = d.top_k {
            let (logprob, top) = token_logprobs(logits, id, k);
            tokens.push(GeneratedToken { id, logprob, top, offset: text.chars().count() });
        }
        if !follow_text {
            return Ok(ControlFlow::Continue(()));
        }
        text = reply_text(&ids)?;
        // A trailing U+FFFD may be half a character that the next token completes: only the
        // text before it is final.
        let settled = text.trim_end_matches('\u{FFFD}');
        stopped_at = first_stop(settled, &d.stop);
        Ok(if stopped_at.is_some() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
    })
    .map_err(ApiError::server)?;
    if cancelled.load(Ordering::Relaxed) {
        return Err(ApiError::cancelled(out.len()));
    }
    let mut text = reply_text(&out).map_err(ApiError::server)?;
    let stopped_at = stopped_at.or_else(|| first_stop(&text, &d.stop));
    let finish = if let Some(at) = stopped_at {
        text.truncate(at);
        FinishReason::Stop
    } else if out.last().is_some_and(|t| end_of_turn.contains(t)) || out.len() < max_tokens {
        FinishReason::Stop
    } else {
        FinishReason::Length
    };
    Ok(Generation { text, generated: out.len(), tokens, finish })
}

/// Where the first of the stop strings starts in `text`.
fn first_stop(text: &str, stop: &[String]) -> Option<usize> {
    stop.iter().filter_map(|s| text.find(s.as_str())).min()
}

/// The chosen token's log-prob and the `k` most likely tokens with theirs (most likely
/// first, ties by lower id), from the raw logits: log-softmax, no temperature.
fn token_logprobs(logits: &[f32], chosen: u32, k: usize) -> (f32, Vec<(u32, f32)>) {
    let lse = logsumexp(logits);
    let mut top: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
    if k > 0 {
        for (id, &l) in logits.iter().enumerate() {
            if l.is_nan() || (top.len() == k && l <= top[k - 1].1) {
                continue;
            }
            let at = top.partition_point(|&(_, t)| t >= l);
            top.insert(at, (id as u32, l));
            top.truncate(k);
        }
    }
    (logits[chosen as usize] - lse, top.into_iter().map(|(id, l)| (id, l - lse)).collect())
}

/// A token's own text, special tokens spelled out.
fn token_text(tok: &Tokenizer, id: u32) -> String {
    tok.decode(&[id], false).unwrap_or_default()
}

fn usage(prompt: usize, completion: usize) -> Usage {
    Usage {
        prompt_tokens: prompt as u32,
        completion_tokens: completion as u32,
        total_tokens: (prompt + completion) as u32,
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A seed for requests that give none: different for every request.
fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish()
}

/// `prefix-…`, unique within the process and unlikely to repeat across runs.
fn response_id(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0) as u64;
    format!("{prefix}-{nanos:016x}{n:04x}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{KvCache, LogitsFor, Step};

    /// ChatML with Qwen3's switch for an empty thinking block.
    const TEMPLATE: &str = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% if enable_thinking is defined and not enable_thinking %}<think></think>\n{% endif %}{% endif %}";

    /// The tiny random Qwen3 fixture (320 tokens, 128 positions) with a byte-level tokenizer
    /// made for it: printable ASCII and the line break one character a token, two-letter
    /// fillers, and ChatML's special tokens, so every token decodes to ASCII text.
    /// `eos` is the end-of-sequence token's spelling (default `<|endoftext|>`).
    fn tiny_chat_model(eos: Option<&str>) -> LocalModel {
        use tokenizers::decoders::byte_level::ByteLevel;
        use tokenizers::models::bpe::BPE;
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models/tiny-qwen3");
        let dir = tempfile::tempdir().unwrap();
        for f in ["config.json", "model.safetensors"] {
            std::fs::copy(fixture.join(f), dir.path().join(f)).unwrap();
        }
        // GPT-2's byte-to-character map: printable ASCII stays, space is 'Ġ', '\n' is 'Ċ'.
        let mut tokens: Vec<String> = (0x21u8..=0x7e).map(|b| (b as char).to_string()).collect();
        tokens.extend(["Ġ".to_string(), "Ċ".to_string()]);
        let letters: Vec<char> = ('a'..='z').collect();
        let fillers = letters.iter().flat_map(|a| letters.iter().map(move |b| format!("{a}{b}")));
        let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
        tokens.extend(fillers.take(320 - tokens.len() - specials.len()));
        tokens.extend(specials.map(String::from));
        assert_eq!(tokens.len(), 320);
        let vocab: tokenizers::models::bpe::Vocab =
            tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let bpe = BPE::builder().vocab_and_merges(vocab, vec![]).build().unwrap();
        let mut t = tokenizers::Tokenizer::new(bpe);
        t.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
        t.with_decoder(Some(ByteLevel::default()));
        t.add_special_tokens(&specials.map(|s| tokenizers::AddedToken::from(s, true)));
        t.save(dir.path().join("tokenizer.json"), false).unwrap();
        let cfg = json!({"eos_token": eos.unwrap_or("<|endoftext|>"), "chat_template": TEMPLATE});
        std::fs::write(dir.path().join("tokenizer_config.json"), cfg.to_string()).unwrap();
        // Everything is read into memory: the folder can go.
        LocalModel::open(dir.path()).unwrap()
    }

    /// The id of a token of the fixture's vocabulary from its text.
    fn id_of(tok: &Tokenizer, text: &str) -> u32 {
        tok.token_to_id(&text.replace(' ', "Ġ").replace('\n', "Ċ")).unwrap()
    }

    fn chat(v: Value) -> ChatCompletionRequest {
        ChatCompletionRequest::from_json(v.to_string().as_bytes()).unwrap()
    }

    fn hi() -> Value {
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}])
    }

    /// The log-softmax of the raw logits at every generated position, from one forward pass
    /// over the prompt and the reply.
    fn reference_logprobs(lm: &LocalModel, prompt: &[u32], reply: &[u32]) -> Vec<Vec<f32>> {
        let mut all = prompt.to_vec();
        all.extend(&reply[..reply.len() - 1]);
        let mut cache = KvCache::new(&lm.model().cfg);
        let logits =
            lm.model().forward(&mut [Step { tokens: &all, cache: &mut cache, prefix: None }], LogitsFor::All).unwrap();
        (0..reply.len())
            .map(|i| {
                let row = logits.step(0).row(prompt.len() - 1 + i);
                let lse = logsumexp(row);
                row.iter().map(|l| l - lse).collect()
            })
            .collect()
    }

    fn chat_prompt_ids(lm: &LocalModel, messages: &Value) -> Vec<u32> {
        let texts = message_texts(&serde_json::from_value::<Vec<ChatMessage>>(messages.clone()).unwrap()).unwrap();
        let turns: Vec<Turn<'_>> = texts.iter().map(|(role, content)| Turn { role, content }).collect();
        lm.tokenizer().unwrap().encode(&lm.chat_prompt(&turns).unwrap(), false).unwrap()
    }

    #[test]
    fn greedy_chat_equals_local_complete() {
        let lm = tiny_chat_model(None);
        let r = chat_completion(&lm, &chat(json!({"messages": hi(), "temperature": 0, "max_tokens": 24}))).unwrap();
        let prompt = lm
            .chat_prompt(&[Turn { role: "system", content: "Be brief." }, Turn { role: "user", content: "Hi there" }])
            .unwrap();
        let want = lm.complete(&prompt, &Sampling { max_tokens: 24, ..Default::default() }).unwrap();
        assert!(!want.is_empty());
        assert_eq!(r.choices[0].message.content, want);
        assert_eq!(r.usage.prompt_tokens as usize, chat_prompt_ids(&lm, &hi()).len());
        assert_eq!(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
        assert!(r.choices[0].logprobs.is_none(), "no log-probs unless asked");
        // max_completion_tokens wins over max_tokens.
        let r = chat_completion(
            &lm,
            &chat(json!({"messages": hi(), "temperature": 0, "max_tokens": 24, "max_completion_tokens": 3})),
        )
        .unwrap();
        assert_eq!(r.usage.completion_tokens, 3);
    }

    #[test]
    fn logprobs_are_the_log_softmax_of_the_raw_logits() {
        let lm = tiny_chat_model(None);
        let prompt = chat_prompt_ids(&lm, &hi());
        for (temperature, seed) in [(0.0, 0), (1.5, 7)] {
            let req = json!({"messages": hi(), "temperature": temperature, "seed": seed, "max_tokens": 12,
                             "logprobs": true, "top_logprobs": 5});
            let r = chat_completion(&lm, &chat(req)).unwrap();
            let content = &r.choices[0].logprobs.as_ref().unwrap().content;
            assert_eq!(content.len(), r.usage.completion_tokens as usize);
            let tok = lm.tokenizer().unwrap();
            let reply: Vec<u32> = content.iter().map(|c| id_of(tok, &c.token)).collect();
            assert_eq!(tok.decode(&reply, true).unwrap(), r.choices[0].message.content);
            for (c, full) in content.iter().zip(reference_logprobs(&lm, &prompt, &reply)) {
                assert!(logsumexp(&full).abs() < 1e-4, "the full distribution sums to 1");
                let id = id_of(tok, &c.token) as usize;
                assert!(c.logprob <= 0.0);
                assert!((c.logprob - full[id]).abs() < 1e-4, "{} vs {} (untempered)", c.logprob, full[id]);
                assert_eq!(c.bytes, c.token.as_bytes());
                assert_eq!(c.top_logprobs.len(), 5);
                let mut sorted = full.clone();
                sorted.sort_by(|a, b| b.total_cmp(a));
                for (t, want) in c.top_logprobs.iter().zip(&sorted) {
                    assert!(t.logprob <= 0.0 && (t.logprob - want).abs() < 1e-4);
                    assert_eq!(t.bytes, t.token.as_bytes());
                }
                assert!(c.top_logprobs.windows(2).all(|w| w[0].logprob >= w[1].logprob), "most likely first");
                if temperature == 0.0 {
                    assert_eq!(c.top_logprobs[0].token, c.token, "greedy picks the most likely token");
                    assert_eq!(c.top_logprobs[0].logprob, c.logprob);
                    assert!(c.top_logprobs.iter().all(|t| t.logprob <= c.logprob));
                }
            }
        }
        // Sampling is seeded.
        let sampled = |seed: u64| {
            let req = json!({"messages": hi(), "temperature": 1.5, "seed": seed, "max_tokens": 16});
            chat_completion(&lm, &chat(req)).unwrap().choices[0].message.content.clone()
        };
        assert_eq!(sampled(3), sampled(3));
        assert_ne!(sampled(3), sampled(4));
        // logprobs without top_logprobs: the chosen token's only.
        let r = chat_completion(&lm, &chat(json!({"messages": hi(), "max_tokens": 2, "logprobs": true}))).unwrap();
        assert!(r.choices[0].logprobs.as_ref().unwrap().content.iter().all(|c| c.top_logprobs.is_empty()));
    }

    #[test]
    fn max_tokens_ends_with_length_and_the_end_of_sequence_token_with_stop() {
        let lm = tiny_chat_model(None);
        let r = chat_completion(&lm, &chat(json!({"messages": hi(), "temperature": 0, "max_tokens": 7}))).unwrap();
        assert_eq!(r.usage.completion_tokens, 7);
        assert_eq!(r.choices[0].finish_reason, FinishReason::Length);
        // Without max_tokens the reply may fill the context.
        let r = chat_completion(&lm, &chat(json!({"messages": hi(), "temperature": 0, "logprobs": true}))).unwrap();
        let context = lm.model().max_positions() as u32;
        assert_eq!(r.usage.total_tokens, context);
        assert_eq!(r.choices[0].finish_reason, FinishReason::Length);
        // The same model with its fifth greedy token as end-of-sequence stops at its first use.
        let tokens: Vec<String> =
            r.choices[0].logprobs.as_ref().unwrap().content.iter().map(|c| c.token.clone()).collect();
        let eos = &tokens[4];
        let first = tokens.iter().position(|t| t == eos).unwrap();
        let spelled = if eos == " " { "Ġ" } else { eos.as_str() };
        let lm = tiny_chat_model(Some(spelled));
        let r = chat_completion(&lm, &chat(json!({"messages": hi(), "temperature": 0, "max_tokens": 30}))).unwrap();
        assert_eq!(r.usage.completion_tokens as usize, first + 1, "the end token counts");
        assert_eq!(r.choices[0].finish_reason, FinishReason::Stop);
        assert_eq!(r.choices[0].message.content, tokens[..first].concat());
    }

    #[test]
    fn end_of_turn_tokens_stop_even_when_another_token_is_the_end_of_sequence() {
        let lm = tiny_chat_model(None);
        let tok = lm.tokenizer().unwrap();
        let ids = |names: &[&str]| names.iter().map(|n| tok.token_to_id(n).unwrap()).collect::<Vec<_>>();
        assert_eq!(lm.stop_tokens().unwrap(), ids(&["<|endoftext|>", "<|im_end|>"]));
        let lm = tiny_chat_model(Some("<|im_end|>"));
        assert_eq!(lm.stop_tokens().unwrap(), ids(&["<|im_end|>"]));
    }

    #[test]
    fn stop_strings_cut_the_text() {
        let lm = tiny_chat_model(None);
        let base = json!({"messages": hi(), "temperature": 0, "max_tokens": 40, "logprobs": true});
        let full = chat_completion(&lm, &chat(base.clone())).unwrap().choices[0].message.content.clone();
        assert!(full.is_ascii() && full.len() > 20, "{full:?}");
        let stop = &full[12..15];
        let at = full.find(stop).unwrap();
        for stops in [json!(stop), json!(["never there", stop])] {
            let mut req = base.clone();
            req["stop"] = stops;
            let r = chat_completion(&lm, &chat(req)).unwrap();
            let c = &r.choices[0];
            assert_eq!(c.message.content, full[..at]);
            assert_eq!(c.finish_reason, FinishReason::Stop);
            // Generation ended with the token that completed the stop string.
            let content = &c.logprobs.as_ref().unwrap().content;
            assert_eq!(content.len(), r.usage.completion_tokens as usize);
            let generated: String = content.iter().map(|t| t.token.as_str()).collect();
            let before_last = generated.len() - content.last().unwrap().token.len();
            assert!(generated.contains(stop) && !generated[..before_last].contains(stop), "{generated:?}");
        }
        // A stop string the reply never writes changes nothing.
        let mut req = base.clone();
        req["stop"] = json!(["\u{1F600}"]);
        assert_eq!(chat_completion(&lm, &chat(req)).unwrap().choices[0].message.content, full);
    }

    #[test]
    fn a_cancelled_request_stops_generating() {
        let lm = tiny_chat_model(None);
        let cancelled = AtomicBool::new(true);
        let req = chat(json!({"messages": hi(), "max_tokens": 50}));
        let e = chat_completion_until(&lm, &req, &cancelled).unwrap_err();
        assert!(e.is_cancelled(), "{e:?}");
        assert_eq!(e.status(), 503);
        assert!(e.body().error.message.contains("after 1 tokens"), "{:?}", e.body());
        let e = completion_until(
            &lm,
            &CompletionRequest::from_json(br#"{"prompt": "Hi", "max_tokens": 50}"#).unwrap(),
            &cancelled,
        )
        .unwrap_err();
        assert!(e.is_cancelled(), "{e:?}");
    }

    #[test]
    fn chat_template_kwargs_reach_the_template() {
        let lm = tiny_chat_model(None);
        let plain = chat_completion(&lm, &chat(json!({"messages": hi(), "max_tokens": 1}))).unwrap();
        let no_think = chat_completion(
            &lm,
            &chat(json!({"messages": hi(), "max_tokens": 1, "chat_template_kwargs": {"enable_thinking": false}})),
        )
        .unwrap();
        assert_eq!(no_think.usage.prompt_tokens, plain.usage.prompt_tokens + "<think></think>\n".len() as u32);
    }

    #[test]
    fn text_completions_continue_prompts_as_they_are() {
        let lm = tiny_chat_model(None);
        let tok = lm.tokenizer().unwrap();
        let req = |v: Value| CompletionRequest::from_json(v.to_string().as_bytes()).unwrap();
        let r = completion(&lm, &req(json!({"prompt": "Once upon a time", "temperature": 0, "logprobs": 3}))).unwrap();
        assert_eq!(r.object, "text_completion");
        let c = &r.choices[0];
        assert_eq!(r.usage.completion_tokens, DEFAULT_COMPLETION_TOKENS);
        assert_eq!(c.finish_reason, FinishReason::Length);
        let want = lm.complete("Once upon a time", &Sampling { max_tokens: 16, ..Default::default() }).unwrap();
        assert_eq!(c.text, want);
        let lp = c.logprobs.as_ref().unwrap();
        assert_eq!(lp.tokens.len(), 16);
        assert_eq!(lp.tokens.concat(), c.text, "ASCII tokens add up to the text");
        let mut at = 0;
        for (i, t) in lp.tokens.iter().enumerate() {
            assert_eq!(lp.text_offset[i], at, "token {i} starts where the text before it ends");
            at += t.chars().count() as u32;
            let top = &lp.top_logprobs[i].0;
            assert!((3..=4).contains(&top.len()));
            assert_eq!(top[0], (t.clone(), lp.token_logprobs[i]), "greedy: the chosen token is the most likely");
            assert!(top.windows(2).all(|w| w[0].1 >= w[1].1));
        }
        // Several prompts, as text or token ids: one choice each, usage summed.
        let ids = tok.encode("Once upon a time", true).unwrap();
        for prompt in [json!(["Hello", "Once upon a time"]), json!([tok.encode("Hello", true).unwrap(), ids])] {
            let r = completion(&lm, &req(json!({"prompt": prompt, "temperature": 0, "max_tokens": 16}))).unwrap();
            assert_eq!(r.choices.iter().map(|c| c.index).collect::<Vec<_>>(), [0, 1]);
            assert_eq!(r.choices[1].text, want);
            assert_eq!(r.usage.prompt_tokens as usize, 5 + ids.len());
            assert_eq!(r.usage.completion_tokens, 32);
        }
        // Stop strings cut completions too.
        let stop = &want[3..5];
        let r = completion(&lm, &req(json!({"prompt": "Once upon a time", "temperature": 0, "stop": stop}))).unwrap();
        assert_eq!(r.choices[0].text, want[..want.find(stop).unwrap()]);
        assert_eq!(r.choices[0].finish_reason, FinishReason::Stop);
    }

    #[test]
    fn responses_have_openai_shapes() {
        let lm = tiny_chat_model(None);
        let r = chat_completion(
            &lm,
            &chat(json!({"model": "served-name", "messages": hi(), "temperature": 0, "max_tokens": 2,
                         "logprobs": true, "top_logprobs": 2})),
        )
        .unwrap();
        let v = serde_json::to_value(&r).unwrap();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&v), ["id", "object", "created", "model", "choices", "usage"]);
        assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert_eq!((v["object"].as_str(), v["model"].as_str()), (Some("chat.completion"), Some("served-name")));
        assert_eq!(keys(&v["choices"][0]), ["index", "message", "logprobs", "finish_reason"]);
        assert_eq!(v["choices"][0]["message"]["role"], "assistant");
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        let entry = &v["choices"][0]["logprobs"]["content"][0];
        assert_eq!(keys(entry), ["token", "logprob", "bytes", "top_logprobs"]);
        assert_eq!(keys(&entry["top_logprobs"][0]), ["token", "logprob", "bytes"]);
        assert!(entry["bytes"].as_array().unwrap().iter().all(Value::is_u64));
        assert_eq!(keys(&v["usage"]), ["prompt_tokens", "completion_tokens", "total_tokens"]);
        assert_eq!(serde_json::from_value::<ChatCompletionResponse>(v).unwrap(), r, "round trip");
        let r = chat_completion(&lm, &chat(json!({"messages": hi(), "max_tokens": 1}))).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert!(v["choices"][0]["logprobs"].is_null());
        assert_eq!(v["model"], lm.name());

        let r = completion(
            &lm,
            &CompletionRequest::from_json(br#"{"prompt": "a", "max_tokens": 1, "logprobs": 1}"#).unwrap(),
        )
        .unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert!(v["id"].as_str().unwrap().starts_with("cmpl-"));
        assert_eq!(keys(&v["choices"][0]), ["index", "text", "logprobs", "finish_reason"]);
        assert_eq!(keys(&v["choices"][0]["logprobs"]), ["tokens", "token_logprobs", "top_logprobs", "text_offset"]);
        assert!(v["choices"][0]["logprobs"]["top_logprobs"][0].is_object());
        assert_eq!(serde_json::from_value::<CompletionResponse>(v).unwrap(), r, "round trip");
    }

    #[test]
    fn a_json_schema_response_format_constrains_the_reply_to_the_schema() {
        let lm = tiny_chat_model(None);
        let schema = json!({"type": "object", "properties": {"urgent": {"enum": ["yes", "no"]}, "why": {"enum": ["chest pain", "a cold"]}},
                            "required": ["urgent", "why"], "additionalProperties": false});
        let body = json!({"messages": hi(), "max_tokens": 60, "temperature": 1.5,
                          "response_format": {"type": "json_schema", "json_schema": {"name": "triage", "schema": schema, "strict": true}}});
        let r = chat_completion(&lm, &chat(body)).unwrap();
        let reply: Value = serde_json::from_str(&r.choices[0].message.content).unwrap();
        assert!(["yes", "no"].contains(&reply["urgent"].as_str().unwrap()), "{reply}");
        assert!(["chest pain", "a cold"].contains(&reply["why"].as_str().unwrap()), "{reply}");
        assert_eq!(reply.as_object().unwrap().len(), 2);
        assert_eq!(r.choices[0].finish_reason, FinishReason::Stop);
        assert_eq!(r.usage.prompt_tokens as usize, chat_prompt_ids(&lm, &hi()).len());
        // Too small a budget ends the document early, as OpenAI does: `length`, not an error.
        let body = json!({"messages": hi(), "max_tokens": 2, "response_format": {"type": "json_schema", "json_schema": {"schema": schema}}});
        let r = chat_completion(&lm, &chat(body)).unwrap();
        assert_eq!((r.choices[0].finish_reason, r.usage.completion_tokens), (FinishReason::Length, 2));
        // "text" is the plain reply.
        let plain = json!({"messages": hi(), "temperature": 0, "max_tokens": 8});
        let mut text = plain.clone();
        text["response_format"] = json!({"type": "text"});
        assert_eq!(
            chat_completion(&lm, &chat(text)).unwrap().choices[0].message.content,
            chat_completion(&lm, &chat(plain)).unwrap().choices[0].message.content
        );
    }

    #[test]
    fn invalid_requests_are_named_by_field() {
        let lm = tiny_chat_model(None);
        let msgs = hi();
        let chat_err = |body: Value| {
            let e = ChatCompletionRequest::from_json(body.to_string().as_bytes())
                .and_then(|r| chat_completion(&lm, &r))
                .unwrap_err();
            assert_eq!(e.status(), 400, "{e}");
            e.message
        };
        let cases = [
            (json!({"messages": msgs, "logprobs": true, "top_logprobs": 21}), "top_logprobs: must be at most 20"),
            (json!({"messages": msgs, "top_logprobs": 3}), "top_logprobs: needs \"logprobs\": true"),
            (json!({"messages": msgs, "n": 2}), "n: only 1 choice"),
            (json!({"messages": msgs, "stream": true}), "stream: streaming is not supported"),
            (json!({"messages": []}), "messages: must hold at least one message"),
            (json!({}), "messages: must hold at least one message"),
            (json!({"messages": [{"role": "tool", "content": "x"}]}), "messages[0].role: \"tool\" is not one of"),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}),
                "messages[0].content[0].type: only \"text\" parts",
            ),
            (json!({"messages": msgs, "temperature": -1}), "temperature: must be a number of at least 0"),
            (json!({"messages": msgs, "top_p": 0}), "top_p: must be more than 0"),
            (json!({"messages": msgs, "max_tokens": 0}), "max_tokens: must be at least 1"),
            (json!({"messages": msgs, "max_completion_tokens": 0}), "max_completion_tokens: must be at least 1"),
            (json!({"messages": msgs, "max_tokens": 1000}), "max_tokens: 1000 tokens after a prompt of"),
            (json!({"messages": [{"role": "user", "content": "x".repeat(200)}]}), "messages: the prompt is"),
            (json!({"messages": msgs, "stop": ["ok", ""]}), "stop: must not hold an empty string"),
            (json!({"messages": msgs, "max_tokens": "ten"}), "max_tokens: invalid type: string \"ten\""),
            (json!({"messages": msgs, "stop": 5}), "stop: expected a string or a list of strings"),
            (json!({"messages": msgs, "logprobs": 1}), "logprobs: invalid type"),
            (json!({"messages": "hi"}), "messages: invalid type"),
            (json!([1]), "the request body must be a JSON object"),
            (
                json!({"messages": msgs, "response_format": {"type": "xml"}}),
                "response_format.type: \"xml\" is not one of",
            ),
            (
                json!({"messages": msgs, "response_format": {"type": "json_schema", "json_schema": {"name": "a"}}}),
                "response_format.json_schema.schema: is missing",
            ),
            (
                json!({"messages": msgs, "response_format": {"type": "json_object"}, "logprobs": true}),
                "logprobs: is not supported with a JSON response_format",
            ),
            (
                json!({"messages": msgs, "response_format": {"type": "json_object"}, "stop": "x"}),
                "stop: is not supported with a JSON response_format",
            ),
            (
                json!({"messages": msgs, "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "nonsense"}}}}),
                "response_format.json_schema.schema: the JSON schema cannot be used",
            ),
        ];
        for (body, want) in cases {
            let got = chat_err(body.clone());
            assert!(got.starts_with(want), "{body}: {got:?} does not start with {want:?}");
        }
        let e = ChatCompletionRequest::from_json(b"{not json").unwrap_err();
        assert!(e.message.starts_with("the request body is not JSON") && e.param.is_none(), "{e}");
        let e = chat_err(json!({"messages": msgs, "logprobs": true, "top_logprobs": 21}));
        assert_eq!(e, "top_logprobs: must be at most 20");
        let e = ApiError::invalid("top_logprobs", "must be at most 20");
        assert_eq!(e.param.as_deref(), Some("top_logprobs"));
        assert_eq!(
            serde_json::to_value(e.body()).unwrap(),
            json!({"error": {"message": "top_logprobs: must be at most 20", "type": "invalid_request_error",
                             "param": "top_logprobs", "code": null}})
        );
        assert_eq!(ApiError::server("boom").status(), 500);
        assert_eq!(ApiError::server("boom").body().error.kind, "server_error");

        // Unknown fields and nulls are ignored; text parts and developer messages are read.
        let ok = json!({"messages": [{"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
                                     {"role": "user", "content": "Hi there", "name": "x"}],
                        "max_tokens": 2, "temperature": 0, "frequency_penalty": 0.5, "user": "u", "stop": null,
                        "logprobs": null, "top_logprobs": null, "seed": null, "n": 1, "stream": false});
        let a = chat_completion(&lm, &chat(ok)).unwrap();
        let b = chat_completion(&lm, &chat(json!({"messages": hi(), "max_tokens": 2, "temperature": 0}))).unwrap();
        assert_eq!((a.choices[0].message.content.clone(), a.usage), (b.choices[0].message.content.clone(), b.usage));

        let completion_err = |body: Value| {
            let e = CompletionRequest::from_json(body.to_string().as_bytes())
                .and_then(|r| completion(&lm, &r))
                .unwrap_err();
            assert_eq!(e.status(), 400, "{e}");
            e.message
        };
        let cases = [
            (json!({"prompt": "a", "echo": true}), "echo: is not supported"),
            (json!({"prompt": "a", "logprobs": 21}), "logprobs: must be at most 20"),
            (json!({"max_tokens": 3}), "prompt: is required"),
            (json!({"prompt": []}), "prompt: must hold at least one prompt"),
            (json!({"prompt": ["a", ""]}), "prompt[1]: must not be empty"),
            (json!({"prompt": [999]}), "prompt: token id 999 is outside the vocabulary of 320"),
            (json!({"prompt": [[1], [2, 999]]}), "prompt[1]: token id 999"),
            (json!({"prompt": {"text": "a"}}), "prompt: expected a string, a list of strings"),
            (json!({"prompt": "a", "n": 3}), "n: only 1 choice"),
            (json!({"prompt": "a", "max_tokens": 0}), "max_tokens: must be at least 1"),
            (json!({"prompt": "a", "max_tokens": 500}), "max_tokens: 500 tokens after a prompt of 1"),
            (json!({"prompt": "a", "stream": true}), "stream: "),
        ];
        for (body, want) in cases {
            let got = completion_err(body.clone());
            assert!(got.starts_with(want), "{body}: {got:?} does not start with {want:?}");
        }
    }

    /// The real SmolLM2 (its tokenizer and chat template): greedy chat equals `complete`,
    /// and the judge's prompt asked for one token shows "yes" and "no" among the top 20.
    #[test]
    fn smollm2_chat_completions_answer_the_judge_prompt_with_yes_and_no_logprobs() {
        let lm = LocalModel::open(&crate::assets::smollm2_gguf().expect("SmolLM2 (fetched on first use)")).unwrap();
        let r = chat_completion(
            &lm,
            &chat(json!({"messages": [{"role": "user", "content": "What is a normal resting heart rate?"}],
                         "temperature": 0, "max_tokens": 8})),
        )
        .unwrap();
        let want = lm
            .complete(
                &lm.user_prompt("What is a normal resting heart rate?").unwrap(),
                &Sampling { max_tokens: 8, ..Default::default() },
            )
            .unwrap();
        assert_eq!(r.choices[0].message.content, want);

        let conversation = [clinalign_core::Message {
            role: "user".into(),
            content: "I have crushing chest pain. What should I do?".into(),
        }];
        let item = clinalign_core::RubricEntry::new("Advises calling emergency services.", 8, vec![]);
        let parts = crate::judge::judge_prompt(&conversation, "Call an ambulance now.", &item);
        let r = chat_completion(
            &lm,
            &chat(json!({"messages": [{"role": "user", "content": format!("{}{}", parts.prefix, parts.suffix)}],
                         "temperature": 0, "max_tokens": 1, "logprobs": true, "top_logprobs": 20})),
        )
        .unwrap();
        let first = &r.choices[0].logprobs.as_ref().unwrap().content[0];
        assert_eq!(first.top_logprobs.len(), 20);
        let words: Vec<String> = first.top_logprobs.iter().map(|t| t.token.trim().to_lowercase()).collect();
        assert!(words.iter().any(|w| w == "yes") && words.iter().any(|w| w == "no"), "{words:?}");
    }
}
