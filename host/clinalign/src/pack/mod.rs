//! Principle packs: principles that live outside this repository, in a folder of their own.
//!
//! A pack is a folder with a `pack.toml` (name, version, the WIT version its plugins are
//! built against, an optional description and maintainers), its manifests under
//! `principles/<dimension>/`, and optionally a cargo workspace of plugin crates under
//! `plugins/` and Python sources beside the manifests. It has no `dimensions.toml`: a pack
//! writes in the vocabulary of the set it joins.
//!
//! `clinalign pack build` turns a pack into its built form (see [`distribute`]): the same
//! folder layout with every plugin compiled into `components/`, each manifest pointing at
//! its component, and a `pack.lock` holding the sha256 of every manifest and component,
//! zipped into one `<name>-<version>.pack` file. A host loads a built pack without a Rust or
//! Python toolchain, and checks each file against `pack.lock` before it runs (see
//! [`Pack::check_component`]).

pub mod assemble;
pub mod build_scripts;
pub mod distribute;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::dimensions::is_slug;
use crate::error::{Error, Result};
use crate::files::{is_hidden, line_of, sha256_hex, sorted_entries};
use crate::runtime::SUPPORTED_VERSIONS;

/// The file that makes a folder a pack.
pub const PACK_FILE: &str = "pack.toml";
/// The hashes of a built pack's files.
pub const LOCK_FILE: &str = "pack.lock";
/// The extension of a built pack's single file (a zip archive of its folder).
pub const PACK_EXTENSION: &str = "pack";

/// The WIT version a new pack targets: the newest this host binds, which the guest SDK
/// builds against.
pub fn wit_version() -> &'static str {
    crate::runtime::WIT_VERSION
}

/// What `pack.toml` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackInfo {
    /// Lower-case letters, digits and `-`.
    pub name: String,
    /// MAJOR.MINOR.PATCH.
    pub version: String,
    /// The `clinalign:principle` WIT version its plugins are built against.
    pub wit: String,
    pub description: Option<String>,
    pub maintainers: Vec<String>,
    /// Its `pack.toml`.
    pub path: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPack {
    name: Spanned<String>,
    version: Spanned<String>,
    wit: Spanned<String>,
    description: Option<String>,
    #[serde(default)]
    maintainers: Vec<String>,
}

impl PackInfo {
    /// Reads and checks a `pack.toml`.
    pub fn load(path: &Path) -> Result<PackInfo> {
        let src = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        PackInfo::parse(&src, path)
    }

    /// Parses `pack.toml` text; errors name the file, the line and the key.
    pub fn parse(src: &str, path: &Path) -> Result<PackInfo> {
        let origin = path.display();
        let at = |offset: usize, key: &str, message: String| {
            Error::Invalid(format!("{origin}:{}: {key}: {message}", line_of(src, offset)))
        };
        let raw: RawPack = toml::from_str(src).map_err(|e| {
            let line = e.span().map(|s| format!(":{}", line_of(src, s.start))).unwrap_or_default();
            Error::Invalid(format!("{origin}{line}: {}", e.message().trim().replace('\n', "; ")))
        })?;
        let name = raw.name.get_ref();
        if !is_slug(name) {
            return Err(at(raw.name.span().start, "name", format!("{name:?}: use lower-case letters, digits and '-'")));
        }
        let version = raw.version.get_ref();
        if !is_semver(version) {
            return Err(at(raw.version.span().start, "version", format!("{version:?} is not MAJOR.MINOR.PATCH")));
        }
        let wit = raw.wit.get_ref();
        if !SUPPORTED_VERSIONS.contains(&wit.as_str()) {
            return Err(at(
                raw.wit.span().start,
                "wit",
                format!("{wit:?} is not a WIT version this host supports ({})", SUPPORTED_VERSIONS.join(", ")),
            ));
        }
        Ok(PackInfo {
            name: name.clone(),
            version: version.clone(),
            wit: wit.clone(),
            description: raw.description.map(|d| d.trim().to_string()).filter(|d| !d.is_empty()),
            maintainers: raw.maintainers,
            path: path.to_path_buf(),
        })
    }

