//! The admin API, for the operations team: every queue's figures and live
//! settings (`queues.rs`), presale invitations (`invitations.rs`), the catalog (`catalog.rs`), a fresh audit of
//! the invariants (`audit.rs`), the sales' events (`events.rs`), the
//! webhook endpoints they are delivered to (`webhooks.rs`) and a queue's
//! report (`report.rs`). Behind
//! `Authorization: Bearer <BOXOFFICE_ADMIN_TOKEN>`, compared in constant time;
//! with no token configured, every admin route answers 403.

use crate::http::error::ErrorCode;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::Method;
use sha2::{Digest, Sha256};
use utoipa::OpenApi;

use super::error::{Error, Result};
use super::extract::single_header;
use super::routes::{Class, Routes};
use super::state::AppState;

mod audit;
mod catalog;
mod events;
mod invitations;
mod queues;
mod report;
mod webhooks;

/// The operations of the admin API, for the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(
    queues::queues,
    queues::queue,
    queues::change,
    queues::events,
    queues::new_origin_key,
    invitations::create,
    invitations::list,
    catalog::create,
    catalog::seat_map,
    audit::invariants,
    events::events,
    report::report,
    webhooks::create,
    webhooks::list,
    webhooks::remove,
    webhooks::deliveries,
))]
pub(crate) struct Docs;

/// The admin API's routes (`routes.rs`).
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .route(Method::GET, "/admin/queues", queues::queues, Class::Admin)
        .route(Method::GET, "/admin/queues/{queue}", queues::queue, Class::Admin)
        .route(Method::PATCH, "/admin/queues/{queue}", queues::change, Class::Admin)
        .route(
            Method::GET,
            "/admin/queues/{queue}/events",
            queues::events,
            Class::Admin,
        )
        .route(
            Method::POST,
            "/admin/queues/{queue}/origin-keys",
            queues::new_origin_key,
            Class::Admin,
        )
        .route(
            Method::POST,
            "/admin/queues/{queue}/invitations",
            invitations::create,
            Class::Admin,
        )
        .route(
            Method::GET,
            "/admin/queues/{queue}/invitations",
            invitations::list,
            Class::Admin,
        )
        .route(Method::POST, "/admin/concerts", catalog::create, Class::Admin)
        .route(
            Method::GET,
            "/admin/schedules/{schedule_id}/seats",
            catalog::seat_map,
            Class::Admin,
        )
        .route(Method::GET, "/admin/invariants", audit::invariants, Class::Admin)
        .route(Method::GET, "/admin/events", events::events, Class::AdminStream)
        .route(
            Method::GET,
            "/admin/queues/{queue}/report",
            report::report,
            Class::Admin,
        )
        .route(Method::POST, "/admin/webhooks", webhooks::create, Class::Admin)
        .route(Method::GET, "/admin/webhooks", webhooks::list, Class::Admin)
        .route(Method::DELETE, "/admin/webhooks/{id}", webhooks::remove, Class::Admin)
        .route(
            Method::GET,
            "/admin/webhooks/{id}/deliveries",
            webhooks::deliveries,
            Class::Admin,
        )
}

/// An admin request: the token checked, and its fingerprint for the records.
pub(crate) struct Admin {
    pub(crate) fingerprint: String,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let Some(expected) = state.config.admin_token.as_deref().filter(|token| !token.is_empty()) else {
            return Err(Error::Refused {
                code: ErrorCode::AdminDisabled,
                message: "the admin API is off: set BOXOFFICE_ADMIN_TOKEN to turn it on".into(),
            });
        };
        let presented = single_header(&parts.headers, "authorization")?
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Equal digests, compared without an early exit: the time taken says
        // nothing about how much of a guess was right.
        let (expected, presented) = (
            Sha256::digest(expected.as_bytes()),
            Sha256::digest(presented.trim().as_bytes()),
        );
        let difference = expected
            .iter()
            .zip(presented.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if difference != 0 {
            return Err(Error::Refused {
                code: ErrorCode::AdminUnauthorized,
                message: "the admin API needs Authorization: Bearer <BOXOFFICE_ADMIN_TOKEN>".into(),
            });
        }
        Ok(Admin {
            fingerprint: hex::encode(&presented[..4]),
        })
    }
}
