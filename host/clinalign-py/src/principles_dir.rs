//! Which principles folder an engine loads when Python does not say: `$CLINALIGN_PRINCIPLES`,
//! else `./principles`, else the folder of the checkout the package was built from (`pip
//! install .` from a clone), so `Engine()` works in a notebook anywhere on that machine.

use std::path::{Path, PathBuf};

/// The principles of the checkout this crate was built in.
fn built_from() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../principles")
}

/// `given`, or the default, checked to be a principles folder (it has `dimensions.toml`).
pub fn resolve(given: Option<PathBuf>) -> Result<PathBuf, String> {
    let env = std::env::var_os("CLINALIGN_PRINCIPLES").map(PathBuf::from);
    let (dir, how) = match (given, env) {
        (Some(d), _) => (d, "principles="),
        (None, Some(d)) => (d, "$CLINALIGN_PRINCIPLES"),
        (None, None) if Path::new("principles/dimensions.toml").exists() => {
            (PathBuf::from("principles"), "./principles")
        }
        (None, None) => (built_from(), "the checkout the package was built from"),
    };
    if !dir.join("dimensions.toml").is_file() {
        return Err(format!(
            "{}: not a principles folder (no dimensions.toml), from {how}; pass principles=\"path/to/principles\" \
             (a clone of the ClinAlign repository has one) or set CLINALIGN_PRINCIPLES",
            dir.display()
        ));
    }
    Ok(std::path::absolute(&dir).unwrap_or(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_a_vocabulary_is_refused_with_how_it_was_chosen() {
        let d = tempfile::tempdir().unwrap();
        let e = resolve(Some(d.path().to_path_buf())).unwrap_err();
        assert!(e.contains("no dimensions.toml") && e.contains("from principles="), "{e}");
        let got = resolve(Some(built_from())).unwrap();
        assert!(got.is_absolute() && got.join("dimensions.toml").is_file());
    }
}
