//! The engine's tools for agent frameworks, as OpenAI function-calling schemas
//! (`{"type": "function", "function": {name, description, parameters}}`): printed by
//! `clinalign tool-schema NAME`, listed at `GET /v1/tools`. A tool call's `arguments` object is
//! a valid body of the route that executes it, posted as it is.

use serde_json::{Value, json};

/// The tools, each with the route that executes it.
pub fn tools() -> Vec<(&'static str, &'static str, Value)> {
    vec![("revise", "/v1/revise", revise())]
}

/// One tool by name.
pub fn tool(name: &str) -> Option<Value> {
    tools().into_iter().find(|(n, _, _)| *n == name).map(|(_, _, schema)| schema)
}

/// `clinalign_revise`: self-revision of an answer against the principles' rubric.
pub fn revise() -> Value {
    json!({
        "type": "function",
        "function": {
            "name": "clinalign_revise",
            "description": "Check a reply to a medical conversation against a clinician-grounded rubric written for that \
    conversation by the ClinAlign HealthPrinciples, and revise it: a judge grades the reply, the rubric items it misses and the \
    penalties it triggers become feedback, and the model rewrites it, for up to `rounds` rounds. Returns every round's answer, \
    score (0-1, HealthBench soft score) and met/unmet items, and the best answer (never scoring below the first). Without \
    `response`, the server's model writes the first draft.",
            "parameters": {
                "type": "object",
                "properties": {
                    "messages": {
                        "type": "array",
                        "description": "The conversation so far, oldest first; the last turn is the user's.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "role": { "type": "string", "enum": ["system", "user", "assistant"] },
                                "content": { "type": "string" }
                            },
                            "required": ["role", "content"],
                            "additionalProperties": false
                        },
                        "minItems": 1
                    },
                    "response": {
                        "type": "string",
                        "description": "The draft reply to check and revise. Omit it to have the server's model draft one."
                    },
                    "rounds": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": 20,
                        "default": 2,
                        "description": "Most revisions after the draft; 0 only grades the draft."
                    },
                    "max_tokens": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 4096,
                        "default": 256,
                        "description": "Most tokens of one answer."
                    }
                },
                "required": ["messages"],
                "additionalProperties": false
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tool_names_its_route_and_requires_the_conversation() {
        let (name, route, schema) = &tools()[0];
        assert_eq!((*name, *route), ("revise", "/v1/revise"));
        assert_eq!(schema["function"]["name"], "clinalign_revise");
        assert_eq!(schema["function"]["parameters"]["required"], json!(["messages"]));
        assert!(crate::routes::ROUTES.contains(&("POST", *route)), "the route that executes it is served");
        assert!(tool("revise").is_some() && tool("nope").is_none());
    }
}
