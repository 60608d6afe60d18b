//! What a principle instance sees of the host: an empty WASI context (no files, no
//! environment, no network, fixed clocks, fixed randomness) and the `host` interface
//! (`log`, and the model functions gated by capabilities).

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::{v0_1_0 as wit, v0_2_0};
use super::limits::{Limiter, Limits};
use super::query::PoolEntry;
use crate::manifest::Capabilities;
use clinalign_core::{LanguageModel, ModelError};

/// 2026-01-01T00:00:00Z: the only time a principle ever sees.
const FIXED_WALL_CLOCK_SECS: u64 = 1_767_225_600;

/// How many call deadlines setting up an instance may take. Instantiation copies the
/// component's initial memory (tens of MiB for a Python principle, whose interpreter comes
/// with it) and `init` parses the config, once per instance: on a loaded machine that can
/// pass one call's deadline while every call after it would not.
pub(crate) const INIT_DEADLINE_FACTOR: u32 = 10;

/// Per-store state of one principle instance.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    principle: Arc<str>,
    capabilities: Capabilities,
    model: Option<Arc<dyn LanguageModel>>,
    logs_left: u32,
    max_log_messages: u32,
    max_log_bytes: usize,
    dropped_logs: u32,
    /// When the current call began, and how long it has waited for the model: the guest's
    /// own time is the difference, and that is what the deadline bounds.
    call_started: Instant,
    model_waited: Duration,
    model_budget: Duration,
    /// The guest time the current call may take: the call deadline, or while the instance
    /// is set up (instantiation and `init`) that deadline times [`INIT_DEADLINE_FACTOR`].
    pub(crate) deadline: Duration,
    /// The pool of the query being emitted for (`pool()` in WIT 0.2.0).
    pool: Arc<[Arc<PoolEntry>]>,
}

impl HostState {
    pub(crate) fn new(
        principle: Arc<str>,
        capabilities: Capabilities,
        model: Option<Arc<dyn LanguageModel>>,
        limits: &Limits,
    ) -> HostState {
        HostState {
            wasi: sandbox_ctx(),
            table: ResourceTable::new(),
            limiter: Limiter::new(limits.memory_bytes),
            principle,
            capabilities,
            model,
            logs_left: limits.max_log_messages,
            max_log_messages: limits.max_log_messages,
            max_log_bytes: limits.max_log_bytes,
            dropped_logs: 0,
            call_started: Instant::now(),
            model_waited: Duration::ZERO,
            model_budget: limits.model_time,
            deadline: limits.timeout * INIT_DEADLINE_FACTOR,
            pool: Arc::from(Vec::new()),
        }
    }

    /// Resets the per-call budgets before a call.
    pub(crate) fn begin_call(&mut self) {
        self.logs_left = self.max_log_messages;
        self.dropped_logs = 0;
        self.limiter.denied = None;
        self.call_started = Instant::now();
        self.model_waited = Duration::ZERO;
    }

    /// The pool of the query the next call emits for.
    pub(crate) fn set_pool(&mut self, pool: Arc<[Arc<PoolEntry>]>) {
        self.pool = pool;
    }

    /// The time the current call has run in the guest: since it began, less the time it
    /// waited for the model.
    pub(crate) fn guest_time(&self) -> Duration {
        self.call_started.elapsed().saturating_sub(self.model_waited)
    }

    /// Runs a model call, counting its time apart from the guest's and within the budget.
    fn model_call<T>(
        &mut self,
        capability: &str,
        granted: bool,
        call: impl FnOnce(&dyn LanguageModel) -> Result<T, ModelError>,
    ) -> Result<T, String> {
        if self.model_waited >= self.model_budget {
            return Err(format!(
                "principle {} has waited {:.1} s for the model in this call, its whole budget; \"{capability}\" is refused",
                self.principle,
                self.model_waited.as_secs_f64()
            ));
        }
        let model = self.model_for(capability, granted).map_err(|e| e.to_string())?.clone();
        let started = Instant::now();
        let result = call(&*model);
        self.model_waited += started.elapsed();
        result.map_err(|e| e.to_string())
    }

    /// Notes dropped log messages, if any, after a call.
    pub(crate) fn end_call(&mut self) {
        if self.dropped_logs > 0 {
            tracing::warn!(principle = %self.principle, dropped = self.dropped_logs, "log messages over the per-call budget were dropped");
        }
    }

