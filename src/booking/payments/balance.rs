//! Paying from the balance, the first payment method: one SQL statement debits
//! the balance, records one payment per schedule, the reservations, the ledger
//! rows, the Idempotency-Key and the sale's events, all or nothing. One statement is one round
//! trip and one commit: a payment cannot be half done, and a statement that
//! got no answer committed all of it or none.
//!
//! Every row hangs off the debit: a balance short of the total debits nothing,
//! so nothing else is written either. The ledger rows are this method's record
//! of the money it took, and the audit checks its payments against them.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tracing::Instrument;

use super::method::{Captured, MethodAudit, Paid, PaymentMethod, Refusal, Sale};
use crate::booking::idempotency::IdempotencyKey;
use crate::booking::{money, BookingError};
use crate::events::EventType;
use crate::store::db::Db;
use crate::telemetry::otel;

/// Takes `sale.total` from the balance and records the sale in one statement;
/// refused, with the balance as it is now, when it is short of the total.
pub(super) async fn capture(db: &Db, sale: &Sale<'_>) -> Result<Captured, BookingError> {
    let debit = Debit::of(sale);
    let rows = db
        .decisive(move |connection| Box::pin(async move { debit.run(connection).await }))
        .await?;
    if let Some(first) = rows.first() {
        return Ok(Captured::Paid(Paid {
            payment_ids: rows.iter().map(|row| row.id).collect(),
            paid_at: first.paid_at,
            balance_after: first.balance_after,
        }));
    }
    let user_id = sale.user_id;
    let balance: Option<i64> = db
        .bounded(move |connection| {
            Box::pin(async move {
                let balance = sqlx::query_scalar("SELECT amount FROM balances WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(connection)
                    .instrument(otel::sql("payments.balance"))
                    .await?;
                Ok::<_, BookingError>(balance)
            })
        })
        .await?;
    Ok(Captured::Refused(Refusal::InsufficientBalance {
        balance: balance.unwrap_or(0),
        required: sale.total,
    }))
}

/// The statement's binds, owned: the statement may outlive the request's
/// borrow (it runs under the database's deadline, not the caller's).
struct Debit {
    user_id: i64,
    queue: String,
    total: i64,
    schedule_ids: Vec<i64>,
    amounts: Vec<i64>,
    seat_ids: Vec<i64>,
    seat_schedules: Vec<i64>,
    prices: Vec<i64>,
    key: Option<IdempotencyKey>,
}

/// A payment the statement wrote, with the time and the balance after the debit
/// (the same on every row).
struct PaidRow {
    id: i64,
    paid_at: DateTime<Utc>,
    balance_after: i64,
}
crate::store::rows::from_row!(PaidRow {
    id,
    paid_at,
    balance_after
});

impl Debit {
    fn of(sale: &Sale<'_>) -> Self {
        let mut debit = Debit {
            user_id: sale.user_id,
            queue: sale.queue.to_string(),
            total: sale.total,
            schedule_ids: Vec::new(),
            amounts: Vec::new(),
            seat_ids: Vec::new(),
            seat_schedules: Vec::new(),
            prices: Vec::new(),
            key: sale.key.cloned(),
        };
        for hold in sale.holds {
            debit.schedule_ids.push(hold.schedule.id);
            debit.amounts.push(hold.amount());
            for seat in &hold.seats {
                debit.seat_ids.push(seat.id);
                debit.seat_schedules.push(hold.schedule.id);
                debit.prices.push(seat.price);
            }
        }
        debit
    }

    /// Debits the balance by the total (never below zero), records one payment
    /// per schedule, the reservations and a ledger row per payment, with a
    /// key, the key pointing at the payments, and the sale's events (a
    /// `payment.completed` and a `seats.sold` per payment), which therefore
    /// commit or roll back with it. No rows: not enough money, and
    /// nothing written. A seat sold meanwhile fails the whole statement on the
    /// double-sale constraint.
    async fn run(self, db: &mut PgConnection) -> Result<Vec<PaidRow>, sqlx::Error> {
        let key = self.key.as_ref();
        sqlx::query_as(
            "WITH debit AS (
                 UPDATE balances SET amount = amount - $2, updated_at = now()
                 WHERE user_id = $1 AND amount >= $2
                 RETURNING amount
             ), paid AS (
                 INSERT INTO payments (user_id, schedule_id, amount, method)
                 SELECT $1, p.schedule_id, p.amount, $11
                 FROM debit, UNNEST($3::bigint[], $4::bigint[]) AS p (schedule_id, amount)
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
                 INSERT INTO idempotency_keys (user_id, key, operation, request_hash, payment_ids)
                 SELECT $1, $8, $9, $10, ARRAY(SELECT id FROM paid ORDER BY id)
                 FROM debit WHERE $8::text IS NOT NULL
             ), payment_events AS (
                 INSERT INTO events (type, queue, data)
                 SELECT $12, $14, jsonb_build_object('paymentId', paid.id, 'userId', $1::bigint,
                            'scheduleId', paid.schedule_id, 'amount', paid.amount, 'method', $11::text)
                 FROM paid ORDER BY paid.id
             ), sale_events AS (
                 INSERT INTO events (type, queue, data)
                 SELECT $13, $14, jsonb_build_object('paymentId', paid.id, 'userId', $1::bigint,
                            'scheduleId', paid.schedule_id, 'seats', (
                                SELECT jsonb_agg(seats.seat_number ORDER BY seats.seat_number)
                                FROM UNNEST($5::bigint[], $6::bigint[]) AS s (seat_id, schedule_id)
                                JOIN seats ON seats.id = s.seat_id
                                WHERE s.schedule_id = paid.schedule_id))
                 FROM paid ORDER BY paid.id
             )
             SELECT paid.id, paid.created_at AS paid_at, debit.amount AS balance_after
             FROM paid, debit ORDER BY paid.id",
        )
        .bind(self.user_id)
        .bind(self.total)
        .bind(&self.schedule_ids)
        .bind(&self.amounts)
        .bind(&self.seat_ids)
        .bind(&self.seat_schedules)
        .bind(&self.prices)
        .bind(key.map(IdempotencyKey::key))
        .bind(key.map(IdempotencyKey::operation))
        .bind(key.map(IdempotencyKey::request_hash))
        .bind(PaymentMethod::Balance.name())
        .bind(EventType::PaymentCompleted.name())
        .bind(EventType::SeatsSold.name())
        .bind(&self.queue)
        .fetch_all(db)
        .instrument(otel::sql("payments.capture"))
        .await
    }
}

