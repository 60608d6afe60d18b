//! The files a principle set is built from, with a hash of each one's content, so that the
//! watcher reloads only when content changed and can name the files that did.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A folder the set is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRoot {
    pub dir: PathBuf,
    /// Only files with these extensions count (the principles folder: manifests and
    /// components); `None` counts every source file (a plugins workspace, a crate).
    pub extensions: Option<&'static [&'static str]>,
}

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Added,
    Modified,
    Removed,
}

/// One changed source file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    pub path: PathBuf,
    pub change: ChangeKind,
}

impl std::fmt::Display for FileChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.change {
            ChangeKind::Added => "added",
            ChangeKind::Modified => "modified",
            ChangeKind::Removed => "removed",
        };
        write!(f, "{} ({what})", self.path.display())
    }
}

/// Every source file under the roots and a hash of its content.
#[derive(Debug, Default)]
pub struct Sources {
    roots: Vec<SourceRoot>,
    files: BTreeMap<PathBuf, [u8; 32]>,
}

impl Sources {
    /// Reads every source file under `roots` (absolute paths).
    pub fn read(roots: Vec<SourceRoot>) -> Sources {
        let mut s = Sources { roots, files: BTreeMap::new() };
        for i in 0..s.roots.len() {
            let dir = s.roots[i].dir.clone();
            s.scan(&dir);
        }
        s
    }

    /// The roots watched.
    pub fn roots(&self) -> &[SourceRoot] {
        &self.roots
    }

    /// How many files are tracked.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file is tracked.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Whether a path is one the set can be built from: under a root, not build output
    /// (`target/`), not hidden (but `.cargo/`), not an editor's back-up or temporary file,
    /// and of the root's extensions. Directories pass on the first checks only.
    pub fn counts(&self, path: &Path) -> bool {
        let Some(root) = self.root_of(path) else { return false };
        let rel = path.strip_prefix(&root.dir).unwrap_or(path);
        if rel.components().any(|c| ignored_name(&c.as_os_str().to_string_lossy())) {
            return false;
        }
        if path.is_dir() {
            return true;
        }
        let name = rel.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
        if name.ends_with('~') || name.ends_with(".swp") || name.ends_with(".tmp") || name.contains(".tmp.") {
            return false;
        }
        match root.extensions {
            Some(exts) => path.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.contains(&e)),
            None => true,
        }
    }

    /// Whether an event at `path` may concern a source: a path that counts, or one that held
    /// sources (a folder removed or renamed).
    pub fn concerns(&self, path: &Path) -> bool {
        self.counts(path) || self.files.range(path.to_path_buf()..).next().is_some_and(|(k, _)| k.starts_with(path))
    }

    fn root_of(&self, path: &Path) -> Option<&SourceRoot> {
        // The deepest root wins (a crate inside a watched folder is its own root).
        self.roots.iter().filter(|r| path.starts_with(&r.dir)).max_by_key(|r| r.dir.components().count())
    }

    /// Re-reads the given paths (files or folders, existing or not) and returns what
    /// changed in content, in path order.
    pub fn update(&mut self, paths: &[PathBuf]) -> Vec<FileChange> {
        let before = self.files.clone();
        for p in paths {
            // Whatever was known under this path is read again from disk.
            let stale: Vec<PathBuf> =
                self.files.range(p.clone()..).map(|(k, _)| k).take_while(|k| k.starts_with(p)).cloned().collect();
            for k in stale {
                self.files.remove(&k);
            }
            if p.exists() {
                self.scan(p);
            }
        }
        let mut changes = Vec::new();
        for (path, hash) in &self.files {
            match before.get(path) {
                None => changes.push(FileChange { path: path.clone(), change: ChangeKind::Added }),
                Some(old) if old != hash => {
                    changes.push(FileChange { path: path.clone(), change: ChangeKind::Modified })
                }
                _ => {}
            }
        }
        for path in before.keys().filter(|p| !self.files.contains_key(*p)) {
            changes.push(FileChange { path: path.clone(), change: ChangeKind::Removed });
        }
        changes.sort_by(|a, b| a.path.cmp(&b.path));
        changes
    }

    /// Adds every counted file at or under `path`.
    fn scan(&mut self, path: &Path) {
        if !self.counts(path) {
            return;
        }
        if path.is_dir() {
            let Ok(entries) = std::fs::read_dir(path) else { return };
            for e in entries.flatten() {
                self.scan(&e.path());
            }
        } else if let Ok(bytes) = std::fs::read(path) {
            self.files.insert(path.to_path_buf(), Sha256::digest(&bytes).into());
        }
    }
}

/// Names of folders and files that never hold a source: build output and hidden entries
/// (but `.cargo`, which holds the guest build settings).
pub fn ignored_name(name: &str) -> bool {
    name == "target" || (name.starts_with('.') && name != ".cargo" && name != "." && name != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn counts_sources_only() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join(".hidden-parent/project");
        let principles = base.join("principles");
        let plugins = base.join("plugins");
        for f in
            ["principles/urgency/a.toml", "principles/notes.md", "plugins/x/src/lib.rs", "plugins/.cargo/config.toml"]
        {
            write(&base.join(f), "x");
        }
        let s = Sources::read(vec![
            SourceRoot { dir: principles.clone(), extensions: Some(&["toml", "wasm"]) },
            SourceRoot { dir: plugins.clone(), extensions: None },
        ]);
        assert_eq!(s.len(), 3, "{:?}", s.files.keys().collect::<Vec<_>>());
        assert!(s.counts(&principles.join("urgency/a.toml")), "hidden folders above a root are fine");
        assert!(!s.counts(&principles.join("notes.md")));
        assert!(s.counts(&plugins.join(".cargo/config.toml")));
        assert!(!s.counts(&plugins.join("target/release/x.wasm")));
        assert!(!s.counts(&principles.join("urgency/.a.toml.swp")));
        assert!(!s.counts(&principles.join("urgency/a.toml~")));
        assert!(!s.counts(&principles.join(".git/index")));
        assert!(!s.counts(Path::new("/elsewhere/a.toml")));
    }

    #[test]
    fn reports_content_changes_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("principles");
        let a = root.join("urgency/a.toml");
        write(&a, "one");
        let mut s = Sources::read(vec![SourceRoot { dir: root.clone(), extensions: Some(&["toml"]) }]);
        assert!(s.update(std::slice::from_ref(&a)).is_empty(), "read again, same content: no change");
        write(&a, "one");
        assert!(s.update(std::slice::from_ref(&a)).is_empty(), "saved without an edit: no change");
        write(&a, "two");
        let b = root.join("task/b.toml");
        write(&b, "new");
        let changes = s.update(&[a.clone(), root.join("task")]);
        assert_eq!(
            changes,
            [
                FileChange { path: b.clone(), change: ChangeKind::Added },
                FileChange { path: a.clone(), change: ChangeKind::Modified }
            ]
        );
        std::fs::remove_dir_all(root.join("task")).unwrap();
        assert_eq!(s.update(&[root.join("task")]), [FileChange { path: b, change: ChangeKind::Removed }]);
    }
}
