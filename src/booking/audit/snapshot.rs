//! Postgres's side of the audit, every figure read in one snapshot: a sale
//! commits as one statement, so within one `REPEATABLE READ` transaction it
//! is seen whole (its payment, seats and ledger row) or not at all, and the
//! sums agree however many sales commit while the audit reads. Each payment
//! method's payments are checked against its own record of the money it took
//! (`payments/method.rs`), in the same snapshot.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tracing::Instrument;

use super::sold_sets::SoldInSnapshot;
use crate::booking::money::{self, MAX_AMOUNT, MAX_PRICE};
use crate::booking::payments::method::{MethodAudit, PaymentMethod};
use crate::booking::reconcile::RECENT_WINDOW_S;
use crate::booking::BookingError;
use crate::telemetry::otel;

/// The money figures of one snapshot, summed as `numeric`.
pub(super) struct Totals {
    pub(super) seats_sold: i64,
    pub(super) distinct_seats: i64,
    pub(super) revenue: i128,
    pub(super) payments: i128,
    pub(super) ledger_payments: i128,
    pub(super) balances: i128,
    pub(super) negative_balances: i64,
    pub(super) ledger: i128,
    pub(super) ledger_mismatches: i64,
}

pub(super) struct Snapshot {
    pub(super) totals: Totals,
    /// Each payment method's payments against its own record.
    pub(super) methods: Vec<MethodAudit>,
    /// Rows beyond the bounds of money (written before them), described.
    pub(super) out_of_bounds: Vec<String>,
    /// The seats sold, for the comparison with Redis.
    pub(super) sold: SoldInSnapshot,
}

struct Sales {
    seats_sold: i64,
    distinct_seats: i64,
    revenue: String,
}
crate::store::rows::from_row!(Sales {
    seats_sold,
    distinct_seats,
    revenue
});

struct BalanceTotals {
    total: String,
    negative: i64,
}
crate::store::rows::from_row!(BalanceTotals { total, negative });

/// Reads every figure in one read-only `REPEATABLE READ` transaction; with a
/// time limit, Postgres cancels any of its statements running longer.
pub(super) async fn take(db: &mut PgConnection, time_limit: Option<Duration>) -> Result<Snapshot, BookingError> {
    let mut tx = db.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
    if let Some(limit) = time_limit {
        sqlx::query("SELECT set_config('statement_timeout', $1, true)")
            .bind(limit.as_millis().to_string())
            .execute(&mut *tx)
            .instrument(otel::sql("audit.time_limit"))
            .await?;
    }
    let sales: Sales = sqlx::query_as(
        "SELECT count(*) AS seats_sold, count(DISTINCT seat_id) AS distinct_seats,
                COALESCE(sum(price), 0)::text AS revenue
         FROM reservations",
    )
    .fetch_one(&mut *tx)
    .instrument(otel::sql("audit.sales"))
    .await?;
    let payments: String = sqlx::query_scalar("SELECT COALESCE(sum(amount), 0)::text FROM payments")
        .fetch_one(&mut *tx)
        .instrument(otel::sql("audit.payments"))
        .await?;
    let mut methods = Vec::new();
    for method in PaymentMethod::ALL {
        methods.push(method.audit(&mut tx).await?);
    }
    let ledger: String = sqlx::query_scalar("SELECT COALESCE(sum(delta), 0)::text FROM balance_ledger")
        .fetch_one(&mut *tx)
        .instrument(otel::sql("audit.ledger"))
        .await?;
    let balances: BalanceTotals = sqlx::query_as(
        "SELECT COALESCE(sum(amount), 0)::text AS total, count(*) FILTER (WHERE amount < 0) AS negative
         FROM balances",
    )
    .fetch_one(&mut *tx)
    .instrument(otel::sql("audit.balances"))
    .await?;
    let ledger_mismatches: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM balances b
         WHERE b.amount <> COALESCE((SELECT sum(delta) FROM balance_ledger l WHERE l.user_id = b.user_id), 0)",
    )
    .fetch_one(&mut *tx)
    .instrument(otel::sql("audit.ledger_mismatches"))
    .await?;
    let out_of_bounds = out_of_bounds(&mut tx).await?;
    let sold = sold_seats(&mut tx).await?;
    tx.commit().await?;
    let ledger_payments = methods
        .iter()
        .find(|figures| figures.method == PaymentMethod::Balance)
        .map_or(0, |figures| figures.taken);
    Ok(Snapshot {
        totals: Totals {
            seats_sold: sales.seats_sold,
            distinct_seats: sales.distinct_seats,
            revenue: money::parse_sum(&sales.revenue)?,
            payments: money::parse_sum(&payments)?,
            ledger_payments,
            balances: money::parse_sum(&balances.total)?,
            negative_balances: balances.negative,
            ledger: money::parse_sum(&ledger)?,
            ledger_mismatches,
        },
        methods,
        out_of_bounds,
        sold,
    })
}

