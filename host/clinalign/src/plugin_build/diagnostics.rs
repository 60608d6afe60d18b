//! Reading cargo's JSON messages (`--message-format=json`): which crates of a build produced
//! their component, and the compiler's first errors for each crate that did not.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Most compiler errors kept per crate; the rest are counted.
pub const MAX_ERRORS: usize = 3;

/// What one cargo run said, crate by crate (names with `-` written as `_`, as cargo's
/// target names are).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BuildOutcome {
    /// Crates whose `cdylib` artifact this run produced (or found fresh).
    pub built: Vec<String>,
    /// Rendered compiler errors by crate, in the order cargo printed them.
    pub errors: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    target: Option<Target>,
    #[serde(default)]
    message: Option<Diagnostic>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    #[serde(default)]
    kind: Vec<String>,
}

#[derive(Deserialize)]
struct Diagnostic {
    level: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    rendered: Option<String>,
}

/// The crate name as cargo's targets spell it.
pub fn target_name(krate: &str) -> String {
    krate.replace('-', "_")
}

impl BuildOutcome {
    /// Reads cargo's stdout (one JSON message per line; other lines are ignored).
    pub fn parse(stdout: &str) -> BuildOutcome {
        let mut out = BuildOutcome::default();
        for line in stdout.lines().filter(|l| l.starts_with('{')) {
            let Ok(m) = serde_json::from_str::<Message>(line) else { continue };
            let Some(target) = m.target else { continue };
            match m.reason.as_str() {
                "compiler-artifact" if target.kind.iter().any(|k| k == "cdylib") => out.built.push(target.name),
                "compiler-message" => {
                    let Some(d) = m.message else { continue };
                    if d.level != "error" || d.message.starts_with("aborting due to") {
                        continue;
                    }
                    let text = d.rendered.unwrap_or(d.message);
                    out.errors.entry(target.name).or_default().push(text.trim_end().to_string());
                }
                _ => {}
            }
        }
        out
    }

    /// Whether this run produced `krate`'s component.
    pub fn produced(&self, krate: &str) -> bool {
        let name = target_name(krate);
        self.built.contains(&name)
    }

    /// Why `krate` has no component: its own first errors, or those of the crates that failed
    /// when it has none of its own (a dependency such as the SDK broke).
    pub fn why_not(&self, krate: &str) -> Option<String> {
        let name = target_name(krate);
        if let Some(own) = self.errors.get(&name) {
            return Some(trimmed(own));
        }
        if self.errors.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .errors
            .iter()
            .map(|(dep, errs)| format!("crate `{dep}`, which it depends on:\n{}", trimmed(errs)))
            .collect();
        Some(parts.join("\n"))
    }
}

/// The first [`MAX_ERRORS`] errors, and how many more there were.
fn trimmed(errors: &[String]) -> String {
    let mut text = errors.iter().take(MAX_ERRORS).cloned().collect::<Vec<_>>().join("\n");
    if errors.len() > MAX_ERRORS {
        text.push_str(&format!("\n… and {} more error(s)", errors.len() - MAX_ERRORS));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(name: &str, kind: &str) -> String {
        serde_json::json!({"reason": "compiler-artifact", "target": {"name": name, "kind": [kind]}, "fresh": false})
            .to_string()
    }

    fn error(name: &str, message: &str) -> String {
        serde_json::json!({"reason": "compiler-message", "target": {"name": name, "kind": ["cdylib"]},
            "message": {"level": "error", "message": message, "rendered": format!("error: {message}\n --> src/lib.rs:1:1\n")}})
        .to_string()
    }

    #[test]
    fn names_the_crates_built_and_trims_each_failures_errors() {
        let mut lines = vec![artifact("clinalign_sdk", "lib"), artifact("template", "cdylib"), "Compiling x".into()];
        for i in 0..5 {
            lines.push(error("broken_one", &format!("cannot find value `x{i}`")));
        }
        lines.push(error("broken_one", "aborting due to 5 previous errors"));
        let out = BuildOutcome::parse(&lines.join("\n"));
        assert!(out.produced("template"));
        assert!(!out.produced("clinalign-sdk"), "a library is not a component");
        assert!(!out.produced("broken-one"));
        let why = out.why_not("broken-one").unwrap();
        assert!(why.contains("`x0`") && why.contains("`x2`") && !why.contains("`x3`"), "{why}");
        assert!(why.ends_with("… and 2 more error(s)"), "{why}");
        assert!(!why.contains("aborting"));
    }

    #[test]
    fn a_crate_without_errors_of_its_own_names_the_dependency_that_failed() {
        let out = BuildOutcome::parse(&error("clinalign_sdk", "mismatched types"));
        let why = out.why_not("template").unwrap();
        assert!(why.starts_with("crate `clinalign_sdk`, which it depends on:"), "{why}");
        assert_eq!(BuildOutcome::default().why_not("template"), None);
    }
}
