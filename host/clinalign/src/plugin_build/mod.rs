//! Building plugin crates into WebAssembly components, on demand.
//!
//! A manifest that says `plugin = "template"` names a crate of the plugins workspace
//! (`plugins/`, its own cargo workspace). The builder hashes the workspace's sources
//! (every file but `target/`, the WIT package next to it, and the crates outside the
//! workspace it depends on by path, such as `host/clinalign-core`) and keeps the built
//! `.wasm` files under `<cache>/plugins/<hash>/`, so cargo runs only when a source changed.
//! It makes sure the `wasm32-wasip2` target is installed (`rustup target add`) first.
//!
//! All crates build in one cargo run that goes on past a crate that fails, so a crate that
//! does not compile fails alone, with the compiler's first errors (see [`diagnostics`]); the
//! failure is remembered for those sources, so loading again does not rerun cargo.

pub mod diagnostics;
mod source_hash;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use self::diagnostics::BuildOutcome;
use crate::error::{Error, Result};
use crate::files::{write_atomic, write_new_atomic};

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
        // Absolute, because cargo runs inside the workspace: a relative target dir would
        // land in `<workspace>/<workspace>/target`.
        let workspace = workspace.into();
        let workspace = std::path::absolute(&workspace).unwrap_or(workspace);
        let target_dir = std::env::var_os("CLINALIGN_PLUGIN_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target"));
        PluginBuilder { workspace, target_dir, cache_dir }
    }

    /// The `.wasm` file of each crate in `crates`, in that order, building what the cache
    /// lacks with one cargo run. A crate that does not compile fails alone: its entry holds
    /// the compiler's first errors, and the others build and load. The outer error is for
    /// what stops every crate (no workspace, no cargo, no wasm target).
    pub fn build(&self, crates: &[String]) -> Result<Vec<Result<PathBuf>>> {
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
        let cache = self.cache_dir.as_ref().map(|d| d.join("plugins").join(&hash));
        let cached = |c: &str| cache.as_ref().map(|d| d.join(format!("{c}.wasm")));
        let known_failure = |c: &str| cache.as_ref().map(|d| d.join(format!("{c}.failed")));
        let mut results: BTreeMap<&str, Result<PathBuf>> = BTreeMap::new();
        for c in crates {
            if let Some(p) = cached(c).filter(|p| p.is_file()) {
                results.insert(c, Ok(p));
            } else if let Some(log) = known_failure(c).and_then(|p| std::fs::read_to_string(p).ok()) {
                results.insert(c, Err(self.compile_error(c, log)));
            }
        }
        let mut missing: Vec<&str> = crates.iter().map(|c| c.as_str()).filter(|c| !results.contains_key(c)).collect();
        missing.sort();
        missing.dedup();
        if !missing.is_empty() {
            // Builders sharing a target dir (other engines, other processes, copies of the
            // workspace) take turns, so the artifact copied below is the one just built.
            let _turn = self.lock_target_dir()?;
            tracing::info!("building plugin crates {} for {WASM_TARGET} (cached afterwards)", missing.join(", "));
            self.ensure_target(&missing)?;
            let run = self.cargo_build(&missing)?;
            for c in missing {
                let result = if run.outcome.produced(c) {
                    let built = self.built_path(c);
                    // The first build of these sources to reach the cache is the one every
                    // loader uses: copies of the workspace elsewhere (other paths) build
                    // components that differ in the paths compiled into them.
                    match cached(c) {
                        Some(dest) => std::fs::read(&built)
                            .map_err(|e| Error::io(&built, e))
                            .and_then(|bytes| write_new_atomic(&dest, &bytes))
                            .map(|_| dest),
                        None => Ok(built),
                    }
                } else if let Some(log) = run.outcome.why_not(c) {
                    if let Some(p) = known_failure(c) {
                        // The same sources fail the same way: later loads skip cargo.
                        let _ = write_atomic(&p, log.as_bytes());
                    }
                    Err(self.compile_error(c, log))
                } else {
                    Err(self.build_error(&[c], "cargo built no component".into(), run.stderr.as_bytes()))
                };
                results.insert(c, result);
            }
        }
        Ok(crates
            .iter()
            .map(|c| match results.get(c.as_str()) {
                Some(Ok(p)) => Ok(p.clone()),
                Some(Err(e)) => Err(e.duplicate()),
                None => unreachable!("every crate has a result"),
            })
            .collect())
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

    /// A crate that does not compile: `log` holds the compiler's first errors.
    fn compile_error(&self, krate: &str, log: String) -> Error {
        Error::Build { dir: self.workspace.clone(), crates: krate.to_string(), message: "does not compile".into(), log }
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

    /// One cargo run over `crates`, going on past a crate that fails (`--keep-going`), read
    /// crate by crate. Fails only when cargo cannot run or fails before compiling anything.
    fn cargo_build(&self, crates: &[&str]) -> Result<CargoRun> {
        let mut cmd = self.cargo();
        cmd.args(["build", "--release", "--keep-going", "--message-format=json", "--target", WASM_TARGET]);
        cmd.arg("--target-dir").arg(&self.target_dir);
        for c in crates {
            cmd.args(["-p", c]);
        }
        let out = cmd.output().map_err(|e| self.build_error(crates, format!("could not run cargo: {e}"), b""))?;
        let outcome = BuildOutcome::parse(&String::from_utf8_lossy(&out.stdout));
        if !out.status.success() && outcome.built.is_empty() && outcome.errors.is_empty() {
            return Err(self.build_error(crates, format!("cargo build failed ({})", out.status), &out.stderr));
        }
        for c in crates {
            if outcome.produced(c) && !self.built_path(c).is_file() {
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
        Ok(CargoRun { outcome, stderr: String::from_utf8_lossy(&out.stderr).into_owned() })
    }
}

/// What one cargo run produced, and its stderr for errors no crate's messages explain.
struct CargoRun {
    outcome: BuildOutcome,
    stderr: String,
}
