//! Seed 000: the `/api` design. One default queue; the user named by the
//! `user-id` header (queue, balances) or the body's `userId` (holds, payment).
//! Organised like `/api/v1`: one module per resource, each a thin translation
//! of HTTP to the domain's calls.

mod balances;
mod concerts;
mod queue;

use axum::Router;
use utoipa::OpenApi;

use super::state::AppState;

/// The operations of this surface, for the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(
    queue::join,
    queue::position,
    concerts::schedules,
    concerts::seats,
    concerts::reserve,
    concerts::pay,
    balances::charge,
    balances::balance,
))]
pub(crate) struct Docs;

/// Routes under the request deadline.
pub(crate) fn router() -> Router<AppState> {
    Router::new().merge(concerts::router()).merge(balances::router())
}

/// The queue's join and poll.
pub(crate) fn queue_router() -> Router<AppState> {
    queue::router()
}

/// The two routes that move money.
pub(crate) fn money_router() -> Router<AppState> {
    Router::new()
        .merge(concerts::payment_router())
        .merge(balances::charge_router())
}
