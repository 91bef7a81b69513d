//! Seed 004: a concert's dates and seats, and holding a seat, behind the
//! concert queue's token.

use axum::extract::State;
use axum::middleware::from_fn;
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{concert_date, user_of, Params};
use crate::http::booking_latency;
use crate::http::error::Result;
use crate::http::extract::{self, OptionalJson, Query};
use crate::http::gate::{ActiveToken, ConcertInPath};
use crate::http::identity::Identity;
use crate::http::state::AppState;
use crate::http::views::{HoldView, SchedulesView, SeatsView};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/concerts/{code}",
            get(dates).merge(patch(hold).route_layer(from_fn(booking_latency::timed))),
        )
        .route("/api/v1/concerts/{code}/seats", get(seats))
        .route("/api/v1/concerts", get(list))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConcertListing {
    concert_id: i64,
    concert_code: String,
    concert_name: String,
    schedules: Vec<DateListing>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DateListing {
    concert_date_id: i64,
    schedule_at: String,
}

/// Every concert and its dates, from the in-memory catalog: what a fan picks
/// from before joining a concert's line (an extra route beside seed 004's).
/// Free-seat counts stay behind the token, as in `GET /api/v1/concerts/{code}`.
async fn list(State(state): State<AppState>) -> Json<Vec<ConcertListing>> {
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

#[derive(Deserialize)]
struct HoldRequest {
    #[serde(rename = "UUID", alias = "uuid")]
    uuid: String,
    #[serde(rename = "concertDate")]
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

async fn dates(
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

async fn seats(
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

async fn hold(
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
        .hold_seats(schedule, user_id, &[request.seat_number])
        .await?;
    Ok(Json(HoldView::new(user_id, &active.scope, hold, state.clock)))
}
