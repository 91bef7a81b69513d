//! The forward-auth check (`GET /gate/{queue}`) that nginx `auth_request`,
//! Caddy `forward_auth`, Traefik `ForwardAuth` and Envoy `ext_authz` ask
//! before passing a request on to the protected origin, and the public keys
//! (`GET /.well-known/jwks.json`) with which anyone verifies a pass offline.
//!
//! A check reads no store: the queue's protection from the settings
//! snapshot, the pass checked by `pass::Passes` (signature remembered, expiry,
//! queue and origin, the in-memory revocation list). The original request
//! comes in the proxies' conventional headers: `X-Original-URI` (nginx) or
//! `X-Forwarded-Uri` (Caddy, Traefik).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::bypass::bypass;
use super::cookies;
use super::Protected;
use crate::http::error::{Error, ErrorCode};
use crate::http::guards::client_ip::ClientIp;
use crate::http::state::AppState;
use crate::pass::{now_s, Admission, PassClaims, PassError, PublicJwk};
use crate::queue::settings::{FailMode, Protect};
use crate::queue::Visitor;
use crate::telemetry::metrics::GATE_FAIL_OPEN;

/// The query parameter a pass comes back in from a waiting room on a host
/// of its own; the check turns it into the site's cookie.
const HANDOFF: &str = "boxoffice_pass";

/// Paths under a guarded pattern that pass anyway: the site's static files.
const STATIC_SUFFIXES: [&str; 14] = [
    ".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico", ".woff", ".woff2", ".ttf",
];

#[derive(Serialize, ToSchema)]
pub(crate) struct Jwks {
    keys: Vec<JwkView>,
}

/// An Ed25519 public key (RFC 8037).
#[derive(Serialize, ToSchema)]
struct JwkView {
    #[schema(example = "OKP")]
    kty: &'static str,
    #[schema(example = "Ed25519")]
    crv: &'static str,
    #[schema(example = "EdDSA")]
    alg: &'static str,
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    usage: &'static str,
    /// The key's RFC 7638 thumbprint, as passes' headers name it.
    kid: String,
    /// The public key, base64url.
    x: String,
}

impl From<&PublicJwk> for JwkView {
    fn from(jwk: &PublicJwk) -> Self {
        JwkView {
            kty: jwk.kty,
            crv: jwk.crv,
            alg: jwk.alg,
            usage: jwk.usage,
            kid: jwk.kid.clone(),
            x: jwk.x.clone(),
        }
    }
}

/// The public keys that verify passes, newest (the signing one) first.
#[utoipa::path(get, path = "/.well-known/jwks.json", operation_id = "passKeys", tag = "protected sites",
    responses((status = 200, description = "the JWKS document", body = Jwks)))]
pub(super) async fn jwks(State(state): State<AppState>) -> Response {
    let keys = state.passes.published_keys().iter().map(JwkView::from).collect();
    let mut response = Json(Jwks { keys }).into_response();
    // Keys rotate rarely; verifiers may hold them a few minutes.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

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
    headers: HeaderMap,
) -> Response {
    let protect = &protected.protect;
    let uri = original_uri(&headers);
    let path = uri.split(['?', '#']).next().unwrap_or("/");
    if !guarded(protect, path) {
        return passed(&protected.queue, None);
    }
    if let Some(rule) = bypass(&protected.queue, protect, client, &headers) {
        let mut response = passed(&protected.queue, None);
        response.headers_mut().insert(
            HeaderName::from_static("x-boxoffice-bypass"),
            HeaderValue::from_static(rule.as_str()),
        );
        return response;
    }
    let handoff = query_value(uri, HANDOFF);
    let presented = handoff
        .or_else(|| cookies::read(&headers, cookies::PASS))
        .or_else(|| bearer(&headers));
    let checked = match presented {
        Some(raw) => state
            .passes
            .check(raw, &protected.queue, &protect.origin)
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
/// (`queue::SessionActivity`). No store call here.
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

/// Whether `path` needs a pass: under one of the protection's patterns, and
/// not a static file.
pub(crate) fn guarded(protect: &Protect, path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    if STATIC_SUFFIXES.iter().any(|suffix| lower.ends_with(suffix)) {
        return false;
    }
    protect.paths.iter().any(|pattern| matches(pattern, path))
}

/// `*` matches any run of characters (`/` included); the rest literally.
fn matches(pattern: &str, path: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return false;
    };
    let Some(mut rest) = path.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
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

    fn protect(paths: &[&str]) -> Protect {
        serde_json::from_value(serde_json::json!({ "origin": "https://shop.example", "paths": paths })).unwrap()
    }

    #[test]
    fn patterns_guard_what_they_name_and_static_files_pass() {
        let checkout = protect(&["/checkout/*", "/cart"]);
        assert!(guarded(&checkout, "/checkout/pay"));
        assert!(guarded(&checkout, "/checkout/a/b"));
        assert!(guarded(&checkout, "/cart"));
        assert!(!guarded(&checkout, "/cart/x"));
        assert!(!guarded(&checkout, "/"));
        assert!(!guarded(&checkout, "/checkout/app.JS"));
        let everything = protect(&["/*"]);
        assert!(guarded(&everything, "/"));
        assert!(matches("/a/*/c*", "/a/b/c.html"));
        assert!(!matches("/a/*/c", "/a/b/d"));
    }

    #[test]
    fn a_handed_over_pass_is_read_from_the_query() {
        assert_eq!(query_value("/x?a=1&boxoffice_pass=p.q.r", HANDOFF), Some("p.q.r"));
        assert_eq!(query_value("/x?boxoffice_pass=", HANDOFF), None);
        assert_eq!(query_value("/x", HANDOFF), None);
        assert_eq!(percent_encoded("https://a/b?c=d e"), "https%3A%2F%2Fa%2Fb%3Fc%3Dd%20e");
    }
}
