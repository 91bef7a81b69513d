//! A queue's join limits (`joinLimits`): joins a minute per identity, per
//! client IP and per network (/24), set through the admin API on one queue
//! without touching another. A join beyond one is `429 RATE_LIMITED` with
//! `Retry-After` and the limit it tripped as `reason`, counted by queue and
//! reason in the metrics and on `/ops/refusals`. Clients are told apart by
//! `X-Forwarded-For`, which the test's app believes from 127.0.0.1.

use serde_json::{json, Value};

use crate::helpers::{
    assert_error, json_of, metric_value, set_cookie, spawn_configured, test_config, uuid, TestApp, ADMIN,
};

const CONCERT: &str = "hero-autumn";

/// An app with the admin token, trusting 127.0.0.1 as its proxy, whose
/// default queue has a name of this test's own (the metrics recorder is the
/// process's, shared by every test).
async fn limits_app(default_queue: &str, customize: impl FnOnce(&mut boxoffice::config::Config)) -> TestApp {
    let mut config = test_config();
    config.admin_token = Some(ADMIN.into());
    config.limits.trusted_proxies = vec!["127.0.0.1".into()];
    config.queue.default_queue = default_queue.into();
    customize(&mut config);
    spawn_configured(config).await
}

async fn set_limits(app: &TestApp, queue: &str, limits: Value) -> Value {
    let response = app.admin_set_queue(queue, &json!({ "joinLimits": limits })).await;
    assert_eq!(response.status(), 200);
    json_of(response).await["joinLimits"].clone()
}

async fn join_from(app: &TestApp, user: i64, client: &str) -> reqwest::Response {
    app.join(user).header("X-Forwarded-For", client).await
}

async fn refused_count(app: &TestApp, queue: &str, reason: &str) -> f64 {
    let series = format!("boxoffice_joins_rate_limited_total{{queue=\"{queue}\",reason=\"{reason}\"}}");
    metric_value(&app.metrics_text().await, &series).unwrap_or(0.0)
}

/// Asserts `response` is a join refused for `reason`, told to come back
/// within `at_most` seconds.
async fn assert_limited(response: reqwest::Response, reason: &str, at_most: u64) {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=at_most).contains(&retry_after), "Retry-After {retry_after}");
    let body = assert_error(response, 429, "RATE_LIMITED").await;
    assert_eq!(body["reason"], reason, "{body}");
}

#[tokio::test]
async fn an_identity_beyond_its_joins_a_minute_is_told_when_to_come_back() {
    let app = limits_app("limits-identity", |_| {}).await;
    let queue = app.default_queue();
    let shown = set_limits(&app, &queue, json!({ "perIdentityPerMinute": 2 })).await;
    assert_eq!(
        shown,
        json!({ "perIdentityPerMinute": 2, "perIpPerMinute": 0, "perNetworkPerMinute": 0 })
    );
    assert_eq!(
        json_of(app.admin_queue(&queue).await).await["settings"]["joinLimits"],
        shown
    );
    let before = refused_count(&app, &queue, "identity").await;

    // Each from an address of its own: only the identity is the same.
    assert_eq!(join_from(&app, 1, "10.0.0.1").await.status(), 200);
    assert_eq!(join_from(&app, 1, "10.0.1.1").await.status(), 200);
    // Two a minute: the next one in 30 s.
    assert_limited(join_from(&app, 1, "10.0.2.1").await, "identity", 30).await;
    assert_eq!(join_from(&app, 2, "10.0.2.1").await.status(), 200, "another user");

    assert_eq!(refused_count(&app, &queue, "identity").await - before, 1.0);
    let refusals = json_of(app.ops_refusals().await).await;
    assert_eq!(refusals["joinsRateLimited"]["identity"], 1, "{refusals}");
    assert_eq!(refusals["rateLimited"], 1, "{refusals}");
    app.stop().await;
}

#[tokio::test]
async fn a_client_ip_beyond_its_joins_a_minute_is_refused_and_its_neighbour_is_not() {
    let app = limits_app("limits-ip", |_| {}).await;
    let queue = app.default_queue();
    set_limits(&app, &queue, json!({ "perIpPerMinute": 2 })).await;
    let before = refused_count(&app, &queue, "ip").await;

    assert_eq!(join_from(&app, 1, "10.1.2.3").await.status(), 200);
    assert_eq!(join_from(&app, 2, "10.1.2.3").await.status(), 200);
    assert_limited(join_from(&app, 3, "10.1.2.3").await, "ip", 30).await;
    assert_eq!(join_from(&app, 3, "10.1.2.4").await.status(), 200, "another address");

    assert_eq!(refused_count(&app, &queue, "ip").await - before, 1.0);
    assert_eq!(json_of(app.ops_refusals().await).await["joinsRateLimited"]["ip"], 1);
    app.stop().await;
}