    fn model_for(&self, capability: &str, granted: bool) -> Result<&Arc<dyn LanguageModel>, ModelError> {
        if !granted {
            return Err(ModelError::Unavailable(format!(
                "principle {} may not call the model: its manifest does not grant the \"{capability}\" capability (add capabilities = [\"{capability}\"])",
                self.principle
            )));
        }
        self.model.as_ref().ok_or_else(|| {
            ModelError::Unavailable(format!(
                "no language model is configured in this host, so \"{capability}\" is unavailable to principle {}",
                self.principle
            ))
        })
    }
}

/// A WASI context that grants nothing: no preopened directories, no environment
/// variables or arguments, stdin closed and stdout/stderr discarded, every socket
/// address and name lookup denied, fixed clocks and fixed "random" bytes.
fn sandbox_ctx() -> WasiCtx {
    let mut b = WasiCtxBuilder::new();
    b.allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }))
        .wall_clock(FixedWallClock)
        .monotonic_clock(FixedMonotonicClock)
        .secure_random(wasmtime_wasi::Deterministic::new(vec![0x5a, 0xc3, 0x91, 0x27]))
        .insecure_random(wasmtime_wasi::Deterministic::new(vec![0x17, 0x4e, 0xb2, 0x68]))
        .insecure_random_seed(0x0c11_a119)
        .max_random_size(1 << 16);
    b.build()
}

struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::from_secs(FIXED_WALL_CLOCK_SECS)
    }
}

struct FixedMonotonicClock;

impl HostMonotonicClock for FixedMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wit::clinalign::principle::types::Host for HostState {}

impl HostState {
    fn write_log(&mut self, level: wit::LogLevel, message: String) {
        if self.logs_left == 0 {
            self.dropped_logs += 1;
            return;
        }
        self.logs_left -= 1;
        let mut message = message;
        if message.len() > self.max_log_bytes {
            let mut cut = self.max_log_bytes;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let p = &*self.principle;
        match level {
            wit::LogLevel::Trace => tracing::trace!(principle = p, "{message}"),
            wit::LogLevel::Debug => tracing::debug!(principle = p, "{message}"),
            wit::LogLevel::Info => tracing::info!(principle = p, "{message}"),
            wit::LogLevel::Warn => tracing::warn!(principle = p, "{message}"),
            wit::LogLevel::Error => tracing::error!(principle = p, "{message}"),
        }
    }

    fn generate_text(&mut self, prompt: String, max_tokens: u32) -> Result<String, String> {
        let granted = self.capabilities.generate;
        self.model_call("generate", granted, |m| m.generate(&prompt, max_tokens))
    }

    fn score(&mut self, prompt: String, options: Vec<String>) -> Result<Vec<f32>, String> {
        let granted = self.capabilities.score;
        self.model_call("score", granted, |m| m.score_options(&prompt, &options))
    }
}

impl wit::Host for HostState {
    fn log(&mut self, level: wit::LogLevel, message: String) {
        self.write_log(level, message)
    }

    fn generate(&mut self, prompt: String, max_tokens: u32) -> Result<String, String> {
        self.generate_text(prompt, max_tokens)
    }

    fn score_options(&mut self, prompt: String, options: Vec<String>) -> Result<Vec<f32>, String> {
        self.score(prompt, options)
    }
}

impl v0_2_0::clinalign::principle::types::Host for HostState {}

impl v0_2_0::Host for HostState {
    fn log(&mut self, level: v0_2_0::LogLevel, message: String) {
        let level = match level {
            v0_2_0::LogLevel::Trace => wit::LogLevel::Trace,
            v0_2_0::LogLevel::Debug => wit::LogLevel::Debug,
            v0_2_0::LogLevel::Info => wit::LogLevel::Info,
            v0_2_0::LogLevel::Warn => wit::LogLevel::Warn,
            v0_2_0::LogLevel::Error => wit::LogLevel::Error,
        };
        self.write_log(level, message)
    }

    fn generate(&mut self, prompt: String, max_tokens: u32) -> Result<String, String> {
        self.generate_text(prompt, max_tokens)
    }

    fn score_options(&mut self, prompt: String, options: Vec<String>) -> Result<Vec<f32>, String> {
        self.score(prompt, options)
    }

    fn pool(&mut self) -> Vec<v0_2_0::PrincipleInfo> {
        self.pool
            .iter()
            .filter(|p| *p.id != *self.principle)
            .map(|p| v0_2_0::PrincipleInfo {
                id: p.id.clone(),
                version: p.version.clone(),
                dimension: p.dimension.clone(),
                title: p.title.clone(),
                statement: p.statement.clone(),
            })
            .collect()
    }

    fn generate_json(&mut self, prompt: String, json_schema: String, max_tokens: u32) -> Result<String, String> {
        let granted = self.capabilities.generate;
        self.model_call("generate", granted, |m| m.generate_json(&prompt, &json_schema, max_tokens))
    }
}
