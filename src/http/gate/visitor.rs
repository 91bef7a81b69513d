//! The waiting room's API for a protected site's anonymous visitors: take a
//! place (`join`), watch it and, once admitted, get the pass (`status`), or
//! give it up (`leave`). The visitor is known by its token, kept in the
//! `boxoffice_visitor` cookie or shown as `Authorization: Bearer`.

use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::cookies;
use super::Protected;
use crate::http::error::{Error, ErrorCode, Result};
use crate::http::extract::{token_from_headers, PresentedToken, Query};
use crate::http::guards::join::{AltchaHeader, Applicant, InvitationHeader, JoinPermit, Named};
use crate::http::state::AppState;
use crate::pass::{now_s, Admission};
use crate::queue::settings::Protect;
use crate::queue::{Ticket, TokenState, Visitor};

/// A protected site's queue, the visitor of the cookie (or a new one).
pub(crate) struct SiteVisitor;

/// The visitor, and the token of its cookie when that is what named it.
pub(crate) struct Arrival {
    visitor: Visitor,
    cookie_token: Option<String>,
}

impl Applicant for SiteVisitor {
    type Name = Arrival;

    async fn named(mut parts: Parts, _body: Body, state: &AppState) -> Result<Named<Arrival>> {
        let Protected { queue, .. } = Protected::from_request_parts(&mut parts, state).await?;
        let shown = token_from_headers(&parts.headers)?;
        let cookie = cookies::read(&parts.headers, cookies::VISITOR);
        // A shown token must be genuine (the join refuses it otherwise); a
        // cookie of another queue, or one no longer valid, is only ignored.
        let known = match (&shown, cookie) {
            (Some(shown), _) => Some((state.line.visitor_of(&queue, shown)?.0, None)),
            (None, Some(cookie)) => state
                .line
                .visitor_of(&queue, cookie)
                .ok()
                .map(|(visitor, _)| (visitor, Some(cookie.to_string()))),
            (None, None) => None,
        };
        let (visitor, cookie_token) = match known {
            Some(known) => known,
            None => (state.visitors.arrive(&queue).await?, None),
        };
        Ok(Named {
            queue,
            user_id: visitor.line_id(),
            name: Arrival { visitor, cookie_token },
        })
    }
}

/// Where a visitor stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum Standing {
    Waiting,
    Admitted,
    /// The admission ended (its time ran out, the origin ended it, or the visitor left).
    Expired,
}

/// `POST /gate/{queue}/join`'s answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JoinView {
    #[schema(example = "v17")]
    visitor: String,
    token: String,
    status: Standing,
    position: u64,
    eta_seconds: u64,
    poll_after_ms: u64,
}

/// `GET /gate/{queue}/status`'s answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatusView {
    status: Standing,
    position: u64,
    eta_seconds: u64,
    poll_after_ms: u64,
    /// Admitted: the pass (also set as the `boxoffice_pass` cookie).
    #[serde(skip_serializing_if = "Option::is_none")]
    pass: Option<String>,
    /// Admitted: when the pass expires, seconds since 1970.
    #[serde(skip_serializing_if = "Option::is_none")]
    pass_expires: Option<u64>,
    /// Admitted: the page to send the visitor back to.
    #[serde(skip_serializing_if = "Option::is_none")]
    return_to: Option<String>,
}

fn standing(ticket: &Ticket) -> Standing {
    match ticket.state {
        TokenState::Waiting => Standing::Waiting,
        TokenState::Active => Standing::Admitted,
        TokenState::Expired => Standing::Expired,
    }
}

/// An anonymous visitor takes a place in the queue's line, or keeps the one
/// its cookie (or token) holds.
#[utoipa::path(post, path = "/gate/{queue}/join", operation_id = "gateJoin", tag = "protected sites",
    params(("queue" = String, Path, description = "a queue that protects a site"), PresentedToken, InvitationHeader, AltchaHeader),
    responses((status = 200, description = "the place; the `boxoffice_visitor` cookie is set", body = JoinView)))]
pub(super) async fn join(State(state): State<AppState>, permit: JoinPermit<SiteVisitor>) -> Result<Response> {
    let Arrival { visitor, cookie_token } = permit.name;
    let presented = permit.presented.or(cookie_token);
    let ticket = state
        .line
        .join_as_visitor(
            &permit.queue,
            visitor,
            presented.as_deref(),
            permit.rules,
            permit.challenge,
        )
        .await
        .inspect_err(|err| state.door.count(&permit.queue, err))?;
    let lasts_s = ticket_life_s(&ticket);
    let cookie = cookies::set(cookies::VISITOR, &ticket.token, lasts_s);
    let view = JoinView {
        visitor: visitor.name(),
        status: standing(&ticket),
        position: ticket.position,
        eta_seconds: ticket.eta_seconds,
        poll_after_ms: ticket.poll_after_ms,
        token: ticket.token,
    };
    let mut response = axum::Json(view).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// How long the visitor cookie is worth keeping: the place's life, at least a day.
fn ticket_life_s(ticket: &Ticket) -> u64 {
    let until = u64::try_from(ticket.expires_at.timestamp()).unwrap_or(0);
    until.saturating_sub(now_s()).max(86_400)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatusQuery {
    /// The page to return to once admitted: a path, or a URL of the protected origin.
    #[param(example = "/checkout/cart")]
    #[serde(rename = "return")]
    return_to: Option<String>,
}

/// The visitor's token: the bearer token, else the cookie.
fn visitor_token(headers: &HeaderMap) -> Result<String> {
    if let Some(token) = token_from_headers(headers)? {
        return Ok(token);
    }
    cookies::read(headers, cookies::VISITOR)
        .map(str::to_string)
        .ok_or_else(|| Error::refused(ErrorCode::TokenMissing, "no visitor token: join first"))
}

/// The visitor's place; once admitted, the pass (also as the `boxoffice_pass`
/// cookie) and the page to return to.
#[utoipa::path(get, path = "/gate/{queue}/status", operation_id = "gateStatus", tag = "protected sites",
    params(("queue" = String, Path, description = "a queue that protects a site"), StatusQuery, PresentedToken),
    responses((status = 200, description = "waiting, admitted (with the pass) or expired", body = StatusView)))]
