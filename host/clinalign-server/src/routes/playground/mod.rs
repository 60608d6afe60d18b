//! The principle playground at `/`: one page, its script and style, and a few bundled example
//! conversations, all compiled into the binary (no build step, no CDN, nothing fetched from
//! elsewhere). The page calls the server's own routes — `/v1/explain` for the scenario, the
//! pool and the rubric, `/v1/grade` to grade a response, `/healthz` (polled) for the live
//! principle set and the last reload — so an author who saves a manifest sees the new rubric
//! without reloading the page. The assets need no token; the routes the page calls do when
//! the server has one (the page asks for it).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

const PAGE: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("playground.js");
const STYLE: &str = include_str!("playground.css");
const EXAMPLES: &str = include_str!("examples.json");

/// The page's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { asset(PAGE, "text/html; charset=utf-8") }))
        .route("/playground.js", get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }))
        .route("/playground.css", get(|| async { asset(STYLE, "text/css; charset=utf-8") }))
        .route("/playground/examples.json", get(|| async { asset(EXAMPLES, "application/json") }))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The page is tied to this binary's routes: never serve a stale copy after an upgrade.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Only this server's own script, style and routes.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        ),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_its_own_assets_and_the_examples_parse() {
        assert!(PAGE.contains("/playground.js") && PAGE.contains("/playground.css"));
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"), "no asset from elsewhere");
        assert!(!SCRIPT.contains("http://") && !SCRIPT.contains("https://"), "no fetch from elsewhere");
        let v: serde_json::Value = serde_json::from_str(EXAMPLES).expect("examples.json parses");
        let examples = v["examples"].as_array().expect("a list of examples");
        assert!(examples.len() >= 4);
        for e in examples {
            assert!(e["id"].is_string() && e["title"].is_string() && e["messages"][0]["content"].is_string(), "{e}");
        }
    }
}
