//! Seed 000, APIs 7-8: charge and read a balance, user from the `user-id` header.

use axum::extract::State;
use axum::Json;

use crate::http::openapi::schemas::ChargeBody;

use crate::http::error::Result;
use crate::http::extract::{ChargeAmount, IdempotencyKey};
use crate::http::guards::identity::{Identity, UserIdHeader};
use crate::http::guards::limits::ReadLimit;
use crate::http::state::AppState;
use crate::http::views::BalanceView;

/// Seed 000 API 8: the balance of the user in `user-id`.
#[utoipa::path(
    get,
    path = "/api/balances/balance",
    operation_id = "readBalance",
    tag = "booking (seed 000)",
    params(UserIdHeader, Identity),
    responses((status = 200, description = "the balance, in won", body = BalanceView,
        example = json!({ "userId": 1, "amount": 4000 })))
)]
pub(super) async fn balance(
    State(state): State<AppState>,
    UserIdHeader(user_id): UserIdHeader,
    _: ReadLimit,
) -> Result<Json<BalanceView>> {
    let balance = state.balances.balance(user_id).await?;
    Ok(Json(BalanceView::new(balance, None)))
}

/// Seed 000 API 7: top up the balance of the user in `user-id`.
#[utoipa::path(
    patch,
    path = "/api/balances/balance/charge",
    operation_id = "chargeBalance",
    tag = "booking (seed 000)",
    params(UserIdHeader, IdempotencyKey, Identity),
    request_body(content = ChargeBody, description = "the seed's bare number of won, or `{\"amount\": N}`", example = json!(1000)),
    responses((status = 200, description = "the balance after the top-up", body = BalanceView,
        example = json!({ "userId": 1, "amount": 5000 })))
)]
pub(super) async fn charge(
    State(state): State<AppState>,
    UserIdHeader(user_id): UserIdHeader,
    IdempotencyKey(key): IdempotencyKey,
    ChargeAmount(amount): ChargeAmount,
) -> Result<Json<BalanceView>> {
    let balance = state.balances.charge(user_id, amount, key.as_deref()).await?;
    Ok(Json(BalanceView::new(balance, None)))
}
