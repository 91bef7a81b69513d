//! The Postgres pool: created with short timeouts so a dead database answers 503
//! within about a second, and the database itself created and migrated at start-up.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects to the server's `postgres` database and creates `database_url`'s database if missing.
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

/// A pool of at most `max_connections`, connecting lazily on first use.
pub fn pool(database_url: &str, max_connections: u32, acquire_timeout_ms: u64) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(database_url)
        .context("DATABASE_URL is not a valid Postgres URL")?
        .log_statements(tracing::log::LevelFilter::Trace);
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        // sqlx would ping every connection it hands out: a second round trip per
        // statement. A connection that died is found on use instead, and dropped.
        .test_before_acquire(false)
        // A dead database must answer 503 quickly, never hang a request.
        .acquire_timeout(Duration::from_millis(acquire_timeout_ms.max(1)))
        .connect_lazy_with(options))
}

pub(crate) async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("running migrations failed")
}
