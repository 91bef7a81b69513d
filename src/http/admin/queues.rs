//! Queues: figures and live settings, changed with `PATCH`, and the record of
//! each change.

use crate::http::error::ErrorCode;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::Admin;
use crate::http::error::{Error, Result};
use crate::http::extract::{self, Path, Query};
use crate::http::guards::known_queue;
use crate::http::openapi::schemas::SettingsPatchBody;
use crate::http::state::AppState;
use crate::http::views::operations::{self, QueueView, SettingsView};
use crate::local_time::LocalClock;
use crate::queue::settings::{
    redact_record, storable_opening, Adaptive, ChosenChallenge, ChosenJoinLimits, Protect, SettingsEvent,
    SettingsPatch, MOST, MOST_COMPLEXITY,
};

/// Every queue: the default one and one per concert code.
#[utoipa::path(get, path = "/admin/queues", operation_id = "adminListQueues", tag = "admin", params(Admin),
    responses((status = 200, description = "every queue's figures and settings", body = Vec<QueueView>)))]
pub(super) async fn queues(State(state): State<AppState>, _: Admin) -> Result<Json<Vec<QueueView>>> {
    Ok(Json(operations::queue_views(&state).await?))
}

/// One queue's figures and settings.
#[utoipa::path(get, path = "/admin/queues/{queue}", operation_id = "adminGetQueue", tag = "admin",
    params(("queue" = String, Path, description = "the default queue's name or a concert code", example = "hero-autumn"), Admin),
    responses((status = 200, description = "the queue's figures and settings", body = QueueView)))]
pub(super) async fn queue(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
) -> Result<Json<QueueView>> {
    let name = known_queue(&state, &name)?;
    Ok(Json(operations::queue_view(&state, &name).await?))
}

/// Changes a queue's live settings; every instance follows at its next step.
#[utoipa::path(patch, path = "/admin/queues/{queue}", operation_id = "adminChangeQueue", tag = "admin",
    params(("queue" = String, Path, description = "the default queue's name or a concert code", example = "hero-autumn"), Admin),
    request_body = SettingsPatchBody,
    responses((status = 200, description = "the settings now", body = SettingsView)))]
pub(super) async fn change(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
    extract::Json(body): extract::Json<Value>,
) -> Result<Json<SettingsView>> {
    let name = known_queue(&state, &name)?;
    let patch = patch_of(&body, state.clock, state.config.queue.challenge_complexity)?;
    let (_, after) = state.settings.update(&name, &patch, &admin.fingerprint).await?;
    Ok(Json(SettingsView::new(after, state.clock)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct EventsQuery {
    /// How many, newest first (1-1000, default 50).
    #[param(minimum = 0, example = 50)]
    count: Option<usize>,
}

/// The recorded changes of a queue's settings, newest first.
#[utoipa::path(get, path = "/admin/queues/{queue}/events", operation_id = "adminQueueEvents", tag = "admin",
    params(("queue" = String, Path, description = "the default queue's name or a concert code", example = "hero-autumn"), EventsQuery, Admin),
    responses((status = 200, description = "the changes: who, what, before and after", body = Vec<SettingsEvent>)))]
pub(super) async fn events(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
    Query(query): Query<EventsQuery>,
) -> Result<Json<Vec<SettingsEvent>>> {
    let name = known_queue(&state, &name)?;
    let count = query.count.unwrap_or(50).clamp(1, 1000);
    let events = state.settings.events(&name, count).await?;
    Ok(Json(events.into_iter().map(without_secrets).collect()))
}

/// An event as shown: a bypass header's secret is the instance's to compare,
/// never to hand out, here as in the settings views (`REDACTED`).
fn without_secrets(mut event: SettingsEvent) -> SettingsEvent {
    for side in [&mut event.changes, &mut event.before, &mut event.after] {
        redact_record(side);
    }
    event
}

/// An origin key, shown this once.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct OriginKey {
    /// `Authorization: Bearer <key>` on `POST /gate/{queue}/end`.
    #[schema(example = "bo_origin_mZ2Jx0cQ3q0u7rXbW9lFhQq1kVZc8a3D0sT5yN6pL2E")]
    key: String,
}

/// Makes a key with which the protected site's origin ends its visitors'
/// sessions; the answer is the only time it is shown (only its hash is kept).
#[utoipa::path(post, path = "/admin/queues/{queue}/origin-keys", operation_id = "adminNewOriginKey", tag = "admin",
    params(("queue" = String, Path, description = "the default queue's name or a concert code", example = "hero-autumn"), Admin),
    responses((status = 200, description = "the new key, shown this once", body = OriginKey)))]
pub(super) async fn new_origin_key(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
) -> Result<Json<OriginKey>> {
    let name = known_queue(&state, &name)?;
    let key = state.settings.new_origin_key(&name).await?;
    Ok(Json(OriginKey { key }))
}

fn invalid(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::refused(code, message)
}

