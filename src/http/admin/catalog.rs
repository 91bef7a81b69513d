//! The catalog: a new concert with its schedules and seats (every instance
//! picks it up within a second, and its queue exists at once), and a schedule's
//! seat map with who has each seat and what the schedule has sold.

use crate::http::error::ErrorCode;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Admin;
use crate::booking::catalog_editor::{NewConcert, NewSchedule};
use crate::booking::money::MAX_PRICE;
use crate::http::error::{Error, Result};
use crate::http::extract::{self, Path};
use crate::http::openapi::schemas;
use crate::http::state::AppState;
use crate::http::views::operations::{self, Holders, SeatMap};

/// Bounds that keep one request's insert reasonable.
const MAX_SCHEDULES: usize = 100;
const MAX_SEATS: i32 = 100_000;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "code": "iu-spring", "name": "아이유봄콘서트",
    "schedules": [
        { "startsAt": "2031-03-01T19:00:00", "seats": 50, "price": 3000 },
        { "startsAt": "2031-03-02T19:00:00", "sections": [{ "seats": 20, "price": 5000 }, { "seats": 30, "price": 3000 }] }
    ]
}))]
pub(super) struct ConcertRequest {
    /// 1-64 of a-z, 0-9 and '-': the concert queue's name (not the default queue's, `default` unless configured otherwise).
    #[schema(pattern = "^(?!default$)[a-z0-9-]{1,64}$")]
    code: String,
    /// Not blank.
    #[schema(pattern = r"\S")]
    name: String,
    #[schema(schema_with = schedules_schema)]
    schedules: Vec<ScheduleRequest>,
}

/// The document's word for `schedules`: each either `seats` and one `price`,
/// or `sections` (an either-or the derive cannot say).
fn schedules_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let seats = serde_json::json!({ "type": "integer", "minimum": 1, "maximum": MAX_SEATS });
    let price = serde_json::json!({ "type": "integer", "minimum": 0, "maximum": MAX_PRICE, "description": "won" });
    let starts_at = serde_json::json!({ "$ref": "#/components/schemas/LocalDateTime" });
    schemas::from_json(serde_json::json!({
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_SCHEDULES,
        "items": { "oneOf": [
            {
                "type": "object",
                "description": "this many seats, numbered from 1, at one price",
                "additionalProperties": false,
                "required": ["startsAt", "seats", "price"],
                "properties": { "startsAt": starts_at, "seats": seats, "price": price }
            },
            {
                "type": "object",
                "description": "runs of seats, numbered on, each priced (at most 100000 seats in all)",
                "additionalProperties": false,
                "required": ["startsAt", "sections"],
                "properties": {
                    "startsAt": starts_at,
                    "sections": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": false,
                            "required": ["seats", "price"],
                            "properties": { "seats": seats, "price": price }
                        }
                    }
                }
            }
        ]}
    }))
}

/// Either `seats` and one `price`, or `sections` priced each.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ScheduleRequest {
    starts_at: String,
    seats: Option<i32>,
    price: Option<i64>,
    sections: Option<Vec<SectionRequest>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SectionRequest {
    seats: i32,
    price: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreatedConcert {
    concert_id: i64,
    code: String,
    schedules: Vec<CreatedSchedule>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreatedSchedule {
    concert_date_id: i64,
    #[schema(schema_with = crate::http::openapi::schemas::local_date_time)]
    schedule_at: String,
    seats: usize,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::refused(ErrorCode::InvalidConcert, message)
}

fn new_concert(request: ConcertRequest, state: &AppState) -> Result<NewConcert> {
    let code_ok = (1..=64).contains(&request.code.len())
        && request
            .code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !code_ok || request.code == state.config.queue.default_queue {
        return Err(invalid(
            "code must be 1-64 of a-z, 0-9 and '-', and not the default queue's name",
        ));
    }
    if request.name.trim().is_empty() {
        return Err(invalid("name must not be empty"));
    }
    if request.schedules.is_empty() || request.schedules.len() > MAX_SCHEDULES {
        return Err(invalid(format!("between 1 and {MAX_SCHEDULES} schedules")));
    }
    let mut schedules = Vec::new();
    for schedule in request.schedules {
        let starts_at = state.clock.parse(&schedule.starts_at).ok_or_else(|| {
            Error::refused(
                ErrorCode::InvalidDate,
                format!(
                    "startsAt `{}` is not a date-time like 2026-12-01T20:00:00",
                    schedule.starts_at
                ),
            )
        })?;
        let parts: Vec<(i32, i64)> = match (schedule.seats, schedule.price, schedule.sections) {
            (Some(seats), Some(price), None) => vec![(seats, price)],
            (None, None, Some(sections)) => sections.into_iter().map(|s| (s.seats, s.price)).collect(),
            _ => return Err(invalid("each schedule has either seats and price, or sections")),
        };
        let mut sections = Vec::new();
        let mut last = 0;
        for (seats, price) in parts {
            if seats < 1 {
                return Err(invalid("every section has at least one seat"));
            }
            // Bounded so that any hold's or payment's total fits (booking/money.rs).
            if !(0..=MAX_PRICE).contains(&price) {
                return Err(Error::refused(
                    ErrorCode::InvalidPrice,
                    format!("a price is a whole number of won from 0 to {MAX_PRICE}, not {price}"),
                ));
            }
            last += seats;
            if last > MAX_SEATS {
                return Err(invalid(format!("at most {MAX_SEATS} seats per schedule")));
            }
            sections.push((last, price));
        }
        schedules.push(NewSchedule { starts_at, sections });
    }
    Ok(NewConcert {
        code: request.code,
        name: request.name.trim().to_string(),
        schedules,
    })
}

/// A concert, its schedules and seats, in one transaction; its queue exists at once.
#[utoipa::path(post, path = "/admin/concerts", operation_id = "adminCreateConcert", tag = "admin",
    params(Admin),
    request_body = ConcertRequest,
    responses((status = 201, description = "created; every instance sells it within a second", body = CreatedConcert)))]
pub(super) async fn create(
    State(state): State<AppState>,
    _: Admin,
    extract::Json(request): extract::Json<ConcertRequest>,
) -> Result<(StatusCode, Json<CreatedConcert>)> {
    let concert = new_concert(request, &state)?;
    let concert_id = state.catalog_editor.create_concert(&concert).await?;
    let created = state.catalog.concert(concert_id)?;
    let schedules = state
        .catalog
        .schedules_of(&created)
        .into_iter()
        .map(|schedule| CreatedSchedule {
            concert_date_id: schedule.id,
            schedule_at: state.clock.format(schedule.starts_at),
            seats: schedule.seats.len(),
        })
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(CreatedConcert {
            concert_id,
            code: created.code.clone(),
            schedules,
        }),
    ))
}

/// A schedule's seat map with who holds each seat, and its sales.
#[utoipa::path(get, path = "/admin/schedules/{schedule_id}/seats", operation_id = "adminSeatMap", tag = "admin",
    params(("schedule_id" = i64, Path, description = "the schedule (concertDateId)", example = 1), Admin),
    responses((status = 200, description = "every seat free, held (heldBy, heldUntil) or sold", body = SeatMap)))]
pub(super) async fn seat_map(
    State(state): State<AppState>,
    _: Admin,
    Path(schedule_id): Path<i64>,
) -> Result<Json<SeatMap>> {
    Ok(Json(operations::seat_map(&state, schedule_id, Holders::Shown).await?))
}
