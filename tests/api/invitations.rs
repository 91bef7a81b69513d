//! Presale invitations: codes made through the admin API; before a queue's
//! opening a join carrying one (`X-Invitation`) takes a place in the line at
//! once while the others wait in the pre-queue. Postgres counts the uses, so
//! a code is used exactly as many times as it allows whichever instance the
//! joins reach, and once per user.

use chrono::{FixedOffset, Utc};
use futures::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{assert_error, json_of, spawn_configured, test_config, uuid, TestApp, ADMIN};

const CONCERT: &str = "hero-autumn";

/// `at` seconds from now, as the local date-time the admin API takes.
fn local_in(seconds: i64) -> String {
    let offset = FixedOffset::east_opt(9 * 3600).unwrap();
    (Utc::now() + chrono::Duration::seconds(seconds))
        .with_timezone(&offset)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// An app with the admin token whose default queue opens in an hour.
async fn presale_app() -> (TestApp, String) {
    let mut config = test_config();
    config.admin_token = Some(ADMIN.into());
    let app = spawn_configured(config).await;
    let queue = app.default_queue();
    opens_in_an_hour(&app, &queue).await;
    (app, queue)
}

async fn opens_in_an_hour(app: &TestApp, queue: &str) {
    let response = app.admin_set_queue(queue, &json!({ "opensAt": local_in(3600) })).await;
    assert_eq!(response.status(), 200, "{}", json_of(response).await);
}

async fn codes(app: &TestApp, queue: &str, batch: Value) -> Vec<String> {
    let response = app.admin_new_invitations(queue, &batch).await;
    assert_eq!(response.status(), 200);
    let body = json_of(response).await;
    body["codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|code| code.as_str().expect("a code").to_string())
        .collect()
}

async fn one_code(app: &TestApp, queue: &str, batch: Value) -> String {
    codes(app, queue, batch).await.remove(0)
}

async fn uses_left(app: &TestApp, queue: &str, code: &str) -> i64 {
    let listed = json_of(app.admin_invitations(queue).await).await;
    let found = listed
        .as_array()
        .expect("a list")
        .iter()
        .find(|row| row["code"] == code);
    found.expect("the code is listed")["usesLeft"]
        .as_i64()
        .expect("usesLeft")
}

#[tokio::test]
async fn a_code_of_three_uses_redeemed_by_twenty_users_through_two_instances_lets_in_three() {
    let (first, queue) = presale_app().await;
    // The second instance reads the settings (the opening) at its start.
    let second = spawn_configured(first.config.clone()).await;
    let code = one_code(&first, &queue, json!({ "count": 1, "uses": 3 })).await;

    let joins = (1..=20).map(|user| {
        let app = if user % 2 == 0 { &first } else { &second };
        let code = code.clone();
        async move { app.join(user).header("X-Invitation", code.as_str()).await }
    });
    let mut accepted = 0;
    for response in join_all(joins).await {
        if response.status() == 200 {
            let body = json_of(response).await;
            assert!(body["position"].as_u64().unwrap() >= 1, "in line: {body}");
            accepted += 1;
        } else {
            assert_error(response, 403, "INVITATION_USED_UP").await;
        }
    }
    assert_eq!(accepted, 3);
    assert_eq!(uses_left(&first, &queue, &code).await, 0);
}

#[tokio::test]
async fn the_same_user_joining_again_with_a_code_uses_it_once() {
    let (app, queue) = presale_app().await;
    let code = one_code(&app, &queue, json!({ "count": 1, "uses": 2 })).await;
    for _ in 0..3 {
        let response = app.join(7).header("X-Invitation", code.as_str()).await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(uses_left(&app, &queue, &code).await, 1);
    assert_eq!(app.join(8).header("X-Invitation", code.as_str()).await.status(), 200);
    assert_eq!(uses_left(&app, &queue, &code).await, 0);
    assert_error(
        app.join(9).header("X-Invitation", code.as_str()).await,
        403,
        "INVITATION_USED_UP",
    )
    .await;
    // User 7, who holds a use, is still let in.
    assert_eq!(app.join(7).header("X-Invitation", code.as_str()).await.status(), 200);
}

#[tokio::test]
async fn the_same_user_joining_with_a_code_many_times_at_once_through_two_instances_uses_one() {
    let (first, queue) = presale_app().await;
    let second = spawn_configured(first.config.clone()).await;
    let code = one_code(&first, &queue, json!({ "count": 1, "uses": 2 })).await;
    let joins = (0..16).map(|round| {
        let app = if round % 2 == 0 { &first } else { &second };
        let code = code.clone();
        async move { app.join(50).header("X-Invitation", code.as_str()).await.status() }
    });
    for status in join_all(joins).await {
        assert_eq!(status, 200);
    }
    assert_eq!(uses_left(&first, &queue, &code).await, 1);
}

#[tokio::test]
async fn unknown_other_queues_other_users_and_expired_codes_are_refused_each_with_its_code() {
    let (app, queue) = presale_app().await;
    opens_in_an_hour(&app, CONCERT).await;
    let concerts = one_code(&app, CONCERT, json!({ "count": 1, "uses": 5 })).await;
    let bound = one_code(&app, &queue, json!({ "count": 1, "uses": 5, "userId": 30 })).await;
    let expired = one_code(
        &app,
        &queue,
        json!({ "count": 1, "uses": 5, "validUntil": local_in(-60) }),
    )
    .await;

    for code in ["inv_AAAAAAAAAAAAAAAAAAAAAA", concerts.as_str(), bound.as_str()] {
        assert_error(
            app.join(31).header("X-Invitation", code).await,
            403,
            "INVITATION_INVALID",
        )
        .await;
    }
    assert_error(
        app.join(31).header("X-Invitation", expired.as_str()).await,
        403,
        "INVITATION_EXPIRED",
    )
    .await;
    assert_eq!(app.join(30).header("X-Invitation", bound.as_str()).await.status(), 200);

    // A concert's queue names its users by UUID, and so does a code bound to one.
    let for_one = one_code(&app, CONCERT, json!({ "count": 1, "uses": 1, "userId": uuid(1) })).await;
    assert_error(
        app.v1_join(CONCERT, &uuid(2))
            .header("X-Invitation", for_one.as_str())
            .await,
        403,
        "INVITATION_INVALID",
    )
    .await;
    let response = app
        .v1_join(CONCERT, &uuid(1))
        .header("X-Invitation", for_one.as_str())
        .await;
    assert_eq!(response.status(), 200);
    assert!(json_of(response).await["position"].as_u64().unwrap() >= 1);
    assert_eq!(uses_left(&app, &queue, &bound).await, 4);
    assert_eq!(uses_left(&app, &queue, &expired).await, 5);
}

#[tokio::test]
async fn before_the_opening_an_invited_join_is_in_line_and_an_uninvited_one_in_the_pre_queue() {
    let (app, queue) = presale_app().await;
    let code = one_code(&app, &queue, json!({ "count": 1, "uses": 10 })).await;

    let uninvited = json_of(app.join(1).await).await;
    assert_eq!(uninvited["position"], 0, "pre-queue: {uninvited}");
    assert!(uninvited["opensAt"].is_string(), "{uninvited}");

    let invited = json_of(app.join(2).header("X-Invitation", code.as_str()).await).await;
    assert_eq!(invited["tokenStatus"], "대기", "{invited}");
    assert_eq!(
        invited["position"], 1,
        "first in line, ahead of the pre-queue: {invited}"
    );
    // A user of the pre-queue who comes back with a code leaves it for a place.
    let moved = json_of(app.join(1).header("X-Invitation", code.as_str()).await).await;
    assert_eq!(moved["position"], 2, "{moved}");
    // The invited keep their places when they poll without the code.
    assert_eq!(json_of(app.position(2).await).await["position"], 1);

    // The presale window: the line is served before the opening, the pre-queue is not.
    let step = app.state.scheduler.admit_once(&queue).await.unwrap();
    assert_eq!(step.admitted, 2, "the two invited");
    assert_eq!(json_of(app.position(2).await).await["tokenStatus"], "활성");
    let waiting = json_of(app.join(3).await).await;
    assert_eq!(waiting["position"], 0, "still the pre-queue: {waiting}");
}

#[tokio::test]
async fn once_the_queue_is_open_a_code_is_not_needed_and_not_used() {
    let mut config = test_config();
    config.admin_token = Some(ADMIN.into());
    let app = spawn_configured(config).await;
    let queue = app.default_queue();
    let code = one_code(&app, &queue, json!({ "count": 1, "uses": 1 })).await;
    assert_eq!(app.join(5).header("X-Invitation", code.as_str()).await.status(), 200);
    assert_eq!(uses_left(&app, &queue, &code).await, 1);
}

#[tokio::test]
async fn the_codes_are_listed_as_csv_with_their_uses_left() {
    let (app, queue) = presale_app().await;
    let made = codes(&app, &queue, json!({ "count": 3, "uses": 2, "userId": "42" })).await;
    assert_eq!(made.len(), 3);
    assert_eq!(
        app.join(42).header("X-Invitation", made[0].as_str()).await.status(),
        200
    );

    let response = app.admin_invitations(&queue).header("Accept", "text/csv").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = response.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("code,uses,usesLeft,userId,validUntil,createdAt"));
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        let left = if row[0] == made[0] { "1" } else { "2" };
        assert_eq!(&row[1..4], &["2", left, "42"], "{row:?}");
    }

    for bad in [
        json!({ "count": 0, "uses": 1 }),
        json!({ "count": 10_001, "uses": 1 }),
        json!({ "count": 1 }),
    ] {
        assert_error(app.admin_new_invitations(&queue, &bad).await, 400, "INVALID_BODY").await;
    }
}
