//! `queue.counts`: joins and polls come tens of thousands a second, too many
//! to be events one by one, so each instance counts them in memory per queue
//! (once per batched call of the queue's script, an atomic add; no I/O) with the admissions,
//! time-outs and departures its own steps and calls made, and once a second
//! writes one event per queue that saw any: what it counted that second.
//!
//! Several instances each write their own: a second's figures for a queue are
//! the sum of its `queue.counts` events of that `second`. A write that fails
//! (Postgres down) puts the counts back, and the next write that succeeds
//! carries them, under its own second.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde::Serialize;
use tracing::Instrument;

use super::{EventType, EventsError};
use crate::store::db::Db;
use crate::telemetry::otel;

/// What is counted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Count {
    Join,
    Poll,
    Admitted,
    TimedOut,
    Left,
}

#[derive(Default)]
struct Counters {
    joins: AtomicU64,
    polls: AtomicU64,
    admitted: AtomicU64,
    timed_out: AtomicU64,
    left: AtomicU64,
}

impl Counters {
    fn of(&self, count: Count) -> &AtomicU64 {
        match count {
            Count::Join => &self.joins,
            Count::Poll => &self.polls,
            Count::Admitted => &self.admitted,
            Count::TimedOut => &self.timed_out,
            Count::Left => &self.left,
        }
    }

    /// The counts so far, which start again from zero.
    fn take(&self) -> Tally {
        Tally {
            joins: self.joins.swap(0, Ordering::Relaxed),
            polls: self.polls.swap(0, Ordering::Relaxed),
            admitted: self.admitted.swap(0, Ordering::Relaxed),
            timed_out: self.timed_out.swap(0, Ordering::Relaxed),
            left: self.left.swap(0, Ordering::Relaxed),
        }
    }

    fn put_back(&self, tally: &Tally) {
        self.joins.fetch_add(tally.joins, Ordering::Relaxed);
        self.polls.fetch_add(tally.polls, Ordering::Relaxed);
        self.admitted.fetch_add(tally.admitted, Ordering::Relaxed);
        self.timed_out.fetch_add(tally.timed_out, Ordering::Relaxed);
        self.left.fetch_add(tally.left, Ordering::Relaxed);
    }
}

/// One queue's counts over one second, as the event's data carries them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Tally {
    pub(crate) joins: u64,
    pub(crate) polls: u64,
    pub(crate) admitted: u64,
    pub(crate) timed_out: u64,
    pub(crate) left: u64,
}

impl Tally {
    fn is_empty(&self) -> bool {
        *self == Tally::default()
    }
}

/// This instance's counts, per queue; cheap to clone (one shared table).
#[derive(Clone, Default)]
pub(crate) struct QueueCounts {
    by_queue: Arc<RwLock<HashMap<String, Arc<Counters>>>>,
}

/// Writes an instance's counts as events.
#[derive(Clone)]
pub(crate) struct CountWriter {
    counts: QueueCounts,
    db: Db,
}

impl QueueCounts {
    /// Counts `n` of `count` for `queue`.
    pub(crate) fn add(&self, queue: &str, count: Count, n: u64) {
        if n == 0 {
            return;
        }
        // Added under the read lock: no clone of the queue's counters (an
        // atomic of its own on a line every request would share).
        if let Some(counters) = self
            .by_queue
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(queue)
        {
            counters.of(count).fetch_add(n, Ordering::Relaxed);
            return;
        }
        self.by_queue
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(queue.to_string())
            .or_default()
            .of(count)
            .fetch_add(n, Ordering::Relaxed);
    }
}

/// One queue's counters, held by what counts for that queue (its lane), so
/// that counting is an atomic add with no lookup.
#[derive(Clone, Default)]
pub(crate) struct QueueCounter(Arc<Counters>);

impl QueueCounter {
    pub(crate) fn add(&self, count: Count, n: u64) {
        if n > 0 {
            self.0.of(count).fetch_add(n, Ordering::Relaxed);
        }
    }
}

impl QueueCounts {
    /// The counters of `queue`, to keep and count into.
    pub(crate) fn counter(&self, queue: &str) -> QueueCounter {
        if let Some(counters) = self
            .by_queue
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(queue)
        {
            return QueueCounter(counters.clone());
        }
        QueueCounter(
            self.by_queue
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .entry(queue.to_string())
                .or_default()
                .clone(),
        )
    }
}

impl CountWriter {
    pub(crate) fn new(counts: QueueCounts, db: Db) -> Self {
        CountWriter { counts, db }
    }

    /// Writes what was counted since the last write, one event per queue, as
    /// of `second` (Unix seconds); how many events it wrote.
    pub(crate) async fn write(&self, second: i64) -> Result<usize, EventsError> {
        let counted: Vec<(String, Arc<Counters>, Tally)> = self
            .counts
            .by_queue
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(queue, counters)| (queue.clone(), counters.clone(), counters.take()))
            .filter(|(_, _, tally)| !tally.is_empty())
            .collect();
        if counted.is_empty() {
            return Ok(0);
        }
        let queues: Vec<String> = counted.iter().map(|(queue, _, _)| queue.clone()).collect();
        let data: Vec<String> = counted
            .iter()
            .map(|(_, _, tally)| {
                let mut data = serde_json::to_value(tally).unwrap_or_default();
                data["second"] = second.into();
                data.to_string()
            })
            .collect();
        let written = self
            .db
            .bounded(move |connection| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO events (type, queue, time, data)
                         SELECT $1, queue, to_timestamp($2), data::jsonb
                         FROM unnest($3::text[], $4::text[]) AS counted(queue, data)",
                    )
                    .bind(EventType::QueueCounts.name())
                    .bind(second as f64)
                    .bind(queues)
                    .bind(data)
                    .execute(connection)
                    .instrument(otel::sql("events.insert_counts"))
                    .await?;
                    Ok::<_, EventsError>(())
                })
            })
            .await;
        if let Err(err) = written {
            // Not written (or not known to be): counted again in the next write.
            // An unknown outcome may so count a second twice; counts are a
            // measure, not money.
            for (_, counters, tally) in &counted {
                counters.put_back(tally);
            }
            return Err(err);
        }
        Ok(counted.len())
    }
}
