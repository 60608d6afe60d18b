//! `clinalign serve`: rubrics, grading and RL rewards over HTTP; see docs/server.md.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use clinalign::Row;
use clinalign_server::{RequestCaps, ServerConfig, Services};

use crate::EngineArgs;
use crate::judges::JudgeOptions;

#[derive(Args, Debug)]
#[command(after_help = "Routes: POST /v1/classify, /v1/rubrics, /v1/grade, /v1/reward, /get_reward (OpenRLHF), \
/v1/chat/completions and /v1/completions (with --model); GET /healthz, /metrics (Prometheus), /openapi.json. \
Bodies mirror the CLI's files: one row, or {\"rows\": [...]}. Errors are JSON naming the field and row.\n\
The first line on stdout is `listening on http://ADDR` once the server accepts connections. SIGTERM or Ctrl-C \
stops accepting, lets requests in flight finish and exits 0. Guide: docs/server.md.")]
pub struct ServeArgs {
    /// Where to listen (loopback by default; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8077")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Judge for /v1/grade, /v1/reward and /get_reward: local:smollm2, local:PATH, openai:URL or
    /// openai-logprobs:URL.
    #[arg(long)]
    pub judge: Option<String>,
    #[command(flatten)]
    pub judge_options: JudgeOptions,
    /// Watch the principle set and hot-reload it while serving.
    #[arg(long)]
    pub watch: bool,
    /// File holding the bearer token every route but /healthz then requires.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Requests handled at once; more get 503 with Retry-After.
    #[arg(long, default_value_t = 256)]
    pub max_concurrency: usize,
    /// Responses waiting for the judge, at most; more get 503 with Retry-After.
    #[arg(long, default_value_t = 8192)]
    pub judge_queue: usize,
    /// How long the judge waits for more responses to batch with the first (milliseconds).
    #[arg(long, default_value_t = 2)]
    pub batch_window_ms: u64,
    /// Largest request body, in MiB.
    #[arg(long, default_value_t = 64)]
    pub body_limit_mib: usize,
    /// Most rows (samples, queries) in one request.
    #[arg(long, default_value_t = 4096)]
    pub max_rows: usize,
    /// Most characters of text in one row.
    #[arg(long, default_value_t = 400_000)]
    pub max_chars: usize,
    /// A request still running after this many seconds gets 503.
    #[arg(long, default_value_t = 300)]
    pub request_timeout_s: u64,
    /// After SIGTERM/Ctrl-C, seconds requests in flight may take to finish.
    #[arg(long, default_value_t = 30)]
    pub shutdown_grace_s: u64,
    /// JSONL rows that /get_reward `labels` may name by id (prompt_id or id): their
    /// conversation, and their rubric when they carry one (e.g. the output of `synthesize`).
    #[arg(long)]
    pub rows: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let token = match &args.token_file {
        Some(p) => {
            let t =
                std::fs::read_to_string(p).with_context(|| format!("{}: cannot read the token file", p.display()))?;
            let t = t.trim().to_string();
            if t.is_empty() {
                bail!("{}: the token file is empty", p.display());
            }
            Some(t)
        }
        None => None,
    };
    let rows = match &args.rows {
        Some(p) => read_rows(p)?,
        None => Vec::new(),
    };
    let opened = match &args.engine.model.model {
        Some(spec) => Some(crate::engine_model::open(spec, args.judge_options.precision)?),
        None => None,
    };
    let mut builder = args
        .engine
        .builder()?
        .classifier(crate::engine_model::classifier(args.engine.model.classifier, opened.as_ref().map(|m| &m.model))?);
    if let Some(m) = &opened {
        builder = builder.model(m.model.clone());
    }
    let engine = args.engine.load_with(builder)?;
    let set = engine.principle_set();
    if set.principles().is_empty() {
        bail!("no principle loaded from {}; no rubric would have an item", args.engine.catalog.describe());
    }
    let model_name = opened.as_ref().map(|m| match &m.local {
        Some(lm) => lm.path().display().to_string(),
        None => m.model.name().to_string(),
    });
    let model = opened.and_then(|m| m.local);
    let (judge, judge_workers) = match &args.judge {
        Some(spec) => {
            let built = crate::judges::build(spec, &args.judge_options, model.as_ref())?;
            let workers = if built.local { 1 } else { args.judge_options.concurrency.max(1) };
            (Some(built.judge), workers)
        }
        None => (None, 1),
    };
    eprintln!(
        "principle set {} ({} principles){}; judge: {}; model: {}",
        &set.hash()[..12.min(set.hash().len())],
        set.principles().len(),
        if args.watch { ", watched" } else { "" },
        judge.as_ref().map(|j| j.name()).unwrap_or_else(|| "none (grading routes answer 503)".into()),
        model_name.unwrap_or_else(|| "none".into()),
    );
    let config = ServerConfig {
        addr: args.addr,
        token,
        max_concurrency: args.max_concurrency,
        judge_queue: args.judge_queue,
        batch_window: Duration::from_millis(args.batch_window_ms),
        body_limit: args.body_limit_mib << 20,
        caps: RequestCaps { max_rows: args.max_rows, max_chars: args.max_chars },
        request_timeout: Duration::from_secs(args.request_timeout_s),
        shutdown_grace: Duration::from_secs(args.shutdown_grace_s),
        backend: crate::device::backend()?,
        ..ServerConfig::default()
    };
    let services = Services { engine, judge, judge_workers, model, rows, watching: args.watch };
    clinalign_server::run(config, services, |addr| {
        println!("listening on http://{addr}");
        let _ = std::io::stdout().flush();
        if !addr.ip().is_loopback() {
            eprintln!("warning: listening on {addr}, beyond this machine; use --token-file");
        }
    })?;
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The rows of a JSONL file, each with an id.
fn read_rows(path: &std::path::Path) -> Result<Vec<Row>> {
    let rows = crate::jsonl::read_rows(path)?;
    if let Some((number, _)) = rows.iter().find(|(_, row)| row.id().is_none()) {
        bail!("{}:{number}: the row has no prompt_id or id, so no label can name it", path.display());
    }
    Ok(rows.into_iter().map(|(_, row)| row).collect())
}
