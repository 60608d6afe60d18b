//! Principle manifests (`principles/<dimension>/<name>.toml`) and the catalog of a
//! principles directory.
//!
//! A manifest says what a principle is (id, version, statement), which plugin runs it and
//! with what `[config]`, when it applies (`[applies_when]`, the pool lookup), which model
//! capabilities it may use, and its self-test fixtures. Errors name the file, the line
//! and the key: `principles/urgency/x.toml:7: applies_when.urgency: unknown urgency value "urgent" (one of …)`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clinalign_sdk::{Label, Message};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::dimensions::{Dimensions, is_slug};
use crate::error::{Error, Result};
use crate::util::{line_of, sha256_hex};

/// The name of the vocabulary file at the top of a principles directory.
pub const DIMENSIONS_FILE: &str = "dimensions.toml";

/// Model capabilities a manifest may grant.
pub const CAPABILITIES: [&str; 2] = ["generate", "score"];

/// Where a principle's component comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum PluginRef {
    /// A crate of the plugins workspace, built on demand.
    Crate(String),
    /// A WebAssembly component file (resolved against the manifest's folder).
    Wasm(PathBuf),
}

impl std::fmt::Display for PluginRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginRef::Crate(c) => f.write_str(c),
            PluginRef::Wasm(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The model functions a principle may call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    pub generate: bool,
    pub score: bool,
}

/// What a fixture expects of the principle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// At least one valid rubric item.
    Emits,
    /// No items.
    Silent,
}

/// A self-test: a conversation, its labels, and what the principle must do with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fixture {
    /// `fixtures[i]` or the fixture's own `name`.
    pub name: String,
    pub conversation: Vec<Message>,
    pub scenario: Vec<Label>,
    pub expect: Expect,
}

/// A checked principle manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// `<dimension>.<name>`, unique and stable.
    pub id: String,
    /// Semantic version of the principle's content.
    pub version: String,
    pub dimension: String,
    pub title: String,
    /// One sentence: what a good response does.
    pub statement: String,
    pub plugin: PluginRef,
    pub capabilities: Capabilities,
    /// Dimension → accepted values. A dimension left out accepts any value.
    pub applies_when: BTreeMap<String, Vec<String>>,
    /// Terms one of which must occur (negated or not) in the user's turns for the
    /// principle to be called: the manifest's `gate`, or for a template principle its
    /// `triggers.any` (see [`Manifest::gate_terms`]). `None`: called for every query of
    /// its pool.
    pub gate: Option<Vec<String>>,
    /// The `[config]` table, handed to the plugin's `init` as JSON.
    pub config: serde_json::Value,
    pub fixtures: Vec<Fixture>,
    /// The file it came from.
    pub path: PathBuf,
    /// sha256 of the file's bytes.
    pub sha256: String,
}

impl Manifest {
    /// Whether the principle is in the pool for a query with these labels.
    pub fn applies_to(&self, scenario: &[Label]) -> bool {
        self.applies_when
            .iter()
            .all(|(dim, values)| scenario.iter().any(|l| &l.dimension == dim && values.iter().any(|v| v == &l.value)))
    }

    /// The gate terms (see the `gate` field), explicit or derived from a template's
    /// `triggers.any` when the template searches user turns only. The template speaks only
    /// when a trigger is affirmed in those turns, so a query that does not contain any of
    /// them at all cannot make it speak: skipping the call changes nothing.
    pub fn gate_terms(&self) -> Option<&[String]> {
        self.gate.as_deref()
    }

    fn derive_gate(plugin: &PluginRef, config: &serde_json::Value) -> Option<Vec<String>> {
        if *plugin != PluginRef::Crate("template".into()) {
            return None;
        }
        let t = &config["triggers"];
        let user_only = match t.get("roles") {
            None => true,
            Some(r) => r.as_array().is_some_and(|a| a.len() == 1 && a[0] == "user"),
        };
        let any: Vec<String> = t["any"].as_array()?.iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
        (user_only && !any.is_empty()).then_some(any)
    }

    /// Whether the principle speaks only when its topic comes up: it runs its own code, or
    /// it is a template with trigger terms. Scenario-only templates speak for every query
    /// of their pool, so curation ranks their items a little lower.
    pub fn is_specific(&self) -> bool {
        if self.plugin != PluginRef::Crate("template".into()) {
            return true;
        }
        let t = &self.config["triggers"];
        ["any", "all"].iter().any(|k| t[*k].as_array().is_some_and(|a| !a.is_empty()))
    }

