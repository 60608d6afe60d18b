//! # clinalign-infer — models on the CPU, kernels for CUDA
//!
//! Loads Llama, Qwen2, Qwen3 and Qwen3-MoE models from Hugging Face safetensors or GGUF,
//! with their tokenizers and chat templates, runs batched forward passes with a KV cache,
//! generates text, and judges rubric criteria by the log-probabilities of "yes" and "no".
//! It implements the model traits of [`clinalign_core`] ([`clinalign_core::LanguageModel`]
//! for [`local::LocalModel`], [`clinalign_core::Judge`] for [`judge::LogprobJudge`]) and
//! depends on that crate only: no WebAssembly runtime; the engine never depends on this crate.
//! [`openai_api`] answers OpenAI-compatible chat and text completion requests with a local
//! model, log-probs included, for a server to expose; [`chat_reader`] reads a transcript in a
//! model's chat format back into turns. [`remote`] holds the same traits over OpenAI-compatible
//! servers, and [`spec`] opens a judge or model by the `local:` / `openai:` spec users write. [`backend`] chooses where the forward pass runs
//! (`--device`); [`cuda`] holds the CUDA kernels, their run-time compilation and CPU mirrors.

pub mod assets;
pub mod backend;
pub mod cuda;
pub mod error;
pub mod gguf;
pub mod quant;
pub mod remote;
pub mod spec;
pub mod tokenizer;

pub use error::{Error, Result};
pub mod chat;
pub mod chat_reader;
pub mod config;
pub mod generate;
pub mod judge;
pub mod local;
pub mod model;
pub mod openai_api;
pub mod ops;
pub mod qmatmul;
pub mod sentence;
pub mod structured;
pub mod weights;
