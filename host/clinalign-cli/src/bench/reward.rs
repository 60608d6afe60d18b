//! `clinalign bench reward`: GRPO rewards, several responses to one prompt graded against its
//! rubric, judged one response at a time (the judge prompt shared by one response's criteria:
//! one level) and as a group (shared across the responses too: two levels), alternating in one
//! run, with the prompt tokens each computes; and different conversations judged one at a
//! time against packed into shared forward calls (what the server's judge queue does with
//! concurrent requests).
//!
//! The defaults (groups of 3, 2 rubric items, the cheapest group of each set, 2 rounds) take
//! about a minute on 2 unloaded cores with SmolLM2; docs/benchmarks.md gives the larger runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use clinalign::{Message, RubricEntry};
use clinalign_infer::config::ModelConfig;
use clinalign_infer::judge::{GroupPrompts, GroupTokens, LogprobJudge};
use clinalign_infer::local::{LocalModel, Precision};
use serde_json::{Value, json};

use super::stats::{median, round2};
use crate::jsonl::write_json_atomic;

/// The largest |Δp_met| between the two ways allowed in f32 (both are exact up to rounding).
const F32_TOLERANCE: f32 = 1e-4;

#[derive(Args, Debug)]
pub struct RewardBenchArgs {
    /// Responses per prompt (a GRPO group), at least 2: the row's ideal completion, then its
    /// reference completions (`ideal_completions_data.ideal_completions_ref_completions`) in
    /// order; rows with fewer responses give smaller groups, rows with one are left out.
    #[arg(long, default_value_t = 3)]
    group: usize,
    /// HealthBench rows with rubrics and ideal completions.
    #[arg(long, default_value = "data/healthbench/oss_eval_sample_9.jsonl")]
    rows: PathBuf,
    /// Timed rounds, each one-level then two-level over every group (ABAB…); medians reported.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Rubric items each response is graded on: the first K of the row's rubric; 0 takes all.
    #[arg(long, default_value_t = 2)]
    criteria: usize,
    /// Groups per set: the ones with the fewest prompt tokens (one level), so the default run
    /// stays short; 0 takes every group.
    #[arg(long, default_value_t = 1)]
    prompts: usize,
    /// Earlier exchanges put in front of each multi-turn conversation of the long set: other
    /// rows' conversations, each answered by its ideal completion, in file order, until the
    /// added turns reach this many characters.
    #[arg(long, default_value_t = 2000)]
    history_chars: usize,
    /// The judge: `local:smollm2` (fetched and cached on first use) or `local:PATH` (a GGUF file
    /// or a Hugging Face model folder).
    #[arg(long, default_value = "local:smollm2")]
    judge: String,
    /// Weights: `f32` (the reference numerics) or `native` (4-bit layers kept 4-bit).
    #[arg(long, default_value = "f32")]
    precision: Precision,
    /// Also compare, on this many different conversations (the bundled rows with the fewest
    /// tokens, each with its ideal completion: what concurrent requests bring the server's
    /// judge), one group judged at a time against all of them packed into the same forward
    /// calls (`judge_groups`); 0 skips it.
    #[arg(long, default_value_t = 4)]
    across: usize,
    /// Only count the prompt tokens of every group (all of them, whatever --prompts), no timing.
    #[arg(long)]
    tokens_only: bool,
    /// Also write the JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// A row that can give a group: its conversation, rubric and responses (ideal first).
struct Source {
    id: String,
    conversation: Vec<Message>,
    rubric: Vec<RubricEntry>,
    responses: Vec<String>,
}

/// One GRPO group: responses to one conversation, all graded against one rubric.
struct Group {
    id: String,
    conversation: Vec<Message>,
    rubric: Vec<RubricEntry>,
    responses: Vec<String>,
    work: Work,
}

/// What judging computes, one level and two levels: prompt tokens, and floating-point
/// operations (a late token attends over more keys than an early one, so tokens saved from the
/// front of the prompt are cheaper than the average).
#[derive(Debug, Clone, Copy)]
struct Work {
    tokens: GroupTokens,
    flops_one_level: f64,
    flops_two_level: f64,
}

impl Work {
    /// A group's work, from its prompts.
    fn of(cfg: &ModelConfig, p: &GroupPrompts) -> Work {
        let g = p.group_shared;
        let judged = || p.prompts.iter().zip(&p.response_shared).filter(|(full, _)| !full.is_empty());
        let suffixes: f64 =
            judged().flat_map(|(full, s)| full.iter().map(move |t| cfg.forward_flops(t.len() - s, *s, 1))).sum();
        let own: f64 = judged().map(|(_, s)| cfg.forward_flops(s - g, g, 0)).sum();
        let whole: f64 = judged().map(|(_, s)| cfg.forward_flops(*s, 0, 0)).sum();
        Work {
            tokens: p.tokens(),
            flops_one_level: whole + suffixes,
            flops_two_level: cfg.forward_flops(g, 0, 0) + own + suffixes,
        }
    }

