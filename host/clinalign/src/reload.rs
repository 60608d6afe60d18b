//! Reloading a principle set: build a new set from the sources, self-test it, and swap it in
//! only if every principle passes; requests in flight finish on the set they started with.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::principle_set::{PrincipleSet, SetSource};
use crate::runtime::Runtime;

/// How the last reload went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadReport {
    /// What asked for it: "manual", or "watch: <changed paths>".
    pub trigger: String,
    /// When it finished, in milliseconds since the Unix epoch.
    pub finished_at_ms: u64,
    /// How long building and self-testing took.
    pub duration_ms: u64,
    pub outcome: ReloadOutcome,
}

/// The result of a reload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ReloadOutcome {
    /// The new set is live.
    Live { principle_set: String, previous: String, principles: usize },
    /// The new set has the same content hash as the live one; nothing changed.
    Unchanged { principle_set: String },
    /// The new set failed to build or self-test and never went live.
    Rejected { reason: String, live: String },
}

/// Builds a new set from `source` and stores it in `live` if it is whole and differs from
/// the live one. The caller makes sure one reload runs at a time.
pub(crate) fn reload(
    runtime: &Arc<Runtime>,
    source: &SetSource,
    live: &ArcSwap<PrincipleSet>,
    trigger: String,
) -> ReloadReport {
    let started = Instant::now();
    let current = live.load_full();
    let outcome = match PrincipleSet::build(runtime, source, true) {
        Ok(set) if set.hash() == current.hash() => ReloadOutcome::Unchanged { principle_set: set.hash().to_string() },
        Ok(set) => {
            let outcome = ReloadOutcome::Live {
                principle_set: set.hash().to_string(),
                previous: current.hash().to_string(),
                principles: set.principles().len(),
            };
            live.store(Arc::new(set));
            outcome
        }
        Err(e) => ReloadOutcome::Rejected { reason: e.to_string(), live: current.hash().to_string() },
    };
    match &outcome {
        ReloadOutcome::Live { principle_set, previous, .. } => {
            tracing::info!(%trigger, %principle_set, %previous, "reloaded principle set is live")
        }
        ReloadOutcome::Unchanged { .. } => tracing::debug!(%trigger, "reload: principle set unchanged"),
        ReloadOutcome::Rejected { reason, live } => {
            tracing::warn!(%trigger, %live, "reload rejected; the live set keeps answering: {reason}")
        }
    }
    ReloadReport {
        trigger,
        finished_at_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
        duration_ms: started.elapsed().as_millis() as u64,
        outcome,
    }
}
