//! For the operations team: live queue metrics for Prometheus and the audit of
//! the business invariants.

use std::fmt::Write;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::error::Result;
use super::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/ops/invariants", get(invariants))
}

/// 200 with the report when every invariant holds; otherwise 409 with the
/// error body every failure has (`code`, `message`) and the report beside it.
async fn invariants(State(state): State<AppState>) -> Result<Response> {
    let report = state.auditor.run().await?;
    if report.ok {
        return Ok(Json(report).into_response());
    }
    let mut body = json!({
        "code": "INVARIANT_VIOLATED",
        "message": format!("{} invariant(s) violated: {}", report.violations.len(), report.violations.join("; ")),
    });
    if let (Some(fields), Ok(serde_json::Value::Object(report))) = (body.as_object_mut(), serde_json::to_value(&report))
    {
        fields.extend(report);
    }
    Ok((StatusCode::CONFLICT, Json(body)).into_response())
}

/// Prometheus text format: per-queue gauges and counters read from Redis.
async fn metrics(State(state): State<AppState>) -> Response {
    let queues = state.catalog.queue_names(&state.config.queue.default_queue);
    let mut out = String::new();
    let gauges = [
        ("boxoffice_queue_waiting", "gauge", "Users waiting in line."),
        ("boxoffice_queue_active", "gauge", "Users admitted and active."),
        (
            "boxoffice_queue_admission_rate",
            "gauge",
            "Measured admissions per second (moving average).",
        ),
        ("boxoffice_queue_joined_total", "counter", "Tokens issued."),
        ("boxoffice_queue_admitted_total", "counter", "Users admitted."),
        (
            "boxoffice_queue_abandoned_total",
            "counter",
            "Waiting users dropped for not polling.",
        ),
        (
            "boxoffice_queue_expired_total",
            "counter",
            "Active tokens that ran out.",
        ),
        (
            "boxoffice_queue_completed_total",
            "counter",
            "Active tokens ended by a payment.",
        ),
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for queue in &queues {
        match state.scheduler.stats(queue).await {
            Ok(stats) => rows.push(vec![
                stats.waiting.to_string(),
                stats.active.to_string(),
                format!("{}", stats.admission_rate),
                stats.joined.to_string(),
                stats.admitted.to_string(),
                stats.abandoned.to_string(),
                stats.expired.to_string(),
                stats.completed.to_string(),
            ]),
            Err(err) => return super::Error::from(err).into_response(),
        }
    }
    for (index, (name, kind, help)) in gauges.iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (queue, row) in queues.iter().zip(&rows) {
            let _ = writeln!(out, "{name}{{queue=\"{queue}\"}} {}", row[index]);
        }
    }
    let _ = writeln!(
        out,
        "# HELP boxoffice_known_users Users in the in-memory directory.\n# TYPE boxoffice_known_users gauge\nboxoffice_known_users {}",
        state.users.len()
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
