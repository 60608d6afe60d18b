//! `clinalign bench …`: measurements, printed as JSON.

mod score;
mod serve;
mod stats;
mod synthesize;

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use crate::EngineArgs;
use crate::jsonl::write_json_atomic;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Rubric synthesis: per-query latency (one thread), throughput (all threads), cold
    /// load from a warm cache, and the template principles as wasm vs the same code native.
    Synthesize {
        /// JSONL queries (HealthBench rows or {id, messages}).
        #[arg(long)]
        queries: std::path::PathBuf,
        #[command(flatten)]
        engine: EngineArgs,
        /// Timed passes over the queries (after one warm-up pass).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Engine builds timed for the cold-load figure.
        #[arg(long, default_value_t = 5)]
        loads: usize,
        /// Also write the JSON here.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// The log-prob judge on HealthBench rows (ideal completions against their rubrics):
    /// prompt tokens/s and criteria/s with the shared prefix and one full prompt per
    /// criterion, GFLOP/s against this machine's gemm peak, and llama.cpp on the same
    /// prompts when llama-cpp-python is installed.
    Score(score::ScoreBenchArgs),
    /// The HTTP service under load on loopback: /v1/rubrics req/s and p50/p99 at each
    /// concurrency against in-process synthesis in the same run; with --judge, /v1/reward
    /// criteria/s against the judge in-process.
    Serve(serve::ServeBenchArgs),
}

pub fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Synthesize { queries, engine, rounds, loads, out } => {
            let result = synthesize::run(&queries, &engine, rounds.max(1), loads.max(1))?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            if let Some(path) = out {
                write_json_atomic(&path, &result)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Serve(args) => {
            let result = serve::run(&args)?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            if let Some(path) = &args.out {
                write_json_atomic(path, &result)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Score(args) => {
            let result = score::run(args)?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
