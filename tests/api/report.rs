//! A queue's report, from Postgres: the per-second counts, the waits, what
//! became of those who joined, how many of the admitted paid, the rate's
//! changes and the sales per minute, as JSON and as CSV.

use std::time::Duration;

use serde_json::{json, Value};

use crate::events::buy;
use crate::helpers::{assert_error, eventually, json_of, spawn_app_with, TestApp};

const ADMIN: &str = "report-admin-token";

async fn ask(app: &TestApp, queue: &str, format: Option<&str>) -> reqwest::Response {
    app.admin_queue_report(queue, format).await
}

#[tokio::test]
async fn the_report_tells_who_came_waited_left_and_bought() {
    let app = spawn_app_with(|config| {
        config.admin_token = Some(ADMIN.into());
        config.queue.idle_timeout_s = 1;
    })
    .await;
    let queue = app.default_queue();
    // Two buyers (each joins, is admitted and pays), one admitted who does
    // not buy, one who stops polling in line; and the operator moves the rate.
    buy(&app, 1, &[1], "report-1").await;
    buy(&app, 2, &[2, 3], "report-2").await;
    assert_eq!(app.join(3).await.status(), 200);
    app.admit_everyone(&queue).await;
    assert_eq!(app.join(4).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    app.admit_everyone(&queue).await;
    assert_eq!(
        app.admin_set_queue(&queue, &json!({"admitRate": 50})).await.status(),
        200
    );

    let report = eventually(Duration::from_secs(10), "every event in the report", || async {
        let report = json_of(ask(&app, &queue, None).await).await;
        let joins: i64 = report["perSecond"]
            .as_array()?
            .iter()
            .filter_map(|s| s["joins"].as_i64())
            .sum();
        (report["outcomes"]["timedOutInLine"] == 1 && joins == 4 && report["seatsSold"] == 3).then_some(report)
    })
    .await;
    assert_eq!(report["queue"], queue.as_str());
    assert_eq!(
        report["outcomes"],
        json!({"joins": 4, "admitted": 3, "timedOutInLine": 1, "timedOutAfterAdmission": 0, "left": 0}),
        "{report}"
    );
    assert_eq!(report["waits"]["admitted"], 3);
    assert!(
        report["waits"]["maxS"].as_i64().is_some_and(|s| (0..5).contains(&s)),
        "{report}"
    );
    assert_eq!(
        report["conversion"],
        json!({"admittedUsers": 3, "holdingUsers": 2, "payingUsers": 2, "paidPercent": 66.7}),
        "{report}"
    );
    let revenue: i64 = sqlx::query_scalar("SELECT sum(amount)::bigint FROM payments")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(report["revenue"], revenue);
    let minutes = report["perMinute"].as_array().expect("minutes");
    assert_eq!(minutes.iter().filter_map(|m| m["payments"].as_i64()).sum::<i64>(), 2);
    let changes = report["rateChanges"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["kind"], "queue.settings_changed");
    assert_eq!(changes[0]["data"]["changes"]["admit_rate"], "50");
    assert_eq!(
        report["peakJoinsPerSecond"],
        report["perSecond"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["joins"].as_i64())
            .max()
            .unwrap()
    );

    // The per-second figures as CSV: the same seconds, the same sums.
    let csv = ask(&app, &queue, Some("csv")).await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("second,joins,polls,admitted,timedOut,left"));
    let rows: Vec<Vec<i64>> = lines
        .map(|line| line.split(',').map(|cell| cell.parse().expect("a number")).collect())
        .collect();
    assert_eq!(rows.len(), report["perSecond"].as_array().unwrap().len());
    assert_eq!(rows.iter().map(|row| row[1]).sum::<i64>(), 4);
    assert_eq!(rows.iter().map(|row| row[3]).sum::<i64>(), 3);
}

#[tokio::test]
async fn a_report_of_nothing_is_zeros_and_bad_asks_are_refused() {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    let empty: Value = json_of(ask(&app, &app.default_queue(), Some("json")).await).await;
    assert_eq!(empty["perSecond"], json!([]));
    assert_eq!(
        empty["conversion"],
        json!({"admittedUsers": 0, "holdingUsers": 0, "payingUsers": 0, "paidPercent": null})
    );
    assert_eq!(empty["waits"]["p50S"], Value::Null);
    assert_eq!(
        (empty["seatsSold"].as_i64(), empty["revenue"].as_i64()),
        (Some(0), Some(0))
    );
    assert_error(ask(&app, "no-such-queue", None).await, 404, "QUEUE_NOT_FOUND").await;
    assert_error(ask(&app, &app.default_queue(), Some("xml")).await, 400, "INVALID_QUERY").await;
}
