//! Seed 004: take a token for a concert's queue, and poll it.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use axum::Router;

use super::{user_of, Params};
use crate::http::client_ip::ClientIp;
use crate::http::error::Result;
use crate::http::extract::{self, token_from_headers, Path, PresentedToken};
use crate::http::identity::Identity;
use crate::http::state::AppState;
use crate::http::views::TicketView;
use crate::queue::QueueError;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/concerts/{code}/token", post(join).get(poll))
}

async fn join(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    identity: Identity,
    PresentedToken(token): PresentedToken,
    Path(code): Path<String>,
    extract::Json(params): extract::Json<Params>,
) -> Result<Response> {
    let concert = state.catalog.concert_by_code(&code)?;
    let (user_id, uuid) = user_of(&state, &identity, params.uuid.as_deref())?;
    state.limits.check_join(user_id, ip)?;
    let ticket = state.line.join_with(&concert.code, user_id, token.as_deref()).await?;
    Ok(TicketView::new(uuid, ticket, state.clock).into_response_with_hint())
}

async fn poll(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    state.limits.check_poll(ip)?;
    let concert = state.catalog.concert_by_code(&code)?;
    let token = token_from_headers(&headers)?.ok_or(QueueError::TokenMissing)?;
    let ticket = state.line.poll_token(&concert.code, &token).await?;
    let uuid = state.users.uuid_of(ticket.user_id).unwrap_or_default();
    Ok(TicketView::new(uuid, ticket, state.clock).into_response_with_hint())
}