/// The balance right after the payments, as their first answer showed it: the
/// ledger row of the last of them carries it.
pub(super) async fn balance_after(
    db: &mut PgConnection,
    user_id: i64,
    payment_ids: &[i64],
) -> Result<i64, BookingError> {
    let balance: Option<i64> = sqlx::query_scalar(
        "SELECT balance_after FROM balance_ledger WHERE user_id = $1 AND payment_id = ANY($2)
         ORDER BY payment_id DESC LIMIT 1",
    )
    .bind(user_id)
    .bind(payment_ids)
    .fetch_optional(db)
    .instrument(otel::sql("payments.balance_after"))
    .await?;
    balance.ok_or_else(|| {
        BookingError::Inconsistent(format!("payments {payment_ids:?} of user {user_id} have no ledger row"))
    })
}

/// The balance's payments against the ledger's payment rows: in total, and one
/// by one (each payment has a ledger row of its amount).
struct LedgerFigures {
    paid: String,
    taken: String,
    unmatched: i64,
}
crate::store::rows::from_row!(LedgerFigures { paid, taken, unmatched });

pub(super) async fn audit(snapshot: &mut PgConnection) -> Result<MethodAudit, BookingError> {
    let figures: LedgerFigures = sqlx::query_as(
        "SELECT
             (SELECT COALESCE(sum(amount), 0)::text FROM payments WHERE method = $1) AS paid,
             (SELECT COALESCE(-sum(delta), 0)::text FROM balance_ledger WHERE reason = 'payment') AS taken,
             (SELECT count(*) FROM payments p
              WHERE p.method = $1 AND NOT EXISTS (
                  SELECT 1 FROM balance_ledger l WHERE l.payment_id = p.id AND l.delta = -p.amount)) AS unmatched",
    )
    .bind(PaymentMethod::Balance.name())
    .fetch_one(snapshot)
    .instrument(otel::sql("payments.audit"))
    .await?;
    Ok(MethodAudit {
        method: PaymentMethod::Balance,
        paid: money::parse_sum(&figures.paid)?,
        taken: money::parse_sum(&figures.taken)?,
        unmatched: figures.unmatched,
    })
}
