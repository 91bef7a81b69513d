//! The probes behind the circuit breakers: every half second each dependency is
//! asked a trivial question with a short timeout, and its breaker opened or
//! closed by the answers. So an outage is noticed within about a second whether
//! or not requests are arriving, and the breaker closes as soon as the
//! dependency answers again. `/ready` asks the same probes.
//!
//! Each probe has a connection of its own. Asked over the connection the
//! requests share, a PING would wait behind thousands of queued calls during a
//! flood and call a busy Redis dead, turning load into an outage.
//!
//! Two silent rounds in a row open a breaker (one slow answer is not an
//! outage), but a refusal opens it at once: nothing listening where Postgres
//! was, or Postgres saying it is shutting down or starting up, is no load
//! spike. And Postgres is also watched between rounds: it ends every client
//! connection when it shuts down or crashes, so a connection kept open only to
//! be ended ([`Probes::watch_postgres`]) makes a round run at once, and the
//! breaker opens within milliseconds instead of the half second to a second
//! the rounds alone take; in that gap every request with a pooled connection
//! would send its statement into a dead one.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::store::redis::Probe as RedisProbe;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use tokio::sync::{watch, Mutex};

use super::breaker::Breaker;
use super::db::Db;
use super::redis::Redis;

pub(crate) const PROBE_EVERY: Duration = Duration::from_millis(500);
/// Longer than a healthy answer takes on a loaded machine, far shorter than
/// any request's own timeout.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a probe may take to connect to Redis: the handshake's round
/// trips, each as slow as the network. A frozen Redis is still found by the
/// PING on the connection kept from the round before.
const PROBE_CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);
/// Failed probes in a row that open a breaker: one slow answer is not an outage.
const FAILURES_TO_OPEN: u32 = 2;

/// What one round of probes found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Health {
    pub(crate) redis: bool,
    pub(crate) postgres: bool,
}

/// What one look at a dependency found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Up,
    /// Refused outright: down, whatever the load.
    Refused,
    /// No answer in time, or an error that says nothing more.
    Silent,
}

pub(crate) struct Probes {
    redis: Probe<Redis, RedisProbe>,
    postgres: Probe<Option<PgConnectOptions>, PgConnection>,
    /// One connection of its own, for [`Probes::watch_postgres`].
    watched: Option<PgPool>,
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

    fn record(&self, answer: Answer) {
        match answer {
            Answer::Up => {
                self.failures.store(0, Ordering::Relaxed);
                self.breaker.close();
            }
            Answer::Refused => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                self.breaker.trip();
            }
            Answer::Silent => {
                if self.failures.fetch_add(1, Ordering::Relaxed) + 1 >= FAILURES_TO_OPEN {
                    self.breaker.trip();
                }
            }
        }
    }
}

impl Probes {
    pub(crate) fn new(redis: &Redis, db: &Db, database_url: &str) -> Self {
        let postgres_options = PgConnectOptions::from_str(database_url)
            .ok()
            .map(|options| options.log_statements(tracing::log::LevelFilter::Trace));
        let watched = postgres_options.clone().map(|options| {
            PgPoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .acquire_timeout(PROBE_TIMEOUT)
                .connect_lazy_with(options)
        });
        Probes {
            redis: Probe::new(redis.clone(), redis.breaker().clone()),
            postgres: Probe::new(postgres_options, db.breaker().clone()),
            watched,
        }
    }

    /// Asks both dependencies now, and opens or closes their breakers.
    pub(crate) async fn run_once(&self) -> Health {
        let (redis, postgres) = tokio::join!(self.redis_answers(), self.postgres_answers());
        let redis = if redis { Answer::Up } else { Answer::Silent };
        self.redis.record(redis);
        self.postgres.record(postgres);
        Health {
            redis: redis == Answer::Up,
            postgres: postgres == Answer::Up,
        }
    }

