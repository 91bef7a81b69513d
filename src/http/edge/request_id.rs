//! `X-Request-Id` on every request and its answer: the one a proxy in front
//! set, or `<process prefix>-<counter>` (unique per process start, and free of
//! the random-number syscall a UUID v4 per request costs).
//!
//! One layer instead of tower-http's pair (`SetRequestId` + `PropagateRequestId`):
//! that pair cost about 1.7 µs of a 15 µs poll, mostly the id's formatting, a
//! request extension and a second future wrapper (loadtest/RESULTS.md).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use axum::extract::Request;
use axum::http::header::HeaderName;
use axum::http::HeaderValue;
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone)]
pub(super) struct RequestIdLayer {
    prefix: [u8; 8],
    counter: Arc<AtomicU64>,
}

impl RequestIdLayer {
    pub(super) fn new() -> Self {
        let mut prefix = [0; 8];
        write_hex(&mut prefix, u64::from(rand::random::<u32>()));
        RequestIdLayer {
            prefix,
            counter: Arc::default(),
        }
    }

    fn next_id(&self) -> HeaderValue {
        let sequence = self.counter.fetch_add(1, Ordering::Relaxed);
        // "xxxxxxxx-" and up to 16 hex digits.
        let mut id = [0_u8; 25];
        id[..8].copy_from_slice(&self.prefix);
        id[8] = b'-';
        let digits = (64 - sequence.leading_zeros()).div_ceil(4).max(1) as usize;
        write_hex(&mut id[9..9 + digits], sequence);
        HeaderValue::from_bytes(&id[..9 + digits]).unwrap_or(HeaderValue::from_static("-"))
    }
}

/// Writes `value`'s low nibbles as lowercase hex, filling `out` from the right.
fn write_hex(out: &mut [u8], mut value: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b"0123456789abcdef"[(value & 0xf) as usize];
        value >>= 4;
    }
}

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;

    fn layer(&self, inner: S) -> RequestId<S> {
        RequestId {
            inner,
            ids: self.clone(),
        }
    }
}

#[derive(Clone)]
pub(super) struct RequestId<S> {
    inner: S,
    ids: RequestIdLayer,
}

impl<S> Service<Request> for RequestId<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let id = match request.headers().get(&X_REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = self.ids.next_id();
                request.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
                id
            }
        };
        RequestIdFuture {
            inner: self.inner.call(request),
            id: Some(id),
        }
    }
}

pin_project! {
    pub(super) struct RequestIdFuture<F> {
        #[pin]
        inner: F,
        id: Option<HeaderValue>,
    }
}

impl<F, E> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut answer = ready!(this.inner.poll(cx));
        if let (Ok(response), Some(id)) = (&mut answer, this.id.take()) {
            response.headers_mut().entry(X_REQUEST_ID.clone()).or_insert(id);
        }
        Poll::Ready(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_process_prefix_and_a_counter_in_hex() {
        let ids = RequestIdLayer::new();
        let prefix = std::str::from_utf8(&ids.prefix).unwrap().to_string();
        assert_eq!(ids.next_id(), format!("{prefix}-0").as_str());
        assert_eq!(ids.next_id(), format!("{prefix}-1").as_str());
        ids.counter.store(0xabc, Ordering::Relaxed);
        assert_eq!(ids.next_id(), format!("{prefix}-abc").as_str());
        ids.counter.store(u64::MAX, Ordering::Relaxed);
        assert_eq!(ids.next_id(), format!("{prefix}-ffffffffffffffff").as_str());
    }
}
