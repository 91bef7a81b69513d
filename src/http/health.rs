//! Liveness and readiness.

use crate::http::error::ErrorCode;
use axum::extract::State;
use axum::http::Method;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::routes::{Class, Routes};
use super::state::AppState;
use crate::store::probe::Health;
use crate::store::Dependency;

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .route(Method::GET, "/health", health, Class::Ops)
        .route(Method::GET, "/ready", ready, Class::Ops)
}

/// Liveness: 200 while the process runs.
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "operations",
    responses((status = 200, description = "the process runs", body = Object, example = json!({ "status": "ok" })))
)]
async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: Redis and Postgres both answer within 0.5 s.
#[utoipa::path(
    get,
    path = "/ready",
    operation_id = "ready",
    tag = "operations",
    responses((
        status = 200,
        description = "both stores answer",
        body = Object,
        example = json!({ "status": "ready", "checks": { "redis": "up", "postgres": "up" } })
    ))
)]
async fn ready(State(state): State<AppState>) -> Response {
    let Health {
        redis: redis_up,
        postgres: postgres_up,
    } = state.probes.run_once().await;
    let mut down = Vec::new();
    if !redis_up {
        down.push(Dependency::Redis.name());
    }
    if !postgres_up {
        down.push(Dependency::Postgres.name());
    }
    let checks = json!({
        "redis": if redis_up { "up" } else { "down" },
        "postgres": if postgres_up { "up" } else { "down" },
    });
    if down.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready", "checks": checks }))).into_response()
    } else {
        let body = json!({
            "code": ErrorCode::DependencyUnavailable.as_str(),
            "message": format!("{} not answering", down.join(" and ")),
            "down": down,
            "checks": checks,
        });
        // Like every 503 of this service: when to look again.
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            Json(body),
        )
            .into_response()
    }
}
