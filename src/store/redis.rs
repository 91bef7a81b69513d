//! The Redis connection: one multiplexed, self-reconnecting connection per
//! instance, behind the Redis circuit breaker.
//!
//! Why not a pool: every call on the hot paths is one small FCALL, and a
//! multiplexed connection pipelines all of them over one socket (one write and
//! one read syscall serve many requests) with no checkout cost. The measurement
//! behind that choice is `examples/redis_clients.rs`; its figures, against
//! deadpool-redis, are in loadtest/RESULTS.md.
//!
//! The connection is made on first use, so the app can start (and `/ready` can say
//! 503) while Redis is down; `main` still refuses to start without it.
//!
//! On Redis Cluster (`BOXOFFICE_REDIS_CLUSTER`, or a `redis+cluster://` URL)
//! the same handle wraps the redis crate's async cluster connection, which is
//! multiplexed too and routes each call by its first key. Every function's keys
//! share one hash tag (`store::keys`), so each call lands on one slot; a
//! pipeline across slots fails with CROSSSLOT, so none is built. Measured on
//! a local cluster (`examples/redis_cluster_clients.rs`, 64 tasks of EVALSHA on
//! one slot): 242-251k calls/s on the multiplexed cluster connection against
//! 17k on deadpool-redis's cluster pool, so the multiplexed one it is.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use tokio::sync::OnceCell;

use super::breaker::Breaker;
use super::scripts::library::Loads;
use super::Dependency;

const CONNECT_TIMEOUT: Duration = Duration::from_millis(800);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Redis {
    client: Client,
    connection: Arc<OnceCell<Shared>>,
    breaker: Arc<Breaker>,
    /// Loads of the Lua library through this handle (see `scripts::library`).
    library: Arc<Loads>,
}

/// Boxed: a cluster client is large, and the handle is cloned into every service.
#[derive(Clone)]
enum Client {
    Single(redis::Client),
    Cluster(Box<ClusterClient>),
}

/// The one connection of an instance.
#[derive(Clone)]
enum Shared {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// The connection every Redis call goes through: the shared multiplexed
/// connection, refusing at once (as an I/O error, so it maps to 503) while the
/// breaker is open. Nothing is sent then, so the 503 means nothing happened.
#[derive(Clone)]
pub struct Connection {
    inner: Shared,
    breaker: Arc<Breaker>,
    library: Arc<Loads>,
}

/// A connection of its own, for the probe.
pub(crate) enum Probe {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Probe {
    pub(crate) async fn ping(&mut self) -> RedisResult<()> {
        match self {
            Probe::Single(connection) => redis::cmd("PING").query_async(connection).await,
            Probe::Cluster(connection) => redis::cmd("PING").query_async(connection).await,
        }
    }
}

impl Redis {
    /// Single Redis at `url`, or a cluster: `cluster` nodes (`host:port`), or
    /// a `redis+cluster://host:port,host:port` URL.
    pub(crate) fn open(url: &str, cluster: &[String]) -> RedisResult<Self> {
        let nodes: Vec<String> = match url.strip_prefix("redis+cluster://") {
            Some(list) => list.split(',').map(str::to_string).collect(),
            None => cluster.to_vec(),
        };
        let nodes: Vec<String> = nodes
            .iter()
            .map(|node| node.trim())
            .filter(|node| !node.is_empty())
            .map(|node| {
                if node.contains("://") {
                    node.to_string()
                } else {
                    format!("redis://{node}")
                }
            })
            .collect();
        let client = if nodes.is_empty() {
            Client::Single(redis::Client::open(url)?)
        } else {
            Client::Cluster(Box::new(
                ClusterClientBuilder::new(nodes)
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .retries(2)
                    .build()?,
            ))
        };
        Ok(Self {
            client,
            connection: Arc::new(OnceCell::new()),
            breaker: Arc::new(Breaker::new(Dependency::Redis)),
            library: Arc::default(),
        })
    }

    /// Whether this is a Redis Cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.client, Client::Cluster(_))
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
            library: self.library.clone(),
        })
    }

    /// PING over the shared connection, whatever the breaker says.
    pub(crate) async fn ping(&self) -> RedisResult<()> {
        let mut connection = Connection {
            inner: self.manager().await?,
            breaker: Arc::new(Breaker::new(Dependency::Redis)),
            library: self.library.clone(),
        };
        redis::cmd("PING").query_async::<()>(&mut connection).await
    }

    /// A connection of its own (the probe's), so a busy shared one cannot
    /// make Redis look down.
    pub(crate) async fn probe_connection(&self) -> RedisResult<Probe> {
        Ok(match &self.client {
            Client::Single(client) => Probe::Single(client.get_multiplexed_async_connection().await?),
            Client::Cluster(client) => Probe::Cluster(client.get_async_connection().await?),
        })
    }

    async fn manager(&self) -> RedisResult<Shared> {
        let client = match &self.client {
            Client::Single(client) => client,
            Client::Cluster(client) => {
                let connection = self
                    .connection
                    .get_or_try_init(|| async {
                        match tokio::time::timeout(CONNECT_TIMEOUT * 2, client.get_async_connection()).await {
                            Ok(result) => result.map(Shared::Cluster),
                            Err(_) => Err(timed_out()),
                        }
                    })
                    .await?;
                return Ok(connection.clone());
            }
        };
        let manager = self
            .connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(500));
                match tokio::time::timeout(CONNECT_TIMEOUT * 2, client.get_connection_manager_with_config(config)).await
                {
                    Ok(result) => result.map(Shared::Single),
                    Err(_) => Err(timed_out()),
                }
            })
            .await?;
        Ok(manager.clone())
    }
}

fn timed_out() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "connecting to Redis timed out",
    ))
}

fn down() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "Redis is down (circuit breaker open)",
    ))
}

impl Connection {
    pub(crate) fn library_loads(&self) -> &Arc<Loads> {
        &self.library
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        if self.breaker.check().is_err() {
            return Box::pin(std::future::ready(Err(down())));
        }
        match &mut self.inner {
            Shared::Single(connection) => connection.req_packed_command(cmd),
            Shared::Cluster(connection) => connection.req_packed_command(cmd),
        }
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
        match &mut self.inner {
            Shared::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Shared::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.inner {
            Shared::Single(connection) => connection.get_db(),
            Shared::Cluster(connection) => connection.get_db(),
        }
    }
}
