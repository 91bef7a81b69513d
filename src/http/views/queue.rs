//! What join and poll answer (seed 000 APIs 1-2, seed 004's token routes).

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::openapi::schemas;
use crate::local_time::LocalClock;
use crate::queue::{Ticket, TokenState};

fn status_text(state: TokenState) -> &'static str {
    match state {
        TokenState::Waiting => "대기",
        TokenState::Active => "활성",
        TokenState::Expired => "만료",
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TicketView<U: Serialize> {
    user_id: U,
    token: String,
    #[schema(schema_with = schemas::local_date_time)]
    token_created: String,
    #[schema(schema_with = schemas::local_date_time)]
    token_expiry: String,
    #[schema(schema_with = schemas::token_status)]
    token_status: &'static str,
    position: u64,
    eta_seconds: u64,
    poll_after_ms: u64,
    /// Before the opening (pre-queue): when it opens, and how long until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<schemas::LocalDateTime>)]
    opens_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seconds_to_open: Option<u64>,
}

impl<U: Serialize> TicketView<U> {
    pub(crate) fn new(user_id: U, ticket: Ticket, clock: LocalClock) -> Self {
        TicketView {
            user_id,
            token_created: clock.format(ticket.issued_at),
            token_expiry: clock.format(ticket.expires_at),
            token_status: status_text(ticket.state),
            position: ticket.position,
            eta_seconds: ticket.eta_seconds,
            poll_after_ms: ticket.poll_after_ms,
            opens_at: ticket.opens_at.map(|at| clock.format(at)),
            seconds_to_open: ticket.opens_at.map(|_| ticket.eta_seconds),
            token: ticket.token,
        }
    }

    /// The body, with `Retry-After` telling a waiting client when to ask again.
    pub(crate) fn into_response_with_hint(self) -> Response {
        let retry_after = self.poll_after_ms.div_ceil(1000);
        let mut response = Json(self).into_response();
        if retry_after > 0 {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}
