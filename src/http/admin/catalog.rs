//! The catalog: a new concert with its schedules and seats (every instance
//! picks it up within a second, and its queue exists at once), and a schedule's
//! seat map with who has each seat and what the schedule has sold.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::Admin;
use crate::booking::catalog_editor::{NewConcert, NewSchedule};
use crate::http::error::{Error, Result};
use crate::http::extract::{self, Path};
use crate::http::state::AppState;
use crate::http::views::operations::{self, Holders, SeatMap};

/// Bounds that keep one request's insert reasonable.
const MAX_SCHEDULES: usize = 100;
const MAX_SEATS: i32 = 100_000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/concerts", post(create))
        .route("/admin/schedules/{schedule_id}/seats", get(seat_map))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConcertRequest {
    code: String,
    name: String,
    schedules: Vec<ScheduleRequest>,
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatedConcert {
    concert_id: i64,
    code: String,
    schedules: Vec<CreatedSchedule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatedSchedule {
    concert_date_id: i64,
    schedule_at: String,
    seats: usize,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::bad_request("INVALID_CONCERT", message)
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
            Error::bad_request(
                "INVALID_DATE",
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
            if seats < 1 || price < 0 {
                return Err(invalid("every section has at least one seat and a price of 0 or more"));
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

async fn create(
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

async fn seat_map(State(state): State<AppState>, _: Admin, Path(schedule_id): Path<i64>) -> Result<Json<SeatMap>> {
    Ok(Json(operations::seat_map(&state, schedule_id, Holders::Shown).await?))
}