    /// Nothing computed.
    fn none() -> Work {
        Work { tokens: GroupTokens { one_level: 0, two_level: 0, full: 0 }, flops_one_level: 0.0, flops_two_level: 0.0 }
    }

    /// Both added up.
    fn plus(self, o: Work) -> Work {
        let (a, b) = (self.tokens, o.tokens);
        Work {
            tokens: GroupTokens {
                one_level: a.one_level + b.one_level,
                two_level: a.two_level + b.two_level,
                full: a.full + b.full,
            },
            flops_one_level: self.flops_one_level + o.flops_one_level,
            flops_two_level: self.flops_two_level + o.flops_two_level,
        }
    }

    fn token_saving(&self) -> f64 {
        self.tokens.one_level as f64 / self.tokens.two_level as f64
    }

    fn flop_saving(&self) -> f64 {
        self.flops_one_level / self.flops_two_level
    }
}

impl Group {
    /// The responses with their items, as the judge takes them.
    fn graded(&self) -> Vec<(&str, &[RubricEntry])> {
        self.responses.iter().map(|r| (r.as_str(), self.rubric.as_slice())).collect()
    }

    fn criteria(&self) -> usize {
        self.responses.len() * self.rubric.len()
    }
}

/// Groups measured together.
struct Set {
    name: &'static str,
    what: &'static str,
    groups: Vec<Group>,
}

/// The rows of `path` with a rubric and at least two responses, at most `group` responses and
/// `criteria` items (0: all) each.
fn read_sources(path: &Path, group: usize, criteria: usize) -> Result<Vec<Source>> {
    let mut out = Vec::new();
    for (number, row) in crate::jsonl::read_rows(path)? {
        let at = || format!("{}:{number}", path.display());
        let Some(ideal) = row.response(Some("ideal_completions_data.ideal_completion")) else {
            continue;
        };
        let mut responses = vec![ideal.to_string()];
        if let Some(Value::Array(refs)) = row.field("ideal_completions_data.ideal_completions_ref_completions") {
            responses.extend(refs.iter().filter_map(Value::as_str).map(str::to_string));
        }
        responses.truncate(group);
        let Some(mut rubric) = row.rubric().map_err(|e| anyhow::anyhow!("{}: {e}", at()))? else {
            continue;
        };
        if criteria > 0 {
            rubric.truncate(criteria);
        }
        if responses.len() < 2 || rubric.is_empty() {
            continue;
        }
        let conversation = row.conversation().map_err(|e| anyhow::anyhow!("{}: {e}", at()))?;
        out.push(Source { id: row.id().unwrap_or_else(at), conversation, rubric, responses });
    }
    Ok(out)
}

/// The long conversations: each source with two or more user turns, after earlier exchanges
/// (the other sources' conversations, each answered by its ideal completion) of at least
/// `history_chars` characters in all, or as many as there are.
fn long_conversations(sources: &[Source], history_chars: usize) -> Vec<Source> {
    let users = |s: &Source| s.conversation.iter().filter(|m| m.role == "user").count();
    let mut out = Vec::new();
    for (i, s) in sources.iter().enumerate().filter(|(_, s)| users(s) >= 2) {
        let mut conversation = Vec::new();
        let mut chars = 0;
        for other in sources.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, o)| o) {
            if chars >= history_chars {
                break;
            }
            let answer = Message { role: "assistant".into(), content: other.responses[0].clone() };
            for m in other.conversation.iter().filter(|m| m.role != "system").chain([&answer]) {
                chars += m.content.chars().count();
                conversation.push(m.clone());
            }
        }
        conversation.extend(s.conversation.iter().cloned());
        out.push(Source {
            id: format!("{}+history", s.id),
            conversation,
            rubric: s.rubric.clone(),
            responses: s.responses.clone(),
        });
    }
    out
}

