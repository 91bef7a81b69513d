//! Seed 000, APIs 3-6: schedules, seats, seat holds and payment, behind the
//! default queue's token.

use axum::extract::State;
use axum::middleware::from_fn;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::booking::payments::PaymentScope;
use crate::http::booking_latency;
use crate::http::error::{Error, Result};
use crate::http::extract::{self, IdempotencyKey, Path};
use crate::http::gate::{ActiveToken, DefaultQueue, PaymentPass, ReadAccess};
use crate::http::identity::Identity;
use crate::http::state::AppState;
use crate::http::views::{HoldView, PaymentView, SchedulesView, SeatsView};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/concerts/{concert_id}/schedules", get(schedules))
        .route("/api/concerts/{concert_id}/schedules/{schedule_id}/seats", get(seats))
        .route(
            "/api/concerts/{concert_id}/schedules/{schedule_id}/seats/reservation",
            post(reserve).route_layer(from_fn(booking_latency::timed)),
        )
}

pub(super) fn payment_router() -> Router<AppState> {
    Router::new().route(
        "/api/concerts/{concert_id}/schedules/{schedule_id}/seats/reservation/payment",
        post(pay).route_layer(from_fn(booking_latency::timed)),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReservationRequest {
    user_id: i64,
    seats: Vec<i32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaymentRequest {
    user_id: i64,
    concert_schedule_id: Option<i64>,
}

async fn schedules(
    State(state): State<AppState>,
    _: ReadAccess,
    Path(concert_id): Path<i64>,
) -> Result<Json<SchedulesView>> {
    let concert = state.catalog.concert(concert_id)?;
    let schedules = state.holds.availability(state.catalog.schedules_of(&concert)).await?;
    Ok(Json(SchedulesView::new(&concert, schedules, state.clock)))
}

async fn seats(
    State(state): State<AppState>,
    _: ReadAccess,
    Path((concert_id, schedule_id)): Path<(i64, i64)>,
) -> Result<Json<SeatsView>> {
    let concert = state.catalog.concert(concert_id)?;
    let schedule = state.catalog.schedule(&concert, schedule_id)?;
    let seats = state.holds.seat_map(&schedule).await?;
    Ok(Json(SeatsView::new(&schedule, seats, state.clock)))
}

async fn reserve(
    State(state): State<AppState>,
    active: ActiveToken<DefaultQueue>,
    identity: Identity,
    Path((concert_id, schedule_id)): Path<(i64, i64)>,
    extract::Json(request): extract::Json<ReservationRequest>,
) -> Result<Json<HoldView>> {
    let user_id = active.user(identity.user(&state, request.user_id)?)?;
    let concert = state.catalog.concert(concert_id)?;
    let schedule = state.catalog.schedule(&concert, schedule_id)?;
    let hold = state.holds.hold_seats(schedule, user_id, &request.seats).await?;
    Ok(Json(HoldView::new(user_id, &concert, hold, state.clock)))
}

async fn pay(
    State(state): State<AppState>,
    payment: PaymentPass<DefaultQueue>,
    identity: Identity,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    Path((concert_id, schedule_id)): Path<(i64, i64)>,
    extract::Json(request): extract::Json<PaymentRequest>,
) -> Result<Json<PaymentView>> {
    if request.concert_schedule_id.is_some_and(|id| id != schedule_id) {
        return Err(Error::bad_request(
            "SCHEDULE_MISMATCH",
            "concertScheduleId in the body differs from the one in the path",
        ));
    }
    let concert = state.catalog.concert(concert_id)?;
    let schedule = state.catalog.schedule(&concert, schedule_id)?;
    let receipt = state
        .checkout
        .checkout(
            payment.pass,
            identity.user(&state, request.user_id)?,
            PaymentScope::Schedule(schedule),
            idempotency_key.as_deref(),
        )
        .await?;
    Ok(Json(PaymentView::new(receipt, state.clock)))
}
