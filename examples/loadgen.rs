//! A constant-rate load generator in wrk2's manner: requests are scheduled at a
//! fixed arrival rate over a fixed set of connections, and each latency is
//! measured from the moment the request was *due*, so a stalled server shows up
//! in the percentiles (no coordinated omission, unlike plain wrk).
//! Each request carries a `user-id` header cycling through a range of users.
//!
//! ```text
//! cargo run --release --example loadgen -- --url http://127.0.0.1:8080/api/waiting-queue/position \
//!     --rate 10000 --seconds 15 --users 1..100000
//! ```
//! Prints a human summary and a `RESULT {json}` line for scripts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    url: String,
    /// Requests per second.
    #[arg(long)]
    rate: u64,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// User ids to cycle through, `first..last`.
    #[arg(long, default_value = "1..1000")]
    users: String,
    #[arg(long, default_value = "GET")]
    method: String,
    /// Connections (each sends one request at a time, at its scheduled moment).
    #[arg(long, default_value_t = 64)]
    connections: usize,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (first, last) = args
        .users
        .split_once("..")
        .ok_or_else(|| anyhow::anyhow!("--users first..last"))?;
    let (first, last): (u64, u64) = (first.parse()?, last.parse()?);
    let span = last - first + 1;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .tcp_nodelay(true)
        .build()?;
    let method: reqwest::Method = args.method.parse()?;
    let total = args.rate * args.seconds;
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();

    // wrk2's model: a fixed set of connections; each takes the next request
    // number, waits until that request is due, sends it, and records the time
    // from *due* to done. A slow server makes requests late, and that lateness
    // is in the latency, as a user would feel it.
    let workers = (0..args.connections).map(|_| {
        let (client, method, url) = (client.clone(), method.clone(), args.url.clone());
        let (next, failed) = (next.clone(), failed.clone());
        let rate = args.rate as f64;
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity((total / args.connections as u64 + 1) as usize);
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return latencies;
                }
                let due = started + Duration::from_secs_f64(n as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                let user = first + n % span;
                match client
                    .request(method.clone(), &url)
                    .header("user-id", user.to_string())
                    .send()
                    .await
                {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                        latencies.push(due.elapsed().as_micros() as u64);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    });
    let mut sorted: Vec<u64> = Vec::with_capacity(total as usize);
    for worker in workers.collect::<Vec<_>>() {
        sorted.extend(worker.await?);
    }
    let wall = started.elapsed().as_secs_f64();
    sorted.sort_unstable();
    let (ok, failed) = (sorted.len() as u64, failed.load(Ordering::Relaxed));
    let (p50, p90, p99, p999) = (
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.9),
        percentile(&sorted, 0.99),
        percentile(&sorted, 0.999),
    );
    let max = sorted.last().copied().unwrap_or(0) as f64 / 1000.0;
    println!(
        "target {} req/s for {} s over {} connections: {ok} ok, {failed} failed, {:.0} req/s achieved; latency ms p50 {p50:.2} p90 {p90:.2} p99 {p99:.2} p99.9 {p999:.2} max {max:.2}",
        args.rate,
        args.seconds,
        args.connections,
        ok as f64 / wall
    );
    println!(
        "RESULT {{\"target_rps\":{},\"ok\":{ok},\"failed\":{failed},\"rps\":{:.0},\"p50_ms\":{p50:.3},\"p90_ms\":{p90:.3},\"p99_ms\":{p99:.3},\"p999_ms\":{p999:.3},\"max_ms\":{max:.3}}}",
        args.rate,
        ok as f64 / wall
    );
    Ok(())
}