/// The sources as groups with their work, the `prompts` cheapest first (all for 0).
fn groups(judge: &LogprobJudge, sources: Vec<Source>, prompts: usize) -> Result<Vec<Group>> {
    let mut groups = Vec::new();
    for s in sources {
        let graded: Vec<(&str, &[RubricEntry])> = s.responses.iter().map(|r| (r.as_str(), &s.rubric[..])).collect();
        let tokenized = judge.group_prompts(&s.conversation, &graded).with_context(|| format!("row {}", s.id))?;
        let work = Work::of(&judge.model().model().cfg, &tokenized);
        groups.push(Group { id: s.id, conversation: s.conversation, rubric: s.rubric, responses: s.responses, work });
    }
    groups.sort_by_key(|g| g.work.tokens.one_level);
    if prompts > 0 {
        groups.truncate(prompts);
    }
    Ok(groups)
}

/// One pass over a set's groups, one response at a time; every p_met, in order.
fn one_level(judge: &LogprobJudge, set: &Set) -> Result<Vec<f32>> {
    let mut p = Vec::new();
    for g in &set.groups {
        for (response, items) in g.graded() {
            p.extend(judge.judge(&g.conversation, response, items)?.iter().map(|v| v.p_met));
        }
    }
    Ok(p)
}

/// One pass over a set's groups, a group at a time; every p_met, in order.
fn two_level(judge: &LogprobJudge, set: &Set) -> Result<Vec<f32>> {
    let mut p = Vec::new();
    for g in &set.groups {
        for verdicts in judge.judge_group(&g.conversation, &g.graded())? {
            p.extend(verdicts.iter().map(|v| v.p_met));
        }
    }
    Ok(p)
}

/// A set's timings: seconds per pass, one-level and two-level, per round.
#[derive(Default)]
struct Timings {
    one: Vec<f64>,
    two: Vec<f64>,
    max_p_met_diff: f32,
}

