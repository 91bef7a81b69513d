//! The receipt of a payment: one type, built the same way whether it answers
//! the payment itself or a retry of it (from the rows the payment wrote).

use super::money;
use super::BookingError;
use crate::store::db::Db;
use chrono::{DateTime, Utc};

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

    /// The receipt of the payment that wrote `ledger_ids`, read back from
    /// Postgres for a retry carrying the same Idempotency-Key.
    pub(crate) async fn recorded(db: &Db, user_id: i64, ledger_ids: &[i64]) -> Result<Self, BookingError> {
        let mut connection = db.acquire().await?;
        let payments: Vec<(i64, DateTime<Utc>, i64)> = sqlx::query_as(
            "SELECT p.id, p.created_at, l.balance_after
             FROM balance_ledger l JOIN payments p ON p.id = l.payment_id
             WHERE l.id = ANY($1) AND l.user_id = $2
             ORDER BY l.id",
        )
        .bind(ledger_ids)
        .bind(user_id)
        .fetch_all(&mut *connection)
        .await?;
        let (Some(first), Some(last)) = (payments.first(), payments.last()) else {
            return Err(BookingError::Inconsistent(format!(
                "ledger rows {ledger_ids:?} name no payment of user {user_id}"
            )));
        };
        let (paid_at, balance_after) = (first.1, last.2);
        let payment_ids: Vec<i64> = payments.iter().map(|payment| payment.0).collect();
        let seats: Vec<(i64, i64, i32, i64)> = sqlx::query_as(
            "SELECT r.schedule_id, r.seat_id, s.seat_number, r.price
             FROM reservations r JOIN seats s ON s.id = r.seat_id
             WHERE r.payment_id = ANY($1)",
        )
        .bind(&payment_ids)
        .fetch_all(&mut *connection)
        .await?;
        let seats = seats
            .into_iter()
            .map(|(schedule_id, seat_id, seat_number, price)| PaidSeat {
                schedule_id,
                seat_id,
                seat_number,
                price,
            })
            .collect();
        Receipt::new(user_id, payment_ids, paid_at, balance_after, seats)
    }
}
