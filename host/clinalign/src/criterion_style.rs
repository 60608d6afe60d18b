//! The style check of criteria: each should read as a checkable statement about the
//! response, as HealthBench's do. Self-tests report the problems it finds. A criterion, a
//! title or a statement that still holds a `TODO` marker (as `clinalign principles new`
//! writes them) is not finished either.

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

/// Whether `text` holds the word `TODO` (in capitals, not inside a longer word).
pub fn has_todo(text: &str) -> bool {
    text.match_indices("TODO").any(|(i, m)| {
        let before = text[..i].chars().next_back();
        let after = text[i + m.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The problem reported for a text that still holds a `TODO` marker.
const TODO_PROBLEM: &str = "still holds a TODO marker; rewrite it";

/// Problems of a manifest's title and statement: one that still holds a `TODO` marker,
/// as `clinalign principles new` writes them, is not finished.
pub fn manifest_problems(title: &str, statement: &str) -> Vec<String> {
    [("title", title), ("statement", statement)]
        .into_iter()
        .filter(|(_, text)| has_todo(text))
        .map(|(key, text)| format!("{key} {:?} {TODO_PROBLEM}", text.chars().take(60).collect::<String>()))
        .collect()
}

/// Problems that keep a criterion from reading as a checkable statement about the
/// response, in HealthBench's style: it starts with a capital letter and a verb in the
/// third person ("Advises …", "Clearly states …", or after a condition: "When the dose is
/// unknown, asks …"), ends with a full stop, stays under 400 characters, and holds no
/// `TODO` marker.
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
    if has_todo(c) {
        out.push(TODO_PROBLEM.into());
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

    #[test]
    fn todo_markers_are_problems() {
        let scaffold =
            "Addresses the fever the user describes. (TODO: rewrite as a checkable statement about the response.)";
        assert_eq!(criterion_problems(scaffold), ["still holds a TODO marker; rewrite it"]);
        assert_eq!(criterion_problems("Lists what TODO next.").len(), 1);
        assert!(criterion_problems("Suggests a to-do list, or a todo app, or TODOS.").is_empty());
        assert!(criterion_problems("Mentions MASTODON.").is_empty());

        assert_eq!(
            manifest_problems("TODO: a short title", "TODO: one sentence saying what a good response does."),
            [
                "title \"TODO: a short title\" still holds a TODO marker; rewrite it",
                "statement \"TODO: one sentence saying what a good response does.\" still holds a TODO marker; rewrite it",
            ]
        );
        assert!(manifest_problems("Put emergency care first", "Directs the user to care.").is_empty());
    }
}
