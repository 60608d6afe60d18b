//! `clinalign`: the command line of the ClinAlign engine.
//!
//! Exit codes: 0 success, 1 failure, 2 usage error.

/// mimalloc: the engine, the server and the judge allocate many small strings and vectors
/// per query; see docs/benchmarks.md for what it changes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod classify;
mod device;
mod engine_model;
mod eval_rubrics;
mod explain;
mod grade;
mod jsonl;
mod judges;
mod kernels;
mod lm;
mod loading;
mod models;
mod pack;
mod principles;
mod queries;
mod revise;
mod score;
mod serve;
mod synthesize;
mod tool_schema;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use clinalign::{Engine, EngineBuilder};

/// ClinAlign engine: clinician-grounded HealthPrinciples, each a sandboxed WebAssembly
/// component, write query-specific grading rubrics (HealthBench format); a judge grades
/// responses against them, which gives HealthBench scores and RL rewards.
///
/// Typical flow: `classify` labels queries on four clinical dimensions, `synthesize` writes a
/// rubric per query, `grade` judges responses against the rubrics (a local model's
/// log-probabilities or an OpenAI-compatible server), `score` computes HealthBench metrics.
/// `principles` lists, tests and scaffolds principles; `models fetch` gets the local judge
/// model; `lm` runs a model directly; `bench` measures.
#[derive(Parser, Debug)]
#[command(name = "clinalign", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    /// More log output (-v info, -vv debug); logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Where local models run: cpu, cuda, cuda:N or auto (a usable GPU, else the CPU; the
    /// choice and its reason are in `lm info` and `/healthz`).
    #[arg(long, global = true, env = "CLINALIGN_DEVICE", default_value = "auto", value_name = "DEVICE")]
    device: clinalign_infer::backend::DeviceRequest,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Principle packs outside this repository: scaffold, self-test, build into one
    /// distributable .pack file. See docs/packs.md.
    #[command(subcommand)]
    Pack(pack::PackCommand),
    /// List, test and scaffold principles.
    #[command(subcommand)]
    Principles(principles::PrinciplesCommand),
    /// Label every row on the four clinical dimensions; report accuracy against physician
    /// categories where the rows carry them.
    Classify(classify::ClassifyArgs),
    /// Write a rubric for every query of a JSONL file (HealthBench rows or {id, messages}).
    Synthesize(synthesize::SynthesizeArgs),
    /// HealthBench metrics from graded rows (criteria_met or p_met), and the grader
    /// meta-evaluation against physician labels.
    Score(score::ScoreArgs),
    /// Grade responses against their rubrics with a judge (a local model's log-probs, or an
    /// OpenAI-compatible server), then score them as HealthBench does. Resumable.
    Grade(grade::GradeArgs),
    /// Self-revision: a model drafts (or takes the row's response), the judge checks it
    /// against the row's rubric, the unmet items guide the next answer; the best is kept and
    /// every round written.
    Revise(revise::ReviseArgs),
    /// Print a tool of the engine as an OpenAI function-calling schema, for agent frameworks
    /// (`clinalign serve` executes it: the call's arguments are the body of its route).
    ToolSchema(tool_schema::ToolSchemaArgs),
    /// Run a model directly: forward pass, generation, info.
    #[command(subcommand)]
    Lm(lm::LmCommand),
    /// Fetch and list the models the engine can use without a download of your own.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Compare synthesized rubrics with physician rubrics: coverage, precision, axes, balance.
    EvalRubrics(eval_rubrics::EvalRubricsArgs),
    /// Why one query's rubric came out as it did: labels and their rules, the pool, what
    /// each principle did, what curation merged and dropped.
    Explain(explain::ExplainArgs),
    /// Rebuild and self-test the principle set on every save; show what changed, and with
    /// --queries how each rubric changed.
    Watch(watch::WatchArgs),
    /// Serve rubrics, grading and RL rewards over HTTP (OpenRLHF, verl, TRL), the local model
    /// behind OpenAI-compatible routes, and hot reload while serving. See docs/server.md.
    Serve(serve::ServeArgs),
    /// Measure the engine.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// The CUDA kernels: list them, compile them with NVRTC (no GPU needed) and report
    /// registers and spills, probe this machine's CUDA.
    #[command(subcommand)]
    Kernels(kernels::KernelsCommand),
}