#[tokio::test]
async fn a_network_beyond_its_joins_a_minute_is_refused_whichever_of_its_addresses_asks() {
    let app = limits_app("limits-network", |_| {}).await;
    let queue = app.default_queue();
    set_limits(&app, &queue, json!({ "perNetworkPerMinute": 2 })).await;
    let before = refused_count(&app, &queue, "network").await;

    assert_eq!(join_from(&app, 1, "10.1.2.3").await.status(), 200);
    assert_eq!(join_from(&app, 2, "10.1.2.4").await.status(), 200);
    assert_limited(join_from(&app, 3, "10.1.2.200").await, "network", 30).await;
    assert_eq!(join_from(&app, 3, "10.1.3.1").await.status(), 200, "another /24");

    assert_eq!(refused_count(&app, &queue, "network").await - before, 1.0);
    assert_eq!(
        json_of(app.ops_refusals().await).await["joinsRateLimited"]["network"],
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn limits_set_on_one_queue_leave_another_alone_and_null_lifts_them() {
    let app = limits_app("limits-scope", |_| {}).await;
    set_limits(&app, CONCERT, json!({ "perIdentityPerMinute": 1, "perIpPerMinute": 1 })).await;

    assert_eq!(app.v1_join(CONCERT, &uuid(1)).await.status(), 200);
    assert_limited(app.v1_join(CONCERT, &uuid(1)).await, "identity", 60).await;
    assert_limited(app.v1_join(CONCERT, &uuid(2)).await, "ip", 60).await;
    for _ in 0..5 {
        assert_eq!(app.join(1).await.status(), 200, "the default queue has no limit");
    }

    let shown = set_limits(&app, CONCERT, Value::Null).await;
    assert_eq!(
        shown,
        json!({ "perIdentityPerMinute": 0, "perIpPerMinute": 0, "perNetworkPerMinute": 0 })
    );
    for _ in 0..5 {
        assert_eq!(app.v1_join(CONCERT, &uuid(1)).await.status(), 200);
    }
    app.stop().await;
}

#[tokio::test]
async fn zero_means_no_limit_and_null_goes_back_to_the_configured_default() {
    let app = limits_app("limits-defaults", |config| {
        config.queue.join_limit_per_identity_per_minute = 1;
    })
    .await;
    let queue = app.default_queue();
    let shown = json_of(app.admin_queue(&queue).await).await["settings"]["joinLimits"].clone();
    assert_eq!(shown["perIdentityPerMinute"], 1, "the default: {shown}");
    assert_eq!(app.join(1).await.status(), 200);
    assert_limited(app.join(1).await, "identity", 60).await;

    set_limits(&app, &queue, json!({ "perIdentityPerMinute": 0 })).await;
    for _ in 0..20 {
        assert_eq!(app.join(1).await.status(), 200);
    }

    let shown = set_limits(&app, &queue, Value::Null).await;
    assert_eq!(shown["perIdentityPerMinute"], 1);
    // A changed limit starts counting afresh.
    assert_eq!(app.join(1).await.status(), 200);
    assert_limited(app.join(1).await, "identity", 60).await;
    app.stop().await;
}

#[tokio::test]
async fn a_protected_sites_visitors_join_under_the_same_limits() {
    let app = limits_app("limits-gate", |_| {}).await;
    let queue = app.default_queue();
    let protect = json!({ "protect": { "origin": "https://shop.example", "paths": ["/checkout/*"] } });
    assert_eq!(app.admin_set_queue(&queue, &protect).await.status(), 200);
    set_limits(&app, &queue, json!({ "perIdentityPerMinute": 1, "perIpPerMinute": 3 })).await;
    let visit = || app.gate_join(&queue).header("X-Forwarded-For", "10.9.9.9");

    let first = visit().await;
    assert_eq!(first.status(), 200);
    let token = set_cookie(first.headers(), "boxoffice_visitor").expect("the visitor cookie");
    // The same visitor again: its identity's limit.
    assert_limited(visit().bearer(&token).await, "identity", 60).await;
    // New visitors from one address: its limit.
    assert_eq!(visit().await.status(), 200);
    assert_eq!(visit().await.status(), 200);
    assert_limited(visit().await, "ip", 20).await;
    app.stop().await;
}

#[tokio::test]
async fn join_limits_that_are_not_whole_numbers_in_range_are_refused() {
    let app = limits_app("limits-invalid", |_| {}).await;
    let queue = app.default_queue();
    for limits in [
        json!({ "perIpPerMinute": -1 }),
        json!({ "perIpPerMinute": -0.0 }),
        json!({ "perIpPerMinute": 1.5 }),
        json!({ "perIpPerMinute": 1_000_000_001u64 }),
        json!({ "perIpPerMinute": "10" }),
        json!({ "perUserPerMinute": 10 }),
        json!(10),
    ] {
        let response = app.admin_set_queue(&queue, &json!({ "joinLimits": limits })).await;
        assert_error(response, 400, "INVALID_SETTING").await;
    }
    let shown = set_limits(&app, &queue, json!({ "perNetworkPerMinute": 5.0 })).await;
    assert_eq!(shown["perNetworkPerMinute"], 5, "5.0 is the whole number 5");
    app.stop().await;
}