/// Seats priced, and payments made, beyond the bounds of money: how many, and
/// the first few by id.
async fn out_of_bounds(tx: &mut PgConnection) -> Result<Vec<String>, BookingError> {
    let mut found = Vec::new();
    let seats: Vec<PricedSeat> = sqlx::query_as(
        "SELECT schedule_id, seat_number, price, count(*) OVER () AS count FROM seats
         WHERE price NOT BETWEEN 0 AND $1 ORDER BY id LIMIT 3",
    )
    .bind(MAX_PRICE)
    .fetch_all(&mut *tx)
    .instrument(otel::sql("audit.priced_beyond"))
    .await?;
    if let Some(first) = seats.first() {
        let named: Vec<String> = seats
            .iter()
            .map(|seat| {
                format!(
                    "seat {} of schedule {} at {} won",
                    seat.seat_number, seat.schedule_id, seat.price
                )
            })
            .collect();
        found.push(format!(
            "{} seat(s) priced beyond {MAX_PRICE} won: {}",
            first.count,
            named.join(", ")
        ));
    }
    let payments: Vec<LargePayment> = sqlx::query_as(
        "SELECT id, amount, count(*) OVER () AS count FROM payments
         WHERE amount NOT BETWEEN 0 AND $1 ORDER BY id LIMIT 3",
    )
    .bind(MAX_AMOUNT)
    .fetch_all(&mut *tx)
    .instrument(otel::sql("audit.paid_beyond"))
    .await?;
    if let Some(first) = payments.first() {
        let named: Vec<String> = payments
            .iter()
            .map(|payment| format!("payment {} of {} won", payment.id, payment.amount))
            .collect();
        found.push(format!(
            "{} payment(s) beyond {MAX_AMOUNT} won: {}",
            first.count,
            named.join(", ")
        ));
    }
    Ok(found)
}

/// A seat priced beyond the bound, and how many are.
struct PricedSeat {
    schedule_id: i64,
    seat_number: i32,
    price: i64,
    count: i64,
}
crate::store::rows::from_row!(PricedSeat {
    schedule_id,
    seat_number,
    price,
    count
});

/// A payment beyond the bound, and how many are.
struct LargePayment {
    id: i64,
    amount: i64,
    count: i64,
}
crate::store::rows::from_row!(LargePayment { id, amount, count });

/// A sold seat, and whether its sale is within the recent pass's window.
struct SoldSeat {
    schedule_id: i64,
    seat_number: i32,
    recent: bool,
}
crate::store::rows::from_row!(SoldSeat {
    schedule_id,
    seat_number,
    recent
});

/// Every sold seat by schedule, marked when its sale is recent enough that the
/// reconciler's recent pass would still bring it to Redis.
async fn sold_seats(tx: &mut PgConnection) -> Result<SoldInSnapshot, BookingError> {
    let rows: Vec<SoldSeat> = sqlx::query_as(
        "SELECT r.schedule_id, s.seat_number, r.created_at > now() - make_interval(secs => $1) AS recent
         FROM reservations r JOIN seats s ON s.id = r.seat_id",
    )
    .bind(RECENT_WINDOW_S)
    .fetch_all(&mut *tx)
    .instrument(otel::sql("audit.sold_seats"))
    .await?;
    let mut sold: HashMap<i64, BTreeMap<i32, bool>> = HashMap::new();
    for row in rows {
        sold.entry(row.schedule_id)
            .or_default()
            .insert(row.seat_number, row.recent);
    }
    Ok(sold)
}

impl Snapshot {
    /// What the figures say is wrong.
    pub(super) fn violations(&self) -> Vec<String> {
        let t = &self.totals;
        let mut violations = Vec::new();
        if t.seats_sold != t.distinct_seats {
            violations.push(format!("{} seats sold more than once", t.seats_sold - t.distinct_seats));
        }
        if t.payments != t.revenue {
            violations.push(format!(
                "money paid ({} in payments) differs from the sold seats' prices ({})",
                t.payments, t.revenue
            ));
        }
        violations.extend(self.methods.iter().flat_map(MethodAudit::violations));
        if t.negative_balances > 0 {
            violations.push(format!("{} balances are negative", t.negative_balances));
        }
        if t.ledger_mismatches > 0 || t.ledger != t.balances {
            violations.push(format!(
                "{} balances differ from their ledger (ledger sums to {}, balances to {})",
                t.ledger_mismatches, t.ledger, t.balances
            ));
        }
        violations.extend(self.out_of_bounds.iter().cloned());
        violations
    }
}
