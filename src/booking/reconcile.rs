//! Keeping Redis's sold sets converged on Postgres by themselves.
//!
//! A payment marks its seats sold in Redis after it commits. A gateway that dies
//! between the two (or a Postgres that commits a statement after its client gave
//! up) leaves a sold seat that Redis still shows free: anyone could hold it, and
//! only the payment would fail. Two passes close that gap, run by every instance
//! (both are idempotent, so many instances running them is harmless):
//!
//! - [`Reconciler::recent_sales`], every second: the sales of the last few
//!   seconds, added to their sold sets (`SADD` of what is already there is a
//!   no-op). This heals a crash between commit and Redis within about a second.
//! - [`Reconciler::full_pass`], at start-up and every few seconds: each
//!   schedule's count of sales in Postgres against its sold set's size in Redis;
//!   a set that differs, or that Redis lost, is rebuilt, and a seat Redis marks
//!   sold that Postgres never sold is removed. This catches whatever the recent
//!   window missed (a commit that arrived long after its statement started).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use tracing::Instrument;

use super::catalog::Snapshot;
use super::sold::SoldSeats;
use super::BookingError;
use crate::store::db::Db;
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::telemetry::otel;

/// How far back the recent pass looks. A sale's time is its statement's start,
/// and a statement runs at most `statement_timeout`; the full pass covers the rest.
pub(crate) const RECENT_WINDOW_S: i32 = 10;

/// How often the recent pass runs. Within about this long of its commit, a sale
/// Redis missed is in Redis again (the audit allows for it).
pub(crate) const RECENT_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub(crate) struct Reconciler {
    db: Db,
    redis: Redis,
    keys: Keys,
    sold: SoldSeats,
}

/// What a pass changed in Redis, in seats. A sold set rebuilt only because
/// Redis lacked it (at start-up, or after Redis lost its data) changes no seat
/// when nothing was sold: its marker member "0" is not a seat, and is not counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Healed {
    /// Sold seats a sold set lacked, added.
    pub(crate) added: u64,
    /// Seats removed from a sold set because Postgres never sold them.
    pub(crate) removed: u64,
}

/// A seat sold on a schedule.
struct SoldSeat {
    schedule_id: i64,
    seat_number: i32,
}
crate::store::rows::from_row!(SoldSeat {
    schedule_id,
    seat_number
});

/// How many seats of a schedule Postgres has sold.
struct SalesCount {
    schedule_id: i64,
    sold: i64,
}
crate::store::rows::from_row!(SalesCount { schedule_id, sold });

impl Reconciler {
    pub(crate) fn new(db: Db, redis: Redis, keys: Keys, sold: SoldSeats) -> Self {
        Reconciler { db, redis, keys, sold }
    }

    /// Adds the sales of the last few seconds to their sold sets.
    pub(crate) async fn recent_sales(&self) -> Result<Healed, BookingError> {
        self.add_recent_sales()
            .instrument(otel::chore("reconcile.recent"))
            .await
    }

    async fn add_recent_sales(&self) -> Result<Healed, BookingError> {
        let rows: Vec<SoldSeat> = self
            .db
            .bounded(|connection| {
                Box::pin(async move {
                    let rows = sqlx::query_as(
                        "SELECT r.schedule_id, s.seat_number FROM reservations r JOIN seats s ON s.id = r.seat_id
                         WHERE r.created_at > now() - make_interval(secs => $1)",
                    )
                    .bind(RECENT_WINDOW_S)
                    .fetch_all(connection)
                    .instrument(otel::sql("reconcile.recent_sales"))
                    .await?;
                    Ok::<_, BookingError>(rows)
                })
            })
            .await?;
        if rows.is_empty() {
            return Ok(Healed::default());
        }
        let mut by_schedule: HashMap<i64, Vec<i32>> = HashMap::new();
        for row in rows {
            by_schedule.entry(row.schedule_id).or_default().push(row.seat_number);
        }
        // One call per schedule, sent together: on a cluster each schedule is
        // a slot of its own, and a pipeline across slots is refused.
        let redis = self.redis.connection().await?;
        let adds = by_schedule.iter().map(|(schedule_id, seats)| {
            let mut redis = redis.clone();
            let key = self.keys.schedule(*schedule_id).sold;
            async move {
                redis::cmd("SADD")
                    .arg(key)
                    .arg(seats)
                    .query_async::<u64>(&mut redis)
                    .await
            }
        });
        let added = futures_util::future::try_join_all(adds).await?;
        let healed = Healed {
            added: added.iter().sum(),
            removed: 0,
        };
        if healed.added > 0 {
            tracing::warn!(
                seats = healed.added,
                "sold seats Redis had missed were added from Postgres"
            );
        }
        Ok(healed)
    }

