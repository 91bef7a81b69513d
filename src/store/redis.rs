//! The Redis connection: one multiplexed, self-reconnecting connection per
//! instance, behind the Redis circuit breaker.
//!
//! Why not a pool: every call on the hot paths is one small EVALSHA, and a
//! multiplexed connection pipelines all of them over one socket (one write and
//! one read syscall serve many requests) with no checkout cost. The measurement
//! behind that choice is `examples/redis_clients.rs`; its figures, against
//! deadpool-redis, are in loadtest/RESULTS.md.
//!
//! The connection is made on first use, so the app can start (and `/ready` can say
//! 503) while Redis is down; `main` still refuses to start without it.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use tokio::sync::OnceCell;

use super::breaker::Breaker;
use super::Dependency;

const CONNECT_TIMEOUT: Duration = Duration::from_millis(800);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    connection: Arc<OnceCell<ConnectionManager>>,
    breaker: Arc<Breaker>,
}

/// The connection every Redis call goes through: the shared multiplexed
/// connection, refusing at once (as an I/O error, so it maps to 503) while the
/// breaker is open. Nothing is sent then, so the 503 means nothing happened.
#[derive(Clone)]
pub struct Connection {
    inner: ConnectionManager,
    breaker: Arc<Breaker>,
}

impl Redis {
    pub(crate) fn open(url: &str) -> RedisResult<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            connection: Arc::new(OnceCell::new()),
            breaker: Arc::new(Breaker::new(Dependency::Redis)),
        })
    }

    pub(crate) fn breaker(&self) -> &Arc<Breaker> {
        &self.breaker
    }

    /// A handle on the shared connection; cheap to clone, safe to use concurrently.
    pub async fn connection(&self) -> RedisResult<Connection> {
        self.breaker.check().map_err(|_| down())?;
        Ok(Connection {
            inner: self.manager().await?,
            breaker: self.breaker.clone(),
        })
    }

    /// PING over the shared connection, whatever the breaker says.
    pub(crate) async fn ping(&self) -> RedisResult<()> {
        let mut connection = self.manager().await?;
        redis::cmd("PING").query_async::<()>(&mut connection).await
    }

    /// For connections of their own (the probe's).
    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    async fn manager(&self) -> RedisResult<ConnectionManager> {
        let manager = self
            .connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(500));
                match tokio::time::timeout(
                    CONNECT_TIMEOUT * 2,
                    self.client.get_connection_manager_with_config(config),
                )
                .await
                {
                    Ok(result) => result,
                    Err(_) => Err(RedisError::from(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "connecting to Redis timed out",
                    ))),
                }
            })
            .await?;
        Ok(manager.clone())
    }
}

fn down() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "Redis is down (circuit breaker open)",
    ))
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        if self.breaker.check().is_err() {
            return Box::pin(std::future::ready(Err(down())));
        }
        self.inner.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        if self.breaker.check().is_err() {
            return Box::pin(std::future::ready(Err(down())));
        }
        self.inner.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}
