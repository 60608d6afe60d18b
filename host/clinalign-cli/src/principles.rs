//! `clinalign principles list | test | new`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use clinalign::manifest::PluginRef;
use clinalign::overlap::WARN_SIMILARITY;
use clinalign::principle_set::failures_of_their_own;
use clinalign::{Catalog, Manifest};
use serde_json::json;

use crate::{CatalogArgs, EngineArgs};

#[derive(Subcommand, Debug)]
pub enum PrinciplesCommand {
    /// List the principles of a directory (reads manifests only; builds nothing).
    List {
        #[command(flatten)]
        catalog: CatalogArgs,
        /// Print JSON: every manifest, and the files that failed to load.
        #[arg(long)]
        json: bool,
    },
    /// Load principles and run their fixtures as self-tests; exit 1 if any fails.
    Test {
        /// Test only this principle (e.g. urgency.emergency-first).
        id: Option<String>,
        /// Also print each fixture's scenario (given and classified labels) and the items it
        /// emitted.
        #[arg(long)]
        show_items: bool,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Counts per dimension, axis and plugin (reads manifests only).
    Stats {
        #[command(flatten)]
        catalog: CatalogArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the principle catalogue as Markdown (docs/principles.md is generated this way).
    Docs {
        #[command(flatten)]
        catalog: CatalogArgs,
        /// Write here (atomically) instead of printing.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Scaffold a new principle: a manifest with passing fixtures, and with --rust a
    /// plugin crate of its own, or with --python a Python module beside the manifest.
    New {
        /// The new principle's name: `name` or `<dimension>.name`, lower-case letters,
        /// digits and '-'.
        id: String,
        /// Its dimension (urgency, uncertainty, expertise, task).
        #[arg(long, short)]
        dimension: String,
        /// Also create a Rust plugin crate under the plugins workspace.
        #[arg(long, conflicts_with = "python")]
        rust: bool,
        /// Write the principle in Python: a `<name>.py` module beside the manifest
        /// (`plugin = "python:<name>.py"`), built with componentize-py on first load.
        #[arg(long)]
        python: bool,
        #[command(flatten)]
        catalog: CatalogArgs,
    },
}

pub fn run(cmd: PrinciplesCommand) -> Result<ExitCode> {
    match cmd {
        PrinciplesCommand::List { catalog, json } => list(&catalog, json),
        PrinciplesCommand::Test { id, show_items, engine } => test(&engine, id, show_items),
        PrinciplesCommand::New { id, dimension, rust, python, catalog } => {
            let kind = if rust {
                Scaffold::Rust
            } else if python {
                Scaffold::Python
            } else {
                Scaffold::Template
            };
            new(&catalog, &id, &dimension, kind)
        }
        PrinciplesCommand::Stats { catalog, json } => stats(&catalog, json),
        PrinciplesCommand::Docs { catalog, output } => docs(&catalog, output),
    }
}

fn list(args: &CatalogArgs, as_json: bool) -> Result<ExitCode> {
    let catalog = args.catalog()?;
    if as_json {
        let v = json!({ "principles": catalog.manifests, "failures": catalog.failures });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let width = catalog.manifests.iter().map(|m| m.id.len()).max().unwrap_or(2).max(2);
        println!("{:width$}  {:7}  {:18}  {:8}  title", "id", "version", "plugin", "fixtures");
        for m in &catalog.manifests {
            let plugin = match &m.plugin {
                PluginRef::Crate(c) => c.clone(),
                PluginRef::Wasm(p) => p.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default(),
                PluginRef::Python(p) => format!(
                    "{}{}",
                    clinalign::manifest::PYTHON_PREFIX,
                    p.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default()
                ),
            };
            println!("{:width$}  {:7}  {:18}  {:8}  {}", m.id, m.version, plugin, m.fixtures.len(), m.title);
        }
        println!("{} principles in {}", catalog.manifests.len(), args.describe());
        print_failures(&catalog);
    }
    Ok(if catalog.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The template items a manifest declares: (points, axis) pairs; empty for other plugins.
fn template_items(m: &Manifest) -> Vec<(i32, String)> {
    m.template_config()
        .map(|c| c.items.iter().map(|i| (i.points, i.axis.replace('_', "-"))).collect())
        .unwrap_or_default()
}

/// Prints every file that failed to load, and says how many.
fn print_failures(catalog: &Catalog) {
    for f in &catalog.failures {
        println!("FAILED {}: {}", f.path.display(), f.message);
    }
}

fn stats(args: &CatalogArgs, as_json: bool) -> Result<ExitCode> {
    use std::collections::BTreeMap;
    let catalog = args.catalog()?;
    let mut dims: BTreeMap<String, [usize; 4]> = BTreeMap::new(); // principles, items, positive, negative
    let mut axes: BTreeMap<String, usize> = BTreeMap::new();
    let mut plugins: BTreeMap<String, usize> = BTreeMap::new();
    let mut fixtures = 0;
    for d in catalog.dimensions.iter() {
        dims.insert(d.name.clone(), [0; 4]);
    }
    for m in &catalog.manifests {
        let row = dims.entry(m.dimension.clone()).or_default();
        row[0] += 1;
        for (points, axis) in template_items(m) {
            row[1] += 1;
            if points > 0 {
                row[2] += 1
            } else {
                row[3] += 1
            }
            *axes.entry(axis).or_default() += 1;
        }
        *plugins.entry(m.plugin.to_string()).or_default() += 1;
        fixtures += m.fixtures.len();
    }
    if as_json {
        let dims_json: BTreeMap<&String, serde_json::Value> = dims
            .iter()
            .map(|(d, r)| (d, json!({"principles": r[0], "template_items": r[1], "positive": r[2], "negative": r[3]})))
            .collect();
        let v = json!({"principles": catalog.manifests.len(), "fixtures": fixtures, "dimensions": dims_json, "axes": axes, "plugins": plugins, "failures": catalog.failures.len()});
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{} principles, {} fixtures, {} manifest(s) failed to load",
            catalog.manifests.len(),
            fixtures,
            catalog.failures.len()
        );
        print_failures(&catalog);
        println!(
            "\n{:<12} {:>10} {:>14} {:>9} {:>9}",
            "dimension", "principles", "template items", "positive", "negative"
        );
        for (d, r) in &dims {
            println!("{d:<12} {:>10} {:>14} {:>9} {:>9}", r[0], r[1], r[2], r[3]);
        }
        println!("\n{:<22} {:>6}", "axis", "items");
        for (a, n) in &axes {
            println!("{a:<22} {n:>6}");
        }
        println!("\n{:<22} {:>10}", "plugin", "principles");
        for (p, n) in &plugins {
            println!("{p:<22} {n:>10}");
        }
        println!("\n(custom plugins write their items in code; their counts are not in the item columns)");
    }
    Ok(if catalog.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The catalogue as Markdown, generated from the manifests.
pub fn catalogue_markdown(catalog: &Catalog) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# The HealthPrinciples
"
    );
    let _ = writeln!(
        out,
        "Generated from `principles/` by `clinalign principles docs -o docs/principles.md`; a test keeps it in sync.\n\n{} principles. For each: what it checks, when it applies (`applies_when`; a dimension left out accepts any value), which plugin runs it, its trigger terms (template principles speak only when one is affirmed in a user turn), and its items (rewards / penalties).\n",
        catalog.manifests.len()
    );
    for d in catalog.dimensions.iter() {
        let ms: Vec<&clinalign::Manifest> = catalog.manifests.iter().filter(|m| m.dimension == d.name).collect();
        let _ = writeln!(
            out,
            "## {} ({})
",
            d.name,
            ms.len()
        );
        if !d.description.is_empty() {
            let _ = writeln!(
                out,
                "{}
",
                d.description
            );
        }
        for m in ms {
            let _ = writeln!(
                out,
                "### `{}` — {}
",
                m.id, m.title
            );
            let _ = writeln!(
                out,
                "{}
",
                m.statement
            );
            let applies = if m.applies_when.is_empty() {
                "any scenario".to_string()
            } else {
                m.applies_when.iter().map(|(k, v)| format!("{k} ∈ {{{}}}", v.join(", "))).collect::<Vec<_>>().join("; ")
            };
            let items = template_items(m);
            let pos = items.iter().filter(|(p, _)| *p > 0).count();
            let neg = items.len() - pos;
            let items_text = if items.is_empty() {
                "written by the plugin".to_string()
            } else {
                format!("{pos} rewards, {neg} penalties")
            };
            let _ = writeln!(out, "- applies when: {applies}");
            let _ = writeln!(
                out,
                "- plugin: `{}` · version {} · items: {items_text} · fixtures: {}",
                m.plugin,
                m.version,
                m.fixtures.len()
            );
            if let Some(age) = m.template_triggers().and_then(|t| t.age) {
                let _ = writeln!(out, "- stated age: {age}");
            }
            if let Some(terms) = m.template_triggers().map(|t| t.any).filter(|a| !a.is_empty()) {
                let shown: Vec<String> = terms.iter().take(8).map(|t| format!("\"{t}\"")).collect();
                let more = if terms.len() > 8 { format!(" and {} more", terms.len() - 8) } else { String::new() };
                let _ = writeln!(out, "- triggers: {}{more}", shown.join(", "));
            }
            let _ = writeln!(out);
        }
    }
    out
}

fn docs(args: &CatalogArgs, output: Option<PathBuf>) -> Result<ExitCode> {
    let catalog = args.catalog()?;
    if !catalog.failures.is_empty() {
        let files: Vec<String> =
            catalog.failures.iter().map(|f| format!("{}: {}", f.path.display(), f.message)).collect();
        bail!("{} manifest(s) fail to load; fix them first:\n{}", catalog.failures.len(), files.join("\n"));
    }
    let md = catalogue_markdown(&catalog);
    match output {
        Some(path) => {
            clinalign::files::write_atomic(&path, md.as_bytes())?;
            println!("wrote {} ({} principles)", path.display(), catalog.manifests.len());
        }
        None => print!("{md}"),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn test(args: &EngineArgs, id: Option<String>, show_items: bool) -> Result<ExitCode> {
    let mut builder = args.builder()?;
    if let Some(id) = &id {
        builder = builder.only(vec![id.clone()]);
    }
    let engine = builder.build()?;
    let set = engine.principle_set();
    let mut passed = 0;
    let mut failed = 0;
    let mut style = 0;
    for t in set.self_tests() {
        if t.passed {
            passed += 1;
            println!("ok    {} · {} ({:?}: {})", t.principle, t.fixture, t.expect, t.detail);
        } else {
            failed += 1;
            println!("FAIL  {} · {} ({:?}): {}", t.principle, t.fixture, t.expect, t.detail);
        }
        if show_items {
            println!("        scenario: {}", clinalign::self_test::describe_scenario(&t.scenario, &t.classified));
            for i in &t.items {
                println!("        [{:>3}] {:<22} {}", i.points, i.axis.name(), i.criterion);
            }
        }
        for l in &t.lint {
            style += 1;
            println!("STYLE {} · {}: criterion {l}", t.principle, t.fixture);
        }
    }
    for p in set.principles() {
        for problem in clinalign::criterion_style::manifest_problems(&p.manifest.title, &p.manifest.statement) {
            style += 1;
            println!("STYLE {}: {problem}", p.manifest.id);
        }
    }
    // Items close to another principle's: warnings, since curation merges the closest.
    let whole = if id.is_some() { args.builder()?.build().map(|e| e.principle_set()).ok() } else { Some(set.clone()) };
    let near = match &whole {
        Some(all) => clinalign::overlap::near_duplicates(all, id.as_ref().map(std::slice::from_ref), WARN_SIMILARITY),
        None => Vec::new(),
    };
    for n in &near {
        println!(
            "NEAR  {}: {:?} is close to {}'s {:?} (similarity {:.2}; curation merges same-sign items at {:.2} and above)",
            n.principle,
            short(&n.criterion),
            n.other,
            short(&n.other_criterion),
            n.similarity,
            engine.curation().merge_similarity
        );
    }
    for g in crate::loading::plugin_failure_groups(set.plugin_failures()) {
        println!("FAIL  plugin {} ({}):", g.plugins.join(", "), g.principles.join(", "));
        for line in g.message.lines() {
            println!("        {line}");
        }
    }
    for f in failures_of_their_own(set.failures(), set.plugin_failures()) {
        if set.self_tests().iter().any(|t| t.principle == f.principle && !t.passed) {
            continue;
        }
        // A manifest that did not parse is named by its file, which its message starts with.
        if f.message.starts_with(&f.principle) {
            println!("FAIL  {}", f.message);
        } else {
            println!("FAIL  {}: {}", f.principle, f.message);
        }
    }
    println!(
        "{} principles loaded, {} failed; fixtures: {passed} passed, {failed} failed; {style} style problems; {} near-duplicate item(s) (principle set {})",
        set.principles().len(),
        set.failures().len(),
        near.len(),
        set.hash()
    );
    Ok(if set.failures().is_empty() && failed == 0 && style == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The first 70 characters of a criterion.
fn short(criterion: &str) -> String {
    let mut s: String = criterion.chars().take(70).collect();
    if criterion.chars().count() > 70 {
        s.push('…');
    }
    s
}

/// What `principles new` writes besides the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scaffold {
    /// A template manifest only.
    Template,
    /// A plugin crate under the plugins workspace.
    Rust,
    /// A Python module beside the manifest.
    Python,
}

fn new(args: &CatalogArgs, id: &str, dimension: &str, kind: Scaffold) -> Result<ExitCode> {
    let dir = args.principles_dir();
    let catalog = Catalog::load(&dir)?;
    if catalog.dimensions.get(dimension).is_none() {
        let names: Vec<&str> = catalog.dimensions.iter().map(|d| d.name.as_str()).collect();
        bail!("unknown dimension {dimension:?} (one of {})", names.join(", "));
    }
    let name = match id.split_once('.') {
        Some((prefix, rest)) if prefix == dimension => rest,
        Some((prefix, _)) => bail!(
            "{id:?}: the id's dimension prefix {prefix:?} does not match --dimension {dimension} (write {dimension}.<name>, or only <name>)"
        ),
        None => id,
    };
    if !clinalign::dimensions::is_slug(name) {
        bail!("{name:?}: a principle name uses lower-case letters, digits and '-'");
    }
    let full_id = format!("{dimension}.{name}");
    if let Some(m) = catalog.manifests.iter().find(|m| m.id == full_id) {
        bail!("principle {full_id} already exists: {}", m.path.display());
    }
    let manifest_path = dir.join(dimension).join(format!("{name}.toml"));
    if manifest_path.exists() {
        bail!("{} already exists", manifest_path.display());
    }
    let first_value = catalog.dimensions.get(dimension).map(|d| d.values[0].clone()).unwrap_or_default();

    let module = name.replace('-', "_");
    let module_path = manifest_path.with_file_name(format!("{module}.py"));
    if kind == Scaffold::Python && module_path.exists() {
        bail!("{} already exists", module_path.display());
    }
    let manifest = match kind {
        Scaffold::Rust => {
            let plugins = args.plugins_dir();
            scaffold_crate(&plugins, name)?;
            println!("created plugin crate {}", plugins.join(name).display());
            code_manifest(&full_id, dimension, name, &first_value)
        }
        Scaffold::Python => code_manifest(&full_id, dimension, &format!("python:{module}.py"), &first_value),
        Scaffold::Template => template_manifest(&full_id, dimension, &first_value),
    };
    std::fs::create_dir_all(manifest_path.parent().unwrap())
        .with_context(|| format!("{}: cannot create", manifest_path.parent().unwrap().display()))?;
    if kind == Scaffold::Python {
        clinalign::files::write_atomic(&module_path, PYTHON_PRINCIPLE.as_bytes())?;
        println!("created {}", module_path.display());
    }
    clinalign::files::write_atomic(&manifest_path, manifest.as_bytes())?;
    println!("created {}", manifest_path.display());
    let criteria = match kind {
        Scaffold::Rust => "the criteria in the crate's src/lib.rs".to_string(),
        Scaffold::Python => format!("the criteria in {module}.py"),
        Scaffold::Template => "the criteria".to_string(),
    };
    println!("next: replace the TODOs in the title, the statement and {criteria}, and the example term and fixtures;");
    println!("      then run `clinalign principles test {full_id}`. Its fixtures pass already, but until no TODO is");
    println!("      left it reports each one as a STYLE problem and exits with 1.");
    Ok(ExitCode::SUCCESS)
}

fn template_manifest(id: &str, dimension: &str, value: &str) -> String {
    format!(
        r#"id = "{id}"
version = "0.1.0"
dimension = "{dimension}"
title = "TODO: a short title"
statement = "TODO: one sentence saying what a good response does."
plugin = "template"

# The pool lookup: leave a dimension out to accept any value.
[applies_when]
{dimension} = ["{value}"]

# The template speaks when an affirmed (not negated) trigger term appears in a user turn.
[config.triggers]
any = ["example symptom"]

[[config.items]]
criterion = "Addresses the {{term}} the user describes. (TODO: rewrite as a checkable statement about the response.)"
points = 5
axis = "completeness"

[[config.items]]
criterion = "Dismisses the {{term}} without any advice. (TODO: rewrite as the harmful behaviour to penalise.)"
points = -5
axis = "accuracy"

[[fixtures]]
name = "trigger present"
conversation = [{{ role = "user", content = "I have an example symptom." }}]
scenario = {{ {dimension} = "{value}" }}
expect = "emits"

[[fixtures]]
name = "trigger negated"
conversation = [{{ role = "user", content = "I have no example symptom." }}]
scenario = {{ {dimension} = "{value}" }}
expect = "silent"
"#
    )
}

/// The manifest of a principle whose plugin is code: a crate name or `python:<module>.py`.
fn code_manifest(id: &str, dimension: &str, plugin: &str, value: &str) -> String {
    format!(
        r#"id = "{id}"
version = "0.1.0"
dimension = "{dimension}"
title = "TODO: a short title"
statement = "TODO: one sentence saying what a good response does."
plugin = "{plugin}"

[applies_when]
{dimension} = ["{value}"]

# Handed to the plugin's init() as JSON.
[config]
term = "example symptom"

[[fixtures]]
name = "term present"
conversation = [{{ role = "user", content = "I have an example symptom." }}]
scenario = {{ {dimension} = "{value}" }}
expect = "emits"

[[fixtures]]
name = "term absent"
conversation = [{{ role = "user", content = "Something else entirely." }}]
scenario = {{ {dimension} = "{value}" }}
expect = "silent"
"#
    )
}

/// The Python module `principles new --python` writes (the same for every principle, so
/// its component is built once per componentize-py version and reused from the cache).
const PYTHON_PRINCIPLE: &str = r#""""A ClinAlign principle written in Python, built into a WebAssembly component by componentize-py.

`init` receives the manifest's [config] table as JSON, once per instance; `emit` returns the
rubric items for one query (an empty list adds nothing). Raise `Err(types.EmitError_Failed("why"))`
to fail a query on purpose; any other exception fails it too, naming this file and line.
The standard library is there; the network, files and the clock are not.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import host, types


class WitWorld(wit_world.WitWorld):
    def init(self, config: str) -> None:
        settings = json.loads(config)
        term = settings.get("term", "")
        if not isinstance(term, str) or not term.strip():
            raise Err("term: must be a non-empty string")
        self.term = term.lower()

    def emit(self, q: types.Query) -> list[types.RubricItem]:
        said = " ".join(m.content for m in q.conversation if m.role == "user").lower()
        if self.term not in said:
            return []
        host.log(host.LogLevel.DEBUG, f"found {self.term!r}")
        return [
            types.RubricItem(
                criterion=f"Addresses the {self.term} the user describes. (TODO: rewrite as a checkable statement about the response.)",
                points=5,
                axis=types.Axis.COMPLETENESS,
                tags=[],
            ),
            types.RubricItem(
                criterion="Dismisses the concern without any advice. (TODO: rewrite as the harmful behaviour to penalise.)",
                points=-5,
                axis=types.Axis.ACCURACY,
                tags=[],
            ),
        ]
"#;

/// Creates `plugins/<name>` and adds it to the workspace members.
fn scaffold_crate(plugins: &Path, name: &str) -> Result<()> {
    let ws_path = plugins.join("Cargo.toml");
    let ws_text = std::fs::read_to_string(&ws_path)
        .with_context(|| format!("{}: no plugins workspace (pass --plugins DIR)", ws_path.display()))?;
    let mut ws: toml_edit::DocumentMut =
        ws_text.parse().with_context(|| format!("{}: invalid TOML", ws_path.display()))?;
    let members = ws
        .get_mut("workspace")
        .and_then(|w| w.get_mut("members"))
        .and_then(|m| m.as_array_mut())
        .with_context(|| format!("{}: no [workspace] members list", ws_path.display()))?;
    if members.iter().any(|m| m.as_str() == Some(name)) {
        bail!("{} already lists a member {name:?}", ws_path.display());
    }
    let dir = plugins.join(name);
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    members.push(name);
    std::fs::create_dir_all(dir.join("src")).with_context(|| format!("{}: cannot create", dir.display()))?;
    let cargo = format!(
        r#"[package]
name = "{name}"
edition.workspace = true
version.workspace = true
license.workspace = true
publish.workspace = true

[lib]
crate-type = ["cdylib"]

[dependencies]
clinalign-sdk = {{ workspace = true }}
serde = {{ workspace = true }}
"#
    );
    let lib = r#"//! A ClinAlign principle. `init` receives the manifest's [config] table as JSON; `emit`
//! returns the rubric items for one query (an empty list adds nothing).

use clinalign_sdk::text::Text;
use clinalign_sdk::{Axis, EmitError, Principle, Query, RubricItem, export_principle, parse_config};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The term that makes this principle speak.
    term: String,
}

struct MyPrinciple {
    config: Config,
}

impl Principle for MyPrinciple {
    fn init(config: &str) -> Result<Self, String> {
        let config: Config = parse_config(config)?;
        if config.term.trim().is_empty() {
            return Err("term: must not be empty".into());
        }
        Ok(MyPrinciple { config })
    }

    fn emit(&self, query: &Query) -> Result<Vec<RubricItem>, EmitError> {
        let text = Text::new(&query.user_text());
        let Some(found) = text.find(&self.config.term) else {
            return Ok(Vec::new());
        };
        Ok(vec![
            RubricItem::new(format!("Addresses the {} the user describes. (TODO: rewrite as a checkable statement about the response.)", found.text), 5, Axis::Completeness),
            RubricItem::new("Dismisses the concern without any advice. (TODO: rewrite as the harmful behaviour to penalise.)", -5, Axis::Accuracy),
        ])
    }
}

export_principle!(MyPrinciple);
"#;
    std::fs::write(dir.join("Cargo.toml"), cargo).with_context(|| format!("{}: cannot write", dir.display()))?;
    std::fs::write(dir.join("src/lib.rs"), lib).with_context(|| format!("{}: cannot write", dir.display()))?;
    clinalign::files::write_atomic(&ws_path, ws.to_string().as_bytes())?;
    Ok(())
}
