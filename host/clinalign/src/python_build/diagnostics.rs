//! Reading a failed componentize-py run: which Python file and line the error is at, what
//! it says, and the lines of source Python showed with it.
//!
//! componentize-py runs the entry module (and so the principle's module) while it builds;
//! an error there comes back as Python's traceback, then `Caused by:` and the error in one
//! line: `SyntaxError: expected ':' (dosing.py, line 4)` for a syntax error, or the
//! entry module's own `RuntimeError: dosing.py:1: no class WitWorld: …`. Inside the build,
//! the sources folder is mounted at `/0/` (one number per Python path entry).

use super::{ENTRY_MODULE, Failure};

/// What a failed run says. `module` is the principle's module name, `scratch_src` the
/// folder the sources were copied to, `status` how componentize-py exited.
pub(super) fn read(output: &str, module: &str, scratch_src: &str, status: String) -> Failure {
    let cause = output
        .split("Caused by:")
        .nth(1)
        .and_then(|rest| rest.lines().map(str::trim).find(|l| !l.is_empty()))
        .map(str::to_string);
    let mut failure = match cause {
        Some(cause) => from_cause(&cause),
        None => Failure {
            file: String::new(),
            line: None,
            message: format!("componentize-py failed ({status})"),
            log: String::new(),
        },
    };
    if failure.file.is_empty() {
        failure.file = format!("{module}.py");
    }
    failure.log = excerpt(output).unwrap_or_else(|| tail_without_backtrace(output));
    failure.log = failure.log.replace(scratch_src, "@SRC@");
    failure
}

/// The file, line and message of the one-line error after `Caused by:`.
fn from_cause(cause: &str) -> Failure {
    // `SyntaxError: expected ':' (dosing.py, line 4)`
    if let Some(open) = cause.rfind(" (")
        && let Some(inner) = cause[open + 2..].strip_suffix(')')
        && let Some((file, line)) = inner.split_once(", line ")
        && let Ok(line) = line.trim().parse::<u32>()
    {
        return Failure {
            file: file.to_string(),
            line: Some(line),
            message: cause[..open].to_string(),
            log: String::new(),
        };
    }
    // `RuntimeError: [importing the principle failed: ]dosing.py:12: NameError: …`
    let rest = cause.strip_prefix("RuntimeError: ").unwrap_or(cause);
    let rest = rest.strip_prefix("importing the principle failed: ").unwrap_or(rest);
    if let Some((file, after)) = rest.split_once(".py:")
        && !file.contains(' ')
        && let Some((line, message)) = after.split_once(": ")
        && let Ok(line) = line.parse::<u32>()
    {
        return Failure {
            file: format!("{file}.py"),
            line: Some(line),
            message: message.to_string(),
            log: String::new(),
        };
    }
    Failure { file: String::new(), line: None, message: rest.to_string(), log: String::new() }
}

/// Python's report from the innermost frame in the principle's sources on: the file and
/// line, the source line with its caret, and the error. `None` when there is no such frame.
fn excerpt(output: &str) -> Option<String> {
    let report = output.split("Caused by:").next()?;
    let lines: Vec<&str> = report.lines().collect();
    let start = lines.iter().rposition(|l| {
        let l = l.trim_start();
        l.starts_with("File \"/") && mounted(l).is_some() && !l.contains(&format!("{ENTRY_MODULE}.py"))
    })?;
    let kept: Vec<String> =
        lines[start..].iter().map(|l| mounted_path_to_src(l)).filter(|l| !l.trim().is_empty()).collect();
    Some(kept.join("\n"))
}

/// The number of the Python path entry a `File "/N/…"` line names, if it names one.
fn mounted(line: &str) -> Option<u32> {
    let rest = line.trim_start().strip_prefix("File \"/")?;
    let (n, _) = rest.split_once('/')?;
    n.parse().ok()
}

/// `File "/0/dosing.py"` as `File "@SRC@/dosing.py"` (the host puts the folder back).
fn mounted_path_to_src(line: &str) -> String {
    match (mounted(line), line.find("File \"/")) {
        (Some(n), Some(at)) => {
            let prefix = format!("File \"/{n}/");
            format!("{}File \"@SRC@/{}", &line[..at], &line[at + prefix.len()..])
        }
        _ => line.to_string(),
    }
}

/// The last lines of the output, less componentize-py's own stack backtrace.
fn tail_without_backtrace(output: &str) -> String {
    let before = output.split("Stack backtrace:").next().unwrap_or(output);
    let lines: Vec<&str> = before.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYNTAX: &str = r#"Traceback (most recent call last):
  File "/venv/bin/componentize-py", line 8, in <module>
    sys.exit(script())
AssertionError: Traceback (most recent call last):
  File "/0/_clinalign_entry.py", line 37, in <module>
    _module = importlib.import_module(MODULE)
  File "/python/importlib/__init__.py", line 88, in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
  File "/0/dosing.py", line 5
    def emit(self, q)
                     ^
SyntaxError: expected ':'


Caused by:
    SyntaxError: expected ':' (dosing.py, line 5)

Stack backtrace:
   0: <anyhow::Error>::msg
"#;

    #[test]
    fn a_syntax_error_names_the_file_and_line_and_shows_the_source_line() {
        let f = read(SYNTAX, "dosing", "/tmp/x/src", "exit status: 1".into());
        assert_eq!((f.file.as_str(), f.line, f.message.as_str()), ("dosing.py", Some(5), "SyntaxError: expected ':'"));
        assert!(f.log.starts_with("  File \"@SRC@/dosing.py\", line 5"), "{}", f.log);
        assert!(f.log.contains("def emit(self, q)") && !f.log.contains("importlib"), "{}", f.log);
    }

    #[test]
    fn the_entry_modules_errors_name_the_principles_file() {
        let out = "AssertionError: Traceback\n  File \"/0/_clinalign_entry.py\", line 45, in <module>\nRuntimeError: x\n\nCaused by:\n    RuntimeError: dosing.py:1: no class WitWorld: the module must define it\n";
        let f = read(out, "dosing", "/tmp/x/src", "exit status: 1".into());
        assert_eq!((f.file.as_str(), f.line), ("dosing.py", Some(1)));
        assert!(f.message.starts_with("no class WitWorld"), "{}", f.message);
        let out = "Caused by:\n    RuntimeError: importing the principle failed: helpers.py:4: NameError: name 'x' is not defined\n";
        let f = read(out, "dosing", "/tmp/x/src", "exit status: 1".into());
        assert_eq!(
            (f.file.as_str(), f.line, f.message.as_str()),
            ("helpers.py", Some(4), "NameError: name 'x' is not defined")
        );
    }

    #[test]
    fn output_it_cannot_read_is_kept_as_its_tail() {
        let f =
            read("error: something else\nStack backtrace:\n 0: x\n", "dosing", "/tmp/x/src", "exit status: 2".into());
        assert_eq!((f.file.as_str(), f.line), ("dosing.py", None));
        assert_eq!(f.message, "componentize-py failed (exit status: 2)");
        assert_eq!(f.log, "error: something else");
    }
}
