//! Seed 000, APIs 3-6: schedules, seats, seat holds and payment, behind the
//! default queue's token.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::error::{Error, Result};
use super::extract::{self, IdempotencyKey, Path, QueueTokenHeader};
use super::views::{HoldView, PaymentView, SchedulesView, SeatsView};
use super::AppState;
use crate::booking::catalog::Concert;
use crate::queue::{Admission, QueueError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/concerts/{concert_id}/schedules", get(schedules))
        .route("/api/concerts/{concert_id}/schedules/{schedule_id}/seats", get(seats))
        .route(
            "/api/concerts/{concert_id}/schedules/{schedule_id}/seats/reservation",
            post(reserve),
        )
        .route(
            "/api/concerts/{concert_id}/schedules/{schedule_id}/seats/reservation/payment",
            post(pay),
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

/// Schedules and seats are open reads unless configured to need an active token.
async fn guard_read(state: &AppState, token: Option<String>, user: Option<i64>) -> Result<()> {
    if state.config.booking.reads_require_token {
        admit(state, token, user).await?;
    }
    Ok(())
}

async fn admit(state: &AppState, token: Option<String>, user: Option<i64>) -> Result<Admission> {
    let token = token.ok_or(QueueError::TokenMissing)?;
    Ok(state
        .queue
        .authorize(&state.config.queue.default_queue, &token, user)
        .await?)
}

pub(super) async fn schedules_of(state: &AppState, concert: &Concert) -> Result<SchedulesView> {
    let catalog = state.booking.catalog();
    let mut schedules = Vec::new();
    for schedule in catalog.schedules_of(concert) {
        schedules.push((schedule.as_ref(), state.booking.free_seat_count(schedule).await?));
    }
    Ok(SchedulesView::new(concert, schedules, state.clock))
}

async fn schedules(
    State(state): State<AppState>,
    QueueTokenHeader(token): QueueTokenHeader,
    Path(concert_id): Path<i64>,
) -> Result<Json<SchedulesView>> {
    guard_read(&state, token, None).await?;
    let concert = state.booking.concert(concert_id)?;
    Ok(Json(schedules_of(&state, &concert).await?))
}

async fn seats(
    State(state): State<AppState>,
    QueueTokenHeader(token): QueueTokenHeader,
    Path((concert_id, schedule_id)): Path<(i64, i64)>,
) -> Result<Json<SeatsView>> {
    guard_read(&state, token, None).await?;
    let concert = state.booking.concert(concert_id)?;
    let schedule = state.booking.schedule(&concert, schedule_id)?;
    let seats = state.booking.seat_map(&schedule).await?;
    Ok(Json(SeatsView::new(&schedule, seats, state.clock)))
}

async fn reserve(
    State(state): State<AppState>,
    QueueTokenHeader(token): QueueTokenHeader,
    Path((concert_id, schedule_id)): Path<(i64, i64)>,
    extract::Json(request): extract::Json<ReservationRequest>,
) -> Result<Json<HoldView>> {
    let admission = admit(&state, token, Some(request.user_id)).await?;
    let concert = state.booking.concert(concert_id)?;
    let schedule = state.booking.schedule(&concert, schedule_id)?;
    let hold = state
        .booking
        .hold_seats(schedule, admission.token.user_id, &request.seats)
        .await?;
    Ok(Json(HoldView::new(
        admission.token.user_id,
        &concert,
        hold,
        state.clock,
    )))
}

async fn pay(
    State(state): State<AppState>,
    QueueTokenHeader(token): QueueTokenHeader,
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
    let token = token.ok_or(QueueError::TokenMissing)?;
    let concert = state.booking.concert(concert_id)?;
    let schedule = state.booking.schedule(&concert, schedule_id)?;
    let queue = &state.config.queue.default_queue;
    let receipt = state
        .booking
        .checkout(
            queue,
            &token,
            Some(request.user_id),
            &[schedule],
            idempotency_key.as_deref(),
        )
        .await?;
    Ok(Json(PaymentView::new(receipt, state.clock)))
}
