//! The OpenAPI 3.1 document of every route, generated from the handlers'
//! `#[utoipa::path]` annotations and the bodies' `ToSchema` derives, served at
//! `/openapi.json` (and browsed at `/docs`, a page of `pages.rs`).
//!
//! Each API surface lists its own operations beside its router (`api::Docs`,
//! `v1::Docs`, `admin::Docs`); the operations routes are listed here. The
//! error responses come from one table (`errors.rs`), since most of them are
//! the extractors' and the layers', not the handler's. The document is built
//! once, on the first request for it: the annotations cost the handlers
//! nothing at run time.

mod errors;
mod params;
pub(crate) mod schemas;

use std::sync::LazyLock;

use axum::http::header;
use axum::http::Method;
use axum::response::IntoResponse;
use serde_json::Value;
use utoipa::OpenApi;

use super::routes::{Class, Routes};
use super::{admin, api, door, gate, health, ops, pages, v1};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "boxoffice",
        description = "Waiting-queue gateway and concert booking API. The `/api` routes follow seed 000 \
(one queue, users by numeric id in `user-id`), the `/api/v1` routes seed 004 (one queue per concert, \
users by UUID). Every path also works with a trailing slash.\n\n\
Every error is JSON: `{\"code\": \"MACHINE_CODE\", \"message\": \"...\"}`, some with details; each \
operation lists the codes it can answer. Besides them, any request may get what the HTTP parser \
refuses before routing: `400 MALFORMED_REQUEST`, `414 URI_TOO_LONG`, `431 HEADERS_TOO_LARGE`, \
`503 OVERLOADED` on a new connection past the instance's or its client address's connection cap \
(answered before the request is read, then closed), and an unknown path `404 ROUTE_NOT_FOUND` or \
method `405 METHOD_NOT_ALLOWED`. Every 503 and 429 carries `Retry-After`.",
        license(name = "MIT")
    ),
    paths(
        health::health,
        health::ready,
        ops::metrics,
        ops::invariants,
        ops::queues,
        ops::sales,
        ops::seats,
        ops::refusals,
        pages::home,
        pages::waiting_room,
        pages::gate_room,
        pages::config,
        pages::ops_page,
        pages::docs,
        pages::asset,
        openapi_document,
    ),
    components(schemas(
        schemas::ErrorBody,
        schemas::LocalDateTime,
        crate::queue::settings::Adaptive,
        crate::queue::settings::Protect
    )),
    tags(
        (name = "queue (seed 000)", description = "the default waiting queue; the user in `user-id`"),
        (name = "booking (seed 000)", description = "dates, seats, holds, payment and balances; holds and payment need an active `Token`"),
        (name = "queue (seed 004)", description = "one queue per concert code; users by UUID"),
        (name = "booking (seed 004)", description = "dates, seats, a hold, payment and balances; the token in `Authorization`"),
        (name = "admin", description = "`Authorization: Bearer <BOXOFFICE_ADMIN_TOKEN>`; 403 ADMIN_DISABLED when none is configured"),
        (name = "protected sites", description = "a queue in front of any site: the waiting room's visitors, the forward-auth check, the public keys and ending a session"),
        (name = "operations", description = "health, readiness, metrics, the invariant audit and the open reads of the /ops page"),
        (name = "pages", description = "the pages served from the binary, and this document"),
    )
)]
struct ApiDoc;

/// The document as served: built once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| serde_json::to_string(&document()).expect("JSON"));

/// Every surface's operations, with their error responses.
pub(crate) fn document() -> Value {
    let mut openapi = ApiDoc::openapi();
    openapi.merge(api::Docs::openapi());
    openapi.merge(v1::Docs::openapi());
    openapi.merge(admin::Docs::openapi());
    openapi.merge(door::Docs::openapi());
    openapi.merge(gate::Docs::openapi());
    let mut document = serde_json::to_value(openapi).expect("the document serialises");
    errors::add_error_responses(&mut document, &crate::http::table::declared());
    document
}

/// The document is read by programs, not shown as a page: no page headers.
pub(super) fn routes(routes: Routes) -> Routes {
    routes.route(Method::GET, "/openapi.json", openapi_document, Class::Ops)
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapiDocument",
    tag = "pages",
    responses((status = 200, description = "the OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
async fn openapi_document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_its_errors_listed_and_every_listing_an_operation() {
        let (missing, stale) = errors::unlisted(&document());
        assert!(
            missing.is_empty(),
            "operations with no entry in errors::ERRORS: {missing:?}"
        );
        assert!(
            stale.is_empty(),
            "entries in errors::ERRORS naming no operation: {stale:?}"
        );
    }
}
