//! Booking: the catalog, seat holds in Redis, balances and payments in Postgres.
//!
//! Services, each owning one concern and wired together in `startup`:
//! - [`Catalog`] (`catalog.rs`): concerts, schedules and seats, kept in process;
//! - [`Holds`] (`holds.rs`): seat maps and all-or-nothing holds in Redis;
//! - [`SoldSeats`] (`sold.rs`): the sold set in Redis, rebuilt from Postgres;
//! - [`Balances`] (`balances.rs`): reading and topping up a balance;
//! - [`Checkout`] (`payments/`): turning holds into a paid sale, through a
//!   payment method (`payments/method.rs`; the balance is the one so far);
//! - [`Auditor`] (`audit/`): the business invariants, checked against both
//!   stores, and [`LatestAudit`], the audit as HTTP serves it.
//!
//! `money.rs` holds the bounds of prices and amounts and the checked sums.
//!
//! Guarantees:
//! - a seat is sold at most once: holds are all-or-nothing Lua scripts, and the
//!   sale itself is a row under a UNIQUE constraint, so even a Redis that lost
//!   its data cannot cause a double sale;
//! - money is integer won, changed only by guarded atomic `UPDATE ... RETURNING`
//!   statements, each change written to the ledger in the same statement;
//! - a payment from the balance is one statement (debit, payments, reservations,
//!   ledger rows, idempotency key): it happens completely or not at all.

pub mod audit;
pub(crate) mod balances;
pub(crate) mod catalog;
pub(crate) mod catalog_editor;
pub(crate) mod holds;
pub(crate) mod idempotency;
pub(crate) mod money;
pub(crate) mod payments;
pub(crate) mod receipt;
pub(crate) mod reconcile;
pub(crate) mod sold;

use redis::RedisError;

use crate::queue::QueueError;
use crate::store::db::DbError;
use crate::store::db_gave_up;
use crate::users::UnknownUser;
pub(crate) use audit::{Auditor, LatestAudit};
pub(crate) use balances::Balances;
pub(crate) use catalog::Catalog;
pub(crate) use catalog_editor::CatalogEditor;
pub(crate) use holds::Holds;
pub(crate) use payments::Checkout;
pub(crate) use reconcile::Reconciler;
pub(crate) use sold::SoldSeats;

#[derive(Debug, thiserror::Error)]
pub(crate) enum BookingError {
    #[error("concert not found")]
    ConcertNotFound,
    #[error("a concert with this code exists already")]
    ConcertExists,
    #[error("two schedules of the concert start at the same time")]
    DuplicateSchedule,
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
    #[error(
        "these seats cannot be sold together: a price beyond {} won, or a total beyond {} won",
        money::MAX_PRICE,
        money::MAX_AMOUNT
    )]
    AmountOutOfRange,
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("Redis failed")]
    Redis(#[from] RedisError),
    #[error("Postgres failed")]
    Database(#[from] sqlx::Error),
    /// Nothing was sent to Postgres: it is down, or no connection came in time.
    #[error("Postgres is unavailable; nothing was done")]
    PostgresDown,
    /// Postgres gave up on the statement (its time or a lock wait ran out) and
    /// rolled it back.
    #[error("Postgres did not finish in time and rolled back; nothing was done")]
    PostgresGaveUp,
    /// A statement that moves money was sent and no answer came back.
    #[error("Postgres did not answer in time: the outcome is unknown; retry with the same Idempotency-Key")]
    OutcomeUnknown,
    #[error("the stores disagree: {0}")]
    Inconsistent(String),
}

impl From<DbError> for BookingError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(cause) => {
                if let Some(cause) = cause {
                    tracing::debug!(error = %cause, "no Postgres connection");
                }
                BookingError::PostgresDown
            }
            DbError::Refused(err) if db_gave_up(&err) => BookingError::PostgresGaveUp,
            DbError::Refused(err) => BookingError::Database(err),
            DbError::OutcomeUnknown(cause) => {
                tracing::warn!(error = ?cause, "a money statement got no answer: outcome unknown");
                BookingError::OutcomeUnknown
            }
        }
    }
}

impl BookingError {
    /// The outcome label of a refused charge or payment in the metrics.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            BookingError::ConcertNotFound => "concert_not_found",
            BookingError::ConcertExists => "concert_exists",
            BookingError::DuplicateSchedule => "duplicate_schedule",
            BookingError::ScheduleNotFound => "schedule_not_found",
            BookingError::UserNotFound(_) => "user_not_found",
            BookingError::NoSeatsRequested => "no_seats_requested",
            BookingError::SeatNotFound(_) => "seat_not_found",
            BookingError::SeatUnavailable(_) => "seat_unavailable",
            BookingError::TooManySeats { .. } => "too_many_seats",
            BookingError::NoHold => "no_hold",
            BookingError::HoldExpired => "hold_expired",
            BookingError::InsufficientBalance { .. } => "insufficient_balance",
            BookingError::InvalidAmount { .. } => "invalid_amount",
            BookingError::BalanceLimitExceeded { .. } => "balance_limit_exceeded",
            BookingError::AmountOutOfRange => "amount_out_of_range",
            BookingError::IdempotencyKeyReused => "idempotency_key_reused",
            BookingError::Queue(_) => "token_refused",
            BookingError::Redis(_) => "redis_error",
            BookingError::Database(_) => "postgres_error",
            BookingError::PostgresDown | BookingError::PostgresGaveUp => "postgres_unavailable",
            BookingError::OutcomeUnknown => "outcome_unknown",
            BookingError::Inconsistent(_) => "inconsistent",
        }
    }

    /// True when Postgres could not be reached for this request: then asking it
    /// anything more (an idempotency key's record, say) would only wait again.
    pub(crate) fn postgres_unreachable(&self) -> bool {
        match self {
            BookingError::PostgresDown | BookingError::PostgresGaveUp | BookingError::OutcomeUnknown => true,
            BookingError::Database(err) => crate::store::db_is_unavailable(err),
            _ => false,
        }
    }
}

impl From<UnknownUser> for BookingError {
    fn from(UnknownUser(user_id): UnknownUser) -> Self {
        BookingError::UserNotFound(user_id)
    }
}
