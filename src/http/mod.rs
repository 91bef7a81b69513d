//! HTTP: one module per API surface, each exposing `router()`, merged here.
//! Handlers translate HTTP to calls on the queue and booking services and back;
//! the rules live in those services.

pub mod balances;
pub mod concerts;
pub mod error;
pub mod extract;
pub mod health;
pub mod limits;
pub mod middleware;
pub mod ops;
pub mod v1;
pub mod views;
pub mod waiting_queue;

use std::sync::Arc;

use axum::Router;
use sqlx::PgPool;

use crate::booking::BookingService;
use crate::config::Config;
use crate::queue::QueueService;
use crate::store::redis::Redis;
use crate::users::UserDirectory;
pub use error::Error;
use limits::JoinLimiter;
use views::LocalClock;

/// Everything a handler may need. axum clones the state for every request, so
/// it is one `Arc`: a clone is a single reference-count increment.
#[derive(Clone)]
pub struct AppState(Arc<AppContext>);

impl AppState {
    pub fn new(context: AppContext) -> Self {
        AppState(Arc::new(context))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppContext;

    fn deref(&self) -> &AppContext {
        &self.0
    }
}

pub struct AppContext {
    pub config: Arc<Config>,
    pub db: PgPool,
    pub redis: Redis,
    pub users: Arc<UserDirectory>,
    pub queue: QueueService,
    pub booking: BookingService,
    pub join_limiter: Arc<JoinLimiter>,
    pub clock: LocalClock,
}

pub fn router(state: AppState) -> Router {
    // The queue's join and position poll make one Redis call each, bounded by the
    // Redis client's own timeouts, and read no body, so they skip the request
    // deadline: its timer was ~2 µs of the ~20 µs a poll costs the server
    // (loadtest/RESULTS.md). Everything else may wait on Postgres or a body.
    let hot = waiting_queue::router();
    let bounded = Router::new()
        .merge(health::router())
        .merge(ops::router())
        .merge(concerts::router())
        .merge(balances::router())
        .merge(v1::router());
    let api = hot
        .merge(middleware::with_deadline(bounded, &state.config))
        .fallback(|| async {
            Error::NotFound {
                code: "ROUTE_NOT_FOUND",
                message: "no such route".into(),
            }
        })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .with_state(state.clone());
    middleware::wrap(api)
}
