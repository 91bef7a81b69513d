//! Creating a concert through the admin API: what it refuses, with a code,
//! rather than storing something no sum can carry or failing with a 500.

use crate::helpers::{assert_error, json_of, spawn_app_with, ADMIN};
use serde_json::{json, Value};

/// The largest price of a seat (booking/money.rs).
const MAX_PRICE: i64 = 1_000_000_000;

fn one_schedule(code: &str, schedule: Value) -> Value {
    json!({ "code": code, "name": "시험공연", "schedules": [schedule] })
}

#[tokio::test]
async fn prices_beyond_the_bound_are_refused_and_no_total_wraps() {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    // The prices: three seats of a third of 2^64 were held for a total of 2.
    for price in [6_148_914_691_236_517_206, i64::MAX, MAX_PRICE + 1, -1] {
        let flat = json!({ "startsAt": "2031-05-01T19:00:00", "seats": 3, "price": price });
        assert_error(
            app.admin_create_concert(&one_schedule("pricey", flat)).await,
            400,
            "INVALID_PRICE",
        )
        .await;
        let sections = json!({ "startsAt": "2031-05-01T19:00:00",
            "sections": [{ "seats": 2, "price": 1000 }, { "seats": 3, "price": price }] });
        assert_error(
            app.admin_create_concert(&one_schedule("pricey", sections)).await,
            400,
            "INVALID_PRICE",
        )
        .await;
    }

    // At the bound, four seats (the most one user holds) total what they cost.
    let at_bound = json!({ "startsAt": "2031-05-01T19:00:00", "seats": 4, "price": MAX_PRICE });
    let created = app.admin_create_concert(&one_schedule("pricey", at_bound)).await;
    assert_eq!(created.status(), 201);
    let schedule = json_of(created).await["schedules"][0]["concertDateId"]
        .as_i64()
        .unwrap();
    let concert: i64 = sqlx::query_scalar("SELECT concert_id FROM concert_schedules WHERE id = $1")
        .bind(schedule)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let token = app.active_token(3).await;
    let held = app.reserve(&token, concert, schedule, 3, &[1, 2, 3, 4]).await;
    assert_eq!(held.status(), 200);
    assert_eq!(json_of(held).await["totalPrice"], 4 * MAX_PRICE);
    app.charge(3, 10_000).await;
    let paid = app.pay(&token, concert, schedule, 3).await;
    let refused = assert_error(paid, 409, "INSUFFICIENT_BALANCE").await;
    assert_eq!(refused["required"], 4 * MAX_PRICE);
    assert_eq!(app.balance_amount(3).await, 10_000);
    app.stop().await;
}

#[tokio::test]
async fn two_schedules_at_one_time_are_refused_with_a_code_and_nothing_is_kept() {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    let twice = json!({ "code": "twice", "name": "두번", "schedules": [
        { "startsAt": "2031-06-01T19:00:00", "seats": 10, "price": 1000 },
        { "startsAt": "2031-06-02T19:00:00", "seats": 10, "price": 1000 },
        { "startsAt": "2031-06-01T19:00:00", "seats": 5, "price": 2000 }
    ]});
    assert_error(app.admin_create_concert(&twice).await, 409, "DUPLICATE_SCHEDULE").await;
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM concerts WHERE code = 'twice'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(kept, 0, "all or nothing");
    let once = one_schedule(
        "twice",
        json!({ "startsAt": "2031-06-01T19:00:00", "seats": 10, "price": 1000 }),
    );
    assert_eq!(app.admin_create_concert(&once).await.status(), 201);
    app.stop().await;
}
