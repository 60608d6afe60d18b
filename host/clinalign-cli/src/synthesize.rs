//! `clinalign synthesize IN -o OUT`: a rubric for every query of a JSONL file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Args;
use clinalign::{Explanation, Query, Row, Rubric, RunReport};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::EngineArgs;
use crate::jsonl::{AtomicJsonl, JsonlReader, write_json_atomic};

/// Rows are read, synthesized in parallel and written in input order, this many at a time.
const BATCH: usize = 256;

#[derive(Args, Debug)]
#[command(after_help = "Input rows: HealthBench rows (prompt, prompt_id, …) or {\"id\", \"messages\"}; a row's own \
\"scenario\" labels are used, the classifier fills in the rest.\n\
Output rows: the input fields plus scenario, rubrics (HealthBench items tagged axis:*, dimension:*, \
principle:<id>@<version>) and principle_set; earlier rubrics move to reference_rubrics.\n\
OUT is written to a temporary file and renamed at the end: an interrupted run never leaves half a file.")]
pub struct SynthesizeArgs {
    /// Input JSONL file.
    pub input: PathBuf,
    /// Output JSONL file.
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Also write a run report (JSON): principle set, and per principle its calls, items
    /// emitted and errors by kind.
    #[arg(long, value_name = "R.json")]
    pub report: Option<PathBuf>,
    /// Skip invalid input rows (each is reported and counted) instead of stopping.
    #[arg(long)]
    pub skip_invalid: bool,
    /// With --report: also explain every row in the report (`explanations`: label rules,
    /// what each principle of the pool did, what curation merged and dropped), as
    /// `clinalign explain --json` does.
    #[arg(long, requires = "report")]
    pub explain: bool,
    /// Exit with status 1 when any principle failed to load or failed on a query; OUT is
    /// then left as it was.
    #[arg(long)]
    pub fail_on_plugin_error: bool,
    /// Worker threads [default: one per core].
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
}

