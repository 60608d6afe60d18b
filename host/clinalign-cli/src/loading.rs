//! Loading the engine from the command line, with a word about what takes the time.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clinalign::{Engine, EngineBuilder, PrincipleSet};
use indicatif::ProgressBar;

/// Builds the engine. On a terminal a spinner runs while it loads; otherwise one line on
/// stderr says what is happening, and another how it went, so a log never sits silent
/// through the first run's plugin builds.
pub fn load_engine(builder: EngineBuilder, principles: &Path) -> Result<Engine> {
    let started = Instant::now();
    let what = format!(
        "loading principles from {} (the first run builds and compiles the plugins; later runs use the cache)",
        principles.display()
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

/// What a set left out, one entry per cause: a plugin that failed once (its error indented
/// below, naming the principles it took out), then each other principle that failed.
pub fn left_out(set: &PrincipleSet) -> Vec<String> {
    let mut out = Vec::new();
    for p in set.plugin_failures() {
        let message: Vec<String> = p.message.lines().map(|l| format!("    {l}")).collect();
        out.push(format!(
            "plugin {} failed; {} principle(s) left out: {}\n{}",
            p.plugin,
            p.principles.len(),
            p.principles.join(", "),
            message.join("\n")
        ));
    }
    for f in set.failures() {
        if !set.plugin_failures().iter().any(|p| p.principles.contains(&f.principle)) {
            out.push(format!("principle {} left out: {}", f.principle, f.message));
        }
    }
    out
}
