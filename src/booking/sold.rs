//! The sold set of each schedule in Redis: a mirror of Postgres's reservations,
//! which stay the truth.
//!
//! A sold set carries the member "0" once it has been rebuilt from Postgres.
//! The Lua functions that decide on seats refuse to run on a set without it
//! (Redis lost it, or never had it), and [`SoldSeats::run_synced`] then rebuilds
//! it and runs the function again: the one place that loop is written.

use redis::{Cmd, FromRedisValue};
use tracing::Instrument;

use super::money;
use super::BookingError;
use crate::store::db::Db;
use crate::store::keys::Keys;
use crate::store::redis::{Connection, Redis};
use crate::store::scripts::{finalize_sale, library, Synced};
use crate::telemetry::metrics as m;
use crate::telemetry::otel;
use metrics::counter;

/// A schedule's sales: seats sold, and their prices' sum as `numeric` text.
struct Sales {
    sold: i64,
    revenue: String,
}
crate::store::rows::from_row!(Sales { sold, revenue });

#[derive(Clone)]
pub(crate) struct SoldSeats {
    db: Db,
    redis: Redis,
    keys: Keys,
}

impl SoldSeats {
    pub(crate) fn new(db: Db, redis: Redis, keys: Keys) -> Self {
        SoldSeats { db, redis, keys }
    }

    /// Runs a seat function of `schedule_id`; when it finds the sold set missing,
    /// rebuilds the set from Postgres and runs the function once more.
    pub(crate) async fn run_synced<T>(
        &self,
        redis: &mut Connection,
        schedule_id: i64,
        call: &Cmd,
    ) -> Result<T, BookingError>
    where
        Synced<T>: FromRedisValue,
    {
        for _ in 0..2 {
            match library::run::<Synced<T>>(redis, call).await? {
                Synced::Ready(reply) => return Ok(reply),
                Synced::Unsynced => {
                    self.rebuild(redis, schedule_id).await?;
                }
            }
        }
        Err(BookingError::Inconsistent(format!(
            "the sold set of schedule {schedule_id} did not stay rebuilt"
        )))
    }

    /// Rebuilds the sold set from Postgres, the truth. Adds to what is there, so a
    /// sale marked by a payment that raced this rebuild is kept. Returns how many
    /// sold seats the set lacked (the marker is not a seat).
    ///
    /// The seats go first and the marker after them, in two commands on one
    /// connection: a function that runs between the two finds no marker and has the
    /// set rebuilt again (harmless), and a marker never stands for a set that
    /// lacks a sale Postgres had. Apart, each command's count is exact.
    pub(crate) async fn rebuild(&self, redis: &mut Connection, schedule_id: i64) -> Result<u64, BookingError> {
        let sold: Vec<i32> = self
            .db
            .bounded(move |connection| {
                Box::pin(async move {
                    let sold = sqlx::query_scalar(
                        "SELECT s.seat_number FROM reservations r JOIN seats s ON s.id = r.seat_id WHERE r.schedule_id = $1",
                    )
                    .bind(schedule_id)
                    .fetch_all(connection)
                    .instrument(otel::sql("sold.rebuild"))
                    .await?;
                    Ok::<_, BookingError>(sold)
                })
            })
            .await?;
        let key = self.keys.schedule(schedule_id).sold;
        let mut commands = redis::pipe();
        if !sold.is_empty() {
            commands.sadd(&key, &sold);
        }
        commands.sadd(&key, 0).ignore();
        let lacked: Vec<u64> = commands.query_async(redis).await?;
        let lacked = lacked.first().copied().unwrap_or(0);
        tracing::info!(
            schedule_id,
            sold = sold.len(),
            lacked,
            "rebuilt sold seats from Postgres"
        );
        Ok(lacked)
    }

    /// Rebuilds the sold set of `schedule_id` on a connection of its own.
    pub(crate) async fn rebuild_now(&self, schedule_id: i64) -> Result<u64, BookingError> {
        let mut redis = self.redis.connection().await?;
        self.rebuild(&mut redis, schedule_id).await
    }

    /// Seats sold on a schedule and what they brought in, from Postgres. The sum
    /// stays `numeric` (read as text): rows from before the bounds of money
    /// could pass a `bigint`.
    pub(crate) async fn sales(&self, schedule_id: i64) -> Result<(i64, i128), BookingError> {
        let sales: Sales = self
            .db
            .bounded(move |connection| {
                Box::pin(async move {
                    let sales = sqlx::query_as(
                        "SELECT count(*) AS sold, COALESCE(sum(price), 0)::text AS revenue FROM reservations WHERE schedule_id = $1",
                    )
                    .bind(schedule_id)
                    .fetch_one(connection)
                    .instrument(otel::sql("sold.sales"))
                    .await?;
                    Ok::<_, BookingError>(sales)
                })
            })
            .await?;
        Ok((sales.sold, money::parse_sum(&sales.revenue)?))
    }

    /// After a committed sale: seats sold in Redis, the buyer's holds dropped.
    pub(crate) async fn mark_sold(&self, schedule_id: i64, user_id: i64, numbers: &[i32]) -> Result<(), BookingError> {
        let keys = self.keys.schedule(schedule_id);
        let mut redis = self.redis.connection().await?;
        finalize_sale::run(&mut redis, &keys, user_id, numbers).await?;
        counter!(m::HOLDS, "event" => "released").increment(numbers.len() as u64);
        Ok(())
    }
}
