//! Counts and times every request the router answers, by the template of the
//! route it matched (so `/api/concerts/1/...` and `/api/concerts/2/...` are
//! one series), `(unmatched)` for a path no route has (the 404 fallback).
//! A method a route lacks (405) counts under the route's template. What is
//! refused before the router is counted where it is refused: shed requests
//! in `shedding.rs`, the HTTP parser's in `connections/json_errors.rs`.
//!
//! The metric handles of each series are looked up once and kept: building
//! the labels and finding the series in the recorder's registry on every
//! request showed in the poll's profile (allocations for four label strings,
//! two registry lookups).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{ready, Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use metrics::{Counter, Histogram};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::http::error::ErrorCode;
use crate::telemetry::metrics as m;

/// The route of an answer no route's template matched.
pub(super) const UNMATCHED: &str = "(unmatched)";

/// The series of one route: its latency by method, its answers by method,
/// status and error code. Routes are a few dozen templates and the rest is
/// small, so this stays small.
#[derive(Default)]
struct RouteSeries {
    latency: HashMap<Method, Histogram>,
    answers: HashMap<(Method, StatusCode, &'static str), Counter>,
}

#[derive(Clone, Default)]
pub(crate) struct RecordLayer {
    routes: Arc<RwLock<HashMap<String, RouteSeries>>>,
}

impl RecordLayer {
    fn record(&self, route: &str, method: &Method, status: StatusCode, code: &'static str, seconds: f64) {
        {
            let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
            if let Some(series) = routes.get(route) {
                let latency = series.latency.get(method);
                let answers = series.answers.get(&(method.clone(), status, code));
                if let (Some(latency), Some(answers)) = (latency, answers) {
                    latency.record(seconds);
                    answers.increment(1);
                    return;
                }
            }
        }
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        let series = routes.entry(route.to_string()).or_default();
        let (route, method_label) = (route.to_string(), method.as_str().to_string());
        series
            .latency
            .entry(method.clone())
            .or_insert_with(
                || metrics::histogram!(m::HTTP_DURATION, "route" => route.clone(), "method" => method_label.clone()),
            )
            .record(seconds);
        series
            .answers
            .entry((method.clone(), status, code))
            .or_insert_with(|| {
                metrics::counter!(
                    m::HTTP_REQUESTS,
                    "route" => route,
                    "method" => method_label,
                    "status" => status.as_str().to_string(),
                    "code" => code
                )
            })
            .increment(1);
    }
}

impl<S> Layer<S> for RecordLayer {
    type Service = Record<S>;

    fn layer(&self, inner: S) -> Record<S> {
        Record {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Record<S> {
    inner: S,
    layer: RecordLayer,
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
        RecordFuture {
            route: request.extensions().get::<MatchedPath>().cloned(),
            method: request.method().clone(),
            started: Instant::now(),
            layer: self.layer.clone(),
            inner: self.inner.call(request),
        }
    }
}

pin_project! {
    pub(crate) struct RecordFuture<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
        method: Method,
        started: Instant,
        layer: RecordLayer,
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
            let route = this.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
            let code = response
                .extensions()
                .get::<ErrorCode>()
                .map_or("", |code| code.as_str());
            let seconds = this.started.elapsed().as_secs_f64();
            this.layer.record(route, this.method, response.status(), code, seconds);
        }
        Poll::Ready(answer)
    }
}
