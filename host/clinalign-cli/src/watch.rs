//! `clinalign watch`: the author's loop. Rebuilds and self-tests the principle set on every
//! save, prints what changed, and with `--queries` shows how each query's rubric changed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;

use anyhow::Result;
use clap::Args;
use clinalign::overlap::{WARN_SIMILARITY, near_duplicates};
use clinalign::principle_set::failures_of_their_own;
use clinalign::{Engine, Query, ReloadOutcome, ReloadReport, RubricEntry};

use crate::EngineArgs;
use crate::loading::plugin_failure_groups;
use crate::queries::read_rows;

#[derive(Args, Debug)]
#[command(
    after_help = "Watches the principles folder (manifests, dimensions.toml), the plugins workspace, the crates \
it builds from and the WIT package. Build output (target/), hidden files and editor back-ups are ignored, and a file \
saved without an edit is not a change. Each change rebuilds what changed, runs every fixture and prints: the files, \
the principles added, removed or changed, failing fixtures, and the new principle set (it goes live only when every \
principle loads and passes). Stop with Ctrl-C."
)]
pub struct WatchArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Re-synthesize these queries (JSONL rows) after every change and show each rubric's diff.
    #[arg(long, value_name = "FILE")]
    pub queries: Option<PathBuf>,
    /// Print each reload report as one JSON line instead of text.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many reloads (for scripts and tests) [default: run until stopped].
    #[arg(long, value_name = "N", hide = true)]
    pub reloads: Option<usize>,
}

