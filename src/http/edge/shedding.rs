//! Load shedding: each route group has a bound on the requests it works on at
//! once in this instance, and a request beyond it is answered at once with
//! `503 OVERLOADED` and `Retry-After` instead of waiting in line behind the
//! others. A waiting-room gateway exists to stay responsive under a flood.
//!
//! The layer sits outside every other one (request ids, logs, path
//! normalisation, routing) and answers the excess with a response built once,
//! because a refusal only helps if it costs far less than the work it refuses:
//! shed inside the router, a refused join cost the server most of what a served
//! one did (loadtest/RESULTS.md has the measurements). A route's group follows
//! from its class in the route table (`http::routes`), looked up by its path;
//! operations (`/health`, `/ready`, `/metrics`, `/ops`) are never shed.
//!
//! A refusal is counted like any answer (`boxoffice_http_requests_total`,
//! status 503, code `OVERLOADED`), under its group's name as the route, since
//! the request never reached the router that would have named its template:
//! `(queue)` or `(booking)`. The series' handles are made once, here, so a
//! refusal builds no labels; the total is also kept for the `/ops` page.

use crate::http::error::ErrorCode;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use metrics::Counter;
use pin_project_lite::pin_project;
use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service};

use crate::config::LimitsConfig;
use crate::telemetry::metrics as m;

/// The in-flight bound a route shares (its class says which: `http::routes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShedGroup {
    /// Joins and polls of both APIs.
    Queue,
    /// Booking and money.
    Booking,
    /// Never shed.
    Never,
}

/// Each route path's group, found for a request by the matcher axum's router
/// itself uses (matchit), on the path before it is normalised: no allocation,
/// and nothing inferred from a path's prefix.
#[derive(Clone, Default)]
pub(crate) struct ShedGroups(Arc<matchit::Router<ShedGroup>>);

impl ShedGroups {
    /// `routes`: each route's path template (axum's syntax) and group; a path
    /// given again (another method of it) keeps its first group.
    pub(crate) fn new(routes: impl IntoIterator<Item = (&'static str, ShedGroup)>) -> Self {
        let mut paths = matchit::Router::new();
        for (path, group) in routes {
            // The only refusal is a path already there; the route table's tests
            // check that every route finds its own group.
            let _ = paths.insert(path, group);
        }
        ShedGroups(Arc::new(paths))
    }

    /// The group of the route `path` would reach once its trailing slashes
    /// are trimmed (as the router sees it); a path no route has is not shed.
    pub(crate) fn of(&self, path: &str) -> ShedGroup {
        let trimmed = path.trim_end_matches('/');
        let path = if trimmed.is_empty() { "/" } else { trimmed };
        self.0.at(path).map_or(ShedGroup::Never, |found| *found.value)
    }
}

/// The methods a refusal is counted under; any other is `OTHER`.
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "OTHER"];

fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::PATCH => 3,
        Method::DELETE => 4,
        _ => 5,
    }
}

/// The refusals of one group: a counter per method, made once.
struct GroupRefusals([Counter; METHODS.len()]);

impl GroupRefusals {
    fn new(route: &'static str) -> Self {
        GroupRefusals(METHODS.map(|method| {
            let counter = metrics::counter!(
                m::HTTP_REQUESTS,
                "route" => route,
                "method" => method,
                "status" => "503",
                "code" => ErrorCode::Overloaded.as_str()
            );
            // Shown at 0 from the start, so a dashboard's rate() reads 0, not nothing.
            counter.absolute(0);
            counter
        }))
    }
}

struct Refusals {
    queue: GroupRefusals,
    booking: GroupRefusals,
    total: AtomicU64,
}

/// The in-flight bounds and the refusals' counts, shared by every clone of the
/// service, and the routes' groups.
#[derive(Clone)]
pub(crate) struct ShedLayer {
    queue: Option<Arc<Semaphore>>,
    booking: Option<Arc<Semaphore>>,
    refusals: Arc<Refusals>,
    groups: ShedGroups,
}

impl ShedLayer {
    pub(crate) fn new(limits: &LimitsConfig) -> Self {
        let bound = |max: usize| (max > 0).then(|| Arc::new(Semaphore::new(max)));
        ShedLayer {
            queue: bound(limits.max_inflight_queue),
            booking: bound(limits.max_inflight_booking),
            refusals: Arc::new(Refusals {
                queue: GroupRefusals::new("(queue)"),
                booking: GroupRefusals::new("(booking)"),
                total: AtomicU64::new(0),
            }),
            groups: ShedGroups::default(),
        }
    }

