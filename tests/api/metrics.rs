//! `/metrics` after a short journey holds every metric the Grafana dashboard
//! (`ops/grafana-dashboard.json`) queries, and the figures move with the journey.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::helpers::{assert_error, eventually, json_of, metric_value, spawn_app_with};

/// Every `boxoffice_...` metric named in the dashboard's queries.
fn dashboard_metrics() -> BTreeSet<String> {
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../../ops/grafana-dashboard.json")).expect("the dashboard is JSON");
    let mut names = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("an expression");
            let mut rest = expr;
            while let Some(start) = rest.find("boxoffice_") {
                let name: String = rest[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[start + name.len()..];
                names.insert(name);
            }
        }
    }
    names
}

#[tokio::test]
async fn every_metric_the_dashboard_queries_is_exposed_after_a_short_journey() {
    // A queue of this test's own: the recorder is the process's, and other
    // tests' apps set the gauges of the `default` queue too.
    let queue = format!("metrics-{}", rand::random::<u32>());
    let app = spawn_app_with(|config| config.queue.default_queue = queue).await;
    let token = app.active_token(1).await;
    app.charge(1, 5000).await;
    assert_eq!(app.reserve(&token, 1, 1, 1, &[3]).await.status(), 200);
    assert_eq!(app.pay(&token, 1, 1, 1).await.status(), 200);
    // A refusal, so that an error code and a refused payment are counted too.
    assert_eq!(app.pay(&token, 1, 1, 1).await.status(), 403);
    let waiting = json_of(app.join(2).await).await;
    assert_eq!(waiting["position"], 1);

    let exposition = app.metrics_text().await;
    let names = dashboard_metrics();
    assert!(names.len() >= 12, "the dashboard queries {names:?}");
    for name in &names {
        assert!(
            exposition.lines().any(|line| line.starts_with(name.as_str())),
            "{name} is queried by the dashboard but not on /metrics"
        );
    }
    let queue = app.default_queue();
    assert_eq!(
        metric_value(&exposition, &format!("boxoffice_queue_waiting{{queue=\"{queue}\"}}")),
        Some(1.0)
    );
    assert!(
        exposition.contains(r#"boxoffice_payments_total{outcome="succeeded"}"#),
        "{exposition}"
    );
    assert!(exposition.contains(r#"code="TOKEN_EXPIRED""#));
    assert!(
        exposition.contains(r#"route="/api/waiting-queue/position""#)
            || exposition.contains(r#"route="/api/waiting-queue""#)
    );
    app.stop().await;
}

/// The value of one `boxoffice_http_requests_total` series, 0 while absent.
fn answers(exposition: &str, route: &str, method: &str, status: u16, code: &str) -> f64 {
    let series = format!(
        r#"boxoffice_http_requests_total{{route="{route}",method="{method}",status="{status}",code="{code}"}} "#
    );
    metric_value(exposition, &series).unwrap_or(0.0)
}

/// Issue 23: a flood's 503 OVERLOADED answers, 404s and 405s, and the HTTP
/// parser's refusals were in no metric; each is now an answer like any other.
#[tokio::test]
async fn answers_refused_before_or_beside_the_routes_are_counted_with_their_codes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|config| {
        config.limits.max_inflight_booking = 1;
        config.queue.join_rate_limit = 1;
    })
    .await;
    let before = app.metrics_text().await;

    // A top-up whose body never comes holds the booking group's one place.
    let mut held = tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    held.write_all(
        b"PATCH /api/balances/balance/charge HTTP/1.1\r\nhost: test\r\nuser-id: 1\r\ncontent-length: 4\r\n\r\n",
    )
    .await
    .unwrap();
    let shed = eventually(
        Duration::from_secs(5),
        "a booking request beyond the bound of 1 shed",
        || async {
            let response = app.balance(1).await;
            (response.status() == 503).then_some(response)
        },
    )
    .await;
    assert_error(shed, 503, "OVERLOADED").await;
    drop(held);

    assert_eq!(app.join(1).await.status(), 200);
    assert_error(app.join(1).await, 429, "RATE_LIMITED").await;
    let missing = app.get("/no/such/route").await;
    assert_error(missing, 404, "ROUTE_NOT_FOUND").await;
    let wrong_method = app.call(reqwest::Method::DELETE, "/api/waiting-queue").await;
    assert_error(wrong_method, 405, "METHOD_NOT_ALLOWED").await;
    let mut garbage = tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    garbage.write_all(b"NOT HTTP AT ALL\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    garbage.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("MALFORMED_REQUEST"), "{answer}");

    let after = app.metrics_text().await;
    for (route, method, status, code) in [
        ("(booking)", "GET", 503, "OVERLOADED"),
        ("/api/waiting-queue", "POST", 429, "RATE_LIMITED"),
        ("(unmatched)", "GET", 404, "ROUTE_NOT_FOUND"),
        ("/api/waiting-queue", "DELETE", 405, "METHOD_NOT_ALLOWED"),
        ("(unparsed)", "-", 400, "MALFORMED_REQUEST"),
    ] {
        let counted = answers(&after, route, method, status, code) - answers(&before, route, method, status, code);
        assert!(
            counted >= 1.0,
            "{method} {route} {status} {code}: counted {counted} times\n{after}"
        );
    }

    // The /ops page's read of the same refusals, this instance's since it started.
    let refusals = json_of(app.ops_refusals().await).await;
    assert_eq!(refusals["overloaded"], 1, "{refusals}");
    assert_eq!(refusals["rateLimited"], 1, "{refusals}");
    app.stop().await;
}
