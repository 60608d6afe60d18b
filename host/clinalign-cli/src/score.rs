//! `clinalign score IN`: HealthBench metrics from graded rows, as simple-evals computes them,
//! and the meta-evaluation of a grader against physicians.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use clinalign::eval::ScoreRun;
use clinalign::eval::grading_report::{self, GradingReport};

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
    let mut run = ScoreRun::new(args.html.is_some());
    loop {
        let batch = reader.next_batch(4096)?;
        if batch.is_empty() {
            break;
        }
        for line in batch {
            if let Err(msg) = run.add(&line.text) {
                if args.skip_invalid {
                    eprintln!("warning: {input}:{}: {msg} (skipped)", line.number);
                    run.skip();
                } else {
                    bail!("{input}:{}: {msg}", line.number);
                }
            }
        }
    }
    if run.is_empty() {
        bail!("{input}: no graded rows");
    }
    let scored = run.finish(args.seed);
    println!("{}", serde_json::to_string_pretty(&scored.summary)?);
    if let Some(path) = &args.output {
        write_json_atomic(path, &scored.summary)?;
    }
    if let Some(path) = &args.html {
        let html = grading_report::render(&GradingReport {
            source: &input,
            seed: args.seed,
            examples: run.report_examples(),
            aggregate: scored.aggregate.as_ref(),
            meta: scored.meta.as_ref().map(|m| (m, run.meta_rows())),
            skipped: run.skipped(),
        });
        write_text_atomic(path, &html)?;
    }
    Ok(ExitCode::SUCCESS)
}
