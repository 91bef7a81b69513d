//! A queue's settings as values: what operators chose ([`ChosenSettings`],
//! where what is unset follows the configuration), what a queue runs with
//! ([`QueueSettings`]), and a change ([`SettingsPatch`]).
//!
//! The Redis hash the queue's scripts read and the record of each change share
//! one layout (`state`, `max_active`, `admit_rate`, `opens_at_ms`,
//! `adaptive_*`, each a string; `protect`, `join_limits` and `challenge`, JSON only Rust
//! reads), written and read only here.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::challenge::ChallengeSetting;
use super::join_limits::{ChosenJoinLimits, JoinLimits};
use super::protect::Protect;
use crate::config::QueueConfig;
use crate::store::scripts::standing::JoinRules;

/// The largest `maxActive`, `admitRate` or adaptive knob: beyond any sale, and
/// exact in the doubles Lua reads them as.
pub(crate) const MOST: u64 = 1_000_000_000;

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
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            QueueState::Open => "open",
            QueueState::Paused => "paused",
            QueueState::Closed => "closed",
        }
    }

    pub(crate) fn of(text: &str) -> Option<Self> {
        match text {
            "open" => Some(QueueState::Open),
            "paused" => Some(QueueState::Paused),
            "closed" => Some(QueueState::Closed),
            _ => None,
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
        if [self.target_p99_ms, self.max_rate, self.increase_by]
            .iter()
            .any(|&knob| knob > MOST)
        {
            return Err("adaptive's targetP99Ms, maxRate and increaseBy may be at most 1000000000");
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

/// The settings a queue runs with: what operators chose, the configuration's
/// defaults for the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueSettings {
    pub(crate) state: QueueState,
    pub(crate) max_active: u64,
    pub(crate) admit_rate: u64,
    pub(crate) opens_at: Option<DateTime<Utc>>,
    pub(crate) adaptive: Option<Adaptive>,
    /// The site this queue protects, if any (shared: every check reads it).
    pub(crate) protect: Option<Arc<Protect>>,
    pub(crate) join_limits: JoinLimits,
    /// The proof of work a join must carry solved, if any.
    pub(crate) challenge: Option<ChallengeSetting>,
}

impl QueueSettings {
    /// What a join of this queue follows in Redis.
    pub(crate) fn join_rules(&self) -> JoinRules {
        JoinRules {
            closed: self.state == QueueState::Closed,
            opens_at_ms: self
                .opens_at
                .and_then(|at| u64::try_from(at.timestamp_millis()).ok())
                .unwrap_or(0),
            invited: false,
        }
    }
}

/// A change of settings: what is `None` stays as it is; `Some(None)` clears.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SettingsPatch {
    pub(crate) state: Option<QueueState>,
    pub(crate) max_active: Option<u64>,
    pub(crate) admit_rate: Option<u64>,
    pub(crate) opens_at: Option<Option<DateTime<Utc>>>,
    pub(crate) adaptive: Option<Option<Adaptive>>,
    pub(crate) protect: Option<Option<Protect>>,
    pub(crate) join_limits: Option<Option<ChosenJoinLimits>>,
    pub(crate) challenge: Option<Option<ChallengeSetting>>,
}

/// An opening time as the store keeps it: whole milliseconds since 1970 (the
/// scripts compare it with Redis `TIME`); `None` for one before 1970.
pub(crate) fn storable_opening(at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let ms = at.timestamp_millis();
    (ms >= 0).then(|| DateTime::from_timestamp_millis(ms)).flatten()
}

/// The hash fields of `adaptive`: `None` names them all with empty values.
fn adaptive_fields(adaptive: Option<&Adaptive>, fields: &mut Vec<(&'static str, String)>) {
    let field = |pick: fn(&Adaptive) -> u64| adaptive.map(|a| pick(a).to_string()).unwrap_or_default();
    fields.push(("adaptive_target_p99_ms", field(|a| a.target_p99_ms)));
    fields.push(("adaptive_min_rate", field(|a| a.min_rate)));
    fields.push(("adaptive_max_rate", field(|a| a.max_rate)));
    fields.push(("adaptive_increase_by", field(|a| a.increase_by)));
    fields.push(("adaptive_decrease_to_percent", field(|a| a.decrease_to_percent)));
    fields.push(("adaptive_max_error_percent", field(|a| a.max_error_percent)));
}

impl SettingsPatch {
    /// The fields the change names, as recorded: an empty value clears one.
    pub(crate) fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = Vec::new();
        if let Some(state) = self.state {
            fields.push(("state", state.as_str().to_string()));
        }
        if let Some(max_active) = self.max_active {
            fields.push(("max_active", max_active.to_string()));
        }
        if let Some(rate) = self.admit_rate {
            fields.push(("admit_rate", rate.to_string()));
        }
        if let Some(opens_at) = self.opens_at {
            let ms = opens_at.map(|at| at.timestamp_millis().to_string());
            fields.push(("opens_at_ms", ms.unwrap_or_default()));
        }
        if let Some(adaptive) = self.adaptive {
            adaptive_fields(adaptive.as_ref(), &mut fields);
        }
        if let Some(protect) = &self.protect {
            // One field of JSON: only Rust reads it, never the scripts.
            let json = protect.as_ref().and_then(|protect| serde_json::to_string(protect).ok());
            fields.push(("protect", json.unwrap_or_default()));
        }
        if let Some(limits) = &self.join_limits {
            let json = limits.as_ref().and_then(|limits| serde_json::to_string(limits).ok());
            fields.push(("join_limits", json.unwrap_or_default()));
        }
        if let Some(challenge) = &self.challenge {
            let json = challenge
                .as_ref()
                .and_then(|challenge| serde_json::to_string(challenge).ok());
            fields.push(("challenge", json.unwrap_or_default()));
        }
        fields
    }
}

/// What operators chose for one queue; what is `None` follows the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ChosenSettings {
    pub(crate) state: Option<QueueState>,
    pub(crate) max_active: Option<u64>,
    pub(crate) admit_rate: Option<u64>,
    pub(crate) opens_at: Option<DateTime<Utc>>,
    pub(crate) adaptive: Option<Adaptive>,
    pub(crate) protect: Option<Protect>,
    pub(crate) join_limits: Option<ChosenJoinLimits>,
    pub(crate) challenge: Option<ChallengeSetting>,
}

