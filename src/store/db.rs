//! Postgres: the pool, created with deadlines so that a 503 means what it says;
//! [`Db`], the pool behind its circuit breaker; and the database itself,
//! created and migrated at start-up.
//!
//! When Postgres goes away, every request must learn it at once and truly:
//! a request waiting for a connection is answered `DEPENDENCY_UNAVAILABLE` the
//! moment the breaker opens (`Db::acquire`), not when its acquire timeout runs
//! out (sqlx retries a refused connect until then); a connection that sat idle
//! while the breaker opened is closed rather than handed out, since it is most
//! likely dead and a statement sent on it could not be told from one lost in
//! flight. What is sent on a connection that breaks is never called "nothing
//! happened" (`Db::decisive`).

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::{Duration, Instant};

use std::sync::Arc;

use anyhow::Context;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool, Postgres};

use super::breaker::Breaker;
use super::renewal::RenewingPool;
use crate::config::Config;

/// Connects to the server's `postgres` database and creates `database_url`'s database if missing.
/// Its two statements have no OpenTelemetry span: they run once, before the
/// service serves anything, and a trace of them would say nothing a log line does not.
pub(crate) async fn create_database_if_missing(database_url: &str) -> anyhow::Result<()> {
    let options = PgConnectOptions::from_str(database_url).context("DATABASE_URL is not a valid Postgres URL")?;
    let name = options
        .get_database()
        .context("DATABASE_URL names no database")?
        .to_string();
    let mut admin = tokio::time::timeout(Duration::from_secs(2), options.clone().database("postgres").connect())
        .await
        .context("timed out connecting to Postgres")?
        .context("cannot connect to Postgres")?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut admin)
        .await?;
    if !exists {
        // Identifiers cannot be bound; quote the name the way Postgres does.
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        let create = format!("CREATE DATABASE {quoted}");
        if let Err(err) = sqlx::query(&create).execute(&mut admin).await {
            // Another instance (or test) may have created it in the meantime.
            let raced = err
                .as_database_error()
                .and_then(|e| e.code())
                .is_some_and(|code| code == "42P04" || code == "23505");
            if !raced {
                return Err(err).context("cannot create the database");
            }
        }
        tracing::info!(database = %name, "created database");
    }
    admin.close().await.ok();
    Ok(())
}

/// Whether a pool's statements run under the serving deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deadlines {
    /// Requests: `statement_timeout`, `lock_timeout` and
    /// `idle_in_transaction_session_timeout` from the config.
    Serving,
    /// Migrations, seeding and the audit: they may take as long as they need.
    None,
}

/// A pool of at most `max_connections`, connecting lazily on first use. With a
/// `breaker`, a connection idle since before the breaker last opened is closed
/// instead of handed out.
pub(crate) fn pool(
    config: &Config,
    max_connections: u32,
    deadlines: Deadlines,
    breaker: Option<&Arc<Breaker>>,
) -> anyhow::Result<PgPool> {
    let mut options = PgConnectOptions::from_str(&config.database_url)
        .context("DATABASE_URL is not a valid Postgres URL")?
        .log_statements(tracing::log::LevelFilter::Trace);
    if deadlines == Deadlines::Serving {
        // Postgres itself gives up on a statement before the client stops
        // waiting for it, so a statement that ran out of time is rolled back and
        // reported as such, not left to commit after the client was answered.
        let limit = config.db_statement_timeout_ms.max(1).to_string();
        options = options.options([
            ("statement_timeout", limit.as_str()),
            ("lock_timeout", limit.as_str()),
            ("idle_in_transaction_session_timeout", limit.as_str()),
        ]);
    }
    let mut pool = PgPoolOptions::new();
    if let Some(breaker) = breaker.cloned() {
        pool = pool.before_acquire(move |_, connection| {
            let idle_since = Instant::now().checked_sub(connection.idle_for);
            let fresh = idle_since.is_some_and(|moment| !breaker.opened_since(moment));
            Box::pin(async move { Ok(fresh) })
        });
    }
    Ok(pool
        .max_connections(max_connections)
        .min_connections(0)
        // sqlx would ping every connection it hands out: a second round trip per
        // statement. A connection that died is found on use instead, and dropped.
        .test_before_acquire(false)
        // A dead database must answer 503 quickly, never hang a request.
        .acquire_timeout(Duration::from_millis(config.db_acquire_timeout_ms.max(1)))
        .connect_lazy_with(options))
}