    /// `principle:<id>@<version>`, the tag every emitted item carries.
    pub fn tag(&self) -> String {
        format!("principle:{}@{}", self.id, self.version)
    }

    /// Reads and checks one manifest file against the vocabulary.
    pub fn load(path: &Path, dims: &Dimensions) -> Result<Manifest> {
        let src = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Manifest::parse(&src, path, dims)
    }

    /// Parses manifest text; `path` is where it lives (for the folder check and for
    /// resolving a `.wasm` plugin path).
    pub fn parse(src: &str, path: &Path, dims: &Dimensions) -> Result<Manifest> {
        let origin = path.display().to_string();
        let raw: RawManifest =
            toml::from_str(src).map_err(|e| Error::Invalid(format!("{origin}: {}", one_line(&e))))?;
        let err = |offset: usize, key: &str, msg: String| {
            Error::Invalid(format!("{origin}:{}: {key}: {msg}", line_of(src, offset)))
        };

        let dimension = raw.dimension.get_ref().clone();
        if dims.get(&dimension).is_none() {
            return Err(err(raw.dimension.span().start, "dimension", dims.check(&dimension, "").unwrap_err()));
        }
        if let Some(folder) = path.parent().and_then(|p| p.file_name()).and_then(|f| f.to_str())
            && folder != dimension
        {
            return Err(err(
                raw.dimension.span().start,
                "dimension",
                format!("{dimension:?} but the file is in folder {folder:?} (the folder must be the dimension)"),
            ));
        }

        let id = raw.id.get_ref().clone();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let expected_id = format!("{dimension}.{stem}");
        if id != expected_id {
            return Err(err(
                raw.id.span().start,
                "id",
                format!("{id:?} does not match its file: expected {expected_id:?} (<dimension>.<file name>)"),
            ));
        }
        if !is_slug(stem) {
            return Err(err(raw.id.span().start, "id", format!("{stem:?}: use lower-case letters, digits and '-'")));
        }

        let version = raw.version.get_ref().clone();
        let parts: Vec<&str> = version.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
            return Err(err(raw.version.span().start, "version", format!("{version:?} is not MAJOR.MINOR.PATCH")));
        }

        for (key, text) in [("title", &raw.title), ("statement", &raw.statement)] {
            if text.trim().is_empty() {
                return Err(Error::Invalid(format!("{origin}: {key}: must not be empty")));
            }
        }

