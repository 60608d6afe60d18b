//! Finding componentize-py, or installing it on first use.
//!
//! In order: `$CLINALIGN_COMPONENTIZE_PY` (a `componentize-py` executable), a
//! `componentize-py` on `PATH` that reports [`COMPONENTIZE_PY_VERSION`], the virtual
//! environment the host installed before (`<cache>/tools/componentize-py-<version>/`), or
//! else a new one: `python3 -m venv` and `pip install componentize-py==<version>` into a
//! temporary folder beside it, renamed into place once pip succeeded, so an interrupted
//! install never leaves a half-made environment that later runs would trust.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The componentize-py release Python principles are built with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// A componentize-py the host can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentizePy {
    /// The program to run.
    pub program: PathBuf,
    /// Arguments that come before componentize-py's own (`-c …` when the program is the
    /// virtual environment's Python).
    pub prefix: Vec<String>,
    /// What `--version` printed, e.g. `componentize-py 0.25.1` (part of the build cache key).
    pub version: String,
}

/// How a virtual environment's Python runs componentize-py (its `bin/componentize-py`
/// script named the folder pip installed into in its first line until the rename; an
/// environment made by an older host may still have it so).
const RUN_FROM_PYTHON: &str =
    "import sys, componentize_py; sys.argv[0] = 'componentize-py'; sys.exit(componentize_py.script())";

impl ComponentizePy {
    /// A command running componentize-py, its arguments to follow.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.prefix);
        // componentize-py prints Rust backtraces with its errors when these ask for them.
        cmd.env("RUST_BACKTRACE", "0").env("RUST_LIB_BACKTRACE", "0").env("PYTHONDONTWRITEBYTECODE", "1");
        cmd
    }

    /// The componentize-py to build with (see the module's documentation), installing it
    /// under `cache_dir` when none is found.
    pub fn find_or_install(cache_dir: &Path) -> Result<ComponentizePy, String> {
        if let Some(program) = std::env::var_os("CLINALIGN_COMPONENTIZE_PY").filter(|p| !p.is_empty()) {
            let tool = ComponentizePy { program: PathBuf::from(&program), prefix: Vec::new(), version: String::new() };
            return tool.with_version().map_err(|why| {
                tool_error(format!("$CLINALIGN_COMPONENTIZE_PY ({}) does not run: {why}", tool.program.display()))
            });
        }
        let on_path = ComponentizePy { program: "componentize-py".into(), prefix: Vec::new(), version: String::new() };
        if let Ok(found) = on_path.with_version() {
            if found.reports_pinned_version() {
                return Ok(found);
            }
            tracing::debug!("ignoring {} on PATH (want {COMPONENTIZE_PY_VERSION})", found.version);
        }
        // Absolute: componentize-py runs inside the build's temporary folder.
        let cache_dir = std::path::absolute(cache_dir).unwrap_or_else(|_| cache_dir.to_path_buf());
        let venv = tools_dir(&cache_dir).join(format!("componentize-py-{COMPONENTIZE_PY_VERSION}"));
        if let Ok(found) = ComponentizePy::in_venv(&venv).with_version() {
            return Ok(found);
        }
        install(&venv)?;
        ComponentizePy::in_venv(&venv).with_version().map_err(|why| {
            tool_error(format!("componentize-py was installed in {} but does not run: {why}", venv.display()))
        })
    }

    /// The componentize-py of the virtual environment at `venv`.
    fn in_venv(venv: &Path) -> ComponentizePy {
        ComponentizePy {
            program: venv.join("bin").join("python"),
            prefix: vec!["-c".into(), RUN_FROM_PYTHON.into()],
            version: String::new(),
        }
    }

    /// This program with the version it reports, or why it does not run.
    fn with_version(&self) -> std::result::Result<ComponentizePy, String> {
        let out = self.command().arg("--version").output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("`--version` failed ({}): {}", out.status, tail(&out.stderr, 5)));
        }
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok(ComponentizePy { version, ..self.clone() })
    }

    fn reports_pinned_version(&self) -> bool {
        self.version.split_whitespace().last() == Some(COMPONENTIZE_PY_VERSION)
    }
}

/// `<cache>/tools`, where the host installs the tools it builds with.
pub fn tools_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("tools")
}

