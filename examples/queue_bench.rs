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

use std::time::Instant;

use boxoffice::config::Config;
use boxoffice::queue::{AdmissionLimits, MAX_USERS_PER_STEP};
use boxoffice::startup::QueueTools;
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
    match command.as_str() {
        "fill" => {
            let range = option("--users").unwrap_or_else(|| "1..1000".into());
            let (first, last) = range.split_once("..").ok_or_else(|| anyhow::anyhow!("--users A..B"))?;
            let (first, last): (i64, i64) = (first.parse()?, last.parse()?);
            let line = QueueTools::connect(&config, true).await?.line;
            let started = Instant::now();
            let failures = stream::iter(first..=last)
                .map(|user| {
                    let (line, queue) = (line.clone(), queue.clone());
                    async move { line.join(&queue, user).await.is_err() }
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
            let scheduler = QueueTools::connect(&config, false).await?.scheduler;
            let limits = AdmissionLimits {
                max_active: 0,
                rate: 0,
                tick_ms: 1000,
                max_users_per_step: MAX_USERS_PER_STEP,
            };
            let started = Instant::now();
            let (mut admitted, mut steps) = (0, 0);
            loop {
                let step = scheduler.admit_with(&queue, limits).await?;
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
            let scheduler = QueueTools::connect(&config, false).await?.scheduler;
            let (keys, bytes) = scheduler.memory_usage(&queue).await?;
            let waiting = scheduler.stats(&queue).await?.waiting;
            println!(
                "RESULT {{\"waiting\":{waiting},\"keys\":{keys},\"bytes\":{bytes},\"bytes_per_user\":{:.1}}}",
                bytes as f64 / waiting.max(1) as f64
            );
        }
        _ => anyhow::bail!("usage: queue_bench fill|admit|memory --queue Q [--users A..B]"),
    }
    Ok(())
}
