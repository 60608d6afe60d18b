//! Where ClinAlign keeps what it builds and fetches (built and compiled components, models).

use std::path::PathBuf;

/// The cache directory used when none is given: `$CLINALIGN_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/clinalign`, else `~/.cache/clinalign`, else a folder in the temp dir.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CLINALIGN_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("clinalign");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(h).join(".cache").join("clinalign");
    }
    std::env::temp_dir().join("clinalign-cache")
}
