//! `clinalign bench serve`: the HTTP service under load, against the engine in-process in
//! the same run. `/v1/rubrics` req/s and p50/p99 at each concurrency (client threads with
//! keep-alive connections on loopback, sharing the cores with the server), against in-process
//! synthesis queries/s on every thread, and open-loop at a fixed rate below capacity (latency
//! from each request's due time) for the tail latency; with `--judge`, `/v1/reward` criteria/s against the
//! same judge called in-process. Rounds alternate peer and service; figures are medians.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use clinalign::Judge;
use clinalign_server::{ServerConfig, Services};
use rayon::prelude::*;
use serde_json::{Value, json};

use super::http_load::{Connection, Encoded};
use super::stats::{latency, median, round2};
use crate::EngineArgs;
use crate::judges::JudgeOptions;

#[derive(Args, Debug)]
pub struct ServeBenchArgs {
    /// JSONL queries sent to /v1/rubrics, one per request.
    #[arg(long, default_value = "data/queries/liveqa_medical_test_104.jsonl")]
    pub queries: PathBuf,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Client concurrencies to measure (clients sending back to back), comma-separated.
    #[arg(long, default_value = "1,16,64", value_delimiter = ',')]
    pub clients: Vec<usize>,
    /// Seconds of load per concurrency and round.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// Concurrencies also measured open-loop: each client sends at fixed times, and latency
    /// counts from when a request was due (so a stall delays the requests behind it in the
    /// figures, as it does for real clients).
    #[arg(long, default_value = "16", value_delimiter = ',')]
    pub open_loop_clients: Vec<usize>,
    /// The open-loop rate, as a fraction of the service's closed-loop req/s at the same
    /// concurrency in the same round (of the in-process queries/s when that concurrency is not
    /// in --clients).
    #[arg(long, default_value_t = 0.5)]
    pub open_loop_fraction: f64,
    /// Rounds (peer and service alternate; medians are reported).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Also measure /v1/reward with this judge (e.g. local:smollm2) on HealthBench rows
    /// (their ideal completions against their rubrics).
    #[arg(long)]
    pub judge: Option<String>,
    #[command(flatten)]
    pub judge_options: JudgeOptions,
    /// HealthBench rows for the reward figure.
    #[arg(long, default_value = "data/healthbench/oss_eval_sample_9.jsonl")]
    pub reward_rows: PathBuf,
    /// Rows of --reward-rows used.
    #[arg(long, default_value_t = 3)]
    pub reward_samples: usize,
    /// Also write the JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: &ServeBenchArgs) -> Result<Value> {
    if args.rounds == 0 || args.clients.is_empty() || args.clients.contains(&0) || args.open_loop_clients.contains(&0) {
        bail!("--rounds and every --clients and --open-loop-clients count must be at least 1");
    }
    if !(args.open_loop_fraction > 0.0 && args.open_loop_fraction <= 4.0) {
        bail!("--open-loop-fraction must be above 0 and at most 4, not {}", args.open_loop_fraction);
    }
    let engine = args.engine.load()?;
    let set = engine.principle_set();
    let bodies: Vec<String> = std::fs::read_to_string(&args.queries)
        .with_context(|| format!("{}: cannot read", args.queries.display()))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let queries = crate::queries::read_rows(&args.queries, set.dimensions())?;
    if queries.is_empty() {
        bail!("{}: no queries", args.queries.display());
    }
    let judge: Option<Arc<dyn Judge>> = match &args.judge {
        Some(spec) => Some(crate::judges::build(spec, &args.judge_options, None)?.judge),
        None => None,
    };
    let samples = match &judge {
        Some(_) => reward_samples(&args.reward_rows, args.reward_samples)?,
        None => Vec::new(),
    };

