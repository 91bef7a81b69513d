//! Seed 000, APIs 7-8: charge and read a balance, user from the `user-id` header.

use axum::extract::State;
use axum::routing::{get, patch};
use axum::{Json, Router};

use crate::http::client_ip::ClientIp;
use crate::http::error::Result;
use crate::http::extract::{ChargeAmount, IdempotencyKey, UserIdHeader};
use crate::http::state::AppState;
use crate::http::views::BalanceView;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/balances/balance", get(balance))
}

pub(super) fn charge_router() -> Router<AppState> {
    Router::new().route("/api/balances/balance/charge", patch(charge))
}

async fn balance(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserIdHeader(user_id): UserIdHeader,
) -> Result<Json<BalanceView>> {
    state.limits.check_read(ip)?;
    let balance = state.balances.balance(user_id).await?;
    Ok(Json(BalanceView::new(balance, None)))
}

async fn charge(
    State(state): State<AppState>,
    UserIdHeader(user_id): UserIdHeader,
    IdempotencyKey(key): IdempotencyKey,
    ChargeAmount(amount): ChargeAmount,
) -> Result<Json<BalanceView>> {
    let balance = state.balances.charge(user_id, amount, key.as_deref()).await?;
    Ok(Json(BalanceView::new(balance, None)))
}
