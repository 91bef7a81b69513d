//! Queues: figures and live settings, changed with `PATCH`, and the record of
//! each change.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::Admin;
use crate::http::error::{Error, Result};
use crate::http::extract::{self, Path, Query};
use crate::http::state::AppState;
use crate::http::views::operations::{self, QueueView, SettingsView};
use crate::http::views::LocalClock;
use crate::queue::settings::{Adaptive, SettingsEvent, SettingsPatch};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/queues", get(queues))
        .route("/admin/queues/{queue}", get(queue).patch(change))
        .route("/admin/queues/{queue}/events", get(events))
}

/// The queue named in the path, provided there is one: the default queue or a concert's.
pub(crate) fn known_queue(state: &AppState, name: &str) -> Result<String> {
    let known = state.catalog.queue_names(&state.config.queue.default_queue);
    if known.iter().any(|queue| queue == name) {
        Ok(name.to_string())
    } else {
        Err(Error::NotFound {
            code: "QUEUE_NOT_FOUND",
            message: format!("no queue is named `{name}`: the default queue or a concert code"),
        })
    }
}

async fn queues(State(state): State<AppState>, _: Admin) -> Result<Json<Vec<QueueView>>> {
    Ok(Json(operations::queue_views(&state).await?))
}

async fn queue(State(state): State<AppState>, _: Admin, Path(name): Path<String>) -> Result<Json<QueueView>> {
    let name = known_queue(&state, &name)?;
    Ok(Json(operations::queue_view(&state, &name).await?))
}

async fn change(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
    extract::Json(body): extract::Json<Value>,
) -> Result<Json<SettingsView>> {
    let name = known_queue(&state, &name)?;
    let patch = patch_of(&body, state.clock)?;
    let (_, after) = state.settings.update(&name, &patch, &admin.fingerprint).await?;
    Ok(Json(SettingsView::new(after, state.clock)))
}

#[derive(Deserialize)]
struct EventsQuery {
    count: Option<usize>,
}

async fn events(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
    Query(query): Query<EventsQuery>,
) -> Result<Json<Vec<SettingsEvent>>> {
    let name = known_queue(&state, &name)?;
    let count = query.count.unwrap_or(50).clamp(1, 1000);
    Ok(Json(state.settings.events(&name, count).await?))
}

fn invalid(code: &'static str, message: impl Into<String>) -> Error {
    Error::bad_request(code, message)
}

/// The body of a `PATCH`: every field optional, each checked; `opensAt` and
/// `adaptive` may be `null` to clear them.
fn patch_of(body: &Value, clock: LocalClock) -> Result<SettingsPatch> {
    let fields = body
        .as_object()
        .ok_or_else(|| invalid("INVALID_SETTINGS", "the body must be a JSON object of settings"))?;
    let mut patch = SettingsPatch::default();
    for (name, value) in fields {
        match name.as_str() {
            "state" => {
                patch.state = Some(serde_json::from_value(value.clone()).map_err(|_| {
                    invalid(
                        "INVALID_STATE",
                        format!("state must be open, paused or closed, not {value}"),
                    )
                })?)
            }
            "maxActive" => patch.max_active = Some(whole(value, "maxActive")?),
            "admitRate" => patch.admit_rate = Some(whole(value, "admitRate")?),
            "opensAt" => {
                patch.opens_at = Some(match value {
                    Value::Null => None,
                    Value::String(text) => Some(clock.parse(text).ok_or_else(|| {
                        invalid(
                            "INVALID_DATE",
                            format!("opensAt `{text}` is not a date-time like 2026-12-01T20:00:00"),
                        )
                    })?),
                    other => {
                        return Err(invalid(
                            "INVALID_DATE",
                            format!("opensAt must be a date-time or null, not {other}"),
                        ))
                    }
                })
            }
            "adaptive" => {
                patch.adaptive = Some(match value {
                    Value::Null => None,
                    other => {
                        let adaptive: Adaptive = serde_json::from_value(other.clone()).map_err(|err| {
                            invalid(
                                "INVALID_SETTING",
                                format!(
                                    "adaptive needs targetP99Ms, minRate and maxRate (and may have increaseBy, \
                                     decreaseToPercent, maxErrorPercent) as whole numbers: {err}"
                                ),
                            )
                        })?;
                        Some(
                            adaptive
                                .validated()
                                .map_err(|message| invalid("INVALID_SETTING", message))?,
                        )
                    }
                })
            }
            other => return Err(invalid("UNKNOWN_SETTING", format!("`{other}` is not a setting"))),
        }
    }
    Ok(patch)
}

fn whole(value: &Value, name: &str) -> Result<u64> {
    value.as_u64().ok_or_else(|| {
        invalid(
            "INVALID_SETTING",
            format!("{name} must be a whole number >= 0, not {value}"),
        )
    })
}
