//! Seed 004: read and charge a balance, user by UUID in the path.

use axum::extract::State;
use axum::Json;

use super::user_of;
use crate::http::error::Result;
use crate::http::extract::{ChargeAmount, IdempotencyKey, Path};
use crate::http::guards::identity::Identity;
use crate::http::guards::limits::ReadLimit;
use crate::http::openapi::schemas::ChargeBody;
use crate::http::state::AppState;
use crate::http::views::BalanceView;

/// Seed 004: the balance of the user with this UUID.
#[utoipa::path(
    get,
    path = "/api/v1/users/{uuid}/balance",
    operation_id = "readUserBalance",
    tag = "booking (seed 004)",
    params(("uuid" = String, Path, format = Uuid, description = "the user's UUID", example = "890cd9f4-4be2-56a3-a116-49b160d80fa5"), Identity),
    responses((status = 200, description = "the balance, in won", body = BalanceView,
        example = json!({ "UUID": "890cd9f4-4be2-56a3-a116-49b160d80fa5", "userId": 7, "amount": 4000 })))
)]
pub(super) async fn balance(
    State(state): State<AppState>,
    identity: Identity,
    Path(uuid): Path<String>,
    _: ReadLimit,
) -> Result<Json<BalanceView>> {
    let (user_id, uuid) = user_of(&state, &identity, Some(&uuid))?;
    let balance = state.balances.balance(user_id).await?;
    Ok(Json(BalanceView::new(balance, Some(uuid))))
}

/// Seed 004: top up the balance of the user with this UUID.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{uuid}/balance",
    operation_id = "chargeUserBalance",
    tag = "booking (seed 004)",
    params(("uuid" = String, Path, format = Uuid, description = "the user's UUID", example = "890cd9f4-4be2-56a3-a116-49b160d80fa5"), IdempotencyKey, Identity),
    request_body(content = ChargeBody, description = "`{\"amount\": N}` (or a bare number)", example = json!({ "amount": 1000 })),
    responses((status = 200, description = "the balance after the top-up", body = BalanceView,
        example = json!({ "UUID": "890cd9f4-4be2-56a3-a116-49b160d80fa5", "userId": 7, "amount": 5000 })))
)]
pub(super) async fn charge(
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
