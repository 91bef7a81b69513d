//! Creating a concert through the admin API: what it refuses, with a code,
//! rather than failing with a 500.

mod common;

use common::{assert_error, spawn_app_with, TestApp};
use serde_json::{json, Value};

const ADMIN: &str = "ops-team-token";

async fn create(app: &TestApp, concert: Value) -> reqwest::Response {
    app.client
        .post(app.url("/admin/concerts"))
        .header("Authorization", format!("Bearer {ADMIN}"))
        .json(&concert)
        .send()
        .await
        .unwrap()
}

fn one_schedule(code: &str, schedule: Value) -> Value {
    json!({ "code": code, "name": "시험공연", "schedules": [schedule] })
}

#[tokio::test]
async fn two_schedules_at_one_time_are_refused_with_a_code_and_nothing_is_kept() {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    let twice = json!({ "code": "twice", "name": "두번", "schedules": [
        { "startsAt": "2031-06-01T19:00:00", "seats": 10, "price": 1000 },
        { "startsAt": "2031-06-02T19:00:00", "seats": 10, "price": 1000 },
        { "startsAt": "2031-06-01T19:00:00", "seats": 5, "price": 2000 }
    ]});
    assert_error(create(&app, twice).await, 409, "DUPLICATE_SCHEDULE").await;
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM concerts WHERE code = 'twice'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(kept, 0, "all or nothing");
    let once = one_schedule(
        "twice",
        json!({ "startsAt": "2031-06-01T19:00:00", "seats": 10, "price": 1000 }),
    );
    assert_eq!(create(&app, once).await.status(), 201);
    app.stop().await;
}
