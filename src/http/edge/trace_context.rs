//! The server span of each request, for OpenTelemetry: a child of the
//! caller's span when the request carries a W3C `traceparent`, else the root
//! of a new trace. Installed only when tracing is on (`telemetry::otel`).
//! A request whose trace the sampler does not keep gets no span: only its
//! trace id, for its log line and error bodies.
//!
//! The trace id goes to the request log's span as a request extension,
//! [`TraceId`], which the log layer inside this one reads; error bodies take
//! it from the span they are made in (`http::error`).

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use opentelemetry::trace::TraceId as OtelTraceId;
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};
use tracing::field::Empty;
use tracing::instrument::Instrumented;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::record::UNMATCHED;
use super::request_id::X_REQUEST_ID;
use crate::telemetry::otel;

/// The trace a request belongs to, in hex.
#[derive(Clone, Debug)]
pub(crate) struct TraceId(pub(crate) String);

#[derive(Clone, Copy)]
pub(super) struct TraceContextLayer {
    /// Whether the request log is written, which alone reads [`TraceId`]:
    /// without it, the id is not formatted for each request.
    pub(super) request_logs: bool,
}

impl<S> Layer<S> for TraceContextLayer {
    type Service = TraceContext<S>;

    fn layer(&self, inner: S) -> TraceContext<S> {
        TraceContext {
            inner,
            request_logs: self.request_logs,
        }
    }
}

#[derive(Clone)]
pub(super) struct TraceContext<S> {
    inner: S,
    request_logs: bool,
}

impl<S> Service<Request> for TraceContext<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TraceContextFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let caller = otel::caller_context(request.headers());
        if !otel::keeps(&caller) {
            let trace = otel::unsampled_trace(&caller);
            if self.request_logs {
                request.extensions_mut().insert(TraceId(trace.to_string()));
            }
            return TraceContextFuture::Unsampled {
                inner: otel::with_unsampled_trace(trace, self.inner.call(request)),
            };
        }
        let span = server_span(&request);
        let _ = span.set_parent(caller);
        if self.request_logs {
            if let Some(id) = otel::trace_id(&span) {
                request.extensions_mut().insert(TraceId(id));
            }
        }
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        TraceContextFuture::Sampled {
            span: span.clone(),
            inner: inner.instrument(span),
        }
    }
}

/// Named `METHOD /route/{template}` (the semantic conventions' HTTP server span).
fn server_span(request: &Request) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str);
    let method = request.method().as_str();
    let request_id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        target: "boxoffice::otel",
        "request",
        otel.name = format_args!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = route,
        url.path = request.uri().path(),
        http.response.status_code = Empty,
        boxoffice.request_id = request_id,
    )
}

pin_project! {
    #[project = Projected]
    pub(super) enum TraceContextFuture<F> {
        Sampled {
            #[pin]
            inner: Instrumented<F>,
            span: Span,
        },
        Unsampled {
            #[pin]
            inner: TaskLocalFuture<OtelTraceId, F>,
        },
    }
}

impl<F, E> Future for TraceContextFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (inner, span) = match self.project() {
            Projected::Unsampled { inner } => return inner.poll(cx),
            Projected::Sampled { inner, span } => (inner, span),
        };
        let answer = ready!(inner.poll(cx));
        if let Ok(response) = &answer {
            let status = response.status();
            span.record("http.response.status_code", status.as_u16());
            if status.is_server_error() {
                span.record("otel.status_code", "error");
            }
        }
        Poll::Ready(answer)
    }
}
