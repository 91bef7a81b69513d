//! Catalog administration: a new concert with its schedules and seats, in one
//! transaction; and the change made known to every instance, which reloads
//! its in-process catalog within a second (a version counter in Redis that each
//! instance watches; see `background.rs`).

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use sqlx::PgConnection;
use tracing::Instrument;

use super::catalog::Catalog;
use super::BookingError;
use crate::store::db::Db;
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::telemetry::otel;

/// Seats of one schedule: numbers 1..=count, priced by section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewSchedule {
    pub(crate) starts_at: DateTime<Utc>,
    /// (last seat number of the section, price in won), in seat order; the
    /// last section's last seat is the schedule's seat count.
    pub(crate) sections: Vec<(i32, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewConcert {
    pub(crate) code: String,
    pub(crate) name: String,
    pub(crate) schedules: Vec<NewSchedule>,
}

/// The constraint that refuses two schedules of a concert at one time.
const DUPLICATE_SCHEDULE_CONSTRAINT: &str = "concert_schedules_concert_starts_key";

fn constraint_of(err: &sqlx::Error) -> Option<&str> {
    err.as_database_error().and_then(|err| err.constraint())
}

#[derive(Clone)]
pub(crate) struct CatalogEditor {
    db: Db,
    redis: Redis,
    keys: Keys,
    catalog: Catalog,
}

impl CatalogEditor {
    pub(crate) fn new(db: Db, redis: Redis, keys: Keys, catalog: Catalog) -> Self {
        CatalogEditor {
            db,
            redis,
            keys,
            catalog,
        }
    }

    /// Creates the concert; returns its id. A code in use is `ConcertExists`;
    /// two schedules at one time, `DuplicateSchedule`.
    /// Without an answer in time the outcome is unknown; sending it again
    /// tells (`ConcertExists` once it was made).
    pub(crate) async fn create_concert(&self, concert: &NewConcert) -> Result<i64, BookingError> {
        let new = concert.clone();
        let concert_id = self
            .db
            .bounded_change(move |connection| Box::pin(async move { insert(connection, &new).await }))
            .await?;
        self.catalog.reload().await?;
        self.announce().await;
        tracing::info!(concert_id, code = concert.code, "concert created");
        Ok(concert_id)
    }

    /// Tells every instance the catalog changed; best effort, since each also
    /// reloads on its own every 30 s.
    async fn announce(&self) {
        let bumped = async {
            let mut redis = self.redis.connection().await?;
            redis.incr::<_, _, i64>(self.keys.catalog_version(), 1).await
        };
        if let Err(err) = bumped.await {
            tracing::warn!(error = %err, "could not announce the catalog change; instances pick it up within 30 s");
        }
    }

    /// The catalog's version in Redis (0 before any change).
    pub(crate) async fn version(&self) -> Result<i64, BookingError> {
        let mut redis = self.redis.connection().await?;
        let version: Option<i64> = redis.get(self.keys.catalog_version()).await?;
        Ok(version.unwrap_or(0))
    }
}

/// The concert, its schedules and their seats, in one transaction.
async fn insert(connection: &mut PgConnection, concert: &NewConcert) -> Result<i64, BookingError> {
    let mut tx = sqlx::Connection::begin(connection).await?;
    let concert_id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO concerts (code, name) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING RETURNING id",
    )
    .bind(&concert.code)
    .bind(&concert.name)
    .fetch_optional(&mut *tx)
    .instrument(otel::sql("catalog.create_concert"))
    .await?;
    let concert_id = concert_id.ok_or(BookingError::ConcertExists)?;
    for schedule in &concert.schedules {
        let schedule_id: i64 =
            sqlx::query_scalar("INSERT INTO concert_schedules (concert_id, starts_at) VALUES ($1, $2) RETURNING id")
                .bind(concert_id)
                .bind(schedule.starts_at)
                .fetch_one(&mut *tx)
                .instrument(otel::sql("catalog.create_schedule"))
                .await
                .map_err(|err| match constraint_of(&err) {
                    Some(DUPLICATE_SCHEDULE_CONSTRAINT) => BookingError::DuplicateSchedule,
                    _ => err.into(),
                })?;
        let (mut numbers, mut prices) = (Vec::new(), Vec::new());
        let mut first = 1;
        for &(last, price) in &schedule.sections {
            for number in first..=last {
                numbers.push(number);
                prices.push(price);
            }
            first = last + 1;
        }
        sqlx::query(
            "INSERT INTO seats (schedule_id, seat_number, price)
             SELECT $1, n, p FROM UNNEST($2::int[], $3::bigint[]) AS s (n, p)",
        )
        .bind(schedule_id)
        .bind(&numbers)
        .bind(&prices)
        .execute(&mut *tx)
        .instrument(otel::sql("catalog.create_seats"))
        .await?;
    }
    tx.commit().await?;
    Ok(concert_id)
}
