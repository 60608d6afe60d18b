//! `clinalign revise IN -o OUT --model SPEC --judge SPEC [--rounds N]`: self-revision of an
//! answer per row. The rubric comes from the principles (written once per row); a model drafts
//! (or the row's response is the draft); the judge grades; the unmet items and triggered
//! penalties become feedback for the next answer. Every round is written, with the best.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use clinalign::revision::{RevisionPolicy, revise};
use indicatif::{ProgressBar, ProgressStyle};

use crate::jsonl::AtomicJsonl;

#[derive(Args, Debug)]
#[command(after_help = "Input rows: HealthBench rows or {id, messages}. The draft is the row's response \
(`completion`, `response`, `ideal_completions_data.ideal_completion`, or --response-field), or a final assistant \
turn; without one, --model drafts. Output rows: the input with `revision` {rounds: [{round, answer, score, met, \
unmet, penalties, feedback}], best, stopped, best_answer, draft_score, best_score}. Scores are soft HealthBench \
scores (the RL reward) of the row's synthesized rubric. A summary line goes to stderr.")]
pub struct ReviseArgs {
    /// Input JSONL rows.
    pub input: PathBuf,
    /// Output JSONL rows (written atomically when every row is done).
    #[arg(short, long)]
    pub output: PathBuf,
    /// The judge: local:smollm2, local:PATH, openai:URL or openai-logprobs:URL.
    #[arg(long)]
    pub judge: String,
    /// Most revisions after the draft.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=20))]
    pub rounds: u64,
    /// Most tokens of one answer.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=8192))]
    pub max_tokens: u32,
    /// Dotted path of the field holding the draft (see the list below).
    #[arg(long)]
    pub response_field: Option<String>,
    #[command(flatten)]
    pub judge_options: crate::judges::JudgeOptions,
    #[command(flatten)]
    pub engine: crate::EngineArgs,
}

pub fn run(args: ReviseArgs) -> Result<ExitCode> {
    let Some(spec) = &args.engine.model.model else {
        bail!("revise needs --model (local:smollm2, local:PATH or openai:URL[#MODEL]): it writes the answers");
    };
    let rows = crate::jsonl::read_rows(&args.input)?;
    let opened = crate::engine_model::open(spec, args.judge_options.precision)?;
    let builder = args
        .engine
        .builder()?
        .classifier(crate::engine_model::classifier(args.engine.model.classifier, Some(&opened.model))?)
        .model(opened.model.clone());
    let engine = args.engine.load_with(builder)?;
    let judge = crate::judges::build(&args.judge, &args.judge_options, opened.local.as_ref())?.judge;
    let policy = RevisionPolicy { rounds: args.rounds as usize, max_tokens: args.max_tokens };
    let set = engine.principle_set();
    let input = args.input.display().to_string();
    let total = rows.len();
    let pb = ProgressBar::new(total as u64);
    pb.set_style(
        ProgressStyle::with_template("{spinner} revising [{bar:30}] {pos}/{len} {msg} ({eta} left)")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let mut out = AtomicJsonl::create(&args.output)?;
    let (mut draft_sum, mut best_sum, mut scored, mut revisions) = (0.0, 0.0, 0usize, 0usize);
    for (number, mut row) in rows {
        let at = format!("{input}:{number}");
        let query = row.query(&format!("line-{number}"), set.dimensions()).map_err(|e| anyhow!("{at}: {e}"))?;
        let rubric = engine.synthesize(&query).with_context(|| format!("{at}: writing the rubric"))?;
        let (conversation, draft) =
            row.draft_turns(args.response_field.as_deref()).map_err(|e| anyhow!("{at}: {e}"))?;
        let r = revise(&conversation, &rubric.items, draft.as_deref(), opened.model.as_ref(), judge.as_ref(), policy)
            .map_err(|e| anyhow!("{at}: {e}"))?;
        let (first, best) = (r.rounds[0].score, r.rounds[r.best].score);
        if let (Some(f), Some(b)) = (first, best) {
            draft_sum += f;
            best_sum += b;
            scored += 1;
        }
        revisions += r.rounds.len() - 1;
        pb.set_message(format!("last: {} → {}", fmt(first), fmt(best)));
        row.fields.insert("revision".into(), r.to_value());
        out.write(&row.fields)?;
        pb.inc(1);
    }
    out.commit()?;
    pb.finish_and_clear();
    let mean = |s: f64| if scored > 0 { format!("{:.3}", s / scored as f64) } else { "-".into() };
    eprintln!(
        "revised {total} rows ({revisions} revisions in all) with {}; mean soft score: draft {}, best {}; wrote {}",
        opened.model.name(),
        mean(draft_sum),
        mean(best_sum),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn fmt(s: Option<f64>) -> String {
    s.map_or("-".into(), |v| format!("{v:.2}"))
}
