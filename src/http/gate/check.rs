//! The forward-auth check (`GET /gate/{queue}`) that nginx `auth_request`,
//! Caddy `forward_auth`, Traefik `ForwardAuth` and Envoy `ext_authz` ask
//! before passing a request on to the protected origin.
//!
//! Which paths need a pass is `paths.rs`'s to say; the keys are served by
//! `jwks.rs`.
//!
//! A check reads no store: the queue's protection from the settings
//! snapshot, the pass checked by `pass::Passes` (signature remembered, expiry,
//! queue and origin, the in-memory revocation list). The original request
//! comes in the proxies' conventional headers: `X-Original-URI` (nginx) or
//! `X-Forwarded-Uri` (Caddy, Traefik).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::bypass::bypass;
use super::cookies;
use super::paths::guarded;
use super::Protected;
use crate::http::error::{Error, ErrorCode};
use crate::http::guards::client_ip::ClientIp;
use crate::http::state::AppState;
use crate::pass::{now_s, Admission, PassClaims, PassError};
use crate::queue::settings::{FailMode, Protect};
use crate::queue::Visitor;
use crate::telemetry::metrics::GATE_FAIL_OPEN;

/// The query parameter a pass comes back in from a waiting room on a host
/// of its own; the check turns it into the site's cookie.
const HANDOFF: &str = "boxoffice_pass";

/// May this request to the protected site pass? `200` with the visitor's
/// headers, or `401` with a `PASS_*` code and the waiting room's `Location`.
#[utoipa::path(get, path = "/gate/{queue}", operation_id = "gateCheck", tag = "protected sites",
    params(("queue" = String, Path, description = "a queue that protects a site"),
        ("X-Original-URI" = Option<String>, Header, description = "the original request's path and query (nginx); or X-Forwarded-Uri"),
        ("Cookie" = Option<String>, Header, description = "`boxoffice_pass`; or the pass in `Authorization: Bearer`")),
    responses(
        (status = 200, description = "pass: `X-Boxoffice-Visitor`, `X-Boxoffice-Queue`, `X-Boxoffice-Pass-Expires`; a pass handed over in the URI comes back as the `boxoffice_pass` cookie; a bypass (`bypassCidrs`, `bypassHeader`) answers `X-Boxoffice-Bypass` instead of the visitor",
            headers(("X-Boxoffice-Visitor" = String), ("X-Boxoffice-Queue" = String), ("X-Boxoffice-Pass-Expires" = u64)))
    ))]
pub(super) async fn check(
    State(state): State<AppState>,
    protected: Protected,
    ClientIp(client): ClientIp,
    // The request itself rather than a `HeaderMap`, which axum would clone:
    // a check is all headers, and this route is the hottest a site has.
    request: Request,
) -> Response {
    let headers = request.headers();
    let protect = &protected.protect;
    let uri = original_uri(headers);
    let path = uri.split(['?', '#']).next().unwrap_or("/");
    if !guarded(protect, path) {
        return passed(&protected.queue, None);
    }
    if let Some(rule) = bypass(&protected.queue, protect, client, headers) {
        let mut response = passed(&protected.queue, None);
        response.headers_mut().insert(
            HeaderName::from_static("x-boxoffice-bypass"),
            HeaderValue::from_static(rule.as_str()),
        );
        return response;
    }
    let handoff = query_value(uri, HANDOFF);
    let presented = handoff
        .or_else(|| cookies::read(headers, cookies::PASS))
        .or_else(|| bearer(headers));
    let checked = match presented {
        Some(raw) => state
            .passes
            .check(raw, &protected.queue, &protect.origin, || {
                state.limits.may_verify_pass(client)
            })
            .map_err(Error::from),
        None => Err(Error::refused(ErrorCode::PassMissing, "no admission pass")),
    };
    let err = match checked {
        Ok(claims) => {
            if let Some((pass, exp)) = renewed(&state, &protected, &claims) {
                let response = passed(&protected.queue, Some((&claims.sub, exp)));
                return with_cookie(response, Some(&pass), exp.saturating_sub(now_s()));
            }
            let lasts_s = claims.exp.saturating_sub(now_s());
            let response = passed(&protected.queue, Some((&claims.sub, claims.exp)));
            return with_cookie(response, handoff, lasts_s);
        }
        Err(err) => err,
    };
    // A pass ended, or of another queue, stays refused whatever happens.
    let ended = matches!(err, Error::Pass(PassError::Revoked | PassError::OtherQueue));
    if !ended && fails_open(&state, protect) {
        if let Some((sub, pass, exp)) = fail_open_pass(&state, &protected) {
            let response = passed(&protected.queue, Some((&sub, exp)));
            return with_cookie(response, Some(&pass), FAIL_OPEN_PASS_S);
        }
    }
    refused(err, &state, &protected, uri)
}

