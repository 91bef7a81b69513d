//! Seed 004: the `/api/v1` design. One queue per concert code; users named by
//! UUID (in the path, the body, or a GET's query string); the token in
//! `Authorization`. Organised like `/api`: one module per resource, each a thin
//! translation of HTTP to the same domain calls. Where the seed leaves a
//! response blank, the body is the one `/api` gives for the same thing.

mod balances;
mod concerts;
mod payments;
mod queue;

use crate::http::error::ErrorCode;
use axum::http::Method;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};
use uuid::Uuid;

use super::error::{Error, Result};
use super::guards::identity::Identity;
use super::routes::{Class, Routes};
use super::state::AppState;

/// The operations of this surface, for the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(
    queue::join,
    queue::poll,
    concerts::list,
    concerts::dates,
    concerts::seats,
    concerts::hold,
    payments::pay,
    balances::balance,
    balances::charge,
))]
pub(crate) struct Docs;

/// This surface's routes, each with its class (`routes.rs`).
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .route(Method::POST, "/api/v1/concerts/{code}/token", queue::join, Class::Queue)
        .route(Method::GET, "/api/v1/concerts/{code}/token", queue::poll, Class::Queue)
        .route(Method::GET, "/api/v1/concerts", concerts::list, Class::Booking)
        .route(Method::GET, "/api/v1/concerts/{code}", concerts::dates, Class::Booking)
        .route(Method::PATCH, "/api/v1/concerts/{code}", concerts::hold, Class::Hold)
        .route(
            Method::GET,
            "/api/v1/concerts/{code}/seats",
            concerts::seats,
            Class::Booking,
        )
        .route(Method::POST, "/api/v1/payments", payments::pay, Class::Payment)
        .route(
            Method::GET,
            "/api/v1/users/{uuid}/balance",
            balances::balance,
            Class::Booking,
        )
        .route(
            Method::PATCH,
            "/api/v1/users/{uuid}/balance",
            balances::charge,
            Class::TopUp,
        )
}

/// The parameters seed 004 sends, by its names: in a GET's query string, or
/// (as the seed does) in its JSON body.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
struct Params {
    /// The user; the token's own.
    #[serde(rename = "UUID", alias = "uuid")]
    #[param(format = Uuid, example = "890cd9f4-4be2-56a3-a116-49b160d80fa5")]
    uuid: Option<String>,
    /// A date of the concert, local time (`/seats` only).
    #[serde(rename = "concertDate")]
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", example = "2030-10-10T19:00:00")]
    concert_date: Option<String>,
}

impl Params {
    /// Parameters of a GET: from the JSON body (as the seed says) or the query string.
    fn merged(query: Params, body: Option<Params>) -> Params {
        let body = body.unwrap_or_default();
        Params {
            uuid: body.uuid.or(query.uuid),
            concert_date: body.concert_date.or(query.concert_date),
        }
    }
}

/// The user a request names by UUID, provided the caller may act as them: (id, UUID).
fn user_of(state: &AppState, identity: &Identity, uuid: Option<&str>) -> Result<(i64, Uuid)> {
    let raw = uuid.ok_or_else(|| Error::refused(ErrorCode::MissingUuid, "the UUID of the user is required"))?;
    let uuid = Uuid::parse_str(raw.trim())
        .map_err(|_| Error::refused(ErrorCode::InvalidUuid, format!("`{raw}` is not a UUID")))?;
    let user_id = state.users.id_of(&uuid).ok_or_else(|| Error::Refused {
        code: ErrorCode::UserNotFound,
        message: format!("no user has UUID {uuid}"),
    })?;
    Ok((identity.0.may_act_as(user_id, || Some(uuid))?, uuid))
}

/// A concert date as the seed writes it (`2024-10-10T10:00:00`, local time).
fn concert_date(state: &AppState, raw: Option<&str>) -> Result<DateTime<Utc>> {
    let raw = raw.ok_or_else(|| Error::refused(ErrorCode::MissingDate, "concertDate is required"))?;
    state.clock.parse(raw).ok_or_else(|| {
        Error::refused(
            ErrorCode::InvalidDate,
            format!("`{raw}` is not a date-time like 2024-10-10T10:00:00"),
        )
    })
}