        let plugin_text = raw.plugin.get_ref().trim().to_string();
        let plugin = if plugin_text.ends_with(".wasm") {
            let p = PathBuf::from(&plugin_text);
            PluginRef::Wasm(if p.is_absolute() { p } else { path.parent().unwrap_or(Path::new(".")).join(p) })
        } else if !plugin_text.is_empty()
            && plugin_text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            PluginRef::Crate(plugin_text)
        } else {
            return Err(err(
                raw.plugin.span().start,
                "plugin",
                format!("{plugin_text:?}: name a crate under plugins/ or a path ending in .wasm"),
            ));
        };

        let mut capabilities = Capabilities::default();
        for (i, c) in raw.capabilities.iter().enumerate() {
            match c.get_ref().as_str() {
                "generate" => capabilities.generate = true,
                "score" => capabilities.score = true,
                other => {
                    return Err(err(
                        c.span().start,
                        &format!("capabilities[{i}]"),
                        format!("unknown capability {other:?} (one of {})", CAPABILITIES.join(", ")),
                    ));
                }
            }
        }

        let mut applies_when = BTreeMap::new();
        for (key, values) in &raw.applies_when {
            let d = key.get_ref();
            if dims.get(d).is_none() {
                return Err(err(key.span().start, &format!("applies_when.{d}"), dims.check(d, "").unwrap_err()));
            }
            if values.get_ref().is_empty() {
                return Err(err(
                    values.span().start,
                    &format!("applies_when.{d}"),
                    "empty list (leave the dimension out to accept any value)".into(),
                ));
            }
            let mut list = Vec::new();
            for v in values.get_ref() {
                dims.check(d, v.get_ref()).map_err(|m| err(v.span().start, &format!("applies_when.{d}"), m))?;
                list.push(v.get_ref().clone());
            }
            applies_when.insert(d.clone(), list);
        }

        let gate_explicit = match &raw.gate {
            Some(g) if g.is_empty() || g.iter().any(|t| t.trim().is_empty() || t.trim() == "*") => {
                return Err(Error::Invalid(format!(
                    "{origin}: gate: needs at least one non-empty term (or leave it out)"
                )));
            }
            g => g.clone(),
        };
        let config = match &raw.config {
            Some(table) => serde_json::to_value(table)
                .map_err(|e| Error::Invalid(format!("{origin}: config: cannot be represented as JSON: {e}")))?,
            None => serde_json::Value::Object(Default::default()),
        };

        let mut fixtures = Vec::new();
        for (i, f) in raw.fixtures.iter().enumerate() {
            let at = f.span().start;
            let f = f.get_ref();
            let key = format!("fixtures[{i}]");
            if f.conversation.is_empty() {
                return Err(err(at, &key, "conversation: needs at least one message".into()));
            }
            if let Some(m) = f.conversation.iter().find(|m| !matches!(m.role.as_str(), "user" | "assistant" | "system"))
            {
                return Err(err(
                    at,
                    &key,
                    format!("conversation: unknown role {:?} (user, assistant or system)", m.role),
                ));
            }
            let mut scenario = Vec::new();
            for (d, v) in &f.scenario {
                dims.check(d.get_ref(), v.get_ref()).map_err(|m| err(v.span().start, &format!("{key}.scenario"), m))?;
                scenario.push(Label { dimension: d.get_ref().clone(), value: v.get_ref().clone(), confidence: 1.0 });
            }
            let expect = match f.expect.get_ref().as_str() {
                "emits" => Expect::Emits,
                "silent" => Expect::Silent,
                other => {
                    return Err(err(
                        f.expect.span().start,
                        &format!("{key}.expect"),
                        format!("{other:?}: use \"emits\" or \"silent\""),
                    ));
                }
            };
            fixtures.push(Fixture {
                name: f.name.clone().unwrap_or_else(|| key.clone()),
                conversation: f.conversation.clone(),
                scenario,
                expect,
            });
        }
        let gate = gate_explicit.or_else(|| Manifest::derive_gate(&plugin, &config));
        Ok(Manifest {
            gate,
            id,
            version,
            dimension,
            title: raw.title.trim().to_string(),
            statement: raw.statement.trim().to_string(),
            plugin,
            capabilities,
            applies_when,
            config,
            fixtures,
            path: path.to_path_buf(),
            sha256: sha256_hex(src.as_bytes()),
        })
    }
}

/// toml's errors span several lines with a source excerpt; keep them, but start with the
/// location so that `file: TOML parse error at line N` reads well.
fn one_line(e: &toml::de::Error) -> String {
    e.to_string().trim_end().to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    id: Spanned<String>,
    version: Spanned<String>,
    dimension: Spanned<String>,
    title: String,
    statement: String,
    plugin: Spanned<String>,
    #[serde(default)]
    capabilities: Vec<Spanned<String>>,
    #[serde(default)]
    applies_when: BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    gate: Option<Vec<String>>,
    #[serde(default)]
    config: Option<toml::Table>,
    #[serde(default)]
    fixtures: Vec<Spanned<RawFixture>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixture {
    #[serde(default)]
    name: Option<String>,
    conversation: Vec<Message>,
    #[serde(default)]
    scenario: BTreeMap<Spanned<String>, Spanned<String>>,
    expect: Spanned<String>,
}

/// A manifest that could not be loaded, or a principle that failed to build or self-test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadFailure {
    /// The principle's id when known, else the file's path.
    pub principle: String,
    pub path: PathBuf,
    pub message: String,
}

/// Everything in a principles directory: the vocabulary, the manifests that parsed, and
/// the files that did not.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub dir: PathBuf,
    pub dimensions: Dimensions,
    /// sha256 of `dimensions.toml`.
    pub dimensions_sha256: String,
    /// Sorted by id.
    pub manifests: Vec<Manifest>,
    pub failures: Vec<LoadFailure>,
}

