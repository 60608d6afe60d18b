//! Building principles written in Python into WebAssembly components, with componentize-py.
//!
//! A manifest that says `plugin = "python:dosing.py"` names a Python module beside it. The
//! builder copies the module and the modules of its folder that it imports (see
//! [`module_files`]) into a temporary folder with the WIT package this host embeds (the newest version it
//! supports, [`crate::WIT_VERSION`]) and an entry module of its own (see `entry.py`), and runs
//! `componentize-py componentize` on them: the component embeds CPython and the sources,
//! so the repository's `wit/` folder is not needed at run time and nothing is written
//! beside the sources (no `__pycache__`). Built components are kept under
//! `<cache>/python/<key>.wasm`, the key being a hash of the sources, the WIT text, the entry
//! module and the componentize-py version; a build that fails is remembered the same way,
//! so loading again does not rerun componentize-py for the same sources.
//!
//! componentize-py itself is found or installed by [`toolchain`].

mod diagnostics;
pub mod toolchain;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use self::toolchain::{COMPONENTIZE_PY_VERSION, ComponentizePy};
use crate::error::{Error, Result};
use crate::files::{write_atomic, write_new_atomic};

/// The WIT package Python principles are built against, inside the host's binary:
/// `wit/0.2.0/`, the newest version the host supports ([`crate::WIT_VERSION`]).
pub const PYTHON_WIT: &str = include_str!("../../../../wit/0.2.0/principle.wit");

/// The entry module componentize-py builds; it imports the principle's module.
const ENTRY: &str = include_str!("entry.py");
const ENTRY_MODULE: &str = "_clinalign_entry";

/// A build that failed, as kept in the cache: where and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Failure {
    /// The file the error is in, relative to the principle's folder.
    file: String,
    line: Option<u32>,
    message: String,
    log: String,
}

/// Builds Python principles, each once per content (see the module's documentation).
#[derive(Debug)]
pub struct PythonBuilder {
    /// Where built components and the installed componentize-py are kept; `None` builds
    /// every time (componentize-py then goes under [`clinalign_core::default_cache_dir`]).
    pub cache_dir: Option<PathBuf>,
    /// Where componentize-py is found or installed (`<dir>/tools/`); `None`: `cache_dir`.
    pub tool_cache_dir: Option<PathBuf>,
    tool: OnceLock<std::result::Result<ComponentizePy, String>>,
}

impl PythonBuilder {
    /// A builder keeping its components in `<cache_dir>/python`.
    pub fn new(cache_dir: Option<PathBuf>) -> PythonBuilder {
        PythonBuilder { cache_dir, tool_cache_dir: None, tool: OnceLock::new() }
    }

    /// The component of each Python module in `sources`, in that order, building what the
    /// cache lacks (two at a time). A module that does not build fails alone, with the file
    /// and line componentize-py or Python named.
    pub fn build(&self, sources: &[PathBuf]) -> Vec<Result<Vec<u8>>> {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build();
        match pool {
            Ok(pool) => pool.install(|| sources.par_iter().map(|s| self.build_one(s)).collect()),
            Err(_) => sources.iter().map(|s| self.build_one(s)).collect(),
        }
    }

    /// The component of one Python module.
    pub fn build_one(&self, source: &Path) -> Result<Vec<u8>> {
        let files = module_files(source)?;
        let key = self.key(source, &files)?;
        let cache = self.cache_dir.as_ref().map(|d| d.join("python"));
        let cached = cache.as_ref().map(|d| d.join(format!("{key}.wasm")));
        let known_failure = cache.as_ref().map(|d| d.join(format!("{key}.failed")));
        let lookup = || -> Option<Result<Vec<u8>>> {
            if let Some(p) = cached.as_ref().filter(|p| p.is_file()) {
                return Some(std::fs::read(p).map_err(|e| Error::io(p, e)));
            }
            let text = known_failure.as_ref().and_then(|p| std::fs::read_to_string(p).ok())?;
            let failure: Failure = serde_json::from_str(&text).ok()?;
            Some(Err(failure.error(source)))
        };
        if let Some(found) = lookup() {
            return found;
        }
        // Builders of the same sources (other engines, other processes) take turns, so
        // componentize-py runs once per key.
        let _turn = match &cache {
            Some(dir) => Some(lock(&dir.join(format!("{key}.lock")))?),
            None => None,
        };
        if let Some(found) = lookup() {
            return found;
        }
        tracing::info!("building Python principle {} with componentize-py (cached afterwards)", source.display());
        match self.componentize(source, &files) {
            Ok(bytes) => {
                if let Some(dest) = &cached {
                    write_new_atomic(dest, &bytes)?;
                }
                Ok(bytes)
            }
            Err(Built::Failed(failure)) => {
                if let Some(p) = &known_failure
                    && let Ok(text) = serde_json::to_string(&failure)
                {
                    // The same sources fail the same way: later loads skip componentize-py.
                    let _ = write_atomic(p, text.as_bytes());
                }
                Err(failure.error(source))
            }
            Err(Built::NoTool(message)) => {
                Err(Error::PythonBuild { file: source.to_path_buf(), line: None, message, log: String::new() })
            }
        }
    }

