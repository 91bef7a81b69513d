//! Seed 000, APIs 7-8: charge and read a balance, user from the `user-id` header.

use axum::extract::{Request, State};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;

use super::error::{Error, Result};
use super::extract::{body_bytes, parse_json, IdempotencyKey, UserIdHeader};
use super::AppState;
use crate::booking::balances::Balance;
use crate::booking::BookingError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/balances/balance", get(balance))
        .route("/api/balances/balance/charge", patch(charge))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceView {
    pub user_id: i64,
    pub amount: i64,
}

impl From<Balance> for BalanceView {
    fn from(balance: Balance) -> Self {
        BalanceView {
            user_id: balance.user_id,
            amount: balance.amount,
        }
    }
}

async fn balance(State(state): State<AppState>, UserIdHeader(user_id): UserIdHeader) -> Result<Json<BalanceView>> {
    Ok(Json(state.booking.balance(user_id).await?.into()))
}

async fn charge(
    State(state): State<AppState>,
    UserIdHeader(user_id): UserIdHeader,
    IdempotencyKey(key): IdempotencyKey,
    request: Request,
) -> Result<Json<BalanceView>> {
    let body = body_bytes(request, &state).await?;
    let amount = charge_amount(&parse_json(&body)?, state.config.booking.max_charge)?;
    Ok(Json(
        state.booking.charge(user_id, amount, key.as_deref()).await?.into(),
    ))
}

/// The seed sends a bare number (`1000`); `{"amount": 1000}` is accepted too.
/// Anything but a positive whole number of won is refused here, before any I/O.
pub fn charge_amount(body: &Value, max: i64) -> Result<i64> {
    let number = match body {
        Value::Object(fields) => fields.get("amount"),
        other => Some(other),
    };
    number
        .and_then(Value::as_i64)
        .filter(|amount| (1..=max).contains(amount))
        .ok_or(Error::Booking(BookingError::InvalidAmount { max }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_positive_whole_amounts_up_to_the_limit_are_charged() {
        assert_eq!(charge_amount(&json!(1000), 5000).ok(), Some(1000));
        assert_eq!(charge_amount(&json!({ "amount": 5000 }), 5000).ok(), Some(5000));
        for bad in [
            json!(0),
            json!(-5),
            json!(10.5),
            json!("1000"),
            json!(5001),
            json!(null),
            json!({}),
            json!(1e30),
        ] {
            assert!(charge_amount(&bad, 5000).is_err(), "{bad}");
        }
    }
}
