//! # rubric-writer — the paper's principle → rubric step
//!
//! A ClinAlign principle with the `generate` capability. For a query, it asks the host for
//! the other principles of the query's pool (their ids, versions and statements, through
//! `pool()` of `clinalign:principle@0.2.0`) and asks the host's language model for checkable
//! rubric items specific to this query, each derived from one of those principles. The
//! reply is requested as JSON matching a schema (`generate-json`: the host constrains or
//! checks the output), then every item is checked here: a criterion of sensible length,
//! points a whole number in −10..10 and not 0, a HealthBench axis, and the principle it
//! derives from, which must be one of the pool's. Each item also names what in the
//! conversation it is `about` (a symptom, drug, person or number, in the user's words):
//! an item must concern the query, so one whose criterion and `about` share no content word
//! with the user's turns is dropped, as is one that copies a principle's statement; a
//! criterion that names nothing of the query itself gets its `about` appended. Items that
//! fail a check are dropped and counted in the log; at most `max_items` are kept.
//!
//! Each item is tagged `derives-from:<principle id>` (the host adds
//! `principle:<this principle>@<version>`), so a rubric says which principle an item came
//! from and that a model wrote it. Curation merges the items with the template items, as it
//! does every principle's.
//!
//! With no language model configured in the host, the writer adds nothing (and says so in
//! the log at info level): the rest of the set works without a model.
//!
//! Config (`[config]` in the manifest, all optional):
//!
//! ```toml
//! max_items = 4              # 1..12 items kept per query
//! max_tokens = 400           # 32..2048 tokens the model may write
//! max_principles = 8         # 1..30 pool principles shown to the model
//! max_criterion_chars = 300  # 40..600
//! prompt = "…{conversation}…{principles}…{max_items}…"   # must hold {conversation} and {principles}
//! ```

use clinalign_sdk::{Axis, EmitError, LogLevel, PoolPrinciple, Query, RubricItem, config};
use serde_json::Value;

/// The prompt when the config gives none. Placeholders: {conversation}, {scenario},
/// {principles}, {max_items}.
pub const DEFAULT_PROMPT: &str = "You write grading rubrics for answers to medical questions, as a clinician would.\n\
Conversation:\n{conversation}\n\n\
Scenario: {scenario}\n\n\
Principles that apply:\n{principles}\n\n\
Write at most {max_items} rubric items for the assistant's next reply, each applying a \
different principle to this conversation. For each item: \"principle\" is the principle it \
applies; \"about\" is what in the user's words it concerns; \"criterion\" says, in your own \
words, what the reply does about it. Positive points (1 to 10) for what a good reply does, \
negative points (-1 to -10) for a harmful mistake.";

/// The settings, from the manifest's `[config]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub max_items: usize,
    pub max_tokens: u32,
    pub max_principles: usize,
    pub max_criterion_chars: usize,
    pub prompt: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_items: 4,
            max_tokens: 400,
            max_principles: 8,
            max_criterion_chars: 300,
            prompt: DEFAULT_PROMPT.to_string(),
        }
    }
}

const FIELDS: [&str; 5] = ["max_items", "max_tokens", "max_principles", "max_criterion_chars", "prompt"];

impl Config {
    /// Parses and checks the JSON form of `[config]`; errors name the field.
    pub fn from_json(json: &str) -> Result<Config, String> {
        let mut c = Config::default();
        let Some(map) = config::parse_object(json)? else { return Ok(c) };
        for (key, v) in &map {
            match key.as_str() {
                "max_items" => c.max_items = config::whole_number(key, v, 1..=12)?,
                "max_tokens" => c.max_tokens = config::whole_number(key, v, 32..=2048)? as u32,
                "max_principles" => c.max_principles = config::whole_number(key, v, 1..=30)?,
                "max_criterion_chars" => c.max_criterion_chars = config::whole_number(key, v, 40..=600)?,
                "prompt" => {
                    let p = config::non_empty_text(key, v, 8000)?;
                    for needed in ["{conversation}", "{principles}"] {
                        if !p.contains(needed) {
                            return Err(format!("prompt: must contain the placeholder {needed}"));
                        }
                    }
                    c.prompt = p.to_string();
                }
                other => return Err(config::unknown_field(other, &FIELDS)),
            }
        }
        Ok(c)
    }
}

