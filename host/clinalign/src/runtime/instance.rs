//! Running one principle: warm instances (one per concurrent caller, recycled after a
//! trap) or, in strict mode, a fresh instance per call; every call under the memory cap,
//! the epoch deadline and the output caps.

use std::sync::{Arc, Mutex};

use clinalign_core::{EmitError, RubricItem};
use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::Principle;
use super::output::{ErrorKind, PrincipleError, check_items};
use super::query::PreparedQuery;
use super::{HostState, LoadedComponent, Runtime};
use crate::manifest::Capabilities;

/// A live instance with its store.
struct Warm {
    store: Store<HostState>,
    bindings: Principle,
}

/// One principle of a set, ready to run.
pub(crate) struct PrincipleRuntime {
    id: Arc<str>,
    component: LoadedComponent,
    config_json: String,
    capabilities: Capabilities,
    runtime: Arc<Runtime>,
    /// A fresh instance for every call: the runtime's strict mode, or a principle from a
    /// pack that is not trusted.
    strict: bool,
    warm: Mutex<Vec<Warm>>,
}

impl PrincipleRuntime {
    /// Prepares a principle; nothing runs until the first call (or [`Self::warm_up`]).
    pub(crate) fn new(
        id: &str,
        component: LoadedComponent,
        config_json: String,
        capabilities: Capabilities,
        runtime: Arc<Runtime>,
    ) -> PrincipleRuntime {
        let strict = runtime.options.strict;
        PrincipleRuntime {
            id: Arc::from(id),
            component,
            config_json,
            capabilities,
            runtime,
            strict,
            warm: Mutex::new(Vec::new()),
        }
    }

    /// Runs every call in a fresh instance even when the runtime keeps instances warm.
    pub(crate) fn strict(mut self, yes: bool) -> PrincipleRuntime {
        self.strict |= yes;
        self
    }

    /// Whether every call runs in a fresh instance.
    pub(crate) fn is_strict(&self) -> bool {
        self.strict
    }

    /// Whether the host offers what the manifest's capabilities need: a principle that may
    /// call the model is not called when no model is configured (it could only be told that
    /// there is none).
    pub(crate) fn has_its_model(&self) -> bool {
        !(self.capabilities.generate || self.capabilities.score) || self.runtime.options.model.is_some()
    }

    /// sha256 of the component this principle runs.
    pub(crate) fn component_sha256(&self) -> &str {
        &self.component.sha256
    }

    /// The JSON text `init` is given (the manifest's `[config]`).
    pub(crate) fn config_json(&self) -> &str {
        &self.config_json
    }

    /// The `clinalign:principle` version the component was built against.
    pub(crate) fn wit_version(&self) -> &str {
        self.component.version
    }

    /// Creates and initialises one instance and keeps it warm; fails if `init` does.
    pub(crate) fn warm_up(&self) -> Result<(), PrincipleError> {
        let w = self.instantiate()?;
        if !self.strict {
            self.warm.lock().unwrap().push(w);
        }
        Ok(())
    }

    /// Runs `emit` for one query and checks its output.
    pub(crate) fn emit(&self, query: &PreparedQuery) -> Result<Vec<RubricItem>, PrincipleError> {
        let strict = self.strict;
        let popped = if strict { None } else { self.warm.lock().unwrap().pop() };
        let mut w = match popped {
            Some(w) => w,
            None => self.instantiate()?,
        };
        w.store.data_mut().begin_call();
        w.store.data_mut().set_pool(query.pool().clone());
        let ticking = self.runtime.ticking();
        w.store.set_epoch_deadline(self.runtime.deadline_ticks());
        let result = w.bindings.call_emit(&mut w.store, query);
        drop(ticking);
        w.store.data_mut().end_call();
        match result {
            Ok(returned) => {
                let out = match returned {
                    Ok(items) => check_items(items, &self.runtime.options.limits),
                    Err(EmitError::InvalidConfig(m)) => Err(PrincipleError::new(ErrorKind::InvalidConfig, m)),
                    Err(EmitError::Failed(m)) => Err(PrincipleError::new(ErrorKind::Failed, m)),
                };
                if !strict {
                    self.warm.lock().unwrap().push(w);
                }
                out
            }
            // The instance is unusable after a trap; dropping it recycles its slot.
            Err(e) => Err(self.classify(&e, &w.store)),
        }
    }

    fn instantiate(&self) -> Result<Warm, PrincipleError> {
        let rt = &self.runtime;
        let _ticking = rt.ticking();
        let state = HostState::new(self.id.clone(), self.capabilities, rt.options.model.clone(), &rt.options.limits);
        let mut store = Store::new(rt.engine(), state);
        store.limiter(|s| &mut s.limiter);
        // At the deadline, the time the call waited for the host's model is given back: only
        // the guest's own time counts.
        let tick = rt.tick();
        store.epoch_deadline_callback(move |ctx| {
            let left = ctx.data().deadline.saturating_sub(ctx.data().guest_time());
            Ok(if left.is_zero() {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Continue(left.as_nanos().div_ceil(tick.as_nanos()).max(1) as u64)
            })
        });
        store.set_epoch_deadline(rt.deadline_ticks());
        let bindings = self
            .component
            .pre
            .instantiate(&mut store)
            .map_err(|e| load_error(self.classify(&e, &store), "instantiating"))?;
        store.set_epoch_deadline(rt.deadline_ticks());
        match bindings.call_init(&mut store, &self.config_json) {
            Ok(Ok(())) => {
                // From here on, each call gets the call deadline.
                store.data_mut().deadline = rt.options.limits.timeout;
                Ok(Warm { store, bindings })
            }
            Ok(Err(msg)) => Err(PrincipleError::init_rejected(&msg)),
            Err(e) => Err(load_error(self.classify(&e, &store), "init")),
        }
    }

    /// Names a failed call: deadline, memory cap, or another trap.
    fn classify(&self, e: &wasmtime::Error, store: &Store<HostState>) -> PrincipleError {
        let denied = store.data().limiter.denied.clone();
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => PrincipleError::new(
                ErrorKind::Timeout,
                format!("ran past its {} ms deadline", store.data().deadline.as_millis()),
            ),
            Some(Trap::StackOverflow) => {
                PrincipleError::new(ErrorKind::Trap, "wasm stack overflow (unbounded recursion?)")
            }
            _ if denied.is_some() => PrincipleError::new(ErrorKind::Memory, denied.unwrap_or_default()),
            Some(t) => PrincipleError::new(ErrorKind::Trap, format!("trapped: {t}")),
            None => PrincipleError::new(ErrorKind::Trap, format!("{e:#}")),
        }
    }
}

/// Keeps the kind of a deadline or memory failure during set-up, and files everything
/// else under `load`.
fn load_error(e: PrincipleError, during: &str) -> PrincipleError {
    let kind = match e.kind {
        ErrorKind::Timeout | ErrorKind::Memory => e.kind,
        _ => ErrorKind::Load,
    };
    PrincipleError::new(kind, format!("{during}: {}", e.message))
}
