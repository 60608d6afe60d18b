//! The catalog of a principles directory: its vocabulary (`dimensions.toml`), the manifests
//! under `<dimension>/`, and the files that failed to load.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dimensions::Dimensions;
use crate::error::{Error, Result};
use crate::files::{is_hidden, sha256_hex, sorted_entries};
use crate::manifest::Manifest;
use crate::pack::Pack;

/// The name of the vocabulary file at the top of a principles directory.
pub const DIMENSIONS_FILE: &str = "dimensions.toml";

/// A manifest that could not be loaded, or a principle that failed to build or self-test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadFailure {
    /// The principle's id when known, else the file's path.
    pub principle: String,
    pub path: PathBuf,
    pub message: String,
}

impl LoadFailure {
    /// Whether this failure is principle `id`'s: by its id, or for a manifest that did not
    /// parse, by the id its place implies (`<folder>.<file stem>`) or by the `id` the file
    /// declares (read from the file again: a manifest in the wrong folder, or whose id does
    /// not match its name, still says which principle it means to be).
    pub fn is_for(&self, id: &str) -> bool {
        if self.principle == id {
            return true;
        }
        let stem = self.path.file_stem().and_then(|s| s.to_str());
        let folder = self.path.parent().and_then(|p| p.file_name()).and_then(|f| f.to_str());
        if matches!((folder, stem), (Some(f), Some(s)) if id.strip_prefix(f).and_then(|r| r.strip_prefix('.')) == Some(s))
        {
            return true;
        }
        self.principle == self.path.display().to_string() && declared_id(&self.path).as_deref() == Some(id)
    }
}

/// The `id` a manifest file declares, when its TOML is readable that far.
fn declared_id(path: &Path) -> Option<String> {
    #[derive(Deserialize)]
    struct Declared {
        id: String,
    }
    let src = std::fs::read_to_string(path).ok()?;
    toml::from_str::<Declared>(&src).ok().map(|d| d.id)
}

/// Everything in a principles directory: the vocabulary, the manifests that parsed, and
/// the files that did not.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub dir: PathBuf,
    pub dimensions: Dimensions,
    /// sha256 of `dimensions.toml`.
    pub dimensions_sha256: String,
    /// Sorted by id.
    pub manifests: Vec<Manifest>,
    pub failures: Vec<LoadFailure>,
}

impl Catalog {
    /// Reads `dir/dimensions.toml` and every `dir/<dimension>/*.toml`. A bad vocabulary
    /// fails the whole catalog; a bad manifest only fails itself (see `failures`).
    pub fn load(dir: &Path) -> Result<Catalog> {
        let dims_path = dir.join(DIMENSIONS_FILE);
        let dims_src = std::fs::read_to_string(&dims_path).map_err(|e| Error::io(&dims_path, e))?;
        let dimensions = Dimensions::parse(&dims_src, &dims_path.display().to_string())?;
        let mut manifests: Vec<Manifest> = Vec::new();
        let mut failures = Vec::new();
        read_manifests(dir, &dimensions, &dims_path, &mut manifests, &mut failures)?;
        manifests.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Catalog {
            dir: dir.to_path_buf(),
            dimensions,
            dimensions_sha256: sha256_hex(dims_src.as_bytes()),
            manifests,
            failures,
        })
    }

    /// The path of the vocabulary file.
    pub fn dimensions_path(&self) -> PathBuf {
        self.dir.join(DIMENSIONS_FILE)
    }

    /// Adds a pack's principles, written in this catalog's vocabulary. A pack is held to
    /// more than the directory it joins: a manifest of it that does not load (a dimension
    /// or value outside the vocabulary among others), or an id another source already
    /// has, refuses the whole pack with an error naming both files. Each manifest is
    /// marked with the pack's `name@version`.
    pub fn add_pack(&mut self, pack: &Pack) -> Result<()> {
        let dir = pack.principles_dir();
        if !dir.is_dir() {
            return Err(Error::Invalid(format!("{}: no principles/ folder in {}", dir.display(), pack.describe())));
        }
        let dims_path = self.dimensions_path();
        let mut manifests = Vec::new();
        let mut failures = Vec::new();
        read_manifests(&dir, &self.dimensions, &dims_path, &mut manifests, &mut failures)?;
        if let Some(f) = failures.first() {
            let vocabulary = if ["dimension", "value", "unknown"].iter().any(|w| f.message.contains(w)) {
                format!(" (the vocabulary is {})", dims_path.display())
            } else {
                String::new()
            };
            return Err(Error::Invalid(format!("{}: {}{vocabulary}", pack.describe(), f.message)));
        }
        for mut m in manifests {
            if let Some(first) = self.manifests.iter().find(|x| x.id == m.id) {
                return Err(Error::Invalid(format!(
                    "{}: id {:?} is already used by {}; ids must be unique across the principle set",
                    m.path.display(),
                    m.id,
                    first.path.display()
                )));
            }
            if let Some(f) = self.failures.iter().find(|f| f.is_for(&m.id)) {
                return Err(Error::Invalid(format!(
                    "{}: id {:?} is already used by {} (which failed to load: {})",
                    m.path.display(),
                    m.id,
                    f.path.display(),
                    f.message
                )));
            }
            m.pack = Some(pack.info.label());
            self.manifests.push(m);
        }
        self.manifests.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(())
    }

    /// Keeps the vocabulary only: what a set made of packs alone is built on.
    pub fn vocabulary_only(mut self) -> Catalog {
        self.manifests.clear();
        self.failures.clear();
        self
    }
}

