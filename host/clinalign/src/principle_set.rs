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
use crate::pack::{Pack, build_scripts};
use crate::plugin_build::PluginBuilder;
use crate::python_build::PythonBuilder;
use crate::runtime::{
    LoadedComponent, PoolEntry, PreparedQuery, PrincipleError, PrincipleRuntime, Runtime, WIT_VERSION,
};
use crate::self_test::{SelfTest, run_fixtures};

/// Where a set comes from: a principles directory (the built-in one, usually) and any
/// number of packs composed with it.
#[derive(Debug, Clone)]
pub struct SetSource {
    /// The directory the set is built on: its `dimensions.toml` is the set's vocabulary,
    /// its plugins workspace provides `template`, and its principles are in the set unless
    /// `base_principles` is false.
    pub principles_dir: PathBuf,
    /// The plugins workspace that `plugin = "<crate>"` manifests refer to.
    pub plugins_dir: PathBuf,
    /// Whether the base directory's own principles are in the set (false for a set made of
    /// packs alone).
    pub base_principles: bool,
    /// Packs composed with the base directory, in order.
    pub packs: Vec<Pack>,
    /// Run packs' principles with warm instances, as the base directory's (default: a fresh
    /// instance per call, as in strict mode).
    pub trust_packs: bool,
    /// Build packs whose crates (or their dependencies outside the guest SDK's) have build
    /// scripts or procedural macros, which run natively at build time.
    pub allow_build_scripts: bool,
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

