//! Seed 004: the `/api/v1` design, one queue per concert code, users by UUID.
//! A thin skin over the same queue and booking services as `/api`; where the
//! seed leaves a response blank, the body is the one `/api` gives for the same thing.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::balances::charge_amount;
use super::concerts::schedules_of;
use super::error::{Error, Result};
use super::extract::{self, IdempotencyKey, OptionalJson, Path, Query, QueueTokenHeader};
use super::views::{HoldView, PaymentView, SchedulesView, SeatsView, TicketView};
use super::AppState;
use crate::booking::catalog::{Concert, Schedule};
use crate::booking::BookingError;
use crate::queue::{Admission, QueueError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/concerts/{code}/token", post(join).get(poll))
        .route("/api/v1/concerts/{code}", get(dates).patch(hold))
        .route("/api/v1/concerts/{code}/seats", get(seats))
        .route("/api/v1/users/{uuid}/balance", get(balance).patch(charge))
        .route("/api/v1/payments", post(pay))
}

#[derive(Deserialize, Default)]
struct Params {
    #[serde(rename = "UUID", alias = "uuid")]
    uuid: Option<String>,
    #[serde(rename = "concertDate")]
    concert_date: Option<String>,
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BalanceView {
    #[serde(rename = "UUID")]
    uuid: Uuid,
    user_id: i64,
    amount: i64,
}

fn user_of(state: &AppState, uuid: Option<&str>) -> Result<(i64, Uuid)> {
    let raw = uuid.ok_or_else(|| Error::bad_request("MISSING_UUID", "the UUID of the user is required"))?;
    let uuid = Uuid::parse_str(raw.trim())
        .map_err(|_| Error::bad_request("INVALID_UUID", format!("`{raw}` is not a UUID")))?;
    let user_id = state.users.id_of(&uuid).ok_or_else(|| Error::NotFound {
        code: "USER_NOT_FOUND",
        message: format!("no user has UUID {uuid}"),
    })?;
    Ok((user_id, uuid))
}

/// Parameters of a GET: from the JSON body (as the seed says) or the query string.
fn merge(query: Params, body: Option<Params>) -> Params {
    let body = body.unwrap_or_default();
    Params {
        uuid: body.uuid.or(query.uuid),
        concert_date: body.concert_date.or(query.concert_date),
    }
}

/// The concert, and the caller's active token for its queue.
async fn admit(
    state: &AppState,
    code: &str,
    token: Option<String>,
    uuid: Option<&str>,
) -> Result<(Arc<Concert>, Admission)> {
    let concert = state.booking.concert_by_code(code)?;
    let token = token.ok_or(QueueError::TokenMissing)?;
    let (user_id, _) = user_of(state, uuid)?;
    let admission = state.queue.authorize(&concert.code, &token, Some(user_id)).await?;
    Ok((concert, admission))
}

fn schedule_at(state: &AppState, concert: &Concert, date: Option<&str>) -> Result<Arc<Schedule>> {
    let raw = date.ok_or_else(|| Error::bad_request("MISSING_DATE", "concertDate is required"))?;
    let at = state.clock.parse(raw).ok_or_else(|| {
        Error::bad_request(
            "INVALID_DATE",
            format!("`{raw}` is not a date-time like 2024-10-10T10:00:00"),
        )
    })?;
    let catalog = state.booking.catalog();
    let found = catalog
        .schedules_of(concert)
        .find(|schedule| schedule.starts_at == at)
        .cloned();
    found.ok_or(Error::Booking(BookingError::ScheduleNotFound))
}

async fn join(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(code): Path<String>,
    extract::Json(params): extract::Json<Params>,
) -> Result<Response> {
    let concert = state.booking.concert_by_code(&code)?;
    let (user_id, uuid) = user_of(&state, params.uuid.as_deref())?;
    state.join_limiter.check(user_id, Some(peer.ip()))?;
    let ticket = state.queue.join(&concert.code, user_id).await?;
    Ok(TicketView::new(uuid, ticket, state.clock).into_response_with_hint())
}

async fn poll(
    State(state): State<AppState>,
    Path(code): Path<String>,
    QueueTokenHeader(token): QueueTokenHeader,
) -> Result<Response> {
    let concert = state.booking.concert_by_code(&code)?;
    let token = token.ok_or(QueueError::TokenMissing)?;
    let ticket = state.queue.poll_token(&concert.code, &token).await?;
    let uuid = state.users.uuid_of(ticket.user_id).unwrap_or_default();
    Ok(TicketView::new(uuid, ticket, state.clock).into_response_with_hint())
}

async fn dates(
    State(state): State<AppState>,
    Path(code): Path<String>,
    QueueTokenHeader(token): QueueTokenHeader,
    Query(query): Query<Params>,
    OptionalJson(body): OptionalJson<Params>,
) -> Result<Json<SchedulesView>> {
    let params = merge(query, body);
    let (concert, _) = admit(&state, &code, token, params.uuid.as_deref()).await?;
    Ok(Json(schedules_of(&state, &concert).await?))
}

async fn seats(
    State(state): State<AppState>,
    Path(code): Path<String>,
    QueueTokenHeader(token): QueueTokenHeader,
    Query(query): Query<Params>,
    OptionalJson(body): OptionalJson<Params>,
) -> Result<Json<SeatsView>> {
    let params = merge(query, body);
    let (concert, _) = admit(&state, &code, token, params.uuid.as_deref()).await?;
    let schedule = schedule_at(&state, &concert, params.concert_date.as_deref())?;
    let seats = state.booking.seat_map(&schedule).await?;
    Ok(Json(SeatsView::new(&schedule, seats, state.clock)))
}

async fn hold(
    State(state): State<AppState>,
    Path(code): Path<String>,
    QueueTokenHeader(token): QueueTokenHeader,
    extract::Json(request): extract::Json<HoldRequest>,
) -> Result<Json<HoldView>> {
    let (concert, admission) = admit(&state, &code, token, Some(&request.uuid)).await?;
    let schedule = schedule_at(&state, &concert, Some(&request.concert_date))?;
    let user_id = admission.token.user_id;
    let hold = state
        .booking
        .hold_seats(schedule, user_id, &[request.seat_number])
        .await?;
    Ok(Json(HoldView::new(user_id, &concert, hold, state.clock)))
}

async fn balance(State(state): State<AppState>, Path(uuid): Path<String>) -> Result<Json<BalanceView>> {
    let (user_id, uuid) = user_of(&state, Some(&uuid))?;
    let balance = state.booking.balance(user_id).await?;
    Ok(Json(BalanceView {
        uuid,
        user_id,
        amount: balance.amount,
    }))
}

async fn charge(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    extract::Json(body): extract::Json<Value>,
) -> Result<Json<BalanceView>> {
    let (user_id, uuid) = user_of(&state, Some(&uuid))?;
    let amount = charge_amount(&body, state.config.booking.max_charge)?;
    let balance = state.booking.charge(user_id, amount, key.as_deref()).await?;
    Ok(Json(BalanceView {
        uuid,
        user_id,
        amount: balance.amount,
    }))
}

async fn pay(
    State(state): State<AppState>,
    QueueTokenHeader(token): QueueTokenHeader,
    IdempotencyKey(key): IdempotencyKey,
    extract::Json(params): extract::Json<Params>,
) -> Result<Json<PaymentView>> {
    let token = token.ok_or(QueueError::TokenMissing)?;
    let queue = state.queue.queue_of(&token)?;
    // Only concert queues sell through /api/v1; a default-queue token does not fit here.
    let concert = state
        .booking
        .concert_by_code(&queue)
        .map_err(|_| QueueError::TokenMismatch)?;
    let (user_id, _) = user_of(&state, params.uuid.as_deref())?;
    let schedules: Vec<Arc<Schedule>> = state.booking.catalog().schedules_of(&concert).cloned().collect();
    let receipt = state
        .booking
        .checkout(&concert.code, &token, Some(user_id), &schedules, key.as_deref())
        .await?;
    Ok(Json(PaymentView::new(receipt, state.clock)))
}
