//! A real headless browser for the end-to-end tests of the pages the engine serves or writes:
//! Debian's Chromium driven through ChromeDriver over the W3C WebDriver protocol (plain JSON
//! over HTTP on loopback). The few WebDriver calls the tests need are made with the HTTP client
//! the tests already use; a WebDriver crate would bring a TLS stack (aws-lc's C build) for a
//! connection that never leaves the machine.
//!
//! `.ci/run` installs the browser (`scripts/setup-browser.sh`) and sets
//! `CLINALIGN_REQUIRE_BROWSER=1`, so there a missing browser fails the test; elsewhere a test
//! without one says SKIPPED and why.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// The W3C identifier of an element reference in WebDriver replies.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session; closed, with its driver, when dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

fn binary(env: &str, default: &str) -> Option<PathBuf> {
    let p = std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default));
    p.is_file().then_some(p)
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium, or says why not: `None` after printing
    /// `SKIPPED: <test>: <reason>` where no browser is installed, a panic where CI requires one.
    pub fn start(test: &str) -> Option<Browser> {
        match Browser::try_start() {
            Ok(b) => Some(b),
            Err(why) if std::env::var_os("CLINALIGN_REQUIRE_BROWSER").is_some_and(|v| v == "1") => {
                panic!("{test}: CLINALIGN_REQUIRE_BROWSER=1 but the browser cannot start: {why}")
            }
            Err(why) => {
                eprintln!("SKIPPED: {test}: {why} (install it with: bash scripts/setup-browser.sh)");
                None
            }
        }
    }

    fn try_start() -> Result<Browser, String> {
        let chromium = binary("CLINALIGN_CHROMIUM", "/usr/bin/chromium")
            .ok_or("no Chromium at /usr/bin/chromium (or $CLINALIGN_CHROMIUM)")?;
        let chromedriver = binary("CLINALIGN_CHROMEDRIVER", "/usr/bin/chromedriver")
            .ok_or("no ChromeDriver at /usr/bin/chromedriver (or $CLINALIGN_CHROMEDRIVER)")?;
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", chromedriver.display()))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut b = Browser { driver, base, session: String::new(), agent, _profile: profile };
        let up = Instant::now();
        while b.request("GET", "/status", None).is_err() {
            if up.elapsed() > Duration::from_secs(30) {
                return Err("ChromeDriver did not answer within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Headless, and quiet on a closed network: no background connections, no updates.
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
            &format!("--user-data-dir={}", b._profile.path().display()),
        ];
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium.display().to_string(), "args": args }
        } } });
        let v = b.request("POST", "/session", Some(caps))?;
        b.session = v["sessionId"].as_str().ok_or_else(|| format!("no session id in {v}"))?.to_string();
        Ok(b)
    }

    /// One WebDriver call; its `value`, or the error it reports.
    fn request(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let resp = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self.agent.post(&url).send_json(body.unwrap_or_else(|| json!({}))),
        };
        let mut resp = resp.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status().as_u16();
        let v: Value = resp.body_mut().read_json().map_err(|e| format!("{method} {path}: {e}"))?;
        if status != 200 {
            return Err(format!("{method} {path}: {status} {}", v["value"]));
        }
        Ok(v["value"].clone())
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.request(method, &path, body).unwrap_or_else(|e| panic!("WebDriver: {e}"))
    }

    /// Opens a page and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page; its return value.
    pub fn run(&self, script: &str, args: Value) -> Value {
        self.call("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    /// Polls `script` until it returns something other than null/false, or panics after
    /// `timeout` naming `what`.
    pub fn wait_for(&self, what: &str, timeout: Duration, script: &str, args: Value) -> Value {
        let started = Instant::now();
        loop {
            let v = self.run(script, args.clone());
            if !v.is_null() && v != Value::Bool(false) {
                return v;
            }
            if started.elapsed() > timeout {
                let text = self.run("return document.body ? document.body.innerText.slice(0, 3000) : ''", json!([]));
                panic!("waited {timeout:?} for {what}; the page says:\n{}", text.as_str().unwrap_or(""));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn element(&self, css: &str) -> String {
        let v = self.call("POST", "/element", Some(json!({ "using": "css selector", "value": css })));
        v[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {v}")).to_string()
    }

    /// Clicks the element `css` names.
    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.call("POST", &format!("/element/{id}/click"), None);
    }

    /// Replaces the text of the input or textarea `css` names by typing `text`.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.call("POST", &format!("/element/{id}/clear"), None);
        self.call("POST", &format!("/element/{id}/value"), Some(json!({ "text": text })));
    }

    /// The visible text of the element `css` names.
    pub fn text(&self, css: &str) -> String {
        let id = self.element(css);
        self.call("GET", &format!("/element/{id}/text"), None).as_str().unwrap_or_default().to_string()
    }

    /// A PNG of the whole window, written to `path` (its folder is made).
    pub fn screenshot(&self, path: &Path) {
        let v = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD.decode(v.as_str().expect("base64 PNG")).expect("base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }

    /// Makes the window tall enough for the whole page, for a screenshot of all of it.
    pub fn fit_page(&self) {
        let h = self.run("return Math.ceil(document.documentElement.scrollHeight)", json!([]));
        let h = h.as_u64().unwrap_or(1000).clamp(600, 6000);
        self.call("POST", "/window/rect", Some(json!({ "width": 1400, "height": h + 120 })));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.request("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where tests keep what they show a reader (screenshots): `target/test-artifacts/`.
pub fn artifacts_dir() -> PathBuf {
    super::repo().join("target").join("test-artifacts")
}
