//! `clinalign grade IN -o OUT --judge local:PATH | openai:URL`: grade responses against
//! their rubrics, then score them as HealthBench does.
//!
//! Resumable: every graded row is appended to OUT as soon as it is done; a rerun skips the
//! rows OUT already holds (same id and response) and repairs a half-written last line.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use clinalign::healthbench::{GradedItem, aggregate, example_metrics};
use clinalign::{Grade, Judge, JudgeItem, Message};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::{Map, Value, json};

use crate::jsonl::{JsonlReader, write_json_atomic};

#[derive(Args, Debug)]
#[command(after_help = "Input rows: `prompt` (or `messages`) with the conversation, the response to grade in \
`completion`, `response` or `ideal_completions_data.ideal_completion` (or --response-field), and `rubrics` \
(HealthBench items). Output rows: the input with each rubric item's `criteria_met` (and `p_met` from a local \
judge, `explanation` from an OpenAI-compatible one) and a `grade` {judge, score, soft_score}.\n\
Judges: local:PATH (a GGUF file or model folder; log-prob judge, criteria share the conversation prefix) or \
openai:URL (any OpenAI-compatible chat-completions server; API key from $OPENAI_API_KEY).")]
pub struct GradeArgs {
    /// Input JSONL rows.
    pub input: PathBuf,
    /// Output JSONL rows (appended as rows finish; rerunning resumes).
    #[arg(short, long)]
    pub output: PathBuf,
    /// `local:PATH` or `openai:URL`.
    #[arg(long)]
    pub judge: String,
    /// Model name sent to an OpenAI-compatible server.
    #[arg(long, default_value = "gpt-4.1")]
    pub judge_model: String,
    /// Requests in flight at once (OpenAI-compatible judge).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Retries of one item on HTTP errors or unparsable answers.
    #[arg(long, default_value_t = 5)]
    pub max_retries: u32,
    /// First retry delay; doubles each retry (capped at 30 s).
    #[arg(long, default_value_t = 500)]
    pub retry_delay_ms: u64,
    /// Dotted path of the field holding the response (default: completion, response,
    /// ideal_completions_data.ideal_completion — the first present).
    #[arg(long)]
    pub response_field: Option<String>,
    /// Also write the score summary (JSON) here.
    #[arg(long, value_name = "S.json")]
    pub score_out: Option<PathBuf>,
    /// Skip rows that have no response to grade (counted in the summary line) instead of
    /// stopping at the first.
    #[arg(long)]
    pub skip_missing: bool,
    /// Local judge weights: `f32` (reference numerics, shared-prefix scores equal
    /// full-prompt ones) or `native` (4-bit layers with 8-bit activations, as llama.cpp).
    #[arg(long, default_value = "f32")]
    pub precision: clinalign_infer::local::Precision,
}

fn field<'a>(row: &'a Map<String, Value>, dotted: &str) -> Option<&'a Value> {
    let mut parts = dotted.split('.');
    let mut v = row.get(parts.next()?)?;
    for p in parts {
        v = v.get(p)?;
    }
    Some(v)
}

/// A row's resume key: its id and a hash of its response.
fn row_key(row: &Map<String, Value>, response: &str) -> String {
    let id = row.get("prompt_id").or(row.get("id")).map(|v| v.to_string()).unwrap_or_default();
    format!("{id}:{}", &clinalign::util::sha256_hex(response.as_bytes())[..16])
}

/// Keys of the rows OUT already holds; a torn last line is cut off.
fn done_rows(out: &Path, response_field: &Option<String>) -> Result<HashSet<String>> {
    let mut done = HashSet::new();
    if !out.exists() {
        return Ok(done);
    }
    let text = std::fs::read(out).with_context(|| format!("{}: cannot read", out.display()))?;
    let mut good_len = 0usize;
    for line in text.split_inclusive(|b| *b == b'\n') {
        let complete = line.ends_with(b"\n");
        match serde_json::from_slice::<Map<String, Value>>(line) {
            Ok(row) if complete => {
                if let Some(r) = response_of(&row, response_field) {
                    done.insert(row_key(&row, &r));
                }
                good_len += line.len();
            }
            _ => break,
        }
    }
    if good_len < text.len() {
        tracing::warn!(
            "{}: dropping a half-written last row ({} bytes) before resuming",
            out.display(),
            text.len() - good_len
        );
        let f = OpenOptions::new().write(true).open(out)?;
        f.set_len(good_len as u64)?;
    }
    Ok(done)
}

