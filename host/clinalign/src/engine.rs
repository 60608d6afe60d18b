//! The embeddable engine: build it once, call it from many threads, reload its principle
//! set while it serves.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use clinalign_core::{Label, LanguageModel, Query, default_cache_dir};

use crate::classify::{Classifier, RuleClassifier, complete_scenario};
use crate::curation::CurationPolicy;
use crate::error::{Error, Result};
use crate::explain::Explanation;
use crate::pack::Pack;
use crate::plugin_build::PluginBuilder;
use crate::principle_set::{PrincipleSet, SetSource};
use crate::reload::{ReloadReport, log as log_reload, reload};
use crate::rubric::Rubric;
use crate::runtime::{Limits, Runtime, RuntimeOptions};
use crate::watch::Watch;
use crate::watch::sources::{FileChange, SourceRoot};

/// Configures and builds an [`Engine`].
pub struct EngineBuilder {
    principles_dir: PathBuf,
    base_principles: bool,
    packs: Vec<PathBuf>,
    trust_packs: bool,
    allow_build_scripts: bool,
    plugins_dir: Option<PathBuf>,
    plugin_target_dir: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    limits: Limits,
    strict: bool,
    max_instances: u32,
    model: Option<Arc<dyn LanguageModel>>,
    classifier: Arc<dyn Classifier>,
    only: Option<Vec<String>>,
    require_all: bool,
    curation: CurationPolicy,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder {
            principles_dir: PathBuf::from("principles"),
            base_principles: true,
            packs: Vec::new(),
            trust_packs: false,
            allow_build_scripts: false,
            plugins_dir: None,
            plugin_target_dir: None,
            cache_dir: Some(default_cache_dir()),
            limits: Limits::default(),
            strict: false,
            max_instances: 1000,
            model: None,
            classifier: Arc::new(RuleClassifier),
            only: None,
            require_all: false,
            curation: CurationPolicy::default(),
        }
    }
}

