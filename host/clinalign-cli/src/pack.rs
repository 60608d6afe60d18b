//! `clinalign pack new | test | build`: principle packs that live outside this repository.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use clinalign::dimensions::is_slug;
use clinalign::files::write_atomic;
use clinalign::pack::{PACK_FILE, Pack};
use clinalign::principle_set::SetSource;

use crate::{BUILTIN, EngineArgs, builtin_principles};

#[derive(Subcommand, Debug)]
pub enum PackCommand {
    /// Scaffold a pack in DIR (created; it must not exist or be empty): pack.toml, a
    /// template principle, a Rust principle with its plugin crate, and a README. It builds
    /// and passes its fixtures as it is.
    New(NewArgs),
    /// Load a pack (a folder or a built .pack file) in the built-in vocabulary and run its
    /// principles' fixtures; exit 1 if any fails or if an id clashes with the built-in set.
    Test(TestArgs),
    /// Build a pack's components ahead of time into one distributable file,
    /// `<out>/<name>-<version>.pack` (components, manifests and their sha256), that a host
    /// loads without a Rust or Python toolchain; then self-test the file.
    Build(BuildArgs),
}

#[derive(Args, Debug)]
pub struct NewArgs {
    /// The pack's folder.
    pub dir: PathBuf,
    /// The pack's name [default: the folder's name]: lower-case letters, digits and '-'.
    #[arg(long)]
    pub name: Option<String>,
    /// The guest SDK crate its plugins depend on by path [default: the SDK of the checkout
    /// this binary was built from]. Edit plugins/Cargo.toml to depend on it by git instead.
    #[arg(long)]
    pub sdk: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TestArgs {
    /// The pack: a folder with a pack.toml, or a .pack file.
    pub dir: PathBuf,
    /// Test only this principle.
    #[arg(long)]
    pub id: Option<String>,
    /// Also print each fixture's scenario and the items it emitted.
    #[arg(long)]
    pub show_items: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The pack's folder.
    pub dir: PathBuf,
    /// Where the .pack file goes [default: DIR/dist].
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(cmd: PackCommand) -> Result<ExitCode> {
    match cmd {
        PackCommand::New(args) => new(&args),
        PackCommand::Test(args) => test(args),
        PackCommand::Build(args) => build(args),
    }
}

/// The engine arguments of a command on one pack: the pack alone, in the built-in
/// vocabulary (whatever `--principles` said).
fn alone(mut engine: EngineArgs, pack: &Path) -> EngineArgs {
    engine.catalog.principles = vec![pack.to_path_buf()];
    engine
}

fn test(args: TestArgs) -> Result<ExitCode> {
    if !Pack::is_pack(&args.dir) {
        bail!("{}: not a pack (no {PACK_FILE} in it, and not a .pack file)", args.dir.display());
    }
    // Composed with the built-in set, to refuse an id the built-in set already has.
    let mut with_builtin = args.engine.clone();
    with_builtin.catalog.principles = vec![PathBuf::from(BUILTIN), args.dir.clone()];
    with_builtin.catalog.catalog().context("composing the pack with the built-in principles")?;
    let engine = alone(args.engine, &args.dir);
    crate::principles::test(&engine, args.id, args.show_items)
}

fn build(args: BuildArgs) -> Result<ExitCode> {
    let pack = Pack::open(&args.dir, None)?;
    let out = args.out.clone().unwrap_or_else(|| args.dir.join("dist"));
    let base = builtin_principles()?;
    let plugins = args.engine.catalog.plugins.clone().unwrap_or_else(|| clinalign::default_plugins_dir(&base));
    let source = SetSource {
        base_principles: false,
        packs: vec![pack.clone()],
        allow_build_scripts: args.engine.allow_build_scripts,
        cache_dir: Some(args.engine.cache_dir.clone().unwrap_or_else(clinalign::default_cache_dir)),
        ..SetSource::new(&base, plugins)
    };
    eprintln!("building {} (the first build compiles its crates; later ones use the cache) …", pack.describe());
    let built = clinalign::pack::assemble::build(&source, &out)?;
    println!("built {} ({} principles, sha256 {})", built.file.display(), built.principles, &built.sha256[..16]);
    for c in &built.components {
        println!("  {:<40} {:>9} bytes  sha256 {}  {}", c.path, c.bytes, &c.sha256[..16], c.principles.join(", "));
    }
    // What a host does with the file: load it, checking every hash, and run its fixtures.
    println!("self-testing {} …", built.file.display());
    let engine = alone(args.engine, &built.file);
    crate::principles::test(&engine, None, false)
}

fn new(args: &NewArgs) -> Result<ExitCode> {
    let dir = &args.dir;
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{}: already exists and is not empty", dir.display());
    }
    let folder = std::path::absolute(dir)?.file_name().and_then(|f| f.to_str()).unwrap_or("pack").to_string();
    let name = args.name.clone().unwrap_or_else(|| slug(&folder));
    if !is_slug(&name) {
        bail!("{name:?}: a pack name uses lower-case letters, digits and '-' (pass --name)");
    }
    let sdk = match &args.sdk {
        Some(p) => p.clone(),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugins/sdk")),
    };
    let sdk = std::fs::canonicalize(&sdk).map_err(|_| {
        anyhow::anyhow!(
            "{}: no guest SDK there; pass --sdk PATH (the plugins/sdk folder of a ClinAlign checkout)",
            sdk.display()
        )
    })?;
    if !sdk.join("wit").is_dir() {
        bail!("{}: this SDK does not carry its WIT (wit/); it is too old for packs", sdk.display());
    }
    let crate_name = format!("{name}-antibiotic-course");
    let files: Vec<(PathBuf, String)> = vec![
        (PathBuf::from(PACK_FILE), pack_toml(&name)),
        (PathBuf::from("README.md"), readme(&name, &crate_name)),
        (PathBuf::from(".gitignore"), "/dist/\n/plugins/target/\n".into()),
        (PathBuf::from("rust-toolchain.toml"), include_str!("../../../rust-toolchain.toml").into()),
        (format!("principles/task/{name}-sun-protection.toml").into(), template_manifest(&name)),
        (format!("principles/task/{name}-antibiotic-course.toml").into(), rust_manifest(&name, &crate_name)),
        ("plugins/Cargo.toml".into(), workspace_toml(&crate_name, &sdk)),
        // The guest SDK's own lock: the pack builds with the versions the SDK is tested with,
        // and without a registry lookup when they are cached.
        ("plugins/Cargo.lock".into(), include_str!("../../../plugins/Cargo.lock").into()),
        ("plugins/.cargo/config.toml".into(), include_str!("../../../plugins/.cargo/config.toml").into()),
        (format!("plugins/{crate_name}/Cargo.toml").into(), crate_toml(&crate_name)),
        (format!("plugins/{crate_name}/src/lib.rs").into(), CRATE_LIB.into()),
    ];
    for (rel, text) in &files {
        let path = dir.join(rel);
        write_atomic(&path, text.as_bytes()).with_context(|| format!("{}: cannot write", path.display()))?;
    }
    println!(
        "created pack {name} in {} ({} files; its plugins use the SDK at {})",
        dir.display(),
        files.len(),
        sdk.display()
    );
    println!("next: clinalign pack test {}", dir.display());
    println!(
        "      clinalign synthesize --principles builtin --principles {} --input queries.jsonl --output rubrics.jsonl",
        dir.display()
    );
    println!("      clinalign pack build {}   (one .pack file to ship)", dir.display());
    Ok(ExitCode::SUCCESS)
}

fn slug(s: &str) -> String {
    let lower: String =
        s.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    lower.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-")
}

fn pack_toml(name: &str) -> String {
    format!(
        r#"# A ClinAlign principle pack: see docs/packs.md.
name = "{name}"
version = "0.1.0"
# The plugin interface (clinalign:principle) its plugins are built against: the guest SDK's.
wit = "{wit}"
description = "Our own HealthPrinciples."
maintainers = []
"#,
        wit = clinalign::pack::wit_version()
    )
}

fn template_manifest(name: &str) -> String {
    format!(
        r#"id = "task.{name}-sun-protection"
version = "0.1.0"
dimension = "task"
title = "Sun protection after sunburn"
statement = "When a user mentions sunburn or sunscreen, a good response gives concrete sun-protection advice and does not encourage tanning."
plugin = "template"

[applies_when]
task = ["lifestyle", "information", "treatment"]

# The built-in template plugin: it speaks when an affirmed trigger term is in a user turn.
[config.triggers]
any = ["sunburn", "sunburnt", "sunscreen", "sun cream"]

[[config.items]]
criterion = "Recommends a broad-spectrum sunscreen of SPF 30 or higher, reapplied about every two hours and after swimming."
points = 6
axis = "completeness"

[[config.items]]
criterion = "Encourages deliberate tanning or sunbed use to prevent future sunburn."
points = -6
axis = "accuracy"

[[fixtures]]
name = "sunburn mentioned"
conversation = [{{ role = "user", content = "I got a bad sunburn at the beach. How do I avoid that next time?" }}]
scenario = {{ task = "lifestyle" }}
expect = "emits"

[[fixtures]]
name = "something else"
conversation = [{{ role = "user", content = "How much water should I drink when I run?" }}]
scenario = {{ task = "lifestyle" }}
expect = "silent"
"#
    )
}

fn rust_manifest(name: &str, crate_name: &str) -> String {
    format!(
        r#"id = "task.{name}-antibiotic-course"
version = "0.1.0"
dimension = "task"
title = "Finishing an antibiotic course"
statement = "When a user asks about stopping antibiotics early, a good response says to follow the prescribed course or ask the prescriber first."
# A crate of this pack's plugins workspace (plugins/{crate_name}).
plugin = "{crate_name}"

# The plugin is called only when one of these terms is in a user turn.
gate = ["antibiotic", "antibiotics", "amoxicillin", "penicillin", "doxycycline"]

[applies_when]
task = ["medication", "treatment", "information"]

# Handed to the plugin's init() as JSON.
[config]
drugs = ["antibiotic", "antibiotics", "amoxicillin", "penicillin", "doxycycline"]
stopping = ["stop", "stopping", "quit", "skip", "finish early"]

[[fixtures]]
name = "stopping early"
conversation = [{{ role = "user", content = "I feel better after three days of amoxicillin. Can I stop taking it?" }}]
scenario = {{ task = "medication" }}
expect = "emits"

[[fixtures]]
name = "antibiotic named, not stopping"
conversation = [{{ role = "user", content = "Does amoxicillin taste bad?" }}]
scenario = {{ task = "medication" }}
expect = "silent"
"#
    )
}

fn workspace_toml(crate_name: &str, sdk: &Path) -> String {
    let sdk = serde_json::to_string(&sdk.display().to_string()).expect("a string");
    format!(
        r#"# The pack's plugin crates, built for wasm32-wasip2 by the host on first load
# (`cargo build --release --target wasm32-wasip2`) or ahead of time by `clinalign pack build`.
[workspace]
resolver = "2"
members = ["{crate_name}"]

[workspace.package]
edition = "2024"
version = "0.1.0"
publish = false

[workspace.dependencies]
# The guest SDK, which carries the WIT it builds against. By git instead:
# clinalign-sdk = {{ git = "https://…/clinalign-engine", tag = "v0.1.0" }}
clinalign-sdk = {{ path = {sdk} }}
serde = {{ version = "1", features = ["derive"] }}

# Small, fast guests: size-optimised, one codegen unit, panics abort (a panic traps the call).
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = true
debug = false
"#
    )
}

fn crate_toml(crate_name: &str) -> String {
    format!(
        r#"[package]
name = "{crate_name}"
edition.workspace = true
version.workspace = true
publish.workspace = true

[lib]
crate-type = ["cdylib"]

[dependencies]
clinalign-sdk = {{ workspace = true }}
serde = {{ workspace = true }}
"#
    )
}

const CRATE_LIB: &str = r#"//! A ClinAlign principle: when the user asks about stopping an antibiotic early, the
//! response should say to follow the prescribed course or ask the prescriber first.
//! `init` receives the manifest's [config] table as JSON; `emit` returns the rubric items
//! for one query (an empty list adds nothing).

use clinalign_sdk::text::Text;
use clinalign_sdk::{Axis, EmitError, Principle, Query, RubricItem, export_principle, parse_config};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Antibiotic names and words that make the principle look closer.
    drugs: Vec<String>,
    /// Words that say the user means to stop.
    stopping: Vec<String>,
}

