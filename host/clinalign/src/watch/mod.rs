//! Watching the files a principle set is built from, and calling back when their content
//! changed (the engine's callback reloads its principle set).
//!
//! The watcher is quiet and exact:
//! - only sources count ([`sources`]): manifests, `dimensions.toml` and components under the
//!   principles folder; the plugin crates' sources, the crates they reach by path and the
//!   WIT package. Build output (`target/`), hidden files and editor back-ups never do, and
//!   `target/` folders are not even watched;
//! - reads are not changes (the reload reads every source; that must not trigger another);
//! - a file saved without an edit is not a change: each file's content hash is compared;
//! - editors save through temporary files and renames: events are gathered until none has
//!   come for [`DEBOUNCE`], then handled as one batch.
//!
//! Callbacks run one at a time on a worker thread; changes that arrive during one are
//! handled right after it. An idle watcher has no timer: its threads wait in the kernel
//! (inotify, a channel) and cost no CPU.

pub mod sources;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use self::sources::{FileChange, SourceRoot, Sources, ignored_name};
use crate::error::{Error, Result};

/// How long changes must be quiet before a reload starts.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// A running watcher; the callbacks stop when it is dropped.
pub struct Watch {
    watcher: Option<Arc<Mutex<RecommendedWatcher>>>,
    worker: Option<JoinHandle<()>>,
}

impl Watch {
    /// Watches `roots` (those that do not exist are skipped) and calls `on_change` with the
    /// files whose content changed, once changes have been quiet for [`DEBOUNCE`].
    pub(crate) fn start(roots: Vec<SourceRoot>, on_change: impl Fn(Vec<FileChange>) + Send + 'static) -> Result<Watch> {
        let roots: Vec<SourceRoot> = roots
            .into_iter()
            .map(|r| SourceRoot { dir: std::path::absolute(&r.dir).unwrap_or(r.dir), ..r })
            .filter(|r| r.dir.is_dir())
            .collect();
        let first = roots.first().map(|r| r.dir.clone()).unwrap_or_default();
        let (tx, rx) = mpsc::channel::<Vec<PathBuf>>();
        let watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| match result {
            Ok(event) if !matches!(event.kind, EventKind::Access(_)) => {
                let _ = tx.send(event.paths);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("file watcher: {e}"),
        })
        .map_err(|e| Error::Watch { path: first.clone(), message: e.to_string() })?;
        let watcher = Arc::new(Mutex::new(watcher));
        for r in &roots {
            watch_tree(&watcher, &r.dir)?;
        }
        let mut sources = Sources::read(roots);
        tracing::debug!(files = sources.len(), "watching the sources of the principle set");
        // The worker holds a weak handle, so dropping the `Watch` drops the watcher, whose
        // event handler holds the sender: that ends the worker's loop.
        let handle = Arc::downgrade(&watcher);
        let worker = std::thread::Builder::new()
            .name("clinalign-watch".into())
            .spawn(move || {
                while let Ok(mut paths) = rx.recv() {
                    // Gather the rest of the burst: until nothing has come for DEBOUNCE.
                    while let Ok(more) = rx.recv_timeout(DEBOUNCE) {
                        paths.extend(more);
                    }
                    paths.sort();
                    paths.dedup();
                    paths.retain(|p| sources.concerns(p));
                    // A folder created under a root (a new crate, a new dimension) is
                    // watched from now on, without its build output.
                    if let Some(d) = handle.upgrade() {
                        for p in paths.iter().filter(|p| p.is_dir()) {
                            if let Err(e) = watch_tree(&d, p) {
                                tracing::warn!("file watcher: {e}");
                            }
                        }
                    }
                    let changes = sources.update(&paths);
                    if changes.is_empty() {
                        continue;
                    }
                    on_change(changes);
                }
            })
            .map_err(|e| Error::Watch { path: first.clone(), message: e.to_string() })?;
        Ok(Watch { watcher: Some(watcher), worker: Some(worker) })
    }
}

/// Watches `dir` and every folder below it except ignored ones (`target/`, hidden), so
/// that cargo's output is never even seen.
fn watch_tree(watcher: &Mutex<RecommendedWatcher>, dir: &Path) -> Result<()> {
    let err = |e: notify::Error| Error::Watch { path: dir.to_path_buf(), message: e.to_string() };
    watcher.lock().unwrap().watch(dir, RecursiveMode::NonRecursive).map_err(err)?;
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if path.is_dir() && !ignored_name(&name) && !path.is_symlink() {
            watch_tree(watcher, &path)?;
        }
    }
    Ok(())
}

impl Drop for Watch {
    fn drop(&mut self) {
        // Dropping the watcher drops the sender, which ends the worker's loop.
        drop(self.watcher.take());
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