pub fn run(args: SynthesizeArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let engine = args.engine.load()?;
    let set = engine.principle_set();
    let load_ms = started.elapsed().as_millis();
    if set.principles().is_empty() {
        bail!(
            "no principle loaded from {} ({} left out, see the warnings above); no rubric would have an item",
            args.engine.catalog.describe(),
            set.failures().len()
        );
    }

    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build()?;
    let mut reader = JsonlReader::open(&args.input)?;
    let mut out = AtomicJsonl::create(&args.output)?;
    let mut report = RunReport::new(&set);
    let mut summary = Summary::default();

    let pb = ProgressBar::new(reader.total_bytes());
    pb.set_style(
        ProgressStyle::with_template("{spinner} synthesizing [{bar:30}] {percent:>3}% {msg} ({eta} left)")
            .unwrap()
            .progress_chars("=> "),
    );
    let input = args.input.display().to_string();
    let run_started = Instant::now();
    loop {
        let batch = reader.next_batch(BATCH)?;
        if batch.is_empty() {
            break;
        }
        let mut rows: Vec<(Row, Query)> = Vec::with_capacity(batch.len());
        for line in batch {
            let parsed = Row::parse(&line.text)
                .and_then(|row| row.query(&format!("line-{}", line.number), set.dimensions()).map(|q| (row, q)));
            match parsed {
                Ok(row) => rows.push(row),
                Err(msg) if args.skip_invalid => {
                    pb.suspend(|| eprintln!("warning: {input}:{}: {msg} (skipped)", line.number));
                    report.skipped += 1;
                }
                Err(msg) => bail!("{input}:{}: {msg}", line.number),
            }
        }
        let rubrics: Vec<clinalign::Result<(Rubric, Option<Explanation>)>> = pool.install(|| {
            rows.par_iter()
                .map(|(_, q)| match args.explain {
                    true => engine.explain(q).map(|e| (e.rubric.clone(), Some(e))),
                    false => engine.synthesize(q).map(|r| (r, None)),
                })
                .collect()
        });
        for ((row, _), result) in rows.into_iter().zip(rubrics) {
            let (rubric, explanation) = result?;
            report.record(&rubric);
            report.explanations.extend(explanation);
            summary.add(&rubric);
            out.write(&row.synthesized(&rubric))?;
        }
        pb.set_position(reader.bytes_read());
        pb.set_message(format!("{} queries", report.queries));
    }
    pb.finish_and_clear();
    let run_secs = run_started.elapsed().as_secs_f64();
    let failed = args.fail_on_plugin_error && report.error_count() > 0;
    if failed {
        // The temporary output is dropped: OUT stays as it was.
        drop(out);
    } else {
        out.commit()?;
    }
    if let Some(path) = &args.report {
        write_json_atomic(path, &report)?;
    }

    summary.print(&args, &report, set.principles().len(), set.failures().len(), load_ms, run_secs, jobs);
    if failed {
        eprintln!(
            "error: {} principle error(s) and --fail-on-plugin-error is set; {} was not written (see the report)",
            report.error_count(),
            args.output.display()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Figures for the closing summary.
#[derive(Default)]
struct Summary {
    min_items: Option<usize>,
    max_items: usize,
    positive: u64,
    negative: u64,
    axes: BTreeMap<String, u64>,
    scenario: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Summary {
    fn add(&mut self, r: &Rubric) {
        let n = r.items.len();
        self.min_items = Some(self.min_items.map_or(n, |m| m.min(n)));
        self.max_items = self.max_items.max(n);
        for item in &r.items {
            if item.points > 0 {
                self.positive += 1;
            } else {
                self.negative += 1;
            }
            if let Some(axis) = item.tag_value("axis:") {
                *self.axes.entry(axis.to_string()).or_default() += 1;
            }
        }
        for l in &r.scenario {
            *self.scenario.entry(l.dimension.clone()).or_default().entry(l.value.clone()).or_default() += 1;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn print(
        &self,
        args: &SynthesizeArgs,
        report: &RunReport,
        loaded: usize,
        failed: usize,
        load_ms: u128,
        secs: f64,
        jobs: usize,
    ) {
        let q = report.queries.max(1) as f64;
        println!(
            "synthesized {} rubrics → {} (principle set {}, {loaded} principles{})",
            report.queries,
            args.output.display(),
            report.principle_set,
            if failed > 0 { format!(", {failed} left out") } else { String::new() }
        );
        if report.skipped > 0 {
            println!("skipped {} invalid input rows", report.skipped);
        }
        println!(
            "items: {} ({:.1} per query, {}–{}); {} positive / {} negative",
            report.items,
            report.items as f64 / q,
            self.min_items.unwrap_or(0),
            self.max_items,
            self.positive,
            self.negative
        );
        let total: u64 = self.axes.values().sum::<u64>().max(1);
        let axes: Vec<String> =
            self.axes.iter().map(|(a, n)| format!("{a} {:.0}%", 100.0 * *n as f64 / total as f64)).collect();
        println!("axes: {}", axes.join(", "));
        for (dim, values) in &self.scenario {
            let v: Vec<String> = values.iter().map(|(k, n)| format!("{k} {n}")).collect();
            println!("{dim}: {}", v.join(", "));
        }
        let errors: Vec<String> = report
            .principles
            .iter()
            .filter(|p| !p.errors.is_empty())
            .map(|p| {
                let kinds: Vec<String> = p.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
                format!("{} ({})", p.id, kinds.join(", "))
            })
            .collect();
        if errors.is_empty() {
            println!("principle errors: none");
        } else {
            println!("principle errors: {}", errors.join("; "));
        }
        println!(
            "time: load {:.2} s, synthesis {:.2} s ({} on {jobs} thread{})",
            load_ms as f64 / 1000.0,
            secs,
            rate(report.queries, secs),
            if jobs == 1 { "" } else { "s" }
        );
        if let Some(r) = &args.report {
            println!("report: {}", r.display());
        }
    }
}

/// Queries per second, or seconds per query when that reads better (a model-backed
/// principle can take seconds per query).
fn rate(queries: u64, secs: f64) -> String {
    let per_s = queries as f64 / secs.max(1e-9);
    if per_s >= 1.0 || queries == 0 {
        format!("{per_s:.0} queries/s")
    } else {
        format!("{:.1} s per query", secs / queries as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_reads_as_queries_per_second_or_seconds_per_query() {
        assert_eq!(rate(1000, 0.5), "2000 queries/s");
        assert_eq!(rate(25, 264.29), "10.6 s per query");
        assert_eq!(rate(0, 0.0), "0 queries/s");
    }
}
