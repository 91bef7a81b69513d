//! A queue's live settings: kept in Redis beside the queue's keys, read by the
//! queue's own scripts (so every instance follows a change at its next step,
//! with no broadcast and no restart), changed by operators through the admin
//! API. The configuration only gives the defaults of a queue with no settings.
//!
//! Every change is recorded, atomically with it, in a capped stream per queue:
//! who (the admin token's fingerprint), what, and the settings before and after.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::QueueError;
use crate::config::QueueConfig;
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::store::scripts::settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum QueueState {
    /// Joins and admission as usual.
    Open,
    /// Joins go on; nobody is admitted.
    Paused,
    /// Nobody new may join; people in line keep their places and are still admitted.
    Closed,
}

impl QueueState {
    fn as_str(self) -> &'static str {
        match self {
            QueueState::Open => "open",
            QueueState::Paused => "paused",
            QueueState::Closed => "closed",
        }
    }
}

/// Adaptive admission: the rate follows the booking side's measured health
/// (see `adaptive.rs` for the controller).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Adaptive {
    /// Booking p99 (holds and payments) to stay under, ms.
    pub(crate) target_p99_ms: u64,
    /// The floor and ceiling of the rate, users/s.
    pub(crate) min_rate: u64,
    pub(crate) max_rate: u64,
    /// Added to the rate each second the back end is healthy; 0 = a twentieth of `max_rate`.
    #[serde(default)]
    pub(crate) increase_by: u64,
    /// What a cut leaves of the rate, percent.
    #[serde(default = "Adaptive::default_decrease_to_percent")]
    pub(crate) decrease_to_percent: u64,
    /// Share of failed bookings (5xx, cut off) that counts as unhealthy, percent.
    #[serde(default = "Adaptive::default_max_error_percent")]
    pub(crate) max_error_percent: u64,
}

impl Adaptive {
    fn default_decrease_to_percent() -> u64 {
        70
    }

    fn default_max_error_percent() -> u64 {
        1
    }

