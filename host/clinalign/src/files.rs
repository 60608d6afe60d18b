//! Files: atomic writes, content hashes, and line numbers for error messages.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// 1-based line number of byte `offset` in `src`.
pub(crate) fn line_of(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset.min(src.len())].iter().filter(|b| **b == b'\n').count() + 1
}

/// The entries of `dir`, sorted by path.
pub(crate) fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    out.sort();
    Ok(out)
}

/// Dot files and editor back-ups (`x.toml~`, `.x.toml.swp`) are not principles.
pub(crate) fn is_hidden(p: &Path) -> bool {
    p.file_name().and_then(|f| f.to_str()).is_none_or(|f| f.starts_with('.') || f.ends_with('~'))
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename,
/// so readers never see half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = temp_file_beside(path)?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Like [`write_atomic`], but keeps a file already at `path` (whoever writes first wins):
/// for content-addressed caches that builders in several processes fill at once, so that
/// every reader of one key sees the same bytes. Returns whether it wrote.
pub fn write_new_atomic(path: &Path, bytes: &[u8]) -> Result<bool> {
    if path.is_file() {
        return Ok(false);
    }
    let mut tmp = temp_file_beside(path)?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Error::io(path, e.error)),
    }
}

/// A temporary file in `path`'s directory (created if missing), to be renamed onto `path`
/// once written. It gets the permissions `path` has, or those of a new file (`0666` less
/// the umask) when `path` does not exist yet, rather than the temporary file's private `0600`.
pub fn temp_file_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".clinalign-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let tmp = builder.tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
    if let Ok(meta) = std::fs::metadata(path) {
        tmp.as_file().set_permissions(meta.permissions()).map_err(|e| Error::io(tmp.path(), e))?;
    }
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_atomic_write_keeps_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c/x.wasm");
        assert!(write_new_atomic(&path, b"first").unwrap());
        assert!(!write_new_atomic(&path, b"second").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
    }

    #[test]
    fn atomic_writes_get_the_permissions_of_an_ordinary_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("sub/fresh.json");
        write_atomic(&fresh, b"{}").unwrap();
        assert_eq!(std::fs::read(&fresh).unwrap(), b"{}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let ordinary = dir.path().join("ordinary");
            std::fs::write(&ordinary, b"x").unwrap();
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&fresh), mode(&ordinary), "like a file created by std::fs::write");
            std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o640)).unwrap();
            write_atomic(&fresh, b"[]").unwrap();
            assert_eq!(mode(&fresh), 0o640, "a replaced file keeps its permissions");
        }
    }
}
