//! On a Redis Cluster, which client serves many small concurrent calls faster
//! on this machine: the redis crate's async cluster connection (one multiplexed
//! connection per node) or deadpool-redis's cluster pool?
//!
//! The same shape as `redis_clients.rs`: 64 tasks run `CALLS` EVALSHA calls of
//! a one-ZRANK script on one hash-tagged key (one queue is one slot).
//!   scripts/redis-cluster.sh start   # prints the nodes
//!   BOXOFFICE_REDIS_CLUSTER=127.0.0.1:7101,... cargo run --release --features tools --example redis_cluster_clients
//! The figures recorded in `src/store/redis.rs` come from this program.

use std::time::Instant;

use futures::future::join_all;
use redis::cluster::ClusterClient;
use redis::Script;

const TASKS: usize = 64;
const CALLS: usize = 200_000;
const KEY: &str = "{bench:clients}:z";

fn script() -> Script {
    Script::new("return redis.call('ZRANK', KEYS[1], ARGV[1])")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let nodes: Vec<String> = std::env::var("BOXOFFICE_REDIS_CLUSTER")
        .map_err(|_| anyhow::anyhow!("set BOXOFFICE_REDIS_CLUSTER (scripts/redis-cluster.sh start prints it)"))?
        .split(',')
        .map(|node| format!("redis://{}", node.trim()))
        .collect();
    let client = ClusterClient::new(nodes.clone())?;
    let mut setup = client.get_async_connection().await?;
    let members: Vec<(u64, u64)> = (0..10_000).map(|i| (i, i)).collect();
    redis::cmd("DEL").arg(KEY).query_async::<()>(&mut setup).await?;
    redis::cmd("ZADD")
        .arg(KEY)
        .arg(&members)
        .query_async::<()>(&mut setup)
        .await?;

    for round in 1..=2 {
        let connection = client.get_async_connection().await?;
        let started = Instant::now();
        join_all((0..TASKS).map(|task| {
            let mut connection = connection.clone();
            async move {
                let script = script();
                for call in 0..CALLS / TASKS {
                    let _: Option<u64> = script
                        .key(KEY)
                        .arg((task * 131 + call) % 10_000)
                        .invoke_async(&mut connection)
                        .await
                        .expect("evalsha");
                }
            }
        }))
        .await;
        let multiplexed = CALLS as f64 / started.elapsed().as_secs_f64();

        // One cluster connection per task: the pool's best case.
        let mut config = deadpool_redis::cluster::Config::from_urls(nodes.clone());
        config.pool = Some(deadpool_redis::PoolConfig::new(TASKS));
        let pool = config.create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
        let started = Instant::now();
        join_all((0..TASKS).map(|task| {
            let pool = pool.clone();
            async move {
                let script = script();
                for call in 0..CALLS / TASKS {
                    let mut connection = pool.get().await.expect("pooled connection");
                    let _: Option<u64> = script
                        .key(KEY)
                        .arg((task * 131 + call) % 10_000)
                        .invoke_async(&mut connection)
                        .await
                        .expect("evalsha");
                }
            }
        }))
        .await;
        let pooled = CALLS as f64 / started.elapsed().as_secs_f64();
        println!(
            "round {round}: multiplexed cluster connection {multiplexed:.0} calls/s, deadpool-redis cluster pool (max {} connections) {pooled:.0} calls/s",
            pool.status().max_size
        );
    }
    redis::cmd("DEL").arg(KEY).query_async::<()>(&mut setup).await?;
    Ok(())
}
