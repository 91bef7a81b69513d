//! HTTP: one module per API surface (`api/` for seed 000, `v1/` for seed 004),
//! each exposing `router()`, merged here, plus health and operations routes.
//! Handlers translate HTTP to calls on the domain's services and back; the
//! rules live in those services. What both surfaces share (extractors, the
//! token gate, response bodies, the error type) lives beside them, not in
//! either one.

mod api;
pub(crate) mod error;
mod extract;
mod gate;
mod health;
pub(crate) mod limits;
mod middleware;
mod ops;
mod v1;
pub(crate) mod views;

use std::sync::Arc;

use axum::Router;
use sqlx::PgPool;

use crate::booking::{Auditor, Balances, Catalog, Checkout, Holds};
use crate::config::Config;
use crate::queue::{Gate, Line, Scheduler};
use crate::store::redis::Redis;
use crate::users::UserDirectory;
pub(crate) use error::Error;
use limits::JoinLimiter;
use views::LocalClock;

/// Everything a handler may need. axum clones the state for every request, so
/// it is one `Arc`: a clone is a single reference-count increment.
#[derive(Clone)]
pub struct AppState(Arc<AppContext>);

impl AppState {
    pub(crate) fn new(context: AppContext) -> Self {
        AppState(Arc::new(context))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppContext;

    fn deref(&self) -> &AppContext {
        &self.0
    }
}

/// The services, wired once in `startup`. Public are the ones tests and the
/// tools in `examples/` drive directly (the stores, the line, the scheduler).
pub struct AppContext {
    pub(crate) config: Arc<Config>,
    pub db: PgPool,
    pub redis: Redis,
    pub users: Arc<UserDirectory>,
    pub line: Line,
    pub scheduler: Scheduler,
    pub(crate) gate: Gate,
    pub(crate) catalog: Catalog,
    pub(crate) holds: Holds,
    pub(crate) balances: Balances,
    pub(crate) checkout: Checkout,
    pub(crate) auditor: Auditor,
    pub(crate) join_limiter: Arc<JoinLimiter>,
    pub(crate) clock: LocalClock,
}

pub(crate) fn router(state: AppState) -> Router {
    // The queue's join and position poll make one Redis call each, bounded by the
    // Redis client's own timeouts, and read no body, so they skip the request
    // deadline: its timer was a measurable part of a poll's cost
    // (loadtest/RESULTS.md). Everything else may wait on Postgres or a body.
    let hot = api::queue_router();
    let bounded = Router::new()
        .merge(health::router())
        .merge(ops::router())
        .merge(api::router())
        .merge(v1::router());
    let app = hot
        .merge(middleware::with_deadline(bounded, &state.config))
        .fallback(|| async {
            Error::NotFound {
                code: "ROUTE_NOT_FOUND",
                message: "no such route".into(),
            }
        })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .with_state(state.clone());
    middleware::wrap(app)
}
