//! A queue's challenge at the door: off, or an ALTCHA proof of work of some
//! complexity that every join must carry solved (`queue::challenge` issues
//! and checks them).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The largest complexity: about a minute of a phone's work, past any sale's need.
pub(crate) const MOST_COMPLEXITY: u32 = 10_000_000;

/// The kinds of challenge a queue can ask for: ALTCHA's proof of work alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ChallengeKind {
    Altcha,
}

/// The challenge a queue asks of each join (the admin API's `challenge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ChallengeSetting {
    pub(crate) kind: ChallengeKind,
    /// The protocol's cost: how many key derivations a solver makes at most
    /// (between half of it and all of it; docs/queue.md, The challenge).
    #[schema(example = 30000)]
    pub(crate) complexity: u32,
}

/// The admin API's `challenge` as an operator writes it: `complexity` may be
/// left out, for the configuration's (`BOXOFFICE_CHALLENGE_COMPLEXITY`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ChosenChallenge {
    pub(crate) kind: ChallengeKind,
    #[serde(default)]
    pub(crate) complexity: Option<u32>,
}

impl ChosenChallenge {
    /// The setting, its complexity checked; the error says what is wrong.
    pub(crate) fn resolved(self, default_complexity: u32) -> Result<ChallengeSetting, &'static str> {
        let complexity = self.complexity.unwrap_or(default_complexity);
        if !(2..=MOST_COMPLEXITY).contains(&complexity) {
            return Err("challenge.complexity must be between 2 and 10000000");
        }
        Ok(ChallengeSetting {
            kind: self.kind,
            complexity,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complexity_left_out_is_the_configuration_s_and_one_out_of_range_is_refused() {
        let chosen: ChosenChallenge = serde_json::from_str(r#"{"kind":"altcha"}"#).expect("parses");
        assert_eq!(chosen.resolved(5000).map(|setting| setting.complexity), Ok(5000));
        let tiny: ChosenChallenge = serde_json::from_str(r#"{"kind":"altcha","complexity":1}"#).expect("parses");
        assert!(tiny.resolved(5000).is_err());
        assert!(serde_json::from_str::<ChosenChallenge>(r#"{"kind":"captcha"}"#).is_err());
    }
}
