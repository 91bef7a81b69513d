//! Seat state in Redis: holds that lapse by themselves, and the sold set that
//! mirrors Postgres (rebuilt from it whenever Redis has lost it).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use redis::Value;

use super::catalog::{Schedule, Seat};
use super::{BookingError, BookingService};
use crate::store::keys::ScheduleKeys;
use crate::store::scripts;

/// Seats a user now holds on a schedule.
#[derive(Debug, Clone)]
pub struct Hold {
    pub schedule: Arc<Schedule>,
    pub seats: Vec<Seat>,
    /// The earliest of the seats' hold expiries.
    pub expires_at: DateTime<Utc>,
}

/// One seat and whether anyone has it (sold or under a live hold).
#[derive(Debug, Clone)]
pub struct SeatState {
    pub seat: Seat,
    pub taken: bool,
}

impl BookingService {
    /// Every seat of the schedule with its state; one Redis round trip.
    pub async fn seat_map(&self, schedule: &Schedule) -> Result<Vec<SeatState>, BookingError> {
        let taken = self.taken_seats(schedule).await?;
        Ok(schedule
            .seats
            .iter()
            .map(|seat| SeatState {
                seat: seat.clone(),
                taken: taken.contains(&seat.number),
            })
            .collect())
    }

    /// Seats neither sold nor held.
    pub async fn free_seat_count(&self, schedule: &Schedule) -> Result<usize, BookingError> {
        let taken = self.taken_seats(schedule).await?;
        Ok(schedule
            .seats
            .iter()
            .filter(|seat| !taken.contains(&seat.number))
            .count())
    }

    async fn taken_seats(&self, schedule: &Schedule) -> Result<HashSet<i32>, BookingError> {
        let keys = self.inner.keys.schedule(schedule.id);
        let mut redis = self.inner.redis.connection().await?;
        for _ in 0..2 {
            let reply: Vec<Value> = scripts::SEATS_STATE
                .key(&keys.holds)
                .key(&keys.sold)
                .invoke_async(&mut redis)
                .await?;
            let mut words = reply.iter().map(as_text);
            match words.next().flatten().as_deref() {
                Some("ok") => {
                    return Ok(words.skip(1).flatten().filter_map(|seat| seat.parse().ok()).collect());
                }
                Some("unsynced") => self.rebuild_sold(&mut redis, schedule.id, &keys).await?,
                other => return Err(BookingError::UnexpectedReply(format!("{other:?}"))),
            }
        }
        Err(BookingError::UnexpectedReply("sold set did not rebuild".into()))
    }

    /// Holds `numbers` for `user_id`, all or nothing.
    pub async fn hold_seats(
        &self,
        schedule: Arc<Schedule>,
        user_id: i64,
        numbers: &[i32],
    ) -> Result<Hold, BookingError> {
        self.require_user(user_id)?;
        let mut wanted: Vec<i32> = Vec::with_capacity(numbers.len());
        for &number in numbers {
            if !wanted.contains(&number) {
                wanted.push(number);
            }
        }
        if wanted.is_empty() {
            return Err(BookingError::NoSeatsRequested);
        }
        let limit = self.inner.config.max_seats_per_user;
        if wanted.len() > limit as usize {
            return Err(BookingError::TooManySeats { limit, held: 0 });
        }
        let unknown: Vec<i32> = wanted.iter().copied().filter(|n| schedule.seat(*n).is_none()).collect();
        if !unknown.is_empty() {
            return Err(BookingError::SeatNotFound(unknown));
        }

        let keys = self.inner.keys.schedule(schedule.id);
        let mut redis = self.inner.redis.connection().await?;
        for _ in 0..2 {
            let mut invocation = scripts::SEATS_HOLD.key(&keys.holds);
            invocation
                .key(&keys.sold)
                .key(&keys.user_holds)
                .arg(user_id)
                .arg(self.inner.config.hold_ttl_s * 1000)
                .arg(limit);
            for number in &wanted {
                invocation.arg(*number);
            }
            let reply: Vec<Value> = invocation.invoke_async(&mut redis).await?;
            let mut words = reply.iter().map(as_text);
            match words.next().flatten().as_deref() {
                Some("held") => {
                    let expiry_ms = words
                        .flatten()
                        .filter_map(|ms| ms.parse::<i64>().ok())
                        .min()
                        .unwrap_or(0);
                    let seats = wanted.iter().filter_map(|n| schedule.seat(*n).cloned()).collect();
                    return Ok(Hold {
                        schedule,
                        seats,
                        expires_at: DateTime::from_timestamp_millis(expiry_ms).unwrap_or_default(),
                    });
                }
                Some("taken") => {
                    return Err(BookingError::SeatUnavailable(
                        words.flatten().filter_map(|seat| seat.parse().ok()).collect(),
                    ))
                }
                Some("limit") => {
                    let held = words.next().flatten().and_then(|n| n.parse().ok()).unwrap_or(0);
                    return Err(BookingError::TooManySeats { limit, held });
                }
                Some("unsynced") => self.rebuild_sold(&mut redis, schedule.id, &keys).await?,
                other => return Err(BookingError::UnexpectedReply(format!("{other:?}"))),
            }
        }
        Err(BookingError::UnexpectedReply("sold set did not rebuild".into()))
    }

