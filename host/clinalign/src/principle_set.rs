//! A principle set: every principle of a principles directory, loaded, self-tested and
//! ready to run, named by a content hash.
//!
//! Building a set reads the catalog, builds the plugin crates it needs, loads each
//! component once (most principles share `template`), starts one warm instance per
//! principle (its `init` must accept the config) and runs the manifest's fixtures.
//! A principle that fails any step is left out and listed in [`PrincipleSet::failures`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clinalign_core::{Label, Query, RubricItem};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::catalog::{Catalog, LoadFailure};
use crate::classify::Classifier;
use crate::dimensions::Dimensions;
use crate::error::{Error, Result};
use crate::gate::Gate;
use crate::manifest::{Manifest, PluginRef};
use crate::plugin_build::PluginBuilder;
use crate::python_build::PythonBuilder;
use crate::runtime::{
    LoadedComponent, PoolEntry, PreparedQuery, PrincipleError, PrincipleRuntime, Runtime, WIT_VERSION,
};
use crate::self_test::{SelfTest, run_fixtures};

/// Where a set comes from.
#[derive(Debug, Clone)]
pub struct SetSource {
    pub principles_dir: PathBuf,
    /// The plugins workspace that `plugin = "<crate>"` manifests refer to.
    pub plugins_dir: PathBuf,
    /// Cache for built and compiled components.
    pub cache_dir: Option<PathBuf>,
    /// Cargo's target dir for plugin builds (default: the plugins workspace's own).
    pub plugin_target_dir: Option<PathBuf>,
    /// Load only these principle ids (all when `None`).
    pub only: Option<Vec<String>>,
}

/// A plugin that failed to build or load: its error, once, and the principles it took out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginFailure {
    /// The crate name or the `.wasm` path, as manifests write it.
    pub plugin: String,
    /// The principles that use it, in id order.
    pub principles: Vec<String>,
    /// The whole error: for a crate that does not compile, the compiler's first errors.
    pub message: String,
}

/// A loaded principle: its manifest and its runtime.
pub struct LoadedPrinciple {
    pub manifest: Manifest,
    pub(crate) runtime: PrincipleRuntime,
    /// What `pool()` tells other principles about this one.
    pub(crate) pool_entry: Arc<PoolEntry>,
}

impl LoadedPrinciple {
    /// Runs this one principle on `query` (its labels as given; no pool or gate check),
    /// under the same limits and checks as synthesis.
    pub fn emit(&self, query: &Query) -> std::result::Result<Vec<RubricItem>, PrincipleError> {
        self.runtime.emit(&PreparedQuery::new(query))
    }

    /// sha256 of the component it runs.
    pub fn component_sha256(&self) -> &str {
        self.runtime.component_sha256()
    }

    /// The `clinalign:principle` version its component was built against.
    pub fn wit_version(&self) -> &str {
        self.runtime.wit_version()
    }
}

/// A loaded principle set. Immutable; a reload builds a new one.
pub struct PrincipleSet {
    hash: String,
    /// The gate terms of `principles`, in the same order.
    gate: Gate,
    dimensions: Dimensions,
    principles: Vec<LoadedPrinciple>,
    failures: Vec<LoadFailure>,
    plugin_failures: Vec<PluginFailure>,
    self_tests: Vec<SelfTest>,
    load_time: Duration,
}

impl std::fmt::Debug for PrincipleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrincipleSet")
            .field("hash", &self.hash)
            .field("principles", &self.principles.iter().map(|p| &p.manifest.id).collect::<Vec<_>>())
            .field("failures", &self.failures)
            .finish()
    }
}

impl PrincipleSet {
    /// The set's content hash (16 hex digits): WIT version, vocabulary, and each loaded
    /// principle's manifest and component. Every output names it.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The dimension vocabulary of the set.
    pub fn dimensions(&self) -> &Dimensions {
        &self.dimensions
    }