/// Where principles are read from; shared by every command that reads manifests.
#[derive(Args, Debug, Clone)]
pub struct CatalogArgs {
    /// Where principles come from: a principles directory (dimensions.toml and
    /// <dimension>/*.toml), a pack (a folder with a pack.toml, or a built .pack file), or
    /// `builtin` (the 119 shipped principles). Repeat to compose one principle set:
    /// `--principles builtin --principles ./our-pack --principles team.pack`. At most one
    /// may be a principles directory; given only packs, the set is the packs' principles in
    /// the built-in vocabulary. See docs/packs.md.
    #[arg(long, env = "CLINALIGN_PRINCIPLES", default_value = "principles", value_name = "DIR|PACK|builtin")]
    pub principles: Vec<PathBuf>,
    /// Plugins workspace for `plugin = "<crate>"` manifests [default: `plugins` next to the
    /// principles directory].
    #[arg(long, env = "CLINALIGN_PLUGINS")]
    pub plugins: Option<PathBuf>,
}

/// What `--principles` resolves to: the directory the set is built on, whether its own
/// principles are in the set, and the packs composed with it.
#[derive(Debug, Clone)]
pub struct Sources {
    pub base: PathBuf,
    pub base_principles: bool,
    pub packs: Vec<PathBuf>,
}

/// The word `--principles` takes for the shipped principles.
pub const BUILTIN: &str = "builtin";

/// The shipped principles directory: the checkout this binary was built from, else
/// `principles` in the working directory.
pub fn builtin_principles() -> anyhow::Result<PathBuf> {
    let built_from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../principles");
    for dir in [built_from, PathBuf::from("principles")] {
        if dir.join("dimensions.toml").is_file() {
            return Ok(std::fs::canonicalize(&dir).unwrap_or(dir));
        }
    }
    anyhow::bail!(
        "the built-in principles are not here (looked for {} and ./principles); pass --principles DIR",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../principles")
    )
}

impl CatalogArgs {
    /// Resolves `--principles` into the base directory and the packs.
    pub fn sources(&self) -> anyhow::Result<Sources> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut packs = Vec::new();
        for given in &self.principles {
            let path = if given.as_os_str() == BUILTIN { builtin_principles()? } else { given.clone() };
            if clinalign::pack::Pack::is_pack(&path) {
                packs.push(path);
            } else if let Some(first) = dirs.first() {
                anyhow::bail!(
                    "--principles {}: only one principles directory can be composed (the other is {}); the rest must be packs (a folder with a pack.toml, or a .pack file)",
                    path.display(),
                    first.display()
                );
            } else {
                dirs.push(path);
            }
        }
        Ok(match dirs.pop() {
            Some(base) => Sources { base, base_principles: true, packs },
            None => Sources { base: builtin_principles()?, base_principles: false, packs },
        })
    }

    /// The principles directory the set is built on (vocabulary, plugins workspace): for
    /// the commands that read or write one directory.
    pub fn principles_dir(&self) -> PathBuf {
        self.sources().map(|s| s.base).unwrap_or_else(|_| self.principles[0].clone())
    }

    /// The catalog of every source, composed as the engine composes it.
    pub fn catalog(&self) -> anyhow::Result<clinalign::Catalog> {
        let s = self.sources()?;
        let packs =
            s.packs.iter().map(|p| clinalign::pack::Pack::open(p, None)).collect::<clinalign::Result<Vec<_>>>()?;
        let source = clinalign::principle_set::SetSource {
            base_principles: s.base_principles,
            packs,
            ..clinalign::principle_set::SetSource::new(&s.base, self.plugins_dir())
        };
        Ok(source.catalog()?)
    }

    /// How the sources read in messages: `principles`, or `principles + our-pack`.
    pub fn describe(&self) -> String {
        self.principles.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" + ")
    }

    /// The plugins workspace: `--plugins`, else the one beside the principles directory.
    pub fn plugins_dir(&self) -> PathBuf {
        self.plugins.clone().unwrap_or_else(|| clinalign::default_plugins_dir(&self.principles_dir()))
    }
}

