//! Seed 004: a concert's dates and seats, and holding a seat, behind the
//! concert queue's token.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{concert_date, user_of, Params};
use crate::http::error::Result;
use crate::http::extract::{self, OptionalJson, PresentedToken, Query};
use crate::http::guards::gate::{ActiveToken, ConcertInPath};
use crate::http::guards::identity::Identity;
use crate::http::state::AppState;
use crate::http::views::{HoldView, SchedulesView, SeatsView};

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ConcertListing {
    concert_id: i64,
    concert_code: String,
    concert_name: String,
    schedules: Vec<DateListing>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct DateListing {
    concert_date_id: i64,
    #[schema(schema_with = crate::http::openapi::schemas::local_date_time)]
    schedule_at: String,
}

/// Every concert and its dates, from the in-memory catalog: what a fan picks
/// from before joining a concert's line (an extra route beside seed 004's).
/// Free-seat counts stay behind the token, as in `GET /api/v1/concerts/{code}`.
#[utoipa::path(
    get,
    path = "/api/v1/concerts",
    operation_id = "listConcerts",
    tag = "booking (seed 004)",
    responses((status = 200, description = "every concert and its dates", body = Vec<ConcertListing>, example = json!([{
        "concertId": 1, "concertCode": "hero-autumn", "concertName": "임영웅가을콘서트",
        "schedules": [{ "concertDateId": 1, "scheduleAt": "2030-10-10T19:00:00" }]
    }])))
)]
pub(super) async fn list(State(state): State<AppState>) -> Json<Vec<ConcertListing>> {
    let concerts = state.catalog.concerts();
    Json(
        concerts
            .into_iter()
            .map(|concert| ConcertListing {
                concert_id: concert.id,
                concert_code: concert.code.clone(),
                concert_name: concert.name.clone(),
                schedules: state
                    .catalog
                    .schedules_of(&concert)
                    .iter()
                    .map(|schedule| DateListing {
                        concert_date_id: schedule.id,
                        schedule_at: state.clock.format(schedule.starts_at),
                    })
                    .collect(),
            })
            .collect(),
    )
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({ "UUID": "890cd9f4-4be2-56a3-a116-49b160d80fa5", "concertDate": "2030-10-10T19:00:00", "seatNumber": 10 }))]
pub(super) struct HoldRequest {
    /// The token's user.
    #[serde(rename = "UUID", alias = "uuid")]
    #[schema(format = Uuid)]
    uuid: String,
    /// A date of the token's concert, local time.
    #[serde(rename = "concertDate")]
    #[schema(schema_with = crate::http::openapi::schemas::local_date_time)]
    concert_date: String,
    #[serde(rename = "seatNumber")]
    seat_number: i32,
}

/// A GET's parameters (body or query string), once the user they name is
/// the token's.
fn params_of_token_user(
    state: &AppState,
    identity: &Identity,
    active: &ActiveToken<ConcertInPath>,
    query: Params,
    body: Option<Params>,
) -> Result<Params> {
    let params = Params::merged(query, body);
    active.user(user_of(state, identity, params.uuid.as_deref())?.0)?;
    Ok(params)
}

/// Seed 004: the concert's dates with their free seats.
#[utoipa::path(
    get,
    path = "/api/v1/concerts/{code}",
    operation_id = "concertDates",
    tag = "booking (seed 004)",
    params(("code" = String, Path, description = "the concert's code", example = "hero-autumn"), Params, PresentedToken, Identity),
    responses((status = 200, description = "the concert's dates", body = SchedulesView, example = json!({
        "concertId": 1, "concertCode": "hero-autumn", "concertName": "임영웅가을콘서트",
        "schedules": [{ "concertDateId": 1, "scheduleAt": "2030-10-10T19:00:00", "availableSeatCount": 50, "available": true }]
    })))
)]
pub(super) async fn dates(
    State(state): State<AppState>,
    active: ActiveToken<ConcertInPath>,
    identity: Identity,
    Query(query): Query<Params>,
    OptionalJson(body): OptionalJson<Params>,
) -> Result<Json<SchedulesView>> {
    params_of_token_user(&state, &identity, &active, query, body)?;
    let concert = &active.scope;
    let schedules = state.holds.availability(state.catalog.schedules_of(concert)).await?;
    Ok(Json(SchedulesView::new(concert, schedules, state.clock)))
}

/// Seed 004: the seats of one date, `reserveYn` Y when taken.
#[utoipa::path(
    get,
    path = "/api/v1/concerts/{code}/seats",
    operation_id = "concertSeats",
    tag = "booking (seed 004)",
    params(("code" = String, Path, description = "the concert's code", example = "hero-autumn"), Params, PresentedToken, Identity),
    responses((status = 200, description = "the date's seats", body = SeatsView, example = json!({
        "concertId": 1, "scheduleId": 1, "scheduleAt": "2030-10-10T19:00:00",
        "seats": [{ "seatId": 1, "seatNumber": 1, "reserveYn": "N", "seatPrice": 2000 }]
    })))
)]
pub(super) async fn seats(
    State(state): State<AppState>,
    active: ActiveToken<ConcertInPath>,
    identity: Identity,
    Query(query): Query<Params>,
    OptionalJson(body): OptionalJson<Params>,
) -> Result<Json<SeatsView>> {
    let params = params_of_token_user(&state, &identity, &active, query, body)?;
    let starts_at = concert_date(&state, params.concert_date.as_deref())?;
    let schedule = state.catalog.schedule_at(&active.scope, starts_at)?;
    let seats = state.holds.seat_map(&schedule).await?;
    Ok(Json(SeatsView::new(&schedule, seats, state.clock)))
}

/// Seed 004: hold one seat of a date for a few minutes.
#[utoipa::path(
    patch,
    path = "/api/v1/concerts/{code}",
    operation_id = "holdSeat",
    tag = "booking (seed 004)",
    params(("code" = String, Path, description = "the concert's code", example = "hero-autumn"), PresentedToken, Identity),
    request_body = HoldRequest,
    responses((status = 200, description = "the seat held, until holdExpiresAt", body = HoldView, example = json!({
        "userId": 7, "concertName": "임영웅가을콘서트", "concertScheduleId": 1, "scheduleAt": "2030-10-10T19:00:00",
        "totalPrice": 2000, "holdExpiresAt": "2026-11-23T13:20:35",
        "seats": [{ "seatNumber": 10, "status": "예약완료", "seatPrice": 2000 }]
    })))
)]
pub(super) async fn hold(
    State(state): State<AppState>,
    active: ActiveToken<ConcertInPath>,
    identity: Identity,
    extract::Json(request): extract::Json<HoldRequest>,
) -> Result<Json<HoldView>> {
    let user_id = active.user(user_of(&state, &identity, Some(&request.uuid))?.0)?;
    let starts_at = concert_date(&state, Some(&request.concert_date))?;
    let schedule = state.catalog.schedule_at(&active.scope, starts_at)?;
    let hold = state
        .holds
        .hold_seats(schedule, user_id, &active.token.queue, &[request.seat_number])
        .await?;
    Ok(Json(HoldView::new(user_id, &active.scope, hold, state.clock)))
}
