//! Request extractors whose rejections are this API's JSON errors, never axum's
//! plain-text ones.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use std::collections::HashSet;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::error::Error;
use super::identity::caller_of;
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
    let invalid = |err: serde_json::Error| Error::bad_request("INVALID_JSON", format!("invalid JSON body: {err}"));
    // A key given twice is ambiguous (which one counts depends on the parser),
    // so it is refused whatever the body's shape.
    serde_json::from_slice::<UniqueKeys>(bytes).map_err(|err| {
        if err.is_data() {
            Error::bad_request("DUPLICATE_JSON_KEY", err.to_string())
        } else {
            invalid(err)
        }
    })?;
    serde_json::from_slice(bytes).map_err(invalid)
}

/// Walks any JSON document and fails on an object that names a key twice.
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("the key `{key}` appears more than once")));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
}

/// The one value of a header that may appear once; a repeated one is refused,
/// since which of them would count is anyone's guess.
pub(crate) fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a HeaderValue>, Error> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Error::bad_request(
            "DUPLICATE_HEADER",
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
            .ok_or_else(|| Error::bad_request("MISSING_USER_ID", "the user-id header is required"))?;
        canonical_id(raw.as_bytes()).ok_or_else(|| {
            Error::bad_request(
                "INVALID_USER_ID",
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

    #[test]
    fn a_key_given_twice_is_refused_at_any_depth() {
        assert!(parse_json::<Value>(br#"{"amount": 1, "note": {"a": 1, "b": 2}}"#).is_ok());
        for body in [
            &br#"{"amount": 1, "amount": 100000}"#[..],
            br#"[{"a": 1, "a": 2}]"#,
            br#"{"x": {"a": 1, "a": 2}}"#,
        ] {
            match parse_json::<Value>(body) {
                Err(Error::BadRequest { code, .. }) => assert_eq!(code, "DUPLICATE_JSON_KEY"),
                other => panic!("{other:?}"),
            }
        }
    }

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
