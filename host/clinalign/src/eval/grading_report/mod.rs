//! The grading report: what `clinalign score --html` writes, one self-contained HTML page
//! (inline CSS and SVG, no script, nothing fetched) that shows the HealthBench score with its
//! interval, scores by theme, axis and dimension, the distribution of example scores, what
//! each principle's items did, the worst examples, and the grader against physicians.
//!
//! [`summary`] computes the numbers, [`charts`] draws SVG, [`markup`] escapes text, and
//! [`page`] puts the page together. Charts are `<svg data-chart="…">` elements
//! ([`CHARTS`]), each bar a `<rect data-value="…">`.

pub mod charts;
pub mod markup;
pub mod page;
pub mod summary;

pub use page::{WORST_EXAMPLES, render};
pub use summary::{GradingReport, ReportExample};

/// The `data-chart` names the page can hold (a chart is left out when its data is absent:
/// `by-dimension` without `dimension:` tags, `principles` without provenance, `meta`
/// without physician labels).
pub const CHARTS: [&str; 7] = ["overall", "by-theme", "by-axis", "by-dimension", "distribution", "principles", "meta"];

#[cfg(test)]
mod tests;
