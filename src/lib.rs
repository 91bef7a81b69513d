//! # boxoffice
//!
//! A waiting-queue gateway and a concert booking API in one binary. When a sale
//! opens, everyone gets a signed token and a fair place in line (Redis); a
//! scheduler admits users at a controlled rate; admitted users hold seats
//! (atomic Lua in Redis) and pay (one Postgres transaction).
//!
//! # Layout

/// Booking: catalog, seat holds, balances, payments, idempotency.
pub mod booking;
/// Every setting, from flags or the environment.
pub mod config;
/// HTTP surfaces (`/api`, `/api/v1`, health, metrics), errors and extractors.
pub mod http;
/// The waiting queue: places, tokens, admission, the booking gate.
pub mod queue;
/// Wiring everything together; `Application::build` and `run_until_stopped`.
pub mod startup;
/// Postgres and Redis: connections, keys, Lua scripts, demo data.
pub mod store;
/// Logging set-up.
pub mod telemetry;
/// The in-memory directory of known users.
pub mod users;
