//! The principle playground that `clinalign serve` ships at `/`, in a real headless Chromium
//! (tests/common/browser.rs): a query typed and submitted, the rubric read back from the DOM
//! and checked against the API, a response graded by the real SmolLM2 judge, then a manifest
//! edited on disk and the page seen to follow (a new rubric; then a rejected reload with its
//! error). Screenshots are kept under target/test-artifacts/.

mod common;

use std::time::Duration;

use common::browser::{Browser, artifacts_dir};
use common::*;
use serde_json::{Value, json};

const CHEST_PAIN: &str =
    "I'm 58 and have had crushing chest pain spreading to my left arm for 20 minutes. What should I do?";

fn rubric_in_page(b: &Browser) -> Vec<Value> {
    let rows = b.run(
        "return [...document.querySelectorAll('#rubric tbody tr')].map(tr => ({
            points: Number(tr.dataset.points),
            principle: tr.dataset.principle,
            criterion: tr.querySelector('.criterion').textContent,
            p_met: tr.dataset.pMet === undefined ? null : Number(tr.dataset.pMet) }))",
        json!([]),
    );
    rows.as_array().cloned().unwrap_or_default()
}

fn renders(b: &Browser) -> u64 {
    b.run("return Number(document.body.dataset.renders || 0)", json!([])).as_u64().unwrap_or(0)
}

fn wait_for_render_after(b: &Browser, what: &str, before: u64) {
    b.wait_for(
        what,
        Duration::from_secs(120),
        "return Number(document.body.dataset.renders || 0) > arguments[0]",
        json!([before]),
    );
}

#[test]
fn the_playground_shows_the_rubric_grades_and_follows_edits_on_disk() {
    let Some(b) = Browser::start("the_playground_shows_the_rubric_grades_and_follows_edits_on_disk") else {
        return;
    };
    let p = Project::with_principles();
    let judge = format!("local:{}", clinalign_infer::assets::smollm2_gguf().unwrap().display());
    let server = Serving::start(&[
        "--principles".as_ref(),
        p.principles().as_os_str(),
        "--plugins".as_ref(),
        p.plugins().as_os_str(),
        "--judge".as_ref(),
        judge.as_ref(),
        "--watch".as_ref(),
    ]);
    b.goto(&format!("{}/", server.base));
    let hash = b.wait_for(
        "the page to load and show the live set",
        Duration::from_secs(30),
        "return document.body.dataset.ready === 'yes' && document.getElementById('set-status').dataset.hash",
        json!([]),
    );
    let first_set = hash.as_str().unwrap().to_string();
    let health: Value = ureq::get(&format!("{}/healthz", server.base)).call().unwrap().body_mut().read_json().unwrap();
    assert_eq!(health["principle_set"]["hash"], first_set.as_str(), "the status line carries the live set's hash");
    let examples =
        b.run("return document.querySelectorAll('#example option[value]:not([value=\"\"])').length", json!([]));
    assert!(examples.as_u64().unwrap() >= 4, "bundled examples are offered: {examples}");

    // A query, typed and submitted as a user would.
    b.type_into("#conversation", CHEST_PAIN);
    let before = renders(&b);
    b.click("#explain");
    wait_for_render_after(&b, "the rubric of the typed query", before);

    let labels = b.run(
        "return [...document.querySelectorAll('#scenario .label')].map(l => [l.dataset.dimension, l.dataset.value, Number(l.dataset.confidence)])",
        json!([]),
    );
    let labels = labels.as_array().unwrap();
    assert_eq!(labels.len(), 4, "the four scenario labels: {labels:?}");
    let urgency = labels.iter().find(|l| l[0] == "urgency").expect("an urgency label");
    assert_eq!(urgency[1], "emergent", "crushing chest pain is emergent: {labels:?}");
    assert!(labels.iter().all(|l| l[2].as_f64().is_some_and(|c| (0.0..=1.0).contains(&c))), "{labels:?}");

    // The rubric on the page is the one the API writes, item for item.
    let shown = rubric_in_page(&b);
    let api = ureq::post(&format!("{}/v1/rubrics", server.base))
        .send_json(json!({"id": "playground", "messages": [{"role": "user", "content": CHEST_PAIN}]}))
        .unwrap()
        .body_mut()
        .read_json::<Value>()
        .unwrap();
    let items = api["rubrics"].as_array().unwrap();
    assert!(!items.is_empty());
    assert_eq!(shown.len(), items.len(), "one row per rubric item");
    for (row, item) in shown.iter().zip(items) {
        assert_eq!(row["criterion"], item["criterion"]);
        assert_eq!(row["points"], item["points"]);
        let tag = item["tags"].as_array().unwrap().iter().find_map(|t| t.as_str()?.strip_prefix("principle:"));
        assert_eq!(row["principle"].as_str(), tag, "principle@version on every row");
    }
    let emergency = shown
        .iter()
        .find(|r| r["principle"] == "urgency.emergency-first@1.0.0")
        .expect("the emergency principle speaks for crushing chest pain");
    assert!(emergency["criterion"].as_str().unwrap().contains("emergency services (e.g. 911"), "{emergency}");

    // The pool: every principle on the rubric spoke; the statuses are the four kinds.
    let pool = b.run(
        "return [...document.querySelectorAll('#pool li[data-status]')].map(li => [li.dataset.principle, li.dataset.status])",
        json!([]),
    );
    let pool = pool.as_array().unwrap();
    assert!(pool.iter().all(|s| ["emitted", "silent", "gated-out", "failed"].contains(&s[1].as_str().unwrap())));
    for row in &shown {
        let id = row["principle"].as_str().unwrap().split('@').next().unwrap();
        assert!(pool.iter().any(|s| s[0] == id && s[1] == "emitted"), "{id} spoke: {pool:?}");
    }
    assert!(b.text("#pool-summary").contains("spoke"), "the pool is summed up");
    b.fit_page();
    b.screenshot(&artifacts_dir().join("playground.png"));

    // Grading a pasted response with the server's judge.
    b.type_into("#response", "Call 911 now or have someone drive you to the nearest emergency department: crushing chest pain spreading to the arm can be a heart attack. Do not drive yourself. If you are not allergic, chew one regular aspirin while you wait.");
    let before = renders(&b);
    b.click("#grade");
    wait_for_render_after(&b, "the grades of the pasted response", before);
    let score = b.run("return document.getElementById('score').dataset.score", json!([]));
    let score: f64 = score.as_str().unwrap().parse().unwrap();
    assert!((0.0..=1.0).contains(&score), "{score}");
    let graded = rubric_in_page(&b);
    assert_eq!(graded.len(), shown.len());
    assert!(graded.iter().all(|r| r["p_met"].as_f64().is_some_and(|p| (0.0..=1.0).contains(&p))), "{graded:?}");
    b.screenshot(&artifacts_dir().join("playground-graded.png"));

    // An author saves a manifest: the page shows the new set's rubric without a reload.
    let manifest = p.principles().join("urgency/emergency-first.toml");
    let original = std::fs::read_to_string(&manifest).unwrap();
    let edited = original.replace("(e.g. 911 or the local emergency number)", "(e.g. 112 in Europe, 911 in the US)");
    assert_ne!(edited, original);
    std::fs::write(&manifest, &edited).unwrap();
    b.wait_for(
        "the edited principle's wording on the page",
        Duration::from_secs(180),
        "return [...document.querySelectorAll('#rubric .criterion')].some(td => td.textContent.includes('112 in Europe'))",
        json!([]),
    );
    let second_set = b.run("return document.getElementById('set-status').dataset.hash", json!([]));
    assert_ne!(second_set.as_str().unwrap(), first_set, "the status line follows the set");
    b.wait_for(
        "the live reload in the banner",
        Duration::from_secs(30),
        "return document.getElementById('reload-status').dataset.outcome === 'live'",
        json!([]),
    );

    // A broken manifest never goes live; the page says why and keeps the live rubric.
    std::fs::write(&manifest, "this is [not toml").unwrap();
    b.wait_for(
        "the rejected reload in the banner",
        Duration::from_secs(180),
        "return document.getElementById('reload-status').dataset.outcome === 'rejected'",
        json!([]),
    );
    let banner = b.text("#reload-status");
    assert!(banner.contains("rejected") && banner.contains("emergency-first"), "{banner}");
    let still = rubric_in_page(&b);
    assert!(still.iter().any(|r| r["criterion"].as_str().unwrap().contains("112 in Europe")), "the live rubric stays");
    b.screenshot(&artifacts_dir().join("playground-rejected.png"));
    drop(b);
    drop(server);
}

