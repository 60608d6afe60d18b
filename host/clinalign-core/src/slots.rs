//! Slot filling for criterion templates: `"Names {term} as a red flag"`.
//!
//! A slot is a name in braces: letters, digits, `_`, `-` and `.`. `{{` and `}}` stand for
//! literal braces. An unknown slot or an unclosed brace is an error that names it, so a
//! broken template fails its principle's self-test instead of emitting a half-filled item.

/// Why a template could not be filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotError {
    /// `{name}` has no value.
    Unknown(String),
    /// A `{` without its `}` (or a stray `}`), at this byte offset.
    Unbalanced(usize),
    /// `{…}` holds something that is not a slot name.
    BadName(String),
}

impl std::fmt::Display for SlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SlotError::Unknown(n) => write!(f, "unknown slot {{{n}}}"),
            SlotError::Unbalanced(at) => write!(f, "unbalanced brace at byte {at}"),
            SlotError::BadName(n) => write!(f, "{{{n}}} is not a slot name (letters, digits, _ - . only)"),
        }
    }
}

impl std::error::Error for SlotError {}

/// Fills every `{name}` in `template` with `value(name)`.
///
/// ```
/// use clinalign_core::slots::fill;
/// let s = fill("Treats {term} as an emergency {{now}}", |n| (n == "term").then(|| "chest pain".to_string()));
/// assert_eq!(s.unwrap(), "Treats chest pain as an emergency {now}");
/// ```
pub fn fill(template: &str, mut value: impl FnMut(&str) -> Option<String>) -> Result<String, SlotError> {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    let mut offset = 0;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let brace = rest.as_bytes()[i];
        let after = &rest[i + 1..];
        if after.as_bytes().first() == Some(&brace) {
            out.push(brace as char);
            rest = &after[1..];
            offset += i + 2;
            continue;
        }
        if brace == b'}' {
            return Err(SlotError::Unbalanced(offset + i));
        }
        let close = after.find('}').ok_or(SlotError::Unbalanced(offset + i))?;
        let name = &after[..close];
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')) {
            return Err(SlotError::BadName(name.to_string()));
        }
        out.push_str(&value(name).ok_or_else(|| SlotError::Unknown(name.to_string()))?);
        rest = &after[close + 1..];
        offset += i + close + 2;
    }
    out.push_str(rest);
    Ok(out)
}

/// The slot names `template` uses, in order, without duplicates.
pub fn names(template: &str) -> Result<Vec<String>, SlotError> {
    let mut seen = Vec::new();
    fill(template, |n| {
        if !seen.iter().any(|s: &String| s == n) {
            seen.push(n.to_string());
        }
        Some(String::new())
    })?;
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(n: &str) -> Option<String> {
        match n {
            "a" => Some("alpha".into()),
            "scenario.urgency" => Some("emergent".into()),
            _ => None,
        }
    }

    #[test]
    fn fills_slots_and_escapes() {
        assert_eq!(fill("{a} and {scenario.urgency}", vars).unwrap(), "alpha and emergent");
        assert_eq!(fill("{{a}} {a}", vars).unwrap(), "{a} alpha");
        assert_eq!(fill("no slots", vars).unwrap(), "no slots");
        assert_eq!(fill("", vars).unwrap(), "");
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(fill("x {b} y", vars), Err(SlotError::Unknown("b".into())));
        assert_eq!(fill("x {a", vars), Err(SlotError::Unbalanced(2)));
        assert_eq!(fill("x } y", vars), Err(SlotError::Unbalanced(2)));
        assert_eq!(fill("{a b}", vars), Err(SlotError::BadName("a b".into())));
        assert_eq!(fill("{}", vars), Err(SlotError::BadName(String::new())));
        assert_eq!(SlotError::Unknown("b".into()).to_string(), "unknown slot {b}");
    }

    #[test]
    fn names_lists_each_slot_once() {
        assert_eq!(names("{a} {b} {a}").unwrap(), ["a", "b"]);
    }
}
