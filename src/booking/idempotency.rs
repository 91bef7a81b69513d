//! `Idempotency-Key` for charges and payments, as payment providers do it: the
//! first outcome is stored with the key (per user) and replayed for a retry with
//! the same request; the same key with a different request is refused (422).
//!
//! The key is written by the very statement that makes the effect, holding its
//! result, so the two commit together and a payment stays one round trip to
//! Postgres. A retry of a finished request conflicts on the key's primary key,
//! rolls back, and gets the stored result; a retry racing the first waits on
//! that key (or on the balance row) until the first commits, then does the same.
//! Refused requests (say, an insufficient balance) store nothing, so the client
//! may fix the cause and retry with the same key. Keys are kept at least 24 hours.

use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::BookingError;

/// Keys older than this are deleted by [`purge_expired`].
pub const RETENTION_HOURS: i64 = 48;

/// A client's key for one request, with the fingerprint of that request.
#[derive(Debug)]
pub struct IdempotencyKey {
    user_id: i64,
    key: String,
    operation: &'static str,
    request_hash: String,
}

impl IdempotencyKey {
    /// `parts` identify the request: a retry must send the same ones.
    pub fn new(user_id: i64, key: &str, operation: &'static str, parts: &[&str]) -> Self {
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

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operation(&self) -> &'static str {
        self.operation
    }

    pub fn request_hash(&self) -> &str {
        &self.request_hash
    }

    /// After a request with this key failed: the stored result when the key's
    /// first use succeeded (this is a retry), or else the failure. A key used
    /// for a different request is refused.
    pub async fn or_stored<T: DeserializeOwned>(&self, db: &PgPool, failure: BookingError) -> Result<T, BookingError> {
        let row: Option<(String, String, serde_json::Value)> = sqlx::query_as(
            "SELECT operation, request_hash, response_body FROM idempotency_keys WHERE user_id = $1 AND key = $2",
        )
        .bind(self.user_id)
        .bind(&self.key)
        .fetch_optional(db)
        .await?;
        match row {
            None => Err(failure),
            Some((operation, hash, _)) if operation != self.operation || hash != self.request_hash => {
                Err(BookingError::IdempotencyKeyReused)
            }
            Some((_, _, body)) => Ok(serde_json::from_value(body)?),
        }
    }
}

pub async fn purge_expired(db: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)")
            .bind(RETENTION_HOURS as i32)
            .execute(db)
            .await?
            .rows_affected(),
    )
}
