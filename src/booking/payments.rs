//! Payment: turns a user's live holds into confirmed sales in one Postgres
//! transaction, then tells Redis and ends the user's queue token.
//!
//! Order matters: the holds are re-checked in Redis first; the transaction
//! debits with a guarded UPDATE (never below zero) and inserts the reservations,
//! whose UNIQUE seat constraint refuses a second sale even if Redis was wrong.
//! Only after commit are seats marked sold in Redis; if that fails, the sold set
//! is rebuilt from Postgres the next time it is missing or contradicted.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;

use super::catalog::Schedule;
use super::holds::Hold;
use super::idempotency::IdempotencyKey;
use super::{BookingError, BookingService};
use crate::queue::{Admission, QueueError};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PaidSeat {
    pub schedule_id: i64,
    pub seat_id: i64,
    pub seat_number: i32,
    pub price: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Receipt {
    pub user_id: i64,
    pub payment_ids: Vec<i64>,
    pub paid_at: DateTime<Utc>,
    pub amount: i64,
    pub balance_after: i64,
    pub seats: Vec<PaidSeat>,
}

impl BookingService {
    /// The gate and the payment together: pays with an active token of `queue`;
    /// a retry carrying the Idempotency-Key of a payment that already went
    /// through gets that receipt again, even though the payment ended the token.
    pub async fn checkout(
        &self,
        queue: &str,
        raw_token: &str,
        user_id: Option<i64>,
        schedules: &[Arc<Schedule>],
        idempotency_key: Option<&str>,
    ) -> Result<Receipt, BookingError> {
        match (
            self.inner.queue.authorize(queue, raw_token, user_id).await,
            idempotency_key,
        ) {
            (Ok(admission), _) => self.pay(&admission, schedules, idempotency_key).await,
            (Err(QueueError::TokenExpired), Some(key)) => {
                let token = self.inner.queue.verify(queue, raw_token, user_id)?;
                payment_key(token.user_id, key, schedules)
                    .or_stored(&self.inner.db, QueueError::TokenExpired.into())
                    .await
            }
            (Err(err), _) => Err(err.into()),
        }
    }

    /// Pays every seat the admitted user holds on `schedules`, then ends the token.
    pub async fn pay(
        &self,
        admission: &Admission,
        schedules: &[Arc<Schedule>],
        idempotency_key: Option<&str>,
    ) -> Result<Receipt, BookingError> {
        let user_id = admission.token.user_id;
        self.require_user(user_id)?;
        let key = idempotency_key.map(|key| payment_key(user_id, key, schedules));
        match (self.settle(user_id, schedules, key.as_ref()).await, key) {
            (Ok(receipt), _) => {
                self.after_sale(admission, &receipt).await;
                Ok(receipt)
            }
            // Perhaps a retry of a payment that went through: its receipt.
            (Err(failure), Some(key)) => key.or_stored(&self.inner.db, failure).await,
            (Err(failure), None) => Err(failure),
        }
    }

    async fn settle(
        &self,
        user_id: i64,
        schedules: &[Arc<Schedule>],
        key: Option<&IdempotencyKey>,
    ) -> Result<Receipt, BookingError> {
        let holds = self.live_holds(user_id, schedules).await?;
        let recorded = record_sale(&self.inner.db, user_id, &holds, key).await;
        match recorded {
            Ok(Some(sale)) => Ok(receipt(user_id, &holds, sale)),
            Ok(None) => {
                let balance = self.balance(user_id).await?.amount;
                Err(BookingError::InsufficientBalance {
                    balance,
                    required: amount_of(&holds),
                })
            }
            Err(err) => Err(self.sold_meanwhile(err, &holds).await),
        }
    }

    /// The user's live holds across `schedules`; at least one seat, or why not.
    async fn live_holds(&self, user_id: i64, schedules: &[Arc<Schedule>]) -> Result<Vec<Hold>, BookingError> {
        let mut holds = Vec::new();
        let mut lapsed = false;
        for schedule in schedules {
            match self.held_by(schedule, user_id).await {
                Ok(hold) => holds.push(hold),
                Err(BookingError::HoldExpired) => lapsed = true,
                Err(BookingError::NoHold) => {}
                Err(other) => return Err(other),
            }
        }
        match (holds.is_empty(), lapsed) {
            (false, _) => Ok(holds),
            (true, true) => Err(BookingError::HoldExpired),
            (true, false) => Err(BookingError::NoHold),
        }
    }

    /// The sale failed: when Postgres says a seat is already sold, Redis missed
    /// that sale, so teach it (rebuild the sold sets) and name the seats.
    async fn sold_meanwhile(&self, err: sqlx::Error, holds: &[Hold]) -> BookingError {
        let double_sale = err
            .as_database_error()
            .and_then(|db_err| db_err.constraint())
            .is_some_and(|constraint| constraint == "reservations_seat_key");
        if !double_sale {
            return err.into();
        }
        let seat_ids: Vec<i64> = holds.iter().flat_map(|hold| &hold.seats).map(|seat| seat.id).collect();
        let taken: Vec<i64> = sqlx::query_scalar("SELECT seat_id FROM reservations WHERE seat_id = ANY($1)")
            .bind(&seat_ids)
            .fetch_all(&self.inner.db)
            .await
            .unwrap_or_default();
        let mut numbers = Vec::new();
        for hold in holds {
            let keys = self.inner.keys.schedule(hold.schedule.id);
            let rebuilt = match self.inner.redis.connection().await {
                Ok(mut redis) => self.rebuild_sold(&mut redis, hold.schedule.id, &keys).await,
                Err(err) => Err(err.into()),
            };
            if let Err(err) = rebuilt {
                tracing::warn!(error = %err, "could not rebuild sold seats");
            }
            numbers.extend(
                hold.seats
                    .iter()
                    .filter(|seat| taken.contains(&seat.id))
                    .map(|seat| seat.number),
            );
        }
        BookingError::SeatUnavailable(numbers)
    }

    /// The sale is committed; Redis catching up is best effort and self-healing.
    async fn after_sale(&self, admission: &Admission, receipt: &Receipt) {
        let mut by_schedule: Vec<(i64, Vec<i32>)> = Vec::new();
        for seat in &receipt.seats {
            match by_schedule.iter_mut().find(|(id, _)| *id == seat.schedule_id) {
                Some((_, numbers)) => numbers.push(seat.seat_number),
                None => by_schedule.push((seat.schedule_id, vec![seat.seat_number])),
            }
        }
        for (schedule_id, numbers) in by_schedule {
            if let Err(err) = self.mark_sold(schedule_id, receipt.user_id, &numbers).await {
                tracing::warn!(schedule_id, error = %err, "sale committed but not yet marked in Redis");
            }
        }
        if let Err(err) = self.inner.queue.expire(&admission.token).await {
            tracing::warn!(error = %err, "payment done but the queue token could not be ended");
        }
    }
}

fn payment_key(user_id: i64, key: &str, schedules: &[Arc<Schedule>]) -> IdempotencyKey {
    let ids: Vec<String> = schedules.iter().map(|schedule| schedule.id.to_string()).collect();
    IdempotencyKey::new(user_id, key, "payment", &[&ids.join(",")])
}

/// What Postgres returns for a recorded sale: payment ids and time, balance after.
struct RecordedSale {
    payment_ids: Vec<i64>,
    paid_at: DateTime<Utc>,
    balance_after: i64,
}

/// Debits the balance, records one payment per schedule, the reservations and
/// the ledger rows, in one statement (all or nothing). `None`: not enough money.
/// A seat sold meanwhile fails the whole statement on `reservations_seat_key`.
///
/// With an idempotency key, the same statement stores the receipt under it: the
/// parts known beforehand come from Rust (a receipt with placeholders, so the
/// field names are serde's), the parts Postgres makes are merged in.
async fn record_sale<'e>(
    db: impl PgExecutor<'e>,
    user_id: i64,
    holds: &[Hold],
    key: Option<&IdempotencyKey>,
) -> Result<Option<RecordedSale>, sqlx::Error> {
    let known_receipt = key.map(|_| {
        let placeholders = RecordedSale {
            payment_ids: Vec::new(),
            paid_at: DateTime::UNIX_EPOCH,
            balance_after: 0,
        };
        serde_json::to_value(receipt(user_id, holds, placeholders))
    });
    let known_receipt = known_receipt
        .transpose()
        .map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    let total = amount_of(holds);
    let schedule_ids: Vec<i64> = holds.iter().map(|hold| hold.schedule.id).collect();
    let amounts: Vec<i64> = holds
        .iter()
        .map(|hold| hold.seats.iter().map(|seat| seat.price).sum())
        .collect();
    let (mut seat_ids, mut seat_schedules, mut prices) = (Vec::new(), Vec::new(), Vec::new());
    for hold in holds {
        for seat in &hold.seats {
            seat_ids.push(seat.id);
            seat_schedules.push(hold.schedule.id);
            prices.push(seat.price);
        }
    }
    let rows: Vec<(i64, DateTime<Utc>, i64)> = sqlx::query_as(
        "WITH debit AS (
             UPDATE balances SET amount = amount - $2, updated_at = now()
             WHERE user_id = $1 AND amount >= $2
             RETURNING amount
         ), paid AS (
             INSERT INTO payments (user_id, schedule_id, amount)
             SELECT $1, p.schedule_id, p.amount FROM debit, UNNEST($3::bigint[], $4::bigint[]) AS p (schedule_id, amount)
             RETURNING id, schedule_id, amount, created_at
         ), sold AS (
             INSERT INTO reservations (seat_id, schedule_id, user_id, payment_id, price)
             SELECT s.seat_id, s.schedule_id, $1, paid.id, s.price
             FROM UNNEST($5::bigint[], $6::bigint[], $7::bigint[]) AS s (seat_id, schedule_id, price)
             JOIN paid ON paid.schedule_id = s.schedule_id
         ), ledger AS (
             INSERT INTO balance_ledger (user_id, delta, balance_after, reason, payment_id, idempotency_key)
             SELECT $1, -paid.amount,
                    debit.amount + COALESCE(sum(paid.amount) OVER (
                        ORDER BY paid.id ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0),
                    'payment', paid.id, $8
             FROM paid, debit
             ORDER BY paid.id
         ), remembered AS (
             INSERT INTO idempotency_keys (user_id, key, operation, request_hash, response_body)
             SELECT $1, $8, $10, $11, $9::jsonb || jsonb_build_object(
                        'payment_ids', (SELECT jsonb_agg(id ORDER BY id) FROM paid),
                        'paid_at', (SELECT min(created_at) FROM paid),
                        'balance_after', debit.amount)
             FROM debit WHERE $8::text IS NOT NULL
         )
         SELECT paid.id, paid.created_at, debit.amount FROM paid, debit ORDER BY paid.id",
    )
    .bind(user_id)
    .bind(total)
    .bind(&schedule_ids)
    .bind(&amounts)
    .bind(&seat_ids)
    .bind(&seat_schedules)
    .bind(&prices)
    .bind(key.map(IdempotencyKey::key))
    .bind(known_receipt)
    .bind(key.map(IdempotencyKey::operation))
    .bind(key.map(IdempotencyKey::request_hash))
    .fetch_all(db)
    .await?;
    let Some(&(_, paid_at, balance_after)) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(RecordedSale {
        payment_ids: rows.iter().map(|row| row.0).collect(),
        paid_at,
        balance_after,
    }))
}

fn receipt(user_id: i64, holds: &[Hold], sale: RecordedSale) -> Receipt {
    let seats = holds
        .iter()
        .flat_map(|hold| {
            hold.seats.iter().map(|seat| PaidSeat {
                schedule_id: hold.schedule.id,
                seat_id: seat.id,
                seat_number: seat.number,
                price: seat.price,
            })
        })
        .collect::<Vec<_>>();
    Receipt {
        user_id,
        payment_ids: sale.payment_ids,
        paid_at: sale.paid_at,
        amount: amount_of(holds),
        balance_after: sale.balance_after,
        seats,
    }
}

/// What the held seats cost together.
fn amount_of(holds: &[Hold]) -> i64 {
    holds.iter().flat_map(|hold| &hold.seats).map(|seat| seat.price).sum()
}
