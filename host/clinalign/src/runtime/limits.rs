//! The limits every principle call runs under, and the resource limiter that enforces
//! the memory cap and remembers when it did.

use std::time::Duration;

/// Per-call limits of the runtime policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock deadline of one `emit` (or `init`) call, not counting the time it waits for
    /// the host's language model (`generate`, `score-options`).
    pub timeout: Duration,
    /// Time one call may spend waiting for the host's language model; model calls past it
    /// are refused with an error the principle sees.
    pub model_time: Duration,
    /// Cap on each linear memory of a principle instance, in bytes.
    pub memory_bytes: usize,
    /// Most rubric items one call may return.
    pub max_items: usize,
    /// Longest criterion, in characters.
    pub max_criterion_chars: usize,
    /// Most extra tags on one item.
    pub max_tags: usize,
    /// Longest extra tag, in characters.
    pub max_tag_chars: usize,
    /// Log messages kept per call; later ones are dropped.
    pub max_log_messages: u32,
    /// Longest log message kept, in bytes (longer ones are cut).
    pub max_log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_millis(50),
            model_time: Duration::from_secs(120),
            memory_bytes: 64 << 20,
            max_items: 32,
            max_criterion_chars: 1000,
            max_tags: 8,
            max_tag_chars: 64,
            max_log_messages: 16,
            max_log_bytes: 512,
        }
    }
}

/// Enforces the memory cap and records the first refusal, so that the trap that follows
/// (Rust guests abort when an allocation fails) is reported as `memory`.
pub(crate) struct Limiter {
    memory_bytes: usize,
    pub(crate) denied: Option<String>,
}

/// Table elements a principle may have; generous for Rust guests, small enough to bound
/// host memory.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl Limiter {
    pub(crate) fn new(memory_bytes: usize) -> Limiter {
        Limiter { memory_bytes, denied: None }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            if self.denied.is_none() {
                self.denied = Some(format!(
                    "linear memory would grow from {} to {} KiB, over the {} KiB cap",
                    current >> 10,
                    desired >> 10,
                    self.memory_bytes >> 10
                ));
            }
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            if self.denied.is_none() {
                self.denied =
                    Some(format!("table would grow to {desired} elements, over the {MAX_TABLE_ELEMENTS} cap"));
            }
            return Ok(false);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }
}
