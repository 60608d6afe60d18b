//! What building a pack from source would run natively: build scripts and procedural
//! macros.
//!
//! A principle runs in the wasm sandbox, but compiling it does not: cargo runs each crate's
//! `build.rs` and every procedural macro as ordinary programs on the building machine, with
//! the user's rights. So before cargo builds a pack's crates, the host asks `cargo metadata`
//! (which resolves the dependency graph and runs nothing) for every package with a
//! `custom-build` or `proc-macro` target. Those the guest SDK itself depends on
//! (`wit-bindgen`'s macros, `serde_derive`, …) come with the host and are allowed; any
//! other, in the pack's own crates or their dependencies, refuses the build unless the user
//! allowed build scripts explicitly.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::plugin_build::WASM_TARGET;

/// The guest SDK's package name: its dependency closure is trusted.
pub const SDK_PACKAGE: &str = "clinalign-sdk";

/// A package that would run code natively at build time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeCode {
    /// `<name>@<version>`.
    pub package: String,
    /// `build script` or `procedural macro`.
    pub what: &'static str,
    /// Its manifest (`Cargo.toml`).
    pub manifest: String,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    resolve: Option<Resolve>,
}

#[derive(Deserialize)]
struct Package {
    id: String,
    name: String,
    version: String,
    manifest_path: String,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    kind: Vec<String>,
}

#[derive(Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Deserialize)]
struct Node {
    id: String,
    #[serde(default)]
    dependencies: Vec<String>,
}

/// The packages of `workspace`'s dependency graph (for the wasm target) that have a build
/// script or a procedural macro and are not part of the guest SDK's own dependencies.
pub fn native_code(workspace: &Path) -> Result<Vec<NativeCode>> {
    let cargo = std::env::var_os("CLINALIGN_CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace)
        .args(["metadata", "--format-version", "1", "--filter-platform", WASM_TARGET])
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .map_err(|e| Error::io(workspace, e))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(Error::Build {
            dir: workspace.to_path_buf(),
            crates: "(all)".into(),
            message: "`cargo metadata` failed, so what the build would run natively is unknown".into(),
            log: tail.join("\n"),
        });
    }
    let meta: Metadata = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Invalid(format!("{}: cargo metadata: {e}", workspace.display())))?;
    Ok(offenders(&meta))
}

fn offenders(meta: &Metadata) -> Vec<NativeCode> {
    let nodes: HashMap<&str, &Node> = meta.resolve.iter().flat_map(|r| &r.nodes).map(|n| (n.id.as_str(), n)).collect();
    let mut trusted: BTreeSet<&str> = BTreeSet::new();
    let mut pending: Vec<&str> =
        meta.packages.iter().filter(|p| p.name == SDK_PACKAGE).map(|p| p.id.as_str()).collect();
    while let Some(id) = pending.pop() {
        if trusted.insert(id)
            && let Some(n) = nodes.get(id)
        {
            pending.extend(n.dependencies.iter().map(String::as_str));
        }
    }
    let mut out = Vec::new();
    for p in &meta.packages {
        if trusted.contains(p.id.as_str()) || (!nodes.is_empty() && !nodes.contains_key(p.id.as_str())) {
            continue;
        }
        let kinds: BTreeSet<&str> = p.targets.iter().flat_map(|t| t.kind.iter().map(String::as_str)).collect();
        for (kind, what) in [("custom-build", "build script"), ("proc-macro", "procedural macro")] {
            if kinds.contains(kind) {
                out.push(NativeCode {
                    package: format!("{}@{}", p.name, p.version),
                    what,
                    manifest: p.manifest_path.clone(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.package.cmp(&b.package));
    out
}

/// The error that refuses a build: each package and what it would run.
pub fn refusal(workspace: &Path, crates: &[String], found: &[NativeCode]) -> Error {
    let list: Vec<String> = found.iter().map(|n| format!("{} has a {} ({})", n.package, n.what, n.manifest)).collect();
    Error::Build {
        dir: workspace.to_path_buf(),
        crates: crates.join(", "),
        message: format!(
            "refusing to build: {} would run code on this machine, outside the wasm sandbox, while compiling: {}. \
             Load the pack's built form (clinalign pack build) instead, or allow it with --allow-build-scripts \
             if you trust its authors",
            if found.len() == 1 { "one package" } else { "these packages" },
            list.join("; ")
        ),
        log: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(id: &str, kinds: &[&str]) -> Package {
        Package {
            id: id.into(),
            name: id.into(),
            version: "1.0.0".into(),
            manifest_path: format!("/x/{id}/Cargo.toml"),
            targets: vec![Target { kind: kinds.iter().map(|k| k.to_string()).collect() }],
        }
    }

    fn node(id: &str, deps: &[&str]) -> Node {
        Node { id: id.into(), dependencies: deps.iter().map(|d| d.to_string()).collect() }
    }

    #[test]
    fn what_the_sdk_brings_is_allowed_and_the_rest_is_named() {
        let meta = Metadata {
            packages: vec![
                package("mine", &["cdylib"]),
                package(SDK_PACKAGE, &["lib"]),
                package("wit-bindgen-rust-macro", &["proc-macro"]),
                package("their-macro", &["proc-macro"]),
                package("scripted", &["lib", "custom-build"]),
            ],
            resolve: Some(Resolve {
                nodes: vec![
                    node("mine", &[SDK_PACKAGE, "their-macro", "scripted"]),
                    node(SDK_PACKAGE, &["wit-bindgen-rust-macro"]),
                    node("wit-bindgen-rust-macro", &[]),
                    node("their-macro", &[]),
                    node("scripted", &[]),
                ],
            }),
        };
        let found = offenders(&meta);
        let names: Vec<(&str, &str)> = found.iter().map(|n| (n.package.as_str(), n.what)).collect();
        assert_eq!(names, [("scripted@1.0.0", "build script"), ("their-macro@1.0.0", "procedural macro")]);
        let msg = refusal(Path::new("/p/plugins"), &["mine".into()], &found).to_string();
        assert!(msg.contains("scripted@1.0.0 has a build script (/x/scripted/Cargo.toml)"), "{msg}");
        assert!(msg.contains("--allow-build-scripts"), "{msg}");
    }
}
