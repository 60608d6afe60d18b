//! `clinalign classify IN -o OUT`: scenario labels for every row, and, where rows carry
//! HealthBench physician-agreed categories, the classifier's accuracy against them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use clinalign::eval::{ClassifierEval, healthbench_labels};
use clinalign::{Catalog, Row};

use crate::jsonl::{AtomicJsonl, JsonlReader, write_json_atomic};

#[derive(Args, Debug)]
#[command(after_help = "Each output row is the input row with `scenario` set: {dimension: {value, confidence}}. \
Rows whose own `scenario` gives a dimension keep it.\n\
When rows carry HealthBench `example_tags` with a physician_agreed_category, the command also prints \
per-dimension accuracy, the majority-label baseline and the confusion matrix (physician label → predicted).")]
pub struct ClassifyArgs {
    /// Input JSONL file (HealthBench rows or {id, messages}).
    pub input: PathBuf,
    /// Output JSONL file (written atomically).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Principles directory whose dimensions.toml holds the vocabulary.
    #[arg(long, env = "CLINALIGN_PRINCIPLES", default_value = "principles")]
    pub principles: PathBuf,
    /// Also write the evaluation (JSON) here.
    #[arg(long, value_name = "E.json")]
    pub eval: Option<PathBuf>,
    /// Skip invalid input rows instead of stopping.
    #[arg(long)]
    pub skip_invalid: bool,
    #[command(flatten)]
    pub model: crate::engine_model::ModelArgs,
}

pub fn run(args: ClassifyArgs) -> Result<ExitCode> {
    let dims = Catalog::load(&args.principles).context("loading the dimension vocabulary")?.dimensions;
    let opened = args.model.open()?;
    let classifier = crate::engine_model::classifier(args.model.classifier, opened.as_ref().map(|m| &m.model))?;
    let classifier = &*classifier;
    let mut reader = JsonlReader::open(&args.input)?;
    let mut out = AtomicJsonl::create(&args.output)?;
    let input = args.input.display().to_string();
    let mut eval = ClassifierEval::default();
    let (mut rows, mut skipped) = (0u64, 0u64);
    loop {
        let batch = reader.next_batch(if opened.is_some() { 16 } else { 1024 })?;
        if batch.is_empty() {
            break;
        }
        if rows > 0 && opened.is_some() {
            eprintln!("classified {rows} rows …");
        }
        for line in batch {
            let parsed = Row::parse(&line.text).and_then(|row| {
                let query = row.query(&format!("line-{}", line.number), &dims)?;
                let tags = row.example_tags()?;
                Ok((row, query, tags))
            });
            let (mut row, query, tags) = match parsed {
                Ok(r) => r,
                Err(msg) if args.skip_invalid => {
                    eprintln!("warning: {input}:{}: {msg} (skipped)", line.number);
                    skipped += 1;
                    continue;
                }
                Err(msg) => bail!("{input}:{}: {msg}", line.number),
            };
            let predicted = classifier.classify(&query.conversation, &dims);
            let mut labels = query.scenario.clone();
            for p in &predicted {
                if !labels.iter().any(|l| l.dimension == p.dimension) {
                    labels.push(p.clone());
                }
            }
            let order: Vec<&str> = dims.iter().map(|d| d.name.as_str()).collect();
            labels.sort_by_key(|l| order.iter().position(|d| *d == l.dimension));
            eval.add(&healthbench_labels(&tags), &predicted);
            row.set_scenario(&labels);
            out.write(&row)?;
            rows += 1;
        }
    }
    out.commit()?;
    eval.finish();
    println!("classified {rows} rows → {} (classifier {})", args.output.display(), classifier.name());
    if skipped > 0 {
        println!("skipped {skipped} invalid rows");
    }
    for (dim, d) in &eval.dimensions {
        println!(
            "{dim}: accuracy {:.1}% ({}/{}), majority-label baseline {:.1}%",
            100.0 * d.accuracy,
            d.correct,
            d.n,
            100.0 * d.majority_baseline
        );
        if let Some(row) = d.confusion.get("emergent") {
            let n: u64 = row.values().sum();
            let hit = row.get("emergent").copied().unwrap_or(0);
            println!("  emergent recall {hit}/{n} (emergencies labelled emergent)");
        }
        for (truth, row) in &d.confusion {
            let cells: Vec<String> = row.iter().map(|(p, n)| format!("{p} {n}")).collect();
            println!("  physician {truth:<22} → {}", cells.join(", "));
        }
    }
    if let Some(path) = &args.eval {
        write_json_atomic(
            path,
            &serde_json::json!({ "classifier": classifier.name(), "rows": rows, "dimensions": eval.dimensions }),
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
