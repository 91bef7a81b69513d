//! Seed 000, APIs 1-2: join the default queue and poll the place in it.

use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::Response;

use crate::http::error::Result;
use crate::http::extract::PresentedToken;
use crate::http::guards::identity::{Identity, UserIdHeader};
use crate::http::guards::join::{AltchaHeader, Applicant, InvitationHeader, JoinPermit, Named};
use crate::http::guards::limits::PollLimit;
use crate::http::state::AppState;
use crate::http::views::TicketView;

/// Seed 000: the default queue, the user of the `user-id` header.
pub(super) struct DefaultQueueByUserId;

impl Applicant for DefaultQueueByUserId {
    type Name = i64;

    async fn named(mut parts: Parts, _body: Body, state: &AppState) -> Result<Named<i64>> {
        let UserIdHeader(user_id) = UserIdHeader::from_request_parts(&mut parts, state).await?;
        Ok(Named {
            queue: state.config.queue.default_queue.clone(),
            user_id,
            name: user_id,
        })
    }
}

/// Seed 000 API 1: take a place in the default queue, or get the same one back.
///
/// Joining again while waiting or active answers the same place and token; a
/// `Token` from before a Redis restart gets its place back.
#[utoipa::path(
    post,
    path = "/api/waiting-queue",
    operation_id = "joinWaitingQueue",
    tag = "queue (seed 000)",
    params(UserIdHeader, PresentedToken, Identity, InvitationHeader, AltchaHeader),
    responses((
        status = 200,
        description = "the place in line and the token; `Retry-After` = pollAfterMs in seconds",
        body = TicketView<i64>,
        headers(("Retry-After" = u64, description = "seconds until the next poll is useful")),
        example = json!({
            "userId": 1, "token": "ZGVmYXVsdHwxfDE3OTk5OTk5OTl8MHwxfDA.c2lnbmF0dXJl",
            "tokenCreated": "2026-11-23T13:05:35", "tokenExpiry": "2026-11-23T13:10:35",
            "tokenStatus": "대기", "position": 1, "etaSeconds": 1, "pollAfterMs": 1000
        })
    ))
)]
pub(super) async fn join(State(state): State<AppState>, permit: JoinPermit<DefaultQueueByUserId>) -> Result<Response> {
    let ticket = permit.join(&state).await?;
    let user_id = permit.name;
    Ok(TicketView::new(user_id, ticket, state.clock).into_response_with_hint())
}

/// Seed 000 API 2: the place in line, the status and when to ask again.
#[utoipa::path(
    get,
    path = "/api/waiting-queue/position",
    operation_id = "pollWaitingQueue",
    tag = "queue (seed 000)",
    params(UserIdHeader, PresentedToken, Identity),
    responses((
        status = 200,
        description = "status 대기 (waiting), 활성 (active) or 만료 (expired: 200, not 410)",
        body = TicketView<i64>,
        headers(("Retry-After" = u64, description = "seconds until the next poll is useful")),
        example = json!({
            "userId": 1, "token": "ZGVmYXVsdHwxfDE3OTk5OTk5OTl8MHwxfDA.c2lnbmF0dXJl",
            "tokenCreated": "2026-11-23T13:05:35", "tokenExpiry": "2026-11-23T13:15:35",
            "tokenStatus": "활성", "position": 0, "etaSeconds": 0, "pollAfterMs": 0
        })
    ))
)]
pub(super) async fn position(
    State(state): State<AppState>,
    UserIdHeader(user_id): UserIdHeader,
    PresentedToken(token): PresentedToken,
    _: PollLimit,
) -> Result<Response> {
    let queue = &state.config.queue.default_queue;
    let ticket = state.line.poll_with(queue, user_id, token.as_deref()).await?;
    Ok(TicketView::new(user_id, ticket, state.clock).into_response_with_hint())
}
