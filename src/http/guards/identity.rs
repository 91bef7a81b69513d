//! The `Identity` extractor: the caller as the `X-Identity` proof shows them
//! (see `crate::identity`), and the binding of a named user to that caller,
//! either by a handler ([`Identity::user`]) or by the `user-id` header of the
//! seed-000 API ([`UserIdHeader`]).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::http::error::{Error, ErrorCode, Result};
use crate::http::extract::single_header;
use crate::http::state::AppState;
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
        caller_of(parts, state).await.map(Identity)
    }
}

async fn caller_of(parts: &Parts, state: &AppState) -> Result<Caller> {
    if !state.identity.requires_proof() {
        return Ok(Caller::Trusted);
    }
    let proof = single_header(&parts.headers, IDENTITY_HEADER)?.map(|value| value.as_bytes());
    Ok(state.identity.caller(proof).await?)
}

/// A user id exactly as a number is written: digits, no sign, no padding, no
/// leading zero, at most 19 digits (the ids are 64-bit).
fn canonical_id(raw: &[u8]) -> Option<i64> {
    let canonical = (1..=19).contains(&raw.len()) && raw[0] != b'0' && raw.iter().all(u8::is_ascii_digit);
    if !canonical {
        return None;
    }
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// The `user-id` header of the seed-000 API: required, a positive integer,
/// and (with signed identity) the user the caller's proof names.
pub(crate) struct UserIdHeader(pub(crate) i64);

impl FromRequestParts<AppState> for UserIdHeader {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let user_id = named_user_id(parts)?;
        let caller = caller_of(parts, state).await?;
        Ok(UserIdHeader(
            caller.may_act_as(user_id, || state.users.uuid_of(user_id))?,
        ))
    }
}

fn named_user_id(parts: &Parts) -> Result<i64> {
    let raw = single_header(&parts.headers, "user-id")?
        .ok_or_else(|| Error::refused(ErrorCode::MissingUserId, "the user-id header is required"))?;
    canonical_id(raw.as_bytes()).ok_or_else(|| {
        Error::refused(
            ErrorCode::InvalidUserId,
            "the user-id header must be a positive integer written plainly (no sign, spaces or leading zeros)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plainly_written_ids_are_ids() {
        assert_eq!(canonical_id(b"1"), Some(1));
        assert_eq!(canonical_id(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b"+1"[..],
            b" 1 ",
            b"01",
            b"0",
            b"-1",
            b"1.0",
            b"",
            b"9223372036854775808",
            b"1e3",
        ] {
            assert_eq!(canonical_id(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(canonical_id(format!("{}1", "0".repeat(4000)).as_bytes()), None);
    }
}