    /// What the component of `source` is built from, as a hash (its build cache key): the
    /// same sources, WIT and componentize-py give the same key on every machine, while
    /// componentize-py's output differs from one build to the next.
    pub fn key_of(&self, source: &Path) -> Result<String> {
        self.key(source, &module_files(source)?)
    }

    /// The cache key of a module: its folder's Python files (names and bytes), the WIT
    /// text, the entry module, and the componentize-py version (the one reported by
    /// `$CLINALIGN_COMPONENTIZE_PY` when that is set, else the pinned one).
    fn key(&self, source: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<String> {
        let mut h = Sha256::new();
        let version = if std::env::var_os("CLINALIGN_COMPONENTIZE_PY").is_some_and(|v| !v.is_empty()) {
            match self.tool() {
                Ok(t) => t.version.clone(),
                Err(message) => {
                    return Err(Error::PythonBuild {
                        file: source.to_path_buf(),
                        line: None,
                        message: message.clone(),
                        log: String::new(),
                    });
                }
            }
        } else {
            format!("componentize-py {COMPONENTIZE_PY_VERSION}")
        };
        for part in [version.as_str(), PYTHON_WIT, ENTRY, &module_name(source)] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        for (rel, bytes) in files {
            h.update(rel.to_string_lossy().as_bytes());
            h.update([0]);
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        }
        Ok(hex::encode(h.finalize())[..16].to_string())
    }

    /// componentize-py, found or installed once per builder.
    fn tool(&self) -> std::result::Result<&ComponentizePy, &String> {
        self.tool
            .get_or_init(|| {
                let cache = (self.tool_cache_dir.clone().or_else(|| self.cache_dir.clone()))
                    .unwrap_or_else(clinalign_core::default_cache_dir);
                ComponentizePy::find_or_install(&cache)
            })
            .as_ref()
    }

    /// Runs componentize-py on a copy of the module's folder.
    fn componentize(&self, source: &Path, files: &[(PathBuf, Vec<u8>)]) -> std::result::Result<Vec<u8>, Built> {
        let tool = self.tool().map_err(|m| Built::NoTool(m.clone()))?;
        let io = |path: &Path, e: std::io::Error| Built::NoTool(format!("{}: {e}", path.display()));
        let scratch = match &self.cache_dir {
            Some(d) => {
                let dir = d.join("python");
                std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
                tempfile::Builder::new().prefix(".build-").tempdir_in(&dir).map_err(|e| io(&dir, e))?
            }
            None => tempfile::tempdir().map_err(|e| io(Path::new("temp dir"), e))?,
        };
        let (wit, src) = (scratch.path().join("wit"), scratch.path().join("src"));
        let write = |path: &Path, bytes: &[u8]| -> std::result::Result<(), Built> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            std::fs::write(path, bytes).map_err(|e| io(path, e))
        };
        write(&wit.join("principle.wit"), PYTHON_WIT.as_bytes())?;
        for (rel, bytes) in files {
            write(&src.join(rel), bytes)?;
        }
        let entry = ENTRY.replace("@MODULE@", &module_name(source));
        write(&src.join(format!("{ENTRY_MODULE}.py")), entry.as_bytes())?;
        let out_path = scratch.path().join("principle.wasm");
        let mut cmd = tool.command();
        cmd.arg("-d").arg(&wit).args(["-w", "principle", "componentize", ENTRY_MODULE, "-p"]).arg(&src);
        cmd.arg("-o").arg(&out_path).current_dir(scratch.path());
        let out = cmd.output().map_err(|e| Built::NoTool(format!("could not run {}: {e}", tool.program.display())))?;
        if out.status.success()
            && let Ok(bytes) = std::fs::read(&out_path)
        {
            return Ok(bytes);
        }
        let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        let scratch_src = src.to_string_lossy().into_owned();
        Err(Built::Failed(diagnostics::read(&text, &module_name(source), &scratch_src, out.status.to_string())))
    }
}

impl Failure {
    /// The error for the module at `source`: the file named by its path beside it.
    fn error(&self, source: &Path) -> Error {
        let folder = source.parent().unwrap_or(Path::new(""));
        let file = if self.file.is_empty() { source.to_path_buf() } else { folder.join(&self.file) };
        let folder_text = format!("{}/", folder.display());
        let log = self.log.replace("@SRC@/", if folder_text == "/" { "" } else { &folder_text });
        Error::PythonBuild { file, line: self.line, message: self.message.clone(), log }
    }
}