impl Catalog {
    /// Reads `dir/dimensions.toml` and every `dir/<dimension>/*.toml`. A bad vocabulary
    /// fails the whole catalog; a bad manifest only fails itself (see `failures`).
    pub fn load(dir: &Path) -> Result<Catalog> {
        let dims_path = dir.join(DIMENSIONS_FILE);
        let dims_src = std::fs::read_to_string(&dims_path).map_err(|e| Error::io(&dims_path, e))?;
        let dimensions = Dimensions::parse(&dims_src, &dims_path.display().to_string())?;
        let mut manifests: Vec<Manifest> = Vec::new();
        let mut failures = Vec::new();
        for folder in sorted_entries(dir)? {
            if !folder.is_dir() || is_hidden(&folder) {
                continue;
            }
            let folder_name = folder.file_name().and_then(|f| f.to_str()).unwrap_or_default().to_string();
            for file in sorted_entries(&folder)? {
                if is_hidden(&file) || file.extension().and_then(|e| e.to_str()) != Some("toml") || !file.is_file() {
                    continue;
                }
                let fail = |message: String| LoadFailure {
                    principle: file.display().to_string(),
                    path: file.clone(),
                    message,
                };
                if dimensions.get(&folder_name).is_none() {
                    failures.push(fail(format!(
                        "{}: folder {folder_name:?} is not a dimension of {}",
                        file.display(),
                        dims_path.display()
                    )));
                    continue;
                }
                match Manifest::load(&file, &dimensions) {
                    Ok(m) => {
                        if let Some(first) = manifests.iter().find(|x| x.id == m.id) {
                            failures.push(LoadFailure {
                                principle: m.id.clone(),
                                path: file.clone(),
                                message: format!(
                                    "{}: id {:?} is already used by {}",
                                    file.display(),
                                    m.id,
                                    first.path.display()
                                ),
                            });
                        } else {
                            manifests.push(m);
                        }
                    }
                    Err(e) => failures.push(fail(e.to_string())),
                }
            }
        }
        manifests.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Catalog {
            dir: dir.to_path_buf(),
            dimensions,
            dimensions_sha256: sha256_hex(dims_src.as_bytes()),
            manifests,
            failures,
        })
    }
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    out.sort();
    Ok(out)
}