    /// `<name>@<version>`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// `pack:<name>@<version>`, the tag every item of the pack's principles carries.
    pub fn tag(&self) -> String {
        format!("pack:{}", self.label())
    }
}

fn is_semver(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// The hashes in a built pack's `pack.lock`: each file's path in the pack → its sha256.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackLock {
    /// `<name>@<version>` of the pack it was built from.
    pub pack: String,
    /// `principles/<dimension>/<id>.toml` → sha256.
    pub manifests: BTreeMap<String, String>,
    /// `components/<name>.wasm` → sha256.
    pub components: BTreeMap<String, String>,
}

/// A pack, opened: where its files are, and for a built pack the hashes they must have.
#[derive(Debug, Clone)]
pub struct Pack {
    pub info: PackInfo,
    /// The pack's folder (for a `.pack` file, where it was unpacked).
    pub root: PathBuf,
    /// Set for a built pack: every manifest and component is checked against it.
    pub lock: Option<PackLock>,
    /// The `.pack` file it was unpacked from, if any.
    pub file: Option<PathBuf>,
    /// The crates its manifests can name (see [`Pack::crates`]), read once when opened.
    crates: Vec<String>,
}

impl Pack {
    /// Whether `path` is a pack: a folder with a `pack.toml`, or a `.pack` file.
    pub fn is_pack(path: &Path) -> bool {
        path.join(PACK_FILE).is_file()
            || (path.is_file() && path.extension().and_then(|e| e.to_str()) == Some(PACK_EXTENSION))
    }

    /// Opens a pack folder, or a `.pack` file (unpacked once under
    /// `<cache>/packs/<its sha256>/`, or the system's temporary folder without a cache).
    /// A built pack's manifests are checked against its `pack.lock` here; its components
    /// when they are loaded.
    pub fn open(path: &Path, cache_dir: Option<&Path>) -> Result<Pack> {
        if path.is_file() {
            if path.extension().and_then(|e| e.to_str()) != Some(PACK_EXTENSION) {
                return Err(Error::Invalid(format!(
                    "{}: not a pack (a pack is a folder with a {PACK_FILE} or a .{PACK_EXTENSION} file)",
                    path.display()
                )));
            }
            let root = distribute::unpack(path, cache_dir)?;
            let mut pack = Pack::open_dir(&root)?;
            if pack.lock.is_none() {
                return Err(Error::Invalid(format!("{}: a .pack file without a {LOCK_FILE}", path.display())));
            }
            pack.file = Some(path.to_path_buf());
            return Ok(pack);
        }
        Pack::open_dir(path)
    }

