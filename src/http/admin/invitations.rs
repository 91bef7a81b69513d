//! Presale invitations: make a batch of codes for a queue, and list them with
//! the uses they have left (JSON, or CSV for a spreadsheet or a mailing tool).
//! How a join uses one is the join gate's (`guards::join`).

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Admin;
use crate::http::error::{Error, ErrorCode, Result};
use crate::http::extract::{self, whole_number, Path};
use crate::http::guards::known_queue;
use crate::http::state::AppState;
use crate::local_time::LocalClock;
use crate::queue::invitations::{Invitation, Terms, MOST_PER_BATCH};
use crate::queue::settings::storable_opening;

/// The new codes.
#[derive(Serialize, ToSchema)]
pub(crate) struct NewCodes {
    #[schema(example = json!(["inv_q3Zf0yJm1kQ8rT2vX9bW4A"]))]
    codes: Vec<String>,
}

/// One code, with what is left of it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InvitationView {
    code: String,
    uses: i32,
    uses_left: i32,
    /// The one user who may use it; absent: anyone.
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_until: Option<String>,
    created_at: String,
}

impl InvitationView {
    fn new(invitation: Invitation, clock: LocalClock) -> Self {
        InvitationView {
            code: invitation.code,
            uses: invitation.uses,
            uses_left: invitation.uses_left,
            user_id: invitation.user_id,
            valid_until: invitation.valid_until.map(|at| clock.format(at)),
            created_at: clock.format(invitation.created_at),
        }
    }
}

/// Makes a batch of presale invitation codes for a queue.
#[utoipa::path(post, path = "/admin/queues/{queue}/invitations", operation_id = "adminNewInvitations", tag = "admin",
    params(("queue" = String, Path, description = "the default queue's name or a concert code", example = "hero-autumn"), Admin),
    request_body = crate::http::openapi::schemas::InvitationsBody,
    responses((status = 200, description = "the new codes", body = NewCodes)))]
pub(super) async fn create(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
    extract::Json(body): extract::Json<Value>,
) -> Result<Json<NewCodes>> {
    let name = known_queue(&state, &name)?;
    let (count, terms) = terms_of(&body, state.clock)?;
    let codes = state.invitations.create(&name, count, &terms).await?;
    Ok(Json(NewCodes { codes }))
}

/// A queue's invitation codes with their uses left, oldest first: JSON, or
/// CSV with a header row for `Accept: text/csv`.
#[utoipa::path(get, path = "/admin/queues/{queue}/invitations", operation_id = "adminListInvitations", tag = "admin",
    params(("queue" = String, Path, description = "the default queue's name or a concert code", example = "hero-autumn"), Admin),
    responses((status = 200, description = "every code of the queue",
        content((Vec<InvitationView> = "application/json"), (String = "text/csv")))))]
pub(super) async fn list(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let name = known_queue(&state, &name)?;
    let views: Vec<InvitationView> = (state.invitations.list(&name).await?)
        .into_iter()
        .map(|invitation| InvitationView::new(invitation, state.clock))
        .collect();
    let wants_csv = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("text/csv"));
    if wants_csv {
        Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv(&views)).into_response())
    } else {
        Ok(Json(views).into_response())
    }
}

/// The listing as CSV. No field needs quoting: codes are base64url, user ids
/// numbers or UUIDs, times digits and punctuation.
fn csv(views: &[InvitationView]) -> String {
    let mut text = String::from("code,uses,usesLeft,userId,validUntil,createdAt\n");
    for view in views {
        text.push_str(&format!(
            "{},{},{},{},{},{}\n",
            view.code,
            view.uses,
            view.uses_left,
            view.user_id.as_deref().unwrap_or_default(),
            view.valid_until.as_deref().unwrap_or_default(),
            view.created_at,
        ));
    }
    text
}

fn invalid(message: impl Into<String>) -> Error {
    Error::refused(ErrorCode::InvalidBody, message)
}

/// The body, checked: how many codes, and what they allow.
fn terms_of(body: &Value, clock: LocalClock) -> Result<(u32, Terms)> {
    let fields = body.as_object().ok_or_else(|| {
        invalid("the body must be a JSON object: {\"count\", \"uses\", \"userId\"?, \"validUntil\"?}")
    })?;
    if let Some(unknown) = fields
        .keys()
        .find(|name| !matches!(name.as_str(), "count" | "uses" | "userId" | "validUntil"))
    {
        return Err(invalid(format!(
            "`{unknown}` is not a field: count, uses, userId, validUntil"
        )));
    }
    let count = bounded(fields.get("count"), "count", u64::from(MOST_PER_BATCH))?;
    let uses = bounded(fields.get("uses"), "uses", crate::queue::settings::MOST)?;
    let user_id = match fields.get("userId") {
        None | Some(Value::Null) => None,
        Some(value) => Some(user_name(value)?),
    };
    let valid_until = match fields.get("validUntil") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(
            clock
                .parse(text)
                .and_then(storable_opening)
                .filter(|at| clock.shows(*at))
                .ok_or_else(|| {
                    Error::refused(
                        ErrorCode::InvalidDate,
                        format!("validUntil `{text}` is not a date-time like 2026-12-01T20:00:00"),
                    )
                })?,
        ),
        Some(other) => {
            return Err(Error::refused(
                ErrorCode::InvalidDate,
                format!("validUntil must be a date-time or null, not {other}"),
            ))
        }
    };
    let uses = u32::try_from(uses).map_err(|_| invalid("uses is too large"))?;
    let count = u32::try_from(count).map_err(|_| invalid("count is too large"))?;
    Ok((
        count,
        Terms {
            uses,
            user_id,
            valid_until,
        },
    ))
}

/// A whole number from 1 to `most`.
fn bounded(value: Option<&Value>, name: &str, most: u64) -> Result<u64> {
    value
        .filter(|value| !value.as_f64().is_some_and(f64::is_sign_negative))
        .and_then(whole_number)
        .and_then(|number| u64::try_from(number).ok())
        .filter(|number| (1..=most).contains(number))
        .ok_or_else(|| invalid(format!("{name} must be a whole number from 1 to {most}")))
}

/// A user as the joins name them: a number (seed 000's users) or a UUID
/// (seed 004's), written the one way the join gate writes them.
fn user_name(value: &Value) -> Result<String> {
    if let Some(number) = whole_number(value) {
        return Ok(number.to_string());
    }
    let text = value.as_str().map(str::trim).unwrap_or_default();
    if let Ok(number) = text.parse::<i64>() {
        return Ok(number.to_string());
    }
    if let Ok(uuid) = Uuid::parse_str(text) {
        return Ok(uuid.hyphenated().to_string());
    }
    Err(invalid(format!(
        "userId must be a user id (a number) or a UUID, not {value}"
    )))
}
