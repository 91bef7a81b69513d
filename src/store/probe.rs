//! The probes behind the circuit breakers: every half second each dependency is
//! asked a trivial question with a short timeout, and its breaker opened or
//! closed by the answers. So an outage is noticed within about a second whether
//! or not requests are arriving, and the breaker closes as soon as the
//! dependency answers again. `/ready` asks the same probes.
//!
//! Each probe has a connection of its own. Asked over the connection the
//! requests share, a PING would wait behind thousands of queued calls during a
//! flood and call a busy Redis dead, turning load into an outage.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::store::redis::Probe as RedisProbe;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::Mutex;

use super::breaker::Breaker;
use super::db::Db;
use super::redis::Redis;

pub(crate) const PROBE_EVERY: Duration = Duration::from_millis(500);
/// Longer than a healthy answer takes on a loaded machine, far shorter than
/// any request's own timeout.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Failed probes in a row that open a breaker: one slow answer is not an outage.
const FAILURES_TO_OPEN: u32 = 2;

/// What one round of probes found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Health {
    pub(crate) redis: bool,
    pub(crate) postgres: bool,
}

pub(crate) struct Probes {
    redis: Probe<Redis, RedisProbe>,
    postgres: Probe<Option<PgConnectOptions>, PgConnection>,
}

struct Probe<Target, Conn> {
    target: Target,
    breaker: std::sync::Arc<Breaker>,
    /// Kept open between probes, so a probe is one round trip, not a connect.
    connection: Mutex<Option<Conn>>,
    failures: AtomicU32,
}

impl<Target, Conn> Probe<Target, Conn> {
    fn new(target: Target, breaker: std::sync::Arc<Breaker>) -> Self {
        Probe {
            target,
            breaker,
            connection: Mutex::new(None),
            failures: AtomicU32::new(0),
        }
    }

    fn record(&self, up: bool) {
        if up {
            self.failures.store(0, Ordering::Relaxed);
            self.breaker.close();
        } else if self.failures.fetch_add(1, Ordering::Relaxed) + 1 >= FAILURES_TO_OPEN {
            self.breaker.trip();
        }
    }
}

impl Probes {
    pub(crate) fn new(redis: &Redis, db: &Db, database_url: &str) -> Self {
        let postgres_options = PgConnectOptions::from_str(database_url)
            .ok()
            .map(|options| options.log_statements(tracing::log::LevelFilter::Trace));
        Probes {
            redis: Probe::new(redis.clone(), redis.breaker().clone()),
            postgres: Probe::new(postgres_options, db.breaker().clone()),
        }
    }

    /// Asks both dependencies now, and opens or closes their breakers.
    pub(crate) async fn run_once(&self) -> Health {
        let (redis, postgres) = tokio::join!(self.redis_answers(), self.postgres_answers());
        self.redis.record(redis);
        self.postgres.record(postgres);
        Health { redis, postgres }
    }

    async fn redis_answers(&self) -> bool {
        let probe = &self.redis;
        let mut slot = probe.connection.lock().await;
        let answered = tokio::time::timeout(PROBE_TIMEOUT, async {
            if slot.is_none() {
                *slot = Some(probe.target.probe_connection().await?);
            }
            match slot.as_mut() {
                Some(connection) => connection.ping().await,
                None => Ok(()),
            }
        })
        .await;
        let up = matches!(answered, Ok(Ok(())));
        if !up {
            // A connection that failed or timed out mid-answer is not reused.
            *slot = None;
        }
        up
    }

    async fn postgres_answers(&self) -> bool {
        let probe = &self.postgres;
        let Some(options) = &probe.target else {
            return false;
        };
        let mut slot = probe.connection.lock().await;
        let answered = tokio::time::timeout(PROBE_TIMEOUT, async {
            if slot.is_none() {
                *slot = Some(options.connect().await?);
            }
            match slot.as_mut() {
                Some(connection) => connection.ping().await,
                None => Ok(()),
            }
        })
        .await;
        let up = matches!(answered, Ok(Ok(())));
        if !up {
            *slot = None;
        }
        up
    }
}