pub(crate) async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    let migrator = super::migrations::migrator()
        .await
        .context("reading the embedded migrations failed")?;
    migrator.run(pool).await.context("running migrations failed")
}

/// Why a statement did not give an answer the caller can act on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    /// Nothing was sent: the breaker is open or no connection came in time.
    #[error("Postgres is unavailable")]
    Unavailable(#[source] Option<sqlx::Error>),
    /// Postgres answered with an error: the statement was rolled back.
    #[error("Postgres refused the statement")]
    Refused(#[source] sqlx::Error),
    /// The statement was sent and no answer came (the connection broke, or
    /// Postgres did not answer in time): it may or may not have committed.
    #[error("the statement's outcome is unknown")]
    OutcomeUnknown(#[source] Option<sqlx::Error>),
}

/// A statement's future, borrowing the connection it runs on.
pub(crate) type StatementFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;

/// Postgres as the services use it: the pool behind its circuit breaker, and
/// the deadline within which a statement that moves money must be answered.
#[derive(Clone)]
pub(crate) struct Db {
    pool: Arc<RenewingPool>,
    breaker: Arc<Breaker>,
    answer_within: Duration,
}

/// How much longer than `statement_timeout` the client waits for an answer:
/// room for Postgres to cancel the statement and say so.
const ANSWER_MARGIN: Duration = Duration::from_millis(500);

impl Db {
    pub(crate) fn new(pool: PgPool, breaker: Arc<Breaker>, statement_timeout_ms: u64) -> Self {
        Db {
            pool: Arc::new(RenewingPool::new(pool)),
            breaker,
            answer_within: Duration::from_millis(statement_timeout_ms) + ANSWER_MARGIN,
        }
    }

    pub(crate) fn breaker(&self) -> &Arc<Breaker> {
        &self.breaker
    }

    /// The pool in use (`renewal.rs` may have replaced the first).
    pub(crate) fn pool(&self) -> PgPool {
        self.pool.current().1
    }

    /// A connection, refused at once while Postgres is known to be down, and
    /// the moment it becomes known if that is while waiting.
    pub(crate) async fn acquire(&self) -> Result<PoolConnection<Postgres>, DbError> {
        let mut opening = std::pin::pin!(self.breaker.opening());
        opening.as_mut().enable();
        if self.breaker.check().is_err() {
            return Err(DbError::Unavailable(None));
        }
        let _waiting = WaitingAcquire::start();
        let (generation, pool) = self.pool.current();
        let acquired = tokio::select! {
            biased;
            () = opening => return Err(DbError::Unavailable(None)),
            acquired = pool.acquire() => acquired,
        };
        match acquired {
            // The breaker may have opened as the connection came: then it is
            // not used (nothing is sent while the breaker is open).
            Ok(_) if self.breaker.check().is_err() => Err(DbError::Unavailable(None)),
            Ok(connection) => {
                self.pool.handed_out();
                Ok(connection)
            }
            Err(err) => {
                if matches!(err, sqlx::Error::PoolTimedOut) {
                    metrics::counter!(crate::telemetry::metrics::DB_ACQUIRE_TIMEOUTS).increment(1);
                    if self.breaker.check().is_ok() {
                        self.pool.timed_out(generation, &pool, self.answer_within);
                    }
                }
                Err(DbError::Unavailable(Some(err)))
            }
        }
    }

    /// Reads on the way to an answer (a retry's receipt read back, the
    /// balance a refusal names), bounded as a statement that moves money is:
    /// money routes are left to their statements' deadlines rather than the
    /// request's, so without this a link that swallows a reply would hold
    /// such a read as long as the link lasts. Past the deadline nothing
    /// happened (503 DEPENDENCY_UNAVAILABLE), and the connection is closed,
    /// not returned: sqlx checks a returned connection by first reading out
    /// what it still owes, which behind a reply swallowed for good never ends
    /// and keeps the pool's slot (the chaos soak emptied whole pools so).
    pub(crate) async fn bounded<T, E, F>(&self, reads: F) -> Result<T, E>
    where
        E: From<DbError>,
        F: for<'c> FnOnce(&'c mut PgConnection) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>,
    {
        self.within_deadline(reads, || DbError::Unavailable(None)).await
    }

    /// A change (an operator's, a chore's) bounded as [`Db::bounded`] bounds
    /// reads: past the deadline its outcome is unknown (it may have committed
    /// with its answer lost), and the connection is closed, not returned.
    /// Each caller's change can be told afterwards by reading it back, or is
    /// safe to make again.
    pub(crate) async fn bounded_change<T, E, F>(&self, change: F) -> Result<T, E>
    where
        E: From<DbError>,
        F: for<'c> FnOnce(&'c mut PgConnection) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>,
    {
        self.within_deadline(change, || DbError::OutcomeUnknown(None)).await
    }

    async fn within_deadline<T, E, F>(&self, work: F, late: impl FnOnce() -> DbError) -> Result<T, E>
    where
        E: From<DbError>,
        F: for<'c> FnOnce(&'c mut PgConnection) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>,
    {
        let mut in_use = InUse::new(self.acquire().await?);
        match tokio::time::timeout(self.answer_within, work(in_use.connection())).await {
            Ok(result) => {
                in_use.done();
                result
            }
            // `in_use` closes the connection as it goes.
            Err(_) => Err(late().into()),
        }
    }

    /// Runs one statement whose effect must be known: the answer is its result,
    /// a refusal (rolled back), unavailability (never sent), or an unknown
    /// outcome, which is the only case where it may have committed unseen.
    ///
    /// A broken connection is an unknown outcome even when it was dead before
    /// the statement went out (Postgres ends its connections with `FATAL
    /// 57P01` when it shuts down): sqlx does not say whether the failure came
    /// while writing or while reading, and Postgres can end a connection after
    /// a commit and before the answer. Such connections are kept rare instead:
    /// the breaker opens within milliseconds of Postgres ending its connections
    /// (`probe.rs`), after which nothing is sent and idle connections are not reused.
    pub(crate) async fn decisive<T, F>(&self, statement: F) -> Result<T, DbError>
    where
        F: for<'c> FnOnce(&'c mut PgConnection) -> StatementFuture<'c, T>,
    {
        let mut in_use = InUse::new(self.acquire().await?);
        match tokio::time::timeout(self.answer_within, statement(in_use.connection())).await {
            Ok(Ok(value)) => {
                in_use.done();
                Ok(value)
            }
            Ok(Err(err @ sqlx::Error::Database(_))) if !super::db_is_unavailable(&err) => {
                in_use.done();
                Err(DbError::Refused(err))
            }
            // The connection broke, or the statement may still be running:
            // `in_use` closes it rather than have it reused.
            Ok(Err(err)) => Err(DbError::OutcomeUnknown(Some(err))),
            Err(_) => Err(DbError::OutcomeUnknown(None)),
        }
    }
}