/// A visitor's session slides: once half of it or less is left, the pass is
/// renewed for a whole session (same admission, same `jti`), and the
/// admission's end in the active set follows in the next batch
/// (`queue::SessionActivity`). No store call is waited on here (the
/// `pass.issued` event goes in the background).
fn renewed(state: &AppState, protected: &Protected, claims: &PassClaims) -> Option<(String, u64)> {
    let session_s = protected.protect.session_seconds;
    let now = now_s();
    if claims.exp.saturating_sub(now).saturating_mul(2) > session_s {
        return None;
    }
    let visitor = Visitor::parse(&claims.sub)?;
    let admission = Admission::of_jti(&claims.jti).filter(|admission| admission.sub == claims.sub)?;
    let exp = now + session_s;
    let issued = state
        .passes
        .issue(&admission, &protected.queue, &protected.protect.origin, exp)
        .ok()?;
    state.passes.announce(&issued, true);
    state
        .sessions
        .extend(&protected.queue, visitor.line_id(), exp.saturating_mul(1000));
    Some((issued.token, exp))
}

/// How long a pass given while the room fails open lasts: short, so that
/// visitors go back through the room soon after Redis is back.
const FAIL_OPEN_PASS_S: u64 = 60;

/// Whether a visitor without a valid pass is let in anyway: the queue fails
/// open and its room cannot work (Redis is down, as the probes found).
fn fails_open(state: &AppState, protect: &Protect) -> bool {
    protect.fail_mode == FailMode::Open && state.redis.breaker().check().is_err()
}

/// A short pass for a visitor the room cannot queue; counted and logged.
fn fail_open_pass(state: &AppState, protected: &Protected) -> Option<(String, String, u64)> {
    let admission = Admission {
        sub: format!("open-{:016x}", rand::random::<u64>()),
        issued_s: i64::try_from(now_s()).unwrap_or(0),
        nonce: rand::random(),
    };
    let exp = now_s() + FAIL_OPEN_PASS_S;
    let issued = state
        .passes
        .issue(&admission, &protected.queue, &protected.protect.origin, exp)
        .ok()?;
    metrics::counter!(GATE_FAIL_OPEN, "queue" => protected.queue.clone()).increment(1);
    tracing::warn!(
        queue = protected.queue,
        sub = admission.sub,
        "Redis is down and the queue fails open: a short pass without waiting"
    );
    Some((admission.sub, issued.token, exp))
}

/// `response` with `pass` as the site's cookie, when there is one to set.
fn with_cookie(mut response: Response, pass: Option<&str>, lasts_s: u64) -> Response {
    if let Some(cookie) = pass.and_then(|pass| cookies::set(cookies::PASS, pass, lasts_s)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The original request's path and query, as the proxy names it.
fn original_uri(headers: &HeaderMap) -> &str {
    ["x-original-uri", "x-forwarded-uri"]
        .iter()
        .find_map(|name| headers.get(*name).and_then(|value| value.to_str().ok()))
        .filter(|uri| uri.starts_with('/'))
        .unwrap_or("/")
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The value of `name` in the URI's query, as sent (a pass is base64url and dots).
fn query_value<'a>(uri: &'a str, name: &str) -> Option<&'a str> {
    let query = uri.split_once('?')?.1.split('#').next()?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

fn passed(queue: &str, visitor: Option<(&str, u64)>) -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    put("x-boxoffice-queue", queue);
    if let Some((sub, exp)) = visitor {
        put("x-boxoffice-visitor", sub);
        put("x-boxoffice-pass-expires", itoa::Buffer::new().format(exp));
    }
    response
}

/// The refusal, with the waiting room's address: the queue, and the page to
/// return to.
fn refused(error: Error, state: &AppState, protected: &Protected, uri: &str) -> Response {
    let room = &state.config.pass.room_url;
    let back = format!("{}{}", protected.protect.origin, uri);
    let location = format!(
        "{room}{}queue={}&return={}",
        if room.contains('?') { '&' } else { '?' },
        percent_encoded(&protected.queue),
        percent_encoded(&back)
    );
    // Apps that cannot follow a page read the room's address from the body
    // (the proxy's config sends them the JSON instead of a redirect).
    let mut more = serde_json::Map::new();
    more.insert("queue".into(), protected.queue.clone().into());
    more.insert("room".into(), location.clone().into());
    let mut response = error.into_response_with(more);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn percent_encoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handed_over_pass_is_read_from_the_query() {
        assert_eq!(query_value("/x?a=1&boxoffice_pass=p.q.r", HANDOFF), Some("p.q.r"));
        assert_eq!(query_value("/x?boxoffice_pass=", HANDOFF), None);
        assert_eq!(query_value("/x", HANDOFF), None);
        assert_eq!(percent_encoded("https://a/b?c=d e"), "https%3A%2F%2Fa%2Fb%3Fc%3Dd%20e");
    }
}