impl ChosenSettings {
    pub(crate) fn applied(&self, patch: &SettingsPatch) -> Self {
        ChosenSettings {
            state: patch.state.or(self.state),
            max_active: patch.max_active.or(self.max_active),
            admit_rate: patch.admit_rate.or(self.admit_rate),
            opens_at: patch.opens_at.unwrap_or(self.opens_at),
            adaptive: patch.adaptive.unwrap_or(self.adaptive),
            protect: patch.protect.clone().unwrap_or_else(|| self.protect.clone()),
            join_limits: patch.join_limits.unwrap_or(self.join_limits),
            challenge: patch.challenge.unwrap_or(self.challenge),
        }
    }

    /// The hash fields of what is set: those a change naming every setting
    /// writes, less the cleared ones.
    pub(crate) fn fields(&self) -> Vec<(&'static str, String)> {
        let everything = SettingsPatch {
            state: self.state,
            max_active: self.max_active,
            admit_rate: self.admit_rate,
            opens_at: Some(self.opens_at),
            adaptive: Some(self.adaptive),
            protect: Some(self.protect.clone()),
            join_limits: Some(self.join_limits),
            challenge: Some(self.challenge),
        };
        let mut fields = everything.fields();
        fields.retain(|(_, value)| !value.is_empty());
        fields
    }

    /// Read back from the hash's fields; what cannot be read counts as unset.
    pub(crate) fn from_fields(stored: &HashMap<String, String>) -> Self {
        let number = |field: &str| stored.get(field).and_then(|value| value.parse::<u64>().ok());
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
        ChosenSettings {
            state: stored.get("state").and_then(|state| QueueState::of(state)),
            max_active: number("max_active"),
            admit_rate: number("admit_rate"),
            opens_at: number("opens_at_ms")
                .and_then(|ms| i64::try_from(ms).ok())
                .and_then(DateTime::from_timestamp_millis),
            adaptive,
            protect: stored.get("protect").and_then(|json| serde_json::from_str(json).ok()),
            join_limits: stored
                .get("join_limits")
                .and_then(|json| serde_json::from_str(json).ok()),
            challenge: stored.get("challenge").and_then(|json| serde_json::from_str(json).ok()),
        }
    }