    /// Whether every call runs in a fresh instance (strict mode, or an untrusted pack's).
    pub fn strict(&self) -> bool {
        self.runtime.is_strict()
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
        let catalog = source.catalog()?;
        let (manifests, mut failures) = select(&catalog, source)?;

        // Components: build crates in one cargo run, then load each distinct file once.
        let components = load_components(runtime, source, &manifests);
        let mut ready = Vec::new();
        let mut plugin_failures: Vec<PluginFailure> = Vec::new();
        for m in manifests {
            match components.get(&source.key(&m)) {
                Some(Ok(c)) => {
                    let c = c.clone();
                    let strict = source.strict_for(&m);
                    ready.push((m, c, strict));
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
        let results: Vec<_> =
            ready.into_par_iter().map(|(m, c, strict)| start(runtime, m, c, strict, dims, classifier)).collect();
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
    strict: bool,
    dims: &Dimensions,
    classifier: &dyn Classifier,
) -> (LoadedPrinciple, std::result::Result<(), String>, Vec<SelfTest>) {
    let config = serde_json::to_string(&m.config).unwrap_or_else(|_| "{}".into());
    let rt = PrincipleRuntime::new(&m.id, c, config, m.capabilities, runtime.clone()).strict(strict);
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
/// principle's manifest, component and pack.
fn set_hash(catalog: &Catalog, principles: &[LoadedPrinciple]) -> String {
    let mut h = Sha256::new();
    h.update(format!("clinalign:principle@{WIT_VERSION}\n").as_bytes());
    h.update(catalog.dimensions_sha256.as_bytes());
    for p in principles {
        h.update(format!("\n{} {} {}", p.manifest.id, p.manifest.sha256, p.component_sha256()).as_bytes());
        if let Some(pack) = &p.manifest.pack {
            h.update(format!(" pack:{pack}").as_bytes());
        }
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

/// Which component a manifest runs: the plugin as written, and the pack whose files it
/// comes from (`None`: the base directory's; a pack's `plugin = "template"` is the base's
/// `template` unless the pack has a crate of that name).
pub(crate) type ComponentKey = (Option<usize>, PluginRef);

/// A component's bytes, and for a Python principle the name it is known by (see below).
type Bytes = std::result::Result<(Vec<u8>, Option<String>), String>;

impl SetSource {
    /// A set of one principles directory and the plugins workspace beside it.
    pub fn new(principles_dir: impl Into<PathBuf>, plugins_dir: impl Into<PathBuf>) -> SetSource {
        SetSource {
            principles_dir: principles_dir.into(),
            plugins_dir: plugins_dir.into(),
            base_principles: true,
            packs: Vec::new(),
            trust_packs: false,
            allow_build_scripts: false,
            cache_dir: None,
            plugin_target_dir: None,
            only: None,
        }
    }

    /// The same sources with every pack opened again from where it was given.
    pub fn reopened(&self) -> Result<SetSource> {
        let packs = self
            .packs
            .iter()
            .map(|p| Pack::open(p.file.as_deref().unwrap_or(&p.root), self.cache_dir.as_deref()))
            .collect::<Result<Vec<_>>>()?;
        Ok(SetSource { packs, ..self.clone() })
    }

    /// The catalog of every source: the base directory's (or its vocabulary only), then
    /// each pack's, refusing clashes.
    pub fn catalog(&self) -> Result<Catalog> {
        let mut catalog = Catalog::load(&self.principles_dir)?;
        if !self.base_principles {
            catalog = catalog.vocabulary_only();
        }
        for (i, pack) in self.packs.iter().enumerate() {
            if let Some(first) = self.packs[..i].iter().find(|p| p.info.name == pack.info.name) {
                return Err(Error::Invalid(format!(
                    "{}: pack {:?} is given twice (the other is {})",
                    pack.describe(),
                    pack.info.name,
                    first.describe()
                )));
            }
            catalog.add_pack(pack)?;
        }
        Ok(catalog)
    }

    /// The index of the pack a manifest comes from.
    fn origin(&self, m: &Manifest) -> Option<usize> {
        let label = m.pack.as_ref()?;
        self.packs.iter().position(|p| &p.info.label() == label)
    }

    /// Whether a manifest's principle runs in a fresh instance per call: it comes from a
    /// pack and packs are not trusted.
    fn strict_for(&self, m: &Manifest) -> bool {
        m.pack.is_some() && !self.trust_packs
    }

    fn key(&self, m: &Manifest) -> ComponentKey {
        let origin = self.origin(m);
        match (&m.plugin, origin) {
            (PluginRef::Crate(c), Some(i)) if !self.packs[i].crates().contains(c) => (None, m.plugin.clone()),
            _ => (origin, m.plugin.clone()),
        }
    }
}

/// The component bytes of each manifest, in order: what `clinalign pack build` puts in a
/// built pack.
pub fn component_bytes(
    source: &SetSource,
    manifests: &[Manifest],
) -> Vec<(ComponentKey, std::result::Result<Vec<u8>, String>)> {
    let all = gather(source, manifests);
    manifests
        .iter()
        .map(|m| {
            let key = source.key(m);
            let bytes = match all.get(&key) {
                Some(Ok((b, _))) => Ok(b.clone()),
                Some(Err(e)) => Err(e.clone()),
                None => Err(format!("plugin {}: not built", m.plugin)),
            };
            (key, bytes)
        })
        .collect()
}

/// Loads every plugin the manifests name.
fn load_components(
    runtime: &Runtime,
    source: &SetSource,
    manifests: &[Manifest],
) -> HashMap<ComponentKey, std::result::Result<LoadedComponent, String>> {
    gather(source, manifests)
        .into_iter()
        .map(|(key, bytes)| {
            let loaded = bytes.and_then(|(bytes, name)| {
                let component = runtime.load_component(&bytes)?;
                Ok(match name {
                    Some(sha256) => LoadedComponent { sha256, ..component },
                    None => component,
                })
            });
            (key, loaded)
        })
        .collect()
}

/// The bytes of every component the manifests name: crates are built together first (one
/// cargo run per workspace: the base's, each source pack's), then the Python modules; the
/// `.wasm` files are read, and a built pack's are checked against its `pack.lock`.
fn gather(source: &SetSource, manifests: &[Manifest]) -> HashMap<ComponentKey, Bytes> {
    let keys: Vec<ComponentKey> = {
        let mut k: Vec<ComponentKey> = manifests.iter().map(|m| source.key(m)).collect();
        k.sort_by_key(|a| (a.0, a.1.to_string()));
        k.dedup();
        k
    };
    let mut out: HashMap<ComponentKey, Bytes> = HashMap::new();
    let mut origins: Vec<Option<usize>> = keys.iter().map(|k| k.0).collect();
    origins.dedup();
    for origin in origins {
        let crates: Vec<String> = keys
            .iter()
            .filter(|k| k.0 == origin)
            .filter_map(|k| match &k.1 {
                PluginRef::Crate(c) => Some(c.clone()),
                _ => None,
            })
            .collect();
        if crates.is_empty() {
            continue;
        }
        let key = |c: &str| (origin, PluginRef::Crate(c.to_string()));
        match build_crates(source, origin, &crates) {
            Ok(built) => {
                for (c, result) in crates.iter().zip(built) {
                    let bytes = result.and_then(|path| read_checked(source, origin, &path)).map(|b| (b, None));
                    out.insert(key(c), bytes);
                }
            }
            Err(msg) => {
                for c in &crates {
                    out.insert(key(c), Err(msg.clone()));
                }
            }
        }
    }
    let modules: Vec<&ComponentKey> = keys.iter().filter(|k| matches!(k.1, PluginRef::Python(_))).collect();
    if !modules.is_empty() {
        let builder = PythonBuilder::new(source.cache_dir.clone());
        let paths: Vec<PathBuf> = modules
            .iter()
            .filter_map(|k| match &k.1 {
                PluginRef::Python(p) => Some(p.clone()),
                _ => None,
            })
            .collect();
        for ((key, module), built) in modules.iter().zip(&paths).zip(builder.build(&paths)) {
            // componentize-py's output differs from build to build of the same sources, so a
            // Python principle is known by what it is built from: the same sources give the
            // same principle-set hash on every machine.
            let bytes = built.map_err(|e| e.to_string()).and_then(|bytes| {
                let name = builder.key_of(module).map_err(|e| e.to_string())?;
                Ok((bytes, Some(format!("python-sources:{name}"))))
            });
            out.insert((*key).clone(), bytes);
        }
    }
    for key in &keys {
        if let PluginRef::Wasm(path) = &key.1 {
            out.insert(key.clone(), read_checked(source, key.0, path).map(|b| (b, None)));
        }
    }
    out
}

/// Builds crates of the base's plugins workspace (`origin` `None`) or of a pack's. A pack's
/// build is refused when it would run build scripts or procedural macros of its own (see
/// [`build_scripts`]) and they are not allowed; a built pack has no crates to build.
fn build_crates(
    source: &SetSource,
    origin: Option<usize>,
    crates: &[String],
) -> std::result::Result<Vec<std::result::Result<PathBuf, String>>, String> {
    let workspace = match origin {
        None => source.plugins_dir.clone(),
        // A built pack ships each crate's component: nothing to build.
        Some(i) if source.packs[i].is_built() => {
            let pack = &source.packs[i];
            return Ok(crates.iter().map(|c| Ok(pack.crate_component(c))).collect());
        }
        Some(i) => {
            let pack = &source.packs[i];
            let ws = pack.plugins_dir();
            if !source.allow_build_scripts {
                let found = build_scripts::native_code(&ws).map_err(|e| e.to_string())?;
                if !found.is_empty() {
                    return Err(build_scripts::refusal(&ws, crates, &found).to_string());
                }
            }
            ws
        }
    };
    let mut builder = PluginBuilder::new(&workspace, source.cache_dir.clone());
    if let Some(t) = &source.plugin_target_dir {
        builder.target_dir = t.clone();
    }
    let built = builder.build(crates).map_err(|e| e.to_string())?;
    Ok(built.into_iter().map(|r| r.map_err(|e| e.to_string())).collect())
}

/// A component file's bytes; one of a built pack (`origin`) is checked against its
/// `pack.lock` first.
fn read_checked(source: &SetSource, origin: Option<usize>, path: &Path) -> std::result::Result<Vec<u8>, String> {
    let bytes = read_component(path)?;
    if let Some(pack) = origin.map(|i| &source.packs[i]) {
        pack.check_component(path, &bytes)?;
    }
    Ok(bytes)
}

fn read_component(path: &Path) -> std::result::Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}
