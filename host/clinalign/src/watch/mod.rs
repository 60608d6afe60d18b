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
//! - editors save through temporary files and renames; the debouncer coalesces those.
//!
//! Callbacks run one at a time on a worker thread; changes that arrive during one are
//! handled right after it. An idle watcher sleeps in the kernel and costs no CPU.

pub mod sources;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use self::sources::{FileChange, SourceRoot, Sources, ignored_name};
use crate::error::{Error, Result};

/// How long changes must be quiet before a reload starts.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

type Inner = Debouncer<notify::RecommendedWatcher, RecommendedCache>;

/// A running watcher; the callbacks stop when it is dropped.
pub struct Watch {
    debouncer: Option<Arc<Mutex<Inner>>>,
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
        let debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| match result {
            Ok(events) => {
                let paths: Vec<PathBuf> = events
                    .iter()
                    .filter(|e| !matches!(e.kind, EventKind::Access(_)))
                    .flat_map(|e| e.paths.iter().cloned())
                    .collect();
                if !paths.is_empty() {
                    let _ = tx.send(paths);
                }
            }
            Err(errors) => {
                for e in errors {
                    tracing::warn!("file watcher: {e}");
                }
            }
        })
        .map_err(|e| Error::Watch { path: first.clone(), message: e.to_string() })?;
        let debouncer = Arc::new(Mutex::new(debouncer));
        for r in &roots {
            watch_tree(&debouncer, &r.dir)?;
        }
        let mut sources = Sources::read(roots);
        tracing::debug!(files = sources.len(), "watching the sources of the principle set");
        // The worker holds a weak handle, so dropping the `Watch` drops the debouncer, whose
        // event handler holds the sender: that ends the worker's loop.
        let handle = Arc::downgrade(&debouncer);
        let worker = std::thread::Builder::new()
            .name("clinalign-watch".into())
            .spawn(move || {
                while let Ok(mut paths) = rx.recv() {
                    while let Ok(more) = rx.try_recv() {
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
        Ok(Watch { debouncer: Some(debouncer), worker: Some(worker) })
    }
}

/// Watches `dir` and every folder below it except ignored ones (`target/`, hidden), so
/// that cargo's output is never even seen.
fn watch_tree(debouncer: &Mutex<Inner>, dir: &Path) -> Result<()> {
    let err = |e: notify::Error| Error::Watch { path: dir.to_path_buf(), message: e.to_string() };
    debouncer.lock().unwrap().watch(dir, RecursiveMode::NonRecursive).map_err(err)?;
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if path.is_dir() && !ignored_name(&name) && !path.is_symlink() {
            watch_tree(debouncer, &path)?;
        }
    }
    Ok(())
}

impl Drop for Watch {
    fn drop(&mut self) {
        // Dropping the debouncer drops the sender, which ends the worker's loop.
        drop(self.debouncer.take());
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
