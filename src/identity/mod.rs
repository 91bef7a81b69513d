//! Who is asking. The queue and booking APIs name their user (a `user-id`
//! header, a `userId` or `UUID` in the body or path); this decides whether to
//! believe the name.
//!
//! - `trusted-header`: believe it. Right behind an authenticating gateway that
//!   sets the name itself; anywhere else anyone can act as anyone, so start-up
//!   warns loudly.
//! - `signed` (the default once a key is configured): each request naming a
//!   user carries a JWT from the upstream auth service in `X-Identity`, with an
//!   `exp` and a `sub` holding the user's id (decimal) or UUID, which must be
//!   the user the request names. HS256 with a shared secret, RS256/EdDSA
//!   with the auth service's public key, or the keys an OIDC provider
//!   publishes (RS256, ES256, EdDSA...), chosen by the proof's `kid`.
//!
//! `verifier.rs` checks the proofs, with a provider's keys from `provider.rs`
//! (fetching, refreshing) and `jwks.rs` (which keys, which algorithm); this
//! module holds what a check concludes.

mod jwks;
mod provider;
mod verifier;

use uuid::Uuid;

pub(crate) use verifier::IdentityVerifier;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum IdentityError {
    #[error("this request names a user, so it needs an X-Identity proof")]
    Missing,
    #[error("the X-Identity proof is not valid")]
    Invalid,
    /// Signed by a key the auth service does not publish (or not yet, and it
    /// could not be reached): a client's problem as far as this request goes.
    #[error("the X-Identity proof is signed by a key this service does not know")]
    UnknownKey,
    #[error("the X-Identity proof has expired")]
    Expired,
    #[error("the X-Identity proof is for another user")]
    Mismatch,
}

/// The user a verified proof names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    Id(i64),
    Uuid(Uuid),
}

/// What a request proved about its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// Trusted-header mode: the request's own naming is believed.
    Trusted,
    Proven(Subject),
}

impl Caller {
    /// The named user, provided the caller may act as them. `uuid_of` gives
    /// the named user's UUID, asked only for a proof whose subject is a UUID.
    pub(crate) fn may_act_as(
        &self,
        user_id: i64,
        uuid_of: impl FnOnce() -> Option<Uuid>,
    ) -> Result<i64, IdentityError> {
        match self {
            Caller::Trusted => Ok(user_id),
            Caller::Proven(Subject::Id(id)) if *id == user_id => Ok(user_id),
            Caller::Proven(Subject::Uuid(proven)) if Some(*proven) == uuid_of() => Ok(user_id),
            Caller::Proven(_) => Err(IdentityError::Mismatch),
        }
    }
}
