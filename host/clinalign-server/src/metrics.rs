//! What `/metrics` shows (Prometheus text format, through `prometheus-client`): requests by
//! route and status with latency histograms, per-principle calls, errors by kind and time,
//! judge criteria, rubric cache hits, the judge queue, requests in flight and reloads.

use std::sync::atomic::AtomicU64;

use clinalign::{ReloadOutcome, Rubric};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PrincipleLabel {
    principle: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PrincipleErrorLabel {
    principle: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

fn latency_histogram() -> Histogram {
    // 50 µs … ~105 s.
    Histogram::new(exponential_buckets(50e-6, 2.0, 22))
}

/// The server's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    latency: Family<RouteLabel, Histogram, fn() -> Histogram>,
    principle_calls: Family<PrincipleLabel, Counter>,
    principle_errors: Family<PrincipleErrorLabel, Counter>,
    principle_seconds: Family<PrincipleLabel, Counter<f64, AtomicU64>>,
    pub judge_criteria: Counter,
    pub judge_responses: Counter,
    pub judge_seconds: Counter<f64, AtomicU64>,
    pub judge_batch: Histogram,
    pub rubric_cache_hits: Counter,
    pub rubric_cache_misses: Counter,
    pub queue_depth: Gauge,
    pub in_flight: Gauge,
    pub rejected: Counter,
    pub generations_cancelled: Counter,
    reloads: Family<OutcomeLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("clinalign");
        let requests = Family::<RouteStatus, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route and status", requests.clone());
        let latency = Family::<RouteLabel, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register("http_request_duration_seconds", "Time to answer a request, by route", latency.clone());
        let principle_calls = Family::<PrincipleLabel, Counter>::default();
        registry.register("principle_calls", "Principle calls made for rubrics", principle_calls.clone());
        let principle_errors = Family::<PrincipleErrorLabel, Counter>::default();
        registry.register("principle_errors", "Principle calls that failed, by kind", principle_errors.clone());
        let principle_seconds = Family::<PrincipleLabel, Counter<f64, AtomicU64>>::default();
        registry.register("principle_call_seconds", "Time spent in principle calls", principle_seconds.clone());
        let judge_criteria = Counter::default();
        registry.register("judge_criteria", "Rubric items judged (rate() gives criteria/s)", judge_criteria.clone());
        let judge_responses = Counter::default();
        registry.register("judge_responses", "Responses judged", judge_responses.clone());
        let judge_seconds = Counter::<f64, AtomicU64>::default();
        registry.register("judge_seconds", "Time the judge spent grading", judge_seconds.clone());
        let judge_batch = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register("judge_batch_responses", "Responses the judge took in one batch", judge_batch.clone());
        let rubric_cache_hits = Counter::default();
        registry.register("rubric_cache_hits", "Rubrics the reward routes found cached", rubric_cache_hits.clone());
        let rubric_cache_misses = Counter::default();
        registry.register("rubric_cache_misses", "Rubrics the reward routes synthesized", rubric_cache_misses.clone());
        let queue_depth = Gauge::default();
        registry.register("judge_queue_depth", "Responses waiting for the judge", queue_depth.clone());
        let in_flight = Gauge::default();
        registry.register("requests_in_flight", "Requests being answered", in_flight.clone());
        let rejected = Counter::default();
        registry.register("overload_rejections", "Requests turned away because the server was full", rejected.clone());
        let generations_cancelled = Counter::default();
        registry.register(
            "generations_cancelled",
            "OpenAI-route generations stopped because their request went away (client gone or deadline)",
            generations_cancelled.clone(),
        );
        let reloads = Family::<OutcomeLabel, Counter>::default();
        registry.register("reloads", "Principle set reloads, by outcome", reloads.clone());
        Metrics {
            registry,
            requests,
            latency,
            principle_calls,
            principle_errors,
            principle_seconds,
            judge_criteria,
            judge_responses,
            judge_seconds,
            judge_batch,
            rubric_cache_hits,
            rubric_cache_misses,
            queue_depth,
            in_flight,
            rejected,
            generations_cancelled,
            reloads,
        }
    }

    /// Counts one answered request.
    pub fn request(&self, route: &str, status: u16, seconds: f64) {
        self.requests.get_or_create(&RouteStatus { route: route.to_string(), status }).inc();
        self.latency.get_or_create(&RouteLabel { route: route.to_string() }).observe(seconds);
    }

    /// Counts the principle calls that wrote a rubric.
    pub fn rubric(&self, rubric: &Rubric) {
        for call in &rubric.calls {
            let principle = PrincipleLabel { principle: call.principle.clone() };
            self.principle_calls.get_or_create(&principle).inc();
            self.principle_seconds.get_or_create(&principle).inc_by(call.micros as f64 * 1e-6);
            if let Some(e) = &call.error {
                let label = PrincipleErrorLabel { principle: call.principle.clone(), kind: e.kind.name().to_string() };
                self.principle_errors.get_or_create(&label).inc();
            }
        }
    }

    /// Counts one reload.
    pub fn reload(&self, outcome: &ReloadOutcome) {
        let outcome = match outcome {
            ReloadOutcome::Live { .. } => "live",
            ReloadOutcome::Unchanged { .. } => "unchanged",
            ReloadOutcome::Rejected { .. } => "rejected",
        };
        self.reloads.get_or_create(&OutcomeLabel { outcome: outcome.to_string() }).inc();
    }

    /// The text exposition (OpenMetrics, which Prometheus reads).
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::new();
        m.request("/v1/rubrics", 200, 0.001);
        m.request("/v1/rubrics", 422, 0.0002);
        m.judge_criteria.inc_by(12);
        let text = m.render();
        assert!(text.contains("clinalign_http_requests_total{route=\"/v1/rubrics\",status=\"200\"} 1"), "{text}");
        assert!(text.contains("clinalign_http_request_duration_seconds_bucket{le="), "{text}");
        assert!(text.contains("clinalign_judge_criteria_total 12"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