/// What a componentize-py run came to when it gave no component.
enum Built {
    /// componentize-py ran and rejected the sources.
    Failed(Failure),
    /// componentize-py could not be had or run (not remembered: the next load tries again).
    NoTool(String),
}

/// The module name of a Python source: its file name without `.py`.
pub fn module_name(source: &Path) -> String {
    source.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The Python files a module is built from, as (name relative to its folder, bytes),
/// sorted: the module, and the modules and packages of its folder that it imports (by an
/// `import x` or `from x import …` line), and theirs in turn. Editing a principle rebuilds
/// it alone, not the other principles beside it; a module imported only through
/// `importlib` is not found this way (import it by name).
pub fn module_files(source: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    if !source.is_file() {
        return Err(Error::PythonBuild {
            file: source.to_path_buf(),
            line: None,
            message: "no such Python file".into(),
            log: String::new(),
        });
    }
    let folder = source.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut out: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut pending = vec![source.to_path_buf()];
    while let Some(path) = pending.pop() {
        let rel = path.strip_prefix(folder).unwrap_or(&path).to_path_buf();
        if out.iter().any(|(r, _)| *r == rel) {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        for name in imported_modules(&String::from_utf8_lossy(&bytes)) {
            let module = folder.join(format!("{name}.py"));
            let package = folder.join(&name);
            if module.is_file() {
                pending.push(module);
            } else if package.join("__init__.py").is_file() {
                let mut files = Vec::new();
                collect_python(&package, &mut files)?;
                pending.extend(files);
            }
        }
        out.push((rel, bytes));
    }
    out.sort();
    Ok(out)
}

/// The top-level names a Python source imports (`import a.b, c` gives `a` and `c`; `from
/// a.b import c` gives `a`; relative imports are left out).
fn imported_modules(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in text.lines().map(str::trim_start) {
        let list = if let Some(rest) = line.strip_prefix("import ") {
            rest
        } else if let Some(rest) = line.strip_prefix("from ") {
            rest.split(" import").next().unwrap_or_default()
        } else {
            continue;
        };
        for part in list.split(',') {
            let first = part.trim().split(['.', ' ']).next().unwrap_or_default();
            if !first.is_empty() && first.chars().all(|c| c.is_alphanumeric() || c == '_') {
                names.push(first.to_string());
            }
        }
    }
    names
}

/// Every `.py` file under `dir` (`__pycache__` and hidden folders skipped).
fn collect_python(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let ty = e.file_type().map_err(|err| Error::io(&path, err))?;
        if ty.is_dir() {
            if name != "__pycache__" && !name.starts_with('.') {
                collect_python(&path, out)?;
            }
        } else if ty.is_file() && name.ends_with(".py") {
            out.push(path);
        }
    }
    Ok(())
}

/// An exclusive lock on `path`, held until the returned file is dropped.
fn lock(path: &Path) -> Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.lock().map_err(|e| Error::io(path, e))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::WIT_VERSION;

    #[test]
    fn the_embedded_wit_is_the_newest_version_the_host_supports() {
        assert!(PYTHON_WIT.contains(&format!("package clinalign:principle@{WIT_VERSION};")));
        assert_eq!(crate::runtime::SUPPORTED_VERSIONS.last(), Some(&WIT_VERSION));
    }

    #[test]
    fn the_key_covers_the_module_and_the_local_modules_it_imports() {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("dosing.py", "import json, helpers\nfrom tables.adult import x\nimport wit_world\n");
        write("helpers.py", "from . import nothing\nimport units\n");
        write("units.py", "KG = 1\n");
        write("tables/__init__.py", "");
        write("tables/adult.py", "x = 1\n");
        write("other_principle.py", "y = 2\n");
        write("dosing.toml", "a = 1");
        let main = dir.path().join("dosing.py");
        let builder = PythonBuilder::new(None);
        let key = |b: &PythonBuilder| b.key(&main, &module_files(&main).unwrap()).unwrap();
        let names: Vec<String> =
            module_files(&main).unwrap().into_iter().map(|(p, _)| p.to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["dosing.py", "helpers.py", "tables/__init__.py", "tables/adult.py", "units.py"]);
        let before = key(&builder);
        write("dosing.toml", "a = 2");
        write("other_principle.py", "y = 3\n");
        assert_eq!(key(&builder), before, "neither the manifest nor another principle rebuilds it");
        write("units.py", "KG = 2\n");
        assert_ne!(key(&builder), before, "a module it imports, even through another, rebuilds it");
    }
}
