//! The `/api/v1` design (seed 004) over the same engine: one queue per concert
//! code, users by UUID.

use crate::helpers::{assert_error, json_of, spawn_app, TestApp};
use boxoffice::store::seed::user_uuid;
use reqwest::RequestBuilder;
use serde_json::json;

const HERO: &str = "hero-autumn";
const FIRST_DATE: &str = "2030-10-10T19:00:00";

fn uuid(user: i64) -> String {
    user_uuid(user).to_string()
}

fn authed(request: RequestBuilder, token: &str) -> RequestBuilder {
    request.header("Authorization", format!("Bearer {token}"))
}

async fn v1_token(app: &TestApp, code: &str, user: i64) -> String {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/concerts/{code}/token")))
        .json(&json!({ "UUID": uuid(user) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    json_of(response).await["token"].as_str().unwrap().to_string()
}

async fn v1_active_token(app: &TestApp, code: &str, user: i64) -> String {
    let token = v1_token(app, code, user).await;
    app.admit_everyone(code).await;
    token
}

fn v1_hold(app: &TestApp, token: &str, user: i64, date: &str, seat: i32) -> RequestBuilder {
    authed(app.client.patch(app.url(&format!("/api/v1/concerts/{HERO}"))), token)
        .json(&json!({ "UUID": uuid(user), "concertDate": date, "seatNumber": seat }))
}

#[tokio::test]
async fn the_whole_journey_through_api_v1() {
    let app = spawn_app().await;
    let user = uuid(5);

    // Token, then poll with it until admitted (the scheduler steps as it would each tick).
    let joined = app
        .client
        .post(app.url(&format!("/api/v1/concerts/{HERO}/token")))
        .json(&json!({ "UUID": user }))
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 200);
    let joined = json_of(joined).await;
    let token = joined["token"].as_str().unwrap().to_string();
    assert_eq!(
        (joined["tokenStatus"].as_str(), joined["position"].as_u64()),
        (Some("대기"), Some(1))
    );
    assert!(joined["etaSeconds"].is_u64() && joined["pollAfterMs"].is_u64());

    let poll = || {
        authed(
            app.client.get(app.url(&format!("/api/v1/concerts/{HERO}/token"))),
            &token,
        )
        .send()
    };
    let mut status = json_of(poll().await.unwrap()).await;
    for _ in 0..5 {
        if status["tokenStatus"] == "활성" {
            break;
        }
        app.state.scheduler.admit_once(HERO).await.unwrap();
        status = json_of(poll().await.unwrap()).await;
    }
    assert_eq!(status["tokenStatus"], "활성");
    assert_eq!(status["userId"], user.as_str());

    // Dates: UUID in a GET body, as the seed has it.
    let dates = authed(app.client.get(app.url(&format!("/api/v1/concerts/{HERO}"))), &token)
        .json(&json!({ "UUID": user }))
        .send()
        .await
        .unwrap();
    assert_eq!(dates.status(), 200);
    let dates = json_of(dates).await;
    assert_eq!(dates["schedules"].as_array().unwrap().len(), 3);
    assert_eq!(dates["schedules"][0]["scheduleAt"], FIRST_DATE);
    assert_eq!(dates["schedules"][0]["availableSeatCount"], 50);

    // Seats: parameters in the query string work as well.
    let seats = authed(
        app.client.get(app.url(&format!("/api/v1/concerts/{HERO}/seats"))),
        &token,
    )
    .query(&[("UUID", user.as_str()), ("concertDate", FIRST_DATE)])
    .send()
    .await
    .unwrap();
    let seats = json_of(seats).await;
    assert_eq!(seats["scheduleId"], 1);
    assert_eq!(
        seats["seats"][6],
        json!({ "seatId": 7, "seatNumber": 7, "reserveYn": "N", "seatPrice": 2000 })
    );

    let held = v1_hold(&app, &token, 5, FIRST_DATE, 7).send().await.unwrap();
    assert_eq!(held.status(), 200);
    assert_eq!(json_of(held).await["seats"][0]["status"], "예약완료");

    let balance_url = app.url(&format!("/api/v1/users/{user}/balance"));
    let charged = app
        .client
        .patch(&balance_url)
        .json(&json!({ "amount": 5000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(charged).await["amount"], 5000);
    assert_eq!(
        json_of(app.client.get(&balance_url).send().await.unwrap()).await["amount"],
        5000
    );

    let paid = authed(app.client.post(app.url("/api/v1/payments")), &token)
        .json(&json!({ "UUID": user }))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    let paid = json_of(paid).await;
    assert_eq!(
        (paid["paymentAmount"].as_i64(), paid["paymentStatus"].as_str()),
        (Some(2000), Some("결제 완료"))
    );
    assert_eq!(
        json_of(app.client.get(&balance_url).send().await.unwrap()).await["amount"],
        3000
    );

    let seat_map = json_of(
        app.client
            .get(app.url("/api/concerts/1/schedules/1/seats"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(seat_map["seats"][6]["reserveYn"], "Y", "the seat shows taken");
    assert_eq!(
        json_of(poll().await.unwrap()).await["tokenStatus"],
        "만료",
        "the token is expired"
    );
    let after = authed(app.client.get(app.url(&format!("/api/v1/concerts/{HERO}"))), &token)
        .query(&[("UUID", user.as_str())])
        .send()
        .await
        .unwrap();
    assert_error(after, 403, "TOKEN_EXPIRED").await;
    app.stop().await;
}

#[tokio::test]
async fn every_error_the_seed_lists_and_then_some() {
    let app = spawn_app().await;
    let join = |code: &str, body: serde_json::Value| {
        app.client
            .post(app.url(&format!("/api/v1/concerts/{code}/token")))
            .json(&body)
            .send()
    };
    assert_error(
        join("no-such-show", json!({ "UUID": uuid(1) })).await.unwrap(),
        404,
        "CONCERT_NOT_FOUND",
    )
    .await;
    let stranger = uuid::Uuid::new_v4().to_string();
    assert_error(
        join(HERO, json!({ "UUID": stranger })).await.unwrap(),
        404,
        "USER_NOT_FOUND",
    )
    .await;
    assert_error(
        join(HERO, json!({ "UUID": "not-a-uuid" })).await.unwrap(),
        400,
        "INVALID_UUID",
    )
    .await;
    assert_error(join(HERO, json!({})).await.unwrap(), 400, "MISSING_UUID").await;

    let token = v1_active_token(&app, HERO, 1).await;
    let dates = |code: &str, token: Option<&str>, user: &str| {
        let mut request = app
            .client
            .get(app.url(&format!("/api/v1/concerts/{code}")))
            .query(&[("UUID", user)]);
        if let Some(token) = token {
            request = authed(request, token);
        }
        request.send()
    };
    assert_eq!(dates(HERO, Some(&token), &uuid(1)).await.unwrap().status(), 200);
    // A raw token without "Bearer " works too.
    let raw = app
        .client
        .get(app.url(&format!("/api/v1/concerts/{HERO}")))
        .header("Authorization", &token)
        .query(&[("UUID", uuid(1))])
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    assert_error(dates(HERO, None, &uuid(1)).await.unwrap(), 401, "TOKEN_MISSING").await;
    assert_error(
        dates("iu-winter", Some(&token), &uuid(1)).await.unwrap(),
        403,
        "TOKEN_MISMATCH",
    )
    .await;
    assert_error(
        dates(HERO, Some(&token), &uuid(2)).await.unwrap(),
        403,
        "TOKEN_MISMATCH",
    )
    .await;
    assert_error(dates(HERO, Some(&token), "garbage").await.unwrap(), 400, "INVALID_UUID").await;

    let seats = |date: &str| {
        authed(
            app.client.get(app.url(&format!("/api/v1/concerts/{HERO}/seats"))),
            &token,
        )
        .json(&json!({ "UUID": uuid(1), "concertDate": date }))
        .send()
    };
    assert_error(seats("10/10/2030 7pm").await.unwrap(), 400, "INVALID_DATE").await;
    assert_error(seats("2030-10-10T20:00:00").await.unwrap(), 404, "SCHEDULE_NOT_FOUND").await;
    assert_error(
        v1_hold(&app, &token, 1, "2030-13-45T00:00:00", 1).send().await.unwrap(),
        400,
        "INVALID_DATE",
    )
    .await;
    assert_error(
        v1_hold(&app, &token, 1, FIRST_DATE, 99).send().await.unwrap(),
        404,
        "SEAT_NOT_FOUND",
    )
    .await;

    let pay_without = app
        .client
        .post(app.url("/api/v1/payments"))
        .json(&json!({ "UUID": uuid(1) }))
        .send()
        .await;
    assert_error(pay_without.unwrap(), 401, "TOKEN_MISSING").await;
    let default_queue_token = app.active_token(1).await;
    let wrong_queue = authed(app.client.post(app.url("/api/v1/payments")), &default_queue_token)
        .json(&json!({ "UUID": uuid(1) }))
        .send()
        .await
        .unwrap();
    assert_error(wrong_queue, 403, "TOKEN_MISMATCH").await;
    let nothing_held = authed(app.client.post(app.url("/api/v1/payments")), &token)
        .json(&json!({ "UUID": uuid(1) }))
        .send()
        .await
        .unwrap();
    assert_error(nothing_held, 409, "NO_HOLD").await;

    let unknown_balance = app
        .client
        .get(app.url(&format!("/api/v1/users/{stranger}/balance")))
        .send()
        .await;
    assert_error(unknown_balance.unwrap(), 404, "USER_NOT_FOUND").await;
    let bad_balance = app.client.get(app.url("/api/v1/users/xyz/balance")).send().await;
    assert_error(bad_balance.unwrap(), 400, "INVALID_UUID").await;
    let negative = app
        .client
        .patch(app.url(&format!("/api/v1/users/{}/balance", uuid(1))))
        .json(&json!({ "amount": -100 }))
        .send()
        .await;
    assert_error(negative.unwrap(), 400, "INVALID_AMOUNT").await;
    app.stop().await;
}

#[tokio::test]
async fn a_seat_sold_on_one_api_cannot_be_sold_on_the_other() {
    let app = spawn_app().await;
    for user in [1, 2] {
        app.charge(user, 10_000).await;
    }

    // Sold through /api, refused through /api/v1.
    let api_token = app.active_token(1).await;
    assert_eq!(
        app.reserve(&api_token, 1, 1, 1, &[3]).send().await.unwrap().status(),
        200
    );
    assert_eq!(app.pay(&api_token, 1, 1, 1).send().await.unwrap().status(), 200);
    let v1_token = v1_active_token(&app, HERO, 2).await;
    assert_error(
        v1_hold(&app, &v1_token, 2, FIRST_DATE, 3).send().await.unwrap(),
        409,
        "SEAT_UNAVAILABLE",
    )
    .await;

    // Sold through /api/v1, refused through /api.
    assert_eq!(
        v1_hold(&app, &v1_token, 2, FIRST_DATE, 4)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let paid = authed(app.client.post(app.url("/api/v1/payments")), &v1_token)
        .json(&json!({ "UUID": uuid(2) }))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    let api_token = app.active_token(1).await;
    assert_error(
        app.reserve(&api_token, 1, 1, 1, &[4]).send().await.unwrap(),
        409,
        "SEAT_UNAVAILABLE",
    )
    .await;

    let sold: i64 = sqlx::query_scalar("SELECT count(*) FROM reservations")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(sold, 2);
    app.stop().await;
}

#[tokio::test]
async fn one_v1_payment_covers_holds_on_several_dates_with_an_exact_ledger() {
    let app = spawn_app().await;
    app.charge(3, 10_000).await;
    let token = v1_active_token(&app, HERO, 3).await;
    assert_eq!(
        v1_hold(&app, &token, 3, FIRST_DATE, 1).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        v1_hold(&app, &token, 3, "2030-10-12T19:00:00", 2)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let paid = authed(app.client.post(app.url("/api/v1/payments")), &token)
        .json(&json!({ "UUID": uuid(3) }))
        .send()
        .await
        .unwrap();
    let paid = json_of(paid).await;
    assert_eq!(paid["paymentAmount"], 4000);
    assert_eq!(paid["paymentIds"].as_array().unwrap().len(), 2, "one payment per date");
    assert_eq!(paid["balance"], 6000);

    // Each ledger row carries the balance right after it: 10000, 8000, 6000.
    let after: Vec<i64> = sqlx::query_scalar("SELECT balance_after FROM balance_ledger WHERE user_id = 3 ORDER BY id")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(after, [10_000, 8_000, 6_000]);
    let audit = app.client.get(app.url("/ops/invariants")).send().await.unwrap();
    assert_eq!(audit.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_replayed_receipt_equals_the_first_field_for_field() {
    let app = spawn_app().await;
    let charge = |key: &str| {
        app.client
            .patch(app.url(&format!("/api/v1/users/{}/balance", uuid(4))))
            .header("Idempotency-Key", key)
            .json(&json!({ "amount": 20_000 }))
            .send()
    };
    let charged = json_of(charge("top-up").await.unwrap()).await;
    assert_eq!(
        json_of(charge("top-up").await.unwrap()).await,
        charged,
        "a replayed top-up answers exactly as the first"
    );

    // Seats held out of order, on two dates: the receipt is read back from the
    // rows the payment wrote, and must still match the first answer exactly.
    let token = v1_active_token(&app, HERO, 4).await;
    for (date, seat) in [("2030-10-12T19:00:00", 9), (FIRST_DATE, 7), (FIRST_DATE, 3)] {
        assert_eq!(v1_hold(&app, &token, 4, date, seat).send().await.unwrap().status(), 200);
    }
    let pay = || {
        authed(app.client.post(app.url("/api/v1/payments")), &token)
            .header("Idempotency-Key", "pay-once")
            .json(&json!({ "UUID": uuid(4) }))
            .send()
    };
    let first = json_of(pay().await.unwrap()).await;
    assert_eq!(first["paymentAmount"], 6000);
    assert_eq!(first["balance"], 14_000);
    let seats: Vec<(i64, i64)> = first["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|seat| {
            (
                seat["concertScheduleId"].as_i64().unwrap(),
                seat["seatNumber"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(seats, [(1, 3), (1, 7), (3, 9)]);

    // The payment ended the token; the retry is answered from Postgres.
    let replay = json_of(pay().await.unwrap()).await;
    let fields = first.as_object().unwrap();
    assert_eq!(replay.as_object().unwrap().len(), fields.len(), "{replay}");
    for (name, value) in fields {
        assert_eq!(&replay[name], value, "field {name}");
    }
    app.stop().await;
}
