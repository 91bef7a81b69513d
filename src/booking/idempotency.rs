//! `Idempotency-Key` for charges and payments, as payment providers do it: the
//! first outcome is stored with the key (per user) and replayed for a retry with
//! the same request; the same key with a different request is refused (422); a
//! retry while the first is still running is refused (409). Only successes are
//! stored: a refused request (say, an insufficient balance) frees its key, so the
//! client may fix the cause and retry with it. Keys are kept at least 24 hours.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use super::BookingError;

/// A request holding its key this long without finishing is taken to have died.
const ABANDONED_AFTER_S: i64 = 30;
/// Keys older than this are deleted by [`purge_expired`].
pub const RETENTION_HOURS: i64 = 48;

/// A claimed key: the request runs, then [`Claim::complete`] stores its result
/// inside the request's own transaction.
#[derive(Debug)]
pub struct Claim {
    user_id: i64,
    key: String,
}

pub enum Begin<T> {
    Run(Claim),
    Replay(T),
}

pub fn request_hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

pub async fn begin<T: DeserializeOwned>(
    db: &PgPool,
    user_id: i64,
    key: &str,
    operation: &str,
    request_hash: &str,
) -> Result<Begin<T>, BookingError> {
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, operation, request_hash)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(key)
    .bind(operation)
    .bind(request_hash)
    .execute(db)
    .await?
    .rows_affected()
        == 1;
    if claimed {
        return Ok(Begin::Run(Claim {
            user_id,
            key: key.to_string(),
        }));
    }

    let Some(stored) = stored(db, user_id, key).await? else {
        // Freed between our insert and our read: try once more from the start.
        return Box::pin(begin(db, user_id, key, operation, request_hash)).await;
    };
    if stored.operation != operation || stored.request_hash != request_hash {
        return Err(BookingError::IdempotencyKeyReused);
    }
    match (stored.status.as_str(), stored.body) {
        ("done", Some(body)) => Ok(Begin::Replay(serde_json::from_value(body)?)),
        ("in_progress", _) if stored.abandoned => {
            let taken = sqlx::query(
                "UPDATE idempotency_keys SET locked_at = now()
                 WHERE user_id = $1 AND key = $2 AND status = 'in_progress'
                   AND locked_at < now() - make_interval(secs => $3)",
            )
            .bind(user_id)
            .bind(key)
            .bind(ABANDONED_AFTER_S as f64)
            .execute(db)
            .await?
            .rows_affected()
                == 1;
            if taken {
                Ok(Begin::Run(Claim {
                    user_id,
                    key: key.to_string(),
                }))
            } else {
                Err(BookingError::IdempotencyInProgress)
            }
        }
        _ => Err(BookingError::IdempotencyInProgress),
    }
}

/// The stored outcome of a finished request with this key, without claiming it.
pub async fn replay<T: DeserializeOwned>(
    db: &PgPool,
    user_id: i64,
    key: &str,
    operation: &str,
    request_hash: &str,
) -> Result<Option<T>, BookingError> {
    let Some(stored) = stored(db, user_id, key).await? else {
        return Ok(None);
    };
    if stored.operation != operation || stored.request_hash != request_hash {
        return Err(BookingError::IdempotencyKeyReused);
    }
    match (stored.status.as_str(), stored.body) {
        ("done", Some(body)) => Ok(Some(serde_json::from_value(body)?)),
        _ => Err(BookingError::IdempotencyInProgress),
    }
}

struct Stored {
    operation: String,
    request_hash: String,
    status: String,
    body: Option<serde_json::Value>,
    abandoned: bool,
}

async fn stored(db: &PgPool, user_id: i64, key: &str) -> Result<Option<Stored>, BookingError> {
    let row: Option<(String, String, String, Option<serde_json::Value>, bool)> = sqlx::query_as(
        "SELECT operation, request_hash, status, response_body,
                locked_at < now() - make_interval(secs => $3)
         FROM idempotency_keys WHERE user_id = $1 AND key = $2",
    )
    .bind(user_id)
    .bind(key)
    .bind(ABANDONED_AFTER_S as f64)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(operation, request_hash, status, body, abandoned)| Stored {
        operation,
        request_hash,
        status,
        body,
        abandoned,
    }))
}

impl Claim {
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Stores the result in the same transaction as the effect it describes.
    pub async fn complete<T: Serialize>(&self, tx: &mut PgConnection, result: &T) -> Result<(), BookingError> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = 'done', response_status = 200, response_body = $3
             WHERE user_id = $1 AND key = $2",
        )
        .bind(self.user_id)
        .bind(&self.key)
        .bind(serde_json::to_value(result)?)
        .execute(tx)
        .await?;
        Ok(())
    }

    /// Frees the key after a refused or failed request.
    pub async fn release(self, db: &PgPool) {
        let released =
            sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status = 'in_progress'")
                .bind(self.user_id)
                .bind(&self.key)
                .execute(db)
                .await;
        if let Err(err) = released {
            // The key stays claimed until ABANDONED_AFTER_S passes; then a retry takes it over.
            tracing::warn!(error = %err, "could not release an idempotency key");
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
