//! Per-client rate limits (governor), so no one client can hammer the hot
//! paths: joins (`join_limits.rs`: per identity, client IP and network),
//! position polls, balance reads and the verification of never-seen passes
//! per client IP. Each limit is off at 0.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::join_limits::{JoinLimiters, JoinRefusals};
use crate::config::{LimitsConfig, QueueConfig};
use crate::http::error::Error;
use crate::queue::settings::JoinLimits;

pub(crate) struct RateLimits {
    joins: JoinLimiters,
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
            joins: JoinLimiters::new(queue),
            polls_per_ip: keyed(limits.poll_rate_limit),
            reads_per_ip: keyed(limits.read_rate_limit),
            pass_verifies_per_ip: keyed(limits.pass_verify_rate_limit),
            refused: AtomicU64::new(0),
        }
    }

    /// Whether `user_id` may join `queue` from `ip` now, under the
    /// instance's guard and the queue's own `limits`.
    pub(crate) fn check_join(
        &self,
        queue: &str,
        limits: &JoinLimits,
        user_id: i64,
        ip: Option<IpAddr>,
    ) -> Result<(), Error> {
        self.counted(self.joins.check(queue, limits, user_id, ip))
    }

    /// Joins this instance refused since it started, by the limit they tripped.
    pub(crate) fn joins_refused(&self) -> JoinRefusals {
        self.joins.refused()
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
        self.joins.forget_idle();
        for limiter in [&self.polls_per_ip, &self.reads_per_ip, &self.pass_verifies_per_ip]
            .into_iter()
            .flatten()
        {
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
            reason: None,
        }
    })
}
