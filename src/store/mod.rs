//! Connections to the two stores and everything that shapes their contents:
//! Postgres (the truth) and Redis (queues, holds, live metrics), the one place
//! Redis keys are named, the Lua library, and the demo data.

pub(crate) mod breaker;
pub(crate) mod coalesce;
pub mod db;
pub(crate) mod keys;
pub(crate) mod migrations;
pub(crate) mod probe;
pub mod redis;
pub(crate) mod renewal;
pub(crate) mod rows;
pub(crate) mod scripts;
pub mod seed;

pub use scripts::library::fcall;

/// Which dependency failed; used by `/ready` and for 503 answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dependency {
    Redis,
    Postgres,
}

impl Dependency {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dependency::Redis => "redis",
            Dependency::Postgres => "postgres",
        }
    }
}

/// True when a Redis error means "Redis is not there" rather than "we sent something wrong".
/// On a cluster that includes a slot between masters (a failover under way, a
/// node still loading): the client's own retries ran out, and a little later
/// the same call will go through.
pub(crate) fn redis_is_unavailable(err: &::redis::RedisError) -> bool {
    use ::redis::{ErrorKind, ServerErrorKind};
    err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_timeout()
        || err.is_unrecoverable_error()
        || err.is_cluster_error()
        || matches!(
            err.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::MasterDown | ServerErrorKind::BusyLoading | ServerErrorKind::ReadOnly
                )
        )
}

/// True when a database error means "Postgres is not there": no connection,
/// a broken one, or Postgres ending it. A shutdown (fast or smart) and a crash
/// restart end every connection with `FATAL 57P01` / `57P02`; `57P03` refuses a
/// new one while starting or stopping; class `08` is the connection failing
/// (a protocol violation, `08P01`, is ours and not counted).
pub(crate) fn db_is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(err) => err.code().is_some_and(|code| {
            matches!(&*code, "57P01" | "57P02" | "57P03") || (code.starts_with("08") && code != "08P01")
        }),
        _ => false,
    }
}

/// True when Postgres gave up on a statement (cancelled by `statement_timeout`,
/// or a lock not granted within `lock_timeout`): rolled back, safe to retry.
pub(crate) fn db_gave_up(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|err| err.code())
        .is_some_and(|code| code == "57014" || code == "55P03")
}
