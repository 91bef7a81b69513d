//! A queue's join limits: how many joins a minute one identity, one client IP
//! and one network (/24 for IPv4, /56 for IPv6) may make, each 0 for none.
//!
//! What an operator chose ([`ChosenJoinLimits`]) names any of the three; a
//! limit it leaves out follows the configuration's default
//! (`BOXOFFICE_JOIN_LIMIT_PER_*_PER_MINUTE`), as does every limit of a queue
//! that chose none. Only the join gate reads them, in process, so the Redis
//! copy and the record keep the choice as one JSON field.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::values::MOST;
use crate::config::QueueConfig;

/// The limits a queue's joins run with: joins a minute, 0 = no limit. A
/// limit of N lets N joins through at once, then one every 60/N s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JoinLimits {
    /// Joins a minute per identity (the user a join names; a protected site's visitor).
    #[schema(example = 10)]
    pub(crate) per_identity_per_minute: u64,
    /// Joins a minute per client IP.
    #[schema(example = 300)]
    pub(crate) per_ip_per_minute: u64,
    /// Joins a minute per network: the client IP's /24 (IPv4) or /56 (IPv6).
    #[schema(example = 3000)]
    pub(crate) per_network_per_minute: u64,
}

impl JoinLimits {
    /// The configuration's defaults.
    pub(crate) fn configured(defaults: &QueueConfig) -> Self {
        JoinLimits {
            per_identity_per_minute: defaults.join_limit_per_identity_per_minute,
            per_ip_per_minute: defaults.join_limit_per_ip_per_minute,
            per_network_per_minute: defaults.join_limit_per_network_per_minute,
        }
    }
}

/// An operator's choice (the admin API's `joinLimits`): what it leaves out
/// follows the configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ChosenJoinLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) per_identity_per_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) per_ip_per_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) per_network_per_minute: Option<u64>,
}

impl ChosenJoinLimits {
    /// Checks each limit; the error says what is wrong.
    pub(crate) fn validated(self) -> Result<Self, &'static str> {
        let limits = [
            self.per_identity_per_minute,
            self.per_ip_per_minute,
            self.per_network_per_minute,
        ];
        if limits.into_iter().flatten().any(|limit| limit > MOST) {
            return Err(
                "joinLimits' perIdentityPerMinute, perIpPerMinute and perNetworkPerMinute may be at most 1000000000",
            );
        }
        Ok(self)
    }

    pub(crate) fn resolved(chosen: Option<&Self>, defaults: &QueueConfig) -> JoinLimits {
        let configured = JoinLimits::configured(defaults);
        let Some(chosen) = chosen else {
            return configured;
        };
        JoinLimits {
            per_identity_per_minute: chosen
                .per_identity_per_minute
                .unwrap_or(configured.per_identity_per_minute),
            per_ip_per_minute: chosen.per_ip_per_minute.unwrap_or(configured.per_ip_per_minute),
            per_network_per_minute: chosen
                .per_network_per_minute
                .unwrap_or(configured.per_network_per_minute),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::Config;

    #[test]
    fn a_limit_left_out_follows_the_configuration() {
        let mut defaults = Config::parse_from(["boxoffice"]).queue;
        defaults.join_limit_per_ip_per_minute = 600;
        let chosen = ChosenJoinLimits {
            per_network_per_minute: Some(0),
            per_identity_per_minute: Some(3),
            ..ChosenJoinLimits::default()
        };
        let resolved = ChosenJoinLimits::resolved(Some(&chosen), &defaults);
        assert_eq!(
            (
                resolved.per_identity_per_minute,
                resolved.per_ip_per_minute,
                resolved.per_network_per_minute
            ),
            (3, 600, 0)
        );
        assert_eq!(ChosenJoinLimits::resolved(None, &defaults).per_ip_per_minute, 600);
    }

    #[test]
    fn limits_beyond_the_largest_setting_are_refused() {
        let huge = ChosenJoinLimits {
            per_ip_per_minute: Some(MOST + 1),
            ..ChosenJoinLimits::default()
        };
        assert!(huge.validated().is_err());
        assert!(ChosenJoinLimits::default().validated().is_ok());
    }
}