/// The body of a `PATCH`: every field optional, each checked; `opensAt`,
/// `adaptive`, `protect`, `joinLimits` and `challenge` may be `null` to clear
/// them. A `challenge` without `complexity` gets `default_complexity`.
fn patch_of(body: &Value, clock: LocalClock, default_complexity: u32) -> Result<SettingsPatch> {
    let fields = body
        .as_object()
        .ok_or_else(|| invalid(ErrorCode::InvalidSettings, "the body must be a JSON object of settings"))?;
    let mut patch = SettingsPatch::default();
    for (name, value) in fields {
        match name.as_str() {
            "state" => {
                patch.state = Some(serde_json::from_value(value.clone()).map_err(|_| {
                    invalid(
                        ErrorCode::InvalidState,
                        format!("state must be open, paused or closed, not {value}"),
                    )
                })?)
            }
            "maxActive" => patch.max_active = Some(whole(value, "maxActive")?),
            "admitRate" => patch.admit_rate = Some(whole(value, "admitRate")?),
            "opensAt" => {
                patch.opens_at = Some(match value {
                    Value::Null => None,
                    Value::String(text) => Some(opening(text, clock)?),
                    other => {
                        return Err(invalid(
                            ErrorCode::InvalidDate,
                            format!("opensAt must be a date-time or null, not {other}"),
                        ))
                    }
                })
            }
            "adaptive" => {
                patch.adaptive = Some(match value {
                    Value::Null => None,
                    other => {
                        let adaptive: Adaptive = serde_json::from_value(integral(other)).map_err(|err| {
                            invalid(
                                ErrorCode::InvalidSetting,
                                format!(
                                    "adaptive needs targetP99Ms, minRate and maxRate (and may have increaseBy, \
                                     decreaseToPercent, maxErrorPercent) as whole numbers: {err}"
                                ),
                            )
                        })?;
                        Some(
                            adaptive
                                .validated()
                                .map_err(|message| invalid(ErrorCode::InvalidSetting, message))?,
                        )
                    }
                })
            }
            "protect" => {
                patch.protect = Some(match value {
                    Value::Null => None,
                    other => {
                        let protect: Protect = serde_json::from_value(integral(other)).map_err(|err| {
                            invalid(
                                ErrorCode::InvalidSetting,
                                format!(
                                    "protect needs origin (and may have paths, sessionSeconds, failMode, \
                                     bypassCidrs, bypassHeader): {err}"
                                ),
                            )
                        })?;
                        Some(
                            protect
                                .validated()
                                .map_err(|message| invalid(ErrorCode::InvalidSetting, message))?,
                        )
                    }
                })
            }
            "joinLimits" => {
                patch.join_limits = Some(match value {
                    Value::Null => None,
                    other => {
                        let limits: ChosenJoinLimits = serde_json::from_value(integral(other)).map_err(|err| {
                            invalid(
                                ErrorCode::InvalidSetting,
                                format!(
                                    "joinLimits may have perIdentityPerMinute, perIpPerMinute and \
                                     perNetworkPerMinute, each a whole number (0 = no limit): {err}"
                                ),
                            )
                        })?;
                        Some(
                            limits
                                .validated()
                                .map_err(|message| invalid(ErrorCode::InvalidSetting, message))?,
                        )
                    }
                })
            }
            "challenge" => {
                patch.challenge = Some(match value {
                    Value::Null => None,
                    other => {
                        let chosen: ChosenChallenge = serde_json::from_value(integral(other)).map_err(|err| {
                            invalid(
                                ErrorCode::InvalidSetting,
                                format!(
                                    "challenge is null (none) or {{\"kind\": \"altcha\", \"complexity\": N}}, \
                                     complexity a whole number from 2 to {MOST_COMPLEXITY}: {err}"
                                ),
                            )
                        })?;
                        Some(
                            chosen
                                .resolved(default_complexity)
                                .map_err(|message| invalid(ErrorCode::InvalidSetting, message))?,
                        )
                    }
                })
            }
            other => {
                return Err(invalid(
                    ErrorCode::UnknownSetting,
                    format!("`{other}` is not a setting"),
                ))
            }
        }
    }
    Ok(patch)
}

/// The adaptive knobs with `5.0` read as `5`, as JSON Schema's integer means
/// it; `-0` is left as it is, to be refused.
fn integral(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, field)| {
                    let field = match whole_setting(field) {
                        Some(number) if field.is_f64() => Value::from(number),
                        _ => field.clone(),
                    };
                    (name.clone(), field)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// An opening time: a date-time in the server's zone that the store keeps
/// (from 1970) and the API shows back as it was written (to year 9999).
fn opening(text: &str, clock: LocalClock) -> Result<DateTime<Utc>> {
    let at = clock.parse(text).ok_or_else(|| {
        invalid(
            ErrorCode::InvalidDate,
            format!("opensAt `{text}` is not a date-time like 2026-12-01T20:00:00"),
        )
    })?;
    storable_opening(at).filter(|at| clock.shows(*at)).ok_or_else(|| {
        invalid(
            ErrorCode::InvalidSetting,
            format!("opensAt `{text}` is out of range: from 1970-01-01T00:00:00 UTC to 9999-12-31T23:59:59"),
        )
    })
}

/// A count setting: a whole number from 0 to [`MOST`]. `-0` is a negative
/// number that rounds to 0, which here would mean unlimited: refused.
fn whole_setting(value: &Value) -> Option<u64> {
    if value.as_f64().is_some_and(f64::is_sign_negative) {
        return None;
    }
    value
        .as_u64()
        .or_else(|| extract::whole_number(value).and_then(|number| u64::try_from(number).ok()))
        .filter(|number| *number <= MOST)
}

fn whole(value: &Value, name: &str) -> Result<u64> {
    whole_setting(value).ok_or_else(|| {
        invalid(
            ErrorCode::InvalidSetting,
            format!("{name} must be a whole number from 0 to {MOST}, not {value}"),
        )
    })
}
