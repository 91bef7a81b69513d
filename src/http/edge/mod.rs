//! The edge: what a request meets before any route decides anything about it,
//! and what every answer passes on its way out. Connections from `accept` on
//! (`connections/`), the in-flight bounds that shed a flood (`shedding.rs`),
//! the per-client rate limiters (`rate_limits.rs`, the joins' in
//! `join_limits.rs`) and the proxies whose
//! `X-Forwarded-For` is believed (`proxies.rs`), request ids
//! (`request_id.rs`), each request's trace (`trace_context.rs`), the request
//! metrics (`record.rs`) and the layers every
//! request passes through (`middleware.rs`).
//!
//! Nothing here knows a route, a service or the application's state: the
//! router and the guards build on the edge, never the other way round.

pub(crate) mod connections;
pub(crate) mod join_limits;
pub(crate) mod middleware;
pub(crate) mod proxies;
pub(crate) mod rate_limits;
pub(crate) mod record;
mod request_id;
pub(crate) mod shedding;
mod trace_context;
