//! Balances: read and topped up here, debited by payments. Every change is one
//! statement: a guarded `UPDATE ... RETURNING` plus a ledger row, so concurrent
//! changes never lose an update and the ledger always sums to the balance.

use std::sync::Arc;

use sqlx::PgConnection;

use super::idempotency::IdempotencyKey;
use super::BookingError;
use crate::config::BookingConfig;
use crate::store::db::Db;
use crate::telemetry::metrics as m;
use crate::telemetry::otel;
use crate::users::UserDirectory;
use metrics::counter;
use tracing::Instrument;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Balance {
    pub(crate) user_id: i64,
    pub(crate) amount: i64,
}

#[derive(Clone)]
pub(crate) struct Balances {
    db: Db,
    users: Arc<UserDirectory>,
    config: Arc<BookingConfig>,
}

impl Balances {
    pub(crate) fn new(db: Db, users: Arc<UserDirectory>, config: Arc<BookingConfig>) -> Self {
        Balances { db, users, config }
    }

    pub(crate) async fn balance(&self, user_id: i64) -> Result<Balance, BookingError> {
        self.users.require(user_id)?;
        let amount: Option<i64> = self
            .db
            .bounded(move |connection| {
                Box::pin(async move {
                    let amount = sqlx::query_scalar("SELECT amount FROM balances WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_optional(connection)
                        .instrument(otel::sql("balances.read"))
                        .await?;
                    Ok::<_, BookingError>(amount)
                })
            })
            .await?;
        Ok(Balance {
            user_id,
            amount: amount.unwrap_or(0),
        })
    }

    /// Adds `amount` won (a whole number from 1 to the configured maximum);
    /// returns the new balance.
    pub(crate) async fn charge(
        &self,
        user_id: i64,
        amount: i64,
        idempotency_key: Option<&str>,
    ) -> Result<Balance, BookingError> {
        let outcome = self.credit_user(user_id, amount, idempotency_key).await;
        let label = match &outcome {
            Ok(_) => "succeeded",
            Err(err) => err.reason(),
        };
        counter!(m::CHARGES, "outcome" => label).increment(1);
        outcome
    }

    async fn credit_user(
        &self,
        user_id: i64,
        amount: i64,
        idempotency_key: Option<&str>,
    ) -> Result<Balance, BookingError> {
        self.users.require(user_id)?;
        let max_charge = self.config.max_charge;
        if !(1..=max_charge).contains(&amount) {
            return Err(BookingError::InvalidAmount { max: max_charge });
        }
        let key = idempotency_key.map(|key| IdempotencyKey::new(user_id, key, "charge", &[&amount.to_string()]));
        let max = self.config.max_balance;
        let statement_key = key.clone();
        let credited = self
            .db
            .decisive(move |connection| {
                Box::pin(async move { credit(connection, user_id, amount, max, statement_key.as_ref()).await })
            })
            .await;
        let failure = match credited {
            Ok(Some(amount)) => return Ok(Balance { user_id, amount }),
            Ok(None) => BookingError::BalanceLimitExceeded { max },
            Err(err) => err.into(),
        };
        let Some(key) = key else {
            return Err(failure);
        };
        // Perhaps a retry of a charge that went through: the balance it left.
        let ledger_ids = key.or_recorded(&self.db, failure).await?.ledger_ids()?;
        let ids = ledger_ids.clone();
        let amount: Option<i64> = self
            .db
            .bounded(move |connection| {
                Box::pin(async move {
                    let amount = sqlx::query_scalar(
                        "SELECT balance_after FROM balance_ledger WHERE id = ANY($1) AND user_id = $2",
                    )
                    .bind(ids)
                    .bind(user_id)
                    .fetch_optional(connection)
                    .instrument(otel::sql("balances.charge_recorded"))
                    .await?;
                    Ok::<_, BookingError>(amount)
                })
            })
            .await?;
        let amount = amount
            .ok_or_else(|| BookingError::Inconsistent(format!("charge ledger rows {ledger_ids:?} are missing")))?;
        Ok(Balance { user_id, amount })
    }
}

/// Adds `amount` and writes the ledger row in one statement (creating the
/// balance row on first use), pointing the idempotency key, if any, at that
/// ledger row; `None` when the balance would pass `max`.
async fn credit(
    db: &mut PgConnection,
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
             RETURNING id
         ), remembered AS (
             INSERT INTO idempotency_keys (user_id, key, operation, request_hash, ledger_ids)
             SELECT $1, $4, $5, $6, ARRAY(SELECT id FROM ledger)
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
    .instrument(otel::sql("balances.credit"))
    .await
}
