//! Principle manifests (`principles/<dimension>/<name>.toml`).
//!
//! A manifest says what a principle is (id, version, statement), which plugin runs it and
//! with what `[config]`, when it applies (`[applies_when]`, the pool lookup), which model
//! capabilities it may use, and its self-test fixtures. Errors name the file, the line
//! and the key: `principles/urgency/x.toml:7: applies_when.urgency: unknown urgency value "urgent" (one of …)`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clinalign_core::template::{TemplateConfig, Triggers};
use clinalign_core::{Label, Message};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::config_location;
use crate::dimensions::{Dimensions, is_slug};
use crate::error::{Error, Result};
use crate::files::{line_of, sha256_hex};

/// The crate of the declarative template principle.
pub const TEMPLATE_PLUGIN: &str = "template";

/// What becomes of a principle's items in an emergency (`when_emergent` in the manifest).
/// An emergency's rubric must reward getting help now, first and unmistakably; items that
/// do not serve that (a lifestyle plan, coaching, a routine work-up) crowd it out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WhenEmergent {
    /// Ranked as usual.
    #[default]
    Keep,
    /// Ranked below the items that serve the emergency.
    Demote,
    /// Left out of an emergency's rubric.
    Drop,
}

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
    /// A Python module (`python:<path>.py`, resolved against the manifest's folder), built
    /// with componentize-py on demand (see [`crate::python_build`]).
    Python(PathBuf),
}

/// How a manifest's `plugin` names a Python module: `python:<path>.py`.
pub const PYTHON_PREFIX: &str = "python:";

