//! For the operations team: live queue metrics for Prometheus, the audit of
//! the business invariants, and the open reads behind the `/ops` page (each
//! queue's figures, sales, seat maps, this instance's refusals: no one's
//! identity, so no token needed).

use axum::extract::State;
use axum::http::header;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use metrics::{counter, gauge};

use super::edge::join_limits::JoinRefusals;
use super::error::Result;
use super::extract::Path;
use super::guards::door::DoorRefusalsView;
use super::routes::{Class, Routes};
use super::state::AppState;
use super::views::audit;
use super::views::operations::{self, ConcertSales, Holders, QueueView, SeatMap};
use crate::booking::audit::AuditReport;
use crate::queue::overview::overview;
use crate::queue::settings::QueueState;
use crate::telemetry::metrics as m;

pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .route(Method::GET, "/metrics", metrics, Class::Ops)
        .route(Method::GET, "/ops/invariants", invariants, Class::Ops)
        .route(Method::GET, "/ops/queues", queues, Class::Ops)
        .route(Method::GET, "/ops/sales", sales, Class::Ops)
        .route(Method::GET, "/ops/schedules/{schedule_id}/seats", seats, Class::Ops)
        .route(Method::GET, "/ops/refusals", refusals, Class::Ops)
}

/// Requests this instance refused before doing their work, since it started.
/// Counts of one instance, kept in memory: a refusal must cost next to nothing,
/// so it is not written anywhere shared; `/metrics` has them by route, and
/// Prometheus adds up the instances.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefusalsView {
    /// `503 OVERLOADED`: shed, beyond a group's in-flight bound.
    overloaded: u64,
    /// `429 RATE_LIMITED`: beyond a per-user or per-client-IP rate (joins among them).
    rate_limited: u64,
    /// The joins among them, by the limit they tripped.
    joins_rate_limited: JoinRefusals,
    /// `403`: joins turned away at the door, by reason (a challenge, an invitation).
    joins_refused: DoorRefusalsView,
}

#[utoipa::path(
    get,
    path = "/ops/refusals",
    operation_id = "opsRefusals",
    tag = "operations",
    responses((status = 200, description = "this instance's sheds, rate-limit refusals and joins refused at the door since it started", body = RefusalsView))
)]
async fn refusals(State(state): State<AppState>) -> Json<RefusalsView> {
    Json(RefusalsView {
        overloaded: state.shed.refused(),
        rate_limited: state.limits.refused(),
        joins_rate_limited: state.limits.joins_refused(),
        joins_refused: state.door.view(),
    })
}

#[utoipa::path(
    get,
    path = "/ops/queues",
    operation_id = "opsQueues",
    tag = "operations",
    responses((status = 200, description = "every queue's figures and settings", body = Vec<QueueView>))
)]
async fn queues(State(state): State<AppState>) -> Result<Json<Vec<QueueView>>> {
    Ok(Json(operations::queue_views(&state).await?))
}

#[utoipa::path(
    get,
    path = "/ops/sales",
    operation_id = "opsSales",
    tag = "operations",
    responses((status = 200, description = "every concert's seat counts and sales per schedule", body = Vec<ConcertSales>))
)]
async fn sales(State(state): State<AppState>) -> Result<Json<Vec<ConcertSales>>> {
    Ok(Json(operations::sales(&state).await?))
}

#[utoipa::path(
    get,
    path = "/ops/schedules/{schedule_id}/seats",
    operation_id = "opsSeatMap",
    tag = "operations",
    params(("schedule_id" = i64, Path, description = "the schedule (concertDateId)", example = 1)),
    responses((status = 200, description = "the seat map, without who holds what", body = SeatMap))
)]
async fn seats(State(state): State<AppState>, Path(schedule_id): Path<i64>) -> Result<Json<SeatMap>> {
    Ok(Json(operations::seat_map(&state, schedule_id, Holders::Hidden).await?))
}

/// The latest audit, recomputed when older than `BOXOFFICE_AUDIT_MAX_AGE_MS`
/// (one run at a time, shared by every caller, on a connection of its own).
#[utoipa::path(
    get,
    path = "/ops/invariants",
    operation_id = "invariants",
    tag = "operations",
    responses((status = 200, description = "every invariant holds, as of `checked_at` (at most BOXOFFICE_AUDIT_MAX_AGE_MS old, 2 s by default; 409 INVARIANT_VIOLATED carries the same report)", body = AuditReport))
)]
async fn invariants(State(state): State<AppState>) -> Result<Response> {
    Ok(audit::answer(&state.audit.recent().await?.report))
}

/// Prometheus text format, rendered by the metrics exporter. The per-queue
/// figures live in Redis (the queue's scripts keep them, so every instance
/// reports the same) and are copied in here, one pipeline per queue.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4", body = String))
)]
async fn metrics(State(state): State<AppState>) -> Response {
    for queue in state.catalog.queue_names(&state.config.queue.default_queue) {
        let overview = match overview(&state.scheduler, &state.settings, &queue).await {
            Ok(overview) => overview,
            Err(err) => return super::error::Error::from(err).into_response(),
        };
        let (stats, settings) = (&overview.stats, &overview.settings);
        let label = [("queue", queue.clone())];
        gauge!(m::QUEUE_WAITING, &label).set(stats.waiting as f64);
        gauge!(m::QUEUE_ACTIVE, &label).set(stats.active as f64);
        gauge!(m::QUEUE_RATE, &label).set(stats.admission_rate);
        gauge!(m::QUEUE_RATE_60, &label).set(stats.admission_rate_60);
        gauge!(m::QUEUE_ETA_LAST, &label).set(overview.eta_seconds_of_last as f64);
        let state_code = match settings.state {
            QueueState::Open => 0.0,
            QueueState::Paused => 1.0,
            QueueState::Closed => 2.0,
        };
        gauge!(m::QUEUE_STATE, &label).set(state_code);
        gauge!(m::QUEUE_MAX_ACTIVE, &label).set(settings.max_active as f64);
        gauge!(m::QUEUE_RATE_SETTING, &label).set(settings.admit_rate as f64);
        gauge!(m::QUEUE_RATE_IN_USE, &label).set(overview.rate_in_use as f64);
        let p99_ms = overview.adaptive().map_or(0, |status| status.p99_ms);
        gauge!(m::QUEUE_BOOKING_P99, &label).set(p99_ms as f64 / 1000.0);
        counter!(m::QUEUE_JOINED, &label).absolute(stats.joined);
        counter!(m::QUEUE_ADMITTED, &label).absolute(stats.admitted);
        counter!(m::QUEUE_ABANDONED, &label).absolute(stats.abandoned);
        counter!(m::QUEUE_EXPIRED, &label).absolute(stats.expired);
        counter!(m::QUEUE_COMPLETED, &label).absolute(stats.completed);
    }
    let pool = state.database.pool();
    let idle = pool.num_idle() as f64;
    gauge!(m::DB_POOL_CONNECTIONS, "state" => "idle").set(idle);
    gauge!(m::DB_POOL_CONNECTIONS, "state" => "in_use").set(f64::from(pool.size()) - idle);
    gauge!(m::DB_POOL_MAX).set(f64::from(state.config.db_max_connections));
    gauge!(m::KNOWN_USERS).set(state.users.len() as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        m::handle().render(),
    )
        .into_response()
}
