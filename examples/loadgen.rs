//! A constant-rate load generator in wrk2's manner: requests are scheduled at a
//! fixed arrival rate over a fixed set of connections, and each latency is
//! measured from the moment the request was *due*, so a stalled server shows up
//! in the percentiles (no coordinated omission, unlike plain wrk).
//! Each request carries a `user-id` header cycling through a range of users.
//!
//! It speaks HTTP/1.1 through hyper's bare connection API on a single-threaded
//! runtime, so that it takes as little of the machine as it can: with reqwest
//! it cost 24 µs of CPU per request, more than the server it measured.
//!
//! ```text
//! cargo run --release --example loadgen -- --url http://127.0.0.1:8080/api/waiting-queue/position \
//!     --rate 10000 --seconds 15 --users 1..100000
//! ```
//! Prints a human summary and a `RESULT {json}` line for scripts.
//!
//! `--closed` instead floods: every connection sends its next request as soon as
//! the last is answered, for `--seconds`, timing each from when it was sent. It
//! reports the requests served (2xx) apart from those shed (503), so a
//! server that refuses the excess is judged on the requests it took.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    url: String,
    /// Requests per second (ignored with `--closed`).
    #[arg(long, default_value_t = 1000)]
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
    /// Closed loop: no schedule, each connection sends back to back.
    #[arg(long)]
    closed: bool,
    /// A file of `Cookie` header values, one a line: request n sends line
    /// n mod their number (the gate benchmark's passes of distinct visitors).
    #[arg(long)]
    cookies: Option<std::path::PathBuf>,
}

/// The `Cookie` values to cycle through, read once (empty without `--cookies`).
fn cookie_lines(args: &Args) -> anyhow::Result<Arc<Vec<String>>> {
    let Some(file) = &args.cookies else {
        return Ok(Arc::new(Vec::new()));
    };
    let lines: Vec<String> = std::fs::read_to_string(file)?
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect();
    anyhow::ensure!(!lines.is_empty(), "{} holds no cookies", file.display());
    Ok(Arc::new(lines))
}