impl std::fmt::Display for PluginRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginRef::Crate(c) => f.write_str(c),
            PluginRef::Wasm(p) => write!(f, "{}", p.display()),
            PluginRef::Python(p) => write!(f, "{PYTHON_PREFIX}{}", p.display()),
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
    /// What becomes of the principle's items when the query is an emergency.
    pub when_emergent: WhenEmergent,
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
    /// The pack it came from, as `<name>@<version>` (`None`: the principles directory the
    /// set is built on, such as the built-in one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    /// sha256 of the file's bytes.
    pub sha256: String,
    /// See [`Manifest::is_specific`]; worked out once, at parse time.
    #[serde(skip)]
    specific: bool,
    /// The file's text, to point later errors (a plugin rejecting the config) at a line.
    #[serde(skip)]
    source: Arc<str>,
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

    /// The triggers of a template principle (`None` for other plugins, or when the config
    /// has no valid `triggers` table: the template itself then rejects it at `init`).
    pub fn template_triggers(&self) -> Option<Triggers> {
        if !self.is_template() {
            return None;
        }
        match self.config.get("triggers") {
            None => Some(Triggers::default()),
            Some(t) => Triggers::deserialize(t).ok(),
        }
    }

    /// The whole config of a template principle, parsed (`None` for other plugins or an
    /// invalid config).
    pub fn template_config(&self) -> Option<TemplateConfig> {
        self.is_template().then(|| TemplateConfig::deserialize(&self.config).ok()).flatten()
    }

    /// Whether the built-in `template` plugin runs it.
    pub fn is_template(&self) -> bool {
        matches!(&self.plugin, PluginRef::Crate(c) if c == TEMPLATE_PLUGIN)
    }

    /// A template's `triggers.any`, when it searches user turns only (the derived gate).
    fn derived_gate(triggers: Option<&Triggers>) -> Option<Vec<String>> {
        let t = triggers?;
        (t.roles == ["user"] && !t.any.is_empty()).then(|| t.any.clone())
    }

    /// Whether the principle speaks only when its topic comes up: it runs its own code, or
    /// it is a template with trigger terms or an age or quantity condition. Scenario-only
    /// templates speak for every query of their pool, so curation ranks their items a
    /// little lower.
    pub fn is_specific(&self) -> bool {
        self.specific
    }

    fn work_out_specific(&self, triggers: Option<&Triggers>) -> bool {
        !self.is_template()
            || triggers
                .is_some_and(|t| !t.any.is_empty() || !t.all.is_empty() || t.age.is_some() || t.quantity.is_some())
    }

    /// Points a message from the plugin's `init` at the manifest line it is about:
    /// `principles/urgency/x.toml:23: config.items[1].when_any: unknown field …`.
    /// `config_json` is the text `init` was given (see [`config_location::locate`]).
    pub fn config_error(&self, config_json: &str, message: &str) -> String {
        config_location::locate(&self.path.display().to_string(), &self.source, config_json, message)
    }

    /// `principle:<id>@<version>`, the tag every emitted item carries.
    pub fn tag(&self) -> String {
        format!("principle:{}@{}", self.id, self.version)
    }

    /// `pack:<name>@<version>`, the tag every item of a pack's principle carries as well.
    pub fn pack_tag(&self) -> Option<String> {
        self.pack.as_ref().map(|p| format!("pack:{p}"))
    }

    /// The manifest's text as read.
    pub fn source_text(&self) -> &str {
        &self.source
    }

    /// The manifest's text with its `plugin` value replaced by `plugin` (everything else,
    /// comments included, as written): how a built pack points a manifest at its component.
    pub fn with_plugin(&self, plugin: &str) -> String {
        #[derive(Deserialize)]
        struct PluginOnly {
            plugin: Spanned<String>,
        }
        let span = toml::from_str::<PluginOnly>(&self.source).map(|p| p.plugin.span()).ok();
        match span {
            Some(span) => {
                let quoted = toml::Value::String(plugin.to_string()).to_string();
                format!("{}{quoted}{}", &self.source[..span.start], &self.source[span.end..])
            }
            None => self.source.to_string(),
        }
    }

    /// Reads and checks one manifest file against the vocabulary.
    pub fn load(path: &Path, dims: &Dimensions) -> Result<Manifest> {
        let src = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Manifest::parse(&src, path, dims)
    }

    /// Parses manifest text; `path` is where it lives (for the folder check and for
    /// resolving a `.wasm` plugin path).
    pub fn parse(src: &str, path: &Path, dims: &Dimensions) -> Result<Manifest> {
        let at = Source { origin: path.display().to_string(), src };
        let raw: RawManifest = toml::from_str(src).map_err(|e| at.toml_error(&e))?;
        let (dimension, id) = at.identity(&raw, path, dims)?;
        let version = at.version(&raw.version)?;
        for (key, text) in [("title", &raw.title), ("statement", &raw.statement)] {
            if text.trim().is_empty() {
                return Err(Error::Invalid(format!("{}: {key}: must not be empty", at.origin)));
            }
        }
        let plugin = at.plugin(&raw.plugin, path)?;
        let capabilities = at.capabilities(&raw.capabilities)?;
        let applies_when = at.applies_when(&raw.applies_when, dims)?;
        let explicit_gate = at.gate(raw.gate.as_ref())?;
        let config = match &raw.config {
            Some(table) => serde_json::to_value(table)
                .map_err(|e| Error::Invalid(format!("{}: config: cannot be represented as JSON: {e}", at.origin)))?,
            None => serde_json::Value::Object(Default::default()),
        };
        let fixtures = raw.fixtures.iter().enumerate().map(|(i, f)| at.fixture(i, f, dims)).collect::<Result<_>>()?;
        let mut m = Manifest {
            gate: explicit_gate,
            id,
            version,
            dimension,
            title: raw.title.trim().to_string(),
            statement: raw.statement.trim().to_string(),
            plugin,
            capabilities,
            when_emergent: raw.when_emergent,
            applies_when,
            config,
            fixtures,
            path: path.to_path_buf(),
            pack: None,
            sha256: sha256_hex(src.as_bytes()),
            specific: false,
            source: Arc::from(src),
        };
        let triggers = m.template_triggers();
        if m.gate.is_none() {
            m.gate = Manifest::derived_gate(triggers.as_ref());
        }
        m.specific = m.work_out_specific(triggers.as_ref());
        Ok(m)
    }
}

/// Manifest text and its file name, for errors that name the file, the line and the key.
struct Source<'s> {
    origin: String,
    src: &'s str,
}

