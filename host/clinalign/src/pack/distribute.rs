//! A pack's built form: one `.pack` file (a zip archive) holding `pack.toml`, the manifests
//! pointed at their components, `components/*.wasm`, and `pack.lock` with the sha256 of
//! each manifest and component. Written deterministically (sorted entries, fixed times), so
//! the same components give the same file; unpacked once per file content.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;

use super::{LOCK_FILE, PACK_EXTENSION, PACK_FILE, Pack, PackLock};
use crate::error::{Error, Result};
use crate::files::{sha256_hex, temp_file_beside};
use crate::manifest::{Manifest, PluginRef};

/// One component of a built pack.
#[derive(Debug, Clone)]
pub struct BuiltComponent {
    /// `components/<name>.wasm`.
    pub path: String,
    pub sha256: String,
    pub bytes: usize,
    /// The ids of the principles it runs.
    pub principles: Vec<String>,
}

/// What [`write`] produced.
#[derive(Debug, Clone)]
pub struct BuiltPack {
    /// The `.pack` file.
    pub file: PathBuf,
    pub sha256: String,
    pub principles: usize,
    pub components: Vec<BuiltComponent>,
}

/// One principle to put in the built pack, with the bytes of the component it runs and
/// the name that component gets (`components/<name>.wasm`, shared by principles that
/// share a plugin; a crate's is the crate's name).
pub struct Entry<'a> {
    pub manifest: &'a Manifest,
    pub component: String,
    pub bytes: &'a [u8],
}

/// Writes the built form of `pack` to `<out_dir>/<name>-<version>.pack` (atomically: a
/// reader never sees half a file).
pub fn write(pack: &Pack, entries: &[Entry<'_>], out_dir: &Path) -> Result<BuiltPack> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut lock = PackLock { pack: pack.info.label(), ..Default::default() };
    let mut components: Vec<BuiltComponent> = Vec::new();
    for e in entries {
        let component = format!("components/{}.wasm", e.component);
        match components.iter_mut().find(|c| c.path == component) {
            Some(c) => c.principles.push(e.manifest.id.clone()),
            None => {
                let sha = sha256_hex(e.bytes);
                lock.components.insert(component.clone(), sha.clone());
                files.push((component.clone(), e.bytes.to_vec()));
                components.push(BuiltComponent {
                    path: component,
                    sha256: sha,
                    bytes: e.bytes.len(),
                    principles: vec![e.manifest.id.clone()],
                });
            }
        }
        let name = e.manifest.path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let rel = format!("principles/{}/{name}", e.manifest.dimension);
        // A crate's component is found by its name (`plugin = "template"` stays as written,
        // so the manifest still reads as a template principle); a `.wasm` or Python plugin
        // is pointed at its component, two folders above the manifest.
        let text = match &e.manifest.plugin {
            PluginRef::Crate(_) => e.manifest.source_text().to_string(),
            _ => e.manifest.with_plugin(&format!("../../components/{}.wasm", e.component)),
        };
        lock.manifests.insert(rel.clone(), sha256_hex(text.as_bytes()));
        files.push((rel, text.into_bytes()));
    }
    let info = std::fs::read(&pack.info.path).map_err(|e| Error::io(&pack.info.path, e))?;
    files.push((PACK_FILE.to_string(), info));
    let lock_text = format!(
        "# Written by `clinalign pack build`: the sha256 of every file the pack runs. A host checks\n\
         # them before loading; a file that differs is refused.\n{}",
        toml::to_string(&lock).map_err(|e| Error::Invalid(format!("{LOCK_FILE}: {e}")))?
    );
    files.push((LOCK_FILE.to_string(), lock_text.into_bytes()));
    files.sort_by(|a, b| a.0.cmp(&b.0));

    let file = out_dir.join(format!("{}-{}.{PACK_EXTENSION}", pack.info.name, pack.info.version));
    let mut tmp = temp_file_beside(&file)?;
    {
        let mut zip = zip::ZipWriter::new(tmp.as_file_mut());
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(0o644);
        for (name, bytes) in &files {
            zip.start_file(name.as_str(), options).map_err(|e| zip_error(&file, e))?;
            zip.write_all(bytes).map_err(|e| Error::io(&file, e))?;
        }
        zip.finish().map_err(|e| zip_error(&file, e))?;
    }
    tmp.as_file().sync_all().map_err(|e| Error::io(&file, e))?;
    tmp.persist(&file).map_err(|e| Error::io(&file, e.error))?;
    let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
    components.iter_mut().for_each(|c| c.principles.sort());
    Ok(BuiltPack { file, sha256: sha256_hex(&bytes), principles: entries.len(), components })
}

/// Unpacks a `.pack` file once: into `<cache>/packs/<sha256 of the file>/` (the system's
/// temporary folder without a cache), through a temporary folder and a rename, so that a
/// half-unpacked pack is never loaded. Entries that would land outside the folder are
/// refused.
pub fn unpack(file: &Path, cache_dir: Option<&Path>) -> Result<PathBuf> {
    let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    let sha = sha256_hex(&bytes);
    let base = cache_dir.map(Path::to_path_buf).unwrap_or_else(|| std::env::temp_dir().join("clinalign"));
    let dest = base.join("packs").join(&sha[..16]);
    if dest.join(PACK_FILE).is_file() {
        return Ok(dest);
    }
    let parent = dest.parent().expect("under packs/");
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let staging =
        tempfile::Builder::new().prefix(".unpacking-").tempdir_in(parent).map_err(|e| Error::io(parent, e))?;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes))
        .map_err(|e| Error::Invalid(format!("{}: not a pack file (not a zip archive: {e})", file.display())))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| zip_error(file, e))?;
        let Some(rel) = entry.enclosed_name() else {
            return Err(Error::Invalid(format!(
                "{}: entry {:?} would be written outside the pack; refusing the file",
                file.display(),
                entry.name()
            )));
        };
        let out = staging.path().join(rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
            continue;
        }
        if let Some(p) = out.parent() {
            std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
        }
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(|e| Error::io(file, e))?;
        std::fs::write(&out, content).map_err(|e| Error::io(&out, e))?;
    }
    let staged = staging.keep();
    match std::fs::rename(&staged, &dest) {
        Ok(()) => Ok(dest),
        // Another process unpacked the same file first: use its copy.
        Err(_) if dest.join(PACK_FILE).is_file() => {
            let _ = std::fs::remove_dir_all(&staged);
            Ok(dest)
        }
        Err(e) => Err(Error::io(&dest, e)),
    }
}

fn zip_error(file: &Path, e: zip::result::ZipError) -> Error {
    Error::Invalid(format!("{}: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pack_file_with_an_entry_outside_its_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("evil.pack");
        {
            let f = std::fs::File::create(&file).unwrap();
            let mut zip = zip::ZipWriter::new(f);
            zip.start_file("../../escaped.txt", SimpleFileOptions::default()).unwrap();
            zip.write_all(b"x").unwrap();
            zip.finish().unwrap();
        }
        let err = unpack(&file, Some(&dir.path().join("cache"))).unwrap_err().to_string();
        assert!(err.contains("would be written outside the pack"), "{err}");
        assert!(!dir.path().join("escaped.txt").exists());
        std::fs::write(&file, b"not a zip").unwrap();
        let err = unpack(&file, Some(&dir.path().join("cache"))).unwrap_err().to_string();
        assert!(err.contains("not a pack file"), "{err}");
    }
}