    fn open_dir(dir: &Path) -> Result<Pack> {
        let file = dir.join(PACK_FILE);
        if !file.is_file() {
            let what = if dir.is_dir() { format!("no {PACK_FILE} in it") } else { "no such folder".into() };
            return Err(Error::Invalid(format!("{}: not a pack ({what})", dir.display())));
        }
        let info = PackInfo::load(&file)?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = match std::fs::read_to_string(&lock_path) {
            Ok(text) => Some(toml::from_str::<PackLock>(&text).map_err(|e| {
                Error::Invalid(format!("{}: {}", lock_path.display(), e.message().trim().replace('\n', "; ")))
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&lock_path, e)),
        };
        let crates = match &lock {
            Some(lock) => lock
                .components
                .keys()
                .filter_map(|k| k.strip_prefix("components/")?.strip_suffix(".wasm").map(str::to_string))
                .collect(),
            None => workspace_crates(&dir.join("plugins")),
        };
        let pack = Pack { info, root: dir.to_path_buf(), lock, file: None, crates };
        pack.check_manifests()?;
        Ok(pack)
    }

    /// Where its manifests are.
    pub fn principles_dir(&self) -> PathBuf {
        self.root.join("principles")
    }

    /// Its cargo workspace of plugin crates (may not exist).
    pub fn plugins_dir(&self) -> PathBuf {
        self.root.join("plugins")
    }

    /// What the pack is called in messages: its `name@version` and where it is.
    pub fn describe(&self) -> String {
        let place = self.file.as_deref().unwrap_or(&self.root);
        format!("pack {} ({})", self.info.label(), place.display())
    }

    /// Whether this is a built pack (its files checked against `pack.lock`).
    pub fn is_built(&self) -> bool {
        self.lock.is_some()
    }

    /// The crates its manifests can name: for a source pack those of its plugins workspace
    /// (by package name; none without one), for a built pack those whose components it
    /// ships (`components/<crate>.wasm`, `template` among them when it uses it).
    pub fn crates(&self) -> &[String] {
        &self.crates
    }

    /// Where a built pack keeps the component of crate `name`.
    pub fn crate_component(&self, name: &str) -> PathBuf {
        self.root.join("components").join(format!("{name}.wasm"))
    }

    /// A built pack: every manifest file under `principles/` is in `pack.lock` with its
    /// hash, and every manifest there is present.
    fn check_manifests(&self) -> Result<()> {
        let Some(lock) = &self.lock else { return Ok(()) };
        let mut found = BTreeMap::new();
        let dir = self.principles_dir();
        // The files the catalog reads as manifests.
        for folder in sorted_entries(&dir)? {
            if !folder.is_dir() || is_hidden(&folder) {
                continue;
            }
            for file in sorted_entries(&folder)? {
                if !is_hidden(&file) && file.extension().and_then(|e| e.to_str()) == Some("toml") {
                    let rel = file.strip_prefix(&self.root).unwrap_or(&file).to_string_lossy().replace('\\', "/");
                    let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
                    found.insert(rel, sha256_hex(&bytes));
                }
            }
        }
        for (rel, sha) in &found {
            match lock.manifests.get(rel) {
                None => {
                    return Err(Error::Invalid(format!(
                        "{}: not in the pack's {LOCK_FILE} (a built pack runs only what it was built with)",
                        self.root.join(rel).display()
                    )));
                }
                Some(want) if want != sha => {
                    return Err(Error::Invalid(format!(
                        "{}: sha256 {sha} does not match {} in the pack's {LOCK_FILE} (the file was changed after the pack was built)",
                        self.root.join(rel).display(),
                        want
                    )));
                }
                Some(_) => {}
            }
        }
        if let Some(missing) = lock.manifests.keys().find(|k| !found.contains_key(*k)) {
            return Err(Error::Invalid(format!(
                "{}: missing, though the pack's {LOCK_FILE} lists it",
                self.root.join(missing).display()
            )));
        }
        Ok(())
    }

    /// A built pack's component, checked before it runs: `bytes` (read from `path`) must
    /// have the sha256 `pack.lock` gives it. A source pack's components are not checked.
    pub fn check_component(&self, path: &Path, bytes: &[u8]) -> std::result::Result<(), String> {
        let Some(lock) = &self.lock else { return Ok(()) };
        let path = &lexical(path);
        let rel = path.strip_prefix(lexical(&self.root)).unwrap_or(path).to_string_lossy().replace('\\', "/");
        let sha = sha256_hex(bytes);
        match lock.components.get(&rel) {
            None => Err(format!(
                "{}: not in the pack's {LOCK_FILE}; a built pack runs only its own components",
                path.display()
            )),
            Some(want) if *want != sha => Err(format!(
                "{}: sha256 {sha} does not match {want} in the pack's {LOCK_FILE}; refusing to run it",
                path.display()
            )),
            Some(_) => Ok(()),
        }
    }
}

/// `path` with `.` and `..` resolved as written (no file system lookups).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The package names of a cargo workspace's members (`members` entries may end in `/*`).
pub fn workspace_crates(workspace: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(workspace.join("Cargo.toml")) else { return Vec::new() };
    let Ok(doc) = text.parse::<toml::Table>() else { return Vec::new() };
    let members = doc.get("workspace").and_then(|w| w.get("members")).and_then(|m| m.as_array());
    let mut dirs = Vec::new();
    for m in members.into_iter().flatten().filter_map(|m| m.as_str()) {
        match m.strip_suffix("/*") {
            Some(parent) => dirs.extend(
                sorted_entries(&workspace.join(parent)).unwrap_or_default().into_iter().filter(|d| !is_hidden(d)),
            ),
            None => dirs.push(workspace.join(m)),
        }
    }
    let mut names: Vec<String> = dirs
        .iter()
        .filter_map(|d| std::fs::read_to_string(d.join("Cargo.toml")).ok())
        .filter_map(|t| t.parse::<toml::Table>().ok())
        .filter_map(|t| t.get("package")?.get("name")?.as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name = \"ward-safety\"\nversion = \"0.1.0\"\nwit = \"0.2.0\"\ndescription = \"Ours\"\nmaintainers = [\"A <a@example.org>\"]\n";

    #[test]
    fn reads_a_pack_toml() {
        let p = PackInfo::parse(GOOD, Path::new("p/pack.toml")).unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str(), p.wit.as_str()), ("ward-safety", "0.1.0", "0.2.0"));
        assert_eq!(p.tag(), "pack:ward-safety@0.1.0");
        assert_eq!(p.maintainers, ["A <a@example.org>"]);
    }