    /// The principles that loaded, sorted by id.
    pub fn principles(&self) -> &[LoadedPrinciple] {
        &self.principles
    }

    /// The principle with this id, if it loaded.
    pub fn get(&self, id: &str) -> Option<&LoadedPrinciple> {
        self.principles.iter().find(|p| p.manifest.id == id)
    }

    /// Principles left out, and why.
    pub fn failures(&self) -> &[LoadFailure] {
        &self.failures
    }

    /// Plugins that failed to build or load, each once, with the principles they took out
    /// (those are in [`Self::failures`] too, with the first line of the error).
    pub fn plugin_failures(&self) -> &[PluginFailure] {
        &self.plugin_failures
    }

    /// Every fixture run while loading.
    pub fn self_tests(&self) -> &[SelfTest] {
        &self.self_tests
    }

    /// How long building the set took.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// The principles whose `applies_when` matches these labels (the pool), in id order.
    pub fn pool<'a>(&'a self, scenario: &'a [Label]) -> impl Iterator<Item = &'a LoadedPrinciple> + 'a {
        self.principles.iter().filter(move |p| p.manifest.applies_to(scenario))
    }

    /// The gate of the set's principles (positions are those of [`Self::principles`]).
    pub(crate) fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The principles to call for a query: the pool, less those its gate skips (see
    /// [`crate::gate`]) and those that need a language model when none is configured, in
    /// id order.
    pub fn called<'a>(&'a self, query: &Query) -> impl Iterator<Item = &'a LoadedPrinciple> + 'a {
        let manifests = self.principles.iter().map(|p| &p.manifest);
        self.gate
            .called(manifests, query)
            .into_iter()
            .map(|i| &self.principles[i])
            .filter(|p| p.runtime.has_its_model())
    }

    /// Builds a set. With `require_all`, any principle that fails makes the whole set fail
    /// (what a reload wants); otherwise failures are left out and reported.
    pub(crate) fn build(
        runtime: &Arc<Runtime>,
        source: &SetSource,
        classifier: &dyn Classifier,
        require_all: bool,
    ) -> Result<PrincipleSet> {
        let started = Instant::now();
        let catalog = Catalog::load(&source.principles_dir)?;
        let (manifests, mut failures) = select(&catalog, source)?;

        // Components: build crates in one cargo run, then load each distinct file once.
        let components = load_components(runtime, source, &manifests);
        let mut ready = Vec::new();
        let mut plugin_failures: Vec<PluginFailure> = Vec::new();
        for m in manifests {
            match components.get(&m.plugin) {
                Some(Ok(c)) => {
                    let c = c.clone();
                    ready.push((m, c));
                }
                Some(Err(msg)) => {
                    failures.push(failure(&m, format!("plugin {} failed: {}", m.plugin, gist(msg))));
                    let plugin = m.plugin.to_string();
                    match plugin_failures.iter_mut().find(|f| f.plugin == plugin) {
                        Some(f) => f.principles.push(m.id.clone()),
                        None => plugin_failures.push(PluginFailure {
                            plugin,
                            principles: vec![m.id.clone()],
                            message: msg.clone(),
                        }),
                    }
                }
                None => failures.push(failure(&m, format!("plugin {}: not loaded", m.plugin))),
            }
        }
        plugin_failures.sort_by(|a, b| a.plugin.cmp(&b.plugin));
        for f in &mut plugin_failures {
            f.principles.sort();
        }

        // Warm up and self-test, spread over the available cores.
        let dims = &catalog.dimensions;
        let results: Vec<_> = ready.into_par_iter().map(|(m, c)| start(runtime, m, c, dims, classifier)).collect();
        let mut principles = Vec::new();
        let mut self_tests = Vec::new();
        for (principle, outcome, tests) in results {
            self_tests.extend(tests);
            match outcome {
                Ok(()) => principles.push(principle),
                Err(msg) => failures.push(failure(&principle.manifest, msg)),
            }
        }
        principles.sort_by(|a, b| a.manifest.id.cmp(&b.manifest.id));
        failures.sort_by(|a, b| a.principle.cmp(&b.principle));

        let set = PrincipleSet {
            hash: set_hash(&catalog, &principles),
            gate: Gate::new(principles.iter().map(|p| &p.manifest)),
            dimensions: catalog.dimensions,
            principles,
            failures,
            plugin_failures,
            self_tests,
            load_time: started.elapsed(),
        };
        if require_all {
            set.whole()?;
        }
        Ok(set)
    }

    /// Whether every principle loaded and passed its fixtures: what a reload requires
    /// before the set goes live. The error lists the principles left out and why.
    pub fn whole(&self) -> Result<()> {
        if self.failures.is_empty() {
            return Ok(());
        }
        // A plugin that took out many principles is named once.
        let mut list: Vec<String> = self
            .plugin_failures
            .iter()
            .map(|p| format!("plugin {} failed ({}): {}", p.plugin, p.principles.join(", "), gist(&p.message)))
            .collect();
        list.extend(
            failures_of_their_own(&self.failures, &self.plugin_failures)
                .map(|f| format!("{}: {}", f.principle, f.message)),
        );
        Err(Error::Rejected(format!("{} principle(s) failed to load: {}", self.failures.len(), list.join(" | "))))
    }
}