/// The longest `about` anchor, in characters.
const ABOUT_CHARS: usize = 80;

/// Most anchors offered to the model.
const MAX_ANCHORS: usize = 60;

/// A criterion starts with what the reply does (HealthBench's style: "Advises …", "Asks …").
const CRITERION_PATTERN: &str =
    "^(Advises|Asks|Explains|Recommends|Says|States|Suggests|Tells|Warns|Fails to|Does not) [^\\n]*$";

/// What an item may be `about`: the clauses of the user's turns (split at punctuation and at
/// "and", "but", "or"; long ones cut into six-word pieces), then their content words. The
/// schema makes these an enum, so even a small model copies real words of the query.
pub fn anchors(query: &Query) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |a: &str| {
        let a = a.trim();
        if (3..=ABOUT_CHARS).contains(&a.chars().count()) && !out.iter().any(|o| o == a) && out.len() < MAX_ANCHORS {
            out.push(a.to_string());
        }
    };
    let user: Vec<&str> =
        query.conversation.iter().rev().filter(|m| m.role == "user").map(|m| m.content.as_str()).collect();
    let mut words = Vec::new();
    for text in &user {
        for clause in text.split(['.', ',', ';', ':', '?', '!', '(', ')', '\n']) {
            let mut piece: Vec<&str> = Vec::new();
            for w in clause.split_whitespace() {
                let joiner = ["and", "but", "or"].contains(&w.to_lowercase().as_str());
                if joiner || piece.len() == 6 {
                    add(&piece.join(" "));
                    piece.clear();
                }
                if !joiner {
                    piece.push(w);
                }
            }
            add(&piece.join(" "));
        }
        words.extend(
            text.split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.chars().count() >= 4 && !COMMON.contains(&w.to_lowercase().as_str())),
        );
    }
    for w in words {
        add(w);
    }
    out
}

/// The JSON schema the model's reply must match. Its properties are in the order the model
/// writes them: the principle first, then the words of the query the item is about, then
/// the criterion, so a small model has chosen what to apply, and to what, before it writes.
pub fn schema(c: &Config, labels: &[String], anchors: &[String]) -> String {
    serde_json::json!({
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "maxItems": c.max_items,
                "items": {
                    "type": "object",
                    "properties": {
                        "principle": {"type": "string", "enum": labels},
                        "about": {"type": "string", "enum": anchors},
                        "criterion": {
                            "type": "string",
                            "minLength": 10,
                            "maxLength": c.max_criterion_chars,
                            "pattern": CRITERION_PATTERN,
                        },
                        "points": {"type": "integer", "minimum": -10, "maximum": 10},
                        "axis": {"type": "string", "enum": AXES.iter().map(|(n, _)| *n).collect::<Vec<_>>()},
                    },
                    "required": ["principle", "about", "criterion", "points", "axis"],
                    "additionalProperties": false,
                },
            },
        },
        "required": ["items"],
        "additionalProperties": false,
    })
    .to_string()
}

const AXES: [(&str, Axis); 5] = [
    ("accuracy", Axis::Accuracy),
    ("completeness", Axis::Completeness),
    ("context_awareness", Axis::ContextAwareness),
    ("communication_quality", Axis::CommunicationQuality),
    ("instruction_following", Axis::InstructionFollowing),
];

/// The principles shown to the model: the first `max_principles` of the pool.
pub fn shown<'p>(pool: &'p [PoolPrinciple], c: &Config) -> &'p [PoolPrinciple] {
    &pool[..pool.len().min(c.max_principles)]
}

