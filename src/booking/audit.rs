//! The invariants a ticketing business lives by, checked against the stores.
//! Load tests end with this audit; any violation fails the run.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::catalog::{Catalog, Snapshot};
use super::BookingError;
use crate::config::Config;
use crate::store::breaker::Breaker;
use crate::store::db::{self, Db, Deadlines};
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::store::Dependency;
use crate::telemetry::progress::Progress;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditReport {
    pub(crate) ok: bool,
    pub(crate) seats_sold: i64,
    pub(crate) revenue: i64,
    pub(crate) payments_total: i64,
    pub(crate) ledger_payments_total: i64,
    pub(crate) balances_total: i64,
    pub(crate) ledger_total: i64,
    pub(crate) violations: Vec<String>,
}

#[derive(Clone)]
pub(crate) struct Auditor {
    db: Db,
    redis: Redis,
    keys: Keys,
    catalog: Catalog,
}

impl Auditor {
    pub(crate) fn new(db: Db, redis: Redis, keys: Keys, catalog: Catalog) -> Self {
        Auditor {
            db,
            redis,
            keys,
            catalog,
        }
    }

    /// Checks the business invariants against Postgres and Redis.
    pub(crate) async fn run(&self) -> Result<AuditReport, BookingError> {
        let mut connection = self.db.acquire().await?;
        audit(&mut connection, &self.redis, &self.keys, &self.catalog.snapshot()).await
    }
}

/// `boxoffice check`: the audit from the command line, as JSON; an error when
/// any invariant is violated, so scripts can rely on the exit status.
pub async fn check(config: &Config) -> anyhow::Result<()> {
    let pool = db::pool(config, 2, Deadlines::None, None)?;
    let redis = Redis::open(&config.redis_url, &config.redis_cluster)?;
    let catalog = Catalog::new(pool.clone());
    catalog.reload().await?;
    let db = Db::new(
        pool,
        Arc::new(Breaker::new(Dependency::Postgres)),
        config.db_statement_timeout_ms,
    );
    let auditor = Auditor::new(db, redis, Keys::new(&config.redis_prefix), catalog);
    let progress = Progress::new("checking invariants", 0);
    let report = auditor.run().await?;
    progress.finish(if report.ok {
        "every invariant holds"
    } else {
        "violations found"
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    anyhow::ensure!(report.ok, "{} invariant(s) violated", report.violations.len());
    Ok(())
}

async fn audit(
    db: &mut PgConnection,
    redis: &Redis,
    keys: &Keys,
    catalog: &Snapshot,
) -> Result<AuditReport, BookingError> {
    let (seats_sold, distinct_seats, revenue): (i64, i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT seat_id), COALESCE(sum(price), 0)::bigint FROM reservations")
            .fetch_one(&mut *db)
            .await?;
    let payments_total: i64 = sqlx::query_scalar("SELECT COALESCE(sum(amount), 0)::bigint FROM payments")
        .fetch_one(&mut *db)
        .await?;
    let ledger_payments_total: i64 =
        sqlx::query_scalar("SELECT COALESCE(-sum(delta), 0)::bigint FROM balance_ledger WHERE reason = 'payment'")
            .fetch_one(&mut *db)
            .await?;
    let (balances_total, negative_balances): (i64, i64) =
        sqlx::query_as("SELECT COALESCE(sum(amount), 0)::bigint, count(*) FILTER (WHERE amount < 0) FROM balances")
            .fetch_one(&mut *db)
            .await?;
    let ledger_total: i64 = sqlx::query_scalar("SELECT COALESCE(sum(delta), 0)::bigint FROM balance_ledger")
        .fetch_one(&mut *db)
        .await?;
    let ledger_mismatches: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM balances b
         WHERE b.amount <> COALESCE((SELECT sum(delta) FROM balance_ledger l WHERE l.user_id = b.user_id), 0)",
    )
    .fetch_one(&mut *db)
    .await?;

    let mut violations = Vec::new();
    if seats_sold != distinct_seats {
        violations.push(format!("{} seats sold more than once", seats_sold - distinct_seats));
    }
    if payments_total != revenue || ledger_payments_total != revenue {
        violations.push(format!(
            "money debited ({ledger_payments_total} in the ledger, {payments_total} in payments) differs from the sold seats' prices ({revenue})"
        ));
    }
    if negative_balances > 0 {
        violations.push(format!("{negative_balances} balances are negative"));
    }
    if ledger_mismatches > 0 || ledger_total != balances_total {
        violations.push(format!(
            "{ledger_mismatches} balances differ from their ledger (ledger sums to {ledger_total}, balances to {balances_total})"
        ));
    }
    violations.extend(redis_mismatches(db, redis, keys, catalog).await?);

    Ok(AuditReport {
        ok: violations.is_empty(),
        seats_sold,
        revenue,
        payments_total,
        ledger_payments_total,
        balances_total,
        ledger_total,
        violations,
    })
}

/// Sold seats in Redis must be exactly the confirmed reservations. A sold set
/// not rebuilt yet (no marker) is skipped: it is rebuilt from Postgres on use.
async fn redis_mismatches(
    db: &mut PgConnection,
    redis: &Redis,
    keys: &Keys,
    catalog: &Snapshot,
) -> Result<Vec<String>, BookingError> {
    let rows: Vec<(i64, i32)> =
        sqlx::query_as("SELECT r.schedule_id, s.seat_number FROM reservations r JOIN seats s ON s.id = r.seat_id")
            .fetch_all(&mut *db)
            .await?;
    let mut sold_in_db: HashMap<i64, BTreeSet<i32>> = HashMap::new();
    for (schedule_id, number) in rows {
        sold_in_db.entry(schedule_id).or_default().insert(number);
    }
    let mut connection = redis.connection().await?;
    let mut violations = Vec::new();
    for schedule in catalog.schedules() {
        let members: Vec<i32> = redis::cmd("SMEMBERS")
            .arg(&keys.schedule(schedule.id).sold)
            .query_async(&mut connection)
            .await?;
        if !members.contains(&0) {
            continue;
        }
        let in_redis: BTreeSet<i32> = members.into_iter().filter(|number| *number != 0).collect();
        let in_db = sold_in_db.remove(&schedule.id).unwrap_or_default();
        if in_redis != in_db {
            violations.push(format!(
                "schedule {}: Redis marks {:?} sold, Postgres has {:?}",
                schedule.id, in_redis, in_db
            ));
        }
    }
    Ok(violations)
}
