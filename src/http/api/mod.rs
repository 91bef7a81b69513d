//! Seed 000: the `/api` design. One default queue; the user named by the
//! `user-id` header (queue, balances) or the body's `userId` (holds, payment).
//! Organised like `/api/v1`: one module per resource, each a thin translation
//! of HTTP to the domain's calls.

mod balances;
mod concerts;
mod queue;

use axum::http::Method;
use utoipa::OpenApi;

use super::routes::{Class, Routes};

/// The operations of this surface, for the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(
    queue::join,
    queue::position,
    concerts::schedules,
    concerts::seats,
    concerts::reserve,
    concerts::pay,
    balances::charge,
    balances::balance,
))]
pub(crate) struct Docs;

/// This surface's routes, each with its class (`routes.rs`).
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .route(Method::POST, "/api/waiting-queue", queue::join, Class::Queue)
        .route(
            Method::GET,
            "/api/waiting-queue/position",
            queue::position,
            Class::Queue,
        )
        .route(
            Method::GET,
            "/api/concerts/{concert_id}/schedules",
            concerts::schedules,
            Class::Booking,
        )
        .route(
            Method::GET,
            "/api/concerts/{concert_id}/schedules/{schedule_id}/seats",
            concerts::seats,
            Class::Booking,
        )
        .route(
            Method::POST,
            "/api/concerts/{concert_id}/schedules/{schedule_id}/seats/reservation",
            concerts::reserve,
            Class::Hold,
        )
        .route(
            Method::POST,
            "/api/concerts/{concert_id}/schedules/{schedule_id}/seats/reservation/payment",
            concerts::pay,
            Class::Payment,
        )
        .route(Method::GET, "/api/balances/balance", balances::balance, Class::Booking)
        .route(
            Method::PATCH,
            "/api/balances/balance/charge",
            balances::charge,
            Class::TopUp,
        )
}
