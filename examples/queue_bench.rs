//! Queue-scale tools for the benchmark, driving the real queue code (the same
//! Lua scripts the HTTP routes run) without HTTP in the way:
//!
//! - `fill --queue Q --users A..B` joins users A..B to queue Q, 256 at a time;
//! - `admit --queue Q` admits the whole line with unlimited rate and capacity and
//!   reports users moved per second;
//! - `memory --queue Q` sums `MEMORY USAGE` of every key the queue keeps;
//! - `saturate --queue Q --users A..B [--tasks 2048] [--seconds 10] [--join]` polls
//!   users A..B in turn (or with `--join`, joins them: new places while the
//!   range lasts) from that many tasks at once, with no HTTP in the way, so that
//!   Redis (not the gateway's HTTP work) is the bottleneck and the batches grow
//!   to `BOXOFFICE_QUEUE_BATCH_MAX`: reports polls/s, Redis CPU per poll, how
//!   busy Redis's thread was, and the mean batch (polls per FCALL). What one
//!   Redis core sustains for one queue is `1e6 / redis_us_per_poll`.
//!
//! Reads the same environment as the server (`REDIS_URL`, `DATABASE_URL`,
//! `BOXOFFICE_REDIS_PREFIX`, ...).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
        "saturate" => {
            let range = option("--users").unwrap_or_else(|| "1..1000".into());
            let (first, last) = range.split_once("..").ok_or_else(|| anyhow::anyhow!("--users A..B"))?;
            let (first, last): (i64, i64) = (first.parse()?, last.parse()?);
            let tasks: usize = option("--tasks").map_or(Ok(2048), |t| t.parse())?;
            let seconds: u64 = option("--seconds").map_or(Ok(10), |t| t.parse())?;
            let join = args.iter().any(|arg| arg == "--join");
            let line = QueueTools::connect(&config, true).await?.line;
            let mut info = redis::Client::open(config.redis_url.as_str())?
                .get_multiplexed_async_connection()
                .await?;
            // Warm up: the connection, the script cache, the lane.
            line.join(&queue, first).await?;
            let (cpu_before, evals_before) = redis_figures(&mut info).await?;
            let started = Instant::now();
            let deadline = started + Duration::from_secs(seconds);
            let (next, polls, failed) = (
                Arc::new(AtomicU64::new(0)),
                Arc::new(AtomicU64::new(0)),
                Arc::new(AtomicU64::new(0)),
            );
            let span = (last - first + 1).max(1) as u64;
            let workers: Vec<_> = (0..tasks)
                .map(|_| {
                    let (line, queue) = (line.clone(), queue.clone());
                    let (next, polls, failed) = (next.clone(), polls.clone(), failed.clone());
                    tokio::spawn(async move {
                        while Instant::now() < deadline {
                            let user = first + (next.fetch_add(1, Ordering::Relaxed) % span) as i64;
                            let answer = if join {
                                line.join(&queue, user).await
                            } else {
                                line.poll(&queue, user).await
                            };
                            let counter = if answer.is_ok() { &polls } else { &failed };
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker.await?;
            }
            let wall = started.elapsed().as_secs_f64();
            let (cpu_after, evals_after) = redis_figures(&mut info).await?;
            let (polls, failed) = (polls.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
            anyhow::ensure!(failed == 0, "{failed} polls failed");
            let redis_seconds = cpu_after - cpu_before;
            println!(
                "RESULT {{\"polls\":{polls},\"polls_per_s\":{:.0},\"redis_us_per_poll\":{:.3},\"redis_busy\":{:.3},\"mean_batch\":{:.1}}}",
                polls as f64 / wall,
                redis_seconds * 1e6 / polls.max(1) as f64,
                redis_seconds / wall,
                polls as f64 / (evals_after - evals_before).max(1) as f64
            );
        }
        _ => anyhow::bail!("usage: queue_bench fill|admit|memory|saturate --queue Q [--users A..B]"),
    }
    Ok(())
}

/// Redis's CPU seconds so far (user + sys) and the calls of Lua it has served
/// (FCALL of the library; EVALSHA, which scripts used before it, counted too).
async fn redis_figures(redis: &mut redis::aio::MultiplexedConnection) -> anyhow::Result<(f64, u64)> {
    let text: String = redis::cmd("INFO").arg("all").query_async(redis).await?;
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|rest| rest.trim().to_string())
    };
    let cpu = ["used_cpu_user:", "used_cpu_sys:"]
        .iter()
        .filter_map(|name| field(name)?.parse::<f64>().ok())
        .sum();
    let calls = |name: &str| -> u64 {
        field(name)
            .and_then(|stats| {
                stats
                    .split(',')
                    .find_map(|part| part.strip_prefix("calls=")?.parse().ok())
            })
            .unwrap_or(0)
    };
    let evals = calls("cmdstat_fcall:") + calls("cmdstat_evalsha:");
    Ok((cpu, evals))
}
