//! The WebAssembly runtime: one wasmtime `Engine` per embedding, an epoch ticker for
//! deadlines, a linker with an empty WASI context, an on-disk cache of compiled
//! components, and per-principle pools of warm instances.

mod bindings;
mod cache;
mod host;
mod instance;
mod limits;
mod output;
mod query;
mod ticker;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clinalign_core::LanguageModel;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use self::bindings::{PrinciplePre, Version};
pub use self::bindings::{SUPPORTED_VERSIONS, WIT_VERSION};
pub(crate) use self::host::HostState;
pub(crate) use self::instance::PrincipleRuntime;
pub use self::limits::Limits;
pub use self::output::{ErrorKind, PrincipleError};
pub use self::query::{PoolEntry, PreparedQuery};
use self::ticker::{Ticker, Ticking};
use crate::error::{Error, Result};
use crate::files::sha256_hex;

/// Guest wasm stack cap (the native wasm stack, not the shadow stack in linear memory).
const MAX_WASM_STACK: usize = 512 << 10;

/// How the runtime is set up; fixed for its lifetime.
#[derive(Clone)]
pub struct RuntimeOptions {
    pub limits: Limits,
    /// Fresh instance per call instead of warm instances (for untrusted sets).
    pub strict: bool,
    /// Where compiled components are cached; `None` disables the disk cache.
    pub cache_dir: Option<PathBuf>,
    /// Component instances the pooling allocator reserves room for.
    pub max_instances: u32,
    /// The model principles may call, when their manifest allows it.
    pub model: Option<Arc<dyn LanguageModel>>,
}

impl std::fmt::Debug for RuntimeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeOptions")
            .field("limits", &self.limits)
            .field("strict", &self.strict)
            .field("cache_dir", &self.cache_dir)
            .field("max_instances", &self.max_instances)
            .field("model", &self.model.as_ref().map(|m| m.name().to_string()))
            .finish()
    }
}

/// A loaded component and its pre-linked instantiation recipe, shared by every principle
/// that uses it (most principles share the `template` component).
#[derive(Clone)]
pub(crate) struct LoadedComponent {
    pub(crate) sha256: String,
    /// The `clinalign:principle` version it was built against.
    pub(crate) version: &'static str,
    pub(crate) pre: PrinciplePre,
}

/// The wasm side of an [`crate::Engine`].
pub(crate) struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    pub(crate) options: RuntimeOptions,
    deadline_ticks: u64,
    /// How often the epoch ticks.
    tick: Duration,
    pooling: bool,
    cache: cache::ComponentCache,
    /// Components already compiled in this process, by sha256 of their bytes; reloads
    /// reuse them.
    loaded: Mutex<HashMap<String, LoadedComponent>>,
    ticker: Ticker,
}

impl Runtime {
    /// Sets up the engine (pooling allocator when the address space allows, on-demand
    /// otherwise), the linker and the epoch ticker.
    pub(crate) fn new(options: RuntimeOptions) -> Result<Runtime> {
        let tick = (options.limits.timeout / 10).clamp(Duration::from_millis(1), Duration::from_millis(10));
        let deadline_ticks = options.limits.timeout.as_nanos().div_ceil(tick.as_nanos()).max(1) as u64;

        let mut config = base_config();
        let mut pool = PoolingAllocationConfig::default();
        let n = options.max_instances.max(16);
        pool.total_component_instances(n)
            .total_core_instances(n * 8)
            .total_memories(n * 2)
            .total_tables(n * 8)
            .total_stacks(0)
            .max_memory_size(options.limits.memory_bytes)
            .max_core_instances_per_component(16)
            .max_memories_per_component(4)
            .max_tables_per_component(16);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let (engine, pooling) = match Engine::new(&config) {
            Ok(e) => (e, true),
            Err(e) => {
                tracing::warn!("pooling allocator unavailable ({e:#}); using on-demand instance allocation");
                let e = Engine::new(&base_config()).map_err(|e| Error::Wasm(format!("{e:#}")))?;
                (e, false)
            }
        };

        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| Error::Wasm(format!("linking WASI: {e:#}")))?;
        bindings::add_to_linker(&mut linker).map_err(|e| Error::Wasm(format!("linking the host interface: {e:#}")))?;

        let ticker = Ticker::start(&engine, tick)?;
        let cache = cache::ComponentCache::new(options.cache_dir.clone(), &engine);
        Ok(Runtime {
            engine,
            linker,
            options,
            deadline_ticks,
            tick,
            pooling,
            cache,
            loaded: Mutex::new(HashMap::new()),
            ticker,
        })
    }

    /// Whether instances come from the pooling allocator.
    pub(crate) fn pooling(&self) -> bool {
        self.pooling
    }

    /// Compiles (or takes from the caches) the component in `bytes`, reads which version of
    /// `clinalign:principle` it was built against, and pre-links it in that version's
    /// bindings, checking that this host can satisfy its imports.
    pub(crate) fn load_component(&self, bytes: &[u8]) -> std::result::Result<LoadedComponent, String> {
        let sha256 = sha256_hex(bytes);
        if let Some(c) = self.loaded.lock().unwrap().get(&sha256) {
            return Ok(c.clone());
        }
        let component: Component = self.cache.load(&self.engine, bytes, &sha256)?;
        let version = Version::of(&component, &self.engine)?;
        let v = version.name();
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| format!("not a clinalign:principle@{v} component: its imports cannot be satisfied: {e:#}"))?;
        let pre = PrinciplePre::new(version, instance_pre)
            .map_err(|e| format!("not a clinalign:principle@{v} component: {e:#}"))?;
        let loaded = LoadedComponent { sha256: sha256.clone(), version: v, pre };
        self.loaded.lock().unwrap().insert(sha256, loaded.clone());
        Ok(loaded)
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn deadline_ticks(&self) -> u64 {
        self.deadline_ticks
    }

    /// The epoch's tick period.
    pub(crate) fn tick(&self) -> Duration {
        self.tick
    }

    /// Keeps the epoch ticking for one call (see [`ticker`]).
    pub(crate) fn ticking(&self) -> Ticking<'_> {
        self.ticker.ticking()
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .concurrency_support(false)
        .max_wasm_stack(MAX_WASM_STACK)
        .parallel_compilation(true);
    config
}
