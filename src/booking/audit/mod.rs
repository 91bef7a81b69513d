//! The invariants a ticketing business lives by, checked against the stores.
//! Load tests end with this audit; any violation fails the run.
//!
//! It must tell the truth while a sale runs, so it compares like with like:
//! - every Postgres figure comes from one snapshot (`snapshot.rs`: one
//!   `REPEATABLE READ` read-only transaction), so a sale committing meanwhile
//!   is wholly in it or wholly out, never debited without its seats;
//! - Redis learns of a sale only after Postgres commits it (`sold_sets.rs`), so
//!   it is judged with the reconciler's window in mind.
//!
//! Sums are taken as `numeric`, never cast to `bigint`: rows written before the
//! bounds of money (`booking/money.rs`) may sum beyond it, and the audit must
//! run whatever is stored, naming what is out of bounds.
//!
//! HTTP serves it through [`LatestAudit`] (`latest.rs`): one run at a time, on
//! a Postgres connection of its own, shared by every caller.

mod latest;
mod snapshot;
mod sold_sets;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use tracing::Instrument;
use utoipa::ToSchema;

use super::catalog::Catalog;
use super::BookingError;
use crate::config::Config;
use crate::store::breaker::Breaker;
use crate::store::db::{self, Db, Deadlines};
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::store::{db_gave_up, Dependency};
use crate::telemetry::otel;
use crate::telemetry::progress::Progress;

pub(crate) use latest::LatestAudit;

/// Money figures are `i128`: sums of stored rows, which may pass an `i64`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditReport {
    pub(crate) ok: bool,
    /// When the run began: its snapshot of Postgres is from then.
    #[schema(value_type = String, format = DateTime)]
    pub(crate) checked_at: DateTime<Utc>,
    pub(crate) seats_sold: i64,
    pub(crate) revenue: i128,
    pub(crate) payments_total: i128,
    pub(crate) ledger_payments_total: i128,
    pub(crate) balances_total: i128,
    pub(crate) ledger_total: i128,
    pub(crate) violations: Vec<String>,
}

#[derive(Clone)]
pub(crate) struct Auditor {
    db: Db,
    redis: Redis,
    keys: Keys,
    catalog: Catalog,
    /// How long one run may take, if bounded: Postgres cancels a statement
    /// running longer, and the run gives up a second after.
    time_limit: Option<Duration>,
}

impl Auditor {
    pub(crate) fn new(db: Db, redis: Redis, keys: Keys, catalog: Catalog, time_limit: Option<Duration>) -> Self {
        Auditor {
            db,
            redis,
            keys,
            catalog,
            time_limit,
        }
    }

    /// Checks the business invariants against Postgres and Redis.
    /// A trace of its own: one run answers every request that waits on it.
    pub(crate) async fn run(&self) -> Result<AuditReport, BookingError> {
        let mut connection = self.db.acquire().await?;
        let audit = self.audit(&mut connection).instrument(otel::chore("audit"));
        let outcome = match self.time_limit {
            Some(limit) => match tokio::time::timeout(limit + Duration::from_secs(1), audit).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    // Returned, the connection would first be read to its end,
                    // which behind a lost reply never comes: closed instead.
                    connection.close_on_drop();
                    Err(BookingError::PostgresGaveUp)
                }
            },
            None => audit.await,
        };
        match outcome {
            Err(BookingError::Database(err)) if db_gave_up(&err) => Err(BookingError::PostgresGaveUp),
            other => other,
        }
    }

    async fn audit(&self, connection: &mut PgConnection) -> Result<AuditReport, BookingError> {
        let checked_at = Utc::now();
        let snapshot = snapshot::take(connection, self.time_limit).await?;
        let mut violations = snapshot.violations();
        let catalog = self.catalog.snapshot();
        violations.extend(sold_sets::mismatches(connection, &self.redis, &self.keys, &catalog, snapshot.sold).await?);
        let totals = snapshot.totals;
        Ok(AuditReport {
            ok: violations.is_empty(),
            checked_at,
            seats_sold: totals.seats_sold,
            revenue: totals.revenue,
            payments_total: totals.payments,
            ledger_payments_total: totals.ledger_payments,
            balances_total: totals.balances,
            ledger_total: totals.ledger,
            violations,
        })
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
    let auditor = Auditor::new(db, redis, Keys::new(&config.redis_prefix), catalog, None);
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
