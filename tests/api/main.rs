//! The integration tests, as one crate: each links the whole application, so
//! one binary instead of one per suite saves a link of it for every suite (and
//! its copy on disk). A module per suite; `helpers` starts the real application
//! in-process and calls its endpoints. The fault suite (`tests/faults.rs`) is a
//! binary of its own, since it is run on its own, and shares `helpers`.
//!
//! Tests run on threads of one process: each app has its own database and Redis
//! key prefix, and what is process-wide (the metrics recorder) is read as
//! deltas or under labels of a test's own.

mod helpers;

mod adaptive;
mod admin;
mod audit;
mod booking;
mod catalog;
mod challenge;
mod coalescing;
mod connections;
mod events;
mod foundation;
mod gate;
mod identity;
mod invitations;
mod join_gate;
mod join_limits;
mod metrics;
mod oidc;
mod openapi;
mod operations;
mod payments;
mod prequeue;
mod queue;
mod recovery;
mod report;
mod scale;
mod settings;
mod telemetry;
mod users;
mod v1;
mod webhooks;
