//! Requests a protected queue lets through without a pass: from its
//! `bypassCidrs` (monitoring, the staff's network) or carrying its
//! `bypassHeader` with the exact secret. Each one is counted in the metrics
//! (`boxoffice_gate_bypassed_total`, by queue and rule).
//!
//! The client's address is the check's `ClientIp`: the proxy's own address,
//! or, when the proxy is one of BOXOFFICE_TRUSTED_PROXIES, the address it
//! recorded in `X-Forwarded-For`.

use std::net::IpAddr;

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::http::edge::proxies::TrustedProxies;
use crate::queue::settings::Protect;
use crate::telemetry::metrics::GATE_BYPASSED;

/// Which rule let a request through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bypass {
    Cidr,
    Header,
}

impl Bypass {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Bypass::Cidr => "cidr",
            Bypass::Header => "header",
        }
    }
}

/// The rule that lets this request through without a pass, if any; counted.
pub(crate) fn bypass(queue: &str, protect: &Protect, client: Option<IpAddr>, headers: &HeaderMap) -> Option<Bypass> {
    let rule = by_cidr(protect, client).or_else(|| by_header(protect, headers))?;
    metrics::counter!(GATE_BYPASSED, "queue" => queue.to_string(), "rule" => rule.as_str()).increment(1);
    Some(rule)
}

fn by_cidr(protect: &Protect, client: Option<IpAddr>) -> Option<Bypass> {
    if protect.bypass_cidrs.is_empty() {
        return None;
    }
    // Validated when set: a list that does not parse lets nobody through.
    let networks = TrustedProxies::parse(&protect.bypass_cidrs).ok()?;
    client.filter(|ip| networks.contains(*ip)).map(|_| Bypass::Cidr)
}

fn by_header(protect: &Protect, headers: &HeaderMap) -> Option<Bypass> {
    let expected = protect.bypass_header.as_ref()?;
    let sent = headers.get(expected.name.as_str())?.as_bytes();
    // Equal digests, compared without an early exit: the time taken says
    // nothing about how much of a guess was right.
    let (expected, sent) = (Sha256::digest(expected.value.as_bytes()), Sha256::digest(sent));
    let difference = expected.iter().zip(sent.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    (difference == 0).then_some(Bypass::Header)
}
