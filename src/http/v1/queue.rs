//! Seed 004: take a token for a concert's queue, and poll it.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::Response;
use uuid::Uuid;

use super::{user_of, Params};
use crate::http::error::Result;
use crate::http::extract::{self, token_from_headers, Path, PresentedToken};
use crate::http::guards::identity::Identity;
use crate::http::guards::join::{AltchaHeader, Applicant, InvitationHeader, JoinPermit, Named};
use crate::http::guards::limits::PollLimit;
use crate::http::openapi::schemas::UuidBody;
use crate::http::state::AppState;
use crate::http::views::TicketView;
use crate::queue::QueueError;

/// Seed 004: the queue of the concert in the path, the user of the body's UUID.
pub(super) struct ConcertQueueByUuid;

impl Applicant for ConcertQueueByUuid {
    type Name = Uuid;

    async fn named(mut parts: Parts, body: Body, state: &AppState) -> Result<Named<Uuid>> {
        let identity = Identity::from_request_parts(&mut parts, state).await?;
        let extract::Path(code) = extract::Path::<String>::from_request_parts(&mut parts, state).await?;
        let request = Request::from_parts(parts, body);
        let extract::Json(params) = extract::Json::<Params>::from_request(request, state).await?;
        let concert = state.catalog.concert_by_code(&code)?;
        let (user_id, uuid) = user_of(state, &identity, params.uuid.as_deref())?;
        Ok(Named {
            queue: concert.code.clone(),
            user_id,
            name: uuid,
        })
    }

    /// A concert queue's users are named by UUID, as its join names them.
    fn invitee(named: &Named<Uuid>) -> String {
        named.name.hyphenated().to_string()
    }
}

/// Seed 004: take a place in the concert's queue (or get the same one back).
#[utoipa::path(
    post,
    path = "/api/v1/concerts/{code}/token",
    operation_id = "joinConcertQueue",
    tag = "queue (seed 004)",
    params(("code" = String, Path, description = "the concert's code", example = "hero-autumn"), PresentedToken, Identity, InvitationHeader, AltchaHeader),
    request_body = UuidBody,
    responses((
        status = 200,
        description = "the place in line and the token; `Retry-After` = pollAfterMs in seconds",
        body = TicketView<uuid::Uuid>,
        headers(("Retry-After" = u64, description = "seconds until the next poll is useful")),
        example = json!({
            "token": "aGVyby1hdXR1bW58N3wxNzk5OTk5OTk5fDB8MXww.c2lnbmF0dXJl",
            "userId": "890cd9f4-4be2-56a3-a116-49b160d80fa5", "position": 1, "tokenStatus": "대기",
            "tokenCreated": "2026-11-23T13:05:35", "tokenExpiry": "2026-11-23T13:10:35", "etaSeconds": 1, "pollAfterMs": 1000
        })
    ))
)]
pub(super) async fn join(State(state): State<AppState>, permit: JoinPermit<ConcertQueueByUuid>) -> Result<Response> {
    let ticket = permit.join(&state).await?;
    let uuid = permit.name;
    Ok(TicketView::new(uuid, ticket, state.clock).into_response_with_hint())
}

/// Seed 004: the token's place in line, status and when to ask again.
#[utoipa::path(
    get,
    path = "/api/v1/concerts/{code}/token",
    operation_id = "pollConcertQueue",
    tag = "queue (seed 004)",
    params(("code" = String, Path, description = "the concert's code", example = "hero-autumn"), PresentedToken),
    responses((
        status = 200,
        description = "status 대기 (waiting), 활성 (active) or 만료 (expired: 200, not 410)",
        body = TicketView<uuid::Uuid>,
        headers(("Retry-After" = u64, description = "seconds until the next poll is useful")),
        example = json!({
            "token": "aGVyby1hdXR1bW58N3wxNzk5OTk5OTk5fDB8MXww.c2lnbmF0dXJl",
            "userId": "890cd9f4-4be2-56a3-a116-49b160d80fa5", "position": 3, "tokenStatus": "대기",
            "tokenCreated": "2026-11-23T13:05:35", "tokenExpiry": "2026-11-23T13:10:35", "etaSeconds": 2, "pollAfterMs": 1000
        })
    ))
)]
pub(super) async fn poll(
    State(state): State<AppState>,
    Path(code): Path<String>,
    _: PollLimit,
    headers: HeaderMap,
) -> Result<Response> {
    let concert = state.catalog.concert_by_code(&code)?;
    let token = token_from_headers(&headers)?.ok_or(QueueError::TokenMissing)?;
    let ticket = state.line.poll_token(&concert.code, &token).await?;
    let uuid = state.users.uuid_of(ticket.user_id).unwrap_or_default();
    Ok(TicketView::new(uuid, ticket, state.clock).into_response_with_hint())
}