/// Runs the benchmark: the JSON report, and whether both ways gave the same p_met (within
/// [`F32_TOLERANCE`]; not checked for `native` precision, whose rounding depends on batching).
pub fn run(args: RewardBenchArgs) -> Result<(Value, bool)> {
    if args.group < 2 {
        bail!("--group {}: a group needs at least 2 responses", args.group);
    }
    let Some(spec) = args.judge.strip_prefix("local:") else {
        bail!(
            "--judge {:?}: use local:smollm2 or local:PATH (only a local judge shares work across a group)",
            args.judge
        )
    };
    let model_path = crate::models::resolve_local(spec)?;
    let t = Instant::now();
    let lm = LocalModel::open_with(&model_path, args.precision)
        .with_context(|| format!("loading {}", model_path.display()))?;
    let load_s = t.elapsed().as_secs_f64();
    let judge = LogprobJudge::new(Arc::new(lm))?;

    let sources = read_sources(&args.rows, args.group, args.criteria)?;
    if sources.is_empty() {
        bail!("{}: no rows with a rubric, an ideal completion and a reference completion", args.rows.display());
    }
    let long = long_conversations(&sources, args.history_chars);
    let across: Vec<Source> = if args.across > 0 && !args.tokens_only {
        sources
            .iter()
            .map(|s| Source {
                id: s.id.clone(),
                conversation: s.conversation.clone(),
                rubric: s.rubric.clone(),
                responses: s.responses[..1].to_vec(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let across = groups(&judge, across, args.across)?;
    let prompts = if args.tokens_only { 0 } else { args.prompts };
    let mut sets =
        vec![Set { name: "healthbench", what: "the rows as they are", groups: groups(&judge, sources, prompts)? }];
    if !long.is_empty() {
        sets.push(Set {
            name: "long_multi_turn",
            what: "multi-turn rows after earlier exchanges from the other rows",
            groups: groups(&judge, long, prompts)?,
        });
    }
    if args.tokens_only {
        let report: serde_json::Map<String, Value> =
            sets.iter().map(|s| (s.name.to_string(), s.groups.iter().map(group_json).collect())).collect();
        let workload = json!({"group": args.group, "criteria": args.criteria, "history_chars": args.history_chars});
        return Ok((json!({"workload": workload, "sets": report}), true));
    }
    let threads = rayon::current_num_threads();
    for s in &sets {
        let criteria: usize = s.groups.iter().map(Group::criteria).sum();
        eprintln!("{}: {} groups, {criteria} criteria", s.name, s.groups.len());
    }
    eprintln!("model {} loaded in {load_s:.2} s; {threads} threads", model_path.display());

    let rounds = args.rounds.max(1);
    let mut timings: Vec<Timings> = sets.iter().map(|_| Timings::default()).collect();
    for round in 1..=rounds {
        for (set, timing) in sets.iter().zip(&mut timings) {
            let t = Instant::now();
            let a = one_level(&judge, set)?;
            timing.one.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let b = two_level(&judge, set)?;
            timing.two.push(t.elapsed().as_secs_f64());
            let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            timing.max_p_met_diff = timing.max_p_met_diff.max(diff);
            eprintln!(
                "round {round}/{rounds} {}: one level {:.2} s, two levels {:.2} s",
                set.name,
                timing.one[round - 1],
                timing.two[round - 1]
            );
        }
    }

    let mut report = serde_json::Map::new();
    let mut across_diff = 0f32;
    if across.len() > 1 {
        let (figures, diff) = across_conversations(&judge, &across, rounds)?;
        report.insert("across_conversations".into(), figures);
        across_diff = diff;
    }
    for (set, timing) in sets.iter().zip(&timings) {
        let work = set.groups.iter().fold(Work::none(), |w, g| w.plus(g.work));
        let criteria = set.groups.iter().map(Group::criteria).sum();
        let mut figures = figures(work, criteria, timing);
        figures["what"] = json!(set.what);
        figures["groups"] = set.groups.iter().map(group_json).collect();
        report.insert(set.name.into(), figures);
    }
    let all_work = sets.iter().flat_map(|s| &s.groups).fold(Work::none(), |w, g| w.plus(g.work));
    let all_criteria = sets.iter().flat_map(|s| &s.groups).map(Group::criteria).sum();
    let per_round = |f: fn(&Timings) -> &Vec<f64>| -> Vec<f64> {
        (0..rounds).map(|r| timings.iter().map(|t| f(t)[r]).sum()).collect()
    };
    let all = Timings {
        one: per_round(|t| &t.one),
        two: per_round(|t| &t.two),
        max_p_met_diff: timings.iter().map(|t| t.max_p_met_diff).fold(0f32, f32::max),
    };
    let max_diff = all.max_p_met_diff.max(across_diff);
    report.insert("all".into(), figures(all_work, all_criteria, &all));

    let precision = format!("{:?}", args.precision).to_lowercase();
    let result = json!({
        "model": model_path.file_name().map(|f| f.to_string_lossy().to_string()),
        "precision": precision,
        "threads": threads,
        "group": args.group,
        "criteria_per_response": args.criteria,
        "rounds": rounds,
        "rows": args.rows,
        "history_chars": args.history_chars,
        "load_s": round2(load_s),
        "sets": report,
    });
    if let Some(path) = &args.out {
        write_json_atomic(path, &result)?;
    }
    let exact = args.precision != Precision::F32 || max_diff <= F32_TOLERANCE;
    if !exact {
        eprintln!(
            "one-level and two-level p_met differ by {max_diff:e}, more than the f32 tolerance {F32_TOLERANCE:e}"
        );
    }
    Ok((result, exact))
}

/// Different conversations judged one group at a time, then packed into shared forward calls,
/// alternating for `rounds`: criteria/s both ways, the speedup (median of the rounds' pairs) and
/// the largest p_met difference.
fn across_conversations(judge: &LogprobJudge, groups: &[Group], rounds: usize) -> Result<(Value, f32)> {
    let graded: Vec<Vec<(&str, &[RubricEntry])>> = groups.iter().map(Group::graded).collect();
    let asked: Vec<clinalign::ConversationGroup<'_>> =
        groups.iter().zip(&graded).map(|(g, r)| (&g.conversation[..], &r[..])).collect();
    let criteria: usize = groups.iter().map(Group::criteria).sum();
    let (mut one, mut packed, mut pairs) = (Vec::new(), Vec::new(), Vec::new());
    let mut max_diff = 0f32;
    for round in 1..=rounds {
        let t = Instant::now();
        let a: Vec<f32> = asked
            .iter()
            .map(|(c, r)| judge.judge_group(c, r))
            .collect::<clinalign_infer::Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .flatten()
            .map(|v| v.p_met)
            .collect();
        let one_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let b: Vec<f32> = judge.judge_groups(&asked)?.into_iter().flatten().flatten().map(|v| v.p_met).collect();
        let packed_s = t.elapsed().as_secs_f64();
        max_diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(max_diff, f32::max);
        eprintln!("round {round}/{rounds} across conversations: one at a time {one_s:.2} s, packed {packed_s:.2} s");
        one.push(one_s);
        packed.push(packed_s);
        pairs.push(one_s / packed_s);
    }
    let (one_s, packed_s) = (median(&mut one), median(&mut packed));
    let figures = json!({
        "what": "different conversations, one response each: one group per judge call vs all packed into shared forward calls",
        "conversations": groups.len(),
        "criteria": criteria,
        "one_at_a_time": {"seconds": round2(one_s), "criteria_per_s": round2(criteria as f64 / one_s)},
        "packed": {"seconds": round2(packed_s), "criteria_per_s": round2(criteria as f64 / packed_s)},
        "speedup_per_round": pairs.iter().map(|r| round3(*r)).collect::<Vec<_>>(),
        "speedup_median_of_rounds": round3(median(&mut pairs)),
        "max_p_met_diff": max_diff,
        "groups": groups.iter().map(group_json).collect::<Vec<_>>(),
    });
    Ok((figures, max_diff))
}

/// What a group is: its row, size and work.
fn group_json(g: &Group) -> Value {
    json!({"id": g.id, "turns": g.conversation.len(), "responses": g.responses.len(), "criteria": g.criteria(),
           "tokens": g.work.tokens, "token_saving": round3(g.work.token_saving()),
           "flop_saving": round3(g.work.flop_saving())})
}

/// The figures of one set (or all): work, criteria/s both ways (median seconds per pass), the
/// speedup (of the medians, and each round's one-level over two-level time), the token and
/// FLOP savings, and how much of each saving the speedup realises.
fn figures(work: Work, criteria: usize, t: &Timings) -> Value {
    let (one_s, two_s) = (median(&mut t.one.clone()), median(&mut t.two.clone()));
    let speedup = one_s / two_s;
    let mut pairs: Vec<f64> = t.one.iter().zip(&t.two).map(|(a, b)| a / b).collect();
    let pair_speedups: Vec<f64> = pairs.iter().map(|r| round3(*r)).collect();
    let pair_median = median(&mut pairs);
    let tokens = work.tokens;
    let gflops = |f: f64, s: f64| round2(f / s / 1e9);
    json!({
        "criteria": criteria,
        "tokens": tokens,
        "gflop": {"one_level": round2(work.flops_one_level / 1e9), "two_level": round2(work.flops_two_level / 1e9)},
        "one_level": {"seconds": round2(one_s), "criteria_per_s": round2(criteria as f64 / one_s),
                      "tokens_per_s": round2(tokens.one_level as f64 / one_s),
                      "gflop_per_s": gflops(work.flops_one_level, one_s)},
        "two_level": {"seconds": round2(two_s), "criteria_per_s": round2(criteria as f64 / two_s),
                      "tokens_per_s": round2(tokens.two_level as f64 / two_s),
                      "gflop_per_s": gflops(work.flops_two_level, two_s)},
        "speedup": round3(speedup),
        "speedup_per_round": pair_speedups,
        "speedup_median_of_rounds": round3(pair_median),
        "token_saving": round3(work.token_saving()),
        "speedup_vs_token_saving": round3(speedup / work.token_saving()),
        "flop_saving": round3(work.flop_saving()),
        "speedup_vs_flop_saving": round3(speedup / work.flop_saving()),
        "max_p_met_diff": t.max_p_met_diff,
    })
}

/// Rounded to three decimals: ratios near 1 need them.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
