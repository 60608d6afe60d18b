//! A principle set: every principle of a principles directory, loaded, self-tested and
//! ready to run, named by a content hash.
//!
//! Building a set reads the catalog, builds the plugin crates it needs, loads each
//! component once (most principles share `template`), starts one warm instance per
//! principle (its `init` must accept the config) and runs the manifest's fixtures.
//! A principle that fails any step is left out and listed in [`PrincipleSet::failures`].

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clinalign_sdk::{Label, Query, RubricItem};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::dimensions::Dimensions;
use crate::error::{Error, Result};
use crate::manifest::{Catalog, Expect, LoadFailure, Manifest, PluginRef};
use crate::plugin_build::PluginBuilder;
use crate::runtime::{LoadedComponent, PrincipleError, PrincipleRuntime, Runtime, WIT_VERSION, wit};

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

/// One fixture run at load time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelfTest {
    pub principle: String,
    pub fixture: String,
    pub expect: Expect,
    pub passed: bool,
    /// What happened: the items emitted, or why it failed.
    pub detail: String,
    /// Style problems of the emitted criteria (see [`crate::rubric_quality::criterion_problems`]).
    /// They do not fail the self-test, but `clinalign principles test` reports them.
    pub lint: Vec<String>,
}

/// A loaded principle: its manifest and its runtime.
pub struct LoadedPrinciple {
    pub manifest: Manifest,
    pub(crate) runtime: PrincipleRuntime,
}

impl LoadedPrinciple {
    /// Runs this one principle on `query` (its labels as given; no pool or gate check),
    /// under the same limits and checks as synthesis.
    pub fn emit(&self, query: &Query) -> std::result::Result<Vec<RubricItem>, PrincipleError> {
        self.runtime.emit(&to_wit_query(query))
    }

    /// sha256 of the component it runs.
    pub fn component_sha256(&self) -> &str {
        self.runtime.component_sha256()
    }
}

/// A loaded principle set. Immutable; a reload builds a new one.
pub struct PrincipleSet {
    hash: String,
    /// Every gate term of the loaded principles, indexed; `gate_owners[term id]` lists the
    /// principles (indices into `principles`) it opens.
    gate_index: clinalign_sdk::lookup::TermIndex,
    gate_owners: Vec<Vec<usize>>,
    dimensions: Dimensions,
    principles: Vec<LoadedPrinciple>,
    failures: Vec<LoadFailure>,
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

    /// The principles to call for a query: the pool, less those whose gate terms do not
    /// occur in the user's turns (see [`crate::Manifest::gate_terms`]). One pass over the
    /// query's words, whatever the number of principles.
    pub fn called<'a>(&'a self, query: &'a Query) -> impl Iterator<Item = &'a LoadedPrinciple> + 'a {
        let user = clinalign_sdk::lookup::Lookup::new(&query.user_text());
        let mut open = vec![false; self.principles.len()];
        for (term, _) in self.gate_index.find_in(&user) {
            for &p in &self.gate_owners[term] {
                open[p] = true;
            }
        }
        self.principles
            .iter()
            .enumerate()
            .filter(move |(i, p)| {
                p.manifest.applies_to(&query.scenario) && (p.manifest.gate_terms().is_none() || open[*i])
            })
            .map(|(_, p)| p)
    }

    /// Builds a set. With `require_all`, any principle that fails makes the whole set fail
    /// (what a reload wants); otherwise failures are left out and reported.
    pub(crate) fn build(runtime: &Arc<Runtime>, source: &SetSource, require_all: bool) -> Result<PrincipleSet> {
        let started = Instant::now();
        let catalog = Catalog::load(&source.principles_dir)?;
        let mut failures = catalog.failures.clone();
        let wanted = |id: &str| source.only.as_ref().is_none_or(|ids| ids.iter().any(|w| w == id));
        let manifests: Vec<Manifest> = catalog.manifests.iter().filter(|m| wanted(&m.id)).cloned().collect();
        if let Some(ids) = &source.only {
            for id in ids {
                if !catalog.manifests.iter().any(|m| &m.id == id) && !failures.iter().any(|f| &f.principle == id) {
                    return Err(Error::Invalid(format!("no principle {id:?} in {}", source.principles_dir.display())));
                }
            }
            failures.retain(|f| wanted(&f.principle));
        }

        // Components: build crates in one cargo run, then load each distinct file once.
        let components = load_components(runtime, source, &manifests);

        let mut ready = Vec::new();
        for m in manifests {
            let key = m.plugin.clone();
            match components.get(&key) {
                Some(Ok(c)) => ready.push((m, c.clone())),
                Some(Err(msg)) => failures.push(failure(&m, format!("plugin {key}: {msg}"))),
                None => failures.push(failure(&m, format!("plugin {key}: not loaded"))),
            }
        }

        // Warm up and self-test, spread over the available cores.
        let results: Vec<_> = ready
            .into_par_iter()
            .map(|(m, c)| {
                let config = serde_json::to_string(&m.config).unwrap_or_else(|_| "{}".into());
                let rt = PrincipleRuntime::new(&m.id, c, config, m.capabilities, runtime.clone());
                if let Err(e) = rt.warm_up() {
                    return (m, Err(e.to_string()), Vec::new(), rt);
                }
                let tests = run_fixtures(&m, &rt);
                let failed: Vec<&SelfTest> = tests.iter().filter(|t| !t.passed).collect();
                let outcome = if failed.is_empty() {
                    Ok(())
                } else {
                    Err(failed
                        .iter()
                        .map(|t| format!("self-test {} failed: {}", t.fixture, t.detail))
                        .collect::<Vec<_>>()
                        .join("; "))
                };
                (m, outcome, tests, rt)
            })
            .collect();

        let mut principles = Vec::new();
        let mut self_tests = Vec::new();
        for (manifest, outcome, tests, rt) in results {
            self_tests.extend(tests);
            match outcome {
                Ok(()) => principles.push(LoadedPrinciple { manifest, runtime: rt }),
                Err(msg) => failures.push(failure(&manifest, msg)),
            }
        }
        principles.sort_by(|a, b| a.manifest.id.cmp(&b.manifest.id));
        failures.sort_by(|a, b| a.principle.cmp(&b.principle));

        if require_all && !failures.is_empty() {
            let list: Vec<String> = failures.iter().map(|f| format!("{}: {}", f.principle, f.message)).collect();
            return Err(Error::Rejected(format!(
                "{} principle(s) failed to load: {}",
                failures.len(),
                list.join(" | ")
            )));
        }

        let mut h = Sha256::new();
        h.update(format!("clinalign:principle@{WIT_VERSION}\n").as_bytes());
        h.update(catalog.dimensions_sha256.as_bytes());
        for p in &principles {
            h.update(format!("\n{} {} {}", p.manifest.id, p.manifest.sha256, p.component_sha256()).as_bytes());
        }
        let hash = hex::encode(h.finalize())[..16].to_string();
        let mut gate_terms: Vec<String> = Vec::new();
        let mut gate_owners: Vec<Vec<usize>> = Vec::new();
        for (i, p) in principles.iter().enumerate() {
            for t in p.manifest.gate_terms().unwrap_or_default() {
                match gate_terms.iter().position(|x| x == t) {
                    Some(j) => gate_owners[j].push(i),
                    None => {
                        gate_terms.push(t.clone());
                        gate_owners.push(vec![i]);
                    }
                }
            }
        }
        let gate_index = clinalign_sdk::lookup::TermIndex::new(&gate_terms);
        Ok(PrincipleSet {
            hash,
            gate_index,
            gate_owners,
            dimensions: catalog.dimensions,
            principles,
            failures,
            self_tests,
            load_time: started.elapsed(),
        })
    }
}