impl EngineBuilder {
    /// The principles directory (`dimensions.toml` and `<dimension>/*.toml`). Default `principles`.
    pub fn principles_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.principles_dir = dir.into();
        self
    }

    /// Adds a pack (a folder with a `pack.toml`, or a built `.pack` file) to the set; see
    /// [`crate::pack`]. Its principles join the principles directory's, in its vocabulary;
    /// an id already taken, or a value outside the vocabulary, refuses the build.
    pub fn pack(mut self, path: impl Into<PathBuf>) -> Self {
        self.packs.push(path.into());
        self
    }

    /// Whether the principles directory's own principles are in the set. Default true;
    /// false builds a set of the packs alone (the directory still gives the vocabulary and
    /// the `template` plugin).
    pub fn base_principles(mut self, yes: bool) -> Self {
        self.base_principles = yes;
        self
    }

    /// Runs packs' principles with warm instances like the principles directory's. Default
    /// false: a principle from a pack gets a fresh instance for every call (strict mode).
    pub fn trust_packs(mut self, yes: bool) -> Self {
        self.trust_packs = yes;
        self
    }

    /// Builds packs whose crates, or their dependencies beyond the guest SDK's, have build
    /// scripts or procedural macros (code that runs natively, outside the sandbox, while
    /// compiling). Default false: such a pack's crates fail to build with the reason.
    pub fn allow_build_scripts(mut self, yes: bool) -> Self {
        self.allow_build_scripts = yes;
        self
    }

    /// The plugins workspace crate plugins are built from. Default: `plugins` next to the
    /// principles directory.
    pub fn plugins_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.plugins_dir = Some(dir.into());
        self
    }

    /// Cargo's target dir for building plugin crates. Default: `$CLINALIGN_PLUGIN_TARGET_DIR`,
    /// else the plugins workspace's `target/`. Builders that share one take turns.
    pub fn plugin_target_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.plugin_target_dir = Some(dir.into());
        self
    }

    /// Where built and compiled components are cached; `None` turns the cache off.
    /// Default [`default_cache_dir`].
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// Deadline of one principle call. Default 50 ms.
    pub fn plugin_timeout(mut self, timeout: Duration) -> Self {
        self.limits.timeout = timeout;
        self
    }

    /// Memory cap of one principle instance, in bytes. Default 64 MiB.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.limits.memory_bytes = bytes;
        self
    }

    /// All limits at once.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// A fresh instance for every call (untrusted principle sets). Default off: warm
    /// instances, recycled after a trap.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Component instances the pooling allocator reserves. Default 1000.
    pub fn max_instances(mut self, n: u32) -> Self {
        self.max_instances = n;
        self
    }

    /// The language model principles with the `generate`/`score` capability may call.
    pub fn model(mut self, model: Arc<dyn LanguageModel>) -> Self {
        self.model = Some(model);
        self
    }

    /// Replaces the built-in [`RuleClassifier`].
    pub fn classifier(mut self, classifier: Arc<dyn Classifier>) -> Self {
        self.classifier = classifier;
        self
    }

    /// Loads only these principles.
    pub fn only(mut self, ids: Vec<String>) -> Self {
        self.only = Some(ids);
        self
    }

    /// How rubrics are merged and capped. Default: at most 20 items, 4 per principle.
    pub fn curation(mut self, policy: CurationPolicy) -> Self {
        self.curation = policy;
        self
    }

    /// Fails [`Self::build`] if any principle fails to load (instead of leaving it out).
    pub fn require_all(mut self, yes: bool) -> Self {
        self.require_all = yes;
        self
    }

    /// Sets up the runtime, builds and loads the principle set (compiling what the cache
    /// lacks) and self-tests it.
    pub fn build(self) -> Result<Engine> {
        if !self.principles_dir.is_dir() {
            return Err(Error::Invalid(format!("{}: no such principles directory", self.principles_dir.display())));
        }
        let plugins_dir = self.plugins_dir.clone().unwrap_or_else(|| default_plugins_dir(&self.principles_dir));
        let runtime = Arc::new(Runtime::new(RuntimeOptions {
            limits: self.limits,
            strict: self.strict,
            cache_dir: self.cache_dir.clone(),
            max_instances: self.max_instances,
            model: self.model,
        })?);
        let packs = self.packs.iter().map(|p| Pack::open(p, self.cache_dir.as_deref())).collect::<Result<Vec<_>>>()?;
        let source = SetSource {
            principles_dir: self.principles_dir,
            plugins_dir,
            base_principles: self.base_principles,
            packs,
            trust_packs: self.trust_packs,
            allow_build_scripts: self.allow_build_scripts,
            cache_dir: self.cache_dir,
            plugin_target_dir: self.plugin_target_dir,
            only: self.only,
        };
        let set = PrincipleSet::build(&runtime, &source, &*self.classifier, self.require_all)?;
        tracing::info!(
            principle_set = set.hash(),
            principles = set.principles().len(),
            failed = set.failures().len(),
            ms = set.load_time().as_millis() as u64,
            "principle set loaded"
        );
        Ok(Engine {
            inner: Arc::new(Inner {
                runtime,
                source,
                classifier: self.classifier,
                curation: self.curation,
                set: ArcSwap::from_pointee(set),
                last_reload: Mutex::new(None),
                reloading: Mutex::new(()),
            }),
        })
    }
}

/// The plugins workspace beside a principles directory: `<parent>/plugins`.
pub fn default_plugins_dir(principles_dir: &Path) -> PathBuf {
    let abs = std::path::absolute(principles_dir).unwrap_or_else(|_| principles_dir.to_path_buf());
    abs.parent().map(|p| p.join("plugins")).unwrap_or_else(|| PathBuf::from("plugins"))
}

struct Inner {
    runtime: Arc<Runtime>,
    source: SetSource,
    classifier: Arc<dyn Classifier>,
    curation: CurationPolicy,
    set: ArcSwap<PrincipleSet>,
    last_reload: Mutex<Option<ReloadReport>>,
    reloading: Mutex<()>,
}

