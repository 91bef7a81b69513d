//! The `/api/v1` design (seed 004) over the same engine: one queue per concert
//! code, users by UUID.

use crate::helpers::{assert_error, json_of, spawn_app, uuid};
use serde_json::json;

const HERO: &str = "hero-autumn";
const FIRST_DATE: &str = "2030-10-10T19:00:00";

#[tokio::test]
async fn the_whole_journey_through_api_v1() {
    let app = spawn_app().await;
    let user = uuid(5);

    // Token, then poll with it until admitted (the scheduler steps as it would each tick).
    let joined = app.v1_join(HERO, &user).await;
    assert_eq!(joined.status(), 200);
    let joined = json_of(joined).await;
    let token = joined["token"].as_str().unwrap().to_string();
    assert_eq!(
        (joined["tokenStatus"].as_str(), joined["position"].as_u64()),
        (Some("대기"), Some(1))
    );
    assert!(joined["etaSeconds"].is_u64() && joined["pollAfterMs"].is_u64());

    let poll = || app.v1_poll(HERO, &token);
    let mut status = json_of(poll().await).await;
    for _ in 0..5 {
        if status["tokenStatus"] == "활성" {
            break;
        }
        app.state.scheduler.admit_once(HERO).await.unwrap();
        status = json_of(poll().await).await;
    }
    assert_eq!(status["tokenStatus"], "활성");
    assert_eq!(status["userId"], user.as_str());

    // Dates: UUID in a GET body, as the seed has it.
    let dates = app.v1_dates_in_body(HERO, &token, &user).await;
    assert_eq!(dates.status(), 200);
    let dates = json_of(dates).await;
    assert_eq!(dates["schedules"].as_array().unwrap().len(), 3);
    assert_eq!(dates["schedules"][0]["scheduleAt"], FIRST_DATE);
    assert_eq!(dates["schedules"][0]["availableSeatCount"], 50);

    // Seats: parameters in the query string work as well.
    let seats = json_of(app.v1_seats(HERO, &token, &user, FIRST_DATE).await).await;
    assert_eq!(seats["scheduleId"], 1);
    assert_eq!(
        seats["seats"][6],
        json!({ "seatId": 7, "seatNumber": 7, "reserveYn": "N", "seatPrice": 2000 })
    );

    let held = app.v1_hold(HERO, &token, &user, FIRST_DATE, 7).await;
    assert_eq!(held.status(), 200);
    assert_eq!(json_of(held).await["seats"][0]["status"], "예약완료");

    let charged = app.v1_charge(&user, 5000).await;
    assert_eq!(json_of(charged).await["amount"], 5000);
    assert_eq!(json_of(app.v1_balance(&user).await).await["amount"], 5000);

    let paid = app.v1_pay(&token, &user).await;
    assert_eq!(paid.status(), 200);
    let paid = json_of(paid).await;
    assert_eq!(
        (paid["paymentAmount"].as_i64(), paid["paymentStatus"].as_str()),
        (Some(2000), Some("결제 완료"))
    );
    assert_eq!(json_of(app.v1_balance(&user).await).await["amount"], 3000);

    let seat_map = json_of(app.seats(1, 1).await).await;
    assert_eq!(seat_map["seats"][6]["reserveYn"], "Y", "the seat shows taken");
    assert_eq!(
        json_of(poll().await).await["tokenStatus"],
        "만료",
        "the token is expired"
    );
    let after = app.v1_dates(HERO, &token, &user).await;
    assert_error(after, 403, "TOKEN_EXPIRED").await;
    app.stop().await;
}

