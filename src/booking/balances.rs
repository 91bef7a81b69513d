//! Balances: charged and read here, debited by payments. Every change is one
//! statement: a guarded `UPDATE ... RETURNING` plus a ledger row, so concurrent
//! changes never lose an update and the ledger always sums to the balance.

use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;

use super::idempotency::IdempotencyKey;
use super::{BookingError, BookingService};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Balance {
    pub user_id: i64,
    pub amount: i64,
}

impl BookingService {
    pub async fn balance(&self, user_id: i64) -> Result<Balance, BookingError> {
        self.require_user(user_id)?;
        let amount: Option<i64> = sqlx::query_scalar("SELECT amount FROM balances WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.inner.db)
            .await?;
        Ok(Balance {
            user_id,
            amount: amount.unwrap_or(0),
        })
    }

    /// Adds `amount` won; returns the new balance.
    pub async fn charge(
        &self,
        user_id: i64,
        amount: i64,
        idempotency_key: Option<&str>,
    ) -> Result<Balance, BookingError> {
        self.require_user(user_id)?;
        let config = &self.inner.config;
        if amount <= 0 || amount > config.max_charge {
            return Err(BookingError::InvalidAmount { max: config.max_charge });
        }
        let key = idempotency_key.map(|key| IdempotencyKey::new(user_id, key, "charge", &[&amount.to_string()]));
        let max = config.max_balance;
        let result = match credit(&self.inner.db, user_id, amount, max, key.as_ref()).await {
            Ok(Some(amount)) => Ok(Balance { user_id, amount }),
            Ok(None) => Err(BookingError::BalanceLimitExceeded { max }),
            Err(err) => Err(err.into()),
        };
        match (result, key) {
            (Err(failure), Some(key)) => key.or_stored(&self.inner.db, failure).await,
            (result, _) => result,
        }
    }
}

/// Adds `amount` and writes the ledger row in one statement (creating the
/// balance row on first use), storing the new balance under the idempotency
/// key if there is one; `None` when the balance would pass `max`.
async fn credit<'e>(
    db: impl PgExecutor<'e>,
    user_id: i64,
    amount: i64,
    max: i64,
    key: Option<&IdempotencyKey>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH credited AS (
             INSERT INTO balances AS b (user_id, amount) SELECT $1, $2 WHERE $2 <= $3
             ON CONFLICT (user_id) DO UPDATE SET amount = b.amount + EXCLUDED.amount, updated_at = now()
             WHERE b.amount <= $3 - EXCLUDED.amount
             RETURNING amount
         ), ledger AS (
             INSERT INTO balance_ledger (user_id, delta, balance_after, reason, idempotency_key)
             SELECT $1, $2, amount, 'charge', $4 FROM credited
         ), remembered AS (
             INSERT INTO idempotency_keys (user_id, key, operation, request_hash, response_body)
             SELECT $1, $4, $5, $6, jsonb_build_object('user_id', $1::bigint, 'amount', amount)
             FROM credited WHERE $4::text IS NOT NULL
         )
         SELECT amount FROM credited",
    )
    .bind(user_id)
    .bind(amount)
    .bind(max)
    .bind(key.map(IdempotencyKey::key))
    .bind(key.map(IdempotencyKey::operation))
    .bind(key.map(IdempotencyKey::request_hash))
    .fetch_optional(db)
    .await
}
