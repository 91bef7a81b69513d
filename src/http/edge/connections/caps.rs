//! How many connections this instance holds, and how many one client may.
//!
//! Every connection costs a descriptor, a task and its buffers. Without a cap,
//! two clients holding 10,000 connections each filled a 20,000-descriptor
//! limit: `accept` failed with "Too many open files" and nobody else was
//! served. So a connection is counted at accept and let go when its socket is
//! dropped ([`Slot`]); one past a cap is answered `503 OVERLOADED` and closed
//! at once, which frees its descriptor, instead of being left in the kernel's
//! backlog where it would hold up everyone queued behind it.
//!
//! The per-address cap sits well under the instance's, so one client cannot
//! take them all, and `/health` and other clients are still served while it
//! holds its share. Addresses are IPv4 addresses and IPv6 /64 networks (one
//! host is usually given a whole /64). Trusted proxies are exempt: every
//! client behind one shares its address, and the proxy is expected to keep its
//! own per-client limits. The instance's cap is lowered at start-up to what
//! the open-file limit leaves after the stores' connections, so that accepting
//! never fails for want of a descriptor.

use crate::http::error::ErrorCode;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use metrics::{Counter, Gauge};
use rand::Rng;

use crate::config::ConnectionsConfig;
use crate::http::edge::proxies::TrustedProxies;
use crate::telemetry::metrics::{CONNECTIONS_OPEN, CONNECTIONS_REFUSED};

/// Descriptors kept for everything but client connections: the stores' pools
/// and probes come on top (the serving pool's size is added), then the
/// listener, the runtime's own, logs and files read while serving pages.
const DESCRIPTORS_KEPT: usize = 100;

pub(crate) struct Caps {
    open: AtomicUsize,
    max: usize,
    max_per_address: usize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    exempt: TrustedProxies,
    open_gauge: Gauge,
    refused_instance: Counter,
    refused_address: Counter,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Instance,
    Address,
}

/// One admitted connection; dropping it lets its place go.
pub(crate) struct Slot {
    caps: Arc<Caps>,
    address: Option<IpAddr>,
}

impl Caps {
    pub(crate) fn new(config: &ConnectionsConfig, db_max_connections: u32, exempt: TrustedProxies) -> Self {
        let configured = if config.max_connections == 0 {
            usize::MAX
        } else {
            config.max_connections
        };
        let kept = DESCRIPTORS_KEPT + db_max_connections as usize;
        let max = match open_file_limit() {
            Some(limit) => {
                let allowed = limit.saturating_sub(kept).max(16);
                if allowed < configured {
                    tracing::warn!(
                        configured = config.max_connections,
                        open_file_limit = limit,
                        serving_at_most = allowed,
                        "the open-file limit allows fewer connections than BOXOFFICE_MAX_CONNECTIONS: \
                         raise it (ulimit -n, LimitNOFILE=) to serve more"
                    );
                }
                allowed.min(configured)
            }
            None => configured,
        };
        let max_per_address = config.max_connections_per_ip;
        if max_per_address == 0 || max_per_address > max / 2 {
            tracing::warn!(
                max_connections = max,
                max_connections_per_ip = max_per_address,
                "one client may hold more than half of this instance's connections"
            );
        }
        Caps {
            open: AtomicUsize::new(0),
            max,
            max_per_address,
            per_address: Mutex::new(HashMap::new()),
            exempt,
            open_gauge: metrics::gauge!(CONNECTIONS_OPEN),
            refused_instance: metrics::counter!(CONNECTIONS_REFUSED, "cap" => "instance"),
            refused_address: metrics::counter!(CONNECTIONS_REFUSED, "cap" => "address"),
        }
    }

