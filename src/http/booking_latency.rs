//! Times holds and payments for adaptive admission (`queue::adaptive`): each
//! answer's latency goes to the queue of the token it carries. Requests with
//! no genuine token are the client's mistake, not the back end's health, and
//! are not counted.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::extract::token_from_headers;
use super::state::AppState;

/// The middleware, a route layer of the routes whose class is timed
/// (`routes::Class::timed`).
pub(crate) async fn timed(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let queue = token_from_headers(request.headers())
        .ok()
        .flatten()
        .and_then(|raw| state.gate.queue_of(&raw).ok());
    let Some(queue) = queue else {
        return next.run(request).await;
    };
    // Recorded when dropped: a request cut off by its deadline (its future
    // dropped before any answer) counts as slow and failed, which it was.
    let mut sample = Sample {
        state,
        queue,
        started: Instant::now(),
        failed: true,
    };
    let response = next.run(request).await;
    sample.failed = response.status().is_server_error();
    response
}

struct Sample {
    state: AppState,
    queue: String,
    started: Instant,
    failed: bool,
}

impl Drop for Sample {
    fn drop(&mut self) {
        self.state
            .booking_health
            .record(&self.queue, self.started.elapsed(), self.failed);
    }
}
