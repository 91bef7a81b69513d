//! The codes each source of errors can answer: the extractors a handler is
//! built of, the layers around its router, and the domain calls several
//! handlers share.

use crate::http::error::ErrorCode as C;

/// Machine codes; each carries its status.
pub(super) type Codes = &'static [C];

// What the extractors refuse (src/http/extract, src/http/guards, admin).
pub(super) const USER_ID: Codes = &[C::DuplicateHeader, C::MissingUserId, C::InvalidUserId];
pub(super) const IDENTITY: Codes = &[
    C::DuplicateHeader,
    C::IdentityMissing,
    C::IdentityInvalid,
    C::IdentityExpired,
    C::IdentityMismatch,
];
/// A token presented to join or poll: optional, but genuine and the caller's.
pub(super) const PRESENTED_TOKEN: Codes = &[C::DuplicateHeader, C::TokenInvalid, C::TokenMismatch];
/// An `X-Invitation` code carried by a join before the queue's opening
/// (`JoinPermit`); taking its use may go unanswered (the same join again tells).
pub(super) const INVITATION: Codes = &[
    C::DuplicateHeader,
    C::InvitationInvalid,
    C::InvitationUsedUp,
    C::InvitationExpired,
    C::OutcomeUnknown,
];
/// An `X-Altcha` solution carried by a join of a queue that asks for one (`JoinPermit`).
pub(super) const CHALLENGE: Codes = &[C::DuplicateHeader, C::ChallengeRequired, C::ChallengeFailed];
/// `ActiveToken` and `PaymentPass`: a genuine, admitted token of the route's queue.
pub(super) const GATE: Codes = &[
    C::DuplicateHeader,
    C::TokenMissing,
    C::TokenInvalid,
    C::TokenMismatch,
    C::NotAdmitted,
    C::TokenExpired,
];
pub(super) const CONCERT_IN_PATH: Codes = &[C::InvalidPath, C::ConcertNotFound];
pub(super) const PATH: Codes = &[C::InvalidPath];
pub(super) const QUERY: Codes = &[C::InvalidQuery];
pub(super) const JSON_BODY: Codes = &[
    C::MissingBody,
    C::InvalidJson,
    C::DuplicateJsonKey,
    C::InvalidBody,
    C::PayloadTooLarge,
];
pub(super) const OPTIONAL_JSON_BODY: Codes = &[C::InvalidJson, C::DuplicateJsonKey, C::InvalidBody, C::PayloadTooLarge];
pub(super) const CHARGE_BODY: Codes = &[C::InvalidAmount];
pub(super) const IDEMPOTENCY_KEY: Codes = &[C::DuplicateHeader, C::InvalidIdempotencyKey, C::IdempotencyKeyReused];
/// A user named by UUID (`v1::user_of`).
pub(super) const UUID_USER: Codes = &[C::MissingUuid, C::InvalidUuid, C::UserNotFound];
pub(super) const ADMIN: Codes = &[C::DuplicateHeader, C::AdminUnauthorized, C::AdminDisabled];

// What the layers and the stores add.
pub(super) const RATE_LIMITED: Codes = &[C::RateLimited];
pub(super) const STORES: Codes = &[C::DependencyUnavailable, C::Internal];
/// A charge or a payment: sent to Postgres, and maybe no answer.
pub(super) const MONEY: Codes = &[C::DependencyUnavailable, C::OutcomeUnknown, C::Internal];
/// An operator's change (settings, a concert, keys, codes): sent to Postgres, and maybe no answer.
pub(super) const CHANGE: Codes = &[C::DependencyUnavailable, C::OutcomeUnknown, C::Internal];

pub(super) const HOLD: Codes = &[
    C::AmountOutOfRange,
    C::ScheduleNotFound,
    C::SeatNotFound,
    C::SeatUnavailable,
    C::TooManySeats,
];
pub(super) const PAYMENT: Codes = &[
    C::AmountOutOfRange,
    C::UserNotFound,
    C::NoHold,
    C::HoldExpired,
    C::InsufficientBalance,
    C::SeatUnavailable,
];
