//! Models and judges behind OpenAI-compatible servers (vLLM, SGLang, llama.cpp's server,
//! `clinalign serve`, hosted APIs): they implement the core's [`Judge`](clinalign_core::Judge)
//! and [`LanguageModel`](clinalign_core::LanguageModel) over HTTP, with bounded retries.
//!
//! - [`endpoint`]: a server's URLs, the HTTP client and the retry policy they share;
//! - [`grader`]: HealthBench's grader prompt, one JSON verdict per rubric item (`openai:URL`);
//! - [`logprob_judge`]: the local log-prob judge's prompt, p_met from the server's top
//!   log-probs (`openai-logprobs:URL`);
//! - [`model`]: the engine's language model for principles that generate or score options.

pub mod endpoint;
pub mod grader;
pub mod logprob_judge;
pub mod model;

pub use grader::OpenAiJudge;
pub use logprob_judge::OpenAiLogprobJudge;
pub use model::OpenAiModel;