    /// The seats `user_id` validly holds on `schedule`, for payment.
    pub(super) async fn held_by(&self, schedule: &Arc<Schedule>, user_id: i64) -> Result<Hold, BookingError> {
        let keys = self.inner.keys.schedule(schedule.id);
        let mut redis = self.inner.redis.connection().await?;
        let reply: Vec<Value> = scripts::SEATS_USER_HOLDS
            .key(&keys.holds)
            .key(&keys.user_holds)
            .arg(user_id)
            .invoke_async(&mut redis)
            .await?;
        let mut words = reply.iter().map(as_text);
        match words.next().flatten().as_deref() {
            Some("held") => {
                let rest: Vec<String> = words.flatten().collect();
                let mut seats = Vec::new();
                let mut expires_ms = i64::MAX;
                for pair in rest.chunks(2) {
                    if let [number, expiry] = pair {
                        if let Some(seat) = number.parse().ok().and_then(|n| schedule.seat(n)) {
                            seats.push(seat.clone());
                        }
                        expires_ms = expires_ms.min(expiry.parse().unwrap_or(0));
                    }
                }
                if seats.is_empty() {
                    return Err(BookingError::NoHold);
                }
                Ok(Hold {
                    schedule: schedule.clone(),
                    seats,
                    expires_at: DateTime::from_timestamp_millis(expires_ms).unwrap_or_default(),
                })
            }
            Some("expired") => Err(BookingError::HoldExpired),
            Some("none") => Err(BookingError::NoHold),
            other => Err(BookingError::UnexpectedReply(format!("{other:?}"))),
        }
    }

    /// After a committed sale: seats sold in Redis, the buyer's holds dropped.
    pub(super) async fn mark_sold(&self, schedule_id: i64, user_id: i64, numbers: &[i32]) -> Result<(), BookingError> {
        let keys = self.inner.keys.schedule(schedule_id);
        let mut redis = self.inner.redis.connection().await?;
        let mut invocation = scripts::SEATS_FINALIZE_SALE.key(&keys.holds);
        invocation.key(&keys.sold).key(&keys.user_holds).arg(user_id);
        for number in numbers {
            invocation.arg(*number);
        }
        invocation.invoke_async::<i64>(&mut redis).await?;
        Ok(())
    }

    /// Rebuilds the sold set from Postgres, the truth. Adds to what is there, so a
    /// sale marked by a payment that raced this rebuild is kept.
    pub(super) async fn rebuild_sold(
        &self,
        redis: &mut ConnectionManager,
        schedule_id: i64,
        keys: &ScheduleKeys,
    ) -> Result<(), BookingError> {
        let sold: Vec<i32> = sqlx::query_scalar(
            "SELECT s.seat_number FROM reservations r JOIN seats s ON s.id = r.seat_id WHERE r.schedule_id = $1",
        )
        .bind(schedule_id)
        .fetch_all(&self.inner.db)
        .await?;
        let mut command = redis::cmd("SADD");
        command.arg(&keys.sold).arg(0);
        for number in &sold {
            command.arg(*number);
        }
        command.query_async::<i64>(redis).await?;
        tracing::info!(schedule_id, sold = sold.len(), "rebuilt sold seats from Postgres");
        Ok(())
    }

    /// Forgets lapsed holds of every schedule; correctness never depends on it.
    pub async fn sweep_holds(&self) -> Result<u64, BookingError> {
        let mut redis = self.inner.redis.connection().await?;
        let mut removed = 0;
        for schedule in self.catalog().schedules() {
            let keys = self.inner.keys.schedule(schedule.id);
            removed += scripts::SEATS_SWEEP
                .key(&keys.holds)
                .key(&keys.user_holds)
                .invoke_async::<u64>(&mut redis)
                .await?;
        }
        Ok(removed)
    }
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        Value::Int(number) => Some(number.to_string()),
        _ => None,
    }
}
