//! Who exists: an in-memory copy of the users table, so that checking a user id
//! or UUID on a hot path never queries Postgres.
//!
//! Sized for tens of millions of accounts (loadtest/RESULTS.md, "User directory
//! at scale"). Ids come from a sequence, so they are dense: the UUID of user `id`
//! sits at slot `id - base` of an array of UUIDs, a zero one marking a free slot
//! (16 bytes a user). UUID -> id is slot numbers sorted by UUID (4 bytes a user),
//! cut into buckets of about two by the UUID's leading bits (under 2 bytes a
//! user), so a search reads a handful of entries. At 10M users that measures
//! 222 MiB and loads in under 4 s, where a HashMap each way took 1045 MiB and 8 s.
//!
//! Users added since the sorted slots were built are found through `recent`, a
//! small map, until enough of them start a rebuild. It sorts a snapshot on a
//! blocking thread (sharing the chunks of slots, which top-ups then leave alone)
//! and swaps in one part, a sixteenth, at a time: lookups and top-ups never
//! wait for it, and it never holds a second copy of more than a part.

mod copy;
mod index;

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use futures_util::TryStreamExt;
use sqlx::postgres::PgPoolCopyExt;
use sqlx::PgPool;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tracing::Instrument;
use uuid::Uuid;

use crate::telemetry::otel;
use copy::CopyRows;
use index::{rebuild, write, Known};

/// A user id no account has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownUser(pub i64);

/// Users outside the sorted array that start a rebuild of it; four times as
/// many make a top-up wait for the running rebuild, to bound `recent`.
const REBUILD_AT: usize = 1 << 16;
/// Every top-up re-reads this many ids below the highest known one: an insert
/// that took its id earlier but committed later than its neighbours is still
/// usable within a second. `reload` catches anything older.
const RECHECK: i64 = 1000;
/// Rows applied per write lock while loading.
const BATCH: usize = 1 << 14;

