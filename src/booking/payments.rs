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

use super::catalog::Schedule;
use super::holds::Hold;
use super::idempotency::{self, Begin, Claim};
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
                let hash = payment_hash(token.user_id, schedules);
                idempotency::replay(&self.inner.db, token.user_id, key, "payment", &hash)
                    .await?
                    .ok_or(QueueError::TokenExpired.into())
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
        let claim = match idempotency_key {
            None => None,
            Some(key) => {
                let ids: Vec<String> = schedules.iter().map(|s| s.id.to_string()).collect();
                let hash = idempotency::request_hash(&["payment", &user_id.to_string(), &ids.join(",")]);
                match idempotency::begin(&self.inner.db, user_id, key, "payment", &hash).await? {
                    Begin::Replay(receipt) => return Ok(receipt),
                    Begin::Run(claim) => Some(claim),
                }
            }
        };
        let result = self.settle(user_id, schedules, claim.as_ref()).await;
        match (&result, claim) {
            (Err(_), Some(claim)) => claim.release(&self.inner.db).await,
            (Ok(receipt), _) => self.after_sale(admission, receipt).await,
            _ => {}
        }
        result
    }

    async fn settle(
        &self,
        user_id: i64,
        schedules: &[Arc<Schedule>],
        claim: Option<&Claim>,
    ) -> Result<Receipt, BookingError> {
        let holds = self.live_holds(user_id, schedules).await?;
        let total: i64 = holds.iter().flat_map(|hold| &hold.seats).map(|seat| seat.price).sum();

        let mut tx = self.inner.db.begin().await?;
        let balance_after: Option<i64> = sqlx::query_scalar(
            "UPDATE balances SET amount = amount - $2, updated_at = now()
             WHERE user_id = $1 AND amount >= $2
             RETURNING amount",
        )
        .bind(user_id)
        .bind(total)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(balance_after) = balance_after else {
            drop(tx);
            let balance = self.balance(user_id).await?.amount;
            return Err(BookingError::InsufficientBalance {
                balance,
                required: total,
            });
        };

        let mut payment_ids = Vec::with_capacity(holds.len());
        let mut paid_at = Utc::now();
        let mut seats = Vec::new();
        for hold in &holds {
            let amount: i64 = hold.seats.iter().map(|seat| seat.price).sum();
            let (payment_id, created_at): (i64, DateTime<Utc>) = sqlx::query_as(
                "INSERT INTO payments (user_id, schedule_id, amount) VALUES ($1, $2, $3) RETURNING id, created_at",
            )
            .bind(user_id)
            .bind(hold.schedule.id)
            .bind(amount)
            .fetch_one(&mut *tx)
            .await?;
            let seat_ids: Vec<i64> = hold.seats.iter().map(|seat| seat.id).collect();
            let prices: Vec<i64> = hold.seats.iter().map(|seat| seat.price).collect();
            let inserted = sqlx::query(
                "INSERT INTO reservations (seat_id, schedule_id, user_id, payment_id, price)
                 SELECT seat_id, $3, $4, $5, price FROM UNNEST($1::bigint[], $2::bigint[]) AS t (seat_id, price)",
            )
            .bind(&seat_ids)
            .bind(&prices)
            .bind(hold.schedule.id)
            .bind(user_id)
            .bind(payment_id)
            .execute(&mut *tx)
            .await;
            if let Err(err) = inserted {
                drop(tx);
                return Err(self.sold_meanwhile(err, hold).await);
            }
            sqlx::query(
                "INSERT INTO balance_ledger (user_id, delta, balance_after, reason, payment_id, idempotency_key)
                 VALUES ($1, $2, $3, 'payment', $4, $5)",
            )
            .bind(user_id)
            .bind(-amount)
            .bind(balance_after)
            .bind(payment_id)
            .bind(claim.map(|claim| claim.key()))
            .execute(&mut *tx)
            .await?;
            payment_ids.push(payment_id);
            paid_at = created_at;
            seats.extend(hold.seats.iter().map(|seat| PaidSeat {
                schedule_id: hold.schedule.id,
                seat_id: seat.id,
                seat_number: seat.number,
                price: seat.price,
            }));
        }
        let receipt = Receipt {
            user_id,
            payment_ids,
            paid_at,
            amount: total,
            balance_after,
            seats,
        };
        if let Some(claim) = claim {
            claim.complete(&mut tx, &receipt).await?;
        }
        tx.commit().await?;
        Ok(receipt)
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

    /// A reservation insert failed: when Postgres says a seat is already sold,
    /// Redis missed that sale, so teach it before answering.
    async fn sold_meanwhile(&self, err: sqlx::Error, hold: &Hold) -> BookingError {
        let double_sale = err
            .as_database_error()
            .and_then(|db_err| db_err.constraint())
            .is_some_and(|constraint| constraint == "reservations_seat_key");
        if !double_sale {
            return err.into();
        }
        let keys = self.inner.keys.schedule(hold.schedule.id);
        match self.inner.redis.connection().await {
            Ok(mut redis) => {
                if let Err(err) = self.rebuild_sold(&mut redis, hold.schedule.id, &keys).await {
                    tracing::warn!(error = %err, "could not rebuild sold seats");
                }
            }
            Err(err) => tracing::warn!(error = %err, "could not rebuild sold seats"),
        }
        let seats = hold.seats.iter().map(|seat| seat.number).collect();
        BookingError::SeatUnavailable(seats)
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

fn payment_hash(user_id: i64, schedules: &[Arc<Schedule>]) -> String {
    let ids: Vec<String> = schedules.iter().map(|schedule| schedule.id.to_string()).collect();
    idempotency::request_hash(&["payment", &user_id.to_string(), &ids.join(",")])
}
