//! The OpenAPI 3.1 description of the service, served at `/openapi.json`. Bodies are rows in
//! the CLI's file formats (docs/formats.md), so the schemas name their fields rather than
//! restating every row field.

use serde_json::{Value, json};

fn op(summary: &str, request: Option<Value>, response: Value) -> Value {
    let mut op = json!({
        "summary": summary,
        "responses": {
            "200": { "description": "OK; header x-principle-set names the set that answered", "content": { "application/json": { "schema": response } } },
            "400": { "$ref": "#/components/responses/Error" },
            "401": { "$ref": "#/components/responses/Error" },
            "413": { "description": "Body over the size limit" },
            "422": { "$ref": "#/components/responses/Error" },
            "503": { "$ref": "#/components/responses/Error" }
        }
    });
    if let Some(r) = request {
        op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": r } } });
    }
    op
}

fn rows_body(what: &str) -> Value {
    json!({
        "oneOf": [
            { "$ref": "#/components/schemas/Row" },
            { "type": "object", "required": ["rows"], "properties": { "rows": { "type": "array", "items": { "$ref": "#/components/schemas/Row" } } } }
        ],
        "description": what
    })
}

/// The document.
pub fn document() -> Value {
    let object = json!({ "type": "object" });
    let paths = json!({
        "/v1/classify": { "post": op("Label rows on the four clinical dimensions (adds scenario)", Some(rows_body("One row, or {rows: [...]}")), rows_body("The rows with scenario and principle_set")) },
        "/v1/rubrics": { "post": op("Write each row's rubric (adds scenario, rubrics, principle_set; earlier rubrics move to reference_rubrics)", Some(rows_body("One row, or {rows: [...]}")), rows_body("Synthesized rows")) },
        "/v1/explain": { "post": op("Explain each row's rubric: every scenario label with its confidence and rule, what each principle of the pool did (emitted, silent and why, skipped by its gate, failed), and the rubric (adds explanation, principle_set)", Some(rows_body("One row, or {rows: [...]}")), rows_body("The rows with explanation and principle_set")) },
        "/v1/revise": { "post": op("Self-revision: the served model drafts (or the row's response is the draft), the judge grades it against the rubric, the unmet items and penalties become feedback for the next answer; the best answer is kept (adds revision). Options rounds (0-20, default 2), max_tokens (1-4096, default 256), response_field; a bare row may carry them itself, so a clinalign_revise tool call's arguments post as they are", Some(rows_body("Rows with messages (and optionally a response to start from)")), rows_body("The rows with revision {rounds: [{round, answer, score, met, unmet, penalties, feedback}], best, stopped, best_answer, draft_score, best_score}")) },
        "/v1/tools": { "get": op("The engine's tools as OpenAI function-calling schemas, each with the route that executes it", None, json!({ "type": "object", "properties": { "tools": { "type": "array", "items": { "type": "object", "properties": { "name": { "type": "string" }, "route": { "type": "string" }, "schema": object } } } } })) },
        "/": { "get": { "summary": "The principle playground (HTML page; its script, style and examples are served beside it; no token needed for the page, the routes it calls take the token)", "responses": { "200": { "description": "OK", "content": { "text/html": { "schema": { "type": "string" } } } } } } },
        "/v1/grade": { "post": op("Judge each row's response against its rubric (synthesized when absent)", Some(rows_body("Rows with a response (completion, response, or a final assistant turn); option response_field")), json!({ "type": "object", "properties": { "rows": { "type": "array" }, "summary": object, "judge": { "type": "string" }, "principle_set": { "type": "string" } } })) },
        "/v1/reward": { "post": op("One reward per (conversation, response) pair", Some(json!({ "type": "object", "required": ["samples"], "properties": { "samples": { "type": "array", "items": { "$ref": "#/components/schemas/Sample" } }, "detail": { "type": "boolean" } } })), json!({ "type": "object", "properties": { "rewards": { "type": "array", "items": { "type": "number" } }, "scores": { "type": "array", "items": { "type": "number" } }, "details": { "type": "array" }, "judge": { "type": "string" }, "principle_set": { "type": "string" } } })) },
        "/get_reward": { "post": op("OpenRLHF remote reward model", Some(json!({ "type": "object", "properties": { "query": { "type": "array", "items": { "type": "string" } }, "prompts": { "type": "array", "items": { "type": "string" } }, "labels": { "type": "array" } } })), json!({ "type": "object", "properties": { "rewards": { "type": "array", "items": { "type": "number" } }, "scores": { "type": "array", "items": { "type": "number" } }, "extra_logs": object } })) },
        "/v1/chat/completions": { "post": op("OpenAI-compatible chat completions by the local model, with logprobs/top_logprobs", Some(object.clone()), object.clone()) },
        "/v1/completions": { "post": op("OpenAI-compatible text completions by the local model, with logprobs", Some(object.clone()), object.clone()) },
        "/healthz": { "get": { "summary": "Principle set, last reload, judge, model, backend (no token needed)", "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": object } } } } } },
        "/metrics": { "get": { "summary": "Prometheus metrics (OpenMetrics text)", "responses": { "200": { "description": "OK", "content": { "application/openmetrics-text": { "schema": { "type": "string" } } } } } } },
        "/openapi.json": { "get": { "summary": "This document", "responses": { "200": { "description": "OK" } } } }
    });
    json!({
        "openapi": "3.1.0",
        "info": { "title": "ClinAlign engine", "version": env!("CARGO_PKG_VERSION"), "description": "Rubrics, grading and RL rewards from clinician-grounded HealthPrinciples. Every route but /healthz takes Authorization: Bearer <token> when the server has --token-file." },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Row": { "type": "object", "description": "A HealthBench row (prompt, prompt_id, rubrics, …) or {id, messages}; see docs/formats.md", "properties": { "prompt": { "type": "array" }, "messages": { "type": "array" }, "prompt_id": { "type": "string" }, "id": { "type": "string" }, "scenario": { "type": "object" }, "rubrics": { "type": "array" } } },
                "Sample": { "type": "object", "required": ["response"], "properties": { "conversation": { "type": "array" }, "messages": { "type": "array" }, "prompt": { "oneOf": [{ "type": "string" }, { "type": "array" }] }, "response": { "oneOf": [{ "type": "string" }, { "type": "array" }] }, "rubric": { "type": "array" }, "scenario": { "type": "object" }, "id": { "type": "string" } } },
                "Error": { "type": "object", "properties": { "error": { "type": "object", "properties": { "message": { "type": "string" }, "field": { "type": ["string", "null"] }, "row": { "type": ["integer", "null"] } } } } }
            },
            "responses": { "Error": { "description": "An error naming the field and row", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } } }
        },
        "security": [{ "bearer": [] }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::ROUTES;

    #[test]
    fn every_route_is_described() {
        let doc = document();
        for (method, path) in ROUTES {
            assert!(
                doc["paths"][path][method.to_lowercase()].is_object(),
                "{method} {path} is missing from the document"
            );
        }
        assert_eq!(doc["paths"].as_object().unwrap().len(), ROUTES.len(), "no path the router lacks");
    }
}
