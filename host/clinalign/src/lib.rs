//! # clinalign — the ClinAlign engine
//!
//! Turns clinician judgement into grading rubrics: a query is labelled on four clinical
//! dimensions (urgency, uncertainty, user expertise, task), the labels pick the
//! HealthPrinciples that apply, and each principle — a sandboxed WebAssembly component —
//! writes query-specific rubric items in HealthBench format.
//!
//! ```no_run
//! use std::time::Duration;
//! use clinalign::{Engine, Query, Message};
//!
//! let engine = Engine::builder()
//!     .principles_dir("principles")
//!     .plugin_timeout(Duration::from_millis(50))
//!     .build()?;                                   // loads, compiles (cached), self-tests
//! let query = Query {
//!     id: "q1".into(),
//!     conversation: vec![Message { role: "user".into(), content: "Crushing chest pain, what do I do?".into() }],
//!     scenario: vec![],                            // empty: the classifier labels it
//! };
//! let rubric = engine.synthesize(&query)?;         // items, scenario, principle_set
//! let _watch = engine.watch()?;                    // hot reload until dropped
//! println!("{:?}", engine.last_reload());
//! # Ok::<(), clinalign::Error>(())
//! ```
//!
//! Data flows one way: `Query` → [`classify`] → scenario → pool and [`gate`] → `emit` in
//! each plugin ([`runtime`]) → [`curation`] → [`Rubric`]. The modules, by job:
//!
//! - the principle set: [`catalog`] and [`manifest`] (reading principles, with
//!   [`config_location`] pointing config errors at manifest lines), [`dimensions`]
//!   (the vocabulary), [`plugin_build`] (building plugin crates), [`python_build`]
//!   (building principles written in Python), [`principle_set`] (loading and self-testing
//!   them, [`self_test`]), [`reload`] and [`watch`] (hot reload);
//! - a query: [`classify`], [`gate`], [`synthesis`], [`curation`] with [`similarity`] and
//!   [`criterion_style`], [`rubric`] (what synthesis returns), [`explain`] (why a rubric came
//!   out as it did), [`overlap`] (items that nearly duplicate another principle's), [`report`]
//!   (run reports);
//! - rows and results: [`row`] (HealthBench JSONL rows), [`eval`] (scoring, meta-evaluation,
//!   rubric comparison, physician labels);
//! - [`Engine`] ties them together. The library has no async runtime and no global state.

pub mod catalog;
pub mod classify;
pub mod config_location;
pub mod criterion_style;
pub mod curation;
pub mod dimensions;
mod engine;
pub mod error;
pub mod eval;
pub mod explain;
pub mod files;
pub mod gate;
pub mod manifest;
pub mod overlap;
pub mod pack;
pub mod plugin_build;
pub mod principle_set;
pub mod python_build;
pub mod reload;
pub mod report;
pub mod revision;
pub mod row;
pub mod rubric;
mod runtime;
pub mod self_test;
pub mod similarity;
pub mod synthesis;
pub mod watch;

pub use catalog::{Catalog, LoadFailure};
pub use classify::{AutoClassifier, Classifier, ModelClassifier, RuleClassifier};
pub use clinalign_core::{
    Axis, ConversationGroup, Grade, Judge, Label, LanguageModel, Message, ModelError, Query, Reading, RubricEntry,
    RubricItem, default_cache_dir,
};
pub use curation::CurationPolicy;
pub use dimensions::Dimensions;
pub use engine::{Engine, EngineBuilder, default_plugins_dir};
pub use error::{Error, Result};
pub use explain::Explanation;
pub use manifest::Manifest;
pub use principle_set::{PluginFailure, PrincipleSet};
pub use reload::{ReloadOutcome, ReloadReport, SetChanges};
pub use report::RunReport;
pub use row::Row;
pub use rubric::{PrincipleCall, Rubric};
pub use runtime::{ErrorKind, Limits, PrincipleError, SUPPORTED_VERSIONS, WIT_VERSION};
pub use watch::Watch;
pub use watch::sources::{ChangeKind, FileChange};

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}

    #[test]
    fn engine_is_send_sync_and_clone() {
        assert_send_sync_clone::<Engine>();
    }
}
