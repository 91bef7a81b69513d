//! Per-client rate limits (governor), so no one client can hammer the hot
//! paths: joins per user id and per client IP, position polls, balance reads
//! and the verification of never-seen passes per client IP. Each limit is off
//! at 0.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{LimitsConfig, QueueConfig};
use crate::http::error::Error;

/// A client IP may join for this many different users per second at most (a
/// NAT or an office may stand behind one address).
const IP_MULTIPLIER: u32 = 50;

pub(crate) struct RateLimits {
    joins_per_user: Option<DefaultKeyedRateLimiter<i64>>,
    joins_per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    polls_per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    reads_per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    pass_verifies_per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Requests refused since start, for the `/ops` page (the metrics count
    /// them too, by route, as every answer).
    refused: AtomicU64,
}

fn keyed<K: std::hash::Hash + Eq + Clone>(per_second: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(per_second).map(|rate| RateLimiter::keyed(Quota::per_second(rate)))
}

impl RateLimits {
    pub(crate) fn new(queue: &QueueConfig, limits: &LimitsConfig) -> Self {
        RateLimits {
            joins_per_user: keyed(queue.join_rate_limit),
            joins_per_ip: keyed(queue.join_rate_limit.saturating_mul(IP_MULTIPLIER)),
            polls_per_ip: keyed(limits.poll_rate_limit),
            reads_per_ip: keyed(limits.read_rate_limit),
            pass_verifies_per_ip: keyed(limits.pass_verify_rate_limit),
            refused: AtomicU64::new(0),
        }
    }

    pub(crate) fn check_join(&self, user_id: i64, ip: Option<IpAddr>) -> Result<(), Error> {
        self.counted(check(&self.joins_per_user, Some(user_id)).and_then(|()| check(&self.joins_per_ip, ip)))
    }

    pub(crate) fn check_poll(&self, ip: Option<IpAddr>) -> Result<(), Error> {
        self.counted(check(&self.polls_per_ip, ip))
    }

    pub(crate) fn check_read(&self, ip: Option<IpAddr>) -> Result<(), Error> {
        self.counted(check(&self.reads_per_ip, ip))
    }

    /// Whether a pass never seen before may be verified for `ip` now (the
    /// refusal is the check's own `PASS_THROTTLED`, counted here too).
    pub(crate) fn may_verify_pass(&self, ip: Option<IpAddr>) -> bool {
        self.counted(check(&self.pass_verifies_per_ip, ip)).is_ok()
    }

    /// Requests this instance refused with `429 RATE_LIMITED` since it started.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn counted(&self, verdict: Result<(), Error>) -> Result<(), Error> {
        if verdict.is_err() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        verdict
    }

    /// Forgets keys that have not been seen recently, bounding memory.
    pub(crate) fn forget_idle(&self) {
        for limiter in [
            &self.joins_per_ip,
            &self.polls_per_ip,
            &self.reads_per_ip,
            &self.pass_verifies_per_ip,
        ]
        .into_iter()
        .flatten()
        {
            limiter.retain_recent();
        }
        if let Some(limiter) = &self.joins_per_user {
            limiter.retain_recent();
        }
    }
}

fn check<K: std::hash::Hash + Eq + Clone>(
    limiter: &Option<DefaultKeyedRateLimiter<K>>,
    key: Option<K>,
) -> Result<(), Error> {
    let (Some(limiter), Some(key)) = (limiter, key) else {
        return Ok(());
    };
    // The clock is read only on refusal: building a governor clock per call
    // calibrates it, which showed as the largest cost of the join route in a
    // profile (loadtest/RESULTS.md).
    limiter.check_key(&key).map_err(|denied| {
        let wait = denied.wait_time_from(limiter.clock().now());
        Error::RateLimited {
            retry_after_s: wait.as_secs_f64().ceil().max(1.0) as u64,
        }
    })
}
