//! `clinalign score IN`: HealthBench metrics from graded rows, as simple-evals computes them,
//! and the meta-evaluation of a grader against physicians.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use clinalign::Reading;
use clinalign::eval::grading_report::{self, GradingReport, ReportExample};
use clinalign::eval::{GradedRow, aggregate, example_metrics, meta_eval, parse_graded_row};
use serde_json::json;

use crate::jsonl::{JsonlReader, write_json_atomic, write_text_atomic};

#[derive(Args, Debug)]
#[command(after_help = "Example rows: `rubrics` whose items carry `points`, `tags` and `criteria_met` (bool) or \
`p_met` (0..1, soft), plus optional `example_tags`. Per example: Σ points of met items / Σ positive points; \
tag scores for example and rubric tags; each metric's mean clipped to [0, 1], :n_samples and :bootstrap_std \
(1000 resamples, seeded).\n\
Meta rows: `binary_labels` (physicians), the grader's `criteria_met` / `p_met` / `grader_label`, `category`, \
optional `anonymized_physician_ids`: pairwise precision/recall/F1 per class, balanced (macro) F1, and the \
physician baseline.\n\
--html PATH: one self-contained page (inline CSS and SVG, no script, nothing fetched) with the same numbers drawn: \
the score with its 95% interval (± 1.96 bootstrap std), scores by theme, axis and dimension, the histogram of \
example scores, what each principle's items did (rubrics with principle: tags), the 10 lowest examples with \
what they missed, and the grader against physicians (meta rows). See docs/formats.md.")]
pub struct ScoreArgs {
    /// JSONL file of graded rows.
    pub input: PathBuf,
    /// Also write the JSON here (atomically).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Skip invalid rows (each is reported and counted) instead of stopping.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Also write a self-contained HTML report here (atomically): score with its interval, by theme
    /// and axis, distribution, per principle, worst examples, grader vs physicians.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    /// Seed of the bootstrap resampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(args: ScoreArgs) -> Result<ExitCode> {
    let mut reader = JsonlReader::open(&args.input)?;
    let input = args.input.display().to_string();
    let mut examples = Vec::new();
    // What the HTML report shows of each example; kept only when one is asked for.
    let mut report_examples: Vec<ReportExample> = Vec::new();
    let mut meta = Vec::new();
    let mut skipped = 0u64;
    loop {
        let batch = reader.next_batch(4096)?;
        if batch.is_empty() {
            break;
        }
        for line in batch {
            let parsed = parse_graded_row(&line.text).and_then(|row| match row {
                GradedRow::Example { id, last_user_turn, example_tags, items } => {
                    let m = example_metrics(&example_tags, &items, Reading::Verdict)
                        .ok_or_else(|| "no rubric item has positive points, so the example has no score".to_string())?;
                    if args.html.is_some() {
                        let score = m["overall_score"];
                        report_examples.push(ReportExample { id, last_user_turn, example_tags, items, score });
                    }
                    examples.push(m);
                    Ok(())
                }
                GradedRow::Meta(m) => {
                    meta.push(m);
                    Ok(())
                }
            });
            if let Err(msg) = parsed {
                if args.skip_invalid {
                    eprintln!("warning: {input}:{}: {msg} (skipped)", line.number);
                    skipped += 1;
                } else {
                    bail!("{input}:{}: {msg}", line.number);
                }
            }
        }
    }
    if examples.is_empty() && meta.is_empty() {
        bail!("{input}: no graded rows");
    }
    let mut out = serde_json::Map::new();
    let agg = (!examples.is_empty()).then(|| aggregate(&examples, args.seed));
    if let Some(agg) = &agg {
        out.insert("score".into(), json!(agg.score));
        out.insert("metrics".into(), json!(agg.metrics));
        out.insert("n_examples".into(), json!(examples.len()));
    }
    let meta_result = (!meta.is_empty()).then(|| meta_eval(&meta));
    if let Some(m) = &meta_result {
        let model: serde_json::Map<String, serde_json::Value> =
            m.model.iter().filter_map(|(k, r)| r.value.map(|v| (k.clone(), json!(v)))).collect();
        out.insert(
            "meta".into(),
            json!({
                "score": m.score,
                "n_rows": meta.len(),
                "metrics": model,
                "physician_mean_f1_balanced": m.physician_mean_f1_balanced,
                "physicians": m.physicians,
            }),
        );
    }
    if skipped > 0 {
        out.insert("skipped".into(), json!(skipped));
    }
    let value = serde_json::Value::Object(out);
    println!("{}", serde_json::to_string_pretty(&value)?);
    if let Some(path) = &args.output {
        write_json_atomic(path, &value)?;
    }
    if let Some(path) = &args.html {
        let html = grading_report::render(&GradingReport {
            source: &input,
            seed: args.seed,
            examples: &report_examples,
            aggregate: agg.as_ref(),
            meta: meta_result.as_ref().map(|m| (m, meta.len())),
            skipped,
        });
        write_text_atomic(path, &html)?;
    }
    Ok(ExitCode::SUCCESS)
}
