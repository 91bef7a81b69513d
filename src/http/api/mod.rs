//! Seed 000: the `/api` design. One default queue; the user named by the
//! `user-id` header (queue, balances) or the body's `userId` (holds, payment).
//! Organised like `/api/v1`: one module per resource, each a thin translation
//! of HTTP to the domain's calls.

mod balances;
mod concerts;
mod queue;

use axum::Router;

use super::state::AppState;

/// Routes under the request deadline.
pub(crate) fn router() -> Router<AppState> {
    Router::new().merge(concerts::router()).merge(balances::router())
}

/// Routes bounded by deadlines of their own (see `http::router`): the queue's
/// join and poll, and the two that move money.
pub(crate) fn self_bounded() -> Router<AppState> {
    Router::new()
        .merge(queue::router())
        .merge(concerts::payment_router())
        .merge(balances::charge_router())
}