#[derive(Default)]
pub struct UserDirectory {
    known: Arc<RwLock<Known>>,
    /// One writer at a time (top-up, reload); it owns the running rebuild.
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl UserDirectory {
    /// The user exists, or the error every layer reports for an unknown one.
    pub fn require(&self, user_id: i64) -> Result<(), UnknownUser> {
        match self.read().uuid_of(user_id) {
            Some(_) => Ok(()),
            None => Err(UnknownUser(user_id)),
        }
    }

    pub fn id_of(&self, uuid: &Uuid) -> Option<i64> {
        self.read().id_of(uuid)
    }

    pub fn uuid_of(&self, user_id: i64) -> Option<Uuid> {
        self.read().uuid_of(user_id)
    }

    pub fn len(&self) -> usize {
        self.read().count
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Loads the users added since the last refresh, re-reading the last
    /// `RECHECK` ids for late commits; returns how many were new.
    pub async fn refresh(&self, db: &PgPool) -> Result<usize, sqlx::Error> {
        let after = {
            let known = self.read();
            (known.count > 0).then(|| known.highest.saturating_sub(RECHECK))
        };
        self.load(db, after).await
    }

    /// Makes sure every user is known: loads them all when empty, and otherwise
    /// streams the table again only if Postgres counts more users than this
    /// holds (an insert committed long after its id was taken). Rows are never
    /// materialised, and a known one costs nothing but its read.
    pub async fn reload(&self, db: &PgPool) -> Result<usize, sqlx::Error> {
        if !self.is_empty() {
            let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
                .fetch_one(db)
                .instrument(otel::sql("users.count"))
                .await?;
            if users <= self.len() as i64 {
                return Ok(0);
            }
        }
        self.load(db, None).await
    }

    /// Streams `COPY ... (FORMAT binary)`, never holding more than a batch of
    /// rows (10M rows: 2.6 s, against 3.2 s as decoded rows of a streamed query).
    /// COPY takes no bind parameters; `after` is an integer, formatted here.
    async fn load(&self, db: &PgPool, after: Option<i64>) -> Result<usize, sqlx::Error> {
        let mut rebuild = self.writer.lock().await;
        let started = std::time::Instant::now();
        let bulk = self.is_empty();
        let filter = after.map(|id| format!("WHERE id > {id}")).unwrap_or_default();
        let copy = format!("COPY (SELECT id, uuid FROM users {filter} ORDER BY id) TO STDOUT (FORMAT binary)");
        // One span for the whole COPY: it is open from the request to the
        // trailer, while batches are applied between reads.
        let span = otel::sql("users.copy");
        let mut stream = db.copy_out_raw(&copy).instrument(span.clone()).await?;
        let (mut rows, mut batch, mut added) = (CopyRows::default(), Vec::with_capacity(BATCH), 0);
        while let Some(data) = stream.try_next().instrument(span.clone()).await? {
            rows.feed(&data, &mut batch)?;
            if batch.len() >= BATCH {
                added += self.apply(&mut batch, bulk);
                self.rebuild_if_due(&mut rebuild).await;
            }
        }
        if !rows.done {
            return Err(sqlx::Error::Protocol("users COPY ended before its trailer".into()));
        }
        added += self.apply(&mut batch, bulk);
        if bulk && added > 0 {
            // Start-up: ready only once every user can be found by UUID.
            let streamed = started.elapsed();
            finish(self.rebuild()).await;
            let (streamed, sorted) = (streamed.as_millis(), (started.elapsed() - streamed).as_millis());
            tracing::info!(
                users = added,
                streamed_ms = streamed,
                sorted_ms = sorted,
                "user directory loaded"
            );
        } else {
            self.rebuild_if_due(&mut rebuild).await;
        }
        Ok(added)
    }

    fn apply(&self, batch: &mut Vec<(i64, Uuid)>, bulk: bool) -> usize {
        let mut known = self.write();
        batch
            .drain(..)
            .filter(|&(id, uuid)| known.insert(id, uuid, bulk))
            .count()
    }

    async fn rebuild_if_due(&self, running: &mut Option<JoinHandle<()>>) {
        let waiting = self.read().recent.len();
        if waiting < REBUILD_AT {
            return;
        }
        if let Some(previous) = running.take() {
            if !previous.is_finished() && waiting < 4 * REBUILD_AT {
                *running = Some(previous);
                return;
            }
            finish(previous).await;
        }
        *running = Some(self.rebuild());
    }

    fn rebuild(&self) -> JoinHandle<()> {
        let snapshot = self.write().snapshot();
        let known = self.known.clone();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            rebuild(&known, snapshot);
            tracing::debug!(ms = started.elapsed().as_millis(), "user directory sorted");
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Known> {
        // Every write leaves the structure whole between statements, so a
        // panic under the lock cannot leave a reader something half-valid.
        self.known.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Known> {
        write(&self.known)
    }
}

async fn finish(rebuild: JoinHandle<()>) {
    if let Err(err) = rebuild.await {
        tracing::error!(error = %err, "rebuilding the user index failed");
    }
}

#[cfg(test)]
mod tests {
    use super::index::tests::{assert_known, users};
    use super::*;

    #[tokio::test]
    async fn enough_top_ups_start_a_rebuild_that_lands() {
        let directory = UserDirectory::default();
        let all = users(1..=REBUILD_AT as i64 + 10);
        assert_eq!(directory.apply(&mut all.clone(), false), all.len());
        let mut running = None;
        directory.rebuild_if_due(&mut running).await;
        finish(running.take().expect("a rebuild started")).await;
        {
            let known = directory.read();
            assert_eq!((known.recent.len(), known.merging.len()), (0, 0));
            assert_known(&known, &all);
        }
        assert_eq!(directory.require(1), Ok(()));
        assert_eq!(directory.require(0), Err(UnknownUser(0)));
    }
}
