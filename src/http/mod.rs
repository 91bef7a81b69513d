//! HTTP: one module per API surface (`api/` for seed 000, `v1/` for seed 004),
//! each exposing `router()`, merged here, plus health and operations routes.
//! Handlers translate HTTP to calls on the domain's services and back; the
//! rules live in those services. What both surfaces share (extractors, the
//! token gate, response bodies, the error type) lives beside them, not in
//! either one.

mod admin;
mod api;
mod booking_latency;
pub(crate) mod client_ip;
pub(crate) mod connections;
pub(crate) mod error;
mod extract;
mod gate;
mod health;
mod identity;
mod join;
pub(crate) mod limits;
mod middleware;
mod openapi;
mod ops;
mod pages;
mod record;
mod request_id;
pub(crate) mod shedding;
mod state;
mod v1;
pub(crate) mod views;

use crate::http::error::ErrorCode;
use axum::handler::Handler;
use axum::{Extension, Router};

pub(crate) use error::Error;
pub use state::{AppState, HttpContext};

pub(crate) fn router(state: AppState) -> Router {
    let config = &state.config;
    // Two kinds of route skip the request deadline. The queue's join and poll
    // make one Redis call each, bounded by the Redis client's own timeouts, and
    // the deadline's timer was a measurable part of a poll's cost
    // (loadtest/RESULTS.md). The routes that move money have deadlines of their
    // own that know what happened (`store::db::Db::decisive`): cutting one off
    // from outside would answer 503 while its statement might still commit.
    let queue = api::queue_router().merge(v1::queue_router());
    let money = api::money_router().merge(v1::money_router());
    // The hold and payment routes time themselves for adaptive admission
    // (`booking_latency`), which needs the state as an extension.
    let booking = middleware::with_deadline(api::router().merge(v1::router()), config)
        .merge(money)
        .layer(Extension(state.clone()));
    let operations = middleware::with_deadline(
        health::router()
            .merge(ops::router())
            .merge(admin::router())
            .merge(pages::router())
            .merge(openapi::router()),
        config,
    );
    // The fallbacks are counted too: a route layer only wraps the routes.
    let record = record::RecordLayer::default();
    let app = queue
        .merge(booking)
        .merge(operations)
        .route_layer(record.clone())
        .fallback(route_not_found.layer(record.clone()))
        .method_not_allowed_fallback(method_not_allowed.layer(record))
        .with_state(state.clone());
    middleware::wrap(app)
}

async fn route_not_found() -> Error {
    Error::Refused {
        code: ErrorCode::RouteNotFound,
        message: "no such route".into(),
    }
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}
