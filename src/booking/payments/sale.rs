//! The sale itself: one SQL statement that debits, records payments,
//! reservations and ledger rows, and the idempotency key, all or nothing.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::booking::holds::Hold;
use crate::booking::idempotency::IdempotencyKey;

/// The constraint that makes a second sale of a seat impossible.
const DOUBLE_SALE_CONSTRAINT: &str = "reservations_seat_key";

/// What Postgres made of a recorded sale: payment ids and time, balance after.
pub(super) struct RecordedSale {
    pub(super) payment_ids: Vec<i64>,
    pub(super) paid_at: DateTime<Utc>,
    pub(super) balance_after: i64,
}

/// True when the sale failed because one of its seats is already sold.
pub(super) fn is_double_sale(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db_err| db_err.constraint())
        .is_some_and(|constraint| constraint == DOUBLE_SALE_CONSTRAINT)
}

/// Debits the balance by `total` (the holds' amounts, summed within the bounds
/// of money), records one payment per schedule, the reservations and the
/// ledger rows, in one statement (all or nothing). `None`: not enough money.
/// A seat sold meanwhile fails the whole statement on the double-sale constraint.
/// With an idempotency key, the same statement stores the key, pointing at the
/// ledger rows it wrote.
pub(super) async fn record(
    db: &mut PgConnection,
    user_id: i64,
    holds: &[Hold],
    total: i64,
    key: Option<&IdempotencyKey>,
) -> Result<Option<RecordedSale>, sqlx::Error> {
    let schedule_ids: Vec<i64> = holds.iter().map(|hold| hold.schedule.id).collect();
    let amounts: Vec<i64> = holds.iter().map(Hold::amount).collect();
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
             RETURNING id
         ), remembered AS (
             INSERT INTO idempotency_keys (user_id, key, operation, request_hash, ledger_ids)
             SELECT $1, $8, $9, $10, ARRAY(SELECT id FROM ledger ORDER BY id)
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
