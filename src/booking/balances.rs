//! Balances: charged and read here, debited by payments. Every change is one
//! guarded `UPDATE ... RETURNING` plus a ledger row in the same transaction, so
//! concurrent changes never lose an update and the ledger always sums to the balance.

use serde::{Deserialize, Serialize};

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
        let mut tx = self.inner.db.begin().await?;
        // Balance row created on first use, so users inserted by other tools work too.
        sqlx::query("INSERT INTO balances (user_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let new_amount: Option<i64> = sqlx::query_scalar(
            "UPDATE balances SET amount = amount + $2, updated_at = now()
             WHERE user_id = $1 AND amount <= $3 - $2
             RETURNING amount",
        )
        .bind(user_id)
        .bind(amount)
        .bind(self.inner.config.max_balance)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(new_amount) = new_amount else {
            return Err(BookingError::BalanceLimitExceeded {
                max: self.inner.config.max_balance,
            });
        };
        sqlx::query(
            "INSERT INTO balance_ledger (user_id, delta, balance_after, reason, idempotency_key)
             VALUES ($1, $2, $3, 'charge', $4)",
        )
        .bind(user_id)
        .bind(amount)
        .bind(new_amount)
        .bind(claim.map(|claim| claim.key()))
        .execute(&mut *tx)
        .await?;
        let balance = Balance {
            user_id,
            amount: new_amount,
        };
        if let Some(claim) = claim {
            claim.complete(&mut tx, &balance).await?;
        }
        tx.commit().await?;
        Ok(balance)
    }
}
