//! The source hash of a plugins workspace: what decides whether its components must be
//! rebuilt.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::PluginBuilder;
use crate::error::{Error, Result};

impl PluginBuilder {
    /// sha256 over the workspace's source files (path and bytes; `target/` and hidden
    /// folders other than `.cargo` skipped), the WIT package beside it, and the sources of
    /// the crates outside the workspace that its crates depend on by path.
    pub fn source_hash(&self) -> Result<String> {
        let mut h = Sha256::new();
        for (rel, abs) in self.source_files()? {
            let bytes = std::fs::read(&abs).map_err(|e| Error::io(&abs, e))?;
            h.update(rel.to_string_lossy().as_bytes());
            h.update([0]);
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(&bytes);
        }
        Ok(hex::encode(h.finalize())[..16].to_string())
    }

    /// Every file [`Self::source_hash`] covers, as (name in the hash, path), sorted.
    pub fn source_files(&self) -> Result<Vec<(PathBuf, PathBuf)>> {
        let mut files = Vec::new();
        collect_files(&self.workspace, &self.workspace, &mut files)?;
        for (i, dir) in self.source_dirs()?.iter().skip(1).enumerate() {
            let mut theirs = Vec::new();
            collect_files(dir, dir, &mut theirs)?;
            files
                .extend(theirs.into_iter().map(|(rel, abs)| (PathBuf::from(format!("<path-dep-{i}>")).join(rel), abs)));
        }
        if let Some(root) = self.workspace.parent() {
            let wit = root.join("wit");
            if wit.is_dir() {
                collect_files(&wit, root, &mut files)?;
            }
            for f in ["rust-toolchain.toml", "rust-toolchain"] {
                if root.join(f).is_file() {
                    files.push((PathBuf::from(f), root.join(f)));
                }
            }
        }
        files.sort();
        Ok(files)
    }

    /// The folders whose sources the components are built from: the workspace first, then
    /// the crates outside it that it reaches by path.
    pub fn source_dirs(&self) -> Result<Vec<PathBuf>> {
        let mut dirs = vec![self.workspace.clone()];
        dirs.extend(external_path_crates(&self.workspace)?);
        Ok(dirs)
    }
}

/// The crates outside `workspace` that its manifests (the root and every member's, and
/// theirs in turn) reach through `path = "…"` dependencies, in a stable order.
fn external_path_crates(workspace: &Path) -> Result<Vec<PathBuf>> {
    let root = std::fs::canonicalize(workspace).map_err(|e| Error::io(workspace, e))?;
    let mut pending: Vec<PathBuf> = vec![root.clone()];
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let mut external: BTreeSet<PathBuf> = BTreeSet::new();
    while let Some(dir) = pending.pop() {
        if !seen.insert(dir.clone()) {
            continue;
        }
        let manifest = dir.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        let Ok(doc) = text.parse::<toml::Table>() else { continue };
        let mut paths = Vec::new();
        path_dependencies(&toml::Value::Table(doc.clone()), &mut paths);
        let members = doc.get("workspace").and_then(|w| w.get("members")).and_then(|m| m.as_array());
        for m in members.into_iter().flatten().filter_map(|m| m.as_str()) {
            paths.push(m.to_string());
        }
        for p in paths {
            let Ok(target) = std::fs::canonicalize(dir.join(&p)) else { continue };
            if !target.starts_with(&root) {
                external.insert(target.clone());
            }
            pending.push(target);
        }
    }
    Ok(external.into_iter().collect())
}

/// Every `path` of a dependency table (`[dependencies]`, `[dev-dependencies]`,
/// `[build-dependencies]`, `[workspace.dependencies]`, `[target.*.dependencies]`).
fn path_dependencies(v: &toml::Value, out: &mut Vec<String>) {
    let Some(t) = v.as_table() else { return };
    for (key, value) in t {
        if key.ends_with("dependencies") {
            for dep in value.as_table().into_iter().flat_map(|d| d.values()) {
                if let Some(p) = dep.get("path").and_then(|p| p.as_str()) {
                    out.push(p.to_string());
                }
            }
        } else if matches!(key.as_str(), "workspace" | "target") || key.starts_with("cfg(") || value.is_table() {
            path_dependencies(value, out);
        }
    }
}

fn collect_files(dir: &Path, base: &Path, out: &mut Vec<(PathBuf, PathBuf)>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for e in entries {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        let ty = e.file_type().map_err(|err| Error::io(&path, err))?;
        if ty.is_dir() {
            if name == "target" || (name.starts_with('.') && name != ".cargo") {
                continue;
            }
            collect_files(&path, base, out)?;
        } else if ty.is_file() && !name.ends_with('~') && !name.ends_with(".swp") {
            let rel = path.strip_prefix(base).unwrap_or(&path).to_path_buf();
            out.push((rel, path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_hash_covers_crates_outside_the_workspace_reached_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write(
            "plugins/Cargo.toml",
            "[workspace]\nmembers = [\"a\"]\n[workspace.dependencies]\ncore = { path = \"../core\" }\n",
        );
        write("plugins/a/Cargo.toml", "[package]\nname = \"a\"\n[dependencies]\nlocal = { path = \"../../local\" }\n");
        write("plugins/a/src/lib.rs", "");
        write("core/Cargo.toml", "[package]\nname = \"core\"\n");
        write("core/src/lib.rs", "pub fn one() {}");
        write("local/Cargo.toml", "[package]\nname = \"local\"\n[dependencies]\ndeep = { path = \"../deep\" }\n");
        write("deep/Cargo.toml", "[package]\nname = \"deep\"\n");
        let builder = PluginBuilder::new(dir.path().join("plugins"), None);
        let found = external_path_crates(&builder.workspace).unwrap();
        let names: Vec<String> = found.iter().map(|p| p.file_name().unwrap().to_string_lossy().to_string()).collect();
        assert_eq!(names, ["core", "deep", "local"]);
        let before = builder.source_hash().unwrap();
        write("core/src/lib.rs", "pub fn two() {}");
        assert_ne!(builder.source_hash().unwrap(), before, "an edit outside the workspace rebuilds the plugins");
    }
}