/// The ClinAlign engine. `Send + Sync`, cheap to clone; calls from many threads run in
/// parallel on warm instances.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// A builder with the defaults.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The live principle set. Holding it keeps it alive across a reload.
    pub fn principle_set(&self) -> Arc<PrincipleSet> {
        self.inner.set.load_full()
    }

    /// The language model principles granted `generate`/`score` reach, when one is set.
    pub fn language_model(&self) -> Option<&Arc<dyn LanguageModel>> {
        self.inner.runtime.options.model.as_ref()
    }

    /// The classifier that fills in missing labels.
    pub fn classifier(&self) -> &dyn Classifier {
        &*self.inner.classifier
    }

    /// Whether instances come from the pooling allocator (else on-demand allocation).
    pub fn pooling(&self) -> bool {
        self.inner.runtime.pooling()
    }

    /// How rubrics are curated.
    pub fn curation(&self) -> &CurationPolicy {
        &self.inner.curation
    }

    /// The limits every principle call runs under.
    pub fn limits(&self) -> &Limits {
        &self.inner.runtime.options.limits
    }

    /// The query's full scenario: its own labels (checked against the vocabulary), and the
    /// classifier's for the dimensions it lacks, in vocabulary order.
    pub fn scenario(&self, query: &Query) -> Result<Vec<Label>> {
        self.scenario_on(&self.principle_set(), query)
    }

    /// Writes the rubric for `query` with the live principle set.
    pub fn synthesize(&self, query: &Query) -> Result<Rubric> {
        self.synthesize_on(&self.principle_set(), query)
    }

    /// Writes the rubric for `query` with a set taken earlier from
    /// [`Engine::principle_set`], so that every query of one request is answered by the same
    /// set even if a reload swaps in another meanwhile.
    pub fn synthesize_on(&self, set: &PrincipleSet, query: &Query) -> Result<Rubric> {
        let scenario = self.scenario_on(set, query)?;
        let labelled = Query { id: query.id.clone(), conversation: query.conversation.clone(), scenario };
        Ok(set.synthesize(&labelled, &self.inner.curation))
    }

    /// [`Engine::scenario`] against the vocabulary of a set taken earlier.
    pub fn scenario_on(&self, set: &PrincipleSet, query: &Query) -> Result<Vec<Label>> {
        scenario_with(set, &*self.inner.classifier, query)
    }

    /// Explains the rubric of `query` with the live set: the rule behind each label the
    /// classifier filled in, what each principle of the pool did, and what curation merged
    /// and dropped. Its `rubric` is the one [`Engine::synthesize`] writes.
    pub fn explain(&self, query: &Query) -> Result<Explanation> {
        self.explain_on(&self.principle_set(), query)
    }

    /// [`Engine::explain`] with a set taken earlier from [`Engine::principle_set`].
    pub fn explain_on(&self, set: &PrincipleSet, query: &Query) -> Result<Explanation> {
        let labels = complete_scenario(set.dimensions(), &*self.inner.classifier, query, true)
            .map_err(|message| Error::Query { id: query.id.clone(), message })?;
        let (scenario, rules): (Vec<Label>, Vec<Option<String>>) = labels.into_iter().unzip();
        let labelled = Query { id: query.id.clone(), conversation: query.conversation.clone(), scenario };
        Ok(set.explain(&labelled, rules, &self.inner.curation))
    }

    /// Builds a new set from the sources and swaps it in if every principle loads and
    /// passes its self-tests; otherwise the live set stays. Requests in flight finish on
    /// the set they started with.
    pub fn reload(&self) -> ReloadReport {
        self.reload_because("manual".into(), Vec::new())
    }

    fn reload_because(&self, trigger: String, files: Vec<FileChange>) -> ReloadReport {
        let _one_at_a_time = self.inner.reloading.lock().unwrap();
        let current = self.principle_set();
        let (report, new_set) =
            reload(&self.inner.runtime, &self.inner.source, &*self.inner.classifier, &current, trigger, files);
        {
            // The set and its report change together, so [`Engine::status`] never pairs a
            // set with another set's report.
            let mut last = self.inner.last_reload.lock().unwrap();
            if let Some(set) = new_set {
                self.inner.set.store(Arc::new(set));
            }
            *last = Some(report.clone());
        }
        log_reload(&report);
        report
    }

    /// How the last reload went (`None` before the first).
    pub fn last_reload(&self) -> Option<ReloadReport> {
        self.inner.last_reload.lock().unwrap().clone()
    }

    /// The live set with the report of the reload that made it (or last left it live), read
    /// together: a reload cannot come between them.
    pub fn status(&self) -> (Arc<PrincipleSet>, Option<ReloadReport>) {
        let last = self.inner.last_reload.lock().unwrap();
        (self.principle_set(), last.clone())
    }

    /// Watches the sources of the principle set (the principles directory, the plugins
    /// workspace and what its crates build from) and reloads when a file's content changes,
    /// until the returned [`Watch`] is dropped. See [`crate::watch`].
    pub fn watch(&self) -> Result<Watch> {
        self.watch_with(|_| {})
    }

    /// [`Engine::watch`], calling `on_reload` with each reload's report (on the watcher's
    /// thread, one at a time), e.g. to show an author what changed.
    pub fn watch_with(&self, on_reload: impl Fn(&ReloadReport) + Send + 'static) -> Result<Watch> {
        let engine = self.clone();
        let principles = &self.inner.source.principles_dir;
        let project = std::path::absolute(principles).ok().and_then(|p| p.parent().map(Path::to_path_buf));
        Watch::start(self.sources()?, move |files| {
            let shown: Vec<String> = files
                .iter()
                .take(5)
                .map(|f| {
                    let path = project.as_ref().and_then(|p| f.path.strip_prefix(p).ok()).unwrap_or(&f.path);
                    FileChange { path: path.to_path_buf(), change: f.change }.to_string()
                })
                .collect();
            let more = if files.len() > 5 { format!(" and {} more", files.len() - 5) } else { String::new() };
            let report = engine.reload_because(format!("watch: {}{more}", shown.join(", ")), files);
            on_reload(&report);
        })
    }

    /// The folders the set is built from: the principles (manifests, `dimensions.toml`,
    /// components), the plugins workspace, the crates outside it that it reaches by path,
    /// the WIT package beside it, and each pack (its folder and plugins workspace, or the
    /// folder of its `.pack` file).
    fn sources(&self) -> Result<Vec<SourceRoot>> {
        let source = &self.inner.source;
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let mut roots =
            vec![SourceRoot { dir: abs(&source.principles_dir), extensions: Some(&["toml", "wasm", "py"]) }];
        let builder = PluginBuilder::new(&source.plugins_dir, None);
        if source.plugins_dir.join("Cargo.toml").is_file() {
            for dir in builder.source_dirs()? {
                roots.push(SourceRoot { dir: abs(&dir), extensions: None });
            }
            if let Some(wit) = abs(&source.plugins_dir).parent().map(|p| p.join("wit")) {
                roots.push(SourceRoot { dir: wit, extensions: None });
            }
        }
        for pack in &source.packs {
            match &pack.file {
                // A built pack: the folder of its .pack file, for that file being replaced.
                Some(file) => {
                    let dir = abs(file).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
                    roots.push(SourceRoot { dir, extensions: Some(&["pack"]) });
                }
                None => {
                    roots.push(SourceRoot { dir: abs(&pack.root), extensions: Some(&["toml", "wasm", "py"]) });
                    let plugins = pack.plugins_dir();
                    if plugins.join("Cargo.toml").is_file() {
                        for dir in PluginBuilder::new(&plugins, None).source_dirs()? {
                            roots.push(SourceRoot { dir: abs(&dir), extensions: None });
                        }
                    }
                }
            }
        }
        roots.dedup();
        Ok(roots)
    }
}

fn scenario_with(set: &PrincipleSet, classifier: &dyn Classifier, query: &Query) -> Result<Vec<Label>> {
    let labels = complete_scenario(set.dimensions(), classifier, query, false)
        .map_err(|message| Error::Query { id: query.id.clone(), message })?;
    Ok(labels.into_iter().map(|(l, _)| l).collect())
}
