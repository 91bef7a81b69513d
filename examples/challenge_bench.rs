//! The challenge's costs, for `loadtest/challenge.sh`, with the server's own
//! code (`queue::challenge`, the same secret as the server):
//!
//! - `issue [--seconds S] [--complexity N]`: challenges issued and written as
//!   JSON (what the route sends) by one core, per second;
//! - `check [--count N]`: the in-process check of a solution (`X-Altcha`), µs each;
//! - `payloads --queue Q --count N --out FILE [--complexity N]`: solved
//!   payloads, one a line, for joins that each carry a distinct solution
//!   (checking costs the same whatever the complexity: no key is derived);
//! - `bot --queue Q [--complexity N] [--solves K]`: what a bot pays, solving
//!   in Rust in a tight loop on one core: seconds per solve (median, p90)
//!   and the joins a second that core buys.
//!
//! Each prints one `RESULT {json}` line. Reads the server's environment
//! (`BOXOFFICE_TOKEN_SECRET`, `REDIS_URL`, ...).

use std::io::Write;
use std::time::{Duration, Instant};

use altcha::{Payload, SolveChallengeOptions};
use base64::Engine;
use boxoffice::config::Config;
use boxoffice::startup::QueueTools;
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let number = |name: &str, default: u64| -> anyhow::Result<u64> {
        Ok(option(name).map(|value| value.parse()).transpose()?.unwrap_or(default))
    };
    let config = Config::from_env();
    let queue = option("--queue").unwrap_or_else(|| config.queue.default_queue.clone());
    let complexity = u32::try_from(number("--complexity", u64::from(config.queue.challenge_complexity))?)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let tools = runtime.block_on(QueueTools::connect(&config, false))?;
    let challenges = tools.challenges;

    let result = match args.first().map(String::as_str) {
        Some("issue") => {
            let until = Instant::now() + Duration::from_secs(number("--seconds", 5)?);
            let (started, mut issued, mut bytes) = (Instant::now(), 0_u64, 0_usize);
            while Instant::now() < until {
                for _ in 0..100 {
                    let challenge = challenges.issue(&queue, complexity)?;
                    bytes += serde_json::to_vec(&challenge)?.len();
                    issued += 1;
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            json!({ "issuedPerSecond": issued as f64 / seconds, "usEach": seconds * 1e6 / issued as f64,
                    "bytesEach": bytes / issued.max(1) as usize })
        }
        Some("check") => {
            let count = number("--count", 2000)?;
            let payloads = (0..count)
                .map(|_| solved(&challenges, &queue, 2))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let started = Instant::now();
            for payload in &payloads {
                challenges
                    .check(&queue, payload.as_bytes())
                    .map_err(|err| anyhow::anyhow!("a good solution refused: {err}"))?;
            }
            json!({ "usEach": started.elapsed().as_secs_f64() * 1e6 / count as f64 })
        }
        Some("payloads") => {
            let count = number("--count", 100_000)?;
            let out = option("--out").ok_or_else(|| anyhow::anyhow!("--out FILE"))?;
            let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
            let started = Instant::now();
            for _ in 0..count {
                writeln!(file, "{}", solved(&challenges, &queue, complexity)?)?;
            }
            file.flush()?;
            json!({ "payloads": count, "seconds": started.elapsed().as_secs_f64() })
        }
        Some("bot") => {
            let solves = number("--solves", 20)?;
            let mut seconds = Vec::new();
            for _ in 0..solves {
                let started = Instant::now();
                solved(&challenges, &queue, complexity)?;
                seconds.push(started.elapsed().as_secs_f64());
            }
            seconds.sort_by(f64::total_cmp);
            let mean = seconds.iter().sum::<f64>() / seconds.len().max(1) as f64;
            let at = |share: f64| seconds[((seconds.len() as f64 * share) as usize).min(seconds.len() - 1)];
            json!({ "complexity": complexity, "solves": solves, "medianS": at(0.5), "p90S": at(0.9),
                    "joinsPerSecondPerCore": 1.0 / mean })
        }
        _ => anyhow::bail!("usage: challenge_bench issue|check|payloads|bot [options]"),
    };
    println!("RESULT {result}");
    Ok(())
}

/// A challenge issued and solved as the widget would, its payload in base64.
fn solved(challenges: &boxoffice::queue::Challenges, queue: &str, complexity: u32) -> anyhow::Result<String> {
    let challenge = challenges.issue(queue, complexity)?;
    let mut options = SolveChallengeOptions::new(&challenge);
    options.timeout_ms = 0;
    let solution = altcha::solve_challenge(options)?.ok_or_else(|| anyhow::anyhow!("not solved"))?;
    let payload = serde_json::to_vec(&Payload { challenge, solution })?;
    Ok(base64::engine::general_purpose::STANDARD.encode(payload))
}
