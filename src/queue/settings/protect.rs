//! A queue that protects a site: the origin whose visitors wait in its line,
//! the paths it guards, how long an admission pass lasts, what the waiting
//! room does while Redis is down, and who passes without waiting.
//!
//! Part of the queue's live settings (the admin API's `protect`), kept with
//! them in Postgres and held by every instance's snapshot, so the forward-auth
//! check reads it in process.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::pass::revocation::LONGEST_SESSION_S;

/// The most paths, CIDRs, and the longest of each, a protection may name.
const MOST_ENTRIES: usize = 64;
const LONGEST_ENTRY: usize = 256;

/// What the waiting room does while Redis does not answer (a valid pass is
/// checked without Redis either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FailMode {
    /// The room says it is unavailable and retries; nobody new is let in.
    Closed,
    /// Short passes to everyone, counted and logged.
    Open,
}

/// A header whose exact value lets a request through without a pass (staff, monitoring).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BypassHeader {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// What a bypass header's secret shows as wherever settings are read back
/// (the views `/ops` reads without the admin token, the record of changes,
/// the events): the secret is the instance's to compare, never to hand out.
pub(crate) const REDACTED: &str = "********";

/// A record of settings (`QueueSettings::fields` as a JSON object, where
/// `protect` is its JSON text) with the bypass header's secret redacted.
pub(crate) fn redact_record(record: &mut serde_json::Value) {
    let Some(protect) = record.get_mut("protect") else {
        return;
    };
    let Some(mut parsed) = protect
        .as_str()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
    else {
        return;
    };
    if let Some(secret) = parsed.pointer_mut("/bypassHeader/value") {
        *secret = REDACTED.into();
        *protect = serde_json::Value::String(parsed.to_string());
    }
}

/// The site a queue protects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Protect {
    /// The protected site's public origin, `https://shop.example`: every pass's `aud`.
    #[schema(example = "https://shop.example")]
    pub(crate) origin: String,
    /// The paths that need a pass (`*` matches any run of characters).
    #[serde(default = "Protect::every_path")]
    #[schema(example = json!(["/checkout/*"]))]
    pub(crate) paths: Vec<String>,
    /// How long a pass lasts, from admission (1 to 86400).
    #[serde(default = "Protect::default_session_seconds")]
    #[schema(example = 600)]
    pub(crate) session_seconds: u64,
    #[serde(default = "Protect::default_fail_mode")]
    pub(crate) fail_mode: FailMode,
    /// Client addresses (IPs or CIDRs) that pass without a pass.
    #[serde(default)]
    pub(crate) bypass_cidrs: Vec<String>,
    #[serde(default)]
    pub(crate) bypass_header: Option<BypassHeader>,
}

impl Protect {
    /// As shown: the bypass header's name, never its secret.
    pub(crate) fn redacted(&self) -> Protect {
        let mut shown = self.clone();
        if let Some(header) = shown.bypass_header.as_mut() {
            header.value = REDACTED.to_string();
        }
        shown
    }

    fn every_path() -> Vec<String> {
        vec!["/*".to_string()]
    }

    fn default_session_seconds() -> u64 {
        600
    }

    fn default_fail_mode() -> FailMode {
        FailMode::Closed
    }

