//! HTTP: one module per API surface (`api/` for seed 000, `v1/` for seed 004),
//! plus health, operations, admin and page routes, each module declaring its
//! routes in the one route table (`routes.rs`), whose class for each route
//! decides how it is served.
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
mod door;
pub(crate) mod edge;
pub(crate) mod error;
mod extract;
mod gate;
mod guards;
mod health;
mod openapi;
mod ops;
mod pages;
mod routes;
mod state;
mod table;
mod v1;
pub(crate) mod views;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::handler::Handler;
use axum::Router;
use tokio::net::TcpListener;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

use edge::connections::{self, Caps, Timeouts};
use edge::shedding::ShedGroups;
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
    let (router, groups) = router(state.clone());
    let app = state
        .shed
        .for_routes(groups)
        .layer(NormalizePathLayer::trim_trailing_slash().layer(router));
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
    let closing = state.clone();
    let shutdown = async move {
        shutdown.await;
        closing.closing.send_replace(true);
    };
    connections::serve(listener, app, caps, timeouts, shutdown).await;
    Ok(())
}

/// Every route of the table (`table.rs`), with the layers every request
/// passes, and the shed groups of their paths.
fn router(state: AppState) -> (Router, ShedGroups) {
    let (routes, groups) = table::mounted(state.clone());
    // The fallbacks are counted too: a route layer only wraps the routes.
    let record = record::RecordLayer::default();
    let app = routes
        .route_layer(record.clone())
        .fallback(route_not_found.layer(record.clone()))
        .method_not_allowed_fallback(method_not_allowed.layer(record))
        .with_state(state);
    (middleware::wrap(app), groups)
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
