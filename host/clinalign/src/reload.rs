//! Reloading a principle set: build a new set from the sources, self-test it, and swap it in
//! only if every principle passes; requests in flight finish on the set they started with.
//! The report says what changed, for an author watching the loop as much as for a service.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::catalog::LoadFailure;
use crate::classify::Classifier;
use crate::principle_set::{PluginFailure, PrincipleSet, SetSource};
use crate::runtime::Runtime;
use crate::self_test::SelfTest;
use crate::watch::sources::FileChange;

/// How the last reload went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReloadReport {
    /// What asked for it: "manual", or "watch: <changed files>".
    pub trigger: String,
    /// The files whose content changed (empty for a manual reload).
    pub files: Vec<FileChange>,
    /// When it finished, in milliseconds since the Unix epoch.
    pub finished_at_ms: u64,
    /// How long building and self-testing took.
    pub duration_ms: u64,
    pub outcome: ReloadOutcome,
    /// The principles the new set adds, drops and changes (manifest or component) against
    /// the live one; for a rejected set, what it would have changed.
    pub changes: SetChanges,
    /// Fixtures run by the new set that passed.
    pub fixtures_passed: usize,
    /// Fixtures run by the new set that failed, with why.
    pub fixtures_failed: Vec<SelfTest>,
    /// Principles the new set left out, and why.
    pub left_out: Vec<LoadFailure>,
    /// Plugins of the new set that failed to build or load, each once (their principles
    /// are in `left_out` too).
    pub plugin_failures: Vec<PluginFailure>,
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

/// Principle ids by how they differ between two sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SetChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl SetChanges {
    /// What `new` adds, drops and changes against `old`; a principle `new` failed to load
    /// counts as neither kept nor removed (see its failures).
    pub fn between(old: &PrincipleSet, new: &PrincipleSet) -> SetChanges {
        let mut c = SetChanges::default();
        for p in new.principles() {
            match old.get(&p.manifest.id) {
                None => c.added.push(p.manifest.id.clone()),
                Some(o) if o.manifest.sha256 != p.manifest.sha256 || o.component_sha256() != p.component_sha256() => {
                    c.changed.push(p.manifest.id.clone())
                }
                Some(_) => {}
            }
        }
        // A principle the new set failed to load is reported as left out, not as removed.
        let gone = old.principles().iter().filter(|o| {
            new.get(&o.manifest.id).is_none() && !new.failures().iter().any(|f| f.principle == o.manifest.id)
        });
        c.removed.extend(gone.map(|o| o.manifest.id.clone()));
        c
    }

    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Builds a new set from `source` and reports how it compares with `current`; the set is
/// returned to go live when it is whole and differs from `current`. The caller makes sure one
/// reload runs at a time, and publishes the set with its report ([`log`] afterwards).
pub(crate) fn reload(
    runtime: &Arc<Runtime>,
    source: &SetSource,
    classifier: &dyn Classifier,
    current: &PrincipleSet,
    trigger: String,
    files: Vec<FileChange>,
) -> (ReloadReport, Option<PrincipleSet>) {
    let started = Instant::now();
    let mut new_set = None;
    let mut report = ReloadReport {
        trigger,
        files,
        finished_at_ms: 0,
        duration_ms: 0,
        outcome: ReloadOutcome::Unchanged { principle_set: current.hash().to_string() },
        changes: SetChanges::default(),
        fixtures_passed: 0,
        fixtures_failed: Vec::new(),
        left_out: Vec::new(),
        plugin_failures: Vec::new(),
    };
    // Packs are opened afresh: the new set sees an edited pack.toml or a rebuilt .pack file.
    let built = source.reopened().and_then(|source| PrincipleSet::build(runtime, &source, classifier, false));
    report.outcome = match built {
        Ok(set) => {
            report.changes = SetChanges::between(current, &set);
            report.fixtures_passed = set.self_tests().iter().filter(|t| t.passed).count();
            report.fixtures_failed = set.self_tests().iter().filter(|t| !t.passed).cloned().collect();
            report.left_out = set.failures().to_vec();
            report.plugin_failures = set.plugin_failures().to_vec();
            match set.whole() {
                Err(e) => ReloadOutcome::Rejected { reason: e.to_string(), live: current.hash().to_string() },
                Ok(()) if set.hash() == current.hash() => {
                    ReloadOutcome::Unchanged { principle_set: set.hash().to_string() }
                }
                Ok(()) => {
                    let outcome = ReloadOutcome::Live {
                        principle_set: set.hash().to_string(),
                        previous: current.hash().to_string(),
                        principles: set.principles().len(),
                    };
                    new_set = Some(set);
                    outcome
                }
            }
        }
        Err(e) => ReloadOutcome::Rejected { reason: e.to_string(), live: current.hash().to_string() },
    };
    report.finished_at_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    report.duration_ms = started.elapsed().as_millis() as u64;
    (report, new_set)
}

/// Logs how a reload went, once it is published.
pub(crate) fn log(report: &ReloadReport) {
    let trigger = &report.trigger;
    match &report.outcome {
        ReloadOutcome::Live { principle_set, previous, .. } => {
            tracing::info!(%trigger, %principle_set, %previous, "reloaded principle set is live")
        }
        ReloadOutcome::Unchanged { .. } => tracing::debug!(%trigger, "reload: principle set unchanged"),
        ReloadOutcome::Rejected { reason, live } => {
            tracing::warn!(%trigger, %live, "reload rejected; the live set keeps answering: {reason}")
        }
    }
}
