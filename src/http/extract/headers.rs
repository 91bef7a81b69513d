//! Headers: the queue token and the Idempotency-Key, each allowed once (as
//! every header read here is: see [`single_header`]).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

use crate::http::error::{Error, ErrorCode};

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
