//! Concerts, schedules and seats: static once on sale, so they are kept in
//! process and reloaded periodically; reads never query Postgres per request.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

#[derive(Debug, Clone)]
pub struct Seat {
    pub id: i64,
    pub number: i32,
    pub price: i64,
}

#[derive(Debug)]
pub struct Schedule {
    pub id: i64,
    pub concert_id: i64,
    pub starts_at: DateTime<Utc>,
    /// Sorted by seat number.
    pub seats: Vec<Seat>,
}

#[derive(Debug)]
pub struct Concert {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// Schedule ids, earliest first.
    pub schedules: Vec<i64>,
}

#[derive(Debug, Default)]
pub struct Catalog {
    concerts: HashMap<i64, Arc<Concert>>,
    by_code: HashMap<String, i64>,
    schedules: HashMap<i64, Arc<Schedule>>,
}

impl Schedule {
    pub fn seat(&self, number: i32) -> Option<&Seat> {
        self.seats
            .binary_search_by_key(&number, |seat| seat.number)
            .ok()
            .map(|index| &self.seats[index])
    }
}

impl Catalog {
    pub async fn load(db: &PgPool) -> Result<Self, sqlx::Error> {
        let concerts: Vec<(i64, String, String)> = sqlx::query_as("SELECT id, code, name FROM concerts ORDER BY id")
            .fetch_all(db)
            .await?;
        let schedules: Vec<(i64, i64, DateTime<Utc>)> =
            sqlx::query_as("SELECT id, concert_id, starts_at FROM concert_schedules ORDER BY starts_at, id")
                .fetch_all(db)
                .await?;
        let seats: Vec<(i64, i64, i32, i64)> =
            sqlx::query_as("SELECT id, schedule_id, seat_number, price FROM seats ORDER BY schedule_id, seat_number")
                .fetch_all(db)
                .await?;

        let mut seats_of: HashMap<i64, Vec<Seat>> = HashMap::new();
        for (id, schedule_id, number, price) in seats {
            seats_of
                .entry(schedule_id)
                .or_default()
                .push(Seat { id, number, price });
        }
        let mut schedules_of: HashMap<i64, Vec<i64>> = HashMap::new();
        let mut catalog = Catalog::default();
        for (id, concert_id, starts_at) in schedules {
            schedules_of.entry(concert_id).or_default().push(id);
            let seats = seats_of.remove(&id).unwrap_or_default();
            catalog.schedules.insert(
                id,
                Arc::new(Schedule {
                    id,
                    concert_id,
                    starts_at,
                    seats,
                }),
            );
        }
        for (id, code, name) in concerts {
            let schedules = schedules_of.remove(&id).unwrap_or_default();
            catalog.by_code.insert(code.clone(), id);
            catalog.concerts.insert(
                id,
                Arc::new(Concert {
                    id,
                    code,
                    name,
                    schedules,
                }),
            );
        }
        Ok(catalog)
    }

    pub fn concert(&self, id: i64) -> Option<&Arc<Concert>> {
        self.concerts.get(&id)
    }

    pub fn concert_by_code(&self, code: &str) -> Option<&Arc<Concert>> {
        self.by_code.get(code).and_then(|id| self.concerts.get(id))
    }

    pub fn schedule(&self, id: i64) -> Option<&Arc<Schedule>> {
        self.schedules.get(&id)
    }

    pub fn concerts(&self) -> impl Iterator<Item = &Arc<Concert>> {
        self.concerts.values()
    }

    pub fn schedules(&self) -> impl Iterator<Item = &Arc<Schedule>> {
        self.schedules.values()
    }

    pub fn schedules_of<'a>(&'a self, concert: &'a Concert) -> impl Iterator<Item = &'a Arc<Schedule>> + 'a {
        concert.schedules.iter().filter_map(|id| self.schedules.get(id))
    }
}
