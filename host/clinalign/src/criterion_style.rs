//! The style check of criteria: each should read as a checkable statement about the
//! response, as HealthBench's do. Self-tests report the problems it finds.

/// Words that may open a condition before the verb: "When X is missing, asks …".
const CONDITION_OPENERS: &[&str] =
    &["if", "when", "while", "for", "after", "before", "where", "unless", "in", "once", "given", "since", "whenever"];

/// Whether `word` reads as a third-person verb ("Advises", "Is", "Fails").
fn is_third_person_verb(word: &str) -> bool {
    let w = word.trim_end_matches(|c: char| !c.is_alphabetic()).to_lowercase();
    if ["is", "has", "does"].contains(&w.as_str()) {
        return true;
    }
    w.len() > 2
        && w.chars().all(|c| c.is_alphabetic())
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !["this", "its", "his", "was", "yes", "thus", "plus", "always", "perhaps"].contains(&w.as_str())
}

/// Problems that keep a criterion from reading as a checkable statement about the
/// response, in HealthBench's style: it starts with a capital letter and a verb in the
/// third person ("Advises …", "Clearly states …", or after a condition: "When the dose is
/// unknown, asks …"), ends with a full stop, and stays under 400 characters.
pub fn criterion_problems(criterion: &str) -> Vec<String> {
    let mut out = Vec::new();
    let c = criterion.trim();
    if !c.chars().next().is_some_and(|ch| ch.is_uppercase()) {
        out.push("does not start with a capital letter".into());
    }
    let words: Vec<&str> = c.split_whitespace().collect();
    let first = words.first().copied().unwrap_or("");
    let verb_ok = if first.to_lowercase().ends_with("ly") {
        words.get(1).is_some_and(|w| is_third_person_verb(w))
    } else if CONDITION_OPENERS.contains(&first.to_lowercase().as_str()) {
        c.split_once(", ").and_then(|(_, rest)| rest.split_whitespace().next().map(|w| (w, rest))).is_some_and(
            |(w, rest)| {
                is_third_person_verb(w)
                    || (w.to_lowercase().ends_with("ly")
                        && rest.split_whitespace().nth(1).is_some_and(is_third_person_verb))
            },
        )
    } else {
        is_third_person_verb(first)
    };
    if !verb_ok {
        out.push(format!("does not start with a verb about the response (\"{first}\"; write e.g. \"Advises …\")"));
    }
    if !(c.ends_with('.') || c.ends_with(".)") || c.ends_with(".'") || c.ends_with(".\"")) {
        out.push("does not end with a full stop".into());
    }
    if c.chars().count() > 400 {
        out.push(format!("is {} characters long; keep criteria under 400", c.chars().count()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lints_criteria_style() {
        assert!(criterion_problems("Advises calling emergency services now.").is_empty());
        assert!(criterion_problems("Clearly states the maximum daily dose.").is_empty());
        assert!(criterion_problems("Is overly verbose.").is_empty());
        assert!(criterion_problems("Mocks, belittles or lectures the user.").is_empty());
        assert!(criterion_problems("When the age is missing, asks for it.").is_empty());
        assert!(criterion_problems("For a child, clearly states the weight-based dose.").is_empty());
        assert!(!criterion_problems("When the age is missing, the age.").is_empty());
        assert!(!criterion_problems("advises calling.").is_empty());
        assert!(!criterion_problems("The response should advise calling.").is_empty());
        assert!(!criterion_problems("Advises calling emergency services now").is_empty());
        assert!(!criterion_problems(&format!("Advises {}.", "x".repeat(400))).is_empty());
    }
}
