//! Seed 004: read and charge a balance, user by UUID in the path.

use axum::extract::State;
use axum::routing::{get, patch};
use axum::{Json, Router};

use super::user_of;
use crate::http::client_ip::ClientIp;
use crate::http::error::Result;
use crate::http::extract::{ChargeAmount, IdempotencyKey, Path};
use crate::http::identity::Identity;
use crate::http::state::AppState;
use crate::http::views::BalanceView;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/users/{uuid}/balance", get(balance))
}

pub(super) fn charge_router() -> Router<AppState> {
    Router::new().route("/api/v1/users/{uuid}/balance", patch(charge))
}

async fn balance(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    identity: Identity,
    Path(uuid): Path<String>,
) -> Result<Json<BalanceView>> {
    state.limits.check_read(ip)?;
    let (user_id, uuid) = user_of(&state, &identity, Some(&uuid))?;
    let balance = state.balances.balance(user_id).await?;
    Ok(Json(BalanceView::new(balance, Some(uuid))))
}

async fn charge(
    State(state): State<AppState>,
    identity: Identity,
    Path(uuid): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    ChargeAmount(amount): ChargeAmount,
) -> Result<Json<BalanceView>> {
    let (user_id, uuid) = user_of(&state, &identity, Some(&uuid))?;
    let balance = state.balances.charge(user_id, amount, key.as_deref()).await?;
    Ok(Json(BalanceView::new(balance, Some(uuid))))
}