impl Source<'_> {
    /// `file:line: key: message`, the line being the one holding byte `offset`.
    fn err(&self, offset: usize, key: &str, message: impl std::fmt::Display) -> Error {
        Error::Invalid(format!("{}:{}: {key}: {message}", self.origin, line_of(self.src, offset)))
    }

    /// A TOML syntax or type error on one line: `file:line: key: message`, the key being the
    /// one written where the error is (left out when there is none, as for a syntax error
    /// between keys).
    fn toml_error(&self, e: &toml::de::Error) -> Error {
        let message = e.message().trim().replace('\n', "; ");
        match e.span() {
            Some(span) => match config_location::key_at(self.src, span.clone()) {
                Some(key) => self.err(span.start, &key, message),
                None => Error::Invalid(format!("{}:{}: {message}", self.origin, line_of(self.src, span.start))),
            },
            None => Error::Invalid(format!("{}: {message}", self.origin)),
        }
    }

    /// The dimension (which must be the manifest's folder) and the id (`<dimension>.<file stem>`).
    fn identity(&self, raw: &RawManifest, path: &Path, dims: &Dimensions) -> Result<(String, String)> {
        let dimension = raw.dimension.get_ref().clone();
        if dims.get(&dimension).is_none() {
            return Err(self.err(raw.dimension.span().start, "dimension", dims.check(&dimension, "").unwrap_err()));
        }
        if let Some(folder) = path.parent().and_then(|p| p.file_name()).and_then(|f| f.to_str())
            && folder != dimension
        {
            return Err(self.err(
                raw.dimension.span().start,
                "dimension",
                format!("{dimension:?} but the file is in folder {folder:?} (the folder must be the dimension)"),
            ));
        }
        let id = raw.id.get_ref().clone();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let expected_id = format!("{dimension}.{stem}");
        if id != expected_id {
            return Err(self.err(
                raw.id.span().start,
                "id",
                format!("{id:?} does not match its file: expected {expected_id:?} (<dimension>.<file name>)"),
            ));
        }
        if !is_slug(stem) {
            return Err(self.err(
                raw.id.span().start,
                "id",
                format!("{stem:?}: use lower-case letters, digits and '-'"),
            ));
        }
        Ok((dimension, id))
    }

    fn version(&self, v: &Spanned<String>) -> Result<String> {
        let version = v.get_ref().clone();
        let parts: Vec<&str> = version.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
            return Err(self.err(v.span().start, "version", format!("{version:?} is not MAJOR.MINOR.PATCH")));
        }
        Ok(version)
    }

    /// A crate of the plugins workspace, or a `.wasm` or `python:….py` path resolved
    /// against the manifest's folder.
    fn plugin(&self, p: &Spanned<String>, path: &Path) -> Result<PluginRef> {
        let text = p.get_ref().trim().to_string();
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |file: &str| {
            let file = PathBuf::from(file);
            if file.is_absolute() { file } else { base.join(file) }
        };
        if let Some(module) = text.strip_prefix(PYTHON_PREFIX) {
            let module = module.trim();
            if !module.ends_with(".py") || module.len() <= 3 {
                return Err(self.err(
                    p.span().start,
                    "plugin",
                    format!("{text:?}: write python:<path>.py, the Python module beside the manifest"),
                ));
            }
            return Ok(PluginRef::Python(resolve(module)));
        }
        if text.ends_with(".wasm") {
            return Ok(PluginRef::Wasm(resolve(&text)));
        }
        if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Ok(PluginRef::Crate(text));
        }
        Err(self.err(
            p.span().start,
            "plugin",
            format!("{text:?}: name a crate under plugins/, a path ending in .wasm, or python:<path>.py"),
        ))
    }

    fn capabilities(&self, list: &[Spanned<String>]) -> Result<Capabilities> {
        let mut capabilities = Capabilities::default();
        for (i, c) in list.iter().enumerate() {
            match c.get_ref().as_str() {
                "generate" => capabilities.generate = true,
                "score" => capabilities.score = true,
                other => {
                    return Err(self.err(
                        c.span().start,
                        &format!("capabilities[{i}]"),
                        format!("unknown capability {other:?} (one of {})", CAPABILITIES.join(", ")),
                    ));
                }
            }
        }
        Ok(capabilities)
    }

    fn applies_when(&self, raw: &RawAppliesWhen, dims: &Dimensions) -> Result<BTreeMap<String, Vec<String>>> {
        let mut applies_when = BTreeMap::new();
        for (key, values) in raw {
            let d = key.get_ref();
            let at = format!("applies_when.{d}");
            if dims.get(d).is_none() {
                return Err(self.err(key.span().start, &at, dims.check(d, "").unwrap_err()));
            }
            if values.get_ref().is_empty() {
                let why = "empty list (leave the dimension out to accept any value)";
                return Err(self.err(values.span().start, &at, why));
            }
            let mut list = Vec::new();
            for v in values.get_ref() {
                dims.check(d, v.get_ref()).map_err(|m| self.err(v.span().start, &at, m))?;
                list.push(v.get_ref().clone());
            }
            applies_when.insert(d.clone(), list);
        }
        Ok(applies_when)
    }

    fn gate(&self, gate: Option<&Vec<String>>) -> Result<Option<Vec<String>>> {
        match gate {
            Some(g) if g.is_empty() || g.iter().any(|t| t.trim().is_empty() || t.trim() == "*") => Err(Error::Invalid(
                format!("{}: gate: needs at least one non-empty term (or leave it out)", self.origin),
            )),
            g => Ok(g.cloned()),
        }
    }

    fn fixture(&self, i: usize, f: &Spanned<RawFixture>, dims: &Dimensions) -> Result<Fixture> {
        let at = f.span().start;
        let f = f.get_ref();
        let key = format!("fixtures[{i}]");
        if f.conversation.is_empty() {
            return Err(self.err(at, &key, "conversation: needs at least one message"));
        }
        if let Some(m) = f.conversation.iter().find(|m| !matches!(m.role.as_str(), "user" | "assistant" | "system")) {
            return Err(self.err(
                at,
                &key,
                format!("conversation: unknown role {:?} (user, assistant or system)", m.role),
            ));
        }
        let mut scenario = Vec::new();
        for (d, v) in &f.scenario {
            dims.check(d.get_ref(), v.get_ref())
                .map_err(|m| self.err(v.span().start, &format!("{key}.scenario"), m))?;
            scenario.push(Label { dimension: d.get_ref().clone(), value: v.get_ref().clone(), confidence: 1.0 });
        }
        let expect = match f.expect.get_ref().as_str() {
            "emits" => Expect::Emits,
            "silent" => Expect::Silent,
            other => {
                let why = format!("{other:?}: use \"emits\" or \"silent\"");
                return Err(self.err(f.expect.span().start, &format!("{key}.expect"), why));
            }
        };
        Ok(Fixture { name: f.name.clone().unwrap_or(key), conversation: f.conversation.clone(), scenario, expect })
    }
}

