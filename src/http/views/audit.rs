//! The audit's answer, the same from `/ops/invariants` and `/admin/invariants`:
//! 200 with the report when every invariant holds; otherwise 409 with the
//! error body every failure has (`code`, `message`) and the report beside it.

use crate::http::error::ErrorCode;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::booking::audit::AuditReport;

/// A report with violations, in the shape of every error.
#[derive(Serialize)]
struct Violated<'a> {
    code: &'static str,
    message: String,
    // Flattened by serde itself, not through `serde_json::Value`: the money
    // figures are `i128`, which a `Value` cannot hold beyond 64 bits.
    #[serde(flatten)]
    report: &'a AuditReport,
}

pub(crate) fn answer(report: &AuditReport) -> Response {
    if report.ok {
        return Json(report).into_response();
    }
    let violated = Violated {
        code: ErrorCode::InvariantViolated.as_str(),
        message: format!(
            "{} invariant(s) violated: {}",
            report.violations.len(),
            report.violations.join("; ")
        ),
        report,
    };
    (StatusCode::CONFLICT, Json(violated)).into_response()
}
