//! Redis's sold sets against Postgres's reservations, allowing for the time in
//! which Redis rightly lags: it is told of a sale after Postgres commits it, by
//! the payment itself or, if that gateway died, by the reconciler's recent pass
//! within about a second (`booking/reconcile.rs`).
//!
//! - A seat Redis shows sold that the snapshot lacks may have been sold since
//!   the snapshot: it is drift only if Postgres, read after Redis, lacks it too.
//! - A seat sold in the snapshot that Redis lacks is drift at once when its sale
//!   is older than the recent pass's window (nothing but the full pass would
//!   bring it now); a recent one is looked for again until the recent pass has
//!   had two chances to bring it.
//!
//! A sold set not rebuilt yet (no marker "0") is skipped: it is rebuilt from
//! Postgres on use.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use sqlx::PgConnection;
use tokio::time::Instant;
use tracing::Instrument;

use crate::booking::catalog::Snapshot;
use crate::booking::reconcile::RECENT_EVERY;
use crate::booking::BookingError;
use crate::store::keys::Keys;
use crate::store::redis::{Connection, Redis};
use crate::telemetry::otel;

/// Seats sold in the snapshot, by schedule: seat number -> whether the sale is
/// within the recent pass's window.
pub(super) type SoldInSnapshot = HashMap<i64, BTreeMap<i32, bool>>;

/// How long a recent sale may be missing from Redis: two recent passes, and
/// room for the second to finish.
const IN_FLIGHT_GRACE: Duration = RECENT_EVERY
    .saturating_mul(2)
    .saturating_add(Duration::from_millis(500));

/// How often the seats still missing are looked for meanwhile. Most are in
/// Redis at the first look: their payments were finishing as the audit read.
const LOOK_AGAIN_EVERY: Duration = Duration::from_millis(100);

/// What one schedule's sold set gets wrong.
#[derive(Default)]
struct Drift {
    /// Marked sold in Redis, never sold in Postgres.
    unsold: Vec<i32>,
    /// Sold in Postgres, not marked in Redis beyond the window.
    unmarked: Vec<i32>,
}

/// One violation per schedule whose sold set differs from Postgres.
pub(super) async fn mismatches(
    db: &mut PgConnection,
    redis: &Redis,
    keys: &Keys,
    catalog: &Snapshot,
    mut sold: SoldInSnapshot,
) -> Result<Vec<String>, BookingError> {
    let mut redis = redis.connection().await?;
    let mut drift: BTreeMap<i64, Drift> = BTreeMap::new();
    let mut in_flight: BTreeMap<i64, Vec<i32>> = BTreeMap::new();
    for schedule in catalog.schedules() {
        let Some(marked) = sold_set(&mut redis, keys, schedule.id).await? else {
            continue;
        };
        let in_db = sold.remove(&schedule.id).unwrap_or_default();
        let mut found = Drift::default();
        let extra: Vec<i32> = marked
            .iter()
            .copied()
            .filter(|seat| !in_db.contains_key(seat))
            .collect();
        if !extra.is_empty() {
            found.unsold = unsold_now(db, schedule.id, extra).await?;
        }
        for (&seat, &recent) in &in_db {
            if marked.contains(&seat) {
                continue;
            }
            if recent {
                in_flight.entry(schedule.id).or_default().push(seat);
            } else {
                found.unmarked.push(seat);
            }
        }
        if !found.unsold.is_empty() || !found.unmarked.is_empty() {
            drift.insert(schedule.id, found);
        }
    }

    let deadline = Instant::now() + IN_FLIGHT_GRACE;
    while !in_flight.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(LOOK_AGAIN_EVERY).await;
        for (&schedule_id, seats) in in_flight.iter_mut() {
            match sold_set(&mut redis, keys, schedule_id).await? {
                Some(marked) => seats.retain(|seat| !marked.contains(seat)),
                None => seats.clear(),
            }
        }
        in_flight.retain(|_, seats| !seats.is_empty());
    }
    for (schedule_id, seats) in in_flight {
        drift.entry(schedule_id).or_default().unmarked.extend(seats);
    }

    Ok(drift
        .into_iter()
        .map(|(schedule_id, mut found)| {
            found.unmarked.sort_unstable();
            let mut parts = Vec::new();
            if !found.unsold.is_empty() {
                parts.push(format!(
                    "Redis marks {:?} sold, which Postgres never sold",
                    found.unsold
                ));
            }
            if !found.unmarked.is_empty() {
                parts.push(format!(
                    "Postgres sold {:?}, which Redis does not mark sold",
                    found.unmarked
                ));
            }
            format!("schedule {schedule_id}: {}", parts.join("; "))
        })
        .collect())
}

/// A schedule's sold set without its marker; `None` when it has no marker.
async fn sold_set(
    redis: &mut Connection,
    keys: &Keys,
    schedule_id: i64,
) -> Result<Option<BTreeSet<i32>>, BookingError> {
    let mut members: BTreeSet<i32> = redis::cmd("SMEMBERS")
        .arg(&keys.schedule(schedule_id).sold)
        .query_async(redis)
        .await?;
    Ok(members.remove(&0).then_some(members))
}

/// Of `seats`, those Postgres has not sold, read now (after Redis was).
async fn unsold_now(db: &mut PgConnection, schedule_id: i64, mut seats: Vec<i32>) -> Result<Vec<i32>, BookingError> {
    let sold: BTreeSet<i32> = sqlx::query_scalar(
        "SELECT s.seat_number FROM reservations r JOIN seats s ON s.id = r.seat_id
         WHERE r.schedule_id = $1 AND s.seat_number = ANY($2)",
    )
    .bind(schedule_id)
    .bind(&seats)
    .fetch_all(&mut *db)
    .instrument(otel::sql("audit.sold_now"))
    .await?
    .into_iter()
    .collect();
    seats.retain(|seat| !sold.contains(seat));
    Ok(seats)
}
