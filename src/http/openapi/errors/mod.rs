//! Which errors each operation can answer, by status and machine code, and
//! how they are written into the document.
//!
//! Most errors come from what a handler is built of (its extractors, the
//! layers around its router), so the table lists those sources by name, then
//! the codes of the handler's own domain calls. Each error status of an
//! operation gets the `ErrorBody` schema with `code` narrowed to exactly the
//! codes listed, so a client (or schemathesis) sees an undocumented code as
//! the bug it is. 429 and 503 carry `Retry-After`.

mod sources;
mod table;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use sources::Codes;
use table::ERRORS;

/// Writes each operation's error responses into the generated document.
/// An operation missing from the table, or a table entry naming no
/// operation, is a mistake caught by the tests (`unlisted`).
pub(super) fn add_error_responses(document: &mut Value) {
    let table: BTreeMap<&str, &[Codes]> = ERRORS.iter().copied().collect();
    for operation in operations_mut(document) {
        let Some(id) = operation["operationId"].as_str() else {
            continue;
        };
        let Some(sources) = table.get(id) else { continue };
        let responses = operation["responses"]
            .as_object_mut()
            .expect("an operation has responses");
        for (status, codes) in by_status(sources) {
            responses.insert(status.to_string(), error_response(status, &codes));
        }
    }
}

/// Operations without an entry in the table, and entries without an operation.
#[cfg(test)]
pub(super) fn unlisted(document: &Value) -> (Vec<String>, Vec<&'static str>) {
    let mut ids = Vec::new();
    if let Some(paths) = document["paths"].as_object() {
        for item in paths.values().filter_map(Value::as_object) {
            ids.extend(
                item.values()
                    .filter_map(|op| op["operationId"].as_str().map(str::to_string)),
            );
        }
    }
    let missing = ids
        .iter()
        .filter(|id| !ERRORS.iter().any(|(name, _)| name == id))
        .cloned()
        .collect();
    let stale = ERRORS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !ids.iter().any(|id| id == name))
        .collect();
    (missing, stale)
}

fn operations_mut(document: &mut Value) -> impl Iterator<Item = &mut Value> {
    document["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(Map::values_mut)
        .filter(|operation| operation.get("responses").is_some())
}

/// Codes grouped by status, each once, in the table's order.
fn by_status(sources: &[Codes]) -> BTreeMap<u16, Vec<&'static str>> {
    let mut grouped: BTreeMap<u16, Vec<&'static str>> = BTreeMap::new();
    for &code in sources.iter().flat_map(|codes| codes.iter()) {
        let codes = grouped.entry(code.status_u16()).or_default();
        if !codes.contains(&code.as_str()) {
            codes.push(code.as_str());
        }
    }
    grouped
}

fn error_response(status: u16, codes: &[&str]) -> Value {
    let listed = codes
        .iter()
        .map(|code| format!("`{code}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut response = json!({
        "description": format!("{}: {listed}", reason(status)),
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [
                        { "$ref": "#/components/schemas/ErrorBody" },
                        { "type": "object", "properties": { "code": { "type": "string", "enum": codes } } }
                    ]
                },
                "example": { "code": codes[0], "message": "what went wrong, for people" }
            }
        }
    });
    if status == 429 || status == 503 {
        response["headers"] = json!({
            "Retry-After": {
                "description": "seconds to wait before trying again",
                "required": true,
                "schema": { "type": "integer", "minimum": 1 }
            }
        });
    }
    response
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not found",
        409 => "Conflict",
        413 => "Payload too large",
        422 => "Unprocessable",
        429 => "Rate limited",
        500 => "Internal error (details only in the server log)",
        503 => "Service unavailable (nothing was done, except after OUTCOME_UNKNOWN)",
        _ => "Error",
    }
}
