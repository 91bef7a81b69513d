//! Checkout: turns a user's live holds into a confirmed sale, then tells Redis
//! and ends the user's queue token. The same for every payment method: how the
//! money is taken is the method's (`method.rs`; the balance, `balance.rs`).
//!
//! Order matters: the holds are re-checked in Redis first; the method records
//! the sale in one commit, whose reservations' UNIQUE seat constraint refuses
//! a second sale even if Redis was wrong. Only after commit are seats marked
//! sold in Redis; if that fails, the sold set is rebuilt from Postgres the next
//! time it is missing or contradicted.

mod balance;
pub(crate) mod method;

use std::sync::Arc;

use super::catalog::{Catalog, Concert, Schedule};
use super::holds::{Hold, Holds};
use super::idempotency::IdempotencyKey;
use super::money;
use super::receipt::{PaidSeat, Receipt};
use super::sold::SoldSeats;
use super::BookingError;
use crate::queue::{Gate, Pass, QueueError, QueueToken};
use crate::store::db::Db;
use crate::telemetry::metrics as m;
use crate::telemetry::otel;
use crate::users::UserDirectory;
use method::{Captured, PaymentMethod, Sale};
use metrics::counter;
use tracing::Instrument;

/// The constraint that makes a second sale of a seat impossible, whatever the
/// method: every sale is its reservations.
const DOUBLE_SALE_CONSTRAINT: &str = "reservations_seat_key";

/// What one payment covers.
pub(crate) enum PaymentScope {
    /// The seats held on one schedule (`/api`).
    Schedule(Arc<Schedule>),
    /// The seats held on every schedule of a concert (`/api/v1`).
    Concert(Arc<Concert>),
}

#[derive(Clone)]
pub(crate) struct Checkout {
    db: Db,
    catalog: Catalog,
    holds: Holds,
    sold: SoldSeats,
    gate: Gate,
    users: Arc<UserDirectory>,
}

impl Checkout {
    pub(crate) fn new(
        db: Db,
        catalog: Catalog,
        holds: Holds,
        sold: SoldSeats,
        gate: Gate,
        users: Arc<UserDirectory>,
    ) -> Self {
        Checkout {
            db,
            catalog,
            holds,
            sold,
            gate,
            users,
        }
    }

    /// Pays what `user_id` holds within `scope` from the user's balance (the
    /// one payment method so far), with the gate's pass for the user's token.
    /// An active token pays and is then ended; an ended token is refused,
    /// unless the request carries the Idempotency-Key of a payment that went
    /// through: that is a retry, and it gets the same receipt again.
    pub(crate) async fn checkout(
        &self,
        pass: Pass,
        user_id: i64,
        scope: PaymentScope,
        idempotency_key: Option<&str>,
    ) -> Result<Receipt, BookingError> {
        let outcome = self
            .pay(PaymentMethod::Balance, pass, user_id, scope, idempotency_key)
            .await;
        let label = match &outcome {
            Ok(_) => "succeeded",
            Err(err) => err.reason(),
        };
        counter!(m::PAYMENTS, "outcome" => label).increment(1);
        outcome
    }

    async fn pay(
        &self,
        method: PaymentMethod,
        pass: Pass,
        user_id: i64,
        scope: PaymentScope,
        idempotency_key: Option<&str>,
    ) -> Result<Receipt, BookingError> {
        let pass = pass.bound_to(user_id)?;
        self.users.require(user_id)?;
        let schedules = match scope {
            PaymentScope::Schedule(schedule) => vec![schedule],
            PaymentScope::Concert(concert) => self.catalog.schedules_of(&concert),
        };
        let key = idempotency_key.map(|key| payment_key(method, user_id, key, &schedules));
        let failure = match pass {
            Pass::Active(token) => match self
                .settle(method, user_id, &token.queue, &schedules, key.as_ref())
                .await
            {
                Ok(receipt) => {
                    self.after_sale(&token, &receipt).await;
                    return Ok(receipt);
                }
                Err(failure) => failure,
            },
            Pass::Ended(_) => QueueError::TokenExpired.into(),
        };
        let Some(key) = key else {
            return Err(failure);
        };
        // Perhaps a retry of a payment that went through: its receipt.
        let payment_ids = key.or_recorded(&self.db, failure).await?.payment_ids()?;
        Receipt::recorded(&self.db, user_id, &payment_ids).await
    }

