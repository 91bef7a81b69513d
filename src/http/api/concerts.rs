//! Seed 000, APIs 3-6: schedules, seats, seat holds and payment, behind the
//! default queue's token.

use crate::http::error::ErrorCode;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::booking::payments::PaymentScope;
use crate::http::error::{Error, Result};
use crate::http::extract::{self, IdempotencyKey, Path, PresentedToken};
use crate::http::guards::gate::{ActiveToken, DefaultQueue, PaymentPass, ReadAccess};
use crate::http::guards::identity::Identity;
use crate::http::state::AppState;
use crate::http::views::{HoldView, PaymentView, SchedulesView, SeatsView};

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({ "userId": 1, "seats": [1, 2] }))]
pub(super) struct ReservationRequest {
    /// The token's user.
    #[schema(minimum = 1)]
    user_id: i64,
    /// Seat numbers on the schedule; all are held, or none.
    seats: Vec<i32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({ "userId": 1, "concertScheduleId": 1 }))]
pub(super) struct PaymentRequest {
    /// The token's user.
    #[schema(minimum = 1)]
    user_id: i64,
    /// When given, the path's schedule (else 400 SCHEDULE_MISMATCH).
    concert_schedule_id: Option<i64>,
}

/// Seed 000 API 3: a concert's dates with their free seats (an open read
/// unless BOXOFFICE_READS_REQUIRE_TOKEN is set).
#[utoipa::path(
    get,
    path = "/api/concerts/{concert_id}/schedules",
    operation_id = "listSchedules",
    tag = "booking (seed 000)",
    params(("concert_id" = i64, Path, description = "the concert", example = 1), PresentedToken),
    responses((status = 200, description = "the concert's dates", body = SchedulesView, example = json!({
        "concertId": 1, "concertCode": "hero-autumn", "concertName": "임영웅가을콘서트",
        "schedules": [{ "concertDateId": 1, "scheduleAt": "2030-10-10T19:00:00", "availableSeatCount": 50, "available": true }]
    })))
)]
pub(super) async fn schedules(
    State(state): State<AppState>,
    _: ReadAccess,
    Path(concert_id): Path<i64>,
) -> Result<Json<SchedulesView>> {
    let concert = state.catalog.concert(concert_id)?;
    let schedules = state.holds.availability(state.catalog.schedules_of(&concert)).await?;
    Ok(Json(SchedulesView::new(&concert, schedules, state.clock)))
}

/// Seed 000 API 4: the seats of a date, `reserveYn` Y when taken.
#[utoipa::path(
    get,
    path = "/api/concerts/{concert_id}/schedules/{schedule_id}/seats",
    operation_id = "listSeats",
    tag = "booking (seed 000)",
    params(
        ("concert_id" = i64, Path, description = "the concert", example = 1),
        ("schedule_id" = i64, Path, description = "the date (concertDateId)", example = 1),
        PresentedToken
    ),
    responses((status = 200, description = "the date's seats", body = SeatsView, example = json!({
        "concertId": 1, "scheduleId": 1, "scheduleAt": "2030-10-10T19:00:00",
        "seats": [{ "seatId": 1, "seatNumber": 1, "reserveYn": "N", "seatPrice": 2000 }]
    })))
)]
pub(super) async fn seats(
    State(state): State<AppState>,
    _: ReadAccess,
    Path((concert_id, schedule_id)): Path<(i64, i64)>,
) -> Result<Json<SeatsView>> {
    let concert = state.catalog.concert(concert_id)?;
    let schedule = state.catalog.schedule(&concert, schedule_id)?;
    let seats = state.holds.seat_map(&schedule).await?;
    Ok(Json(SeatsView::new(&schedule, seats, state.clock)))
}

/// Seed 000 API 5: hold seats for a few minutes, all or none.
#[utoipa::path(
    post,
    path = "/api/concerts/{concert_id}/schedules/{schedule_id}/seats/reservation",
    operation_id = "holdSeats",
    tag = "booking (seed 000)",
    params(
        ("concert_id" = i64, Path, description = "the concert", example = 1),
        ("schedule_id" = i64, Path, description = "the date (concertDateId)", example = 1),
        PresentedToken,
        Identity
    ),
    request_body = ReservationRequest,
    responses((status = 200, description = "the seats held, until holdExpiresAt", body = HoldView, example = json!({
        "userId": 1, "concertName": "임영웅가을콘서트", "concertScheduleId": 1, "scheduleAt": "2030-10-10T19:00:00",
        "totalPrice": 4000, "holdExpiresAt": "2026-11-23T13:20:35",
        "seats": [{ "seatNumber": 1, "status": "예약완료", "seatPrice": 2000 }, { "seatNumber": 2, "status": "예약완료", "seatPrice": 2000 }]
    })))
)]
pub(super) async fn reserve(
    State(state): State<AppState>,
    active: ActiveToken<DefaultQueue>,
    identity: Identity,
    Path((concert_id, schedule_id)): Path<(i64, i64)>,
    extract::Json(request): extract::Json<ReservationRequest>,
) -> Result<Json<HoldView>> {
    let user_id = active.user(identity.user(&state, request.user_id)?)?;
    let concert = state.catalog.concert(concert_id)?;
    let schedule = state.catalog.schedule(&concert, schedule_id)?;
    let hold = state
        .holds
        .hold_seats(schedule, user_id, &active.token.queue, &request.seats)
        .await?;
    Ok(Json(HoldView::new(user_id, &concert, hold, state.clock)))
}

/// Seed 000 API 6: pay for every seat held on the date; ends the token.
#[utoipa::path(
    post,
    path = "/api/concerts/{concert_id}/schedules/{schedule_id}/seats/reservation/payment",
    operation_id = "paySchedule",
    tag = "booking (seed 000)",
    params(
        ("concert_id" = i64, Path, description = "the concert", example = 1),
        ("schedule_id" = i64, Path, description = "the date (concertDateId)", example = 1),
        PresentedToken,
        IdempotencyKey,
        Identity
    ),
    request_body = PaymentRequest,
    responses((status = 200, description = "the receipt (a retry with the same Idempotency-Key gets it again)", body = PaymentView,
        example = json!({
            "paymentDate": "2026-11-23T13:16:02", "paymentAmount": 4000, "paymentStatus": "결제 완료",
            "paymentIds": [1], "userId": 1, "balance": 0,
            "seats": [{ "concertScheduleId": 1, "seatNumber": 1, "seatPrice": 2000 }, { "concertScheduleId": 1, "seatNumber": 2, "seatPrice": 2000 }]
        })))
)]
pub(super) async fn pay(
    State(state): State<AppState>,
    payment: PaymentPass<DefaultQueue>,
    identity: Identity,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    Path((concert_id, schedule_id)): Path<(i64, i64)>,
    extract::Json(request): extract::Json<PaymentRequest>,
) -> Result<Json<PaymentView>> {
    if request.concert_schedule_id.is_some_and(|id| id != schedule_id) {
        return Err(Error::refused(
            ErrorCode::ScheduleMismatch,
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
