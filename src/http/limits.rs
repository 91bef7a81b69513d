//! Join rate limits (governor): per user id and per client IP, so one client
//! cannot hammer the queue's write path. `BOXOFFICE_JOIN_RATE_LIMIT=0` turns them off.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::Error;

/// A client IP may join for this many different users per second at most (a
/// NAT or an office may stand behind one address).
const IP_MULTIPLIER: u32 = 50;

pub(crate) struct JoinLimiter {
    per_user: Option<DefaultKeyedRateLimiter<i64>>,
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

impl JoinLimiter {
    pub(crate) fn new(per_second: u32) -> Self {
        let quota = |rate: u32| NonZeroU32::new(rate).map(Quota::per_second);
        JoinLimiter {
            per_user: quota(per_second).map(RateLimiter::keyed),
            per_ip: quota(per_second.saturating_mul(IP_MULTIPLIER)).map(RateLimiter::keyed),
        }
    }

    pub(crate) fn check(&self, user_id: i64, ip: Option<IpAddr>) -> Result<(), Error> {
        // The clock is read only on refusal: building a governor clock per call
        // calibrates it, which showed as the largest cost of the join route in a
        // profile (loadtest/RESULTS.md).
        if let Some(limiter) = &self.per_user {
            limiter
                .check_key(&user_id)
                .map_err(|denied| rate_limited(denied.wait_time_from(limiter.clock().now())))?;
        }
        if let (Some(limiter), Some(ip)) = (&self.per_ip, ip) {
            limiter
                .check_key(&ip)
                .map_err(|denied| rate_limited(denied.wait_time_from(limiter.clock().now())))?;
        }
        Ok(())
    }

    /// Forgets keys that have not been seen recently, bounding memory.
    pub(crate) fn forget_idle(&self) {
        if let Some(limiter) = &self.per_user {
            limiter.retain_recent();
        }
        if let Some(limiter) = &self.per_ip {
            limiter.retain_recent();
        }
    }
}

fn rate_limited(wait: std::time::Duration) -> Error {
    Error::RateLimited {
        retry_after_s: wait.as_secs_f64().ceil().max(1.0) as u64,
    }
}