/// A connection with work in flight: closed, not returned, when dropped before
/// [`InUse::done`]. Besides the deadlines above, that covers work cut off
/// from outside (a request's own deadline, a chore's bound): sqlx checks a
/// returned connection by first reading out what it still owes, which behind
/// a reply swallowed for good never ends and keeps the pool's slot.
struct InUse {
    connection: PoolConnection<Postgres>,
    answered: bool,
}

impl InUse {
    fn new(connection: PoolConnection<Postgres>) -> Self {
        InUse {
            connection,
            answered: false,
        }
    }

    fn connection(&mut self) -> &mut PgConnection {
        &mut self.connection
    }

    /// The work ended with an answer: the connection goes back to the pool.
    fn done(mut self) {
        self.answered = true;
    }
}

impl Drop for InUse {
    fn drop(&mut self) {
        if !self.answered {
            self.connection.close_on_drop();
        }
    }
}

/// Counts an acquire in the waiting-acquires gauge while it waits (also when
/// its request is cut off and the wait dropped).
struct WaitingAcquire;

impl WaitingAcquire {
    fn start() -> Self {
        metrics::gauge!(crate::telemetry::metrics::DB_ACQUIRES_WAITING).increment(1.0);
        WaitingAcquire
    }
}

impl Drop for WaitingAcquire {
    fn drop(&mut self) {
        metrics::gauge!(crate::telemetry::metrics::DB_ACQUIRES_WAITING).decrement(1.0);
    }
}
