//! A queue's live settings: decisions operators make through the admin API
//! (open, pause or close a sale, its limits, its opening, adaptive admission).
//!
//! Postgres holds them and every change to them (`truth.rs`): a change is
//! decided there, in one transaction, or not at all. Redis holds the copy the
//! queue's own scripts read (`copy.rs`), so every instance follows a change at
//! its next step with no broadcast and no restart, and joins and polls never
//! touch Postgres. The copy is written after each change and rebuilt from
//! Postgres when Redis lost it. Each instance also holds its own view
//! (`snapshot.rs`), refreshed from Postgres by the same pass, for checks made
//! at join time without a Redis call. The configuration only gives the
//! defaults of what a queue's settings leave unset (`values.rs`).

mod challenge;
mod copy;
mod join_limits;
mod origin_keys;
mod protect;
mod snapshot;
mod truth;
mod values;

use std::collections::HashMap;
use std::sync::Arc;

pub(crate) use challenge::{ChallengeSetting, ChosenChallenge, MOST_COMPLEXITY};
pub(crate) use join_limits::{ChosenJoinLimits, JoinLimits};
pub(crate) use protect::{redact_record, FailMode, Protect};
pub(crate) use truth::SettingsEvent;
pub(crate) use values::{storable_opening, Adaptive, QueueSettings, QueueState, SettingsPatch, MOST};

use super::QueueError;
use crate::config::QueueConfig;
use crate::store::db::Db;
use crate::store::keys::Keys;
use crate::store::redis::Redis;
pub(crate) use snapshot::Snapshot;
use values::ChosenSettings;

#[derive(Clone)]
pub(crate) struct Settings {
    db: Db,
    redis: Redis,
    keys: Keys,
    defaults: Arc<QueueConfig>,
    snapshot: Snapshot,
}

impl Settings {
    pub(crate) fn new(db: Db, redis: Redis, keys: Keys, defaults: Arc<QueueConfig>) -> Self {
        Settings {
            db,
            redis,
            keys,
            snapshot: Snapshot::new(&defaults),
            defaults,
        }
    }

    /// This instance's view of every queue's settings, for the line.
    pub(crate) fn snapshot(&self) -> Snapshot {
        self.snapshot.clone()
    }

    /// The settings `queue` runs with, as this instance holds them: no store call.
    pub(crate) fn current(&self, queue: &str) -> Arc<QueueSettings> {
        self.snapshot.current(queue)
    }

    /// Reads every queue's settings from Postgres into this instance's view
    /// (at start, before serving; the restore pass does it after).
    pub(crate) async fn refresh(&self, queues: &[String]) -> Result<(), QueueError> {
        for (queue, settings) in truth::all(&self.db, queues).await? {
            self.snapshot.offer(&queue, &settings, &self.defaults);
        }
        Ok(())
    }

    /// The settings the queue's scripts follow now: Redis's copy, so this
    /// answers while Postgres is down.
    pub(crate) async fn get(&self, queue: &str) -> Result<QueueSettings, QueueError> {
        let mut redis = self.redis.connection().await?;
        let stored: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(&self.keys.queue(queue).settings)
            .query_async(&mut redis)
            .await?;
        Ok(ChosenSettings::from_fields(&stored).resolved(&self.defaults))
    }

    /// Applies `patch` in Postgres, records it, then writes Redis's copy;
    /// returns the settings before and after.
    pub(crate) async fn update(
        &self,
        queue: &str,
        patch: &SettingsPatch,
        who: &str,
    ) -> Result<(QueueSettings, QueueSettings), QueueError> {
        let (before, after) = truth::change(&self.db, queue, patch, who).await?;
        self.snapshot.offer(queue, &after, &self.defaults);
        // Postgres has decided. A Redis that does not take the copy now gets
        // it from the restore pass once it answers again.
        if let Err(err) = copy::write(&self.redis, &self.keys, queue, &after).await {
            tracing::warn!(queue, error = %err, "a settings change is not in Redis yet; it follows within a second of Redis answering");
        }
        let (before, after) = (
            before.chosen.resolved(&self.defaults),
            after.chosen.resolved(&self.defaults),
        );
        tracing::info!(queue, who, before = ?before, after = ?after, "queue settings changed");
        Ok((before, after))
    }

    /// The most recent changes, newest first.
    pub(crate) async fn events(&self, queue: &str, count: usize) -> Result<Vec<SettingsEvent>, QueueError> {
        truth::events(&self.db, queue, count).await
    }
}
