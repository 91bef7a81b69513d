//! `Idempotency-Key` for charges and payments, as payment providers do it: the
//! first outcome is kept with the key (per user) and given again to a retry of
//! the same request; the same key with a different request is refused (422).
//!
//! The key row is written by the very statement that makes the effect, and
//! points at what that statement made: a charge's key at its ledger row, a
//! payment's at its payments (whatever method took the money), so the two
//! commit together and a payment stays one round trip to Postgres. A retry of
//! a finished request conflicts on the key's primary key, rolls back, and is
//! answered from those rows (see `receipt.rs`); a retry racing the first waits
//! on the key (or on the balance row) until the first commits, then does the
//! same. Refused requests (say, an insufficient balance) store nothing, so the
//! client may fix the cause and retry with the same key. Keys are kept at least
//! `RETENTION_HOURS` (48 hours).

use super::BookingError;
use crate::store::db::Db;
use crate::telemetry::otel;
use sha2::{Digest, Sha256};
use tracing::Instrument;

/// Keys older than this are deleted by [`purge_expired`].
pub(crate) const RETENTION_HOURS: i64 = 48;

/// A client's key for one request, with the fingerprint of that request.
#[derive(Debug, Clone)]
pub(crate) struct IdempotencyKey {
    user_id: i64,
    key: String,
    operation: &'static str,
    request_hash: String,
}

impl IdempotencyKey {
    /// `parts` identify the request: a retry must send the same ones.
    pub(crate) fn new(user_id: i64, key: &str, operation: &'static str, parts: &[&str]) -> Self {
        let mut hasher = Sha256::new();
        for part in std::iter::once(operation).chain(parts.iter().copied()) {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        IdempotencyKey {
            user_id,
            key: key.to_string(),
            operation,
            request_hash: hex::encode(hasher.finalize()),
        }
    }

    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    pub(crate) fn operation(&self) -> &'static str {
        self.operation
    }

    pub(crate) fn request_hash(&self) -> &str {
        &self.request_hash
    }

    /// After a request with this key failed: what the key's first, successful
    /// use made (this is a retry), or else the failure. A key used for a
    /// different request is refused. When Postgres itself was out of reach,
    /// the failure stands at once: asking again would only wait again.
    pub(crate) async fn or_recorded(&self, db: &Db, failure: BookingError) -> Result<Effect, BookingError> {
        if failure.postgres_unreachable() {
            return Err(failure);
        }
        let (user_id, key) = (self.user_id, self.key.clone());
        let row: Option<KeyRow> = db
            .bounded(move |connection| {
                Box::pin(async move {
                    let row = sqlx::query_as(
                        "SELECT operation, request_hash, ledger_ids, payment_ids FROM idempotency_keys
                     WHERE user_id = $1 AND key = $2",
                    )
                    .bind(user_id)
                    .bind(key)
                    .fetch_optional(connection)
                    .instrument(otel::sql("idempotency.recorded"))
                    .await?;
                    Ok::<_, BookingError>(row)
                })
            })
            .await?;
        let Some(row) = row else {
            return Err(failure);
        };
        if row.operation != self.operation || row.request_hash != self.request_hash {
            return Err(BookingError::IdempotencyKeyReused);
        }
        match (row.ledger_ids, row.payment_ids) {
            (Some(ledger_ids), None) => Ok(Effect::Ledger(ledger_ids)),
            (None, Some(payment_ids)) => Ok(Effect::Payments(payment_ids)),
            // The table's idempotency_keys_one_effect check forbids the rest.
            _ => Err(BookingError::Inconsistent(format!(
                "the key {:?} of user {} points at no single effect",
                self.key, self.user_id
            ))),
        }
    }
}

/// A row of `idempotency_keys`, as a retry reads it.
struct KeyRow {
    operation: String,
    request_hash: String,
    ledger_ids: Option<Vec<i64>>,
    payment_ids: Option<Vec<i64>>,
}
crate::store::rows::from_row!(KeyRow {
    operation,
    request_hash,
    ledger_ids,
    payment_ids
});

/// What a key's first use made.
#[derive(Debug)]
pub(crate) enum Effect {
    /// A charge: its ledger row.
    Ledger(Vec<i64>),
    /// A payment: one payment per schedule.
    Payments(Vec<i64>),
}

impl Effect {
    /// The ledger rows of a charge.
    pub(crate) fn ledger_ids(self) -> Result<Vec<i64>, BookingError> {
        match self {
            Effect::Ledger(ids) => Ok(ids),
            other => Err(BookingError::Inconsistent(format!(
                "a charge's key points at {other:?}"
            ))),
        }
    }

    /// The payments of a payment.
    pub(crate) fn payment_ids(self) -> Result<Vec<i64>, BookingError> {
        match self {
            Effect::Payments(ids) => Ok(ids),
            other => Err(BookingError::Inconsistent(format!(
                "a payment's key points at {other:?}"
            ))),
        }
    }
}

pub(crate) async fn purge_expired(db: &sqlx::PgPool) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)")
            .bind(RETENTION_HOURS as i32)
            .execute(db)
            .instrument(otel::sql("idempotency.purge"))
            .await?
            .rows_affected(),
    )
}
