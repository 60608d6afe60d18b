//! The clinical dimensions and their value vocabularies (`principles/dimensions.toml`).

use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{Error, Result};
use crate::files::line_of;

/// One clinical dimension, e.g. urgency, with the values a query may take on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimension {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub values: Vec<String>,
}

/// The whole vocabulary, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dimensions {
    dims: Vec<Dimension>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    dimension: Vec<Spanned<RawDimension>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDimension {
    name: String,
    #[serde(default)]
    description: String,
    values: Vec<String>,
}

impl Dimensions {
    /// Reads and checks a `dimensions.toml` file.
    pub fn load(path: &Path) -> Result<Dimensions> {
        let src = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Dimensions::parse(&src, &path.display().to_string())
    }

    /// Parses the text of a `dimensions.toml`; `origin` names it in errors.
    pub fn parse(src: &str, origin: &str) -> Result<Dimensions> {
        let raw: RawFile = toml::from_str(src).map_err(|e| Error::Invalid(format!("{origin}: {e}")))?;
        let mut dims: Vec<Dimension> = Vec::new();
        for d in raw.dimension {
            let line = line_of(src, d.span().start);
            let d = d.into_inner();
            let at = |msg: String| Error::Invalid(format!("{origin}:{line}: dimension {:?}: {msg}", d.name));
            if !is_slug(&d.name) {
                return Err(at("name must be lower-case letters, digits and '-'".into()));
            }
            if dims.iter().any(|x| x.name == d.name) {
                return Err(at("defined twice".into()));
            }
            if d.values.is_empty() {
                return Err(at("values: needs at least one value".into()));
            }
            for (i, v) in d.values.iter().enumerate() {
                if !is_slug(v) {
                    return Err(at(format!("values[{i}] {v:?}: must be lower-case letters, digits and '-'")));
                }
                if d.values[..i].contains(v) {
                    return Err(at(format!("values[{i}] {v:?}: listed twice")));
                }
            }
            dims.push(Dimension { name: d.name, description: d.description, values: d.values });
        }
        if dims.is_empty() {
            return Err(Error::Invalid(format!("{origin}: no [[dimension]] entries")));
        }
        Ok(Dimensions { dims })
    }

    /// Every dimension, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Dimension> {
        self.dims.iter()
    }

    /// The dimension called `name`.
    pub fn get(&self, name: &str) -> Option<&Dimension> {
        self.dims.iter().find(|d| d.name == name)
    }

    /// Checks that `value` belongs to `dimension`; the error lists what would.
    pub fn check(&self, dimension: &str, value: &str) -> std::result::Result<(), String> {
        let Some(d) = self.get(dimension) else {
            let names: Vec<_> = self.dims.iter().map(|d| d.name.as_str()).collect();
            return Err(format!("unknown dimension {dimension:?} (one of {})", names.join(", ")));
        };
        if d.values.iter().any(|v| v == value) {
            Ok(())
        } else {
            Err(format!("unknown {dimension} value {value:?} (one of {})", d.values.join(", ")))
        }
    }
}

/// Lower-case ASCII letters, digits and inner hyphens.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
[[dimension]]
name = "urgency"
values = ["emergent", "non-emergent"]

[[dimension]]
name = "task"
description = "what the user wants"
values = ["information"]
"#;

    #[test]
    fn parses_in_file_order_and_checks_values() {
        let d = Dimensions::parse(OK, "dims.toml").unwrap();
        assert_eq!(d.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["urgency", "task"]);
        assert!(d.check("urgency", "emergent").is_ok());
        let e = d.check("urgency", "urgent").unwrap_err();
        assert!(e.contains("unknown urgency value \"urgent\" (one of emergent, non-emergent)"), "{e}");
        assert!(d.check("mood", "x").unwrap_err().contains("unknown dimension \"mood\""));
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let dup = format!("{OK}\n[[dimension]]\nname = \"task\"\nvalues = [\"x\"]\n");
        let e = Dimensions::parse(&dup, "dims.toml").unwrap_err().to_string();
        assert!(e.starts_with("dims.toml:11: dimension \"task\": defined twice"), "{e}");
        let e = Dimensions::parse("[[dimension]]\nname = \"u\"\nvalues = [\"A b\"]", "d.toml").unwrap_err().to_string();
        assert!(e.contains("d.toml:1: dimension \"u\": values[0] \"A b\""), "{e}");
        let e = Dimensions::parse("[[dimension]]\nname = \"u\"\n", "d.toml").unwrap_err().to_string();
        assert!(e.contains("missing field `values`"), "{e}");
        assert!(Dimensions::parse("", "d.toml").is_err());
    }
}
