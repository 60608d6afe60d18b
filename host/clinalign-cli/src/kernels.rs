//! `clinalign kernels …`: the CUDA kernels embedded in this binary, compiled with NVRTC for
//! a GPU architecture (no GPU needed), with ptxas's register and spill report.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use clinalign_infer::assets::FetchProgress;
use clinalign_infer::cuda::kernels::KERNELS;
use clinalign_infer::cuda::nvrtc::{self, Toolkit};
use clinalign_infer::cuda::{self, Driver};

#[derive(Subcommand, Debug)]
pub enum KernelsCommand {
    /// The kernel files and their entry points.
    List,
    /// Compile every kernel with NVRTC for each architecture (through the on-disk cache) and
    /// print registers, spills and shared memory per entry point. Fails on a compile error, a
    /// warning, a register spill or a stack frame.
    Check {
        /// Architectures to compile for [default: sm_80 and sm_90].
        #[arg(long = "arch", value_name = "sm_XY")]
        archs: Vec<String>,
        /// Also write the report as JSON.
        #[arg(long, value_name = "FILE.json")]
        json: Option<PathBuf>,
        /// Compiled-kernel cache [default: $CLINALIGN_KERNEL_CACHE, else <cache>/kernels].
        #[arg(long)]
        cache: Option<PathBuf>,
        /// Fetch NVRTC and the CUDA headers from PyPI if this machine has none.
        #[arg(long)]
        fetch: bool,
    },
    /// Download NVRTC and the CUDA headers from PyPI into the engine's cache (about 95 MB;
    /// no GPU needed).
    FetchToolkit,
    /// What CUDA this machine has: the driver, its devices, NVRTC, and the backend `auto`
    /// would choose.
    Probe,
    /// Run every kernel on a GPU against its CPU reference (random inputs, tolerances per
    /// kernel). Without a GPU it says why and skips (exit 0), unless --require-gpu.
    Test {
        #[command(flatten)]
        run: GpuRun,
    },
    /// Run a model's forward pass on a GPU (the kernels alone) and on the CPU backend, on the
    /// same ragged batch, and compare the logits at every position. Without a GPU it says why
    /// and skips (exit 0), unless --require-gpu.
    ForwardCheck {
        /// A Hugging Face model folder or a GGUF file (dequantised to bf16).
        #[arg(long)]
        model: PathBuf,
        /// Fail unless every position's top token agrees and max |Δlogit| stays within this.
        #[arg(long, default_value_t = 0.25)]
        max_logit_diff: f32,
        #[command(flatten)]
        run: GpuRun,
    },
}

/// What the GPU commands share.
#[derive(Args, Debug)]
pub struct GpuRun {
    /// CUDA device ordinal.
    #[arg(long, default_value_t = 0)]
    gpu: usize,
    /// Compiled-kernel cache to load from (and compile into, where NVRTC is here)
    /// [default: $CLINALIGN_KERNEL_CACHE, else <cache>/kernels].
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Also write the results as JSON.
    #[arg(long, value_name = "FILE.json")]
    json: Option<PathBuf>,
    /// Fail (exit 1) where there is no usable GPU instead of skipping.
    #[arg(long)]
    require_gpu: bool,
}

/// Progress of the toolkit's download, as lines on stderr.
struct Lines;

impl FetchProgress for Lines {
    fn downloading(&self, package: &str) {
        eprintln!("downloading {package} from PyPI");
    }
}