    #[test]
    fn a_bad_pack_toml_names_the_file_line_and_key() {
        for (src, want) in [
            (GOOD.replace("ward-safety", "Ward Safety"), "p/pack.toml:1: name: \"Ward Safety\""),
            (GOOD.replace("0.1.0", "1.0"), "p/pack.toml:2: version: \"1.0\" is not MAJOR.MINOR.PATCH"),
            (GOOD.replace("0.2.0", "9.0.0"), "p/pack.toml:3: wit: \"9.0.0\" is not a WIT version this host supports"),
            (format!("{GOOD}licence = \"x\"\n"), "p/pack.toml:6: unknown field `licence`"),
            ("name = \"x\"\n".to_string(), "p/pack.toml"),
        ] {
            let err = PackInfo::parse(&src, Path::new("p/pack.toml")).unwrap_err().to_string();
            assert!(err.starts_with(want), "{err}");
        }
    }

    #[test]
    fn a_built_pack_refuses_a_changed_manifest_and_a_changed_component() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join(PACK_FILE), GOOD).unwrap();
        std::fs::create_dir_all(root.join("principles/task")).unwrap();
        std::fs::write(root.join("principles/task/a.toml"), "id = 1\n").unwrap();
        let mut lock = PackLock { pack: "ward-safety@0.1.0".into(), ..Default::default() };
        lock.manifests.insert("principles/task/a.toml".into(), sha256_hex(b"id = 1\n"));
        lock.components.insert("components/a.wasm".into(), sha256_hex(b"wasm"));
        std::fs::write(root.join(LOCK_FILE), toml::to_string(&lock).unwrap()).unwrap();
        let pack = Pack::open(root, None).unwrap();
        assert!(pack.is_built());
        let c = root.join("components/a.wasm");
        assert_eq!(pack.check_component(&c, b"wasm"), Ok(()));
        assert_eq!(pack.check_component(&root.join("principles/task/../../components/a.wasm"), b"wasm"), Ok(()));
        let err = pack.check_component(&c, b"other").unwrap_err();
        assert!(err.contains("does not match") && err.contains("components/a.wasm"), "{err}");
        assert!(
            pack.check_component(&root.join("components/b.wasm"), b"wasm").unwrap_err().contains("not in the pack's")
        );

        std::fs::write(root.join("principles/task/a.toml"), "id = 2\n").unwrap();
        let err = Pack::open(root, None).unwrap_err().to_string();
        assert!(
            err.contains("principles/task/a.toml: sha256") && err.contains("changed after the pack was built"),
            "{err}"
        );
        std::fs::write(root.join("principles/task/a.toml"), "id = 1\n").unwrap();
        std::fs::write(root.join("principles/task/b.toml"), "id = 3\n").unwrap();
        let err = Pack::open(root, None).unwrap_err().to_string();
        assert!(err.contains("principles/task/b.toml: not in the pack's pack.lock"), "{err}");
    }

    #[test]
    fn a_folder_without_pack_toml_is_not_a_pack() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!Pack::is_pack(dir.path()));
        let err = Pack::open(dir.path(), None).unwrap_err().to_string();
        assert!(err.ends_with("not a pack (no pack.toml in it)"), "{err}");
    }
}
