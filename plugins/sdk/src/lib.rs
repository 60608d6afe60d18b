//! # clinalign-sdk — write ClinAlign principles
//!
//! A principle is a WebAssembly component that, given a medical query and its scenario
//! labels, emits rubric items (HealthBench format). This crate gives principle authors:
//!
//! - [`model`]: plain `Query` / `RubricItem` types mirroring the WIT interface;
//! - [`config`]: hand-validated JSON configs whose errors name the field;
//! - [`lookup`]: a word-set prefilter over [`text`] for plugins with large lexicons;
//! - [`text`]: case-insensitive, word-bounded term matching with negation cues, sentences;
//! - [`quantities`]: numbers, spelled numbers and stated ages in normalised text;
//! - [`slots`]: `{slot}` filling for criterion templates;
//! - [`template`]: the declarative template principle most manifests use;
//! - with the default `guest` feature: the [`Principle`] trait, [`export_principle!`], and the
//!   host functions [`log`], [`generate`] and [`score_options`].
//!
//! ```ignore
//! use clinalign_sdk::{export_principle, Principle, model::*};
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
pub mod lookup;
pub mod model;
pub mod quantities;
pub mod slots;
pub mod template;
pub mod text;

pub use model::{Axis, EmitError, Label, Message, Query, RubricItem};

#[cfg(feature = "guest")]
mod guest;
#[cfg(feature = "guest")]
pub use guest::*;

/// Parses a principle's JSON config into `T`; the error says what is wrong and where.
pub fn parse_config<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| format!("config: {e}"))
}