/// Every `dir/<dimension>/*.toml`, read against `dimensions` (from `dims_path`).
fn read_manifests(
    dir: &Path,
    dimensions: &Dimensions,
    dims_path: &Path,
    manifests: &mut Vec<Manifest>,
    failures: &mut Vec<LoadFailure>,
) -> Result<()> {
    for folder in sorted_entries(dir)? {
        if !folder.is_dir() || is_hidden(&folder) {
            continue;
        }
        let folder_name = folder.file_name().and_then(|f| f.to_str()).unwrap_or_default().to_string();
        for file in sorted_entries(&folder)? {
            if is_hidden(&file) || file.extension().and_then(|e| e.to_str()) != Some("toml") || !file.is_file() {
                continue;
            }
            let fail =
                |message: String| LoadFailure { principle: file.display().to_string(), path: file.clone(), message };
            if dimensions.get(&folder_name).is_none() {
                failures.push(fail(format!(
                    "{}: folder {folder_name:?} is not a dimension of {}",
                    file.display(),
                    dims_path.display()
                )));
                continue;
            }
            match Manifest::load(&file, dimensions) {
                Ok(m) => {
                    if let Some(first) = manifests.iter().find(|x| x.id == m.id) {
                        failures.push(LoadFailure {
                            principle: m.id.clone(),
                            path: file.clone(),
                            message: format!(
                                "{}: id {:?} is already used by {}",
                                file.display(),
                                m.id,
                                first.path.display()
                            ),
                        });
                    } else {
                        manifests.push(m);
                    }
                }
                Err(e) => failures.push(fail(e.to_string())),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::manifest::tests::GOOD;

    #[test]
    fn catalog_loads_good_files_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join(DIMENSIONS_FILE), "[[dimension]]\nname = \"urgency\"\nvalues = [\"emergent\", \"conditionally-emergent\", \"non-emergent\"]\n[[dimension]]\nname = \"task\"\nvalues = [\"information\"]\n").unwrap();
        std::fs::create_dir_all(p.join("urgency")).unwrap();
        std::fs::create_dir_all(p.join("mood")).unwrap();
        std::fs::create_dir_all(p.join("task")).unwrap();
        std::fs::write(p.join("urgency/red-flags.toml"), GOOD).unwrap();
        std::fs::write(p.join("urgency/broken.toml"), "id = ").unwrap();
        std::fs::write(p.join("urgency/.hidden.toml"), "junk").unwrap();
        std::fs::write(p.join("urgency/notes.md"), "junk").unwrap();
        std::fs::write(p.join("mood/x.toml"), GOOD).unwrap();
        let c = Catalog::load(p).unwrap();
        assert_eq!(c.manifests.len(), 1);
        assert_eq!(c.failures.len(), 2, "{:?}", c.failures);
        assert!(c.failures.iter().any(|f| f.message.contains("folder \"mood\" is not a dimension")));
        assert!(
            c.failures.iter().any(|f| f.path.ends_with("broken.toml")
                && f.message.ends_with("broken.toml:1: string values must be quoted, expected literal string")),
            "{:?}",
            c.failures
        );

        // A failure is found by the id its place implies, or by the id the file declares.
        std::fs::write(p.join("task/misplaced.toml"), GOOD).unwrap();
        let c = Catalog::load(p).unwrap();
        let misplaced = c.failures.iter().find(|f| f.path.ends_with("misplaced.toml")).unwrap();
        assert!(misplaced.message.contains("but the file is in folder \"task\""), "{}", misplaced.message);
        assert!(misplaced.is_for("task.misplaced"));
        assert!(misplaced.is_for("urgency.red-flags"), "the id it declares");
        assert!(!misplaced.is_for("urgency.misplaced"));
        let broken = c.failures.iter().find(|f| f.path.ends_with("broken.toml")).unwrap();
        assert!(broken.is_for("urgency.broken") && !broken.is_for("urgency.red-flags"));

        std::fs::remove_file(p.join(DIMENSIONS_FILE)).unwrap();
        assert!(Catalog::load(p).unwrap_err().to_string().contains("dimensions.toml"));
    }
}
