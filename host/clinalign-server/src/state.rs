//! What every handler shares: the engine, the judge queue, the local model, the metrics, the
//! rubric cache and the rows that `labels` may name.

use std::collections::HashMap;
use std::sync::Arc;

use clinalign::{Engine, Judge, Row};
use clinalign_infer::chat_reader::ChatReader;
use clinalign_infer::local::LocalModel;

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::judge_queue::JudgeQueue;
use crate::metrics::Metrics;
use crate::rubric_cache::RubricCache;

/// What the server is given to serve with.
pub struct Services {
    pub engine: Engine,
    /// Grades responses for `/v1/grade`, `/v1/reward` and `/get_reward`.
    pub judge: Option<Arc<dyn Judge>>,
    /// Judge workers: 1 for a local judge (it uses every core itself), more for a remote one.
    pub judge_workers: usize,
    /// Serves `/v1/chat/completions` and `/v1/completions`.
    pub model: Option<Arc<LocalModel>>,
    /// Rows a trainer's `labels` may name by id (their conversation, and their rubric when
    /// they carry one).
    pub rows: Vec<Row>,
    /// Whether the principle set is watched and hot-reloaded.
    pub watching: bool,
}

/// The handlers' shared state; cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

pub struct Shared {
    pub engine: Engine,
    pub judge: Option<JudgeQueue>,
    pub model: Option<Arc<LocalModel>>,
    /// The served model's chat format, learned from its template, for reading `/get_reward`
    /// transcripts; `Err` says why it could not be learned.
    pub chat_reader: Result<ChatReader, String>,
    pub metrics: Arc<Metrics>,
    pub rubrics: RubricCache,
    pub config: ServerConfig,
    pub rows: HashMap<String, Row>,
    pub watching: bool,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(config: ServerConfig, services: Services, metrics: Arc<Metrics>) -> AppState {
        let judge = services.judge.map(|j| {
            JudgeQueue::start(j, services.judge_workers, config.judge_queue, config.batch_window, metrics.clone())
        });
        let chat_reader = match services.model.as_deref().map(|m| (m, m.chat_template())) {
            None => Err("no --model is served".to_string()),
            Some((m, None)) => Err(format!("{} has no chat template", m.name())),
            Some((m, Some(t))) => ChatReader::learn(t).map_err(|e| {
                tracing::warn!("/get_reward cannot read {}'s chat format ({e}); it reads ChatML and Llama 3", m.name());
                e.to_string()
            }),
        };
        let rows = services.rows.into_iter().filter_map(|r| r.id().map(|id| (id, r))).collect();
        AppState(Arc::new(Shared {
            engine: services.engine,
            judge,
            model: services.model,
            chat_reader,
            metrics,
            rubrics: RubricCache::new(config.rubric_cache),
            config,
            rows,
            watching: services.watching,
        }))
    }

    /// The judge, or a 503 saying how to start the server with one.
    pub fn judge(&self) -> Result<&JudgeQueue, ApiError> {
        self.judge.as_ref().ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "this server has no judge: start it with --judge local:smollm2 (or local:PATH, openai:URL, openai-logprobs:URL)",
            )
        })
    }

    /// The local model, or a 503 saying how to start the server with one.
    pub fn model(&self) -> Result<&Arc<LocalModel>, ApiError> {
        self.model.as_ref().ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "this server has no model: start it with --model local:smollm2 (or local:PATH)",
            )
        })
    }
}

/// Runs short CPU work (classification, synthesis) on the CPU pool, one thread per core, off
/// the async threads: under many concurrent requests the work queues for a core instead of
/// dozens of threads taking turns on two. A panic in it is a 500 for this request only.
pub async fn on_cores<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        // The receiver is gone when the request was dropped (deadline, client gone).
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)));
    });
    match rx.await {
        Ok(Ok(r)) => r,
        Ok(Err(panic)) => Err(crate::error::panicked(&*panic)),
        Err(_) => Err(ApiError::internal("the request's work was lost")),
    }
}

/// Runs long CPU work (generation with the local model) on its own thread, off the async
/// threads; a panic in it is a 500 for this request only.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => Err(crate::error::panicked(&*e.into_panic())),
        Err(_) => Err(ApiError::internal("the request was cancelled")),
    }
}