    // The service, in this process, on a free loopback port.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let services = Services {
        engine: engine.clone(),
        judge: judge.clone(),
        judge_workers: 1,
        model: None,
        rows: Vec::new(),
        watching: false,
    };
    let config = ServerConfig { addr: "127.0.0.1:0".parse().expect("an address"), ..ServerConfig::default() };
    let server = std::thread::spawn(move || {
        clinalign_server::run_until(
            config,
            services,
            move |a| {
                let _ = addr_tx.send(a);
            },
            async move {
                let _ = stop_rx.await;
            },
        )
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(60)).map_err(|_| anyhow!("the server did not start"))?;
    let url = format!("http://{addr}");
    let seconds = Duration::from_secs_f64(args.seconds.max(0.1));

    let mut peer_qps = Vec::new();
    let mut levels: Vec<(usize, Vec<f64>, Vec<Duration>)> =
        args.clients.iter().map(|c| (*c, Vec::new(), Vec::new())).collect();
    let mut open: Vec<OpenLevel> = args
        .open_loop_clients
        .iter()
        .map(|c| OpenLevel { clients: *c, target: Vec::new(), rps: Vec::new(), lat: Vec::new() })
        .collect();
    let mut reward_peer = Vec::new();
    let mut reward_http = Vec::new();
    for round in 0..args.rounds {
        eprintln!("round {} of {}", round + 1, args.rounds);
        // In-process peer: synthesis on every thread for the same time.
        let started = Instant::now();
        let mut done = 0usize;
        while started.elapsed() < seconds {
            let n = queries.len();
            (0..n).into_par_iter().try_for_each(|i| engine.synthesize(&queries[i]).map(|_| ()))?;
            done += n;
        }
        let round_peer = done as f64 / started.elapsed().as_secs_f64();
        peer_qps.push(round_peer);
        let mut capacity = std::collections::HashMap::new();
        for (c, rps, lat) in levels.iter_mut() {
            let (n, mut l, elapsed) = load(addr, "/v1/rubrics", &bodies, *c, seconds, None)?;
            rps.push(n as f64 / elapsed);
            capacity.insert(*c, n as f64 / elapsed);
            lat.append(&mut l);
        }
        for level in open.iter_mut() {
            let rate = capacity.get(&level.clients).copied().unwrap_or(round_peer) * args.open_loop_fraction;
            let every = Duration::from_secs_f64(level.clients as f64 / rate);
            let (n, mut l, elapsed) = load(addr, "/v1/rubrics", &bodies, level.clients, seconds, Some(every))?;
            level.target.push(rate);
            level.rps.push(n as f64 / elapsed);
            level.lat.append(&mut l);
        }
        if let Some(j) = &judge {
            let criteria: usize = samples.iter().map(|s| s.2.len()).sum();
            let t = Instant::now();
            for (conversation, response, items) in &samples {
                std::hint::black_box(j.grade(conversation, response, items)?);
            }
            reward_peer.push(criteria as f64 / t.elapsed().as_secs_f64());
            let body = json!({ "samples": samples.iter().map(|(c, r, items)| json!({"conversation": c, "response": r, "rubric": items})).collect::<Vec<_>>() }).to_string();
            let agent = agent();
            let t = Instant::now();
            let mut resp =
                agent.post(format!("{url}/v1/reward")).header("Content-Type", "application/json").send(&body)?;
            let text = resp.body_mut().read_to_string()?;
            if !resp.status().is_success() {
                bail!("/v1/reward: HTTP {}: {text}", resp.status());
            }
            reward_http.push(criteria as f64 / t.elapsed().as_secs_f64());
        }
    }
    let _ = stop_tx.send(());
    server.join().map_err(|_| anyhow!("the server thread panicked"))??;

    let peer = median(&mut peer_qps);
    let rubrics: Vec<Value> = levels
        .into_iter()
        .map(|(c, mut rps, mut lat)| {
            let (p50, p99, _) = latency(&mut lat);
            let r = median(&mut rps);
            json!({ "concurrency": c, "req_per_s": round2(r), "vs_in_process": round2(r / peer), "p50_ms": round2(p50 / 1e3), "p99_ms": round2(p99 / 1e3), "requests": lat.len() })
        })
        .collect();
    let open_loop: Vec<Value> = open
        .into_iter()
        .map(|mut l| {
            let (p50, p99, _) = latency(&mut l.lat);
            json!({ "concurrency": l.clients, "target_req_per_s": round2(median(&mut l.target)), "req_per_s": round2(median(&mut l.rps)), "p50_ms": round2(p50 / 1e3), "p99_ms": round2(p99 / 1e3), "requests": l.lat.len() })
        })
        .collect();
    let mut out = json!({
        "queries": queries.len(),
        "principles": set.principles().len(),
        "threads": rayon::current_num_threads(),
        "seconds_per_level": args.seconds,
        "rounds": args.rounds,
        "in_process_queries_per_s": round2(peer),
        "rubrics": rubrics,
        "open_loop_fraction": args.open_loop_fraction,
        "rubrics_open_loop": open_loop,
    });
    if judge.is_some() {
        let (p, h) = (median(&mut reward_peer), median(&mut reward_http));
        out["reward"] = json!({
            "judge": judge.as_ref().map(|j| j.name()),
            "samples": samples.len(),
            "criteria": samples.iter().map(|s| s.2.len()).sum::<usize>(),
            "in_process_criteria_per_s": round2(p),
            "http_criteria_per_s": round2(h),
            "vs_in_process": round2(h / p),
        });
    }
    Ok(out)
}

