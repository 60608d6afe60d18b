//! The epoch ticker: advances the engine's epoch every tick while a principle call runs, so
//! that a call past its deadline traps; and sleeps, costing nothing, while none does (an
//! idle engine or watcher wakes no thread).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::Duration;

use wasmtime::Engine;

use crate::error::{Error, Result};

/// The ticker thread and the count of calls in flight.
pub(crate) struct Ticker {
    shared: Arc<Shared>,
    thread: Thread,
}

struct Shared {
    stop: AtomicBool,
    active: AtomicUsize,
}

/// Keeps the ticker ticking while it lives (one per call in flight).
pub(crate) struct Ticking<'t>(&'t Ticker);

impl Ticker {
    /// Starts the thread; it holds the engine weakly and ends with it.
    pub(crate) fn start(engine: &Engine, tick: Duration) -> Result<Ticker> {
        let shared = Arc::new(Shared { stop: AtomicBool::new(false), active: AtomicUsize::new(0) });
        let weak = engine.weak();
        let state = shared.clone();
        let handle = std::thread::Builder::new()
            .name("clinalign-epoch".into())
            .spawn(move || {
                while !state.stop.load(Ordering::Acquire) {
                    if state.active.load(Ordering::Acquire) == 0 {
                        // A call that starts now unparks us (a wake-up that comes before the
                        // park is kept, so none is lost).
                        std::thread::park();
                        continue;
                    }
                    std::thread::sleep(tick);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| Error::Wasm(format!("starting the epoch ticker: {e}")))?;
        Ok(Ticker { shared, thread: handle.thread().clone() })
    }

    /// Marks a call in flight until the returned guard is dropped.
    pub(crate) fn ticking(&self) -> Ticking<'_> {
        if self.shared.active.fetch_add(1, Ordering::AcqRel) == 0 {
            self.thread.unpark();
        }
        Ticking(self)
    }
}

impl Drop for Ticking<'_> {
    fn drop(&mut self) {
        self.0.shared.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.thread.unpark();
    }
}
