//! An open-loop load generator: sends requests at a constant arrival rate and
//! measures each latency from the moment the request was *due*, so a stalled
//! server shows up in the percentiles (no coordinated omission, unlike wrk).
//! Each request carries a `user-id` header cycling through a range of users.
//!
//! ```text
//! cargo run --release --example loadgen -- --url http://127.0.0.1:8080/api/waiting-queue/position \
//!     --rate 10000 --seconds 15 --users 1..100000
//! ```
//! Prints a human summary and a `RESULT {json}` line for scripts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
    /// Most requests in flight; beyond it a request counts as failed (server overloaded).
    #[arg(long, default_value_t = 4096)]
    max_in_flight: u64,
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
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .build()?;
    let method: reqwest::Method = args.method.parse()?;
    let latencies = Arc::new(Mutex::new(Vec::with_capacity((args.rate * args.seconds) as usize)));
    let (ok, failed, in_flight) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );

    let total = args.rate * args.seconds;
    let started = Instant::now();
    let mut sent = 0_u64;
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while sent < total {
        ticker.tick().await;
        let elapsed = started.elapsed().as_secs_f64();
        let due_now = ((elapsed * args.rate as f64) as u64).min(total);
        while sent < due_now {
            let due = started + Duration::from_secs_f64(sent as f64 / args.rate as f64);
            let user = first + sent % span;
            sent += 1;
            if in_flight.load(Ordering::Relaxed) >= args.max_in_flight {
                failed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            in_flight.fetch_add(1, Ordering::Relaxed);
            let request = client
                .request(method.clone(), &args.url)
                .header("user-id", user.to_string());
            let (latencies, ok, failed, in_flight) = (latencies.clone(), ok.clone(), failed.clone(), in_flight.clone());
            tokio::spawn(async move {
                let outcome = request.send().await;
                let micros = due.elapsed().as_micros() as u64;
                match outcome {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                        latencies.lock().expect("latencies").push(micros);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                in_flight.fetch_sub(1, Ordering::Relaxed);
            });
        }
    }
    while in_flight.load(Ordering::Relaxed) > 0 && started.elapsed() < Duration::from_secs(args.seconds + 10) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    let mut sorted = std::mem::take(&mut *latencies.lock().expect("latencies"));
    sorted.sort_unstable();
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let (p50, p90, p99, p999) = (
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.9),
        percentile(&sorted, 0.99),
        percentile(&sorted, 0.999),
    );
    let max = sorted.last().copied().unwrap_or(0) as f64 / 1000.0;
    println!(
        "target {} req/s for {} s: {ok} ok, {failed} failed, {:.0} req/s achieved; latency ms p50 {p50:.2} p90 {p90:.2} p99 {p99:.2} p99.9 {p999:.2} max {max:.2}",
        args.rate,
        args.seconds,
        ok as f64 / wall
    );
    println!(
        "RESULT {{\"target_rps\":{},\"ok\":{ok},\"failed\":{failed},\"rps\":{:.0},\"p50_ms\":{p50:.3},\"p90_ms\":{p90:.3},\"p99_ms\":{p99:.3},\"p999_ms\":{p999:.3},\"max_ms\":{max:.3}}}",
        args.rate,
        ok as f64 / wall
    );
    Ok(())
}
