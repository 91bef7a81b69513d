//! What every suite shares. `app.rs` starts the real application in-process on
//! a random port, against the real Redis and Postgres, with a database and a
//! Redis key prefix of its own, so tests run in parallel without seeing each
//! other. Its `TestApp` has a method per endpoint, each returning a [`Call`]
//! (`call.rs`) to await: the `/api` surface of seed 000 in `api.rs`, the
//! `/api/v1` surface of seed 004 in `v1.rs`, the admin API and the operations
//! reads in `ops.rs`, a protected site's routes in `gate.rs`; the methods live on [`Api`], so a gateway process of
//! `gateway.rs` is called the same way. `poll.rs` waits for a condition
//! instead of sleeping; `keys.rs` names the Redis keys tests reach into;
//! `own_stores.rs` starts stores of a test's own for the fault suite, and
//! `monitor.rs` watches what clients send one; `receiver.rs` is a webhook
//! endpoint that answers as a test scripts it; `provider.rs` an OIDC
//! provider publishing keys a test rotates, and failing when it is told to;
//! `otlp.rs` receives spans.

mod api;
pub mod app;
mod call;
mod gate;
// The fault suite's network faults (tests/faults/network.rs), with the
// `tools` feature's noxious.
#[cfg(feature = "tools")]
#[allow(dead_code)]
pub mod faulty_link;
pub mod gateway;
mod keys;
#[cfg(feature = "tools")]
#[allow(dead_code)]
pub mod lost_replies;
pub mod monitor;
mod ops;
// An OTLP/HTTP endpoint receiving a gateway's spans (tracing.rs).
#[allow(dead_code)]
pub mod otlp;
// Stores of a test's own, for the fault suite (the integration crate takes only free_port).
#[allow(dead_code)]
pub mod own_stores;
mod poll;
// An OIDC provider of a test's own (tests/api/oidc.rs).
#[allow(dead_code)]
pub mod provider;
// A webhook endpoint that answers as a test scripts it.
#[allow(dead_code)]
pub mod receiver;
mod v1;

use reqwest::Response;
use serde_json::Value;

pub use app::{spawn_app, spawn_app_with, spawn_configured, test_config, TestApp};
pub use call::{Api, Call};
pub use gate::{pass_key_file, set_cookie};
pub use poll::eventually;
pub use v1::uuid;

/// The admin API's token, for apps that turn it on.
pub const ADMIN: &str = "ops-team-token";

pub async fn json_of(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON (status {status}): {text}"))
}

/// Asserts a JSON error answer and returns its body.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    let actual = response.status().as_u16();
    let body = json_of(response).await;
    assert_eq!((actual, body["code"].as_str()), (status, Some(code)), "body: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "a message: {body}"
    );
    body
}

/// The value of the first series of a Prometheus exposition that starts with
/// `series` (a name, or a name and its labels).
pub fn metric_value(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}
