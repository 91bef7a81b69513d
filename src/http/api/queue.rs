//! Seed 000, APIs 1-2: join the default queue and poll the place in it.

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::http::client_ip::ClientIp;
use crate::http::error::Result;
use crate::http::extract::{PresentedToken, UserIdHeader};
use crate::http::state::AppState;
use crate::http::views::TicketView;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/waiting-queue", post(join))
        .route("/api/waiting-queue/position", get(position))
}

async fn join(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserIdHeader(user_id): UserIdHeader,
    PresentedToken(token): PresentedToken,
) -> Result<Response> {
    state.limits.check_join(user_id, ip)?;
    let queue = &state.config.queue.default_queue;
    let ticket = state.line.join_with(queue, user_id, token.as_deref()).await?;
    Ok(TicketView::new(user_id, ticket, state.clock).into_response_with_hint())
}

async fn position(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    UserIdHeader(user_id): UserIdHeader,
    PresentedToken(token): PresentedToken,
) -> Result<Response> {
    state.limits.check_poll(ip)?;
    let queue = &state.config.queue.default_queue;
    let ticket = state.line.poll_with(queue, user_id, token.as_deref()).await?;
    Ok(TicketView::new(user_id, ticket, state.clock).into_response_with_hint())
}
