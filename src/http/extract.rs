//! Request extractors whose rejections are this API's JSON errors, never axum's
//! plain-text ones.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::Error;
use super::state::AppState;
use crate::booking::BookingError;

/// A JSON body. Content-Type is not insisted on: ticketing clients in the wild
/// send JSON as text/plain, and the body either parses or it does not.
pub(crate) struct Json<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(Json)
    }
}

/// A JSON body that may be absent (a GET carrying its parameters in a body).
pub(crate) struct OptionalJson<T>(pub(crate) Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        parse_json(&bytes).map(|value| OptionalJson(Some(value)))
    }
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Error> {
    Bytes::from_request(req, state)
        .await
        .map_err(|rejection: BytesRejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge
            } else {
                Error::bad_request("INVALID_BODY", rejection.body_text())
            }
        })
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::bad_request("MISSING_BODY", "a JSON request body is required"));
    }
    serde_json::from_slice(bytes).map_err(|err| Error::bad_request("INVALID_JSON", format!("invalid JSON body: {err}")))
}

/// Path parameters; a non-numeric id is a 400 with a code.
pub(crate) struct Path<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| Error::bad_request("INVALID_PATH", rejection.body_text()))
    }
}

/// Query parameters.
pub(crate) struct Query<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| Error::bad_request("INVALID_QUERY", rejection.body_text()))
    }
}

/// The `user-id` header of the seed-000 API: required, a positive integer.
pub(crate) struct UserIdHeader(pub(crate) i64);

impl<S: Send + Sync> FromRequestParts<S> for UserIdHeader {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        let raw = parts
            .headers
            .get("user-id")
            .ok_or_else(|| Error::bad_request("MISSING_USER_ID", "the user-id header is required"))?;
        raw.to_str()
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .filter(|id| *id > 0)
            .map(UserIdHeader)
            .ok_or_else(|| Error::bad_request("INVALID_USER_ID", "the user-id header must be a positive integer"))
    }
}

/// The queue token: header `Token` (seed 000) or `Authorization`, with or
/// without `Bearer `. Absent is `None`; the gate decides what that means.
pub(crate) fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    let raw = headers
        .get("token")
        .or_else(|| headers.get(axum::http::header::AUTHORIZATION))?
        .to_str()
        .ok()?
        .trim();
    let token = match raw.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => raw,
    };
    (!token.is_empty()).then(|| token.to_string())
}

/// The optional `Idempotency-Key` header: 1 to 255 visible ASCII characters.
pub(crate) struct IdempotencyKey(pub(crate) Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        let Some(raw) = parts.headers.get("idempotency-key") else {
            return Ok(IdempotencyKey(None));
        };
        let key = raw
            .to_str()
            .ok()
            .map(|key| key.trim().trim_matches('"'))
            .filter(|key| (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                Error::bad_request(
                    "INVALID_IDEMPOTENCY_KEY",
                    "Idempotency-Key must be 1-255 visible ASCII characters",
                )
            })?;
        Ok(IdempotencyKey(Some(key.to_string())))
    }
}

/// The amount of a balance top-up. The seed sends a bare number (`1000`);
/// `{"amount": 1000}` is accepted too. Anything but a whole number is refused
/// here; which whole numbers may be charged is the domain's rule.
pub(crate) struct ChargeAmount(pub(crate) i64);

impl FromRequest<AppState> for ChargeAmount {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Error> {
        let Json(body) = Json::<Value>::from_request(req, state).await?;
        whole_amount(&body)
            .map(ChargeAmount)
            .ok_or(Error::Booking(BookingError::InvalidAmount {
                max: state.config.booking.max_charge,
            }))
    }
}

fn whole_amount(body: &Value) -> Option<i64> {
    match body {
        Value::Object(fields) => fields.get("amount").and_then(Value::as_i64),
        other => other.as_i64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_charge_is_a_bare_whole_number_or_an_amount_field() {
        assert_eq!(whole_amount(&json!(1000)), Some(1000));
        assert_eq!(whole_amount(&json!({ "amount": 5000 })), Some(5000));
        assert_eq!(whole_amount(&json!(-5)), Some(-5), "the range is the domain's to judge");
        for bad in [
            json!(10.5),
            json!("1000"),
            json!(null),
            json!({}),
            json!(1e30),
            json!([1000]),
        ] {
            assert_eq!(whole_amount(&bad), None, "{bad}");
        }
    }
}
