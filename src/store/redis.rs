//! The Redis connection: one multiplexed, self-reconnecting connection per instance.
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

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, RedisResult};
use tokio::sync::OnceCell;

const CONNECT_TIMEOUT: Duration = Duration::from_millis(800);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The connection every Redis call goes through.
pub(crate) type Connection = ConnectionManager;

#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    connection: Arc<OnceCell<ConnectionManager>>,
}

impl Redis {
    pub(crate) fn open(url: &str) -> RedisResult<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            connection: Arc::new(OnceCell::new()),
        })
    }

    /// A handle on the shared connection; cheap to clone, safe to use concurrently.
    pub async fn connection(&self) -> RedisResult<Connection> {
        let connection = self
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
        Ok(connection.clone())
    }

    pub(crate) async fn ping(&self) -> RedisResult<()> {
        let mut connection = self.connection().await?;
        redis::cmd("PING").query_async::<()>(&mut connection).await
    }
}