    /// The same bounds and counts, shedding the routes of `groups`.
    pub(crate) fn for_routes(&self, groups: ShedGroups) -> Self {
        ShedLayer { groups, ..self.clone() }
    }

    /// The bound of `group` and its refusals' counters, if it has a bound.
    fn bound(&self, group: ShedGroup) -> Option<(&Arc<Semaphore>, &GroupRefusals)> {
        match group {
            ShedGroup::Queue => self.queue.as_ref().map(|bound| (bound, &self.refusals.queue)),
            ShedGroup::Booking => self.booking.as_ref().map(|bound| (bound, &self.refusals.booking)),
            ShedGroup::Never => None,
        }
    }

    /// Requests this instance refused with `503 OVERLOADED` since it started.
    pub(crate) fn refused(&self) -> u64 {
        self.refusals.total.load(Ordering::Relaxed)
    }

    fn count_refusal(&self, counters: &GroupRefusals, method: &Method) {
        counters.0[method_index(method)].increment(1);
        self.refusals.total.fetch_add(1, Ordering::Relaxed);
    }
}

impl<S> Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Shed<S> {
        Shed {
            inner,
            bounds: self.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Shed<S> {
    inner: S,
    bounds: ShedLayer,
}

pin_project! {
    /// The inner service's answer, holding the group's permit until it is ready.
    /// (No box: this runs on every request, refused or not.)
    #[project = ShedFutureProjection]
    pub(crate) enum ShedFuture<F> {
        Refused { response: Option<Response> },
        Admitted { #[pin] inner: F, permit: Option<OwnedSemaphorePermit> },
    }
}

impl<F, E> Future for ShedFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ShedFutureProjection::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => Poll::Pending,
            },
            ShedFutureProjection::Admitted { inner, permit } => {
                let answer = inner.poll(cx);
                if answer.is_ready() {
                    permit.take();
                }
                answer
            }
        }
    }
}

impl<S> Service<Request> for Shed<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ShedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let group = self.bounds.groups.of(request.uri().path());
        let permit = match self.bounds.bound(group) {
            Some((bound, counters)) => match bound.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    self.bounds.count_refusal(counters, request.method());
                    let is_poll = group == ShedGroup::Queue && request.method() == Method::GET;
                    return ShedFuture::Refused {
                        response: Some(overloaded(is_poll)),
                    };
                }
            },
            None => None,
        };
        ShedFuture::Admitted {
            inner: self.inner.call(request),
            permit,
        }
    }
}

/// `503 OVERLOADED` with `Retry-After`, spread so the refused do not all come
/// back in the same second; a refused poll is told to come back later than usual.
fn overloaded(is_poll: bool) -> Response {
    let mut rng = rand::rng();
    let (retry_after_s, body) = if is_poll {
        let poll_after_ms: u64 = rng.random_range(5_000..10_000);
        (
            poll_after_ms / 1000,
            format!(
                r#"{{"code":"{}","message":"too many requests in flight; poll again in {} s","pollAfterMs":{poll_after_ms}}}"#,
                ErrorCode::Overloaded,
                poll_after_ms / 1000
            ),
        )
    } else {
        let retry_after_s: u64 = rng.random_range(1..=3);
        (
            retry_after_s,
            format!(
                r#"{{"code":"{}","message":"too many requests in flight; retry in {retry_after_s} s"}}"#,
                ErrorCode::Overloaded
            ),
        )
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
    // Answered outside the layers that add it to every other answer.
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    #[tokio::test]
    async fn a_shed_poll_is_told_to_come_back_later_than_usual() {
        let response = overloaded(true);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let retry_after: u64 = response.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(&to_bytes(response.into_body(), 1024).await.unwrap()).unwrap();
        assert_eq!(body["code"], "OVERLOADED");
        let poll_after = body["pollAfterMs"].as_u64().unwrap();
        assert!((5_000..10_000).contains(&poll_after), "{poll_after}");
        assert_eq!(retry_after, poll_after / 1000);

        let join = overloaded(false);
        let retry_after: u64 = join.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
        assert!((1..=3).contains(&retry_after));
    }
}