/// The page and its assets are served without a token even when the API needs one; the page
/// names no asset from elsewhere (it works on a closed network).
#[test]
fn the_page_is_served_from_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token-for-the-test\n").unwrap();
    let server = Serving::start(&[
        "--principles".as_ref(),
        repo().join("principles").as_os_str(),
        "--token-file".as_ref(),
        token.as_os_str(),
    ]);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    for (path, kind) in [
        ("/", "text/html"),
        ("/playground.js", "text/javascript"),
        ("/playground.css", "text/css"),
        ("/playground/examples.json", "application/json"),
    ] {
        let mut r = agent.get(&format!("{}{path}", server.base)).call().unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path} needs no token");
        let ct = r.headers().get("content-type").unwrap().to_str().unwrap().to_string();
        assert!(ct.starts_with(kind), "{path}: {ct}");
        assert!(r.headers().get("content-security-policy").is_some(), "{path} carries a CSP");
        let body = r.body_mut().read_to_string().unwrap();
        assert!(!body.is_empty());
    }
    let r = agent
        .post(&format!("{}/v1/explain", server.base))
        .send_json(json!({"messages": [{"role": "user", "content": CHEST_PAIN}]}))
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "the routes the page calls keep their token");
    let mut r = agent
        .post(&format!("{}/v1/explain", server.base))
        .header("Authorization", "Bearer s3cret-token-for-the-test")
        .send_json(json!({"messages": [{"role": "user", "content": CHEST_PAIN}]}))
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.body_mut().read_json().unwrap();
    let x = &v["explanation"];
    assert_eq!(x["scenario"].as_array().unwrap().len(), 4, "{x}");
    assert!(x["pool"].as_array().unwrap().iter().any(|s| s["status"] == "emitted"), "{x}");
    assert_eq!(x["rubric"]["principle_set"], v["principle_set"]);
}