    pub(crate) fn resolved(&self, defaults: &QueueConfig) -> QueueSettings {
        QueueSettings {
            state: self.state.unwrap_or(QueueState::Open),
            max_active: self.max_active.unwrap_or(defaults.max_active),
            admit_rate: self.admit_rate.unwrap_or(defaults.admit_rate),
            opens_at: self.opens_at,
            adaptive: self.adaptive,
            protect: self.protect.clone().map(Arc::new),
            join_limits: ChosenJoinLimits::resolved(self.join_limits.as_ref(), defaults),
            challenge: self.challenge,
        }
    }
}

/// Fields as a JSON object, for the record of changes.
pub(crate) fn object_of(fields: &[(&str, String)]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(name, value)| (name.to_string(), Value::from(value.as_str())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adaptive() -> Adaptive {
        Adaptive {
            target_p99_ms: 200,
            min_rate: 5,
            max_rate: 100,
            increase_by: 5,
            decrease_to_percent: 70,
            max_error_percent: 1,
        }
    }

    #[test]
    fn chosen_settings_survive_the_hash_layout() {
        let chosen = ChosenSettings {
            state: Some(QueueState::Closed),
            max_active: Some(5),
            admit_rate: Some(1),
            opens_at: DateTime::from_timestamp_millis(1_790_000_000_123),
            adaptive: Some(adaptive()),
            protect: serde_json::from_value(serde_json::json!({ "origin": "https://shop.example" })).ok(),
            join_limits: Some(ChosenJoinLimits {
                per_network_per_minute: Some(0),
                per_ip_per_minute: Some(120),
                ..ChosenJoinLimits::default()
            }),
            challenge: Some(ChallengeSetting {
                kind: super::super::challenge::ChallengeKind::Altcha,
                complexity: 4000,
            }),
        };
        assert!(chosen.protect.is_some());
        let stored: HashMap<String, String> = chosen
            .fields()
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        assert_eq!(ChosenSettings::from_fields(&stored), chosen);
        assert_eq!(ChosenSettings::from_fields(&HashMap::new()), ChosenSettings::default());
        assert!(ChosenSettings::default().fields().is_empty());
    }

    #[test]
    fn a_patch_changes_what_it_names_and_clears_what_it_sets_to_null() {
        let before = ChosenSettings {
            state: Some(QueueState::Paused),
            admit_rate: Some(4),
            adaptive: Some(adaptive()),
            ..ChosenSettings::default()
        };
        let patch = SettingsPatch {
            state: Some(QueueState::Open),
            adaptive: Some(None),
            ..SettingsPatch::default()
        };
        let after = before.applied(&patch);
        assert_eq!(
            (after.state, after.admit_rate, after.adaptive),
            (Some(QueueState::Open), Some(4), None)
        );
        let named: Vec<&str> = patch.fields().iter().map(|(name, _)| *name).collect();
        assert_eq!(named.len(), 7, "state and the six adaptive fields: {named:?}");
        assert!(patch.fields().iter().skip(1).all(|(_, value)| value.is_empty()));
    }

    #[test]
    fn an_opening_before_1970_cannot_be_stored_and_one_after_is_kept_to_the_millisecond() {
        let before = DateTime::from_timestamp_millis(-1).unwrap();
        assert_eq!(storable_opening(before), None);
        let at = DateTime::from_timestamp_micros(1_790_000_000_123_456).unwrap();
        assert_eq!(
            storable_opening(at).map(|at| at.timestamp_micros()),
            Some(1_790_000_000_123_000)
        );
    }

    #[test]
    fn adaptive_knobs_beyond_what_lua_holds_exactly_are_refused() {
        let huge = Adaptive {
            max_rate: MOST + 1,
            ..adaptive()
        };
        assert!(huge.validated().is_err());
        assert!(adaptive().validated().is_ok());
    }
}