    /// Compares every schedule's sales with its sold set, and repairs the sets
    /// that differ or were lost.
    pub(crate) async fn full_pass(&self, catalog: &Snapshot) -> Result<Healed, BookingError> {
        self.compare_all(catalog)
            .instrument(otel::chore("reconcile.full"))
            .await
    }

    async fn compare_all(&self, catalog: &Snapshot) -> Result<Healed, BookingError> {
        let schedule_ids: Vec<i64> = catalog.schedules().map(|schedule| schedule.id).collect();
        // The statement owns what it binds: its future may outlive this call's borrows.
        let ids = schedule_ids.clone();
        let counts: Vec<SalesCount> = self
            .db
            .bounded(move |connection| {
                Box::pin(async move {
                    let counts = sqlx::query_as(
                        "SELECT schedule_id, count(*) AS sold FROM reservations WHERE schedule_id = ANY($1) GROUP BY schedule_id",
                    )
                    .bind(&ids)
                    .fetch_all(connection)
                    .instrument(otel::sql("reconcile.sales_counts"))
                    .await?;
                    Ok::<_, BookingError>(counts)
                })
            })
            .await?;
        let sold_in_db: HashMap<i64, i64> = counts
            .into_iter()
            .map(|count| (count.schedule_id, count.sold))
            .collect();

        // Per schedule, as above: one slot each on a cluster.
        let mut redis = self.redis.connection().await?;
        let reads = schedule_ids.iter().map(|schedule_id| {
            let mut redis = redis.clone();
            let key = self.keys.schedule(*schedule_id).sold;
            async move {
                redis::pipe()
                    .scard(&key)
                    .sismember(&key, 0)
                    .query_async::<(i64, bool)>(&mut redis)
                    .await
            }
        });
        let replies = futures_util::future::try_join_all(reads).await?;

        let mut healed = Healed::default();
        for (schedule_id, (size, marked)) in schedule_ids.iter().zip(replies) {
            let in_db = sold_in_db.get(schedule_id).copied().unwrap_or(0);
            let in_redis = if marked { size - 1 } else { size };
            if marked && in_redis == in_db {
                continue;
            }
            healed.added += self.sold.rebuild(&mut redis, *schedule_id).await?;
            if in_redis > in_db || !marked {
                healed.removed += self.remove_unsold(*schedule_id).await?;
            }
        }
        if healed != Healed::default() {
            tracing::info!(
                added = healed.added,
                removed = healed.removed,
                "sold sets reconciled with Postgres"
            );
        }
        Ok(healed)
    }

    /// Removes from a sold set the seats Postgres has not sold. Each is checked
    /// again just before removal, so a sale committing meanwhile stays.
    async fn remove_unsold(&self, schedule_id: i64) -> Result<u64, BookingError> {
        let key = self.keys.schedule(schedule_id).sold;
        let mut redis = self.redis.connection().await?;
        let members: Vec<i32> = redis::cmd("SMEMBERS").arg(&key).query_async(&mut redis).await?;
        let candidates = members.clone();
        let sold: Vec<i32> = self
            .db
            .bounded(move |connection| {
                Box::pin(async move {
                    let sold = sqlx::query_scalar(
                        "SELECT s.seat_number FROM reservations r JOIN seats s ON s.id = r.seat_id
                         WHERE r.schedule_id = $1 AND s.seat_number = ANY($2)",
                    )
                    .bind(schedule_id)
                    .bind(&candidates)
                    .fetch_all(connection)
                    .instrument(otel::sql("reconcile.sold_of"))
                    .await?;
                    Ok::<_, BookingError>(sold)
                })
            })
            .await?;
        let sold: BTreeSet<i32> = sold.into_iter().collect();
        let unsold: Vec<i32> = members
            .into_iter()
            .filter(|seat| *seat != 0 && !sold.contains(seat))
            .collect();
        if unsold.is_empty() {
            return Ok(0);
        }
        tracing::warn!(
            schedule_id,
            ?unsold,
            "Redis marked seats sold that Postgres never sold; removed"
        );
        let removed: u64 = redis::cmd("SREM")
            .arg(&key)
            .arg(&unsold)
            .query_async(&mut redis)
            .await?;
        Ok(removed)
    }
}