fn failure(m: &Manifest, message: String) -> LoadFailure {
    LoadFailure { principle: m.id.clone(), path: m.path.clone(), message }
}

/// Loads every plugin the manifests name; crates are built together first.
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
            PluginRef::Wasm(_) => None,
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
            Ok(paths) => files.extend(crates.iter().cloned().map(PluginRef::Crate).zip(paths)),
            Err(e) => {
                let msg = e.to_string();
                for c in &crates {
                    out.insert(PluginRef::Crate(c.clone()), Err(msg.clone()));
                }
            }
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

/// Runs a principle's fixtures through the same path a query takes (pool, then emit).
fn run_fixtures(m: &Manifest, rt: &PrincipleRuntime) -> Vec<SelfTest> {
    m.fixtures
        .iter()
        .map(|f| {
            let query = Query {
                id: format!("fixture:{}", f.name),
                conversation: f.conversation.clone(),
                scenario: f.scenario.clone(),
            };
            let gated_out = m.gate_terms().is_some_and(|terms| {
                let user = clinalign_sdk::lookup::Lookup::new(&query.user_text());
                !terms.iter().any(|t| user.contains(t))
            });
            let got: std::result::Result<Vec<RubricItem>, PrincipleError> =
                if m.applies_to(&f.scenario) && !gated_out { rt.emit(&to_wit_query(&query)) } else { Ok(Vec::new()) };
            let (passed, detail) = match (&got, f.expect) {
                (Err(e), _) => (false, e.to_string()),
                (Ok(items), Expect::Emits) if items.is_empty() => {
                    let why = if m.applies_to(&f.scenario) {
                        "emitted nothing".to_string()
                    } else {
                        format!("its scenario is outside applies_when ({})", describe(&m.applies_when))
                    };
                    (false, format!("expected items, but {why}"))
                }
                (Ok(items), Expect::Silent) if !items.is_empty() => {
                    (false, format!("expected silence, got {} item(s), first: {:?}", items.len(), items[0].criterion))
                }
                (Ok(items), _) => (true, format!("{} item(s)", items.len())),
            };
            let lint = got
                .iter()
                .flatten()
                .flat_map(|i| {
                    crate::rubric_quality::criterion_problems(&i.criterion)
                        .into_iter()
                        .map(move |p| format!("{:?} {p}", i.criterion.chars().take(60).collect::<String>()))
                })
                .collect();
            SelfTest { principle: m.id.clone(), fixture: f.name.clone(), expect: f.expect, passed, detail, lint }
        })
        .collect()
}

fn describe(applies_when: &BTreeMap<String, Vec<String>>) -> String {
    applies_when.iter().map(|(d, v)| format!("{d} in [{}]", v.join(", "))).collect::<Vec<_>>().join(", ")
}

/// The WIT form of a query, built once per query and shared by every principle call.
pub(crate) fn to_wit_query(q: &Query) -> wit::Query {
    wit::Query {
        id: q.id.clone(),
        conversation: q
            .conversation
            .iter()
            .map(|m| wit::Message { role: m.role.clone(), content: m.content.clone() })
            .collect(),
        scenario: q
            .scenario
            .iter()
            .map(|l| wit::Label { dimension: l.dimension.clone(), value: l.value.clone(), confidence: l.confidence })
            .collect(),
    }
}
