//! Seat state in Redis: the seat map of a schedule, and holds that lapse by
//! themselves. Every decision is one Lua function on the schedule's keys.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::catalog::{Schedule, Seat, Snapshot};
use super::money;
use super::sold::SoldSeats;
use super::BookingError;
use crate::config::BookingConfig;
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::store::scripts::hold_seats::{self, HoldOutcome};
use crate::store::scripts::record::parse_hold;
use crate::store::scripts::seat_state::{self, TakenSeats};
use crate::store::scripts::sweep_holds;
use crate::store::scripts::user_holds::{self, UserHolds};
use crate::telemetry::metrics as m;
use crate::users::UserDirectory;
use metrics::counter;

/// Seats a user now holds on a schedule.
#[derive(Debug, Clone)]
pub(crate) struct Hold {
    pub(crate) schedule: Arc<Schedule>,
    pub(crate) seats: Vec<Seat>,
    /// The earliest of the seats' hold expiries.
    pub(crate) expires_at: DateTime<Utc>,
    amount: i64,
}

impl Hold {
    /// The seats with their total, which must be within the bounds of money.
    fn new(schedule: Arc<Schedule>, seats: Vec<Seat>, expires_ms: i64) -> Result<Self, BookingError> {
        Ok(Hold {
            amount: money::price_total(seats.iter().map(|seat| seat.price))?,
            schedule,
            seats,
            expires_at: DateTime::from_timestamp_millis(expires_ms).unwrap_or_default(),
        })
    }

    /// What the held seats cost together.
    pub(crate) fn amount(&self) -> i64 {
        self.amount
    }
}

/// Who has a seat, as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SeatHolding {
    Free,
    Held { user_id: i64, until: DateTime<Utc> },
    Sold,
}

#[derive(Debug, Clone)]
pub(crate) struct SeatDetail {
    pub(crate) seat: Seat,
    pub(crate) state: SeatHolding,
}

/// One seat and whether anyone has it (sold or under a live hold).
#[derive(Debug, Clone)]
pub(crate) struct SeatState {
    pub(crate) seat: Seat,
    pub(crate) taken: bool,
}

#[derive(Clone)]
pub(crate) struct Holds {
    redis: Redis,
    keys: Keys,
    sold: SoldSeats,
    users: Arc<UserDirectory>,
    config: Arc<BookingConfig>,
}

impl Holds {
    pub(crate) fn new(
        redis: Redis,
        keys: Keys,
        sold: SoldSeats,
        users: Arc<UserDirectory>,
        config: Arc<BookingConfig>,
    ) -> Self {
        Holds {
            redis,
            keys,
            sold,
            users,
            config,
        }
    }

