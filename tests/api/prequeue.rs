//! The pre-queue: joining before a queue opens gives a token but no place; at
//! the opening everyone in it is placed by lot, so arriving early buys nothing,
//! and whoever joins after the opening goes behind them all.

use std::time::Duration;

use crate::helpers::{json_of, spawn_app_with, TestApp, ADMIN};
use boxoffice::store::seed;
use chrono::{FixedOffset, Utc};
use futures::stream::{self, StreamExt};
use serde_json::json;
use tokio::time::Instant;

/// `at` seconds from now, as the local date-time the admin API takes.
fn local_in(seconds: i64) -> String {
    let offset = FixedOffset::east_opt(9 * 3600).unwrap();
    (Utc::now() + chrono::Duration::seconds(seconds))
        .with_timezone(&offset)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

async fn set(app: &TestApp, body: serde_json::Value) {
    let response = app.admin_set_queue(&app.default_queue(), &body).await;
    assert_eq!(response.status(), 200, "{}", json_of(response).await);
}

/// Spearman's rank correlation of two rankings of the same n items (no ties).
fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let d2: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

#[tokio::test]
async fn two_thousand_early_arrivals_are_placed_by_lot_and_latecomers_go_behind() {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    seed::add_users(&app.state.db, 1100).await.unwrap();
    app.state.users.refresh(&app.state.db).await.unwrap();
    // Far enough ahead for 2,000 joins one after another on a loaded machine
    // (they took over 6 s on the Cluster with six tests at a time).
    let opening = Instant::now() + Duration::from_secs(20);
    set(&app, json!({ "opensAt": local_in(20) })).await;

    // 2,000 users join before the opening, in order 1..=2000.
    for user in 1..=2000 {
        let body = json_of(app.join(user).await).await;
        if user == 1 || user == 2000 {
            assert_eq!(body["tokenStatus"], "대기", "{body}");
            assert_eq!(body["position"], 0, "no place before the opening");
            assert!(
                body["opensAt"].is_string() && body["secondsToOpen"].as_u64().unwrap() <= 20,
                "{body}"
            );
            let poll_after = body["pollAfterMs"].as_u64().unwrap();
            assert!(
                (1_000..=20_500).contains(&poll_after),
                "back near the opening: {poll_after}"
            );
        }
    }
    let step = app.state.scheduler.admit_once(&app.default_queue()).await.unwrap();
    assert_eq!(step.admitted, 0, "nobody is admitted before the opening");

    // Past the opening time (a wall-clock moment: waiting for it is the
    // behaviour; any call made to see it pass would be the first after it).
    tokio::time::sleep_until(opening + Duration::from_secs(1)).await;
    // The first to join after the opening goes behind everyone who came early.
    let late = json_of(app.join(2050).await).await;
    assert_eq!(late["position"], 2001, "{late}");

    let positions: Vec<u64> = stream::iter(1..=2000)
        .map(|user| {
            let app = &app;
            async move { json_of(app.position(user).await).await["position"].as_u64().unwrap() }
        })
        .buffered(32)
        .collect()
        .await;
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=2000).collect::<Vec<u64>>(), "places 1..=2000, once each");
    let join_order: Vec<f64> = (1..=2000).map(|n| n as f64).collect();
    let places: Vec<f64> = positions.iter().map(|&p| p as f64).collect();
    let rho = spearman(&join_order, &places);
    assert!(rho.abs() < 0.1, "joining early bought nothing: rho = {rho}");
    app.stop().await;
}

#[tokio::test]
async fn pausing_before_the_opening_holds_everyone_after_it() {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    set(&app, json!({ "opensAt": local_in(2), "state": "paused" })).await;
    for user in 1..=50 {
        app.join(user).await;
    }
    // Past the opening time (a wall-clock moment).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let step = app.state.scheduler.admit_once(&app.default_queue()).await.unwrap();
    assert_eq!((step.admitted, step.waiting), (0, 50), "placed, and held");
    let body = json_of(app.position(7).await).await;
    assert!(body["position"].as_u64().unwrap() >= 1, "{body}");
    set(&app, json!({ "state": "open" })).await;
    let step = app.admit_everyone(&app.default_queue()).await;
    assert_eq!(step.admitted, 50);
    app.stop().await;
}
