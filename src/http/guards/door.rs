//! Joins turned away at the door, by reason: a challenge missing or refused,
//! an invitation refused. Counted by this instance in memory (for
//! `/ops/refusals`) and in the metrics by queue (Prometheus adds the
//! instances up), so an operator sees whether the door keeps out scripts or
//! fans. The join limits count their own refusals (`edge::join_limits`).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use utoipa::ToSchema;

use crate::queue::challenge::Failure;
use crate::queue::QueueError;
use crate::telemetry::metrics::JOINS_REFUSED;

/// Why a join was turned away at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    ChallengeRequired,
    ChallengeInvalid,
    ChallengeExpired,
    ChallengeSpent,
    ChallengeOtherQueue,
    InvitationInvalid,
    InvitationUsedUp,
    InvitationExpired,
}

const REASONS: usize = 8;

impl Reason {
    fn of(err: &QueueError) -> Option<Reason> {
        Some(match err {
            QueueError::ChallengeRequired { .. } => Reason::ChallengeRequired,
            QueueError::ChallengeFailed(Failure::Invalid) => Reason::ChallengeInvalid,
            QueueError::ChallengeFailed(Failure::Expired) => Reason::ChallengeExpired,
            QueueError::ChallengeFailed(Failure::Spent) => Reason::ChallengeSpent,
            QueueError::ChallengeFailed(Failure::OtherQueue) => Reason::ChallengeOtherQueue,
            QueueError::InvitationInvalid => Reason::InvitationInvalid,
            QueueError::InvitationUsedUp => Reason::InvitationUsedUp,
            QueueError::InvitationExpired => Reason::InvitationExpired,
            _ => return None,
        })
    }

    /// The metric's `reason` label.
    fn label(self) -> &'static str {
        match self {
            Reason::ChallengeRequired => "challenge_required",
            Reason::ChallengeInvalid => "challenge_invalid",
            Reason::ChallengeExpired => "challenge_expired",
            Reason::ChallengeSpent => "challenge_spent",
            Reason::ChallengeOtherQueue => "challenge_other_queue",
            Reason::InvitationInvalid => "invitation_invalid",
            Reason::InvitationUsedUp => "invitation_used_up",
            Reason::InvitationExpired => "invitation_expired",
        }
    }
}

/// This instance's count of each reason.
#[derive(Default)]
pub(crate) struct DoorRefusals {
    counts: [AtomicU64; REASONS],
}

/// The counts as `/ops/refusals` shows them.
#[derive(Debug, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DoorRefusalsView {
    /// `403 CHALLENGE_REQUIRED`: no `X-Altcha` on a challenged queue.
    challenge_required: u64,
    /// `403 CHALLENGE_FAILED`, reason `invalid`.
    challenge_invalid: u64,
    /// `403 CHALLENGE_FAILED`, reason `expired`.
    challenge_expired: u64,
    /// `403 CHALLENGE_FAILED`, reason `spent` (a replay).
    challenge_spent: u64,
    /// `403 CHALLENGE_FAILED`, reason `otherQueue`.
    challenge_other_queue: u64,
    /// `403 INVITATION_INVALID`.
    invitation_invalid: u64,
    /// `403 INVITATION_USED_UP`.
    invitation_used_up: u64,
    /// `403 INVITATION_EXPIRED`.
    invitation_expired: u64,
}

impl DoorRefusals {
    /// Counts `err` if it is a refusal at the door of `queue`.
    pub(crate) fn count(&self, queue: &str, err: &QueueError) {
        if let Some(reason) = Reason::of(err) {
            self.counts[reason as usize].fetch_add(1, Ordering::Relaxed);
            metrics::counter!(JOINS_REFUSED, "queue" => queue.to_string(), "reason" => reason.label()).increment(1);
        }
    }

    pub(crate) fn view(&self) -> DoorRefusalsView {
        let count = |reason: Reason| self.counts[reason as usize].load(Ordering::Relaxed);
        DoorRefusalsView {
            challenge_required: count(Reason::ChallengeRequired),
            challenge_invalid: count(Reason::ChallengeInvalid),
            challenge_expired: count(Reason::ChallengeExpired),
            challenge_spent: count(Reason::ChallengeSpent),
            challenge_other_queue: count(Reason::ChallengeOtherQueue),
            invitation_invalid: count(Reason::InvitationInvalid),
            invitation_used_up: count(Reason::InvitationUsedUp),
            invitation_expired: count(Reason::InvitationExpired),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_at_the_door_counts_under_its_own_reason_and_nothing_else_counts() {
        let refusals = DoorRefusals::default();
        refusals.count("q", &QueueError::ChallengeFailed(Failure::Spent));
        refusals.count("q", &QueueError::ChallengeFailed(Failure::Spent));
        refusals.count("q", &QueueError::InvitationUsedUp);
        refusals.count("q", &QueueError::QueueClosed);
        let view = refusals.view();
        assert_eq!((view.challenge_spent, view.invitation_used_up), (2, 1));
        assert_eq!(
            (view.challenge_required, view.challenge_invalid, view.invitation_invalid),
            (0, 0, 0)
        );
    }
}
