//! The `Identity` extractor: the caller as the `X-Identity` proof shows them
//! (see `crate::identity`), and the binding of a named user to that caller.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::{Error, Result};
use super::extract::single_header;
use super::state::AppState;
use crate::identity::Caller;

/// Header carrying the upstream auth service's proof of who the caller is.
/// (`Authorization` stays free for the queue token that `/api/v1` puts there.)
pub(crate) const IDENTITY_HEADER: &str = "x-identity";

pub(crate) struct Identity(pub(crate) Caller);

impl Identity {
    /// The user a request names, provided the caller may act as them.
    pub(crate) fn user(&self, state: &AppState, user_id: i64) -> Result<i64> {
        Ok(self.0.may_act_as(user_id, || state.users.uuid_of(user_id))?)
    }
}

impl FromRequestParts<AppState> for Identity {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        caller_of(parts, state).map(Identity)
    }
}

pub(crate) fn caller_of(parts: &Parts, state: &AppState) -> Result<Caller> {
    if !state.identity.requires_proof() {
        return Ok(Caller::Trusted);
    }
    let proof = single_header(&parts.headers, IDENTITY_HEADER)?.map(|value| value.as_bytes());
    Ok(state.identity.caller(proof)?)
}
