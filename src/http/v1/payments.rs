//! Seed 004: one payment for every seat the user holds on the concert whose
//! queue the token belongs to.

use axum::extract::State;
use axum::Json;

use super::{user_of, Params};
use crate::booking::payments::PaymentScope;
use crate::http::error::Result;
use crate::http::extract::PresentedToken;
use crate::http::extract::{self, IdempotencyKey};
use crate::http::guards::gate::{ConcertOfToken, PaymentPass};
use crate::http::guards::identity::Identity;
use crate::http::openapi::schemas::UuidBody;
use crate::http::state::AppState;
use crate::http::views::PaymentView;

/// Seed 004: pay for every seat the user holds on the token's concert; ends the token.
#[utoipa::path(
    post,
    path = "/api/v1/payments",
    operation_id = "payConcert",
    tag = "booking (seed 004)",
    params(PresentedToken, IdempotencyKey, Identity),
    request_body = UuidBody,
    responses((status = 200, description = "the receipt (a retry with the same Idempotency-Key gets it again)", body = PaymentView,
        example = json!({
            "paymentDate": "2026-11-23T13:16:02", "paymentAmount": 2000, "paymentStatus": "결제 완료",
            "paymentIds": [1], "userId": 7, "balance": 3000,
            "seats": [{ "concertScheduleId": 1, "seatNumber": 10, "seatPrice": 2000 }]
        })))
)]
pub(super) async fn pay(
    State(state): State<AppState>,
    payment: PaymentPass<ConcertOfToken>,
    identity: Identity,
    IdempotencyKey(key): IdempotencyKey,
    extract::Json(params): extract::Json<Params>,
) -> Result<Json<PaymentView>> {
    let (user_id, _) = user_of(&state, &identity, params.uuid.as_deref())?;
    let scope = PaymentScope::Concert(payment.scope);
    let receipt = state
        .checkout
        .checkout(payment.pass, user_id, scope, key.as_deref())
        .await?;
    Ok(Json(PaymentView::new(receipt, state.clock)))
}
