//! The operator's trusted proxies (`BOXOFFICE_TRUSTED_PROXIES`): networks
//! whose `X-Forwarded-For` is believed, both by the per-client connection
//! caps and by the client IP the rate limits count.

use std::net::IpAddr;

/// Networks whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `10.0.0.0/8`, `192.168.1.7`, `::1/128`, ...
    pub(crate) fn parse(entries: &[String]) -> anyhow::Result<Self> {
        let mut networks = Vec::new();
        for entry in entries
            .iter()
            .map(|entry| entry.trim())
            .filter(|entry| !entry.is_empty())
        {
            let (address, bits) = match entry.split_once('/') {
                Some((address, bits)) => (address, Some(bits)),
                None => (entry, None),
            };
            let address: IpAddr = address
                .parse()
                .map_err(|_| anyhow::anyhow!("BOXOFFICE_TRUSTED_PROXIES: `{entry}` is not an IP or CIDR"))?;
            let max = if address.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(bits) => bits
                    .parse::<u8>()
                    .ok()
                    .filter(|bits| *bits <= max)
                    .ok_or_else(|| anyhow::anyhow!("BOXOFFICE_TRUSTED_PROXIES: bad prefix length in `{entry}`"))?,
                None => max,
            };
            networks.push((address, bits));
        }
        Ok(TrustedProxies(networks))
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|(network, bits)| match (network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => prefix_matches(&network.octets(), &ip.octets(), *bits),
            (IpAddr::V6(network), IpAddr::V6(ip)) => prefix_matches(&network.octets(), &ip.octets(), *bits),
            _ => false,
        })
    }
}

fn prefix_matches(network: &[u8], ip: &[u8], bits: u8) -> bool {
    let (whole, rest) = (usize::from(bits / 8), bits % 8);
    if network[..whole] != ip[..whole] {
        return false;
    }
    rest == 0 || (network[whole] ^ ip[whole]) >> (8 - rest) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_match_by_their_prefix() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into(), "192.168.1.7".into(), "fd00::/8".into()]).unwrap();
        for inside in ["10.1.2.3", "192.168.1.7", "fd12::1"] {
            assert!(proxies.contains(inside.parse().unwrap()), "{inside}");
        }
        for outside in ["11.0.0.1", "192.168.1.8", "fe80::1", "127.0.0.1"] {
            assert!(!proxies.contains(outside.parse().unwrap()), "{outside}");
        }
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local".into()]).is_err());
        assert!(!TrustedProxies::default().contains("127.0.0.1".parse().unwrap()));
    }
}