/// The manifests `source` asks for (all, or its `only` list), and the catalog's failures
/// among them. An `only` id the catalog does not have at all is an error.
fn select(catalog: &Catalog, source: &SetSource) -> Result<(Vec<Manifest>, Vec<LoadFailure>)> {
    let wanted = |id: &str| source.only.as_ref().is_none_or(|ids| ids.iter().any(|w| w == id));
    let manifests: Vec<Manifest> = catalog.manifests.iter().filter(|m| wanted(&m.id)).cloned().collect();
    let mut failures = catalog.failures.clone();
    if let Some(ids) = &source.only {
        for id in ids {
            if !catalog.manifests.iter().any(|m| &m.id == id) && !failures.iter().any(|f| f.is_for(id)) {
                return Err(Error::Invalid(format!("no principle {id:?} in {}", source.principles_dir.display())));
            }
        }
        failures.retain(|f| ids.iter().any(|id| f.is_for(id)));
    }
    Ok((manifests, failures))
}

/// Starts one principle: a warm instance (its `init` must accept the config), then its
/// fixtures. The outcome says why it cannot go live, if it cannot.
fn start(
    runtime: &Arc<Runtime>,
    m: Manifest,
    c: LoadedComponent,
    dims: &Dimensions,
    classifier: &dyn Classifier,
) -> (LoadedPrinciple, std::result::Result<(), String>, Vec<SelfTest>) {
    let config = serde_json::to_string(&m.config).unwrap_or_else(|_| "{}".into());
    let rt = PrincipleRuntime::new(&m.id, c, config, m.capabilities, runtime.clone());
    if let Err(e) = rt.warm_up() {
        let why = e.init_rejection().map_or_else(|| e.to_string(), |msg| m.config_error(rt.config_json(), msg));
        return (
            LoadedPrinciple { pool_entry: Arc::new(PoolEntry::of(&m)), manifest: m, runtime: rt },
            Err(why),
            Vec::new(),
        );
    }
    let tests = run_fixtures(&m, &rt, dims, classifier);
    let failed: Vec<String> =
        tests.iter().filter(|t| !t.passed).map(|t| format!("self-test {} failed: {}", t.fixture, t.detail)).collect();
    let outcome = if failed.is_empty() { Ok(()) } else { Err(failed.join("; ")) };
    (LoadedPrinciple { pool_entry: Arc::new(PoolEntry::of(&m)), manifest: m, runtime: rt }, outcome, tests)
}

