//! Watching the principles directory and the plugins workspace, and calling back once
//! edits settle (the engine's callback reloads its principle set).
//!
//! Editors save through temporary files and renames; the debouncer coalesces those into
//! one batch, and changes under `target/`, hidden files and editor back-ups are ignored
//! (cargo's own output must not trigger a reload). Reloads run on one worker thread, one
//! at a time; a batch that arrives during a reload is handled right after it.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use crate::error::{Error, Result};

/// How long changes must be quiet before a reload starts.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// A running watcher; the callbacks stop when it is dropped.
pub struct Watch {
    debouncer: Option<Debouncer<notify::RecommendedWatcher, RecommendedCache>>,
    worker: Option<JoinHandle<()>>,
}

impl Watch {
    /// Watches `dirs` (recursively; those that do not exist are skipped) and calls
    /// `on_change` with a description of what changed (`watch: <paths>`) once changes have
    /// been quiet for [`DEBOUNCE`]. Calls run one at a time on a worker thread; changes that
    /// arrive during a call are handled right after it.
    pub(crate) fn start(dirs: &[&Path], on_change: impl Fn(String) + Send + 'static) -> Result<Watch> {
        let (tx, rx) = mpsc::channel::<Vec<PathBuf>>();
        let first = dirs.first().map(|d| d.to_path_buf()).unwrap_or_default();
        let roots: Vec<PathBuf> =
            dirs.iter().map(|d| std::path::absolute(d).unwrap_or_else(|_| d.to_path_buf())).collect();
        let watched = roots.clone();
        let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| match result {
            Ok(events) => {
                let paths: Vec<PathBuf> =
                    events.iter().flat_map(|e| e.paths.iter()).filter(|p| relevant(p, &watched)).cloned().collect();
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
        for dir in &roots {
            if dir.is_dir() {
                debouncer
                    .watch(dir, RecursiveMode::Recursive)
                    .map_err(|e| Error::Watch { path: dir.to_path_buf(), message: e.to_string() })?;
            }
        }
        let worker = std::thread::Builder::new()
            .name("clinalign-reload".into())
            .spawn(move || {
                while let Ok(mut paths) = rx.recv() {
                    while let Ok(more) = rx.try_recv() {
                        paths.extend(more);
                    }
                    paths.sort();
                    paths.dedup();
                    let shown: Vec<String> = paths.iter().take(5).map(|p| p.display().to_string()).collect();
                    let more = if paths.len() > 5 { format!(" and {} more", paths.len() - 5) } else { String::new() };
                    on_change(format!("watch: {}{more}", shown.join(", ")));
                }
            })
            .map_err(|e| Error::Watch { path: first.clone(), message: e.to_string() })?;
        Ok(Watch { debouncer: Some(debouncer), worker: Some(worker) })
    }
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

/// Whether a changed path can change the principle set. Only the part below the watched
/// root counts (a project may itself live in a hidden or temporary folder).
fn relevant(p: &Path, roots: &[PathBuf]) -> bool {
    let Some(rel) = roots.iter().find_map(|r| p.strip_prefix(r).ok()) else {
        return false;
    };
    let hidden = |s: &str| s.starts_with('.') && s != ".cargo";
    !rel.components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        s == "target" || hidden(&s)
    }) && !rel.file_name().is_some_and(|f| {
        let f = f.to_string_lossy();
        f.ends_with('~') || f.ends_with(".swp") || f.ends_with(".tmp")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_build_output_and_editor_files() {
        let roots = [PathBuf::from("/tmp/.tmpAb12/principles"), PathBuf::from("/tmp/.tmpAb12/plugins")];
        let relevant = |p: &str| relevant(Path::new(p), &roots);
        assert!(relevant("/tmp/.tmpAb12/principles/urgency/a.toml"), "hidden folders above the root are fine");
        assert!(relevant("/tmp/.tmpAb12/plugins/template/src/lib.rs"));
        assert!(relevant("/tmp/.tmpAb12/plugins/.cargo/config.toml"));
        assert!(!relevant("/tmp/.tmpAb12/plugins/target/release/x.wasm"));
        assert!(!relevant("/tmp/.tmpAb12/principles/urgency/.a.toml.swp"));
        assert!(!relevant("/tmp/.tmpAb12/principles/urgency/a.toml~"));
        assert!(!relevant("/tmp/.tmpAb12/principles/.git/index"));
        assert!(!relevant("/elsewhere/a.toml"));
    }
}
