//! # clinalign-server — `clinalign serve`
//!
//! The engine as an HTTP service (axum on tokio; the engine library stays free of both):
//! rubrics, grading and RL rewards for pipelines and trainers (OpenRLHF, verl, TRL), the local
//! model behind OpenAI-compatible routes, and a principle set that hot-reloads while it serves.
//!
//! - [`config`]: what a server is told; [`state`]: what handlers share;
//! - [`routes`]: the HTTP surface and its layers ([`auth`], limits, metrics, timeouts);
//! - [`body`], [`error`]: reading requests and answering errors that name the field and row;
//! - [`grading`] with [`judge_queue`] (batched judging) and [`rubric_cache`]; [`transcript`]
//!   (conversations from chat-templated text); [`openai`] (the local model's OpenAI routes);
//! - [`metrics`], [`openapi`], [`tool_schema`] (the tools agent frameworks call);
//! - the playground at `/` (`routes::playground`): a page and its script, inside the binary.
//!
//! [`run`] serves until SIGTERM or Ctrl-C, then stops accepting, lets requests in flight
//! finish (up to the grace period) and returns.

pub mod auth;
pub mod body;
pub mod config;
pub mod error;
pub mod grading;
pub mod judge_queue;
pub mod metrics;
pub mod openai;
pub mod openapi;
pub mod routes;
pub mod rubric_cache;
pub mod state;
pub mod tool_schema;
pub mod transcript;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};

pub use config::{RequestCaps, ServerConfig};
pub use state::{AppState, Services};

/// Serves until SIGTERM or Ctrl-C; `ready` is called with the bound address once the server
/// accepts connections. With `services.watching`, the principle set is watched and
/// hot-reloaded (a set that fails to build or self-test never goes live; `/healthz` says why).
pub fn run(config: ServerConfig, services: Services, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    run_until(config, services, ready, stop_signal())
}

/// [`run`] that stops when `stop` resolves instead of on a signal (benchmarks, embedding).
pub fn run_until(
    config: ServerConfig,
    services: Services,
    ready: impl FnOnce(SocketAddr),
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("clinalign-http")
        .build()
        .context("starting the async runtime")?;
    let metrics = Arc::new(metrics::Metrics::new());
    let watching = services.watching;
    let grace = config.shutdown_grace;
    let addr = config.addr;
    let state = AppState::new(config, services, metrics.clone());
    let _watch = if watching {
        let m = metrics.clone();
        Some(state.engine.watch_with(move |report| {
            m.reload(&report.outcome);
            // The engine logs a rejected set with its reason; say what went live.
            if let clinalign::ReloadOutcome::Live { principle_set, principles, .. } = &report.outcome {
                tracing::info!(
                    "{}: set {principle_set} ({principles} principles) live in {} ms",
                    report.trigger,
                    report.duration_ms
                );
            }
        })?)
    } else {
        None
    };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
        ready(listener.local_addr()?);
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let serve = axum::serve(listener, routes::app(state)).with_graceful_shutdown(async move {
            stop.await;
            tracing::info!("stopping: no new connections; letting requests in flight finish");
            let _ = stop_tx.send(true);
        });
        let drained = async move {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            r = serve => r.context("serving"),
            () = drained => {
                tracing::warn!("requests still running {} s after the stop signal; exiting anyway", grace.as_secs());
                Ok(())
            }
        }
    })
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