fn response_of(row: &Map<String, Value>, response_field: &Option<String>) -> Option<String> {
    let candidates: Vec<&str> = match response_field {
        Some(f) => vec![f.as_str()],
        None => vec!["completion", "response", "ideal_completions_data.ideal_completion"],
    };
    candidates.iter().find_map(|f| field(row, f).and_then(Value::as_str).map(str::to_string))
}

pub(crate) fn conversation_of(row: &Map<String, Value>) -> Result<Vec<Message>, String> {
    let turns = row
        .get("prompt")
        .or(row.get("messages"))
        .and_then(Value::as_array)
        .ok_or("no \"prompt\" or \"messages\" list")?;
    turns
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let role = t.get("role").and_then(Value::as_str).ok_or(format!("prompt[{i}]: missing role"))?;
            let content = t.get("content").and_then(Value::as_str).ok_or(format!("prompt[{i}]: missing content"))?;
            Ok(Message { role: role.to_string(), content: content.to_string() })
        })
        .collect()
}

/// The row's rubric items as (criterion, points); the error names the item.
pub(crate) fn rubric_items(row: &Map<String, Value>) -> Result<Vec<(String, i32)>, String> {
    row.get("rubrics")
        .and_then(Value::as_array)
        .ok_or("no \"rubrics\" list")?
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let c = it.get("criterion").and_then(Value::as_str).ok_or(format!("rubrics[{i}]: missing criterion"))?;
            let p = it.get("points").and_then(Value::as_f64).ok_or(format!("rubrics[{i}]: missing points"))?;
            Ok((c.to_string(), p as i32))
        })
        .collect()
}

fn build_judge(args: &GradeArgs) -> Result<Arc<dyn Judge>> {
    if let Some(path) = args.judge.strip_prefix("local:") {
        let lm = clinalign_infer::local::LocalModel::open_with(Path::new(path), args.precision)
            .with_context(|| format!("loading judge model {path}"))?;
        Ok(Arc::new(lm))
    } else if let Some(url) = args.judge.strip_prefix("openai:") {
        Ok(Arc::new(crate::openai::OpenAiJudge::new(
            url,
            &args.judge_model,
            std::env::var("OPENAI_API_KEY").ok(),
            args.max_retries,
            Duration::from_millis(args.retry_delay_ms),
        )))
    } else {
        bail!("--judge {:?}: use local:PATH or openai:URL", args.judge)
    }
}

