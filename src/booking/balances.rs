//! Balances: charged and read here, debited by payments. Every change is one
//! guarded `UPDATE ... RETURNING` plus a ledger row in the same transaction, so
//! concurrent changes never lose an update and the ledger always sums to the balance.

use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;

use super::idempotency::{self, Begin};
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
        let claim = match idempotency_key {
            None => None,
            Some(key) => {
                let hash = idempotency::request_hash(&["charge", &user_id.to_string(), &amount.to_string()]);
                match idempotency::begin(&self.inner.db, user_id, key, "charge", &hash).await? {
                    Begin::Replay(balance) => return Ok(balance),
                    Begin::Run(claim) => Some(claim),
                }
            }
        };
        let result = self.apply_charge(user_id, amount, claim.as_ref()).await;
        if let (Err(_), Some(claim)) = (&result, claim) {
            claim.release(&self.inner.db).await;
        }
        result
    }

    async fn apply_charge(
        &self,
        user_id: i64,
        amount: i64,
        claim: Option<&idempotency::Claim>,
    ) -> Result<Balance, BookingError> {
        let max = self.inner.config.max_balance;
        let credited = match claim {
            // One statement is its own transaction: one round trip to Postgres.
            None => credit(&self.inner.db, user_id, amount, max, None).await?,
            // The stored result must commit with the charge it describes.
            Some(claim) => {
                let mut tx = self.inner.db.begin().await?;
                let credited = credit(&mut *tx, user_id, amount, max, Some(claim.key())).await?;
                if let Some(new_amount) = credited {
                    claim
                        .complete(
                            &mut tx,
                            &Balance {
                                user_id,
                                amount: new_amount,
                            },
                        )
                        .await?;
                    tx.commit().await?;
                }
                credited
            }
        };
        credited
            .map(|amount| Balance { user_id, amount })
            .ok_or(BookingError::BalanceLimitExceeded { max })
    }
}

/// Adds `amount` and writes the ledger row in one statement (creating the
/// balance row on first use); `None` when the balance would pass `max`.
async fn credit<'e>(
    db: impl PgExecutor<'e>,
    user_id: i64,
    amount: i64,
    max: i64,
    idempotency_key: Option<&str>,
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
         )
         SELECT amount FROM credited",
    )
    .bind(user_id)
    .bind(amount)
    .bind(max)
    .bind(idempotency_key)
    .fetch_optional(db)
    .await
}