/// Creates the virtual environment `venv` with componentize-py in it, through a temporary
/// folder renamed into place; builders in other processes take turns.
fn install(venv: &Path) -> Result<(), String> {
    let parent = venv.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    let lock_path = parent.join(format!("{}.lock", venv.file_name().unwrap_or_default().to_string_lossy()));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| io(&lock_path, e))?;
    lock.lock().map_err(|e| io(&lock_path, e))?;
    if venv.join("bin").join("python").exists() && ComponentizePy::in_venv(venv).with_version().is_ok() {
        return Ok(()); // another process installed it while this one waited
    }
    let python = std::env::var_os("CLINALIGN_PYTHON").unwrap_or_else(|| "python3".into());
    let python = PathBuf::from(python);
    tracing::info!("installing componentize-py {COMPONENTIZE_PY_VERSION} into {} (once)", venv.display());
    let tmp =
        tempfile::Builder::new().prefix(".componentize-py-install-").tempdir_in(parent).map_err(|e| io(parent, e))?;
    let staged = tmp.path().join("venv");
    let out = run(Command::new(&python).arg("-m").arg("venv").arg(&staged)).map_err(|e| {
        tool_error(format!(
            "componentize-py is not installed and {} could not be run to install it ({e}); install Python 3 (with its venv module), or set $CLINALIGN_COMPONENTIZE_PY to a componentize-py {COMPONENTIZE_PY_VERSION}",
            python.display()
        ))
    })?;
    if !out.status.success() {
        return Err(tool_error(format!(
            "`{} -m venv` failed ({}); on Debian/Ubuntu install python3-venv:\n{}",
            python.display(),
            out.status,
            tail(&out.stderr, 20)
        )));
    }
    let pip = staged.join("bin").join("pip");
    let spec = format!("componentize-py=={COMPONENTIZE_PY_VERSION}");
    let out = run(Command::new(&pip).args(["install", "--quiet", "--disable-pip-version-check", &spec]))
        .map_err(|e| tool_error(format!("could not run {}: {e}", pip.display())))?;
    if !out.status.success() {
        return Err(tool_error(format!("`pip install {spec}` failed ({}):\n{}", out.status, tail(&out.stderr, 20))));
    }
    if venv.exists() {
        // A broken environment left by hand or by an older host: replaced whole.
        std::fs::remove_dir_all(venv).map_err(|e| io(venv, e))?;
    }
    std::fs::rename(&staged, venv).map_err(|e| io(venv, e))?;
    point_script_at(venv);
    Ok(())
}

/// Makes the environment's `bin/componentize-py` script name its moved Python in its first
/// line, so that it runs by hand (or as `$CLINALIGN_COMPONENTIZE_PY`); the host itself runs
/// [`RUN_FROM_PYTHON`] and does not need it.
fn point_script_at(venv: &Path) {
    let script = venv.join("bin").join("componentize-py");
    let Ok(text) = std::fs::read_to_string(&script) else { return };
    let Some((first, rest)) = text.split_once('\n') else { return };
    if !first.starts_with("#!") {
        return;
    }
    let fixed = format!("#!{}\n{rest}", venv.join("bin").join("python").display());
    if let Err(e) = std::fs::write(&script, fixed) {
        tracing::warn!("{}: could not point it at its Python ({e})", script.display());
    }
}

fn run(cmd: &mut Command) -> std::io::Result<Output> {
    cmd.env_remove("PYTHONPATH").env_remove("PYTHONHOME").env_remove("VIRTUAL_ENV").output()
}

/// The last `n` lines of a command's output.
pub(crate) fn tail(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Why no componentize-py can be had, as every Python principle's build error says it.
fn tool_error(message: String) -> String {
    format!("no componentize-py {COMPONENTIZE_PY_VERSION} to build with: {message}")
}

fn io(path: &Path, e: std::io::Error) -> String {
    format!("{}: {e}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_moved_environments_script_names_its_new_python() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("componentize-py-x");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        let script = venv.join("bin").join("componentize-py");
        std::fs::write(&script, "#!/tmp/.install-1/venv/bin/python3\nimport sys\nsys.exit(0)\n").unwrap();
        point_script_at(&venv);
        let text = std::fs::read_to_string(&script).unwrap();
        assert_eq!(text, format!("#!{}/bin/python\nimport sys\nsys.exit(0)\n", venv.display()));
    }
}