/// One open-loop concurrency's figures over the rounds.
struct OpenLevel {
    clients: usize,
    /// The rate asked for, requests/s.
    target: Vec<f64>,
    /// The rate answered, requests/s.
    rps: Vec<f64>,
    lat: Vec<Duration>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// `c` client threads, each with its own keep-alive connection ([`Connection`]), sending `bodies` in turn for
/// `time`: (requests answered, their latencies, seconds). Any non-200 answer fails the run.
/// Closed loop (`every` is `None`): each client sends as soon as its last answer came, and
/// latency is the round trip. Open loop: client `w` sends at `w·every/c + k·every`, and
/// latency counts from that due time.
fn load(
    addr: SocketAddr,
    path: &'static str,
    bodies: &[String],
    c: usize,
    time: Duration,
    every: Option<Duration>,
) -> Result<(usize, Vec<Duration>, f64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let requests: Arc<Vec<Encoded>> = Arc::new(bodies.iter().map(|b| Encoded::post_json(addr, path, b)).collect());
    let started = Instant::now();
    let workers: Vec<_> = (0..c)
        .map(|w| {
            let (stop, requests) = (stop.clone(), requests.clone());
            std::thread::spawn(move || -> Result<Vec<Duration>> {
                let mut conn = Connection::open(addr)?;
                let mut lat = Vec::new();
                let mut i = w;
                let mut due = every.map(|e| started + e.mul_f64(w as f64 / c as f64));
                while !stop.load(Ordering::Relaxed) {
                    let t = match due {
                        Some(d) => {
                            if let Some(wait) = d.checked_duration_since(Instant::now()) {
                                std::thread::sleep(wait);
                            }
                            d
                        }
                        None => Instant::now(),
                    };
                    if let (Some(d), Some(e)) = (due.as_mut(), every) {
                        *d += e;
                    }
                    let status = conn.send(&requests[i % requests.len()])?;
                    if status != 200 {
                        bail!("{path}: HTTP {status}: {}", String::from_utf8_lossy(conn.body()));
                    }
                    lat.push(t.elapsed());
                    i += c;
                }
                Ok(lat)
            })
        })
        .collect();
    std::thread::sleep(time);
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for w in workers {
        all.append(&mut w.join().map_err(|_| anyhow!("a client thread panicked"))??);
    }
    Ok((all.len(), all, started.elapsed().as_secs_f64()))
}

/// A conversation, a response and its rubric.
type RewardSample = (Vec<clinalign::Message>, String, Vec<clinalign::RubricEntry>);

/// (conversation, ideal completion, rubric) of the first `n` HealthBench rows that have both.
fn reward_samples(path: &std::path::Path, n: usize) -> Result<Vec<RewardSample>> {
    let mut out = Vec::new();
    for (number, row) in crate::jsonl::read_rows(path)? {
        let at = |e: String| anyhow!("{}:{number}: {e}", path.display());
        let Some((conversation, response)) = row.graded_turns(None).map_err(at)? else { continue };
        let Some(items) = row.rubric().map_err(at)? else { continue };
        out.push((conversation, response, items));
        if out.len() == n {
            break;
        }
    }
    if out.is_empty() {
        bail!("{}: no row with a response and a rubric", path.display());
    }
    Ok(out)
}
