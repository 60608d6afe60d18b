//! `clinalign eval-rubrics IN`: how synthesized rubrics compare with physician rubrics.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use clap::Args;
use clinalign::eval::{MatchPair, RowRubrics, THRESHOLDS, evaluate};
use clinalign::{Engine, Row, RubricEntry};

use crate::EngineArgs;
use crate::jsonl::{JsonlReader, write_json_atomic};

#[derive(Args, Debug)]
#[command(after_help = "Rows with both `rubrics` and `reference_rubrics` (the output of `synthesize` on HealthBench \
rows) are compared as they are; other rows' `rubrics` are the physician rubric and the engine synthesizes its own.\n\
Matching: TF-IDF cosine over stemmed content words (clinical synonyms folded), IDF over every criterion of the \
run; a physician criterion is covered when a synthesized criterion of the same row reaches the threshold \
(0.3; 0.2 and 0.4 are reported too). See docs/benchmarks.md.")]
pub struct EvalRubricsArgs {
    /// JSONL rows with physician rubrics (HealthBench format).
    pub input: PathBuf,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Also compare cluster-level (consensus) physician criteria; by default only
    /// example-level criteria (and untagged ones) are compared.
    #[arg(long)]
    pub include_cluster: bool,
    /// Best and worst matches to print.
    #[arg(long, default_value_t = 5)]
    pub pairs: usize,
    /// Write the full evaluation (JSON, every pair) here.
    #[arg(long, value_name = "E.json")]
    pub out: Option<PathBuf>,
}

pub fn run(args: EvalRubricsArgs) -> Result<ExitCode> {
    let mut engine: Option<Engine> = None;
    let mut reader = JsonlReader::open(&args.input)?;
    let input = args.input.display().to_string();
    let mut rows = Vec::new();
    let mut without_physician = 0usize;
    let mut principle_set = String::new();
    loop {
        let batch = reader.next_batch(512)?;
        if batch.is_empty() {
            break;
        }
        for line in batch {
            let at = format!("{input}:{}", line.number);
            let row = Row::parse(&line.text).map_err(|e| anyhow!("{at}: {e}"))?;
            let (physician, synthesized, id) = if row.fields.contains_key("reference_rubrics") {
                let physician = row.reference_rubric().map_err(|e| anyhow!("{at}: {e}"))?.unwrap_or_default();
                let synthesized = row.rubric().map_err(|e| anyhow!("{at}: {e}"))?.unwrap_or_default();
                (physician, synthesized, row.id().unwrap_or_default())
            } else {
                if engine.is_none() {
                    engine = Some(args.engine.load()?);
                }
                let e = engine.as_ref().expect("loaded above");
                let set = e.principle_set();
                let query =
                    row.query(&format!("line-{}", line.number), set.dimensions()).map_err(|m| anyhow!("{at}: {m}"))?;
                let rubric = e.synthesize(&query)?;
                principle_set = rubric.principle_set.clone();
                let physician = row.rubric().map_err(|e| anyhow!("{at}: {e}"))?.unwrap_or_default();
                (physician, rubric.items, query.id)
            };
            let physician: Vec<RubricEntry> = physician
                .into_iter()
                .filter(|i| args.include_cluster || !i.tags.iter().any(|t| t == "level:cluster"))
                .collect();
            if physician.is_empty() {
                without_physician += 1;
                continue;
            }
            rows.push(RowRubrics { id, physician, synthesized });
        }
    }
    if rows.is_empty() {
        bail!("{input}: no rows with physician criteria to compare (example-level; try --include-cluster)");
    }
    let eval = evaluate(&rows);
    println!(
        "compared {} rows ({} physician criteria, {} synthesized){}{}",
        eval.rows,
        eval.physician.items,
        eval.synthesized.items,
        if without_physician > 0 {
            format!("; {without_physician} rows had no physician criteria to compare")
        } else {
            String::new()
        },
        if principle_set.is_empty() { String::new() } else { format!("; principle set {principle_set}") }
    );
    let cov: Vec<String> =
        THRESHOLDS.iter().map(|t| format!("{:.0}% at {t:.1}", 100.0 * eval.coverage[&format!("{t:.1}")])).collect();
    println!("coverage of physician criteria: {}", cov.join(", "));
    println!("points-weighted coverage (0.3): {:.0}%", 100.0 * eval.weighted_coverage);
    println!("synthesized criteria matching a physician criterion (0.3): {:.0}%", 100.0 * eval.precision);
    println!("sign agreement of matched pairs: {:.0}%", 100.0 * eval.sign_agreement);
    for (name, s) in [("physician", &eval.physician), ("synthesized", &eval.synthesized)] {
        let axes: Vec<String> = s.axes.iter().map(|(a, v)| format!("{a} {:.0}%", 100.0 * v)).collect();
        println!(
            "{name:<11} median size {}, penalties {:.0}%, mean |points| {:.1}; axes {}",
            s.median_size,
            100.0 * s.negative_share,
            s.mean_abs_points,
            axes.join(", ")
        );
    }
    let show = |label: &str, pairs: &[MatchPair]| {
        println!("{label}:");
        for p in pairs {
            println!(
                "  {:.2}  [{:+}] {}\n        [{:+}] {}",
                p.similarity, p.physician_points, p.physician, p.synthesized_points, p.synthesized
            );
        }
    };
    let n = args.pairs.min(eval.pairs.len());
    show("closest pairs", &eval.pairs[..n]);
    show("least covered physician criteria", &eval.pairs[eval.pairs.len() - n..]);
    if let Some(path) = &args.out {
        write_json_atomic(path, &eval)?;
    }
    Ok(ExitCode::SUCCESS)
}
