//! `clinalign eval-rubrics IN`: how synthesized rubrics compare with physician rubrics.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use clap::Args;
use clinalign::eval::{EMBEDDING_THRESHOLDS, MatchPair, RowRubrics, RubricEval, Similarities, evaluate, evaluate_with};
use clinalign::{Engine, Row, RubricEntry};

use crate::EngineArgs;
use crate::jsonl::{JsonlReader, write_json_atomic};

#[derive(Args, Debug)]
#[command(after_help = "Rows with both `rubrics` and `reference_rubrics` (the output of `synthesize` on HealthBench \
rows) are compared as they are; other rows' `rubrics` are the physician rubric and the engine synthesizes its own.\n\
Matching: TF-IDF cosine over stemmed content words (clinical synonyms folded), IDF over every criterion of the \
run; a physician criterion is covered when a synthesized criterion of the same row reaches the threshold \
(0.3; 0.2 and 0.4 are reported too). With --match embedding: the cosine of all-MiniLM-L6-v2 sentence embeddings \
(fetched once from PyPI, ~87 MB, run on the CPU), covered at 0.6 (0.5 and 0.7 reported). See docs/benchmarks.md.")]
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
    /// How criteria are matched: `tfidf` (lexical) or `embedding` (sentence embeddings).
    #[arg(long = "match", value_enum, default_value_t = Matching::Tfidf)]
    pub matching: Matching,
    /// With `--match embedding`: a folder with a BERT sentence encoder (config.json,
    /// tokenizer.json, model.safetensors) [default: all-MiniLM-L6-v2, fetched on first use].
    #[arg(long, value_name = "DIR")]
    pub embedder: Option<PathBuf>,
    /// Write the full evaluation (JSON, every pair) here.
    #[arg(long, value_name = "E.json")]
    pub out: Option<PathBuf>,
}

/// How `eval-rubrics` matches criteria.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Matching {
    Tfidf,
    Embedding,
}

/// The comparison by sentence-embedding cosines.
fn by_embedding(rows: &[RowRubrics], dir: Option<&std::path::Path>) -> Result<RubricEval> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            eprintln!("sentence encoder: all-MiniLM-L6-v2 (fetched on first use) …");
            clinalign_infer::assets::minilm_dir(&clinalign_infer::assets::Quiet)?
        }
    };
    let encoder = clinalign_infer::sentence::SentenceEncoder::open(&dir)?;
    let texts: Vec<String> =
        rows.iter().flat_map(|r| r.physician.iter().chain(&r.synthesized)).map(|e| e.criterion.clone()).collect();
    let started = std::time::Instant::now();
    let vectors = encoder.embed_all(&texts)?;
    eprintln!("embedded {} criteria in {:.1} s", texts.len(), started.elapsed().as_secs_f64());
    let mut at = 0;
    let mut sims: Similarities = Vec::with_capacity(rows.len());
    for r in rows {
        let p = &vectors[at..at + r.physician.len()];
        let s = &vectors[at + r.physician.len()..at + r.physician.len() + r.synthesized.len()];
        at += r.physician.len() + r.synthesized.len();
        sims.push(
            p.iter().map(|pv| s.iter().map(|sv| clinalign_infer::sentence::cosine(pv, sv) as f64).collect()).collect(),
        );
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "embedding".into());
    Ok(evaluate_with(rows, &sims, &EMBEDDING_THRESHOLDS, &name))
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
    let eval = match args.matching {
        Matching::Tfidf => evaluate(&rows),
        Matching::Embedding => by_embedding(&rows, args.embedder.as_deref())?,
    };
    let headline = eval.thresholds[0];
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
    let cov: Vec<String> = eval
        .thresholds
        .iter()
        .map(|t| format!("{:.0}% at {t:.1}", 100.0 * eval.coverage[&format!("{t:.1}")]))
        .collect();
    println!("coverage of physician criteria ({}): {}", eval.method, cov.join(", "));
    println!("points-weighted coverage ({headline:.1}): {:.0}%", 100.0 * eval.weighted_coverage);
    println!("synthesized criteria matching a physician criterion ({headline:.1}): {:.0}%", 100.0 * eval.precision);
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
