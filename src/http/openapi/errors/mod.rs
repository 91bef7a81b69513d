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

use serde_json::{json, Value};

use sources::Codes;
use table::ERRORS;

use crate::http::edge::shedding::ShedGroup;
use crate::http::error::ErrorCode;
use crate::http::routes::{Deadline, Declared};

/// Writes each operation's error responses into the generated document:
/// those of the table, and those its route's class brings (`TIMEOUT` under a
/// request deadline, `OVERLOADED` in a shed group), read from the route table
/// so that they cannot disagree with how the route is served. An operation
/// missing from the table, or a table entry naming no operation, is a mistake
/// caught by the tests (`unlisted`).
pub(super) fn add_error_responses(document: &mut Value, routes: &[Declared]) {
    let table: BTreeMap<&str, &[Codes]> = ERRORS.iter().copied().collect();
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, operation) in item.iter_mut() {
            let Some(sources) = operation["operationId"].as_str().and_then(|id| table.get(id)) else {
                continue;
            };
            let mut sources = sources.to_vec();
            let class = routes
                .iter()
                .find(|route| route.openapi_path() == *path && route.method.as_str().eq_ignore_ascii_case(method))
                .map(|route| route.class);
            if let Some(class) = class {
                if class.deadline() == Deadline::Request {
                    sources.push(DEADLINE);
                }
                if class.shed_group() != ShedGroup::Never {
                    sources.push(SHED);
                }
            }
            let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for (status, codes) in by_status(&sources) {
                responses.insert(status.to_string(), error_response(status, &codes));
            }
        }
    }
}

/// What a route's deadline adds (`edge::middleware::with_deadline`).
const DEADLINE: Codes = &[ErrorCode::Timeout];
/// What a route in a shed group adds (`edge::shedding`).
const SHED: Codes = &[ErrorCode::Overloaded];

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