    /// Checks the knobs and fills in `increase_by`; the error says what is wrong.
    pub(crate) fn validated(mut self) -> Result<Self, &'static str> {
        if self.target_p99_ms == 0 {
            return Err("adaptive.targetP99Ms must be above 0");
        }
        if self.min_rate == 0 || self.min_rate > self.max_rate {
            return Err("adaptive needs 1 <= minRate <= maxRate");
        }
        if !(1..=99).contains(&self.decrease_to_percent) {
            return Err("adaptive.decreaseToPercent must be between 1 and 99");
        }
        if self.max_error_percent > 100 {
            return Err("adaptive.maxErrorPercent must be between 0 and 100");
        }
        if self.increase_by == 0 {
            self.increase_by = (self.max_rate / 20).max(1);
        }
        Ok(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueSettings {
    pub(crate) state: QueueState,
    pub(crate) max_active: u64,
    pub(crate) admit_rate: u64,
    pub(crate) opens_at: Option<DateTime<Utc>>,
    pub(crate) adaptive: Option<Adaptive>,
}

/// A change of settings: what is `None` stays as it is; `Some(None)` clears.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SettingsPatch {
    pub(crate) state: Option<QueueState>,
    pub(crate) max_active: Option<u64>,
    pub(crate) admit_rate: Option<u64>,
    pub(crate) opens_at: Option<Option<DateTime<Utc>>>,
    pub(crate) adaptive: Option<Option<Adaptive>>,
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct SettingsEvent {
    /// The record's id in the Redis stream.
    pub(crate) id: String,
    /// The first 8 hex digits of the admin token's SHA-256.
    pub(crate) who: String,
    /// The fields the change named, as sent.
    #[schema(value_type = Object)]
    pub(crate) changes: serde_json::Value,
    #[schema(value_type = Object)]
    pub(crate) before: serde_json::Value,
    #[schema(value_type = Object)]
    pub(crate) after: serde_json::Value,
}

#[derive(Clone)]
pub(crate) struct Settings {
    redis: Redis,
    keys: Keys,
    defaults: Arc<QueueConfig>,
}

impl Settings {
    pub(crate) fn new(redis: Redis, keys: Keys, defaults: Arc<QueueConfig>) -> Self {
        Settings { redis, keys, defaults }
    }

    pub(crate) async fn get(&self, queue: &str) -> Result<QueueSettings, QueueError> {
        let mut redis = self.redis.connection().await?;
        let stored: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(&self.keys.queue(queue).settings)
            .query_async(&mut redis)
            .await?;
        Ok(self.settings_of(&stored))
    }

    /// Applies `patch`; returns the settings before and after.
    pub(crate) async fn update(
        &self,
        queue: &str,
        patch: &SettingsPatch,
        who: &str,
    ) -> Result<(QueueSettings, QueueSettings), QueueError> {
        let mut changes: Vec<(&str, String)> = Vec::new();
        if let Some(state) = patch.state {
            changes.push(("state", state.as_str().to_string()));
        }
        if let Some(max_active) = patch.max_active {
            changes.push(("max_active", max_active.to_string()));
        }
        if let Some(rate) = patch.admit_rate {
            changes.push(("admit_rate", rate.to_string()));
        }
        if let Some(opens_at) = patch.opens_at {
            changes.push((
                "opens_at_ms",
                opens_at.map(|at| at.timestamp_millis().to_string()).unwrap_or_default(),
            ));
        }
        if let Some(adaptive) = patch.adaptive {
            let field = |pick: fn(&Adaptive) -> u64| adaptive.as_ref().map(|a| pick(a).to_string()).unwrap_or_default();
            changes.push(("adaptive_target_p99_ms", field(|a| a.target_p99_ms)));
            changes.push(("adaptive_min_rate", field(|a| a.min_rate)));
            changes.push(("adaptive_max_rate", field(|a| a.max_rate)));
            changes.push(("adaptive_increase_by", field(|a| a.increase_by)));
            changes.push(("adaptive_decrease_to_percent", field(|a| a.decrease_to_percent)));
            changes.push(("adaptive_max_error_percent", field(|a| a.max_error_percent)));
        }
        let keys = self.keys.queue(queue);
        let mut redis = self.redis.connection().await?;
        let changed = settings::run(&mut redis, &keys, who, &changes).await?;
        let (before, after) = (self.settings_of(&changed.before), self.settings_of(&changed.after));
        tracing::info!(queue, who, before = ?before, after = ?after, "queue settings changed");
        Ok((before, after))
    }

    /// The most recent changes, newest first.
    pub(crate) async fn events(&self, queue: &str, count: usize) -> Result<Vec<SettingsEvent>, QueueError> {
        let mut redis = self.redis.connection().await?;
        let entries: Vec<(String, HashMap<String, String>)> = redis::cmd("XREVRANGE")
            .arg(&self.keys.queue(queue).events)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut redis)
            .await?;
        let json = |fields: &HashMap<String, String>, name: &str| {
            fields
                .get(name)
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or(serde_json::Value::Null)
        };
        Ok(entries
            .into_iter()
            .map(|(id, fields)| SettingsEvent {
                who: fields.get("who").cloned().unwrap_or_default(),
                changes: json(&fields, "changes"),
                before: json(&fields, "before"),
                after: json(&fields, "after"),
                id,
            })
            .collect())
    }

    fn settings_of(&self, stored: &HashMap<String, String>) -> QueueSettings {
        let number = |field: &str| stored.get(field).and_then(|value| value.parse::<u64>().ok());
        let state = match stored.get("state").map(String::as_str) {
            Some("paused") => QueueState::Paused,
            Some("closed") => QueueState::Closed,
            _ => QueueState::Open,
        };
        let adaptive = match (
            number("adaptive_target_p99_ms"),
            number("adaptive_min_rate"),
            number("adaptive_max_rate"),
        ) {
            (Some(target_p99_ms), Some(min_rate), Some(max_rate)) => Some(Adaptive {
                target_p99_ms,
                min_rate,
                max_rate,
                increase_by: number("adaptive_increase_by").unwrap_or((max_rate / 20).max(1)),
                decrease_to_percent: number("adaptive_decrease_to_percent")
                    .unwrap_or_else(Adaptive::default_decrease_to_percent),
                max_error_percent: number("adaptive_max_error_percent")
                    .unwrap_or_else(Adaptive::default_max_error_percent),
            }),
            _ => None,
        };
        QueueSettings {
            state,
            max_active: number("max_active").unwrap_or(self.defaults.max_active),
            admit_rate: number("admit_rate").unwrap_or(self.defaults.admit_rate),
            opens_at: number("opens_at_ms")
                .and_then(|ms| i64::try_from(ms).ok())
                .and_then(DateTime::from_timestamp_millis),
            adaptive,
        }
    }
}