pub fn run(cmd: KernelsCommand) -> Result<ExitCode> {
    match cmd {
        KernelsCommand::List => {
            for k in KERNELS {
                println!("{:<14} {}", k.file, k.about);
                for e in k.entries {
                    println!("{:<14}   {e}", "");
                }
            }
        }
        KernelsCommand::FetchToolkit => {
            let dir = nvrtc::fetch(&Lines).context("fetching the NVRTC toolkit")?;
            println!("NVRTC and CUDA headers in {}", dir.display());
        }
        KernelsCommand::Probe => probe(),
        KernelsCommand::Check { archs, json, cache, fetch } => return check(archs, json, cache, fetch),
        KernelsCommand::Test { run } => return test(run),
        KernelsCommand::ForwardCheck { model, max_logit_diff, run } => {
            return forward_check(&model, max_logit_diff, run);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn probe() {
    match cuda::probe() {
        Driver::Absent => println!("driver: none (libcuda.so not found)"),
        Driver::Failed { reason } => println!("driver: present but not working: {reason}"),
        Driver::Ready { version, gpus } => {
            println!("driver: CUDA {}.{} , {} device(s)", version / 1000, (version % 1000) / 10, gpus.len());
            for g in gpus {
                println!("  {}", g.describe());
            }
        }
    }
    match Toolkit::locate() {
        Ok(t) => match t.load() {
            Ok((major, minor)) => println!(
                "nvrtc: {major}.{minor} ({}), headers in {}",
                t.library.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "system library path".into()),
                t.include.display()
            ),
            Err(e) => println!("nvrtc: {e}"),
        },
        Err(e) => println!("nvrtc: {e}"),
    }
    match clinalign_infer::backend::choose(Default::default()) {
        Ok(b) => println!("--device auto runs on: {} ({})", b.name, b.why),
        Err(e) => println!("--device auto: {e}"),
    }
}

fn check(archs: Vec<String>, json: Option<PathBuf>, cache: Option<PathBuf>, fetch: bool) -> Result<ExitCode> {
    let archs: Vec<String> =
        if archs.is_empty() { cuda::CHECKED_ARCHS.iter().map(|a| a.to_string()).collect() } else { archs };
    for a in &archs {
        let digits = a.strip_prefix("sm_").unwrap_or("");
        if digits.len() < 2 || !digits.chars().all(|c| c.is_ascii_digit()) {
            bail!("--arch {a}: expected sm_XY, e.g. sm_80 or sm_90");
        }
    }
    let toolkit =
        if fetch { Toolkit::locate_or_fetch(&Lines)? } else { Toolkit::locate().map_err(anyhow::Error::msg)? };
    let cache = cache.unwrap_or_else(nvrtc::cache_dir);
    let refs: Vec<&str> = archs.iter().map(String::as_str).collect();
    let checks = cuda::compile_all(&refs, &toolkit, &cache)?;
    println!(
        "{:<14} {:<6} {:<24} {:>5} {:>7} {:>6} {:>9} {:>9}",
        "file", "arch", "entry", "regs", "spills", "stack", "smem B", "ms"
    );
    let mut problems = Vec::new();
    for check in &checks {
        for (c, k) in check.compiled.iter().zip(KERNELS) {
            for e in &c.entries {
                println!(
                    "{:<14} {:<6} {:<24} {:>5} {:>7} {:>6} {:>9} {:>9}",
                    c.file,
                    c.arch,
                    e.name,
                    e.registers,
                    e.spill_stores + e.spill_loads,
                    e.stack_bytes,
                    e.shared_bytes,
                    if c.cached { "cached".to_string() } else { format!("{:.0}", c.compile_ms) }
                );
            }
            problems.extend(cuda::problems(c, k.entries));
        }
    }
    if let Some(path) = json {
        let all: Vec<&nvrtc::Compiled> = checks.iter().flat_map(|c| &c.compiled).collect();
        let report = serde_json::json!({ "cache": cache, "kernels": all });
        let mut text = serde_json::to_string_pretty(&report)?;
        text.push('\n');
        clinalign::files::write_atomic(&path, text.as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    if problems.is_empty() {
        println!(
            "ok: {} kernel files × {} architectures; compiled kernels in {}",
            KERNELS.len(),
            archs.len(),
            cache.display()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            eprintln!("error: {p}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// Opens GPU `gpu` with every kernel, or says why it skips (`Ok(None)`) or fails.
fn open_gpu(what: &str, gpu: usize, cache: Option<PathBuf>, require_gpu: bool) -> Result<Option<cuda::check::Device>> {
    let driver = cuda::probe();
    let found = match driver.gpu(gpu) {
        Ok(found) => found,
        Err(why) if require_gpu => bail!("{what}: {why}"),
        Err(why) => {
            println!("skipped: {why} (the kernels' CPU mirrors are tested by cargo test)");
            return Ok(None);
        }
    };
    let cache = cache.unwrap_or_else(nvrtc::cache_dir);
    let toolkit = Toolkit::locate().ok();
    Ok(Some(cuda::check::Device::open(found, &cache, toolkit.as_ref())?))
}

fn forward_check(model: &std::path::Path, max_diff: f32, run: GpuRun) -> Result<ExitCode> {
    let GpuRun { gpu, cache, json, require_gpu } = run;
    if !model.exists() {
        bail!("{}: no such model file or folder", model.display());
    }
    let Some(dev) = open_gpu("kernels forward-check", gpu, cache, require_gpu)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let gpu_model = clinalign_infer::local::LocalModel::with_weights(model, |cfg, src| {
        cuda::forward::CudaModel::load(dev, cfg, src)
    })?;
    let cfg = gpu_model.cfg.clone();
    let cpu = clinalign_infer::local::LocalModel::open(model)?;
    // A ragged batch of fixed pseudo-random ids.
    let vocab = cfg.vocab_size as u64;
    let sequences: Vec<Vec<u32>> = [5usize, 17, 9]
        .iter()
        .enumerate()
        .map(|(s, n)| (0..*n as u64).map(|i| ((i * 2_654_435_761 + s as u64 * 97 + 13) % vocab) as u32).collect())
        .collect();
    let name = model.display().to_string();
    let c = cuda::forward::compare_with_cpu(&gpu_model, cpu.model(), &sequences, &name)?;
    println!(
        "{name}: {} sequences, {} positions; top-1 agrees at {}; max |Δlogit| {:.4} (bound {max_diff})",
        c.sequences, c.positions, c.top1_agree, c.max_abs_logit_diff
    );
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&c)? + "\n";
        clinalign::files::write_atomic(&path, text.as_bytes())?;
    }
    if c.top1_agree == c.positions && c.max_abs_logit_diff <= max_diff {
        println!("ok: the CUDA forward pass matches the CPU backend");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: the CUDA forward pass differs from the CPU backend");
        Ok(ExitCode::FAILURE)
    }
}

fn test(run: GpuRun) -> Result<ExitCode> {
    let GpuRun { gpu, cache, json, require_gpu } = run;
    let Some(dev) = open_gpu("kernels test", gpu, cache, require_gpu)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let results = cuda::check::run_all(&dev)?;
    println!("{:<24} {:>11} {:>9}  {:<4}  case", "kernel", "max error", "bound", "");
    for r in &results {
        println!(
            "{:<24} {:>11.3e} {:>9.1e}  {:<4}  {}",
            r.kernel,
            r.max_error,
            r.tolerance,
            if r.passed { "ok" } else { "FAIL" },
            r.case
        );
    }
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&serde_json::json!({ "arch": dev.arch, "checks": results }))? + "\n";
        clinalign::files::write_atomic(&path, text.as_bytes())?;
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    if failed == 0 {
        println!("ok: {} kernel checks on {}", results.len(), dev.arch);
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: {failed} of {} kernel checks failed", results.len());
        Ok(ExitCode::FAILURE)
    }
}