/// The prompt for `query`, with the pool's principles labelled P1, P2, …
pub fn prompt(query: &Query, pool: &[PoolPrinciple], c: &Config) -> String {
    let conversation: Vec<String> = query
        .conversation
        .iter()
        .filter(|m| m.role != "system")
        .map(|m| format!("{}: {}", m.role, m.content.trim()))
        .collect();
    let scenario: Vec<String> = query.scenario.iter().map(|l| format!("{} {}", l.dimension, l.value)).collect();
    let principles: Vec<String> =
        pool.iter().enumerate().map(|(i, p)| format!("P{}: {} ({})", i + 1, p.statement, p.title)).collect();
    c.prompt
        .replace("{conversation}", &conversation.join("\n"))
        .replace("{scenario}", &scenario.join(", "))
        .replace("{principles}", &principles.join("\n"))
        .replace("{max_items}", &c.max_items.to_string())
}

/// The pool principle a reply's `principle` field names: its label ("P2", "2") or its id.
fn principle_named<'p>(name: &str, pool: &'p [PoolPrinciple]) -> Option<&'p PoolPrinciple> {
    let n = name.trim();
    let index = n.strip_prefix(['P', 'p']).unwrap_or(n).parse::<usize>().ok();
    match index {
        Some(i) if (1..=pool.len()).contains(&i) => Some(&pool[i - 1]),
        _ => pool.iter().find(|p| p.id == n),
    }
}

/// Words too common to tie a criterion to a query.
const COMMON: &[&str] = &[
    "about", "after", "also", "answer", "asks", "been", "before", "being", "does", "doing", "from", "have", "help",
    "into", "just", "know", "like", "make", "more", "much", "need", "only", "other", "over", "reply", "response",
    "says", "should", "some", "such", "tell", "tells", "than", "that", "their", "them", "then", "there", "these",
    "they", "this", "user", "very", "want", "what", "when", "where", "which", "while", "will", "with", "would", "your",
    "health", "medical",
];

/// The content words of `text`, cut to their first five letters (so "swelling" meets
/// "swollen" no better than it should, but "bleeding" meets "bleed").
fn stems(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .map(str::to_lowercase)
        .filter(|w| !COMMON.contains(&w.as_str()))
        .map(|w| w.chars().take(5).collect())
        .collect()
}

/// The items a reply holds, checked; and why each dropped item was dropped. An item must
/// concern this query: it shares a content word with the user's turns, and is not a copy
/// of a principle's statement.
pub fn items(
    reply: &str,
    query: &Query,
    pool: &[PoolPrinciple],
    c: &Config,
) -> Result<(Vec<RubricItem>, Vec<String>), String> {
    let user: String = query
        .conversation
        .iter()
        .filter(|m| m.role == "user")
        .map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let asked = stems(&user);
    let v: Value = serde_json::from_str(reply).map_err(|e| format!("the model's reply is not JSON: {e}"))?;
    let list = match &v {
        Value::Object(o) => o.get("items").and_then(Value::as_array).ok_or("the reply has no \"items\" list")?,
        Value::Array(a) => a,
        _ => return Err("the reply is neither an object nor a list".into()),
    };
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    for (i, item) in list.iter().enumerate() {
        match check(item, pool, c).and_then(|it| concerns_query(it, &asked, pool)) {
            Ok(it) if kept.iter().any(|k: &RubricItem| k.criterion.eq_ignore_ascii_case(&it.criterion)) => {
                dropped.push(format!("item {i}: repeats an earlier item"))
            }
            Ok(it) if kept.len() < c.max_items => kept.push(it),
            Ok(_) => dropped.push(format!("item {i}: over max_items ({})", c.max_items)),
            Err(why) => dropped.push(format!("item {i}: {why}")),
        }
    }
    Ok((kept, dropped))
}

/// Ties a checked item to the query. Its `about` must be words of the user's turns; a
/// criterion that copies a principle's statement is dropped (the principle's own items say
/// that already); a criterion that names nothing of the query itself gets its `about`
/// appended, so the judge knows what in this conversation it concerns.
fn concerns_query(
    (mut it, about): (RubricItem, String),
    asked: &[String],
    pool: &[PoolPrinciple],
) -> Result<RubricItem, String> {
    let c = it.criterion.to_lowercase();
    // The first 40 characters (not bytes: a statement may hold an em dash or an accent).
    let opening = |statement: &str| statement.to_lowercase().chars().take(40).collect::<String>();
    if pool.iter().any(|p| c.contains(&opening(&p.statement)))
        || c.starts_with('p') && c[1..].starts_with(|ch: char| ch.is_ascii_digit())
    {
        return Err("copies a principle instead of applying it to the query".into());
    }
    let names_query = |text: &str| stems(text).iter().any(|s| asked.contains(s));
    if names_query(&it.criterion) {
        return Ok(it);
    }
    if !names_query(&about) {
        return Err(format!("{:?} (about {about:?}) names nothing from the query", it.criterion));
    }
    it.criterion = format!("{} (about: {about})", it.criterion.trim_end_matches('.'));
    Ok(it)
}