/// Request `n`'s cookie, if there are any.
fn cookie_for(cookies: &[String], n: u64) -> Option<&str> {
    (!cookies.is_empty()).then(|| cookies[(n % cookies.len() as u64) as usize].as_str())
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index] as f64 / 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.closed {
        return flood(&args).await;
    }
    let (first, last) = args
        .users
        .split_once("..")
        .ok_or_else(|| anyhow::anyhow!("--users first..last"))?;
    let (first, last): (u64, u64) = (first.parse()?, last.parse()?);
    let span = last - first + 1;
    let uri: hyper::Uri = args.url.parse()?;
    let authority = uri
        .authority()
        .ok_or_else(|| anyhow::anyhow!("--url needs host:port"))?
        .clone();
    let address = format!("{}:{}", authority.host(), authority.port_u16().unwrap_or(80));
    let path = uri.path_and_query().map_or("/".to_string(), |p| p.to_string());
    let method: hyper::Method = args.method.parse()?;
    let total = args.rate * args.seconds;
    let rate = args.rate as f64;
    let failed = Arc::new(AtomicU64::new(0));
    let cookies = cookie_lines(&args)?;

    // wrk2's model: a fixed set of connections, each with its share of the
    // schedule; each request is timed from the moment it was *due*, so a slow
    // server makes requests late and that lateness is in the latency, as a
    // user would feel it. The schedule is kept by a pacing thread that wakes
    // every 100 µs: tokio's timers tick in whole milliseconds, which alone
    // added up to a millisecond to every latency.
    let mut connections = Vec::new();
    for _ in 0..args.connections {
        let stream = tokio::net::TcpStream::connect(&address).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        connections.push(sender);
    }
    let started = Instant::now();
    let mut schedules = Vec::new();
    let mut workers = Vec::new();
    for mut sender in connections {
        let (due_tx, mut due_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        schedules.push(due_tx);
        let (method, path, host) = (method.clone(), path.clone(), authority.to_string());
        let failed = failed.clone();
        let cookies = cookies.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity((total / args.connections as u64 + 1) as usize);
            while let Some(n) = due_rx.recv().await {
                let due = started + Duration::from_secs_f64(n as f64 / rate);
                let user = first + n % span;
                let mut request = hyper::Request::builder()
                    .method(method.clone())
                    .uri(path.as_str())
                    .header(hyper::header::HOST, host.as_str())
                    .header("user-id", user);
                if let Some(cookie) = cookie_for(&cookies, n) {
                    request = request.header(hyper::header::COOKIE, cookie);
                }
                let request = request.body(Empty::<Bytes>::new());
                let answered = match request {
                    Ok(request) => match sender.send_request(request).await {
                        Ok(response) => {
                            let ok = response.status().is_success();
                            ok && response.into_body().collect().await.is_ok()
                        }
                        Err(_) => false,
                    },
                    Err(_) => false,
                };
                if answered {
                    latencies.push(due.elapsed().as_micros() as u64);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let pacer = std::thread::spawn(move || {
        let mut n = 0;
        while n < total {
            let due_by_now = ((started.elapsed().as_secs_f64() * rate) as u64 + 1).min(total);
            while n < due_by_now {
                // A closed channel means its worker ended; its requests count as failed.
                let _ = schedules[(n % schedules.len() as u64) as usize].send(n);
                n += 1;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    });
    let mut sorted: Vec<u64> = Vec::with_capacity(total as usize);
    for worker in workers {
        sorted.extend(worker.await?);
    }
    pacer
        .join()
        .map_err(|_| anyhow::anyhow!("the pacing thread panicked"))?;
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

struct Target {
    address: String,
    host: String,
    path: String,
    method: hyper::Method,
    first: u64,
    span: u64,
}

fn target(args: &Args) -> anyhow::Result<Target> {
    let (first, last) = args
        .users
        .split_once("..")
        .ok_or_else(|| anyhow::anyhow!("--users first..last"))?;
    let (first, last): (u64, u64) = (first.parse()?, last.parse()?);
    let uri: hyper::Uri = args.url.parse()?;
    let authority = uri
        .authority()
        .ok_or_else(|| anyhow::anyhow!("--url needs host:port"))?
        .clone();
    Ok(Target {
        address: format!("{}:{}", authority.host(), authority.port_u16().unwrap_or(80)),
        host: authority.to_string(),
        path: uri.path_and_query().map_or("/".to_string(), |p| p.to_string()),
        method: args.method.parse()?,
        first,
        span: last - first + 1,
    })
}

/// Closed-loop flood: served and shed requests, each with its own latencies.
async fn flood(args: &Args) -> anyhow::Result<()> {
    let target = Arc::new(target(args)?);
    let cookies = cookie_lines(args)?;
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let mut workers = Vec::new();
    for connection in 0..args.connections {
        let target = target.clone();
        let cookies = cookies.clone();
        let stream = tokio::net::TcpStream::connect(&target.address).await?;
        stream.set_nodelay(true)?;
        let (mut sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(driver);
        workers.push(tokio::spawn(async move {
            let (mut served, mut shed, mut failed) = (Vec::new(), Vec::new(), 0_u64);
            let mut n = connection as u64;
            while Instant::now() < until {
                n += 1;
                let mut request = hyper::Request::builder()
                    .method(target.method.clone())
                    .uri(target.path.as_str())
                    .header(hyper::header::HOST, target.host.as_str())
                    .header("user-id", target.first + n * 7919 % target.span);
                if let Some(cookie) = cookie_for(&cookies, n * 7919) {
                    request = request.header(hyper::header::COOKIE, cookie);
                }
                let request = request.body(Empty::<Bytes>::new());
                let Ok(request) = request else {
                    failed += 1;
                    continue;
                };
                let sent = Instant::now();
                match sender.send_request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        let read = response.into_body().collect().await.is_ok();
                        let micros = sent.elapsed().as_micros() as u64;
                        match (read, status.as_u16()) {
                            (true, 200..=299) => served.push(micros),
                            (true, 503) => shed.push(micros),
                            _ => failed += 1,
                        }
                    }
                    Err(_) => {
                        failed += 1;
                        break;
                    }
                }
            }
            (served, shed, failed)
        }));
    }
    let (mut served, mut shed, mut failed) = (Vec::new(), Vec::new(), 0);
    for worker in workers {
        let (s, d, f) = worker.await?;
        served.extend(s);
        shed.extend(d);
        failed += f;
    }
    served.sort_unstable();
    shed.sort_unstable();
    let seconds = args.seconds as f64;
    let total = (served.len() + shed.len()) as u64 + failed;
    let max = served.last().copied().unwrap_or(0) as f64 / 1000.0;
    println!(
        "flood over {} connections for {} s: {} served ({:.0}/s), {} shed, {failed} failed; served latency ms p50 {:.2} p99 {:.2} max {max:.2}; shed p99 {:.2}",
        args.connections,
        args.seconds,
        served.len(),
        served.len() as f64 / seconds,
        shed.len(),
        percentile(&served, 0.5),
        percentile(&served, 0.99),
        percentile(&shed, 0.99),
    );
    println!(
        "RESULT {{\"served\":{},\"served_rps\":{:.0},\"shed\":{},\"failed\":{failed},\"shed_rate\":{:.4},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{max:.3},\"shed_p99_ms\":{:.3}}}",
        served.len(),
        served.len() as f64 / seconds,
        shed.len(),
        shed.len() as f64 / total.max(1) as f64,
        percentile(&served, 0.5),
        percentile(&served, 0.99),
        percentile(&shed, 0.99),
    );
    Ok(())
}
