//! The probes behind the circuit breakers: every half second each dependency is
//! asked a trivial question with a short timeout, and its breaker opened or
//! closed by the answer. So an outage is noticed within about a second whether
//! or not requests are arriving, and the breaker closes as soon as the
//! dependency answers again.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::Mutex;

use super::breaker::Breaker;
use super::redis::Redis;
use crate::http::AppState;

pub(crate) const PROBE_EVERY: Duration = Duration::from_millis(500);
/// Longer than a healthy answer takes on a loaded machine, far shorter than
/// any request's own timeout.
const PROBE_TIMEOUT: Duration = Duration::from_millis(400);

pub(crate) struct Probes {
    redis: Redis,
    postgres: Arc<Breaker>,
    postgres_options: Option<PgConnectOptions>,
    /// Kept open between probes, so a probe is one round trip, not a connect.
    postgres_connection: Mutex<Option<PgConnection>>,
}

impl Probes {
    pub(crate) fn new(state: &AppState) -> Self {
        let postgres_options = PgConnectOptions::from_str(&state.config.database_url)
            .ok()
            .map(|options| options.log_statements(tracing::log::LevelFilter::Trace));
        Probes {
            redis: state.redis.clone(),
            postgres: state.database.breaker().clone(),
            postgres_options,
            postgres_connection: Mutex::new(None),
        }
    }

    pub(crate) async fn run_once(&self) {
        let (redis_up, postgres_up) = tokio::join!(self.redis_answers(), self.postgres_answers());
        set(self.redis.breaker(), redis_up);
        set(&self.postgres, postgres_up);
    }

    async fn redis_answers(&self) -> bool {
        matches!(tokio::time::timeout(PROBE_TIMEOUT, self.redis.ping()).await, Ok(Ok(())))
    }

    async fn postgres_answers(&self) -> bool {
        let Some(options) = &self.postgres_options else {
            return false;
        };
        let mut slot = self.postgres_connection.lock().await;
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
            // A connection that failed or timed out mid-answer is not reused.
            *slot = None;
        }
        up
    }
}

fn set(breaker: &Breaker, up: bool) {
    if up {
        breaker.close();
    } else {
        breaker.trip();
    }
}