#[tokio::test]
async fn every_error_the_seed_lists_and_then_some() {
    let app = spawn_app().await;
    assert_error(app.v1_join("no-such-show", &uuid(1)).await, 404, "CONCERT_NOT_FOUND").await;
    let stranger = uuid::Uuid::new_v4().to_string();
    assert_error(app.v1_join(HERO, &stranger).await, 404, "USER_NOT_FOUND").await;
    assert_error(app.v1_join(HERO, "not-a-uuid").await, 400, "INVALID_UUID").await;
    let without_uuid = app.v1_join(HERO, "").json(&json!({})).await;
    assert_error(without_uuid, 400, "MISSING_UUID").await;

    let token = app.v1_active_token(HERO, 1).await;
    assert_eq!(app.v1_dates(HERO, &token, &uuid(1)).await.status(), 200);
    // A raw token without "Bearer " works too.
    let raw = app
        .v1_dates(HERO, &token, &uuid(1))
        .header("Authorization", &token)
        .await;
    assert_eq!(raw.status(), 200);
    let without_token = app.v1_dates(HERO, &token, &uuid(1)).without("authorization");
    assert_error(without_token.await, 401, "TOKEN_MISSING").await;
    assert_error(app.v1_dates("iu-winter", &token, &uuid(1)).await, 403, "TOKEN_MISMATCH").await;
    assert_error(app.v1_dates(HERO, &token, &uuid(2)).await, 403, "TOKEN_MISMATCH").await;
    assert_error(app.v1_dates(HERO, &token, "garbage").await, 400, "INVALID_UUID").await;

    let seats = |date: &str| app.v1_seats_in_body(HERO, &token, &uuid(1), date);
    assert_error(seats("10/10/2030 7pm").await, 400, "INVALID_DATE").await;
    assert_error(seats("2030-10-10T20:00:00").await, 404, "SCHEDULE_NOT_FOUND").await;
    assert_error(
        app.v1_hold(HERO, &token, &uuid(1), "2030-13-45T00:00:00", 1).await,
        400,
        "INVALID_DATE",
    )
    .await;
    assert_error(
        app.v1_hold(HERO, &token, &uuid(1), FIRST_DATE, 99).await,
        404,
        "SEAT_NOT_FOUND",
    )
    .await;

    let pay_without = app.v1_pay(&token, &uuid(1)).without("authorization").await;
    assert_error(pay_without, 401, "TOKEN_MISSING").await;
    let default_queue_token = app.active_token(1).await;
    let wrong_queue = app.v1_pay(&default_queue_token, &uuid(1)).await;
    assert_error(wrong_queue, 403, "TOKEN_MISMATCH").await;
    let nothing_held = app.v1_pay(&token, &uuid(1)).await;
    assert_error(nothing_held, 409, "NO_HOLD").await;

    let unknown_balance = app.v1_balance(&stranger).await;
    assert_error(unknown_balance, 404, "USER_NOT_FOUND").await;
    let bad_balance = app.v1_balance("xyz").await;
    assert_error(bad_balance, 400, "INVALID_UUID").await;
    let negative = app.v1_charge(&uuid(1), -100).await;
    assert_error(negative, 400, "INVALID_AMOUNT").await;
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
    assert_eq!(app.reserve(&api_token, 1, 1, 1, &[3]).await.status(), 200);
    assert_eq!(app.pay(&api_token, 1, 1, 1).await.status(), 200);
    let v1_token = app.v1_active_token(HERO, 2).await;
    assert_error(
        app.v1_hold(HERO, &v1_token, &uuid(2), FIRST_DATE, 3).await,
        409,
        "SEAT_UNAVAILABLE",
    )
    .await;

    // Sold through /api/v1, refused through /api.
    assert_eq!(
        app.v1_hold(HERO, &v1_token, &uuid(2), FIRST_DATE, 4).await.status(),
        200
    );
    let paid = app.v1_pay(&v1_token, &uuid(2)).await;
    assert_eq!(paid.status(), 200);
    let api_token = app.active_token(1).await;
    assert_error(app.reserve(&api_token, 1, 1, 1, &[4]).await, 409, "SEAT_UNAVAILABLE").await;

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
    let token = app.v1_active_token(HERO, 3).await;
    assert_eq!(app.v1_hold(HERO, &token, &uuid(3), FIRST_DATE, 1).await.status(), 200);
    assert_eq!(
        app.v1_hold(HERO, &token, &uuid(3), "2030-10-12T19:00:00", 2)
            .await
            .status(),
        200
    );
    let paid = json_of(app.v1_pay(&token, &uuid(3)).await).await;
    assert_eq!(paid["paymentAmount"], 4000);
    assert_eq!(paid["paymentIds"].as_array().unwrap().len(), 2, "one payment per date");
    assert_eq!(paid["balance"], 6000);

    // Each ledger row carries the balance right after it: 10000, 8000, 6000.
    let after: Vec<i64> = sqlx::query_scalar("SELECT balance_after FROM balance_ledger WHERE user_id = 3 ORDER BY id")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(after, [10_000, 8_000, 6_000]);
    let audit = app.ops_invariants().await;
    assert_eq!(audit.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_replayed_receipt_equals_the_first_field_for_field() {
    let app = spawn_app().await;
    let charge = |key: &str| app.v1_charge(&uuid(4), 20_000).header("Idempotency-Key", key);
    let charged = json_of(charge("top-up").await).await;
    assert_eq!(
        json_of(charge("top-up").await).await,
        charged,
        "a replayed top-up answers exactly as the first"
    );

    // Seats held out of order, on two dates: the receipt is read back from the
    // rows the payment wrote, and must still match the first answer exactly.
    let token = app.v1_active_token(HERO, 4).await;
    for (date, seat) in [("2030-10-12T19:00:00", 9), (FIRST_DATE, 7), (FIRST_DATE, 3)] {
        assert_eq!(app.v1_hold(HERO, &token, &uuid(4), date, seat).await.status(), 200);
    }
    let pay = || app.v1_pay(&token, &uuid(4)).header("Idempotency-Key", "pay-once");
    let first = json_of(pay().await).await;
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
    let replay = json_of(pay().await).await;
    let fields = first.as_object().unwrap();
    assert_eq!(replay.as_object().unwrap().len(), fields.len(), "{replay}");
    for (name, value) in fields {
        assert_eq!(&replay[name], value, "field {name}");
    }
    app.stop().await;
}
