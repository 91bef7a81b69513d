//! The join limits: how often one identity, one client IP and one network
//! (/24 for IPv4, /56 for IPv6) may join. Two layers, each counted in process
//! by keyed governor limiters, so a join pays no store call for them:
//!
//! - the instance's own guard, `BOXOFFICE_JOIN_RATE_LIMIT` joins a second per
//!   user id and 50 times that per client IP, across every queue: a tight
//!   loop is cut short whatever a queue's settings say;
//! - each queue's `joinLimits` (its live settings, read from the instance's
//!   snapshot), joins a minute per identity, per IP and per network: the
//!   policy of one sale, which an operator changes while it runs.
//!
//! Each instance counts on its own: behind N instances that a client's
//! requests are spread over, it may join up to N times as often, unless the
//! proxy pins each client to one instance. A limiter is rebuilt, empty, when
//! its queue's limits change. Keys whose limit has refilled are forgotten by
//! the hourly sweep ([`JoinLimiters::forget_idle`]), so memory follows the
//! clients of about the last hour, not every client ever seen.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::QueueConfig;
use crate::http::error::Error;
use crate::queue::settings::JoinLimits;
use crate::telemetry::metrics::JOINS_RATE_LIMITED;

/// A client IP may join for this many different users per second at most (a
/// NAT or an office may stand behind one address).
const IP_MULTIPLIER: u32 = 50;

/// The limit a refused join tripped: the `reason` of its `429 RATE_LIMITED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tripped {
    Identity,
    Ip,
    Network,
}

impl Tripped {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Tripped::Identity => "identity",
            Tripped::Ip => "ip",
            Tripped::Network => "network",
        }
    }
}

/// Joins this instance refused since it started, by the limit they tripped.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct JoinRefusals {
    /// Too many joins for one identity (a user, a protected site's visitor).
    pub(crate) identity: u64,
    /// Too many joins from one client IP.
    pub(crate) ip: u64,
    /// Too many joins from one network (/24, /56).
    pub(crate) network: u64,
}

pub(crate) struct JoinLimiters {
    per_user: Option<DefaultKeyedRateLimiter<i64>>,
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Each queue's own, for the limits it was built with.
    per_queue: RwLock<HashMap<String, Arc<QueueLimiters>>>,
    refused: [AtomicU64; 3],
}

struct QueueLimiters {
    limits: JoinLimits,
    identity: Option<DefaultKeyedRateLimiter<i64>>,
    ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    network: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

fn per_second<K: Hash + Eq + Clone>(rate: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(rate).map(|rate| RateLimiter::keyed(Quota::per_second(rate)))
}

fn per_minute<K: Hash + Eq + Clone>(rate: u64) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(u32::try_from(rate).unwrap_or(u32::MAX)).map(|rate| RateLimiter::keyed(Quota::per_minute(rate)))
}

impl QueueLimiters {
    fn new(limits: JoinLimits) -> Self {
        QueueLimiters {
            limits,
            identity: per_minute(limits.per_identity_per_minute),
            ip: per_minute(limits.per_ip_per_minute),
            network: per_minute(limits.per_network_per_minute),
        }
    }

    /// Forgets idle keys; true when none is left.
    fn forget_idle(&self) -> bool {
        let mut empty = true;
        if let Some(limiter) = &self.identity {
            limiter.retain_recent();
            empty &= limiter.is_empty();
        }
        for limiter in [&self.ip, &self.network].into_iter().flatten() {
            limiter.retain_recent();
            empty &= limiter.is_empty();
        }
        empty
    }
}

/// The network an address belongs to, as the limits count it: its /24, or its
/// /56 for IPv6 (what one subscriber is commonly given).
pub(crate) fn network_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & !0xff)),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (!0u128 << 72))),
    }
}

impl JoinLimiters {
    pub(crate) fn new(queue: &QueueConfig) -> Self {
        JoinLimiters {
            per_user: per_second(queue.join_rate_limit),
            per_ip: per_second(queue.join_rate_limit.saturating_mul(IP_MULTIPLIER)),
            per_queue: RwLock::default(),
            refused: Default::default(),
        }
    }

    /// Whether `user_id` may join `queue` from `ip` now, under the instance's
    /// guard and the queue's `limits`. A refusal is counted, by queue and
    /// reason, and says when to come back.
    pub(crate) fn check(
        &self,
        queue: &str,
        limits: &JoinLimits,
        user_id: i64,
        ip: Option<IpAddr>,
    ) -> Result<(), Error> {
        let ip = ip.map(|ip| ip.to_canonical());
        let own = self.of_queue(queue, limits);
        let own = own.as_deref();
        let verdict = within(self.per_user.as_ref(), Some(user_id), Tripped::Identity)
            .and_then(|()| {
                within(
                    own.and_then(|own| own.identity.as_ref()),
                    Some(user_id),
                    Tripped::Identity,
                )
            })
            .and_then(|()| within(self.per_ip.as_ref(), ip, Tripped::Ip))
            .and_then(|()| within(own.and_then(|own| own.ip.as_ref()), ip, Tripped::Ip))
            .and_then(|()| {
                within(
                    own.and_then(|own| own.network.as_ref()),
                    ip.map(network_of),
                    Tripped::Network,
                )
            });
        verdict.map_err(|(retry_after_s, reason)| {
            self.refused[reason as usize].fetch_add(1, Ordering::Relaxed);
            metrics::counter!(JOINS_RATE_LIMITED, "queue" => queue.to_string(), "reason" => reason.as_str())
                .increment(1);
            Error::RateLimited {
                retry_after_s,
                reason: Some(reason),
            }
        })
    }

