//! A fresh audit of the invariants, for whoever must know the state now (a
//! test's or a load test's end): the outcome of a run that began after the
//! request arrived, where the open `/ops/invariants` may serve one a couple of
//! seconds old. Still one run at a time on the audit's own connection, shared
//! by every caller waiting meanwhile; behind the token, so that no one else
//! can make it run back to back.

use axum::extract::State;
use axum::response::Response;

use super::Admin;
use crate::booking::audit::AuditReport;
use crate::http::error::Result;
use crate::http::state::AppState;
use crate::http::views::audit;

#[utoipa::path(get, path = "/admin/invariants", operation_id = "adminInvariants", tag = "admin",
    params(Admin),
    responses((status = 200, description = "every invariant holds, checked after the request arrived (409 INVARIANT_VIOLATED carries the same report)", body = AuditReport)))]
pub(super) async fn invariants(State(state): State<AppState>, _: Admin) -> Result<Response> {
    Ok(audit::answer(&state.audit.fresh().await?.report))
}