/// `[applies_when]` as written: dimension → values, with their places in the file.
type RawAppliesWhen = BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>;

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
    when_emergent: WhenEmergent,
    #[serde(default)]
    applies_when: RawAppliesWhen,
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    const DIMS: &str = r#"
[[dimension]]
name = "urgency"
values = ["emergent", "conditionally-emergent", "non-emergent"]
[[dimension]]
name = "task"
values = ["information", "medication"]
"#;

    fn dims() -> Dimensions {
        Dimensions::parse(DIMS, "dims").unwrap()
    }

    pub(crate) const GOOD: &str = r#"id = "urgency.red-flags"
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
    fn when_emergent_says_what_an_emergency_does_to_the_items() {
        assert_eq!(parse(GOOD).unwrap().when_emergent, WhenEmergent::Keep);
        let drop = GOOD.replace("capabilities = [\"score\"]", "capabilities = [\"score\"]\nwhen_emergent = \"drop\"");
        assert_eq!(parse(&drop).unwrap().when_emergent, WhenEmergent::Drop);
        let bad = GOOD.replace("capabilities = [\"score\"]", "capabilities = [\"score\"]\nwhen_emergent = \"later\"");
        let e = parse(&bad).unwrap_err().to_string();
        assert!(e.contains(":8") && e.contains("later") && e.contains("keep"), "{e}");
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
    fn age_or_quantity_conditions_alone_make_a_template_specific_without_a_gate() {
        assert!(!parse(&GOOD.replace("triggers = { any = [\"chest pain\"] }\n", "")).unwrap().is_specific());
        for triggers in
            ["triggers = { age = \"under 3 months\" }", "triggers = { quantity = { unit = [\"mg\"], over = 4000 } }"]
        {
            let m = parse(&GOOD.replace("triggers = { any = [\"chest pain\"] }", triggers)).unwrap();
            assert_eq!(m.gate_terms(), None, "{triggers}: called for every query of its pool");
            assert!(m.is_specific(), "{triggers}");
        }
    }

    #[test]
    fn wasm_paths_resolve_against_the_manifest_folder() {
        let m = parse(&GOOD.replace("plugin = \"template\"", "plugin = \"../bin/x.wasm\"")).unwrap();
        assert_eq!(m.plugin, PluginRef::Wasm(PathBuf::from("principles/urgency/../bin/x.wasm")));
    }

    #[test]
    fn python_modules_resolve_against_the_manifest_folder() {
        let m = parse(&GOOD.replace("plugin = \"template\"", "plugin = \"python:dosing.py\"")).unwrap();
        assert_eq!(m.plugin, PluginRef::Python(PathBuf::from("principles/urgency/dosing.py")));
        assert_eq!(m.plugin.to_string(), "python:principles/urgency/dosing.py");
        assert!(m.is_specific() && !m.is_template());
        let err = parse(&GOOD.replace("plugin = \"template\"", "plugin = \"python:dosing\"")).unwrap_err();
        assert!(err.to_string().contains("write python:<path>.py"), "{err}");
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
            (GOOD.replace("title = \"Escalate red flags\"\n", ""), "toml:1: missing field `title`"),
            (GOOD.replace("expect = \"emits\"", ""), "toml:19: fixtures[0]: missing field `expect`"),
            (GOOD.replace("title =", "colour = 1\ntitle ="), "toml:4: colour: unknown field `colour`, expected one of"),
            // TOML syntax and type errors: one line, with the line and the key.
            (
                GOOD.replace("version = \"1.0.0\"", "version = 1.0"),
                "toml:2: version: invalid type: floating point `1.0`, expected a string",
            ),
            (
                GOOD.replace("expect = \"emits\"", "expekt = \"emits\""),
                "toml:22: fixtures[0].expekt: unknown field `expekt`",
            ),
            (GOOD.replace("title = \"Escalate red flags\"", "title = \"Escalate"), "toml:4: "),
            (
                GOOD.replace("dimension = \"urgency\"", "dimension = \"task\""),
                ":3: dimension: \"task\" but the file is in folder \"urgency\"",
            ),
        ];
        for (src, want) in cases {
            let e = parse(&src).unwrap_err().to_string();
            assert!(e.contains(want), "want {want:?} in:\n{e}");
            assert!(e.starts_with("principles/urgency/red-flags.toml"), "{e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    /// Bytes of `src` with some changed: truncated, bits flipped, bytes overwritten.
    fn mangled(src: &str) -> impl Strategy<Value = String> {
        let n = src.len();
        let bytes = src.as_bytes().to_vec();
        prop_oneof![
            (0..=n).prop_map({
                let b = bytes.clone();
                move |cut| String::from_utf8_lossy(&b[..cut]).into_owned()
            }),
            prop::collection::vec((0..n, 0u8..8), 1..8).prop_map({
                let b = bytes.clone();
                move |flips| {
                    let mut b = b.clone();
                    for (i, bit) in flips {
                        b[i] ^= 1 << bit;
                    }
                    String::from_utf8_lossy(&b).into_owned()
                }
            }),
            prop::collection::vec((0..n, any::<u8>()), 1..8).prop_map({
                let b = bytes.clone();
                move |writes| {
                    let mut b = b.clone();
                    for (i, v) in writes {
                        b[i] = v;
                    }
                    String::from_utf8_lossy(&b).into_owned()
                }
            }),
            ".{0,400}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// A damaged manifest never panics the parser; an error names the file.
        #[test]
        fn damaged_manifests_fail_with_the_file_named(src in mangled(GOOD)) {
            if let Err(e) = parse(&src) {
                prop_assert!(e.to_string().starts_with("principles/urgency/red-flags.toml"), "{e}");
                prop_assert!(!e.to_string().contains('\n'), "one line: {e}");
            }
        }

        /// A damaged vocabulary never panics; an error names the file.
        #[test]
        fn damaged_vocabularies_fail_with_the_file_named(src in mangled(DIMS)) {
            if let Err(e) = Dimensions::parse(&src, "principles/dimensions.toml") {
                prop_assert!(e.to_string().starts_with("principles/dimensions.toml"), "{e}");
            }
        }
    }
}