    /// Keeps a connection to Postgres open until Postgres ends it, then asks
    /// Postgres at once (see the module's notes); again and again until `stop`.
    pub(crate) async fn watch_postgres(&self, mut stop: watch::Receiver<bool>) {
        let Some(pool) = &self.watched else {
            return;
        };
        loop {
            let watching = async {
                match PgListener::connect_with(pool).await {
                    Ok(mut listener) => {
                        listener.eager_reconnect(false);
                        // Nothing is listened to: the first thing it returns is the end.
                        let ended = listener.try_recv().await;
                        tracing::debug!(?ended, "the watched Postgres connection ended");
                        self.postgres.record(self.postgres_answers().await);
                        // A connection ended again and again (by a proxy, say) costs a
                        // round every 50 ms at most.
                        tokio::time::sleep(PROBE_EVERY / 10).await;
                    }
                    // Down (the probes see to the breaker): look again later.
                    Err(_) => tokio::time::sleep(PROBE_EVERY).await,
                }
            };
            tokio::select! {
                _ = stop.changed() => return,
                () = watching => {}
            }
        }
    }

    async fn redis_answers(&self) -> bool {
        let probe = &self.redis;
        let mut slot = probe.connection.lock().await;
        if slot.is_none() {
            // Connecting takes a few round trips (the handshake), a PING one:
            // bounded apart, so a Redis a few hundred milliseconds away is
            // slow, not down (tests/faults/network.rs).
            match tokio::time::timeout(PROBE_CONNECT_TIMEOUT, probe.target.probe_connection()).await {
                Ok(Ok(connection)) => *slot = Some(connection),
                _ => return false,
            }
        }
        let answered = tokio::time::timeout(PROBE_TIMEOUT, async {
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

    /// A ping on the kept connection; if that fails (Postgres may have ended
    /// it), one on a new connection, whose refusal is final. Connecting takes
    /// a few round trips (TCP, the startup, the parameters) and is bounded
    /// apart, as for Redis: a Postgres a few hundred milliseconds away is
    /// slow, not down (the chaos soak saw one 300 ms away refused for the
    /// whole fault, every new connection outrunning the half second).
    async fn postgres_answers(&self) -> Answer {
        let probe = &self.postgres;
        let Some(options) = &probe.target else {
            return Answer::Silent;
        };
        let mut slot = probe.connection.lock().await;
        if let Some(connection) = slot.as_mut() {
            let answered = tokio::time::timeout(PROBE_TIMEOUT, connection.ping()).await;
            if matches!(answered, Ok(Ok(()))) {
                return Answer::Up;
            }
            // Failed or timed out mid-answer: not reused.
            *slot = None;
            if answered.is_err() {
                // Silent, not gone: a new connection would wait as long.
                return Answer::Silent;
            }
        }
        // The longer bound only while Postgres was answering: once it has been
        // silent, a connect waits no longer than a ping, so a frozen Postgres
        // still opens the breaker within about a second.
        let bound = if probe.failures.load(Ordering::Relaxed) == 0 {
            PROBE_CONNECT_TIMEOUT
        } else {
            PROBE_TIMEOUT
        };
        let mut connection = match tokio::time::timeout(bound, options.connect()).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(err)) if refused(&err) => return Answer::Refused,
            _ => return Answer::Silent,
        };
        match tokio::time::timeout(PROBE_TIMEOUT, connection.ping()).await {
            Ok(Ok(())) => {
                *slot = Some(connection);
                Answer::Up
            }
            Ok(Err(err)) if refused(&err) => Answer::Refused,
            _ => Answer::Silent,
        }
    }
}

/// Postgres is not there, or says it is not serving: nothing listens on its
/// port, or it is starting up or shutting down (57P03), or it ended the
/// connection at once (57P01 shutdown, 57P02 crash restart).
fn refused(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(err) => err.kind() == std::io::ErrorKind::ConnectionRefused,
        sqlx::Error::Database(err) => err
            .code()
            .is_some_and(|code| matches!(&*code, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}
