//! # clinalign-sdk — write ClinAlign principles
//!
//! A principle is a WebAssembly component that, given a medical query and its scenario
//! labels, emits rubric items (HealthBench format). This crate is [`clinalign_core`] (the
//! plain types and clinical text helpers the host uses too) plus the WebAssembly glue:
//!
//! - the types: [`Query`], [`Message`], [`Label`], [`RubricItem`], [`Axis`], [`EmitError`];
//! - [`text`]: case-insensitive, word-bounded term matching with negation cues, sentences;
//! - [`lookup`]: a word-set prefilter over [`text`] for plugins with large lexicons;
//! - [`quantities`]: numbers, spelled numbers and stated ages in normalised text;
//! - [`slots`]: `{slot}` filling for criterion templates;
//! - [`template`]: the declarative template principle most manifests use;
//! - [`red_flags`]: the red-flag lexicon and detector (shared with the host's classifier);
//! - [`config`]: hand-validated JSON configs whose errors name the field;
//! - the [`Principle`] trait, [`export_principle!`], and the host functions [`log`],
//!   [`generate`] and [`score_options`].
//!
//! The crate targets the plugin interface `clinalign:principle@0.2.0` ([`WIT_VERSION`]); it
//! carries that WIT inside itself (`wit/0.2.0/`), so a principle pack outside this repository
//! depends on it by path, git or version alone (see `docs/packs.md`).
//!
//! ```ignore
//! use clinalign_sdk::{export_principle, Axis, EmitError, Principle, Query, RubricItem};
//!
//! struct AskAge;
//! impl Principle for AskAge {
//!     fn init(_config: &str) -> Result<Self, String> { Ok(AskAge) }
//!     fn emit(&self, q: &Query) -> Result<Vec<RubricItem>, EmitError> {
//!         Ok(vec![RubricItem::new("Asks the patient's age.", 5, Axis::ContextAwareness)])
//!     }
//! }
//! export_principle!(AskAge);
//! ```

pub mod config;
mod guest;

/// The version of the WIT package `clinalign:principle` this SDK builds components against
/// (its copy is `wit/<version>/` inside the crate). A pack's `pack.toml` names it as `wit`.
pub const WIT_VERSION: &str = "0.2.0";

pub use clinalign_core::{Axis, EmitError, Label, Message, Query, RubricItem};
pub use clinalign_core::{lookup, quantities, red_flags, slots, template, text};
pub use guest::*;

/// Parses a principle's JSON config into `T`; the error says what is wrong and where.
pub fn parse_config<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| format!("config: {e}"))
}