/// Where principles come from and how they run; shared by the commands that run them.
#[derive(Args, Debug, Clone)]
pub struct EngineArgs {
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Cache for built and compiled components [default: $CLINALIGN_CACHE_DIR, else ~/.cache/clinalign].
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Deadline of one principle call, in milliseconds.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub plugin_timeout_ms: u64,
    /// Memory cap of one principle instance, in MiB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub plugin_memory_mib: u64,
    /// Run every principle call in a fresh instance (for untrusted principle sets).
    #[arg(long)]
    pub strict: bool,
    /// Run packs' principles with warm instances like the built-in ones (default: a fresh
    /// instance for every call of a pack's principle).
    #[arg(long)]
    pub trust_packs: bool,
    /// Build packs whose crates, or their dependencies beyond the guest SDK's, have build
    /// scripts or procedural macros: code that runs natively, outside the sandbox, while
    /// compiling. Refused by default; prefer a pack's built .pack file.
    #[arg(long)]
    pub allow_build_scripts: bool,
    /// Most items in one rubric, after near-duplicates are merged.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=200))]
    pub max_items: u64,
    #[command(flatten)]
    pub model: engine_model::ModelArgs,
}

impl EngineArgs {
    /// An engine builder with these settings.
    pub fn builder(&self) -> anyhow::Result<EngineBuilder> {
        let sources = self.catalog.sources()?;
        let mut b = Engine::builder()
            .principles_dir(&sources.base)
            .base_principles(sources.base_principles)
            .trust_packs(self.trust_packs)
            .allow_build_scripts(self.allow_build_scripts)
            .plugin_timeout(Duration::from_millis(self.plugin_timeout_ms))
            .memory_limit((self.plugin_memory_mib as usize) << 20)
            .strict(self.strict)
            .curation(clinalign::CurationPolicy { max_items: self.max_items as usize, ..Default::default() });
        if let Some(p) = &self.catalog.plugins {
            b = b.plugins_dir(p);
        }
        if let Some(c) = &self.cache_dir {
            b = b.cache_dir(Some(c.clone()));
        }
        for p in sources.packs {
            b = b.pack(p);
        }
        Ok(b)
    }

    /// Builds the engine (with the `--model` given, if any), saying what it is doing: a spinner on a terminal, a line on stderr
    /// otherwise (the first run builds the plugin crates, which takes a while). Principles
    /// left out are listed as warnings.
    pub fn load(&self) -> anyhow::Result<Engine> {
        let mut builder = self.builder()?;
        let opened = self.model.open()?;
        builder =
            builder.classifier(engine_model::classifier(self.model.classifier, opened.as_ref().map(|m| &m.model))?);
        if let Some(m) = opened {
            eprintln!("language model for principles: {}", m.model.name());
            builder = builder.model(m.model);
        }
        self.load_with(builder)
    }

    /// [`EngineArgs::load`] with a builder the caller adjusted.
    pub fn load_with(&self, builder: EngineBuilder) -> anyhow::Result<Engine> {
        loading::load_engine(builder, &self.catalog.describe())
    }
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of stdout goes away
    // (`clinalign … | head`) instead of failing on a broken pipe.
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CLINALIGN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{level},cranelift=warn,wasmtime=warn")));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();

    device::request(cli.device);
    let result = match cli.command {
        Command::Principles(cmd) => principles::run(cmd),
        Command::Pack(cmd) => pack::run(cmd),
        Command::Synthesize(args) => synthesize::run(args),
        Command::Classify(args) => classify::run(args),
        Command::Score(args) => score::run(args),
        Command::EvalRubrics(args) => eval_rubrics::run(args),
        Command::Grade(args) => grade::run(args),
        Command::Lm(cmd) => lm::run(cmd),
        Command::Models(cmd) => models::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Kernels(cmd) => kernels::run(cmd),
        Command::Revise(args) => revise::run(args),
        Command::ToolSchema(args) => tool_schema::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
