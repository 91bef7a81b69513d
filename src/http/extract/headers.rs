//! Headers: the user a request names, the queue token, the Idempotency-Key,
//! each allowed once.

use crate::http::error::ErrorCode;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

use crate::http::error::Error;
use crate::http::identity::caller_of;
use crate::http::state::AppState;

/// The one value of a header that may appear once; a repeated one is refused,
/// since which of them would count is anyone's guess.
pub(crate) fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a HeaderValue>, Error> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Error::refused(
            ErrorCode::DuplicateHeader,
            format!("the {name} header may appear only once"),
        ));
    }
    Ok(first)
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

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let user_id = named_user_id(parts)?;
        let caller = caller_of(parts, state)?;
        Ok(UserIdHeader(
            caller.may_act_as(user_id, || state.users.uuid_of(user_id))?,
        ))
    }
}

fn named_user_id(parts: &Parts) -> Result<i64, Error> {
    {
        let raw = single_header(&parts.headers, "user-id")?
            .ok_or_else(|| Error::refused(ErrorCode::MissingUserId, "the user-id header is required"))?;
        canonical_id(raw.as_bytes()).ok_or_else(|| {
            Error::refused(
                ErrorCode::InvalidUserId,
                "the user-id header must be a positive integer written plainly (no sign, spaces or leading zeros)",
            )
        })
    }
}

/// The queue token: header `Token` (seed 000) or `Authorization`, with or
/// without `Bearer `. Absent is `None`; the gate decides what that means.
/// Either header given twice is refused.
pub(crate) fn token_from_headers(headers: &HeaderMap) -> Result<Option<String>, Error> {
    let token = single_header(headers, "token")?;
    let authorization = single_header(headers, "authorization")?;
    let Some(raw) = token.or(authorization).and_then(|value| value.to_str().ok()) else {
        return Ok(None);
    };
    let raw = raw.trim();
    let token = match raw.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => raw,
    };
    Ok((!token.is_empty()).then(|| token.to_string()))
}

/// The queue token a request carries, if any (see [`token_from_headers`]).
pub(crate) struct PresentedToken(pub(crate) Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for PresentedToken {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        token_from_headers(&parts.headers).map(PresentedToken)
    }
}

/// The optional `Idempotency-Key` header: 1 to 255 visible ASCII characters.
pub(crate) struct IdempotencyKey(pub(crate) Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        let Some(raw) = single_header(&parts.headers, "idempotency-key")? else {
            return Ok(IdempotencyKey(None));
        };
        let key = raw
            .to_str()
            .ok()
            .map(|key| key.trim().trim_matches('"'))
            .filter(|key| (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                Error::refused(
                    ErrorCode::InvalidIdempotencyKey,
                    "Idempotency-Key must be 1-255 visible ASCII characters",
                )
            })?;
        Ok(IdempotencyKey(Some(key.to_string())))
    }
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
