//! Summary statistics of timings, shared by the benchmarks.

use std::time::Duration;

/// (p50, p99, mean) in microseconds.
pub fn latency(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort();
    let us = |d: Duration| (d.as_secs_f64() * 1e7).round() / 10.0;
    let pick = |q: f64| us(samples[((samples.len() - 1) as f64 * q).round() as usize]);
    let mean = samples.iter().map(|d| d.as_secs_f64()).sum::<f64>() / samples.len() as f64;
    (pick(0.5), pick(0.99), (mean * 1e7).round() / 10.0)
}

/// The middle value (the upper one of an even count); `v` must not be empty.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Rounded to two decimals, for printing.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