    /// Every seat of the schedule with its state; one Redis round trip.
    pub(crate) async fn seat_map(&self, schedule: &Schedule) -> Result<Vec<SeatState>, BookingError> {
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

    /// Each schedule with how many of its seats are neither sold nor held.
    pub(crate) async fn availability(
        &self,
        schedules: Vec<Arc<Schedule>>,
    ) -> Result<Vec<(Arc<Schedule>, usize)>, BookingError> {
        let mut counted = Vec::with_capacity(schedules.len());
        for schedule in schedules {
            let taken = self.taken_seats(&schedule).await?;
            let free = schedule
                .seats
                .iter()
                .filter(|seat| !taken.contains(&seat.number))
                .count();
            counted.push((schedule, free));
        }
        Ok(counted)
    }

    async fn taken_seats(&self, schedule: &Schedule) -> Result<HashSet<i32>, BookingError> {
        let keys = self.keys.schedule(schedule.id);
        let mut redis = self.redis.connection().await?;
        let call = seat_state::call(&keys);
        let TakenSeats(taken) = self.sold.run_synced(&mut redis, schedule.id, &call).await?;
        Ok(taken.into_iter().collect())
    }

    /// Holds `numbers` for `user_id`, admitted through `queue` (which the
    /// `seats.held` event names), all or nothing.
    pub(crate) async fn hold_seats(
        &self,
        schedule: Arc<Schedule>,
        user_id: i64,
        queue: &str,
        numbers: &[i32],
    ) -> Result<Hold, BookingError> {
        self.users.require(user_id)?;
        let mut wanted: Vec<i32> = Vec::with_capacity(numbers.len());
        for &number in numbers {
            if !wanted.contains(&number) {
                wanted.push(number);
            }
        }
        if wanted.is_empty() {
            return Err(BookingError::NoSeatsRequested);
        }
        let limit = self.config.max_seats_per_user;
        if wanted.len() > limit as usize {
            return Err(BookingError::TooManySeats { limit, held: 0 });
        }
        let unknown: Vec<i32> = wanted.iter().copied().filter(|n| schedule.seat(*n).is_none()).collect();
        if !unknown.is_empty() {
            return Err(BookingError::SeatNotFound(unknown));
        }
        let seats: Vec<Seat> = wanted.iter().filter_map(|n| schedule.seat(*n).cloned()).collect();
        // Refused before anything is held: seats whose total could not be paid.
        money::price_total(seats.iter().map(|seat| seat.price))?;

        let keys = self.keys.schedule(schedule.id);
        let mut redis = self.redis.connection().await?;
        let call = hold_seats::call(&keys, user_id, self.config.hold_ttl_s * 1000, limit, queue, &wanted);
        match self.sold.run_synced(&mut redis, schedule.id, &call).await? {
            HoldOutcome::Held(expiries) => {
                counter!(m::HOLDS, "event" => "made").increment(wanted.len() as u64);
                let expiry_ms = expiries.into_iter().min().unwrap_or(0);
                Hold::new(schedule, seats, expiry_ms)
            }
            HoldOutcome::Taken(seats) => Err(BookingError::SeatUnavailable(seats)),
            HoldOutcome::Limit { already_held } => Err(BookingError::TooManySeats {
                limit,
                held: already_held,
            }),
        }
    }

    /// The seats `user_id` validly holds on `schedule`, for payment.
    pub(crate) async fn held_by(&self, schedule: &Arc<Schedule>, user_id: i64) -> Result<Hold, BookingError> {
        let keys = self.keys.schedule(schedule.id);
        let mut redis = self.redis.connection().await?;
        match user_holds::run(&mut redis, &keys, user_id).await? {
            UserHolds::Held(held) => {
                let seats: Vec<Seat> = held
                    .iter()
                    .filter_map(|(number, _)| schedule.seat(*number).cloned())
                    .collect();
                if seats.is_empty() {
                    return Err(BookingError::NoHold);
                }
                let expires_ms = held.iter().map(|(_, expiry)| *expiry).min().unwrap_or(0);
                Hold::new(schedule.clone(), seats, expires_ms)
            }
            UserHolds::Lapsed => Err(BookingError::HoldExpired),
            UserHolds::None => Err(BookingError::NoHold),
        }
    }

    /// Every seat of the schedule with who has it, for operators: sold, held
    /// (by whom, until when) or free.
    pub(crate) async fn seat_details(&self, schedule: &Schedule) -> Result<Vec<SeatDetail>, BookingError> {
        let keys = self.keys.schedule(schedule.id);
        let mut redis = self.redis.connection().await?;
        let (mut sold, holds): (HashSet<i32>, HashMap<i32, String>) = redis::pipe()
            .smembers(&keys.sold)
            .hgetall(&keys.holds)
            .query_async(&mut redis)
            .await?;
        if !sold.contains(&0) {
            self.sold.rebuild(&mut redis, schedule.id).await?;
            sold = redis::cmd("SMEMBERS").arg(&keys.sold).query_async(&mut redis).await?;
        }
        let now_ms = Utc::now().timestamp_millis();
        Ok(schedule
            .seats
            .iter()
            .map(|seat| {
                let hold = holds
                    .get(&seat.number)
                    .and_then(|value| parse_hold(value))
                    .filter(|(_, until)| *until > now_ms);
                let state = match (sold.contains(&seat.number), hold) {
                    (true, _) => SeatHolding::Sold,
                    (false, Some((user_id, until_ms))) => SeatHolding::Held {
                        user_id,
                        until: DateTime::from_timestamp_millis(until_ms).unwrap_or_default(),
                    },
                    (false, None) => SeatHolding::Free,
                };
                SeatDetail {
                    seat: seat.clone(),
                    state,
                }
            })
            .collect())
    }

    /// Forgets lapsed holds of every schedule; correctness never depends on it.
    pub(crate) async fn sweep(&self, catalog: &Snapshot) -> Result<u64, BookingError> {
        let mut redis = self.redis.connection().await?;
        let mut removed = 0;
        for schedule in catalog.schedules() {
            removed += sweep_holds::run(&mut redis, &self.keys.schedule(schedule.id)).await?;
        }
        counter!(m::HOLDS, "event" => "expired").increment(removed);
        Ok(removed)
    }
}
