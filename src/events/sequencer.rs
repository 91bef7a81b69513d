//! Gives committed events their public ids.
//!
//! Why not the row's own id: identity values are handed out when a row is
//! inserted, but transactions commit in their own order. A payment that got
//! id 7 may commit after one that got id 8; a reader that had seen 8 and asks
//! for `id > 8` would never see 7. So the public id (`seq`) is given after
//! commit, by one pass at a time (a transaction-level advisory lock, tried,
//! so the instances take turns and none waits): each pass numbers the
//! committed rows that have none, in `id` order, on from the highest `seq`
//! given. A pass commits before the next one starts, so `seq` values become
//! visible in increasing order: a reader that has seen `seq` n has seen
//! every event below n, and resuming from n skips nothing.
//!
//! An event is therefore readable about one pass after its sale commits.

use std::time::Duration;

use tracing::Instrument;

use super::EventsError;
use crate::store::db::Db;
use crate::telemetry::otel;

/// How often a pass runs: the longest an event waits to be readable, besides
/// the pass itself.
pub(crate) const SEQUENCE_EVERY: Duration = Duration::from_millis(200);

/// The most rows one pass numbers; a larger backlog takes several passes.
const MOST_PER_PASS: i64 = 5_000;

/// Arbitrary constant naming the advisory lock the passes take turns under.
const SEQUENCER_LOCK: i64 = 0x626f_6576_7473;

/// Numbers committed events.
#[derive(Clone)]
pub(crate) struct Sequencer {
    db: Db,
}

impl Sequencer {
    pub(crate) fn new(db: Db) -> Self {
        Sequencer { db }
    }

    /// One pass: the number of events it numbered (0 while another instance's
    /// pass runs).
    pub(crate) async fn sequence_once(&self) -> Result<u64, EventsError> {
        self.db
            .bounded(|connection| {
                Box::pin(async move {
                    let mut transaction = sqlx::Acquire::begin(connection).await?;
                    let ours: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                        .bind(SEQUENCER_LOCK)
                        .fetch_one(&mut *transaction)
                        .instrument(otel::sql("events.sequence_lock"))
                        .await?;
                    if !ours {
                        return Ok(0);
                    }
                    // A statement of its own after the lock: under READ COMMITTED
                    // it sees the previous pass's commit, and so its highest seq.
                    let numbered = sqlx::query(
                        "WITH next AS (
                         SELECT id, row_number() OVER (ORDER BY id) AS n
                         FROM (SELECT id FROM events WHERE seq IS NULL ORDER BY id LIMIT $1) AS batch
                     ), top AS (
                         SELECT COALESCE(max(seq), 0) AS seq FROM events
                     )
                     UPDATE events SET seq = top.seq + next.n
                     FROM next, top WHERE events.id = next.id",
                    )
                    .bind(MOST_PER_PASS)
                    .execute(&mut *transaction)
                    .instrument(otel::sql("events.number"))
                    .await?
                    .rows_affected();
                    transaction.commit().await?;
                    Ok::<_, EventsError>(numbered)
                })
            })
            .await
    }
}
