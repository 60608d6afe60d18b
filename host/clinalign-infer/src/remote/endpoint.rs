//! What the OpenAI-compatible clients (judges, the engine's model) share: a server's URLs, the HTTP
//! client with the API key, and bounded retries with exponential backoff on the failures
//! that may pass (transport errors and timeouts, HTTP 408, 429 and 5xx).

use std::time::Duration;

use serde_json::Value;

/// Longest wait between retries.
const MAX_DELAY: Duration = Duration::from_secs(30);

/// Longest wait for one request, connection and reply included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The chat-completions URL of a server given by its base URL (`http://host:port`,
/// `…/v1`, or the full `…/v1/chat/completions`).
pub fn chat_completions_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/chat/completions") {
        base.to_string()
    } else if base.ends_with("/v1") {
        format!("{base}/chat/completions")
    } else {
        format!("{base}/v1/chat/completions")
    }
}

/// The legacy text-completions URL of a server given by its base URL (`http://host:port`,
/// `…/v1`, or a full `…/v1/chat/completions` or `…/v1/completions` URL).
pub fn completions_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    let base = base.strip_suffix("/chat/completions").or_else(|| base.strip_suffix("/completions")).unwrap_or(base);
    if base.ends_with("/v1") { format!("{base}/completions") } else { format!("{base}/v1/completions") }
}

/// Why one attempt failed, and whether another may succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// Whether the same request may succeed later (a busy or failing server, a lost
    /// connection); `false` for answers that would come back the same.
    pub retry: bool,
}

impl Failure {
    /// A failure another attempt may not have.
    pub fn passing(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), retry: true }
    }

    /// A failure every attempt would have.
    pub fn lasting(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), retry: false }
    }
}

/// Whether an HTTP status may pass: request timeout, too many requests, server errors.
pub fn status_may_pass(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// A chat-completions endpoint with its retry policy.
pub struct ChatEndpoint {
    url: String,
    api_key: Option<String>,
    max_retries: u32,
    first_delay: Duration,
    agent: ureq::Agent,
}

impl ChatEndpoint {
    /// The endpoint of the server at `base` (see [`chat_completions_url`]); each request is
    /// tried up to `max_retries + 1` times, waiting `first_delay`, then twice as long each
    /// time (at most 30 s).
    pub fn new(base: &str, api_key: Option<String>, max_retries: u32, first_delay: Duration) -> ChatEndpoint {
        Self::at(chat_completions_url(base), api_key, max_retries, first_delay)
    }

    /// An endpoint at exactly `url` (e.g. a server's `/v1/completions`), with the same
    /// retry policy as [`ChatEndpoint::new`].
    pub fn at(url: String, api_key: Option<String>, max_retries: u32, first_delay: Duration) -> ChatEndpoint {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        ChatEndpoint { url, api_key, max_retries, first_delay, agent }
    }

    /// The URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends one request; a reply with a success status is returned as JSON.
    pub fn post(&self, body: &Value) -> Result<Value, Failure> {
        let mut req = self.agent.post(&self.url).header("Content-Type", "application/json");
        if let Some(k) = &self.api_key {
            req = req.header("Authorization", &format!("Bearer {k}"));
        }
        let mut resp =
            req.send_json(body).map_err(|e| Failure::passing(format!("request to {} failed: {e}", self.url)))?;
        let status = resp.status();
        let text =
            resp.body_mut().read_to_string().map_err(|e| Failure::passing(format!("reading the reply failed: {e}")))?;
        if !status.is_success() {
            let message = format!("HTTP {status}: {}", text.chars().take(200).collect::<String>());
            return Err(Failure { message, retry: status_may_pass(status.as_u16()) });
        }
        serde_json::from_str(&text).map_err(|e| Failure::passing(format!("reply is not JSON: {e}")))
    }

    /// Runs `attempt` until it succeeds, fails in a way that would not pass, or the retries
    /// run out; the error says which, with the last failure.
    pub fn with_retries<T>(&self, mut attempt: impl FnMut() -> Result<T, Failure>) -> Result<T, String> {
        let mut delay = self.first_delay;
        let mut last = String::new();
        for n in 0..=self.max_retries {
            if n > 0 {
                std::thread::sleep(delay);
                delay = (delay * 2).min(MAX_DELAY);
            }
            match attempt() {
                Ok(v) => return Ok(v),
                Err(f) if !f.retry => {
                    return Err(format!("{} (not retried: another attempt would fail the same way)", f.message));
                }
                Err(f) => last = f.message,
            }
            tracing::warn!("{} attempt {} of {}: {last}", self.url, n + 1, self.max_retries + 1);
        }
        Err(format!("gave up after {} attempts: {last}", self.max_retries + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_urls() {
        for base in [
            "http://h:1", "http://h:1/", "http://h:1/v1", "http://h:1/v1/chat/completions", "http://h:1/v1/completions",
        ] {
            assert_eq!(completions_url(base), "http://h:1/v1/completions", "{base}");
        }
    }

    #[test]
    fn urls_end_in_chat_completions() {
        assert_eq!(chat_completions_url("http://h:1"), "http://h:1/v1/chat/completions");
        assert_eq!(chat_completions_url("http://h:1/v1/"), "http://h:1/v1/chat/completions");
        assert_eq!(chat_completions_url("http://h:1/v1/chat/completions"), "http://h:1/v1/chat/completions");
    }

    #[test]
    fn only_passing_failures_are_retried_and_retries_are_bounded() {
        assert!([408, 429, 500, 502, 503, 599].into_iter().all(status_may_pass));
        assert!(![400, 401, 403, 404, 422].into_iter().any(status_may_pass));
        let e = ChatEndpoint::new("http://h:1", None, 3, Duration::ZERO);
        let mut n = 0;
        let r: Result<(), String> = e.with_retries(|| {
            n += 1;
            Err(Failure::passing("busy"))
        });
        assert_eq!((n, r.unwrap_err()), (4, "gave up after 4 attempts: busy".to_string()));
        let mut n = 0;
        let r: Result<(), String> = e.with_retries(|| {
            n += 1;
            Err(Failure::lasting("no log-probs"))
        });
        assert_eq!(n, 1);
        assert!(r.unwrap_err().starts_with("no log-probs (not retried"));
        let mut n = 0;
        let r = e.with_retries(|| {
            n += 1;
            if n < 3 { Err(Failure::passing("busy")) } else { Ok(n) }
        });
        assert_eq!(r, Ok(3));
    }
}