    async fn settle(
        &self,
        method: PaymentMethod,
        user_id: i64,
        queue: &str,
        schedules: &[Arc<Schedule>],
        key: Option<&IdempotencyKey>,
    ) -> Result<Receipt, BookingError> {
        let holds = self.live_holds(user_id, schedules).await?;
        let total = money::amount_total(holds.iter().map(Hold::amount))?;
        let sale = Sale {
            user_id,
            queue,
            holds: &holds,
            total,
            key,
        };
        match method.capture(&self.db, &sale).await {
            Ok(Captured::Paid(paid)) => Receipt::new(
                user_id,
                paid.payment_ids,
                paid.paid_at,
                paid.balance_after,
                paid_seats(&holds),
            ),
            Ok(Captured::Refused(refusal)) => Err(refusal.into()),
            Err(BookingError::Database(err)) if is_double_sale(&err) => Err(self.sold_meanwhile(&holds).await),
            Err(other) => Err(other),
        }
    }

    /// The user's live holds across `schedules`; at least one seat, or why not.
    async fn live_holds(&self, user_id: i64, schedules: &[Arc<Schedule>]) -> Result<Vec<Hold>, BookingError> {
        let mut holds = Vec::new();
        let mut lapsed = false;
        for schedule in schedules {
            match self.holds.held_by(schedule, user_id).await {
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
    async fn sold_meanwhile(&self, holds: &[Hold]) -> BookingError {
        let seat_ids: Vec<i64> = holds.iter().flat_map(|hold| &hold.seats).map(|seat| seat.id).collect();
        let taken: Vec<i64> = self
            .db
            .bounded(move |connection| {
                Box::pin(async move {
                    let taken = sqlx::query_scalar("SELECT seat_id FROM reservations WHERE seat_id = ANY($1)")
                        .bind(seat_ids)
                        .fetch_all(connection)
                        .instrument(otel::sql("payments.sold_meanwhile"))
                        .await?;
                    Ok::<_, BookingError>(taken)
                })
            })
            .await
            .unwrap_or_default();
        let mut numbers = Vec::new();
        for hold in holds {
            if let Err(err) = self.sold.rebuild_now(hold.schedule.id).await {
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
    async fn after_sale(&self, token: &QueueToken, receipt: &Receipt) {
        counter!(m::SEATS_SOLD).increment(receipt.seats.len() as u64);
        let mut by_schedule: Vec<(i64, Vec<i32>)> = Vec::new();
        for seat in &receipt.seats {
            match by_schedule.iter_mut().find(|(id, _)| *id == seat.schedule_id) {
                Some((_, numbers)) => numbers.push(seat.seat_number),
                None => by_schedule.push((seat.schedule_id, vec![seat.seat_number])),
            }
        }
        for (schedule_id, numbers) in by_schedule {
            if let Err(err) = self.sold.mark_sold(schedule_id, receipt.user_id, &numbers).await {
                tracing::warn!(schedule_id, error = %err, "sale committed but not yet marked in Redis");
            }
        }
        if let Err(err) = self.gate.expire(token).await {
            tracing::warn!(error = %err, "payment done but the queue token could not be ended");
        }
    }
}

/// True when the sale failed because one of its seats is already sold.
fn is_double_sale(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db_err| db_err.constraint())
        .is_some_and(|constraint| constraint == DOUBLE_SALE_CONSTRAINT)
}

fn payment_key(method: PaymentMethod, user_id: i64, key: &str, schedules: &[Arc<Schedule>]) -> IdempotencyKey {
    let ids: Vec<String> = schedules.iter().map(|schedule| schedule.id.to_string()).collect();
    let ids = ids.join(",");
    let parts: Vec<&str> = std::iter::once(ids.as_str()).chain(method.key_part()).collect();
    IdempotencyKey::new(user_id, key, "payment", &parts)
}

fn paid_seats(holds: &[Hold]) -> Vec<PaidSeat> {
    holds
        .iter()
        .flat_map(|hold| {
            hold.seats.iter().map(|seat| PaidSeat {
                schedule_id: hold.schedule.id,
                seat_id: seat.id,
                seat_number: seat.number,
                price: seat.price,
            })
        })
        .collect()
}