pub fn run(args: WatchArgs) -> Result<ExitCode> {
    let engine = args.engine.load()?;
    let set = engine.principle_set();
    let queries = match &args.queries {
        Some(path) => read_rows(path, set.dimensions())?,
        None => Vec::new(),
    };
    let mut rubrics = synthesize_all(&engine, &queries);
    let failing = set.self_tests().iter().filter(|t| !t.passed).count();
    println!(
        "principle set {}: {} principles, {} left out; fixtures: {} passed, {failing} failed",
        set.hash(),
        set.principles().len(),
        set.failures().len(),
        set.self_tests().len() - failing
    );
    if !queries.is_empty() {
        println!("{} queries to re-synthesize after each change", queries.len());
    }
    let (tx, rx) = mpsc::channel::<ReloadReport>();
    let _watch = engine.watch_with(move |r| {
        let _ = tx.send(r.clone());
    })?;
    println!(
        "watching {} and the plugin sources; save a file to rebuild (Ctrl-C to stop)",
        args.engine.catalog.describe()
    );
    let _ = std::io::stdout().flush();
    let mut seen = 0;
    while let Ok(report) = rx.recv() {
        seen += 1;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            print_report(&report);
        }
        let touched: Vec<String> = report.changes.added.iter().chain(&report.changes.changed).cloned().collect();
        if matches!(report.outcome, ReloadOutcome::Live { .. }) && !touched.is_empty() && !args.json {
            let set = engine.principle_set();
            for n in near_duplicates(&set, Some(&touched), WARN_SIMILARITY) {
                println!(
                    "  near-duplicate: {}'s {:?} is close to {}'s {:?} (similarity {:.2})",
                    n.principle, n.criterion, n.other, n.other_criterion, n.similarity
                );
            }
        }
        if matches!(report.outcome, ReloadOutcome::Live { .. }) && !queries.is_empty() {
            let fresh = synthesize_all(&engine, &queries);
            print_diffs(&queries, &rubrics, &fresh, args.json)?;
            rubrics = fresh;
        }
        let _ = std::io::stdout().flush();
        if args.reloads.is_some_and(|n| seen >= n) {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Each query's rubric with the live set (an error in place of a rubric for a bad query).
fn synthesize_all(engine: &Engine, queries: &[Query]) -> Vec<Result<Vec<RubricEntry>, String>> {
    queries.iter().map(|q| engine.synthesize(q).map(|r| r.items).map_err(|e| e.to_string())).collect()
}

fn print_report(r: &ReloadReport) {
    let cwd = std::env::current_dir().unwrap_or_default();
    let files: Vec<String> = r
        .files
        .iter()
        .map(|f| {
            let path = f.path.strip_prefix(&cwd).unwrap_or(&f.path).to_path_buf();
            clinalign::FileChange { path, change: f.change }.to_string()
        })
        .collect();
    let what = if files.is_empty() { r.trigger.clone() } else { files.join(", ") };
    match &r.outcome {
        ReloadOutcome::Live { principle_set, previous, principles } => println!(
            "{what}\n  live: principle set {principle_set} (was {previous}), {principles} principles, {:.1} s",
            r.duration_ms as f64 / 1000.0
        ),
        ReloadOutcome::Unchanged { principle_set } => {
            println!("{what}\n  unchanged: principle set {principle_set} (the edit changes no principle)")
        }
        ReloadOutcome::Rejected { live, .. } => {
            println!("{what}\n  rejected: the live set {live} keeps answering")
        }
    }
    for (label, ids) in [("added", &r.changes.added), ("removed", &r.changes.removed), ("changed", &r.changes.changed)]
    {
        if !ids.is_empty() {
            println!("  {label}: {}", ids.join(", "));
        }
    }
    println!("  fixtures: {} passed, {} failed", r.fixtures_passed, r.fixtures_failed.len());
    for t in &r.fixtures_failed {
        println!("  FAIL {} · {}: {}", t.principle, t.fixture, t.detail);
    }
    if let ReloadOutcome::Rejected { reason, .. } = &r.outcome
        && r.left_out.is_empty()
    {
        println!("  {reason}");
    }
    // Failures already shown as failing fixtures are not repeated; the first line of an
    // error is enough here (a plugin's compiler errors follow once, below).
    for g in plugin_failure_groups(&r.plugin_failures) {
        println!("  plugin {} failed; left out: {}", g.plugins.join(", "), g.principles.join(", "));
        for line in g.message.lines() {
            println!("      {line}");
        }
    }
    for f in failures_of_their_own(&r.left_out, &r.plugin_failures) {
        if !r.fixtures_failed.iter().any(|t| t.principle == f.principle) {
            println!("  left out: {}: {}", f.principle, f.message.lines().next().unwrap_or_default());
        }
    }
}

/// Prints the items each query's rubric gained and lost.
fn print_diffs(
    queries: &[Query],
    before: &[Result<Vec<RubricEntry>, String>],
    after: &[Result<Vec<RubricEntry>, String>],
    json: bool,
) -> Result<()> {
    let mut changed = 0;
    for ((q, old), new) in queries.iter().zip(before).zip(after) {
        let (old, new) = match (old, new) {
            (Ok(o), Ok(n)) => (o, n),
            (_, Err(e)) => {
                println!("  {}: {e}", q.id);
                continue;
            }
            (Err(_), Ok(n)) => (&Vec::new(), n),
        };
        let diff = RubricDiff::between(old, new);
        if diff.is_empty() {
            continue;
        }
        changed += 1;
        if json {
            println!("{}", serde_json::json!({"query": q.id, "added": diff.added, "removed": diff.removed}));
            continue;
        }
        println!("  {}: {} item(s) added, {} removed", q.id, diff.added.len(), diff.removed.len());
        for e in &diff.added {
            println!("    + [{:>3}] {}", e.points, e.criterion);
        }
        for e in &diff.removed {
            println!("    - [{:>3}] {}", e.points, e.criterion);
        }
    }
    if !json {
        println!("  rubrics: {changed} of {} queries changed", queries.len());
    }
    Ok(())
}

/// The items one rubric has and the other lacks, by criterion and points.
struct RubricDiff<'a> {
    added: Vec<&'a RubricEntry>,
    removed: Vec<&'a RubricEntry>,
}

impl<'a> RubricDiff<'a> {
    fn between(old: &'a [RubricEntry], new: &'a [RubricEntry]) -> RubricDiff<'a> {
        let key = |e: &RubricEntry| (e.criterion.clone(), e.points);
        let mut count: BTreeMap<(String, i32), i32> = BTreeMap::new();
        for e in old {
            *count.entry(key(e)).or_default() += 1;
        }
        let mut added = Vec::new();
        for e in new {
            let n = count.entry(key(e)).or_default();
            if *n > 0 { *n -= 1 } else { added.push(e) }
        }
        let mut remaining = count;
        let mut removed = Vec::new();
        for e in old {
            let n = remaining.entry(key(e)).or_default();
            if *n > 0 {
                *n -= 1;
                removed.push(e);
            }
        }
        RubricDiff { added, removed }
    }

    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}
