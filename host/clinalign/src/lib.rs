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
//! Data flows one way: `Query` → classify → scenario → principle pool → `emit` in each
//! plugin → merge → [`Rubric`]. The library has no async runtime and no global state.

pub mod classify;
pub mod dimensions;
mod engine;
pub mod error;
pub mod ground_truth;
pub mod healthbench;
pub mod manifest;
pub mod model;
pub mod plugin_build;
pub mod principle_set;
mod reload;
pub mod report;
pub mod rows;
pub mod rubric_eval;
pub mod rubric_quality;
mod runtime;
pub mod synthesis;
pub mod util;

pub use classify::{Classifier, RuleClassifier};
pub use clinalign_sdk::{Axis, Label, Message, Query, RubricItem};
pub use dimensions::Dimensions;
pub use engine::{Engine, EngineBuilder, ReloadOutcome, ReloadReport, default_cache_dir};
pub use error::{Error, Result};
pub use manifest::{Catalog, Manifest};
pub use model::{Grade, Judge, JudgeItem, LanguageModel};
pub use principle_set::PrincipleSet;
pub use reload::Watch;
pub use report::RunReport;
pub use runtime::{ErrorKind, Limits, PrincipleError, WIT_VERSION};
pub use synthesis::{PrincipleCall, Rubric, RubricEntry};

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}

    #[test]
    fn engine_is_send_sync_and_clone() {
        assert_send_sync_clone::<Engine>();
    }
}