    /// The instance's cap in force (after the open-file limit).
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// A place for a connection from `peer`, or why there is none.
    pub(crate) fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, Refusal> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            self.refused_instance.increment(1);
            return Err(Refusal::Instance);
        }
        let mut address = None;
        if self.max_per_address > 0 && !self.exempt.contains(peer) {
            let counted_as = address_of(peer);
            let mut counts = self.per_address.lock().unwrap_or_else(PoisonError::into_inner);
            let count = counts.entry(counted_as).or_insert(0);
            if *count >= self.max_per_address {
                drop(counts);
                self.open.fetch_sub(1, Ordering::AcqRel);
                self.refused_address.increment(1);
                return Err(Refusal::Address);
            }
            *count += 1;
            address = Some(counted_as);
        }
        self.open_gauge.increment(1.0);
        Ok(Slot {
            caps: self.clone(),
            address,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(address) = self.address {
            let mut counts = self.caps.per_address.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(count) = counts.get_mut(&address) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(&address);
                }
            }
        }
        self.caps.open_gauge.decrement(1.0);
        self.caps.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Refusal {
    /// A complete answer, written before the socket is closed: `503
    /// OVERLOADED` with `Retry-After` spread over 1-3 s, so the refused do not
    /// all come back in the same second.
    pub(crate) fn answer(self) -> Vec<u8> {
        let retry_after_s: u8 = rand::rng().random_range(1..=3);
        let what = match self {
            Refusal::Instance => "this instance holds as many connections as it may",
            Refusal::Address => "too many connections from this address",
        };
        let body = format!(
            r#"{{"code":"{}","message":"{what}; retry in {retry_after_s} s"}}"#,
            ErrorCode::Overloaded
        );
        format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: {retry_after_s}\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

/// What one client's connections are counted under: an IPv4 address, or an
/// IPv6 /64 (an IPv4 address written as IPv6 counts as itself).
fn address_of(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
    }
}

/// The soft limit on open descriptors (Linux's /proc; elsewhere unknown).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    soft_open_file_limit(&limits)
}

fn soft_open_file_limit(limits: &str) -> Option<usize> {
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(max: usize, per_address: usize, exempt: &[&str]) -> Arc<Caps> {
        let config = ConnectionsConfig {
            header_timeout_ms: 1000,
            idle_connection_timeout_s: 1,
            max_connections: max,
            max_connections_per_ip: per_address,
        };
        let exempt: Vec<String> = exempt.iter().map(|entry| entry.to_string()).collect();
        let mut caps = Caps::new(&config, 0, TrustedProxies::parse(&exempt).unwrap());
        caps.max = max;
        Arc::new(caps)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_address_holds_its_share_and_gets_it_back_as_connections_end() {
        let caps = caps(10, 3, &["10.0.0.0/8"]);
        let mut held: Vec<Slot> = (0..3).map(|_| caps.admit(ip("192.0.2.1")).unwrap()).collect();
        assert_eq!(caps.admit(ip("192.0.2.1")).err(), Some(Refusal::Address));
        // The same host under IPv6 /64 and as a mapped IPv4 address.
        let v6: Vec<Slot> = (0..3)
            .map(|n| caps.admit(ip(&format!("2001:db8::{n}"))).unwrap())
            .collect();
        assert_eq!(caps.admit(ip("2001:db8::ffff:1")).err(), Some(Refusal::Address));
        assert_eq!(caps.admit(ip("::ffff:192.0.2.1")).err(), Some(Refusal::Address));
        // A trusted proxy is not held to an address's share, only to the instance's.
        let proxied: Vec<Slot> = (0..4).map(|_| caps.admit(ip("10.1.1.1")).unwrap()).collect();
        assert_eq!(caps.admit(ip("198.51.100.7")).err(), Some(Refusal::Instance));
        drop(proxied);
        drop(v6);
        held.pop();
        let again = caps.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(caps.open.load(Ordering::Acquire), 3, "refusals hold no place");
        drop((held, again));
        assert_eq!(caps.open.load(Ordering::Acquire), 0);
        assert!(
            caps.per_address.lock().unwrap().is_empty(),
            "no address kept once it has gone"
        );
    }

    #[test]
    fn the_soft_open_file_limit_is_read_from_proc() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63704                63704                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(soft_open_file_limit(limits), Some(1024));
        assert_eq!(
            soft_open_file_limit("Max open files  unlimited  unlimited  files"),
            None
        );
    }

    #[test]
    fn a_refusal_is_a_complete_json_answer() {
        let answer = String::from_utf8(Refusal::Address.answer()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())), "{head}");
        let parsed: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(parsed["code"], "OVERLOADED");
    }
}
