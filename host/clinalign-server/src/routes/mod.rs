//! The HTTP surface: routes, and the layers around them — request metrics, bearer auth,
//! bounded concurrency that sheds load with 503 + `Retry-After`, request timeouts, the body
//! size limit, and panics turned into a 500 for the one request.

pub mod health;
pub mod playground;
pub mod revise;
pub mod reward;
pub mod rows;

use std::time::Instant;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{BoxError, Router};
use clinalign::PrincipleSet;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth;
use crate::error::ApiError;
use crate::state::AppState;

/// Every route, for the router and the OpenAPI document.
pub const ROUTES: [(&str, &str); 14] = [
    ("GET", "/"),
    ("POST", "/v1/classify"),
    ("POST", "/v1/rubrics"),
    ("POST", "/v1/explain"),
    ("POST", "/v1/grade"),
    ("POST", "/v1/reward"),
    ("POST", "/get_reward"),
    ("POST", "/v1/revise"),
    ("GET", "/v1/tools"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// The header that names the principle set that answered.
pub const SET_HEADER: &str = "x-principle-set";

/// Marks a response the overload layer produced (counted apart from other 503s).
#[derive(Clone, Copy)]
struct Shed;

/// The service.
pub fn app(state: AppState) -> Router {
    let cfg = &state.config;
    let bounded = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overloaded))
        .layer(LoadShedLayer::new())
        .layer(GlobalConcurrencyLimitLayer::new(cfg.max_concurrency.max(1)));
    let work = Router::new()
        .route("/v1/classify", post(rows::classify))
        .route("/v1/rubrics", post(rows::rubrics))
        .route("/v1/explain", post(rows::explain))
        .route("/v1/grade", post(rows::grade))
        .route("/v1/reward", post(reward::reward))
        .route("/get_reward", post(reward::get_reward))
        .route("/v1/revise", post(revise::revise))
        .route("/v1/chat/completions", post(crate::openai::chat_completions))
        .route("/v1/completions", post(crate::openai::completions))
        .route_layer(bounded);
    let protected = work
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(health::openapi))
        .route("/v1/tools", get(health::tools))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_token));
    protected
        .route("/healthz", get(health::healthz))
        .merge(playground::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), refuse_large_bodies))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(DefaultBodyLimit::max(cfg.body_limit))
        .with_state(state)
}

/// The response's set, in a header.
pub fn named(mut resp: Response, set: &PrincipleSet) -> Response {
    if let Ok(v) = HeaderValue::from_str(set.hash()) {
        resp.headers_mut().insert(SET_HEADER, v);
    }
    resp
}

/// What an engine error says about a query, without the "query <id>:" it starts with.
pub fn engine_detail(e: &clinalign::Error) -> String {
    match e {
        clinalign::Error::Query { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

async fn overloaded(err: BoxError) -> Response {
    let mut resp = if err.is::<tower::load_shed::error::Overloaded>() {
        ApiError::unavailable("the server is at its concurrency limit; retry shortly", 1).into_response()
    } else {
        ApiError::internal(format!("unhandled error: {err}")).into_response()
    };
    resp.extensions_mut().insert(Shed);
    resp
}

fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    crate::error::panicked(&*panic).into_response()
}

async fn not_found(req: Request) -> Response {
    let routes: Vec<String> = ROUTES.iter().map(|(m, p)| format!("{m} {p}")).collect();
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route {} {}; routes: {}", req.method(), req.uri().path(), routes.join(", ")),
    )
    .into_response()
}

/// 503 for a request still running at the server's deadline (the judge skips work whose
/// request has gone).
async fn deadline(State(s): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(s.config.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::unavailable(
            format!(
                "the request ran past this server's deadline of {} s (--request-timeout-s)",
                s.config.request_timeout.as_secs_f64()
            ),
            1,
        )
        .into_response(),
    }
}

/// 413 at once for a body whose announced length is over the limit, before any of it is read
/// (the body limit itself stops bodies that do not announce their length).
async fn refuse_large_bodies(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = announced.filter(|n| *n > s.config.body_limit as u64) {
        let mut resp = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the body is {n} bytes, over this server's limit of {} bytes (--body-limit-mib)",
                s.config.body_limit
            ),
        )
        .into_response();
        resp.headers_mut().insert(axum::http::header::CONNECTION, HeaderValue::from_static("close"));
        return resp;
    }
    next.run(req).await
}

/// Counts requests in flight, and each answered one by route, status and latency.
async fn track(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "other".into());
    let started = Instant::now();
    let _in_flight = InFlight::enter(&s);
    let resp = next.run(req).await;
    if resp.extensions().get::<Shed>().is_some() {
        s.metrics.rejected.inc();
    }
    s.metrics.request(&route, resp.status().as_u16(), started.elapsed().as_secs_f64());
    resp
}

/// Keeps the in-flight gauge right even when a client leaves mid-request.
struct InFlight(AppState);

impl InFlight {
    fn enter(s: &AppState) -> InFlight {
        s.metrics.in_flight.inc();
        InFlight(s.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.metrics.in_flight.dec();
    }
}
