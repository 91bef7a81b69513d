//! Booking: schedules and seats, seat holds in Redis, balances and payments in
//! Postgres.
//!
//! Guarantees:
//! - a seat is sold at most once: holds are all-or-nothing Lua scripts, and the
//!   sale itself is a row under a UNIQUE constraint, so even a Redis that lost
//!   its data cannot cause a double sale;
//! - money is integer won, changed only by guarded atomic `UPDATE ... RETURNING`
//!   statements, each change written to the ledger in the same transaction;
//! - a payment is one transaction: it happens completely or not at all.

pub mod audit;
pub mod balances;
pub mod catalog;
pub mod holds;
pub mod idempotency;
pub mod payments;

use std::sync::{Arc, RwLock};

use redis::RedisError;
use sqlx::PgPool;

use crate::config::BookingConfig;
use crate::queue::{QueueError, QueueService};
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::users::UserDirectory;
use catalog::{Catalog, Concert, Schedule};

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("concert not found")]
    ConcertNotFound,
    #[error("schedule not found for this concert")]
    ScheduleNotFound,
    #[error("user {0} does not exist")]
    UserNotFound(i64),
    #[error("no seats were requested")]
    NoSeatsRequested,
    #[error("these seats do not exist on this schedule: {0:?}")]
    SeatNotFound(Vec<i32>),
    #[error("these seats are already taken: {0:?}")]
    SeatUnavailable(Vec<i32>),
    #[error("at most {limit} seats per user per schedule (already holding {held})")]
    TooManySeats { limit: u32, held: u32 },
    #[error("no seats are held on this schedule")]
    NoHold,
    #[error("the seat hold has expired")]
    HoldExpired,
    #[error("balance {balance} is less than the price {required}")]
    InsufficientBalance { balance: i64, required: i64 },
    #[error("amount must be a whole number of won between 1 and {max}")]
    InvalidAmount { max: i64 },
    #[error("the balance may not exceed {max} won")]
    BalanceLimitExceeded { max: i64 },
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("Redis failed")]
    Redis(#[from] RedisError),
    #[error("Postgres failed")]
    Database(#[from] sqlx::Error),
    #[error("unexpected reply from Redis: {0}")]
    UnexpectedReply(String),
    #[error("stored result could not be read back")]
    Corrupt(#[from] serde_json::Error),
}

#[derive(Clone)]
pub struct BookingService {
    inner: Arc<Inner>,
}

struct Inner {
    db: PgPool,
    redis: Redis,
    keys: Keys,
    users: Arc<UserDirectory>,
    queue: QueueService,
    config: BookingConfig,
    catalog: RwLock<Arc<Catalog>>,
}

impl BookingService {
    pub fn new(
        db: PgPool,
        redis: Redis,
        keys: Keys,
        users: Arc<UserDirectory>,
        queue: QueueService,
        config: BookingConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                redis,
                keys,
                users,
                queue,
                config,
                catalog: RwLock::new(Arc::new(Catalog::default())),
            }),
        }
    }

    pub fn config(&self) -> &BookingConfig {
        &self.inner.config
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.inner
            .catalog
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Reloads concerts, schedules and seats from Postgres.
    pub async fn reload_catalog(&self) -> Result<(), sqlx::Error> {
        let fresh = Arc::new(Catalog::load(&self.inner.db).await?);
        *self
            .inner
            .catalog
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }

    pub fn concert(&self, concert_id: i64) -> Result<Arc<Concert>, BookingError> {
        self.catalog()
            .concert(concert_id)
            .cloned()
            .ok_or(BookingError::ConcertNotFound)
    }

    pub fn concert_by_code(&self, code: &str) -> Result<Arc<Concert>, BookingError> {
        self.catalog()
            .concert_by_code(code)
            .cloned()
            .ok_or(BookingError::ConcertNotFound)
    }

    /// The schedule, provided it belongs to the concert.
    pub fn schedule(&self, concert: &Concert, schedule_id: i64) -> Result<Arc<Schedule>, BookingError> {
        self.catalog()
            .schedule(schedule_id)
            .filter(|schedule| schedule.concert_id == concert.id)
            .cloned()
            .ok_or(BookingError::ScheduleNotFound)
    }

    /// Checks the business invariants against Postgres and Redis.
    pub async fn audit(&self) -> Result<audit::AuditReport, BookingError> {
        audit::run(&self.inner.db, &self.inner.redis, &self.inner.keys, &self.catalog()).await
    }

    fn require_user(&self, user_id: i64) -> Result<(), BookingError> {
        if self.inner.users.contains(user_id) {
            Ok(())
        } else {
            Err(BookingError::UserNotFound(user_id))
        }
    }
}
