//! Loading the engine from the command line, with a word about what takes the time.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clinalign::principle_set::failures_of_their_own;
use clinalign::{Engine, EngineBuilder, PluginFailure, PrincipleSet};
use indicatif::ProgressBar;

/// Builds the engine. On a terminal a spinner runs while it loads; otherwise one line on
/// stderr says what is happening, and another how it went, so a log never sits silent
/// through the first run's plugin builds.
pub fn load_engine(builder: EngineBuilder, principles: &str) -> Result<Engine> {
    let started = Instant::now();
    let what = format!(
        "loading principles from {} (the first run builds and compiles the plugins; later runs use the cache)",
        principles
    );
    let interactive = std::io::stderr().is_terminal();
    let spinner = if interactive {
        let s = ProgressBar::new_spinner().with_message(what);
        s.enable_steady_tick(Duration::from_millis(120));
        Some(s)
    } else {
        eprintln!("{what} …");
        None
    };
    let result = builder.build();
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    let engine = result.context("loading principles")?;
    let set = engine.principle_set();
    if !interactive {
        eprintln!(
            "loaded {} principles in {:.1} s (principle set {})",
            set.principles().len(),
            started.elapsed().as_secs_f64(),
            set.hash()
        );
    }
    for line in left_out(&set) {
        eprintln!("warning: {line}");
    }
    Ok(engine)
}

/// What a set left out, one entry per cause: a plugin failure once (its error indented
/// below, naming the principles it took out), then each other principle that failed.
pub fn left_out(set: &PrincipleSet) -> Vec<String> {
    let mut out = Vec::new();
    for g in plugin_failure_groups(set.plugin_failures()) {
        let message: Vec<String> = g.message.lines().map(|l| format!("    {l}")).collect();
        out.push(format!(
            "plugin {} failed; {} principle(s) left out: {}\n{}",
            g.plugins.join(", "),
            g.principles.len(),
            g.principles.join(", "),
            message.join("\n")
        ));
    }
    for f in failures_of_their_own(set.failures(), set.plugin_failures()) {
        out.push(format!("principle {} left out: {}", f.principle, f.message));
    }
    out
}

/// Plugins that failed the same way: when a crate they all depend on (the SDK) does not
/// compile, its errors are shown once for all of them.
pub struct FailureGroup<'a> {
    pub plugins: Vec<&'a str>,
    pub principles: Vec<&'a str>,
    pub message: String,
}

/// Groups plugin failures whose errors are the same past their first line (which names the
/// crate); each group's message is the first one's.
pub fn plugin_failure_groups(failures: &[PluginFailure]) -> Vec<FailureGroup<'_>> {
    let body = |m: &str| m.lines().skip(1).collect::<Vec<_>>().join("\n");
    let mut groups: Vec<FailureGroup<'_>> = Vec::new();
    for p in failures {
        let same = groups.iter_mut().find(|g| !body(&g.message).is_empty() && body(&g.message) == body(&p.message));
        match same {
            Some(g) => {
                g.plugins.push(&p.plugin);
                g.principles.extend(p.principles.iter().map(String::as_str));
            }
            None => groups.push(FailureGroup {
                plugins: vec![&p.plugin],
                principles: p.principles.iter().map(String::as_str).collect(),
                message: p.message.clone(),
            }),
        }
    }
    groups
}
