//! Points errors at the manifest line that caused them.
//!
//! A principle's `[config]` table reaches its plugin's `init` as JSON. When `init` rejects
//! it, the plugin's message speaks of that JSON or of a field path, not of the manifest.
//! [`locate`] turns such a message into `file:line: config.<path>: message`, the shape of
//! the manifest's own errors. It understands two kinds of message:
//!
//! - serde_json errors ending in `at line L column C`: positions in the JSON text the host
//!   passed, which [`locate`] is given too, so it can tell which key or value is there;
//! - messages starting with a field path, as the template plugin and the SDK's `config`
//!   helpers write them: `items[2].points: 0 is not allowed`, `triggers.any[0]: empty term`.
//!
//! The path is then looked up in the manifest's TOML. When only part of it exists (a
//! missing field, say), the line is that of the deepest part that does; when none of it
//! does, or the message names no path, the line is that of `[config]`. The plugin's message
//! is always kept.
//!
//! [`key_at`] goes the other way, from a place in a manifest to the key written there; the
//! manifest uses it to name the key of a TOML error.

use std::fmt::Write;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::files::line_of;

/// One step of a path into a config: a table key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// `items[1].when_any`; empty for the table itself.
fn display(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

/// Rewrites a message from a plugin's `init` as `origin:line: config.<path>: message`.
/// `toml_src` is the manifest's text, `config_json` the JSON its `[config]` was passed as.
pub fn locate(origin: &str, toml_src: &str, config_json: &str, message: &str) -> String {
    let message = message.trim();
    let (path, text) = match json_position(message) {
        Some((text, line, column)) => {
            let at = offset_of(config_json, line, column);
            (json_path_at(config_json, at), strip_config(text))
        }
        None => match message.split_once(": ").and_then(|(head, tail)| Some((parse_path(head)?, tail))) {
            Some((mut path, tail)) => {
                if path.first() == Some(&Step::Key("config".into()))
                    && config_line(toml_src, &path).is_none_or(|f| f.1 == 0)
                {
                    path.remove(0);
                }
                (path, tail)
            }
            None => (Vec::new(), message),
        },
    };
    let key = if path.is_empty() { "config".to_string() } else { format!("config.{}", display(&path)) };
    match config_line(toml_src, &path) {
        Some((line, _)) => format!("{origin}:{line}: {key}: {text}"),
        None => format!("{origin}: {key}: {text}"),
    }
}

/// The key path (`fixtures[0].expect`) written at the bytes `at` of a manifest: the deepest
/// key or value whose text holds them all. `None` when no key or value does (a table
/// header's text is its table's), when `at` is empty (a place between bytes, as toml gives
/// for a field missing from the top level), or when the text is too broken to read.
pub fn key_at(toml_src: &str, at: Range<usize>) -> Option<String> {
    if at.is_empty() {
        return None;
    }
    let (root, _) = DeTable::parse_recoverable(toml_src);
    let mut best: Option<Vec<Step>> = None;
    find_in_table(root.get_ref(), &at, &mut Vec::new(), &mut best);
    best.filter(|p| !p.is_empty()).map(|p| display(&p))
}

/// Whether `outer` holds all of `inner`.
fn holds(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

fn find_in_table(table: &DeTable<'_>, at: &Range<usize>, path: &mut Vec<Step>, best: &mut Option<Vec<Step>>) {
    for (key, value) in table.iter() {
        path.push(Step::Key(key.get_ref().to_string()));
        if holds(&key.span(), at) {
            keep_deeper(path, best);
        }
        find_in_value(value.get_ref(), &value.span(), at, path, best);
        path.pop();
    }
}

fn find_in_value(
    value: &DeValue<'_>,
    span: &Range<usize>,
    at: &Range<usize>,
    path: &mut Vec<Step>,
    best: &mut Option<Vec<Step>>,
) {
    if holds(span, at) {
        keep_deeper(path, best);
    }
    match value {
        DeValue::Table(t) => find_in_table(t, at, path, best),
        DeValue::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(Step::Index(i));
                find_in_value(v.get_ref(), &v.span(), at, path, best);
                path.pop();
            }
        }
        _ => {}
    }
}

fn keep_deeper(path: &[Step], best: &mut Option<Vec<Step>>) {
    if best.as_ref().is_none_or(|b| path.len() > b.len()) {
        *best = Some(path.to_vec());
    }
}