struct AntibioticCourse {
    config: Config,
}

impl Principle for AntibioticCourse {
    fn init(config: &str) -> Result<Self, String> {
        let config: Config = parse_config(config)?;
        if config.drugs.is_empty() || config.stopping.is_empty() {
            return Err("drugs and stopping: each needs at least one term".into());
        }
        Ok(AntibioticCourse { config })
    }

    fn emit(&self, query: &Query) -> Result<Vec<RubricItem>, EmitError> {
        let text = Text::new(&query.user_text());
        let Some(drug) = self.config.drugs.iter().find_map(|d| text.find(d)) else {
            return Ok(Vec::new());
        };
        if !self.config.stopping.iter().any(|s| text.find(s).is_some()) {
            return Ok(Vec::new());
        }
        Ok(vec![
            RubricItem::new(
                format!(
                    "Advises taking the {} for as long as prescribed, or asking the prescriber before stopping it early.",
                    drug.text
                ),
                7,
                Axis::Accuracy,
            ),
            RubricItem::new(
                "Tells the user to stop the antibiotic as soon as they feel better, without checking with the prescriber.",
                -7,
                Axis::Accuracy,
            ),
        ])
    }
}

export_principle!(AntibioticCourse);
"#;

fn readme(name: &str, crate_name: &str) -> String {
    format!(
        r#"# {name}: a ClinAlign principle pack

Principles of our own, composed with the built-in 119 at load time.

- `pack.toml`: the pack's name, version and the WIT version its plugins target.
- `principles/<dimension>/*.toml`: one manifest per principle (the fields are those of the
  built-in principles; `plugin = "template"` uses the host's template plugin).
- `plugins/`: a cargo workspace of plugin crates (`plugins/{crate_name}`), built for
  `wasm32-wasip2` against the guest SDK.

```sh
clinalign pack test .                          # load the pack, run every fixture
clinalign synthesize --principles builtin --principles . --input q.jsonl --output r.jsonl
clinalign pack build .                         # dist/{name}-0.1.0.pack, to ship
clinalign serve --principles builtin --principles dist/{name}-0.1.0.pack --watch
```

Items written by these principles carry `pack:{name}@<version>` beside
`principle:<id>@<version>`. Principles from a pack run in a fresh instance per call unless
the host passes `--trust-packs`.
"#
    )
}