    /// The queue's limiters for `limits`, rebuilt when its limits changed;
    /// none when it has no limit (and those it had are dropped, so that
    /// limits set again start afresh).
    fn of_queue(&self, queue: &str, limits: &JoinLimits) -> Option<Arc<QueueLimiters>> {
        let unlimited = *limits == JoinLimits::default();
        {
            let held = self.per_queue.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            match held.get(queue) {
                Some(own) if own.limits == *limits => return Some(own.clone()),
                None if unlimited => return None,
                _ => {}
            }
        }
        let mut held = self.per_queue.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if unlimited {
            held.remove(queue);
            return None;
        }
        let own = held
            .entry(queue.to_string())
            .or_insert_with(|| Arc::new(QueueLimiters::new(*limits)));
        if own.limits != *limits {
            *own = Arc::new(QueueLimiters::new(*limits));
        }
        Some(own.clone())
    }

    /// Joins refused since this instance started, by reason.
    pub(crate) fn refused(&self) -> JoinRefusals {
        let count = |reason: Tripped| self.refused[reason as usize].load(Ordering::Relaxed);
        JoinRefusals {
            identity: count(Tripped::Identity),
            ip: count(Tripped::Ip),
            network: count(Tripped::Network),
        }
    }

    /// Forgets keys not seen recently, and the limiters of queues left with none.
    pub(crate) fn forget_idle(&self) {
        if let Some(limiter) = &self.per_user {
            limiter.retain_recent();
        }
        if let Some(limiter) = &self.per_ip {
            limiter.retain_recent();
        }
        let mut held = self.per_queue.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        held.retain(|_, own| !own.forget_idle());
    }
}

/// Whether `key` is within `limiter`; else the whole seconds until it may
/// come back (at least 1) and the limit it tripped.
fn within<K: Hash + Eq + Clone>(
    limiter: Option<&DefaultKeyedRateLimiter<K>>,
    key: Option<K>,
    reason: Tripped,
) -> Result<(), (u64, Tripped)> {
    let (Some(limiter), Some(key)) = (limiter, key) else {
        return Ok(());
    };
    // The clock is read only on refusal: building a governor clock per call
    // calibrates it, which showed as the largest cost of the join route in a
    // profile (loadtest/RESULTS.md).
    limiter.check_key(&key).map_err(|denied| {
        let wait = denied.wait_time_from(limiter.clock().now());
        (wait.as_secs_f64().ceil().max(1.0) as u64, reason)
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::Config;

    fn limiters() -> JoinLimiters {
        let mut queue = Config::parse_from(["boxoffice"]).queue;
        queue.join_rate_limit = 0;
        JoinLimiters::new(&queue)
    }

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    #[test]
    fn a_network_is_the_addresses_24_or_its_56() {
        assert_eq!(
            network_of("10.1.2.3".parse().unwrap()),
            "10.1.2.0".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            network_of("::ffff:10.1.2.3".parse().unwrap()),
            "10.1.2.0".parse::<IpAddr>().unwrap(),
            "an IPv4-mapped address is its IPv4 one"
        );
        assert_eq!(
            network_of("2001:db8:aa:bbcc:1:2:3:4".parse().unwrap()),
            "2001:db8:aa:bb00::".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn each_limit_refuses_with_its_reason_and_a_wait() {
        let limiters = limiters();
        let limits = JoinLimits {
            per_identity_per_minute: 1,
            per_ip_per_minute: 2,
            per_network_per_minute: 3,
        };
        let reason = |verdict: Result<(), Error>| match verdict {
            Err(Error::RateLimited { retry_after_s, reason }) => {
                assert!(retry_after_s >= 1);
                reason
            }
            other => panic!("not a rate limit: {other:?}"),
        };
        assert!(limiters.check("q", &limits, 1, ip("10.1.2.3")).is_ok());
        assert_eq!(
            reason(limiters.check("q", &limits, 1, ip("10.1.2.3"))),
            Some(Tripped::Identity)
        );
        assert!(limiters.check("q", &limits, 2, ip("10.1.2.3")).is_ok());
        assert_eq!(
            reason(limiters.check("q", &limits, 3, ip("10.1.2.3"))),
            Some(Tripped::Ip)
        );
        assert!(limiters.check("q", &limits, 4, ip("10.1.2.4")).is_ok());
        assert_eq!(
            reason(limiters.check("q", &limits, 5, ip("10.1.2.5"))),
            Some(Tripped::Network)
        );
        assert!(limiters.check("q", &limits, 6, ip("10.1.3.1")).is_ok(), "another /24");
        assert!(
            limiters.check("other", &limits, 1, ip("10.1.2.3")).is_ok(),
            "another queue"
        );
        let refused = limiters.refused();
        assert_eq!((refused.identity, refused.ip, refused.network), (1, 1, 1));
    }

    #[test]
    fn a_queue_without_limits_holds_no_limiter_and_idle_ones_are_forgotten() {
        let limiters = limiters();
        let none = JoinLimits::default();
        for user in 0..100 {
            assert!(limiters.check("q", &none, user, ip("10.0.0.1")).is_ok());
        }
        assert!(limiters.per_queue.read().unwrap().is_empty());

        // One join a millisecond: a key is idle a few milliseconds after its join.
        let fast = JoinLimits {
            per_ip_per_minute: 60_000,
            ..JoinLimits::default()
        };
        assert!(limiters.check("q", &fast, 1, ip("10.0.0.1")).is_ok());
        assert_eq!(limiters.per_queue.read().unwrap().len(), 1);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !limiters.per_queue.read().unwrap().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the idle limiter is never forgotten"
            );
            std::thread::yield_now();
            limiters.forget_idle();
        }
    }
}
