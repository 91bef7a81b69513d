//! Queues: figures and live settings, changed with `PATCH`, and the record of
//! each change.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Admin;
use crate::http::error::{Error, Result};
use crate::http::extract::{self, Path, Query};
use crate::http::state::AppState;
use crate::http::views::LocalClock;
use crate::queue::pacing;
use crate::queue::settings::{Adaptive, QueueSettings, QueueState, SettingsEvent, SettingsPatch};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/queues", get(queues))
        .route("/admin/queues/{queue}", get(queue).patch(change))
        .route("/admin/queues/{queue}/events", get(events))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SettingsView {
    state: QueueState,
    max_active: u64,
    admit_rate: u64,
    opens_at: Option<String>,
    adaptive: Option<Adaptive>,
}

impl SettingsView {
    fn new(settings: QueueSettings, clock: LocalClock) -> Self {
        SettingsView {
            state: settings.state,
            max_active: settings.max_active,
            admit_rate: settings.admit_rate,
            opens_at: settings.opens_at.map(|at| clock.format(at)),
            adaptive: settings.adaptive,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdmittedPerSecond {
    last10s: f64,
    last60s: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueueView {
    name: String,
    state: QueueState,
    waiting: u64,
    active: u64,
    admitted_per_second: AdmittedPerSecond,
    eta_seconds_of_last: u64,
    joined: u64,
    admitted: u64,
    abandoned: u64,
    expired: u64,
    completed: u64,
    settings: SettingsView,
    /// In adaptive mode: the rate the controller set and what it judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    adaptive: Option<AdaptiveView>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdaptiveView {
    rate: u64,
    p99_ms: u64,
    samples: u64,
    errors: u64,
    decision: String,
}

async fn overview(state: &AppState, name: &str) -> Result<QueueView> {
    let (stats, settings) = tokio::try_join!(state.scheduler.stats(name), state.settings.get(name))?;
    let rate = if stats.admission_rate > 0.0 {
        stats.admission_rate
    } else {
        settings.admit_rate as f64
    };
    Ok(QueueView {
        name: name.to_string(),
        state: settings.state,
        waiting: stats.waiting,
        active: stats.active,
        admitted_per_second: AdmittedPerSecond {
            last10s: stats.admission_rate,
            last60s: stats.admission_rate_60,
        },
        eta_seconds_of_last: pacing::eta_seconds(stats.waiting, rate),
        joined: stats.joined,
        admitted: stats.admitted,
        abandoned: stats.abandoned,
        expired: stats.expired,
        completed: stats.completed,
        adaptive: stats
            .adaptive
            .filter(|_| settings.adaptive.is_some())
            .map(|status| AdaptiveView {
                rate: status.rate,
                p99_ms: status.p99_ms,
                samples: status.samples,
                errors: status.errors,
                decision: status.decision,
            }),
        settings: SettingsView::new(settings, state.clock),
    })
}

/// The queue named in the path, provided there is one: the default queue or a concert's.
fn known_queue(state: &AppState, name: &str) -> Result<String> {
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
    let mut views = Vec::new();
    for name in state.catalog.queue_names(&state.config.queue.default_queue) {
        views.push(overview(&state, &name).await?);
    }
    Ok(Json(views))
}

async fn queue(State(state): State<AppState>, _: Admin, Path(name): Path<String>) -> Result<Json<QueueView>> {
    let name = known_queue(&state, &name)?;
    Ok(Json(overview(&state, &name).await?))
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
