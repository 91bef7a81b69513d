//! Which Redis client serves many small concurrent calls faster on this machine:
//! one multiplexed `ConnectionManager` or a deadpool-redis pool?
//!
//! 64 tasks run `CALLS` EVALSHA calls of a one-ZRANK script in all, the shape of
//! the queue's hot path. Run: `cargo run --release --features tools --example redis_clients`.
//! The figures recorded in `src/store/redis.rs` come from this program.

use std::time::Instant;

use futures::future::join_all;
use redis::Script;

const TASKS: usize = 64;
const CALLS: usize = 200_000;
const KEY: &str = "{bench:clients}:z";

fn script() -> Script {
    Script::new("return redis.call('ZRANK', KEYS[1], ARGV[1])")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = redis::Client::open(url.as_str())?;
    let mut setup = client.get_multiplexed_async_connection().await?;
    let members: Vec<(u64, u64)> = (0..10_000).map(|i| (i, i)).collect();
    redis::cmd("DEL").arg(KEY).query_async::<()>(&mut setup).await?;
    redis::cmd("ZADD")
        .arg(KEY)
        .arg(&members)
        .query_async::<()>(&mut setup)
        .await?;

    for round in 1..=2 {
        let manager = client.get_connection_manager().await?;
        let started = Instant::now();
        join_all((0..TASKS).map(|task| {
            let mut connection = manager.clone();
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

        // One connection per task: the pool's best case.
        let mut config = deadpool_redis::Config::from_url(url.as_str());
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
            "round {round}: multiplexed ConnectionManager {multiplexed:.0} calls/s, deadpool-redis (max {} connections) {pooled:.0} calls/s",
            pool.status().max_size
        );
    }
    redis::cmd("DEL").arg(KEY).query_async::<()>(&mut setup).await?;
    Ok(())
}
