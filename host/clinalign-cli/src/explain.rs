//! `clinalign explain`: why one query's rubric came out as it did.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use clinalign::explain::{Explanation, Fate, StepOutcome};

use crate::EngineArgs;
use crate::queries::{from_text, read_rows};

#[derive(Args, Debug)]
#[command(after_help = "Prints, for one query: each scenario label with its confidence and the rule that decided it \
(or \"given\"); the principle pool; for each principle of the pool whether the gate skipped it (and its trigger \
terms), whether it was called and stayed silent (and which condition did not hold), or what it emitted; then what \
curation did with each item (kept, merged into a near-duplicate with the similarity, dropped by the size cap or the \
balance of rewards and penalties), and the final rubric. The rubric is the one `synthesize` writes.\n\n\
Examples:\n  clinalign explain \"My 7-week-old has a fever of 38.4\"\n  clinalign explain --rows data/queries/liveqa_medical_test_104.jsonl --id liveqa-TQ3 --json")]
pub struct ExplainArgs {
    /// The query, as the user's words.
    #[arg(conflicts_with = "rows", required_unless_present = "rows")]
    pub text: Option<String>,
    /// Explain rows of this JSONL file instead (HealthBench rows or {id, messages}); all of
    /// them unless --id picks one.
    #[arg(long, value_name = "FILE")]
    pub rows: Option<PathBuf>,
    /// With --rows: only the row with this id (`prompt_id` or `id`; `line-N` for a row
    /// without one).
    #[arg(long, requires = "rows")]
    pub id: Option<String>,
    /// Print JSON (one object per query, one per line) for tools.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(args: ExplainArgs) -> Result<ExitCode> {
    let engine = args.engine.load()?;
    let set = engine.principle_set();
    let queries = match (&args.text, &args.rows) {
        (Some(text), _) => vec![from_text("query", text)],
        (None, Some(path)) => {
            let mut rows = read_rows(path, set.dimensions())?;
            if let Some(id) = &args.id {
                rows.retain(|q| &q.id == id);
                if rows.is_empty() {
                    bail!("{}: no row with id {id:?}", path.display());
                }
            }
            rows
        }
        (None, None) => bail!("give the query as text, or --rows FILE"),
    };
    for (i, q) in queries.iter().enumerate() {
        let e = engine.explain(q)?;
        if args.json {
            println!("{}", serde_json::to_string(&e)?);
        } else {
            if i > 0 {
                println!("\n{}\n", "─".repeat(60));
            }
            print!("{}", render(&e, q));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The explanation as text.
pub fn render(e: &Explanation, q: &clinalign::Query) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let words: String = q.user_text().chars().take(100).collect();
    let more = if q.user_text().chars().count() > 100 { "…" } else { "" };
    let _ = writeln!(out, "query {}: \"{}{more}\"", e.query_id, words.replace('\n', " "));
    let _ = writeln!(out, "principle set {}\n\nscenario", e.principle_set);
    for l in &e.scenario {
        let why = match &l.rule {
            Some(rule) => format!("classified: {rule}"),
            None => "given".into(),
        };
        let _ = writeln!(out, "  {:<12} {:<23} {:.2}  {why}", l.label.dimension, l.label.value, l.label.confidence);
    }
    let gated = e.pool.iter().filter(|s| matches!(s.outcome, StepOutcome::GatedOut { .. })).count();
    let _ = writeln!(
        out,
        "\npool: {} of {} principles ({} called, {gated} gated out)",
        e.pool.len(),
        e.principles_in_set,
        e.pool.len() - gated
    );
    // The principles that were called first, then those the gate skipped.
    let mut steps: Vec<_> = e.pool.iter().collect();
    steps.sort_by_key(|s| matches!(s.outcome, StepOutcome::GatedOut { .. }));
    for step in steps {
        let (status, what) = match &step.outcome {
            StepOutcome::Emitted { items } => ("emitted", format!("{} item(s)", items.len())),
            StepOutcome::Silent { why } => ("silent", why.clone()),
            StepOutcome::GatedOut { gate_terms } => {
                let shown: Vec<String> = gate_terms.iter().take(3).map(|t| format!("\"{t}\"")).collect();
                let rest = gate_terms.len().saturating_sub(3);
                let rest = if rest > 0 { format!(", … {rest} more") } else { String::new() };
                ("gated", format!("none of its trigger terms occurs in the user's turns ({}{rest})", shown.join(", ")))
            }
            StepOutcome::Failed { error } => ("FAILED", error.clone()),
        };
        let _ = writeln!(out, "  {status:<8} {:<42} {what}", step.principle);
    }
    let _ = writeln!(out, "\nitems and curation");
    for step in &e.pool {
        let StepOutcome::Emitted { items } = &step.outcome else { continue };
        let _ = writeln!(out, "  {}", step.principle);
        for item in items {
            let fate = match &item.fate {
                Fate::Kept => "kept".to_string(),
                Fate::Merged { into_principle, into, similarity } => {
                    format!("merged into {into_principle}'s \"{into}\" (similarity {similarity:.2})")
                }
                Fate::Dropped { why, .. } => format!("dropped: {why}"),
            };
            let _ = writeln!(out, "    [{:>3}] {}\n          → {fate}", item.entry.points, item.entry.criterion);
        }
    }
    let r = &e.rubric;
    let penalties = r.items.iter().filter(|i| i.points < 0).count();
    let _ = writeln!(
        out,
        "\nrubric: {} item(s), {penalties} penalties ({} candidates, {} merged, {} dropped; at most {} items, {} per principle)",
        r.items.len(),
        r.curation.candidates,
        r.curation.merged,
        r.curation.dropped,
        e.policy.max_items,
        e.policy.max_per_principle
    );
    for item in &r.items {
        let principles: Vec<&str> = item.tags.iter().filter_map(|t| t.strip_prefix("principle:")).collect();
        let axis = item.tags.iter().find_map(|t| t.strip_prefix("axis:")).unwrap_or("");
        let _ = writeln!(out, "  [{:>3}] {:<22} {} ({})", item.points, axis, item.criterion, principles.join(", "));
    }
    out
}
