//! Cross-cutting layers: request ids, structured request logs, a body limit,
//! `X-Content-Type-Options: nosniff` on every answer (no browser may take a
//! JSON answer for a script or a page), and a request deadline that answers
//! 503 JSON instead of hanging.

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tracing::Level;

use super::record::UNMATCHED;
use super::request_id::{RequestIdLayer, X_REQUEST_ID};
use super::trace_context::{TraceContextLayer, TraceId};
use crate::http::error::Error;
use crate::telemetry::otel;

/// Bodies here are tiny JSON documents; anything larger is refused with 413.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;

/// Cuts off requests to `route` running past `timeout`
/// (`BOXOFFICE_REQUEST_TIMEOUT_MS`) with 503.
pub(crate) fn with_deadline<S: Clone + Send + Sync + 'static>(
    route: MethodRouter<S>,
    timeout: Duration,
) -> MethodRouter<S> {
    route.layer(axum::middleware::from_fn(move |req: Request, next: Next| {
        with_timeout(req, next, timeout)
    }))
}

/// The layers every request passes through. Request logs (a span and a line
/// per request) only when `RUST_LOG` keeps tower-http's `info` lines, as it
/// does by default: the layer cost about 1 µs of a poll even with its lines
/// filtered out, so a server run with `RUST_LOG=warn` goes without it. The
/// trace layer only when OpenTelemetry traces are on (`telemetry::otel`),
/// outside the log's, which shows its trace id.
pub(crate) fn wrap(router: Router) -> Router {
    let router = router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    let request_logs = tracing::enabled!(target: "tower_http::trace::on_response", Level::INFO);
    let router = if request_logs {
        router.layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(|response: &Response, latency: Duration, _: &tracing::Span| {
                    // The target keeps `RUST_LOG=tower_http=...` deciding, as before.
                    tracing::info!(
                        target: "tower_http::trace::on_response",
                        status = response.status().as_u16(),
                        latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
                        "finished processing request"
                    );
                }),
        )
    } else {
        router
    };
    let router = if otel::enabled() {
        router.layer(TraceContextLayer { request_logs })
    } else {
        router
    };
    router.layer(RequestIdLayer::new())
}

/// The span of a request's log lines: its id, method, path, route and trace.
fn request_span(req: &Request) -> tracing::Span {
    let request_id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str);
    let span = tracing::info_span!(
        "request",
        %request_id,
        method = %req.method(),
        path = %req.uri().path(),
        route = %route,
        trace_id = tracing::field::Empty,
    );
    if let Some(TraceId(trace_id)) = req.extensions().get::<TraceId>() {
        span.record("trace_id", trace_id.as_str());
    }
    span
}

async fn with_timeout(req: Request, next: Next, limit: Duration) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => Error::Timeout.into_response(),
    }
}