/// 16 hex digits of sha256 over the WIT version, the vocabulary, and every loaded
/// principle's manifest and component.
fn set_hash(catalog: &Catalog, principles: &[LoadedPrinciple]) -> String {
    let mut h = Sha256::new();
    h.update(format!("clinalign:principle@{WIT_VERSION}\n").as_bytes());
    h.update(catalog.dimensions_sha256.as_bytes());
    for p in principles {
        h.update(format!("\n{} {} {}", p.manifest.id, p.manifest.sha256, p.component_sha256()).as_bytes());
    }
    hex::encode(h.finalize())[..16].to_string()
}

/// The failures in `failures` that no plugin failure of `plugins` explains: those to list
/// one by one after each failed plugin has been named once.
pub fn failures_of_their_own<'a>(
    failures: &'a [LoadFailure],
    plugins: &'a [PluginFailure],
) -> impl Iterator<Item = &'a LoadFailure> + 'a {
    failures.iter().filter(move |f| !plugins.iter().any(|p| p.principles.contains(&f.principle)))
}

/// A plugin error in one line: its first line (what went wrong, e.g. "… does not compile")
/// and the compiler's first error, if any.
fn gist(message: &str) -> String {
    let head = message.lines().next().unwrap_or_default();
    match message.lines().skip(1).find(|l| l.trim_start().starts_with("error")) {
        Some(first) => format!("{head}: {}", first.trim()),
        None => head.to_string(),
    }
}

fn failure(m: &Manifest, message: String) -> LoadFailure {
    LoadFailure { principle: m.id.clone(), path: m.path.clone(), message }
}

/// Loads every plugin the manifests name; crates are built together first, then the
/// Python modules.
fn load_components(
    runtime: &Runtime,
    source: &SetSource,
    manifests: &[Manifest],
) -> HashMap<PluginRef, std::result::Result<LoadedComponent, String>> {
    let mut out = HashMap::new();
    let mut crates: Vec<String> = manifests
        .iter()
        .filter_map(|m| match &m.plugin {
            PluginRef::Crate(c) => Some(c.clone()),
            PluginRef::Wasm(_) | PluginRef::Python(_) => None,
        })
        .collect();
    crates.sort();
    crates.dedup();
    let mut files: Vec<(PluginRef, PathBuf)> = Vec::new();
    if !crates.is_empty() {
        let mut builder = PluginBuilder::new(&source.plugins_dir, source.cache_dir.clone());
        if let Some(t) = &source.plugin_target_dir {
            builder.target_dir = t.clone();
        }
        match builder.build(&crates) {
            Ok(built) => {
                for (c, result) in crates.iter().zip(built) {
                    match result {
                        Ok(path) => files.push((PluginRef::Crate(c.clone()), path)),
                        Err(e) => {
                            out.insert(PluginRef::Crate(c.clone()), Err(e.to_string()));
                        }
                    }
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for c in &crates {
                    out.insert(PluginRef::Crate(c.clone()), Err(msg.clone()));
                }
            }
        }
    }
    let mut modules: Vec<PathBuf> = manifests
        .iter()
        .filter_map(|m| match &m.plugin {
            PluginRef::Python(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    modules.sort();
    modules.dedup();
    if !modules.is_empty() {
        let builder = PythonBuilder::new(source.cache_dir.clone());
        for (module, built) in modules.iter().zip(builder.build(&modules)) {
            let loaded = built.map_err(|e| e.to_string()).and_then(|bytes| runtime.load_component(&bytes));
            out.insert(PluginRef::Python(module.clone()), loaded);
        }
    }
    for m in manifests {
        if let PluginRef::Wasm(p) = &m.plugin {
            files.push((m.plugin.clone(), p.clone()));
        }
    }
    for (key, path) in files {
        if out.contains_key(&key) {
            continue;
        }
        let loaded = read_component(&path).and_then(|bytes| runtime.load_component(&bytes));
        out.insert(key, loaded);
    }
    out
}

fn read_component(path: &Path) -> std::result::Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}
