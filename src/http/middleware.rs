//! Cross-cutting layers: request ids, structured request logs, a body limit, and
//! a request deadline that answers 503 JSON instead of hanging.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::HeaderValue;
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use super::error::ErrorCode;
use super::Error;
use crate::config::Config;
use crate::telemetry::metrics as m;

/// Bodies here are tiny JSON documents; anything larger is refused with 413.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;

/// Cuts off requests running past `BOXOFFICE_REQUEST_TIMEOUT_MS` with 503.
pub(super) fn with_deadline<S: Clone + Send + Sync + 'static>(router: Router<S>, config: &Config) -> Router<S> {
    let timeout = Duration::from_millis(config.request_timeout_ms.max(1));
    router.layer(axum::middleware::from_fn(move |req: Request, next: Next| {
        with_timeout(req, next, timeout)
    }))
}

/// The layers every request passes through.
pub(super) fn wrap(router: Router) -> Router {
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let request_id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", %request_id, method = %req.method(), path = %req.uri().path())
                })
                .on_request(())
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Micros),
                ),
        )
        .layer(SetRequestIdLayer::x_request_id(RequestIds::new()))
}

/// Request ids `<process prefix>-<counter>`: unique per process start, and free
/// of the random-number syscall a UUID v4 per request costs.
#[derive(Clone)]
struct RequestIds {
    prefix: u32,
    counter: Arc<AtomicU64>,
}

impl RequestIds {
    fn new() -> Self {
        RequestIds {
            prefix: rand::random(),
            counter: Arc::default(),
        }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let sequence = self.counter.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:08x}-{sequence:x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

async fn with_timeout(req: Request, next: Next, limit: Duration) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => Error::Timeout.into_response(),
    }
}

/// Counts and times every request that matched a route, by its template (so
/// `/api/concerts/1/...` and `/api/concerts/2/...` are one series).
#[derive(Clone, Copy)]
pub(super) struct RecordLayer;

impl<S> Layer<S> for RecordLayer {
    type Service = Record<S>;

    fn layer(&self, inner: S) -> Record<S> {
        Record { inner }
    }
}

#[derive(Clone)]
pub(super) struct Record<S> {
    inner: S,
}

impl<S> Service<Request> for Record<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RecordFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map(|path| path.as_str().to_string())
            .unwrap_or_default();
        RecordFuture {
            method: request.method().as_str().to_string(),
            route,
            started: Instant::now(),
            inner: self.inner.call(request),
        }
    }
}

pin_project! {
    pub(super) struct RecordFuture<F> {
        #[pin]
        inner: F,
        route: String,
        method: String,
        started: Instant,
    }
}

impl<F, E> Future for RecordFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = ready!(this.inner.poll(cx));
        if let Ok(response) = &answer {
            let route = std::mem::take(this.route);
            let method = std::mem::take(this.method);
            metrics::histogram!(m::HTTP_DURATION, "route" => route.clone(), "method" => method.clone())
                .record(this.started.elapsed().as_secs_f64());
            let code = response.extensions().get::<ErrorCode>().map_or("", |code| code.0);
            metrics::counter!(
                m::HTTP_REQUESTS,
                "route" => route,
                "method" => method,
                "status" => response.status().as_str().to_string(),
                "code" => code
            )
            .increment(1);
        }
        Poll::Ready(answer)
    }
}