    /// Checks every field; the error says what is wrong.
    pub(crate) fn validated(self) -> Result<Self, String> {
        if !is_origin(&self.origin) {
            return Err(format!(
                "protect.origin must be an origin like https://shop.example (scheme and host, no path), not `{}`",
                self.origin
            ));
        }
        if self.paths.len() > MOST_ENTRIES || self.bypass_cidrs.len() > MOST_ENTRIES {
            return Err(format!(
                "protect.paths and protect.bypassCidrs may name at most {MOST_ENTRIES} each"
            ));
        }
        if let Some(path) = self
            .paths
            .iter()
            .find(|path| !path.starts_with('/') || path.len() > LONGEST_ENTRY || has_control(path))
        {
            return Err(format!(
                "protect.paths must each start with / and be at most {LONGEST_ENTRY} characters: `{path}`"
            ));
        }
        if !(1..=LONGEST_SESSION_S).contains(&self.session_seconds) {
            return Err(format!("protect.sessionSeconds must be from 1 to {LONGEST_SESSION_S}"));
        }
        if let Some(cidr) = self.bypass_cidrs.iter().find(|cidr| !is_cidr(cidr)) {
            return Err(format!(
                "protect.bypassCidrs holds `{cidr}`, which is not an IP or a CIDR"
            ));
        }
        if let Some(header) = &self.bypass_header {
            let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if header.name.is_empty() || header.name.len() > 64 || !header.name.chars().all(token) {
                return Err("protect.bypassHeader.name must be a header name".into());
            }
            if header.value.len() < 16 || header.value.len() > LONGEST_ENTRY || has_control(&header.value) {
                return Err(format!(
                    "protect.bypassHeader.value must be a secret of 16 to {LONGEST_ENTRY} printable characters"
                ));
            }
        }
        Ok(self)
    }
}

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// `http(s)://host[:port]`, nothing after.
fn is_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    !rest.is_empty()
        && origin.len() <= LONGEST_ENTRY
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
}

fn is_cidr(text: &str) -> bool {
    let (ip, bits) = match text.split_once('/') {
        Some((ip, bits)) => (ip, Some(bits)),
        None => (text, None),
    };
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return false;
    };
    let most = if ip.is_ipv4() { 32 } else { 128 };
    bits.is_none_or(|bits| bits.parse::<u8>().is_ok_and(|bits| bits <= most))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protect(json: serde_json::Value) -> Result<Protect, String> {
        serde_json::from_value::<Protect>(json)
            .map_err(|err| err.to_string())?
            .validated()
    }

    #[test]
    fn the_issues_shape_is_read_and_only_the_origin_is_required() {
        let full = protect(serde_json::json!({
            "origin": "https://shop.example", "paths": ["/checkout/*"], "sessionSeconds": 600,
            "failMode": "closed", "bypassCidrs": [], "bypassHeader": null
        }))
        .unwrap();
        assert_eq!(full.paths, ["/checkout/*"]);
        let least = protect(serde_json::json!({ "origin": "http://127.0.0.1:8081" })).unwrap();
        assert_eq!((least.session_seconds, least.fail_mode), (600, FailMode::Closed));
        assert_eq!(least.paths, ["/*"]);
    }

    #[test]
    fn what_is_not_an_origin_a_path_or_a_cidr_is_refused() {
        for bad in [
            serde_json::json!({ "origin": "shop.example" }),
            serde_json::json!({ "origin": "https://shop.example/checkout" }),
            serde_json::json!({ "origin": "https://" }),
            serde_json::json!({ "origin": "https://a", "paths": ["checkout"] }),
            serde_json::json!({ "origin": "https://a", "sessionSeconds": 0 }),
            serde_json::json!({ "origin": "https://a", "sessionSeconds": 86_401 }),
            serde_json::json!({ "origin": "https://a", "failMode": "ajar" }),
            serde_json::json!({ "origin": "https://a", "bypassCidrs": ["10.0.0.0/33"] }),
            serde_json::json!({ "origin": "https://a", "bypassHeader": { "name": "X-Staff", "value": "short" } }),
            serde_json::json!({ "origin": "https://a", "extra": 1 }),
        ] {
            assert!(protect(bad.clone()).is_err(), "{bad}");
        }
        let fine = serde_json::json!({ "origin": "https://a", "bypassCidrs": ["10.0.0.0/8", "::1", "192.0.2.7"],
            "bypassHeader": { "name": "X-Staff", "value": "0123456789abcdef" } });
        assert!(protect(fine).is_ok());
    }
}
