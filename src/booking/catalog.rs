//! Concerts, schedules and seats: static once on sale, so they are kept in
//! process and reloaded periodically; reads never query Postgres per request.
//! Each concert's code also names its waiting queue.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tracing::Instrument;

use super::BookingError;
use crate::telemetry::otel;

#[derive(Debug, Clone)]
pub(crate) struct Seat {
    pub(crate) id: i64,
    pub(crate) number: i32,
    pub(crate) price: i64,
}
crate::store::rows::from_row!(Seat { id, number, price });

#[derive(Debug)]
pub(crate) struct Schedule {
    pub(crate) id: i64,
    pub(crate) concert_id: i64,
    pub(crate) starts_at: DateTime<Utc>,
    /// Sorted by seat number.
    pub(crate) seats: Vec<Seat>,
}
crate::store::rows::from_row!(
    Schedule {
        id,
        concert_id,
        starts_at
    },
    default { seats }
);

#[derive(Debug)]
pub(crate) struct Concert {
    pub(crate) id: i64,
    pub(crate) code: String,
    pub(crate) name: String,
    /// Schedule ids, earliest first.
    pub(crate) schedules: Vec<i64>,
}
crate::store::rows::from_row!(Concert { id, code, name }, default { schedules });

/// A row of `seats`: the seat, and the schedule it belongs to.
struct ScheduledSeat {
    schedule_id: i64,
    seat: Seat,
}
crate::store::rows::from_row!(ScheduledSeat { schedule_id }, flatten { seat });

impl Schedule {
    pub(crate) fn seat(&self, number: i32) -> Option<&Seat> {
        self.seats
            .binary_search_by_key(&number, |seat| seat.number)
            .ok()
            .map(|index| &self.seats[index])
    }
}

/// The catalog as loaded at one moment.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    concerts: HashMap<i64, Arc<Concert>>,
    by_code: HashMap<String, i64>,
    schedules: HashMap<i64, Arc<Schedule>>,
}

impl Snapshot {
    pub(crate) async fn load(db: &PgPool) -> Result<Self, sqlx::Error> {
        let concerts: Vec<Concert> = sqlx::query_as("SELECT id, code, name FROM concerts ORDER BY id")
            .fetch_all(db)
            .instrument(otel::sql("catalog.concerts"))
            .await?;
        let schedules: Vec<Schedule> =
            sqlx::query_as("SELECT id, concert_id, starts_at FROM concert_schedules ORDER BY starts_at, id")
                .fetch_all(db)
                .instrument(otel::sql("catalog.schedules"))
                .await?;
        let seats: Vec<ScheduledSeat> = sqlx::query_as(
            "SELECT schedule_id, id, seat_number AS number, price FROM seats ORDER BY schedule_id, seat_number",
        )
        .fetch_all(db)
        .instrument(otel::sql("catalog.seats"))
        .await?;

        let mut seats_of: HashMap<i64, Vec<Seat>> = HashMap::new();
        for ScheduledSeat { schedule_id, seat } in seats {
            seats_of.entry(schedule_id).or_default().push(seat);
        }
        let mut schedules_of: HashMap<i64, Vec<i64>> = HashMap::new();
        let mut snapshot = Snapshot::default();
        for mut schedule in schedules {
            schedules_of.entry(schedule.concert_id).or_default().push(schedule.id);
            schedule.seats = seats_of.remove(&schedule.id).unwrap_or_default();
            snapshot.schedules.insert(schedule.id, Arc::new(schedule));
        }
        for mut concert in concerts {
            concert.schedules = schedules_of.remove(&concert.id).unwrap_or_default();
            snapshot.by_code.insert(concert.code.clone(), concert.id);
            snapshot.concerts.insert(concert.id, Arc::new(concert));
        }
        Ok(snapshot)
    }

    pub(crate) fn schedules(&self) -> impl Iterator<Item = &Arc<Schedule>> {
        self.schedules.values()
    }
}

/// The in-process catalog, shared by every request of this instance.
#[derive(Clone)]
pub(crate) struct Catalog {
    db: PgPool,
    current: Arc<RwLock<Arc<Snapshot>>>,
}

impl Catalog {
    pub(crate) fn new(db: PgPool) -> Self {
        Catalog {
            db,
            current: Arc::default(),
        }
    }

    /// Reloads concerts, schedules and seats from Postgres.
    pub(crate) async fn reload(&self) -> Result<(), sqlx::Error> {
        let fresh = Arc::new(Snapshot::load(&self.db).await?);
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }

    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub(crate) fn concert(&self, concert_id: i64) -> Result<Arc<Concert>, BookingError> {
        let snapshot = self.snapshot();
        snapshot
            .concerts
            .get(&concert_id)
            .cloned()
            .ok_or(BookingError::ConcertNotFound)
    }

    pub(crate) fn concert_by_code(&self, code: &str) -> Result<Arc<Concert>, BookingError> {
        let snapshot = self.snapshot();
        snapshot
            .by_code
            .get(code)
            .and_then(|id| snapshot.concerts.get(id))
            .cloned()
            .ok_or(BookingError::ConcertNotFound)
    }

    /// The schedule, provided it belongs to the concert.
    pub(crate) fn schedule(&self, concert: &Concert, schedule_id: i64) -> Result<Arc<Schedule>, BookingError> {
        self.snapshot()
            .schedules
            .get(&schedule_id)
            .filter(|schedule| schedule.concert_id == concert.id)
            .cloned()
            .ok_or(BookingError::ScheduleNotFound)
    }

    /// Any schedule, by id.
    pub(crate) fn schedule_by_id(&self, schedule_id: i64) -> Option<Arc<Schedule>> {
        self.snapshot().schedules.get(&schedule_id).cloned()
    }

    /// The concert's schedule that starts exactly at `starts_at`.
    pub(crate) fn schedule_at(
        &self,
        concert: &Concert,
        starts_at: DateTime<Utc>,
    ) -> Result<Arc<Schedule>, BookingError> {
        self.schedules_of(concert)
            .into_iter()
            .find(|schedule| schedule.starts_at == starts_at)
            .ok_or(BookingError::ScheduleNotFound)
    }

    /// The concert's schedules, earliest first.
    pub(crate) fn schedules_of(&self, concert: &Concert) -> Vec<Arc<Schedule>> {
        let snapshot = self.snapshot();
        concert
            .schedules
            .iter()
            .filter_map(|id| snapshot.schedules.get(id).cloned())
            .collect()
    }

    /// Every concert, by id.
    pub(crate) fn concerts(&self) -> Vec<Arc<Concert>> {
        let mut concerts: Vec<Arc<Concert>> = self.snapshot().concerts.values().cloned().collect();
        concerts.sort_by_key(|concert| concert.id);
        concerts
    }

    /// Every queue: the default one and one per concert code, sorted.
    pub(crate) fn queue_names(&self, default_queue: &str) -> Vec<String> {
        let snapshot = self.snapshot();
        let mut names: Vec<String> = snapshot.concerts.values().map(|concert| concert.code.clone()).collect();
        names.sort();
        names.insert(0, default_queue.to_string());
        names
    }
}
