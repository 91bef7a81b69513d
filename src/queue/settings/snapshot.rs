//! Each instance's own view of every queue's live settings, read from
//! Postgres (the truth) by the settings chore about once a second and at
//! start, and updated at once by a change made through this instance.
//!
//! Join-time checks read it in process (the join gate), so a check costs no
//! Redis call on the hot path. It may lag a change made through another
//! instance by the chore's period; while Postgres does not answer it keeps the
//! last settings it read, so joins go on as they were.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::truth::Versioned;
use super::values::{ChosenSettings, QueueSettings};
use crate::config::QueueConfig;
use crate::store::scripts::standing::JoinRules;

#[derive(Clone)]
pub(crate) struct Snapshot {
    held: Arc<RwLock<HashMap<String, Held>>>,
    /// What a queue without chosen settings runs with.
    defaults: Arc<QueueSettings>,
}

struct Held {
    version: i64,
    settings: Arc<QueueSettings>,
}

impl Snapshot {
    pub(crate) fn new(defaults: &QueueConfig) -> Self {
        Snapshot {
            held: Arc::default(),
            defaults: Arc::new(ChosenSettings::default().resolved(defaults)),
        }
    }

    /// The settings `queue` runs with, as this instance last read them.
    pub(crate) fn current(&self, queue: &str) -> Arc<QueueSettings> {
        let held = self.held.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        held.get(queue)
            .map_or_else(|| self.defaults.clone(), |held| held.settings.clone())
    }

    /// What a join of `queue` follows.
    pub(crate) fn join_rules(&self, queue: &str) -> JoinRules {
        self.current(queue).join_rules()
    }

    /// Takes `read` for `queue` unless a newer version is held already (a
    /// read that raced a change made here).
    pub(super) fn offer(&self, queue: &str, read: &Versioned, defaults: &QueueConfig) {
        let mut held = self.held.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if held.get(queue).is_some_and(|held| held.version > read.version) {
            return;
        }
        held.insert(
            queue.to_string(),
            Held {
                version: read.version,
                settings: Arc::new(read.chosen.resolved(defaults)),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::Config;
    use crate::queue::settings::QueueState;

    fn defaults() -> QueueConfig {
        Config::parse_from(["boxoffice"]).queue
    }

    fn closed(version: i64) -> Versioned {
        Versioned {
            chosen: ChosenSettings {
                state: Some(QueueState::Closed),
                ..ChosenSettings::default()
            },
            version,
        }
    }

    fn open(version: i64) -> Versioned {
        Versioned {
            chosen: ChosenSettings::default(),
            version,
        }
    }

    #[test]
    fn a_queue_never_changed_runs_with_the_defaults() {
        let defaults = defaults();
        let snapshot = Snapshot::new(&defaults);
        let current = snapshot.current("never-changed");
        assert_eq!(current.state, QueueState::Open);
        assert_eq!(current.admit_rate, defaults.admit_rate);
    }

    #[test]
    fn an_older_read_does_not_undo_a_newer_change() {
        let defaults = defaults();
        let snapshot = Snapshot::new(&defaults);
        snapshot.offer("q", &closed(3), &defaults);
        snapshot.offer("q", &open(2), &defaults);
        assert_eq!(snapshot.current("q").state, QueueState::Closed);
        snapshot.offer("q", &open(4), &defaults);
        assert_eq!(snapshot.current("q").state, QueueState::Open);
    }
}