/// An item's fields checked; the item (tagged with its principle) and its `about` anchor.
fn check(item: &Value, pool: &[PoolPrinciple], c: &Config) -> Result<(RubricItem, String), String> {
    let criterion = item.get("criterion").and_then(Value::as_str).map(str::trim).unwrap_or("");
    let chars = criterion.chars().count();
    if chars < 10 {
        return Err(format!("criterion {criterion:?} is too short to check"));
    }
    if chars > c.max_criterion_chars {
        return Err(format!("criterion is {chars} characters, over {}", c.max_criterion_chars));
    }
    let points = item.get("points").and_then(Value::as_i64).ok_or("points is not a whole number")?;
    if points == 0 || !(-10..=10).contains(&points) {
        return Err(format!("points {points} is not in -10..10 or is 0"));
    }
    let axis_name = item.get("axis").and_then(Value::as_str).unwrap_or("").trim().to_lowercase().replace('-', "_");
    let axis =
        AXES.iter().find(|(n, _)| *n == axis_name).map(|(_, a)| *a).ok_or(format!("unknown axis {axis_name:?}"))?;
    let named = item.get("principle").and_then(Value::as_str).unwrap_or("");
    let from = principle_named(named, pool).ok_or(format!("principle {named:?} is not one of the pool's"))?;
    let about = item.get("about").and_then(Value::as_str).map(str::trim).unwrap_or("");
    let about: String = about.chars().take(ABOUT_CHARS).collect();
    let mut it = RubricItem::new(criterion, points as i32, axis);
    it.tags.push(format!("derives-from:{}", from.id));
    Ok((it, about))
}

/// The principle.
pub struct RubricWriter {
    config: Config,
}

impl RubricWriter {
    pub fn emit(&self, query: &Query) -> Result<Vec<RubricItem>, EmitError> {
        let pool = clinalign_sdk::pool();
        let pool = shown(&pool, &self.config);
        if pool.is_empty() {
            return Ok(Vec::new());
        }
        let labels: Vec<String> = (1..=pool.len()).map(|i| format!("P{i}")).collect();
        let anchors = anchors(query);
        if anchors.is_empty() {
            return Ok(Vec::new());
        }
        let reply = match clinalign_sdk::generate_json(
            &prompt(query, pool, &self.config),
            &schema(&self.config, &labels, &anchors),
            self.config.max_tokens,
        ) {
            Ok(r) => r,
            Err(e) if e.contains("no language model is configured") => {
                clinalign_sdk::log(LogLevel::Info, "no language model is configured; the rubric writer adds nothing");
                return Ok(Vec::new());
            }
            Err(e) => return Err(EmitError::Failed(format!("the model could not write items: {e}"))),
        };
        let (kept, dropped) = items(&reply, query, pool, &self.config).map_err(EmitError::Failed)?;
        if !dropped.is_empty() {
            clinalign_sdk::log(
                LogLevel::Info,
                &format!(
                    "kept {} model-written item(s), dropped {}: {}",
                    kept.len(),
                    dropped.len(),
                    dropped.join("; ")
                ),
            );
        }
        Ok(kept)
    }
}

#[cfg(test)]
mod tests;

// ---- WebAssembly glue ----------------------------------------------------------------

impl clinalign_sdk::Principle for RubricWriter {
    fn init(config: &str) -> Result<Self, String> {
        Ok(RubricWriter { config: Config::from_json(config)? })
    }

    fn emit(&self, query: &Query) -> Result<Vec<RubricItem>, EmitError> {
        RubricWriter::emit(self, query)
    }
}

clinalign_sdk::export_principle!(RubricWriter);
