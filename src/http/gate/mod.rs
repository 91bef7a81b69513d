//! A protected site's routes: the waiting room's API for anonymous visitors
//! (`visitor.rs`: join, status, leave), the forward-auth check proxies ask
//! (`check.rs`, with `paths.rs`, `bypass.rs` and `cookies.rs`), the public
//! keys (`jwks.rs`), and the origin ending a session (`end.rs`). A queue
//! that protects no site answers every `/gate/{queue}…` route
//! `404 QUEUE_NOT_PROTECTED`.
//!
//! The queue's protection is read from the instance's settings snapshot, so
//! no route here reads it from a store.

mod bypass;
mod check;
mod cookies;
mod end;
mod jwks;
mod paths;
mod visitor;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::Method;
use utoipa::OpenApi;

use super::error::{Error, ErrorCode, Result};
use super::extract::Path;
use super::routes::{Class, Routes};
use super::state::AppState;
use crate::queue::settings::Protect;

/// The operations of a protected site, for the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(visitor::join, visitor::status, visitor::leave, check::check, jwks::jwks, end::end))]
pub(crate) struct Docs;

/// A protected site's routes (`routes.rs`).
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .route(Method::GET, "/.well-known/jwks.json", jwks::jwks, Class::Check)
        .route(Method::GET, "/gate/{queue}", check::check, Class::Check)
        .route(Method::POST, "/gate/{queue}/join", visitor::join, Class::Queue)
        .route(Method::GET, "/gate/{queue}/status", visitor::status, Class::Queue)
        .route(Method::POST, "/gate/{queue}/leave", visitor::leave, Class::Queue)
        .route(Method::POST, "/gate/{queue}/end", end::end, Class::Admin)
}

/// The queue of the path, and the site it protects.
pub(crate) struct Protected {
    pub(crate) queue: String,
    pub(crate) protect: Arc<Protect>,
}

impl Protected {
    /// `queue`'s protection, as this instance holds its settings.
    pub(crate) fn of(state: &AppState, queue: String) -> Result<Self> {
        match state.settings.current(&queue).protect.clone() {
            Some(protect) => Ok(Protected { queue, protect }),
            None => Err(Error::refused(
                ErrorCode::QueueNotProtected,
                format!("the queue `{queue}` protects no site"),
            )),
        }
    }
}

impl FromRequestParts<AppState> for Protected {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let Path(queue) = Path::<String>::from_request_parts(parts, state).await?;
        Protected::of(state, queue)
    }
}
