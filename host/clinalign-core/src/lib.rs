//! # clinalign-core — what the host and the principles share
//!
//! Plain data and plain logic, no WebAssembly runtime, no models, no I/O: it builds for the
//! host and for `wasm32-wasip2` guests alike, so the host's gate prefilter and the principles
//! match terms with the very same code, and the host can run the template principle natively.
//!
//! - [`types`]: the principle interface's data (`Message`, `Label`, `Query`, `Axis`, the
//!   `RubricItem` a principle emits, `EmitError`), mirroring the WIT package;
//! - [`rubric`]: [`RubricEntry`], a rubric item in HealthBench form as rows, files and judges
//!   carry it (criterion, points, tags, and once graded its grade);
//! - [`text`], [`lookup`], [`quantities`], [`slots`]: clinical text matching (word-bounded,
//!   negation-aware), a prefilter for large lexicons, numbers and ages, `{slot}` filling;
//! - [`template`]: the declarative template principle most manifests use;
//! - [`red_flags`]: the red-flag lexicon and detector that the `red-flags` principle and the
//!   host's scenario classifier share;
//! - [`language_model`] and [`judge`]: the model traits the engine consumes and the inference
//!   crate implements, with a typed [`ModelError`];
//! - [`cache`]: where ClinAlign keeps what it builds and fetches.

pub mod cache;
pub mod judge;
pub mod language_model;
pub mod lookup;
pub mod quantities;
pub mod red_flags;
pub mod rubric;
pub mod slots;
pub mod template;
pub mod text;
pub mod types;

pub use cache::default_cache_dir;
pub use judge::{ConversationGroup, Judge};
pub use language_model::{LanguageModel, ModelError};
pub use rubric::{Grade, Reading, RubricEntry};
pub use types::{Axis, EmitError, Label, Message, Query, RubricItem};
