//! Queue-scale tools for the benchmark, driving the real queue code (the same
//! Lua scripts the HTTP routes run) without HTTP in the way:
//!
//! - `fill --queue Q --users A..B` joins users A..B to queue Q, 256 at a time;
//! - `admit --queue Q` admits the whole line with unlimited rate and capacity and
//!   reports users moved per second;
//! - `memory --queue Q` sums `MEMORY USAGE` of every key the queue keeps.
//!
//! Reads the same environment as the server (`REDIS_URL`, `DATABASE_URL`,
//! `BOXOFFICE_REDIS_PREFIX`, ...).

use std::sync::Arc;
use std::time::Instant;

use boxoffice::config::Config;
use boxoffice::queue::scheduler::{AdmissionLimits, MAX_USERS_PER_STEP};
use boxoffice::queue::{QueueService, TokenSigner};
use boxoffice::store::db;
use boxoffice::store::keys::Keys;
use boxoffice::store::redis::Redis;
use boxoffice::users::UserDirectory;
use futures::stream::{self, StreamExt};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let command = args.first().cloned().unwrap_or_default();
    let queue = option("--queue").unwrap_or_else(|| "default".into());
    let config = Config::from_env();
    let redis = Redis::open(&config.redis_url)?;
    let keys = Keys::new(&config.redis_prefix);
    let users = Arc::new(UserDirectory::default());
    let service = |users: Arc<UserDirectory>| {
        QueueService::new(
            redis.clone(),
            keys.clone(),
            TokenSigner::new(config.token_secret.as_bytes()),
            users,
            config.queue.clone(),
        )
    };
    match command.as_str() {
        "fill" => {
            let range = option("--users").unwrap_or_else(|| "1..1000".into());
            let (first, last) = range.split_once("..").ok_or_else(|| anyhow::anyhow!("--users A..B"))?;
            let (first, last): (i64, i64) = (first.parse()?, last.parse()?);
            let pool = db::pool(&config.database_url, 2, config.db_acquire_timeout_ms)?;
            users.reload(&pool).await?;
            let queue_service = service(users);
            let started = Instant::now();
            let failures = stream::iter(first..=last)
                .map(|user| {
                    let (queue_service, queue) = (queue_service.clone(), queue.clone());
                    async move { queue_service.join(&queue, user).await.is_err() }
                })
                .buffer_unordered(256)
                .filter(|failed| std::future::ready(*failed))
                .count()
                .await;
            let seconds = started.elapsed().as_secs_f64();
            let count = last - first + 1;
            println!(
                "filled {count} users into {queue} in {seconds:.1} s ({:.0} joins/s), {failures} failed",
                count as f64 / seconds
            );
            anyhow::ensure!(failures == 0, "{failures} joins failed");
        }
        "admit" => {
            let queue_service = service(users);
            let limits = AdmissionLimits {
                max_active: 0,
                rate: 0,
                tick_ms: 1000,
                max_users_per_step: MAX_USERS_PER_STEP,
            };
            let started = Instant::now();
            let (mut admitted, mut steps) = (0, 0);
            loop {
                let step = queue_service.admit_with(&queue, limits).await?;
                admitted += step.admitted;
                steps += 1;
                if step.waiting == 0 {
                    break;
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "RESULT {{\"admitted\":{admitted},\"steps\":{steps},\"seconds\":{seconds:.3},\"users_per_s\":{:.0}}}",
                admitted as f64 / seconds
            );
        }
        "memory" => {
            let mut connection = redis.connection().await?;
            let queue_keys = keys.queue(&queue);
            let pattern = format!("{}*", queue_keys.waiting.trim_end_matches("waiting"));
            let mut cursor = 0_u64;
            let (mut bytes, mut key_count) = (0_u64, 0_u64);
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut connection)
                    .await?;
                for key in batch {
                    let usage: Option<u64> = redis::cmd("MEMORY")
                        .arg("USAGE")
                        .arg(&key)
                        .arg("SAMPLES")
                        .arg(0)
                        .query_async(&mut connection)
                        .await?;
                    bytes += usage.unwrap_or(0);
                    key_count += 1;
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
            let waiting: u64 = redis::cmd("ZCARD")
                .arg(&queue_keys.waiting)
                .query_async(&mut connection)
                .await?;
            println!(
                "RESULT {{\"waiting\":{waiting},\"keys\":{key_count},\"bytes\":{bytes},\"bytes_per_user\":{:.1}}}",
                bytes as f64 / waiting.max(1) as f64
            );
        }
        _ => anyhow::bail!("usage: queue_bench fill|admit|memory --queue Q [--users A..B]"),
    }
    Ok(())
}