pub(super) async fn status(
    State(state): State<AppState>,
    protected: Protected,
    Query(query): Query<StatusQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let token = visitor_token(&headers)?;
    let (visitor, ticket) = state.line.poll_visitor(&protected.queue, &token).await?;
    let mut view = StatusView {
        status: standing(&ticket),
        position: ticket.position,
        eta_seconds: ticket.eta_seconds,
        poll_after_ms: ticket.poll_after_ms,
        pass: None,
        pass_expires: None,
        return_to: None,
    };
    let mut cookie = None;
    if ticket.state == TokenState::Active {
        let protect = &protected.protect;
        let admission = Admission {
            sub: visitor.name(),
            issued_s: ticket.issued_at.timestamp(),
            nonce: ticket_nonce(&state, &protected.queue, &ticket.token)?,
        };
        // The pass lasts the session, and never beyond the admission itself.
        let admitted_until = u64::try_from(ticket.expires_at.timestamp()).unwrap_or(0);
        let exp = (now_s() + protect.session_seconds).min(admitted_until);
        let issued = state.passes.issue(&admission, &protected.queue, &protect.origin, exp)?;
        state.passes.announce(&issued, false);
        cookie = cookies::set(cookies::PASS, &issued.token, exp.saturating_sub(now_s()));
        view.pass = Some(issued.token);
        view.pass_expires = Some(issued.claims.exp);
        view.return_to = Some(return_to(protect, query.return_to.as_deref()));
    }
    let mut response = axum::Json(view).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The nonce of the place a ticket's token holds.
fn ticket_nonce(state: &AppState, queue: &str, token: &str) -> Result<u32> {
    Ok(state.line.visitor_of(queue, token)?.1.nonce)
}

/// Where to send an admitted visitor: `asked` if it is a path or a URL of
/// the protected origin (never elsewhere: no open redirect), else the
/// origin's home page.
fn return_to(protect: &Protect, asked: Option<&str>) -> String {
    let origin = protect.origin.as_str();
    match asked {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            format!("{origin}{path}")
        }
        Some(url) if url == origin || url.strip_prefix(origin).is_some_and(|rest| rest.starts_with('/')) => {
            url.to_string()
        }
        _ => format!("{origin}/"),
    }
    .chars()
    .filter(|c| !c.is_control())
    .collect()
}

/// The visitor gives up the place (waiting or admitted): those behind move
/// up, an admitted visitor's slot frees and its pass is ended.
#[utoipa::path(post, path = "/gate/{queue}/leave", operation_id = "gateLeave", tag = "protected sites",
    params(("queue" = String, Path, description = "a queue that protects a site"), PresentedToken),
    responses((status = 204, description = "the place is given up (or none was held); the cookies are removed")))]
pub(super) async fn leave(State(state): State<AppState>, protected: Protected, headers: HeaderMap) -> Result<Response> {
    let token = visitor_token(&headers)?;
    let (visitor, token) = state.line.visitor_of(&protected.queue, &token)?;
    if state.visitors.leave(&token).await? {
        let admission = Admission {
            sub: visitor.name(),
            issued_s: token.issued_s,
            nonce: token.nonce,
        };
        let exp = now_s() + protected.protect.session_seconds;
        state
            .passes
            .revoke(&protected.queue, &admission.jti(), exp)
            .await
            .map_err(crate::queue::QueueError::from)?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    for name in [cookies::VISITOR, cookies::PASS] {
        if let Some(cookie) = cookies::set(name, "", 0) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_admitted_visitor_is_only_ever_sent_back_to_the_protected_origin() {
        let protect: Protect = serde_json::from_value(serde_json::json!({ "origin": "https://shop.example" })).unwrap();
        let back = |asked| return_to(&protect, asked);
        assert_eq!(back(Some("/checkout?x=1")), "https://shop.example/checkout?x=1");
        assert_eq!(back(Some("https://shop.example/a")), "https://shop.example/a");
        for elsewhere in [
            "//evil.example/a",
            "https://evil.example/",
            "https://shop.example.evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
        ] {
            assert_eq!(back(Some(elsewhere)), "https://shop.example/", "{elsewhere}");
        }
        assert_eq!(back(None), "https://shop.example/");
    }
}
