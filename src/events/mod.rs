//! Events: what happened in a sale, each with a stable type and data, an id
//! that only increases, and a time, for `GET /admin/events` to page through
//! and stream.
//!
//! Events about money and seats live in Postgres, in the `events` table (an
//! outbox): each is written by the very statement that makes the sale
//! (`booking/payments/balance.rs`), so a crash can neither lose one nor invent
//! one. The [`Sequencer`] then gives committed rows their public ids, in one
//! increasing run (`sequencer.rs` says why); [`EventLog`] reads them in that
//! order. [`EventType`] names every type, including those nothing emits yet.
//! [`webhooks`] delivers them to the endpoints operators register.
//!
//! A queue's own events (admitted, timed out, left) are born in its Redis
//! scripts, atomically with what they describe, into a stream per queue; the
//! [`Drain`] moves them into the same table, where they are numbered like the
//! rest (`drain.rs`).

mod breakers;
mod counts;
mod drain;
mod log;
pub(crate) mod report;
mod sequencer;
mod types;
pub(crate) mod webhooks;

pub(crate) use breakers::BreakerEvents;
pub(crate) use counts::{Count, CountWriter, QueueCounter, QueueCounts};
pub(crate) use drain::{emit, Drain, DRAIN_EVERY};
pub(crate) use log::{Event, EventLog, Filter};
pub(crate) use sequencer::{Sequencer, SEQUENCE_EVERY};
pub(crate) use types::EventType;

use crate::store::db::DbError;

/// Why events could not be read or sequenced.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EventsError {
    /// Nothing was read: Postgres is down, or did not answer in time.
    #[error("Postgres is unavailable")]
    PostgresDown,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Redis refused or did not answer (the drain).
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    /// A write was sent and its answer lost: it may have committed.
    #[error("Postgres did not say whether the change was made")]
    OutcomeUnknown,
    /// No webhook endpoint has that id.
    #[error("no webhook endpoint has that id")]
    WebhookNotFound,
    /// A row's data is not JSON: the table was written by something else.
    #[error("an event's data is not JSON")]
    Unreadable(#[from] serde_json::Error),
}

impl From<DbError> for EventsError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Refused(err) => EventsError::Database(err),
            // Reads and the sequencer's pass change nothing a caller acts on:
            // an unknown outcome is one more pass.
            DbError::Unavailable(_) | DbError::OutcomeUnknown(_) => EventsError::PostgresDown,
        }
    }
}
