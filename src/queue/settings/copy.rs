//! Redis's copy of the live settings: written after every change, and checked
//! against Postgres by every instance about once a second ([`Settings::restore`]:
//! one read per queue of the version Redis holds), rewritten when Redis lost it
//! or holds an older one. The same pass refreshes the instance's own snapshot. So a Redis that restarts empty has each queue's
//! settings back within about a second, as sold seats are rebuilt
//! (`booking/reconcile.rs`); a closed sale does not reopen.

use std::collections::HashMap;

use super::truth::{self, Versioned};
use super::values::ChosenSettings;
use super::Settings;
use crate::queue::QueueError;
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::store::scripts::settings as script;

/// What one pass changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Restored {
    /// Queues whose copy was missing or older, written again.
    pub(crate) rewritten: u64,
    /// Queues whose settings only Redis held, recorded in Postgres.
    pub(crate) adopted: u64,
}

/// Writes `settings` as the queue's copy, unless Redis holds that version or a
/// newer one; true when written.
pub(super) async fn write(redis: &Redis, keys: &Keys, queue: &str, settings: &Versioned) -> Result<bool, QueueError> {
    let mut connection = redis.connection().await?;
    Ok(script::run(
        &mut connection,
        &keys.queue(queue),
        settings.version,
        &settings.chosen.fields(),
    )
    .await?)
}

impl Settings {
    /// Compares each queue's copy in Redis with Postgres, and writes again the
    /// copies that are missing or older.
    pub(crate) async fn restore(&self, queues: &[String]) -> Result<Restored, QueueError> {
        let truth = truth::all(&self.db, queues).await?;
        for (queue, settings) in &truth {
            self.snapshot.offer(queue, settings, &self.defaults);
        }
        // One call per queue, sent together: on a cluster each queue is a slot of its own.
        let redis = self.redis.connection().await?;
        let reads = queues.iter().map(|queue| {
            let mut redis = redis.clone();
            let key = self.keys.queue(queue).settings.clone();
            async move {
                redis::pipe()
                    .hget(&key, "version")
                    .hlen(&key)
                    .query_async::<(Option<i64>, u64)>(&mut redis)
                    .await
            }
        });
        let held = futures_util::future::try_join_all(reads).await?;

        let mut restored = Restored::default();
        for (queue, (version, size)) in queues.iter().zip(held) {
            let version = version.unwrap_or(0);
            let written = match truth.get(queue) {
                Some(settings) if version < settings.version => write(&self.redis, &self.keys, queue, settings).await?,
                // Redis claims a newer version than Postgres has (Postgres was
                // restored from a backup, say): Postgres's settings win, under
                // a version above Redis's, so that its next changes are not
                // taken for older ones.
                Some(settings) if version > settings.version => {
                    match truth::overtake(&self.db, queue, settings.version, version + 1).await? {
                        Some(settings) => write(&self.redis, &self.keys, queue, &settings).await?,
                        None => false,
                    }
                }
                Some(_) => false,
                // Settings Postgres has no record of: written before Postgres
                // kept them (this version's first start). They are adopted as
                // they are, rather than lost with the next change.
                None if size > 0 => {
                    if self.adopt(queue, version).await? {
                        restored.adopted += 1;
                    }
                    false
                }
                None => false,
            };
            if written {
                restored.rewritten += 1;
            }
        }
        if restored != Restored::default() {
            tracing::warn!(?restored, "queue settings in Redis restored from Postgres");
        }
        Ok(restored)
    }

    async fn adopt(&self, queue: &str, held: i64) -> Result<bool, QueueError> {
        let mut redis = self.redis.connection().await?;
        let stored: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(&self.keys.queue(queue).settings)
            .query_async(&mut redis)
            .await?;
        let found = Versioned {
            chosen: ChosenSettings::from_fields(&stored),
            version: held + 1,
        };
        if !truth::adopt(&self.db, queue, &found).await? {
            return Ok(false);
        }
        tracing::warn!(queue, settings = ?found.chosen, "settings only Redis held were recorded in Postgres");
        write(&self.redis, &self.keys, queue, &found).await?;
        Ok(true)
    }
}
