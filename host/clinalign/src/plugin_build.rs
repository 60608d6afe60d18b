//! Building plugin crates into WebAssembly components, on demand.
//!
//! A manifest that says `plugin = "template"` names a crate of the plugins workspace
//! (`plugins/`, its own cargo workspace). The builder hashes the workspace's sources
//! (every file but `target/`, the WIT package next to it, and the crates outside the
//! workspace it depends on by path, such as `host/clinalign-core`) and keeps the built
//! `.wasm` files under `<cache>/plugins/<hash>/`, so cargo runs only when a source changed.
//! It makes sure the `wasm32-wasip2` target is installed (`rustup target add`) first.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::files::write_atomic;

/// The target principles are built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Builds crates of one plugins workspace.
#[derive(Debug, Clone)]
pub struct PluginBuilder {
    /// The plugins workspace (holds `Cargo.toml` with `[workspace]`).
    pub workspace: PathBuf,
    /// Cargo's target directory; defaults to `<workspace>/target`.
    pub target_dir: PathBuf,
    /// Where built components are kept; `None` builds every time into the target dir.
    pub cache_dir: Option<PathBuf>,
}

impl PluginBuilder {
    /// A builder for `workspace` with cargo's default target directory.
    pub fn new(workspace: impl Into<PathBuf>, cache_dir: Option<PathBuf>) -> PluginBuilder {
        let workspace = workspace.into();
        let target_dir = std::env::var_os("CLINALIGN_PLUGIN_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target"));
        PluginBuilder { workspace, target_dir, cache_dir }
    }

    /// The `.wasm` file of each crate in `crates`, building what the cache lacks with one
    /// cargo invocation. The returned paths are in the order of `crates`.
    pub fn build(&self, crates: &[String]) -> Result<Vec<PathBuf>> {
        if crates.is_empty() {
            return Ok(Vec::new());
        }
        let manifest = self.workspace.join("Cargo.toml");
        if !manifest.is_file() {
            return Err(Error::Build {
                dir: self.workspace.clone(),
                crates: crates.join(", "),
                message: format!("no plugins workspace here ({} is missing)", manifest.display()),
                log: String::new(),
            });
        }
        let hash = self.source_hash()?;
        let cached = |c: &str| self.cache_dir.as_ref().map(|d| d.join("plugins").join(&hash).join(format!("{c}.wasm")));
        let missing: BTreeSet<&String> = crates.iter().filter(|c| cached(c).is_none_or(|p| !p.is_file())).collect();
        if !missing.is_empty() {
            let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            // Builders sharing a target dir (other engines, other processes, copies of the
            // workspace) take turns, so the artifact copied below is the one just built.
            let _turn = self.lock_target_dir()?;
            tracing::info!("building plugin crates {} for {WASM_TARGET} (cached afterwards)", list.join(", "));
            self.ensure_target(&list)?;
            self.cargo_build(&list)?;
            for c in &missing {
                let built = self.built_path(c);
                if let Some(dest) = cached(c) {
                    let bytes = std::fs::read(&built).map_err(|e| Error::io(&built, e))?;
                    write_atomic(&dest, &bytes)?;
                }
            }
        }
        Ok(crates.iter().map(|c| cached(c).unwrap_or_else(|| self.built_path(c))).collect())
    }

    /// An exclusive lock on the target dir, held until the returned file is dropped.
    fn lock_target_dir(&self) -> Result<std::fs::File> {
        std::fs::create_dir_all(&self.target_dir).map_err(|e| Error::io(&self.target_dir, e))?;
        let path = self.target_dir.join(".clinalign-build.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        file.lock().map_err(|e| Error::io(&path, e))?;
        Ok(file)
    }

    /// Where cargo leaves the component of crate `name`.
    fn built_path(&self, name: &str) -> PathBuf {
        self.target_dir.join(WASM_TARGET).join("release").join(format!("{}.wasm", name.replace('-', "_")))
    }

    fn cargo(&self) -> Command {
        let cargo = std::env::var_os("CLINALIGN_CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        // Run inside the workspace so that its .cargo/config.toml (guest stack size) and
        // the project's rust-toolchain.toml apply; drop flags meant for the outer build.
        cmd.current_dir(&self.workspace);
        for var in
            ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_BUILD_RUSTFLAGS", "CARGO_TARGET_DIR"]
        {
            cmd.env_remove(var);
        }
        cmd
    }

    fn build_error(&self, crates: &[&str], message: String, log: &[u8]) -> Error {
        let text = String::from_utf8_lossy(log);
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        Error::Build { dir: self.workspace.clone(), crates: crates.join(", "), message, log: tail }
    }

    /// Installs the wasm target with rustup when the toolchain lacks it.
    fn ensure_target(&self, crates: &[&str]) -> Result<()> {
        let mut rustc = Command::new("rustc");
        rustc.current_dir(&self.workspace).args(["--print", "target-libdir", "--target", WASM_TARGET]);
        if let Ok(out) = rustc.output()
            && out.status.success()
        {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if dir.is_dir() {
                return Ok(());
            }
        }
        tracing::info!("installing the {WASM_TARGET} target with rustup");
        let out = Command::new("rustup")
            .current_dir(&self.workspace)
            .args(["target", "add", WASM_TARGET])
            .output()
            .map_err(|e| self.build_error(crates, format!("the {WASM_TARGET} target is missing and rustup could not be run ({e}); install it with `rustup target add {WASM_TARGET}`"), b""))?;
        if !out.status.success() {
            return Err(self.build_error(crates, format!("`rustup target add {WASM_TARGET}` failed"), &out.stderr));
        }
        Ok(())
    }

    fn cargo_build(&self, crates: &[&str]) -> Result<()> {
        let mut cmd = self.cargo();
        cmd.args(["build", "--release", "--target", WASM_TARGET, "--target-dir"]).arg(&self.target_dir);
        for c in crates {
            cmd.args(["-p", c]);
        }
        let out = cmd.output().map_err(|e| self.build_error(crates, format!("could not run cargo: {e}"), b""))?;
        if !out.status.success() {
            return Err(self.build_error(crates, format!("cargo build failed ({})", out.status), &out.stderr));
        }
        for c in crates {
            if !self.built_path(c).is_file() {
                return Err(self.build_error(
                    crates,
                    format!(
                        "cargo succeeded but {} is missing (is `{c}` a cdylib crate?)",
                        self.built_path(c).display()
                    ),
                    &out.stderr,
                ));
            }
        }
        Ok(())
    }

    /// sha256 over the workspace's source files (path and bytes; `target/` and hidden
    /// folders other than `.cargo` skipped), the WIT package beside it, and the sources of
    /// the crates outside the workspace that its crates depend on by path.
    pub fn source_hash(&self) -> Result<String> {
        let mut files = Vec::new();
        collect_files(&self.workspace, &self.workspace, &mut files)?;
        for (i, dir) in external_path_crates(&self.workspace)?.iter().enumerate() {
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
        let mut h = Sha256::new();
        for (rel, abs) in files {
            let bytes = std::fs::read(&abs).map_err(|e| Error::io(&abs, e))?;
            h.update(rel.to_string_lossy().as_bytes());
            h.update([0]);
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(&bytes);
        }
        Ok(hex::encode(h.finalize())[..16].to_string())
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
