//! Evaluation: HealthBench scoring, the meta-evaluation of graders against physicians,
//! the physician-agreed scenario labels (and the classifier evaluation on them), and the
//! comparison of synthesized rubrics with physician rubrics, and the HTML grading report.
//! Nothing here runs principles.

pub mod grade_summary;
pub mod graded;
pub mod grading_report;
pub mod meta;
pub mod physician_labels;
pub mod rubric_comparison;
pub mod score_run;
pub mod scoring;

pub use grade_summary::GradeSummary;
pub use graded::{GradedRow, parse_graded_row};
pub use grading_report::{GradingReport, ReportExample};
pub use meta::{MetaEval, MetaRow, Rate, meta_eval, rater_agreement};
pub use physician_labels::{ClassifierEval, DimensionEval, healthbench_labels};
pub use rubric_comparison::{
    EMBEDDING_THRESHOLDS, MatchPair, RowRubrics, RubricEval, RubricShape, Similarities, THRESHOLDS, evaluate,
    evaluate_with, lexical_similarities,
};
pub use score_run::{ScoreRun, Scored};
pub use scoring::{
    Aggregate, BOOTSTRAP_SAMPLES, aggregate, bootstrap_std, clipped_mean, example_metrics, score, soft_score,
};
