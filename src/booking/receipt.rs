//! The receipt of a payment: one type, built the same way whether it answers
//! the payment itself or a retry of it (from the payments the retry's key
//! points at, whatever method made them).

use tracing::Instrument;

use super::money;
use super::payments::method::PaymentMethod;
use super::BookingError;
use crate::store::db::Db;
use crate::telemetry::otel;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PaidSeat {
    pub(crate) schedule_id: i64,
    pub(crate) seat_id: i64,
    pub(crate) seat_number: i32,
    pub(crate) price: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Receipt {
    pub(crate) user_id: i64,
    /// One payment per schedule, ascending.
    pub(crate) payment_ids: Vec<i64>,
    pub(crate) paid_at: DateTime<Utc>,
    pub(crate) amount: i64,
    pub(crate) balance_after: i64,
    /// By schedule id, then seat number.
    pub(crate) seats: Vec<PaidSeat>,
}

impl Receipt {
    /// The receipt; its amount is the seats' prices summed within the bounds
    /// of money (a retry's seats are read back from rows that may predate them).
    pub(crate) fn new(
        user_id: i64,
        mut payment_ids: Vec<i64>,
        paid_at: DateTime<Utc>,
        balance_after: i64,
        mut seats: Vec<PaidSeat>,
    ) -> Result<Self, BookingError> {
        payment_ids.sort_unstable();
        seats.sort_by_key(|seat| (seat.schedule_id, seat.seat_number));
        Ok(Receipt {
            user_id,
            payment_ids,
            paid_at,
            amount: money::price_total(seats.iter().map(|seat| seat.price))?,
            balance_after,
            seats,
        })
    }

    /// The receipt of `payment_ids`, read back from Postgres for a retry
    /// carrying the same Idempotency-Key: the payments and their seats, and
    /// the balance as their method shows it.
    pub(crate) async fn recorded(db: &Db, user_id: i64, payment_ids: &[i64]) -> Result<Self, BookingError> {
        let payment_ids = payment_ids.to_vec();
        db.bounded(move |connection| Box::pin(async move { Self::read_back(connection, user_id, &payment_ids).await }))
            .await
    }

    async fn read_back(connection: &mut PgConnection, user_id: i64, payment_ids: &[i64]) -> Result<Self, BookingError> {
        let payments: Vec<PaymentRow> = sqlx::query_as(
            "SELECT id, created_at, method FROM payments WHERE id = ANY($1) AND user_id = $2 ORDER BY id",
        )
        .bind(payment_ids)
        .bind(user_id)
        .fetch_all(&mut *connection)
        .instrument(otel::sql("receipt.payments"))
        .await?;
        let inconsistent =
            |why: &str| BookingError::Inconsistent(format!("payments {payment_ids:?} of user {user_id}: {why}"));
        let Some(first) = payments.first() else {
            return Err(inconsistent("none found"));
        };
        let method = PaymentMethod::named(&first.method).ok_or_else(|| inconsistent("an unknown method"))?;
        if payments.iter().any(|payment| payment.method != first.method) {
            return Err(inconsistent("paid by more than one method"));
        }
        let paid_at = first.created_at;
        let payment_ids: Vec<i64> = payments.iter().map(|payment| payment.id).collect();
        let balance_after = method.balance_after(connection, user_id, &payment_ids).await?;
        let seats: Vec<SeatRow> = sqlx::query_as(
            "SELECT r.schedule_id, r.seat_id, s.seat_number, r.price
             FROM reservations r JOIN seats s ON s.id = r.seat_id
             WHERE r.payment_id = ANY($1)",
        )
        .bind(&payment_ids)
        .fetch_all(&mut *connection)
        .instrument(otel::sql("receipt.seats"))
        .await?;
        let seats = seats
            .into_iter()
            .map(|seat| PaidSeat {
                schedule_id: seat.schedule_id,
                seat_id: seat.seat_id,
                seat_number: seat.seat_number,
                price: seat.price,
            })
            .collect();
        Receipt::new(user_id, payment_ids, paid_at, balance_after, seats)
    }
}

/// A payment as a replayed receipt reads it.
struct PaymentRow {
    id: i64,
    created_at: DateTime<Utc>,
    method: String,
}
crate::store::rows::from_row!(PaymentRow { id, created_at, method });

/// A paid seat as a replayed receipt reads it.
struct SeatRow {
    schedule_id: i64,
    seat_id: i64,
    seat_number: i32,
    price: i64,
}
crate::store::rows::from_row!(SeatRow {
    schedule_id,
    seat_id,
    seat_number,
    price
});
