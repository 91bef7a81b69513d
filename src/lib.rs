//! # boxoffice
//!
//! A waiting-queue gateway and a concert booking API in one binary. When a sale
//! opens, everyone gets a signed token and a fair place in line (Redis); a
//! scheduler admits users at a controlled rate; admitted users hold seats
//! (atomic Lua in Redis) and pay (one Postgres statement).
//!
//! # Layout
//!
//! - `main.rs` parses the command line and dispatches: serve, `seed`, `check`.
//! - [`app`] builds every service and wires them together, once; [`startup`]
//!   wraps them for HTTP and runs them; [`background`] holds the chores an
//!   instance runs beside serving requests.
//! - [`queue`] is the waiting line: joining and polling ([`queue::Line`]),
//!   admission ([`queue::Scheduler`]) and the token gate ([`queue::Gate`]).
//! - [`pass`] is the admission pass a protected site's visitors carry: signed,
//!   checked without a store, ended on every instance within a second.
//! - [`booking`] is what admitted users do: the catalog, seat holds, balances,
//!   checkout, and the invariant audit, one service each.
//! - [`events`] is what happened in a sale: the outbox the payment statement
//!   writes, the sequencer that numbers it, and its readers.
//! - [`http`] translates HTTP to those services: `http/api/` for the `/api`
//!   routes (seed 000), `http/v1/` for `/api/v1` (seed 004), and beside them what
//!   both share: the edge every request crosses first (`http/edge/`), the guards
//!   that let it reach a handler (`http/guards/`), extractors, response bodies,
//!   the one error type, health and operations routes.
//! - [`store`] is everything that touches Postgres or Redis directly: connections,
//!   the one module that names Redis keys, the Lua library's functions with
//!   their typed replies (`store/scripts/`, one per file in `lua/`), and demo data.
//! - [`users`] keeps the users' ids and UUIDs in memory; [`config`] every setting.
//!
//! Outside `src/`: `lua/` (one Redis Functions library: a shared prelude, then
//! one function per atomic operation), `migrations/` (the schema), `tests/`
//! (integration tests against the real stores), `examples/` (the benchmark's
//! tools) and `loadtest/` (k6 scripts and the benchmark).

/// The services, each built once and wired to the others (`app::Services`).
pub mod app;
/// The chores each instance runs in the background, each on its own interval.
mod background;
/// Booking: catalog, seat holds, balances, checkout, idempotency, the audit.
pub mod booking;
/// Every setting, from flags or the environment.
pub mod config;
/// Events of a sale: the outbox in Postgres, its sequencer, its readers.
mod events;
/// HTTP surfaces (`/api`, `/api/v1`, health, operations), errors and extractors.
pub mod http;
/// Who is asking: trusted user names or signed `X-Identity` proofs.
mod identity;
/// Date-times local to the configured zone, as the seeds write them.
mod local_time;
/// The admission pass of protected sites: Ed25519 JWTs, their keys, the
/// verified-pass cache and the revocation list.
mod pass;
/// The waiting queue: places, tokens, admission, the booking gate.
pub mod queue;
/// The services wrapped for HTTP and served; `Application::build` and `run_until_stopped`.
pub mod startup;
/// Postgres and Redis: connections, keys, the Lua library, demo data.
pub mod store;
/// Logging set-up and the shutdown signal.
pub mod telemetry;
/// The in-memory directory of known users.
pub mod users;
