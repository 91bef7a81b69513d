//! JSON bodies: any shape, but no key given twice; and the charge amount.

use crate::http::error::ErrorCode;
use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::booking::BookingError;
use crate::http::error::Error;
use crate::http::state::AppState;

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
                Error::refused(ErrorCode::InvalidBody, rejection.body_text())
            }
        })
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::refused(
            ErrorCode::MissingBody,
            "a JSON request body is required",
        ));
    }
    let invalid = |err: serde_json::Error| Error::refused(ErrorCode::InvalidJson, format!("invalid JSON body: {err}"));
    // A key given twice is ambiguous (which one counts depends on the parser),
    // so it is refused whatever the body's shape.
    serde_json::from_slice::<UniqueKeys>(bytes).map_err(|err| {
        if err.is_data() {
            Error::refused(ErrorCode::DuplicateJsonKey, err.to_string())
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
        Value::Object(fields) => fields.get("amount").and_then(whole_number),
        other => whole_number(other),
    }
}

/// A JSON number with no fraction, as JSON Schema's `integer` means it:
/// `1000` and `1000.0` alike (clients that hold numbers as doubles write the
/// latter), within the range a double holds exactly.
pub(crate) fn whole_number(value: &Value) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|number| number.fract() == 0.0 && number.abs() <= EXACT)
            .map(|number| number as i64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_key_given_twice_is_refused_at_any_depth() {
        assert!(parse_json::<Value>(br#"{"amount": 1, "note": {"a": 1, "b": 2}}"#).is_ok());
        for body in [
            &br#"{"amount": 1, "amount": 100000}"#[..],
            br#"[{"a": 1, "a": 2}]"#,
            br#"{"x": {"a": 1, "a": 2}}"#,
        ] {
            match parse_json::<Value>(body) {
                Err(Error::Refused { code, .. }) => assert_eq!(code, ErrorCode::DuplicateJsonKey),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_charge_is_a_bare_whole_number_or_an_amount_field() {
        assert_eq!(whole_amount(&json!(1000)), Some(1000));
        assert_eq!(whole_amount(&json!({ "amount": 5000 })), Some(5000));
        assert_eq!(whole_amount(&json!(-5)), Some(-5), "the range is the domain's to judge");
        assert_eq!(whole_amount(&json!(1000.0)), Some(1000), "JSON Schema's integer");
        assert_eq!(whole_amount(&json!({ "amount": 2e3 })), Some(2000));
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