/// Dot files and editor back-ups (`x.toml~`, `.x.toml.swp`) are not principles.
pub(crate) fn is_hidden(p: &Path) -> bool {
    p.file_name().and_then(|f| f.to_str()).is_none_or(|f| f.starts_with('.') || f.ends_with('~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims() -> Dimensions {
        Dimensions::parse(
            r#"
[[dimension]]
name = "urgency"
values = ["emergent", "conditionally-emergent", "non-emergent"]
[[dimension]]
name = "task"
values = ["information", "medication"]
"#,
            "dims",
        )
        .unwrap()
    }

    const GOOD: &str = r#"id = "urgency.red-flags"
version = "1.0.0"
dimension = "urgency"
title = "Escalate red flags"
statement = "Direct the user to emergency care first."
plugin = "template"
capabilities = ["score"]

[applies_when]
urgency = ["emergent", "conditionally-emergent"]

[config]
triggers = { any = ["chest pain"] }
[[config.items]]
criterion = "Sends to the ER."
points = 9
axis = "accuracy"

[[fixtures]]
conversation = [{ role = "user", content = "I have chest pain" }]
scenario = { urgency = "emergent" }
expect = "emits"
"#;

    fn parse(src: &str) -> Result<Manifest> {
        Manifest::parse(src, Path::new("principles/urgency/red-flags.toml"), &dims())
    }

    #[test]
    fn parses_a_good_manifest() {
        let m = parse(GOOD).unwrap();
        assert_eq!(m.id, "urgency.red-flags");
        assert_eq!(m.plugin, PluginRef::Crate("template".into()));
        assert!(m.capabilities.score && !m.capabilities.generate);
        assert_eq!(m.applies_when["urgency"], ["emergent", "conditionally-emergent"]);
        assert_eq!(m.config["items"][0]["points"], 9);
        assert_eq!(m.fixtures[0].expect, Expect::Emits);
        assert_eq!(m.fixtures[0].scenario[0].value, "emergent");
        assert_eq!(m.tag(), "principle:urgency.red-flags@1.0.0");
        let l = |v: &str| Label { dimension: "urgency".into(), value: v.into(), confidence: 0.5 };
        assert!(m.applies_to(&[l("emergent")]));
        assert!(!m.applies_to(&[l("non-emergent")]));
        assert!(!m.applies_to(&[]));
    }

    #[test]
    fn template_triggers_become_the_gate_unless_a_gate_is_given() {
        let m = parse(GOOD).unwrap();
        assert_eq!(m.gate_terms(), Some(&["chest pain".to_string()][..]));
        let explicit = GOOD.replace("capabilities = [\"score\"]", "capabilities = [\"score\"]\ngate = [\"angina\"]");
        assert_eq!(parse(&explicit).unwrap().gate_terms(), Some(&["angina".to_string()][..]));
        let no_triggers = GOOD.replace("triggers = { any = [\"chest pain\"] }\n", "");
        assert_eq!(parse(&no_triggers).unwrap().gate_terms(), None);
        let assistant_too = GOOD.replace(
            "triggers = { any = [\"chest pain\"] }",
            "triggers = { any = [\"chest pain\"], roles = [\"user\", \"assistant\"] }",
        );
        assert_eq!(parse(&assistant_too).unwrap().gate_terms(), None, "the gate reads user turns only");
        let custom = GOOD.replace("plugin = \"template\"", "plugin = \"red-flags\"");
        assert_eq!(parse(&custom).unwrap().gate_terms(), None);
        let empty = GOOD.replace("capabilities = [\"score\"]", "capabilities = [\"score\"]\ngate = []");
        assert!(parse(&empty).unwrap_err().to_string().contains("gate: needs at least one"));
    }

    #[test]
    fn wasm_paths_resolve_against_the_manifest_folder() {
        let m = parse(&GOOD.replace("plugin = \"template\"", "plugin = \"../bin/x.wasm\"")).unwrap();
        assert_eq!(m.plugin, PluginRef::Wasm(PathBuf::from("principles/urgency/../bin/x.wasm")));
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let cases = [
            (
                GOOD.replace("\"conditionally-emergent\"]", "\"urgent\"]"),
                "red-flags.toml:10: applies_when.urgency: unknown urgency value \"urgent\"",
            ),
            (
                GOOD.replace("[applies_when]", "[applies_when]\nmood = [\"x\"]"),
                ":10: applies_when.mood: unknown dimension \"mood\"",
            ),
            (
                GOOD.replace("capabilities = [\"score\"]", "capabilities = [\"net\"]"),
                ":7: capabilities[0]: unknown capability \"net\"",
            ),
            (
                GOOD.replace("id = \"urgency.red-flags\"", "id = \"urgency.other\""),
                ":1: id: \"urgency.other\" does not match its file",
            ),
            (GOOD.replace("version = \"1.0.0\"", "version = \"1.0\""), ":2: version: \"1.0\" is not MAJOR.MINOR.PATCH"),
            (GOOD.replace("expect = \"emits\"", "expect = \"maybe\""), ":22: fixtures[0].expect: \"maybe\""),
            (
                GOOD.replace("scenario = { urgency = \"emergent\" }", "scenario = { urgency = \"soon\" }"),
                ":21: fixtures[0].scenario: unknown urgency value \"soon\"",
            ),
            (GOOD.replace("plugin = \"template\"", "plugin = \"a b\""), ":6: plugin: \"a b\""),
            (GOOD.replace("title = \"Escalate red flags\"\n", ""), "missing field `title`"),
            (GOOD.replace("title =", "colour = 1\ntitle ="), "unknown field `colour`"),
            (
                GOOD.replace("dimension = \"urgency\"", "dimension = \"task\""),
                ":3: dimension: \"task\" but the file is in folder \"urgency\"",
            ),
        ];
        for (src, want) in cases {
            let e = parse(&src).unwrap_err().to_string();
            assert!(e.contains(want), "want {want:?} in:\n{e}");
            assert!(e.starts_with("principles/urgency/red-flags.toml"), "{e}");
        }
    }

    #[test]
    fn catalog_loads_good_files_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join(DIMENSIONS_FILE), "[[dimension]]\nname = \"urgency\"\nvalues = [\"emergent\", \"conditionally-emergent\", \"non-emergent\"]\n[[dimension]]\nname = \"task\"\nvalues = [\"information\"]\n").unwrap();
        std::fs::create_dir_all(p.join("urgency")).unwrap();
        std::fs::create_dir_all(p.join("mood")).unwrap();
        std::fs::write(p.join("urgency/red-flags.toml"), GOOD).unwrap();
        std::fs::write(p.join("urgency/broken.toml"), "id = ").unwrap();
        std::fs::write(p.join("urgency/.hidden.toml"), "junk").unwrap();
        std::fs::write(p.join("urgency/notes.md"), "junk").unwrap();
        std::fs::write(p.join("mood/x.toml"), GOOD).unwrap();
        let c = Catalog::load(p).unwrap();
        assert_eq!(c.manifests.len(), 1);
        assert_eq!(c.failures.len(), 2, "{:?}", c.failures);
        assert!(c.failures.iter().any(|f| f.message.contains("folder \"mood\" is not a dimension")));
        assert!(c.failures.iter().any(|f| f.path.ends_with("broken.toml") && f.message.contains("TOML parse error")));
        std::fs::remove_file(p.join(DIMENSIONS_FILE)).unwrap();
        assert!(Catalog::load(p).unwrap_err().to_string().contains("dimensions.toml"));
    }
}