/// A serde_json message's text and position: `("unknown field …", L, C)` for
/// `"unknown field … at line L column C"`.
fn json_position(message: &str) -> Option<(&str, usize, usize)> {
    let (text, place) = message.rsplit_once(" at line ")?;
    let (line, column) = place.split_once(" column ")?;
    Some((text, line.parse().ok()?, column.parse().ok()?))
}

/// `config: unknown field …` → `unknown field …` (the key is named anew).
fn strip_config(text: &str) -> &str {
    text.strip_prefix("config: ").unwrap_or(text)
}

/// The byte serde_json's `line`/`column` points at: the last one it read (its column counts
/// the bytes read on that line).
fn offset_of(json: &str, line: usize, column: usize) -> usize {
    let line_start: usize = json.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
    (line_start + column).saturating_sub(1).min(json.len().saturating_sub(1))
}

/// `items[2].points` as steps; `None` unless `text` is such a path (names of letters,
/// digits, `_` and `-`, joined by dots, each with optional `[index]`es).
fn parse_path(text: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    for part in text.split('.') {
        let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return None;
        }
        steps.push(Step::Key(name.to_string()));
        while !rest.is_empty() {
            let (index, after) = rest.strip_prefix('[')?.split_once(']')?;
            steps.push(Step::Index(index.parse().ok()?));
            rest = after;
        }
    }
    Some(steps)
}

/// The path of the JSON node holding byte `at` of `json`: the deepest key or value whose
/// text holds it (empty for the top-level table, or for text that is not JSON).
fn json_path_at(json: &str, at: usize) -> Vec<Step> {
    let mut scan = JsonScan { json, i: 0, at, best: None };
    let _ = scan.value(&mut Vec::new());
    scan.best.unwrap_or_default()
}

/// A minimal JSON reader that only tracks where each key and value starts and ends.
struct JsonScan<'a> {
    json: &'a str,
    i: usize,
    at: usize,
    best: Option<Vec<Step>>,
}

