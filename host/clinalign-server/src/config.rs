//! How a server runs: where it listens, who may call it and how much one request and the whole
//! server take on at once.

use std::net::SocketAddr;
use std::time::Duration;

use clinalign_infer::backend::Backend;

/// Caps on one request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestCaps {
    /// Most rows (or samples, or queries) in one request.
    pub max_rows: usize,
    /// Most characters of text in one row (every string in it).
    pub max_chars: usize,
}

impl Default for RequestCaps {
    fn default() -> Self {
        RequestCaps { max_rows: 4096, max_chars: 400_000 }
    }
}

/// Everything `clinalign serve` is told, with sane defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen; loopback by default. Port 0 picks a free port.
    pub addr: SocketAddr,
    /// The bearer token every route but `/healthz` requires, when set.
    pub token: Option<String>,
    /// Requests handled at once; more get 503 with `Retry-After` at once (no queue).
    pub max_concurrency: usize,
    /// Responses waiting for the judge, at most; more get 503 with `Retry-After`.
    pub judge_queue: usize,
    /// How long the judge waits for more work to batch with the first response it takes.
    pub batch_window: Duration,
    /// Largest request body, in bytes (413 above it).
    pub body_limit: usize,
    pub caps: RequestCaps,
    /// A request still running after this gets 503.
    pub request_timeout: Duration,
    /// After SIGTERM/Ctrl-C, how long requests in flight may take to finish.
    pub shutdown_grace: Duration,
    /// Rubrics kept for the reward routes, per (conversation, principle set).
    pub rubric_cache: usize,
    /// Where the served models' forward pass runs, and why (`/healthz`).
    pub backend: Backend,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8077)),
            token: None,
            max_concurrency: 256,
            judge_queue: 8192,
            batch_window: Duration::from_millis(2),
            body_limit: 64 << 20,
            caps: RequestCaps::default(),
            request_timeout: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(30),
            rubric_cache: 65_536,
            backend: Backend::cpu("the inference layer runs on the CPU (no device was chosen)"),
        }
    }
}
