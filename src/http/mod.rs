//! HTTP: one module per API surface (`api/` for seed 000, `v1/` for seed 004),
//! each exposing `router()`, merged here, plus health and operations routes.
//! Handlers translate HTTP to calls on the domain's services and back; the
//! rules live in those services. What both surfaces share lives beside them,
//! not in either one: the edge every request crosses first (`edge/`:
//! connections, shedding, request ids, metrics, the common layers), the
//! guards that let a request reach its handler (`guards/`: identity, client
//! IP, the token gate), plain extractors (`extract/`), response bodies
//! (`views/`) and the one error type.

mod admin;
mod api;
mod booking_latency;
pub(crate) mod edge;
pub(crate) mod error;
mod extract;
mod guards;
mod health;
mod openapi;
mod ops;
mod pages;
mod state;
mod v1;
pub(crate) mod views;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::handler::Handler;
use axum::{Extension, Router};
use tokio::net::TcpListener;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

use edge::connections::{self, Caps, Timeouts};
use edge::{middleware, record};
pub(crate) use error::Error;
use error::ErrorCode;
pub use state::{AppState, HttpContext};

/// Serves `state`'s routes on `listener` until `shutdown` resolves, then lets
/// the requests in flight finish.
pub(crate) async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Shedding sits outside everything, so that a refusal costs next to nothing.
    let app = state
        .shed
        .clone()
        .layer(NormalizePathLayer::trim_trailing_slash().layer(router(state.clone())));
    let limits = &state.config.connections;
    let caps = Arc::new(Caps::new(
        limits,
        state.config.db_max_connections,
        state.trusted_proxies.clone(),
    ));
    let timeouts = Timeouts {
        header: Duration::from_millis(limits.header_timeout_ms),
        idle: Duration::from_secs(limits.idle_connection_timeout_s),
    };
    tracing::info!(
        addr = %listener.local_addr()?,
        max_connections = caps.max(),
        "boxoffice listening"
    );
    connections::serve(listener, app, caps, timeouts, shutdown).await;
    Ok(())
}

fn router(state: AppState) -> Router {
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
