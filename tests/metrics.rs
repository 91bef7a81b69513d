//! `/metrics` after a short journey holds every metric the Grafana dashboard
//! (`ops/grafana-dashboard.json`) queries, and the figures move with the journey.

mod common;

use std::collections::BTreeSet;

use common::{json_of, spawn_app};

/// Every `boxoffice_...` metric named in the dashboard's queries.
fn dashboard_metrics() -> BTreeSet<String> {
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../ops/grafana-dashboard.json")).expect("the dashboard is JSON");
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

fn value_of(exposition: &str, series_prefix: &str) -> Option<f64> {
    exposition
        .lines()
        .find(|line| line.starts_with(series_prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn every_metric_the_dashboard_queries_is_exposed_after_a_short_journey() {
    let app = spawn_app().await;
    let token = app.active_token(1).await;
    app.charge(1, 5000).await;
    assert_eq!(app.reserve(&token, 1, 1, 1, &[3]).send().await.unwrap().status(), 200);
    assert_eq!(app.pay(&token, 1, 1, 1).send().await.unwrap().status(), 200);
    // A refusal, so that an error code and a refused payment are counted too.
    assert_eq!(app.pay(&token, 1, 1, 1).send().await.unwrap().status(), 403);
    let waiting = json_of(app.join(2).await).await;
    assert_eq!(waiting["position"], 1);

    let exposition = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
        value_of(&exposition, &format!("boxoffice_queue_waiting{{queue=\"{queue}\"}}")),
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
