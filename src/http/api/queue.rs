//! Seed 000, APIs 1-2: join the default queue and poll the place in it.

use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::http::error::Result;
use crate::http::extract::UserIdHeader;
use crate::http::listener::PeerAddr;
use crate::http::state::AppState;
use crate::http::views::TicketView;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/waiting-queue", post(join))
        .route("/api/waiting-queue/position", get(position))
}

async fn join(
    State(state): State<AppState>,
    ConnectInfo(PeerAddr(peer)): ConnectInfo<PeerAddr>,
    UserIdHeader(user_id): UserIdHeader,
) -> Result<Response> {
    state.join_limiter.check(user_id, Some(peer.ip()))?;
    let ticket = state.line.join(&state.config.queue.default_queue, user_id).await?;
    Ok(TicketView::new(user_id, ticket, state.clock).into_response_with_hint())
}

async fn position(State(state): State<AppState>, UserIdHeader(user_id): UserIdHeader) -> Result<Response> {
    let ticket = state.line.poll(&state.config.queue.default_queue, user_id).await?;
    Ok(TicketView::new(user_id, ticket, state.clock).into_response_with_hint())
}