pub fn run(args: GradeArgs) -> Result<ExitCode> {
    let done = done_rows(&args.output, &args.response_field)?;
    let judge = build_judge(&args)?;
    let local = args.judge.starts_with("local:");
    // A local judge parallelises inside the model, one row at a time, on one thread per core;
    // a remote judge keeps `concurrency` requests in flight.
    let threads = if local {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    } else {
        args.concurrency.max(1)
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    if let Some(dir) = args.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.output)
        .with_context(|| format!("{}: cannot open", args.output.display()))?;
    let mut reader = JsonlReader::open(&args.input)?;
    let input = args.input.display().to_string();
    let pb = ProgressBar::new(reader.total_bytes());
    pb.set_style(
        ProgressStyle::with_template("{spinner} grading [{bar:30}] {percent:>3}% {msg} ({eta} left)")
            .unwrap()
            .progress_chars("=> "),
    );
    let (mut graded, mut skipped, mut missing) = (0usize, 0usize, 0usize);
    loop {
        let batch = reader.next_batch(if local { 1 } else { 64 })?;
        if batch.is_empty() {
            break;
        }
        let mut work = Vec::new();
        for line in batch {
            let row: Map<String, Value> =
                serde_json::from_str(&line.text).with_context(|| format!("{input}:{}: invalid JSON", line.number))?;
            let Some(response) = response_of(&row, &args.response_field) else {
                if args.skip_missing {
                    missing += 1;
                    continue;
                }
                bail!(
                    "{input}:{}: no response to grade (completion, response, ideal_completions_data.ideal_completion or --response-field; --skip-missing skips such rows)",
                    line.number
                );
            };
            if done.contains(&row_key(&row, &response)) {
                skipped += 1;
                continue;
            }
            let conversation = conversation_of(&row).map_err(|e| anyhow::anyhow!("{input}:{}: {e}", line.number))?;
            work.push((line.number, row, conversation, response));
        }
        let results: Vec<Result<(usize, Map<String, Value>)>> = pool.install(|| {
            work.into_par_iter()
                .map(|(number, mut row, conversation, response)| {
                    let items = rubric_items(&row).map_err(|e| anyhow::anyhow!("{input}:{number}: {e}"))?;
                    let refs: Vec<JudgeItem<'_>> =
                        items.iter().map(|(c, p)| JudgeItem { criterion: c, points: *p }).collect();
                    let grades = judge
                        .grade(&conversation, &response, &refs)
                        .map_err(|e| anyhow::anyhow!("{input}:{number}: {e}"))?;
                    annotate(&mut row, &grades, &judge.name());
                    Ok((number, row))
                })
                .collect()
        });
        for r in results {
            let (_, row) = r?;
            let mut line = serde_json::to_vec(&row)?;
            line.push(b'\n');
            out.write_all(&line)?;
            out.flush()?;
            graded += 1;
        }
        out.sync_data().ok();
        pb.set_position(reader.bytes_read());
        pb.set_message(format!("{graded} rows"));
    }
    pb.finish_and_clear();
    let summary = summarize(&args.output)?;
    let without = if missing > 0 { format!(", {missing} without a response skipped") } else { String::new() };
    println!(
        "graded {graded} rows with {} ({skipped} already in {}{without}); summary of all {} rows:",
        judge.name(),
        args.output.display(),
        summary["n_examples"]
    );
    println!("{}", serde_json::to_string_pretty(&summary)?);
    if let Some(p) = &args.score_out {
        write_json_atomic(p, &summary)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes each item's grade into the row, and the row's scores.
fn annotate(row: &mut Map<String, Value>, grades: &[Grade], judge: &str) {
    let mut items = Vec::new();
    if let Some(Value::Array(rubrics)) = row.get_mut("rubrics") {
        for (it, g) in rubrics.iter_mut().zip(grades) {
            if let Value::Object(o) = it {
                o.insert("criteria_met".into(), json!(g.criteria_met));
                if let Some(p) = g.p_met {
                    o.insert("p_met".into(), json!((p as f64 * 1e6).round() / 1e6));
                }
                if let Some(e) = &g.explanation {
                    o.insert("explanation".into(), json!(e));
                }
                let points = o.get("points").and_then(Value::as_f64).unwrap_or(0.0);
                items.push((points, g.criteria_met, g.p_met));
            }
        }
    }
    let hard: Vec<GradedItem> = items
        .iter()
        .map(|(p, m, _)| GradedItem { points: *p, tags: vec![], met: if *m { 1.0 } else { 0.0 } })
        .collect();
    let soft: Vec<GradedItem> = items
        .iter()
        .map(|(p, m, pm)| GradedItem {
            points: *p,
            tags: vec![],
            met: pm.map_or(if *m { 1.0 } else { 0.0 }, |x| x as f64),
        })
        .collect();
    let score = clinalign::healthbench::score(&hard);
    let soft_score = clinalign::healthbench::score(&soft).map(|s| s.clamp(0.0, 1.0));
    row.insert("grade".into(), json!({ "judge": judge, "score": score, "soft_score": soft_score }));
}

/// HealthBench metrics over every graded row of OUT (`score` from `criteria_met`), plus the
/// mean soft reward.
fn summarize(out: &Path) -> Result<Value> {
    let f = std::fs::File::open(out).with_context(|| format!("{}: cannot read", out.display()))?;
    let mut examples = Vec::new();
    let mut soft = Vec::new();
    for line in BufReader::new(f).lines() {
        let row: Map<String, Value> = serde_json::from_str(&line?)?;
        let tags: Vec<String> = row
            .get("example_tags")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let items: Vec<GradedItem> = row
            .get("rubrics")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|it| GradedItem {
                        points: it.get("points").and_then(Value::as_f64).unwrap_or(0.0),
                        tags: it
                            .get("tags")
                            .and_then(Value::as_array)
                            .map(|t| t.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                            .unwrap_or_default(),
                        met: if it.get("criteria_met").and_then(Value::as_bool).unwrap_or(false) { 1.0 } else { 0.0 },
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(m) = example_metrics(&tags, &items) {
            examples.push(m);
        }
        if let Some(s) = row.get("grade").and_then(|g| g.get("soft_score")).and_then(Value::as_f64) {
            soft.push(s);
        }
    }
    if examples.is_empty() {
        return Ok(json!({ "n_examples": 0 }));
    }
    let agg = aggregate(&examples, 0);
    let soft_mean = (!soft.is_empty()).then(|| soft.iter().sum::<f64>() / soft.len() as f64);
    Ok(json!({ "n_examples": examples.len(), "score": agg.score, "soft_reward": soft_mean, "metrics": agg.metrics }))
}