impl JsonScan<'_> {
    fn peek(&self) -> Option<u8> {
        self.json.as_bytes().get(self.i).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    /// Records `path` if the text from `start` to here holds the byte sought.
    fn mark(&mut self, start: usize, path: &[Step]) {
        if (start..self.i).contains(&self.at) {
            keep_deeper(path, &mut self.best);
        }
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        self.skip_whitespace();
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// A string, decoded; `self.i` ends after its closing quote.
    fn string(&mut self) -> Option<String> {
        let start = self.i;
        self.expect(b'"')?;
        loop {
            match self.peek()? {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    break;
                }
                _ => self.i += 1,
            }
        }
        serde_json::from_str(self.json.get(start..self.i)?).ok()
    }

    fn value(&mut self, path: &mut Vec<Step>) -> Option<()> {
        self.skip_whitespace();
        let start = self.i;
        match self.peek()? {
            b'{' => {
                self.i += 1;
                self.skip_whitespace();
                if self.peek()? == b'}' {
                    self.i += 1;
                } else {
                    loop {
                        self.skip_whitespace();
                        let key_start = self.i;
                        path.push(Step::Key(self.string()?));
                        self.mark(key_start, path);
                        self.expect(b':')?;
                        self.value(path)?;
                        path.pop();
                        self.skip_whitespace();
                        match self.peek()? {
                            b',' => self.i += 1,
                            b'}' => {
                                self.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.skip_whitespace();
                if self.peek()? == b']' {
                    self.i += 1;
                } else {
                    for n in 0.. {
                        path.push(Step::Index(n));
                        self.value(path)?;
                        path.pop();
                        self.skip_whitespace();
                        match self.peek()? {
                            b',' => self.i += 1,
                            b']' => {
                                self.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
            }
            b'"' => {
                self.string()?;
            }
            _ => {
                while self.peek().is_some_and(|c| !matches!(c, b',' | b']' | b'}') && !c.is_ascii_whitespace()) {
                    self.i += 1;
                }
            }
        }
        self.mark(start, path);
        Some(())
    }
}

/// The line of `path` inside the manifest's `[config]`, and how many of its steps exist
/// there (the line is that of the last one found; of `config` itself when none is).
/// `None` when the manifest has no config table.
fn config_line(toml_src: &str, path: &[Step]) -> Option<(usize, usize)> {
    let (root, _) = DeTable::parse_recoverable(toml_src);
    let (key, mut value) = root.get_ref().get_key_value("config")?;
    let mut offset = key.span().start;
    let mut found = 0;
    for step in path {
        let next = match (step, value.get_ref()) {
            (Step::Key(k), DeValue::Table(t)) => t.get_key_value(k.as_str()).map(|(key, v)| (key.span().start, v)),
            (Step::Index(i), DeValue::Array(a)) => a.get(*i).map(|v| (v.span().start, v)),
            _ => None,
        };
        let Some((at, v)) = next else { break };
        offset = at;
        value = v;
        found += 1;
    }
    Some((line_of(toml_src, offset), found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinalign_core::template::Template;

    const MANIFEST: &str = r#"id = "urgency.x"
version = "1.0.0"
dimension = "urgency"
title = "T"
statement = "S."
plugin = "template"

[config]
note = "top"

[config.triggers]
any = [
  "chest pain",
  "",
]

[[config.items]]
criterion = "Advises care."
points = 5
axis = "accuracy"

[[config.items]]
criterion = "Advises {term}."
whne_any = ["x"]
points = 5
axis = "accuracy"

[[fixtures]]
conversation = [{ role = "user", content = "chest pain" }]
expect = "emits"
"#;

    /// The JSON the host hands to `init` for MANIFEST's `[config]`.
    fn json_of(src: &str) -> String {
        let table: toml::Table = toml::from_str(src).unwrap();
        serde_json::to_string(&serde_json::to_value(&table["config"]).unwrap()).unwrap()
    }

    fn line(src: &str, needle: &str) -> usize {
        src.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    fn at(message: &str) -> String {
        locate("principles/urgency/x.toml", MANIFEST, &json_of(MANIFEST), message)
    }

    #[test]
    fn a_misspelt_item_key_points_at_its_line() {
        // The template's own error for the real JSON: serde_json's position in it.
        let e = Template::from_json(&json_of(MANIFEST)).err().unwrap();
        assert!(e.contains(" at line 1 column "), "{e}");
        let got = at(&e);
        let want = format!(
            "principles/urgency/x.toml:{}: config.items[1].whne_any: unknown field `whne_any`",
            line(MANIFEST, "whne_any")
        );
        assert!(got.starts_with(&want), "{got}");
        assert!(got.contains("expected one of `criterion`"), "the message is kept: {got}");
        assert!(!got.contains("column"), "JSON positions are gone: {got}");
    }

    #[test]
    fn serde_positions_name_values_and_tables() {
        let bad_type = MANIFEST.replacen("points = 5", "points = \"five\"", 1);
        let e = Template::from_json(&json_of(&bad_type)).err().unwrap();
        let got = locate("m.toml", &bad_type, &json_of(&bad_type), &e);
        assert!(
            got.starts_with(&format!("m.toml:{}: config.items[0].points: invalid type", line(&bad_type, "\"five\""))),
            "{got}"
        );

        // A missing field: the table it is missing from.
        let missing = MANIFEST.replace("whne_any = [\"x\"]\n", "").replacen("axis = \"accuracy\"\n", "", 1);
        let e = Template::from_json(&json_of(&missing)).err().unwrap();
        let got = locate("m.toml", &missing, &json_of(&missing), &e);
        let items = missing.lines().position(|l| l == "[[config.items]]").unwrap() + 1;
        assert_eq!(got, format!("m.toml:{items}: config.items[0]: missing field `axis`"));
    }

    #[test]
    fn field_paths_point_at_their_key_or_element() {
        let items = MANIFEST.lines().enumerate().filter(|(_, l)| *l == "[[config.items]]").map(|(i, _)| i + 1);
        let second = items.last().unwrap();
        assert_eq!(
            at("items[1].points: 0 is not allowed"),
            format!("principles/urgency/x.toml:{}: config.items[1].points: 0 is not allowed", second + 3)
        );
        assert_eq!(at("items[1]: bad"), format!("principles/urgency/x.toml:{second}: config.items[1]: bad"));
        assert_eq!(
            at("triggers.any[1]: empty term"),
            format!("principles/urgency/x.toml:{}: config.triggers.any[1]: empty term", line(MANIFEST, "  \"\","))
        );
        assert_eq!(
            at("note: expected a number, got text"),
            format!("principles/urgency/x.toml:{}: config.note: expected a number, got text", line(MANIFEST, "note ="))
        );
        // The template's real message for the empty trigger.
        let e =
            Template::from_json(&json_of(&MANIFEST.replace("whne_any", "when_any").replace("note = \"top\"\n", "")))
                .err()
                .unwrap();
        assert_eq!(e, "triggers.any[1]: empty term");
    }

    #[test]
    fn what_cannot_be_found_falls_back_to_the_deepest_part_or_config() {
        let config = line(MANIFEST, "[config]");
        let items = MANIFEST.lines().position(|l| l == "[[config.items]]").unwrap() + 1;
        // Part of the path exists: the line of that part.
        assert_eq!(
            at("items[0].when_scenario: missing"),
            format!("principles/urgency/x.toml:{items}: config.items[0].when_scenario: missing")
        );
        // None of it: the line of [config], the path and message kept.
        assert_eq!(
            at("max_items: expected a whole number"),
            format!("principles/urgency/x.toml:{config}: config.max_items: expected a whole number")
        );
        // No path at all: the whole message.
        assert_eq!(
            at("this principle refuses every config"),
            format!("principles/urgency/x.toml:{config}: config: this principle refuses every config")
        );
        assert_eq!(
            at("Bad input: please fix"),
            format!("principles/urgency/x.toml:{config}: config: Bad input: please fix")
        );
        // A `config` prefix names the table itself.
        assert_eq!(
            at("config: expected a table"),
            format!("principles/urgency/x.toml:{config}: config: expected a table")
        );
        assert_eq!(
            at("config.note: too long"),
            format!("principles/urgency/x.toml:{}: config.note: too long", config + 1)
        );
    }

    #[test]
    fn config_without_its_own_header_and_no_config_at_all() {
        let implicit = MANIFEST.replace("[config]\nnote = \"top\"\n\n", "");
        let got = locate("m.toml", &implicit, &json_of(&implicit), "refused");
        assert_eq!(got, format!("m.toml:{}: config: refused", line(&implicit, "[config.triggers]")));
        let none = "id = \"urgency.x\"\nplugin = \"custom\"\n";
        assert_eq!(
            locate("m.toml", none, "{}", "config: missing field `items` at line 1 column 2"),
            "m.toml: config: missing field `items`"
        );
    }

    #[test]
    fn json_paths_follow_keys_values_and_escapes() {
        let json = r#"{"a":{"b\"c":[1,{"d":true}]},"e":"x\\y"}"#;
        let path = |needle: &str| display(&json_path_at(json, json.find(needle).unwrap()));
        assert_eq!(path("\"a\""), "a");
        assert_eq!(path("\"b"), "a.b\"c");
        assert_eq!(path("1,"), "a.b\"c[0]");
        assert_eq!(path("true"), "a.b\"c[1].d");
        assert_eq!(path("\"x"), "e");
        assert_eq!(display(&json_path_at(json, 0)), "");
        assert_eq!(display(&json_path_at(json, json.len() - 1)), "");
        // Cut-off text: what was read so far.
        assert_eq!(display(&json_path_at("{\"a\": [1, ", 7)), "a[0]");
        assert_eq!(offset_of("ab\ncd", 2, 1), 3);
        assert_eq!(offset_of("ab", 1, 99), 1);
    }

    #[test]
    fn paths_parse_only_when_they_look_like_paths() {
        assert_eq!(
            parse_path("items[2].points"),
            Some(vec![Step::Key("items".into()), Step::Index(2), Step::Key("points".into())])
        );
        assert_eq!(parse_path("a[0][1]"), Some(vec![Step::Key("a".into()), Step::Index(0), Step::Index(1)]));
        for not in ["", "a b", "a.", "a[x]", "a[1", "[1]", "init failed"] {
            assert_eq!(parse_path(not), None, "{not:?}");
        }
    }

    #[test]
    fn keys_at_places_in_a_manifest() {
        let key = |needle: &str| {
            let at = MANIFEST.find(needle).unwrap();
            key_at(MANIFEST, at..at + needle.len())
        };
        assert_eq!(key("\"1.0.0\"").as_deref(), Some("version"));
        assert_eq!(key("whne_any").as_deref(), Some("config.items[1].whne_any"));
        assert_eq!(key("\"chest pain\"").as_deref(), Some("config.triggers.any[0]"));
        assert_eq!(key("content").as_deref(), Some("fixtures[0].conversation[0].content"));
        let blank = MANIFEST.find("\n\n").unwrap() + 1;
        assert_eq!(key_at(MANIFEST, blank..blank + 1), None);
        assert_eq!(key_at(MANIFEST, 0..0), None, "an empty place is no key's");
        assert_eq!(key_at(MANIFEST, 0..MANIFEST.len()), None, "the whole file is no key's");
    }
}
