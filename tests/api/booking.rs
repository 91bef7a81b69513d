//! Booking against real Redis and Postgres: holds, payments, balances, and the
//! guarantees (no double sale, no money created or lost, nothing half done).

use std::time::Duration;

use crate::helpers::{assert_error, json_of, spawn_app, spawn_app_with, TestApp, ADMIN};
use futures::future::join_all;
use rand::seq::IndexedRandom;
use serde_json::json;

async fn ledger_matches_balances(app: &TestApp) {
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM balances b
         WHERE b.amount <> COALESCE((SELECT sum(delta) FROM balance_ledger l WHERE l.user_id = b.user_id), 0)",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(mismatched, 0, "every balance equals the sum of its ledger");
}

#[tokio::test]
async fn two_hundred_buyers_for_one_seat_only_one_hold_wins() {
    let app = spawn_app().await;
    let tokens = app.admitted(1..=200).await;
    let attempts = tokens
        .iter()
        .map(|(user, token)| app.reserve(token, 1, 1, *user, &[7]).send());
    let responses = join_all(attempts).await;
    let mut won = 0;
    for response in responses {
        let response = response.unwrap();
        if response.status() == 200 {
            won += 1;
        } else {
            let body = assert_error(response, 409, "SEAT_UNAVAILABLE").await;
            assert_eq!(body["seats"], json!([7]));
        }
    }
    assert_eq!(won, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_rush_of_funded_buyers_never_sells_a_seat_twice_nor_loses_money() {
    let app = spawn_app().await;
    let buyers: Vec<i64> = (1..=200).collect();
    for user in &buyers {
        assert_eq!(app.charge(*user, 10_000).await.status(), 200);
    }
    let tokens = app.admitted(buyers.clone()).await;
    let seat_numbers: Vec<i32> = (1..=50).collect();

    let journeys = buyers.iter().map(|user| {
        let (app, token, seat_numbers) = (&app, tokens[user].clone(), &seat_numbers);
        async move {
            for _ in 0..3 {
                let wanted: Vec<i32> = {
                    let mut rng = rand::rng();
                    let count = *[1usize, 2].choose(&mut rng).unwrap();
                    seat_numbers.choose_multiple(&mut rng, count).copied().collect()
                };
                let hold = app.reserve(&token, 1, 2, *user, &wanted).await;
                match hold.status().as_u16() {
                    200 => {
                        let paid = app.pay(&token, 1, 2, *user).await;
                        assert_eq!(paid.status(), 200, "{}", paid.text().await.unwrap());
                        return true;
                    }
                    409 => continue,
                    other => panic!("unexpected hold answer {other}: {}", hold.text().await.unwrap()),
                }
            }
            false
        }
    });
    let bought = join_all(journeys).await.into_iter().filter(|bought| *bought).count();
    assert!(bought > 0);

    let db = &app.state.db;
    let (rows, distinct, revenue): (i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT seat_id), sum(price)::bigint FROM reservations WHERE schedule_id = 2",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(rows, distinct, "no seat sold twice");
    let (balance_sum, negative): (Option<i64>, i64) =
        sqlx::query_as("SELECT sum(amount)::bigint, count(*) FILTER (WHERE amount < 0) FROM balances")
            .fetch_one(db)
            .await
            .unwrap();
    assert_eq!(negative, 0);
    assert_eq!(
        200 * 10_000 - balance_sum.unwrap(),
        revenue.unwrap(),
        "money debited = sold seat prices"
    );
    let paid: Option<i64> = sqlx::query_scalar("SELECT sum(amount)::bigint FROM payments")
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(paid, revenue);

    let sold_in_db: Vec<i32> = sqlx::query_scalar(
        "SELECT s.seat_number FROM reservations r JOIN seats s ON s.id = r.seat_id WHERE r.schedule_id = 2",
    )
    .fetch_all(db)
    .await
    .unwrap();
    let flags = app.seat_flags(1, 2).await;
    for number in &sold_in_db {
        assert_eq!(flags[&i64::from(*number)], "Y", "sold seat {number} shows taken");
    }
    let taken = flags.values().filter(|flag| *flag == "Y").count();
    assert_eq!(
        taken,
        sold_in_db.len(),
        "seats taken = confirmed reservations (no holds left)"
    );
    ledger_matches_balances(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn an_unpaid_hold_lapses_and_frees_the_seat() {
    let app = spawn_app_with(|config| config.booking.hold_ttl_s = 1).await;
    let tokens = app.admitted([1, 2]).await;
    app.charge(1, 10_000).await;
    assert_eq!(app.reserve(&tokens[&1], 1, 1, 1, &[5]).await.status(), 200);
    assert_error(app.reserve(&tokens[&2], 1, 1, 2, &[5]).await, 409, "SEAT_UNAVAILABLE").await;

    // The hold's TTL (1 s) lapsing is the behaviour: nothing sweeps it.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        app.seat_flags(1, 1).await[&5],
        "N",
        "a lapsed hold is free without any sweep"
    );
    assert_eq!(app.reserve(&tokens[&2], 1, 1, 2, &[5]).await.status(), 200);

    assert_error(app.pay(&tokens[&1], 1, 1, 1).await, 409, "HOLD_EXPIRED").await;
    assert_eq!(
        app.balance_amount(1).await,
        10_000,
        "a failed payment leaves the balance untouched"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_seat_sold_in_postgres_but_missing_in_redis_is_still_refused() {
    let app = spawn_app().await;
    let tokens = app.admitted([1]).await;
    app.charge(1, 10_000).await;
    assert_eq!(app.reserve(&tokens[&1], 1, 1, 1, &[3]).await.status(), 200);
    assert_eq!(app.pay(&tokens[&1], 1, 1, 1).await.status(), 200);

    app.flush_redis().await;
    let tokens = app.admitted([2]).await;
    assert_error(app.reserve(&tokens[&2], 1, 1, 2, &[3]).await, 409, "SEAT_UNAVAILABLE").await;
    assert_eq!(app.seat_flags(1, 1).await[&3], "Y");
    app.stop().await;
}

#[tokio::test]
async fn when_redis_wrongly_shows_a_sold_seat_free_postgres_refuses_the_sale() {
    // The reconciler would repair Redis within a second; this is about the guard
    // that holds even while Redis is wrong, so it stays off here.
    let app = spawn_app_with(|config| config.reconcile_interval_ms = 0).await;
    let tokens = app.admitted([1, 2]).await;
    app.charge(1, 10_000).await;
    app.charge(2, 10_000).await;
    app.reserve(&tokens[&1], 1, 1, 1, &[9]).await;
    assert_eq!(app.pay(&tokens[&1], 1, 1, 1).await.status(), 200);

    // Redis forgets the sale but still believes its sold set is complete.
    let mut redis = app.state.redis.connection().await.unwrap();
    let sold_key = app.keys().sold(1);
    redis::cmd("SREM")
        .arg(&sold_key)
        .arg(9)
        .query_async::<i64>(&mut redis)
        .await
        .unwrap();

    assert_eq!(app.reserve(&tokens[&2], 1, 1, 2, &[9]).await.status(), 200);
    assert_error(app.pay(&tokens[&2], 1, 1, 2).await, 409, "SEAT_UNAVAILABLE").await;
    assert_eq!(app.balance_amount(2).await, 10_000, "rolled back: balance untouched");
    let sales: i64 = sqlx::query_scalar("SELECT count(*) FROM reservations")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(sales, 1);
    let relearned: bool = redis::cmd("SISMEMBER")
        .arg(&sold_key)
        .arg(9)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(relearned, "Redis is taught the sale it missed");
    app.stop().await;
}

#[tokio::test]
async fn paying_confirms_the_seats_debits_once_and_ends_the_token() {
    let app = spawn_app().await;
    let tokens = app.admitted([1]).await;
    let token = &tokens[&1];
    assert_eq!(
        json_of(app.charge(1, 5000).await).await,
        json!({ "userId": 1, "amount": 5000 })
    );

    let hold = json_of(app.reserve(token, 1, 1, 1, &[1, 2]).await).await;
    assert_eq!(hold["concertName"], "임영웅가을콘서트");
    assert_eq!(hold["totalPrice"], 4000);
    assert_eq!(
        hold["seats"][0],
        json!({ "seatNumber": 1, "status": "예약완료", "seatPrice": 2000 })
    );
    assert!(hold["holdExpiresAt"].is_string());

    let schedules = json_of(app.schedules(1).await).await;
    assert_eq!(schedules["schedules"][0]["concertDateId"], 1);
    assert_eq!(schedules["schedules"][0]["availableSeatCount"], 48);

    let paid = app.pay(token, 1, 1, 1).await;
    assert_eq!(paid.status(), 200);
    let receipt = json_of(paid).await;
    assert_eq!(receipt["paymentAmount"], 4000);
    assert_eq!(receipt["paymentStatus"], "결제 완료");
    assert!(receipt["paymentDate"].is_string());
    assert_eq!(app.balance_amount(1).await, 1000);
    let flags = app.seat_flags(1, 1).await;
    assert_eq!(
        (flags[&1].as_str(), flags[&2].as_str(), flags[&3].as_str()),
        ("Y", "Y", "N")
    );

    assert_eq!(
        json_of(app.position(1).await).await["tokenStatus"],
        "만료",
        "payment ends the token"
    );
    assert_error(app.reserve(token, 1, 1, 1, &[3]).await, 403, "TOKEN_EXPIRED").await;
    ledger_matches_balances(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn insufficient_balance_changes_nothing_and_the_hold_stays() {
    let app = spawn_app().await;
    let tokens = app.admitted([1]).await;
    app.charge(1, 1000).await;
    app.reserve(&tokens[&1], 1, 1, 1, &[4]).await;
    let body = assert_error(app.pay(&tokens[&1], 1, 1, 1).await, 409, "INSUFFICIENT_BALANCE").await;
    assert_eq!(
        (body["balance"].as_i64(), body["required"].as_i64()),
        (Some(1000), Some(2000))
    );
    assert_eq!(app.balance_amount(1).await, 1000);
    assert_eq!(app.seat_flags(1, 1).await[&4], "Y", "still held");

    app.charge(1, 1000).await;
    assert_eq!(app.pay(&tokens[&1], 1, 1, 1).await.status(), 200);
    assert_eq!(app.balance_amount(1).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn hold_rules_all_or_nothing_limits_and_bad_seats() {
    let app = spawn_app().await;
    let tokens = app.admitted([1, 2]).await;
    let (one, two) = (&tokens[&1], &tokens[&2]);
    assert_eq!(app.reserve(two, 1, 1, 2, &[10]).await.status(), 200);

    // All or nothing: seat 10 is taken, so 11 is not held either.
    let body = assert_error(app.reserve(one, 1, 1, 1, &[11, 10]).await, 409, "SEAT_UNAVAILABLE").await;
    assert_eq!(body["seats"], json!([10]));
    assert_eq!(app.seat_flags(1, 1).await[&11], "N");

    assert_eq!(app.reserve(one, 1, 1, 1, &[1, 2, 3]).await.status(), 200);
    assert_eq!(
        app.reserve(one, 1, 1, 1, &[3]).await.status(),
        200,
        "re-holding is fine"
    );
    assert_error(app.reserve(one, 1, 1, 1, &[4, 5]).await, 409, "TOO_MANY_SEATS").await;
    assert_error(app.reserve(one, 1, 2, 1, &[1, 2, 3, 4, 5]).await, 409, "TOO_MANY_SEATS").await;

    for bad in [[51], [0], [-1]] {
        assert_error(app.reserve(one, 1, 2, 1, &bad).await, 404, "SEAT_NOT_FOUND").await;
    }
    assert_error(app.reserve(one, 1, 2, 1, &[]).await, 400, "NO_SEATS_REQUESTED").await;
    assert_error(app.reserve(one, 9, 1, 1, &[1]).await, 404, "CONCERT_NOT_FOUND").await;
    assert_error(app.reserve(one, 1, 4, 1, &[1]).await, 404, "SCHEDULE_NOT_FOUND").await;
    let unknown = app.schedules(9).await;
    assert_error(unknown, 404, "CONCERT_NOT_FOUND").await;
    let foreign = app.seats(2, 1).await;
    assert_error(foreign, 404, "SCHEDULE_NOT_FOUND").await;
    app.stop().await;
}

#[tokio::test]
async fn payment_needs_a_hold_and_the_buyers_own_active_token() {
    let app = spawn_app().await;
    let tokens = app.admitted([1, 2]).await;
    app.charge(1, 10_000).await;
    assert_error(app.pay(&tokens[&1], 1, 1, 1).await, 409, "NO_HOLD").await;
    app.reserve(&tokens[&1], 1, 1, 1, &[1]).await;
    assert_error(app.pay(&tokens[&2], 1, 1, 1).await, 403, "TOKEN_MISMATCH").await;
    let waiting = json_of(app.join(3).await).await["token"].as_str().unwrap().to_string();
    assert_error(app.pay(&waiting, 1, 1, 3).await, 403, "NOT_ADMITTED").await;
    let mismatch = app
        .pay(&tokens[&1], 1, 1, 1)
        .json(&json!({ "userId": 1, "concertScheduleId": 2 }))
        .await;
    assert_error(mismatch, 400, "SCHEDULE_MISMATCH").await;
    assert_eq!(app.balance_amount(1).await, 10_000);
    app.stop().await;
}

#[tokio::test]
async fn a_hundred_parallel_charges_add_up_exactly() {
    let app = spawn_app().await;
    let charges = (0..100).map(|_| app.charge(1, 10));
    for response in join_all(charges).await {
        assert_eq!(response.status(), 200);
    }
    assert_eq!(app.balance_amount(1).await, 1000);
    let (rows, sum): (i64, Option<i64>) =
        sqlx::query_as("SELECT count(*), sum(delta)::bigint FROM balance_ledger WHERE user_id = 1")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!((rows, sum), (100, Some(1000)));
    ledger_matches_balances(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn idempotency_keys_charge_once_replay_and_refuse_reuse() {
    let app = spawn_app().await;
    let charge = |key: &str, amount: i64| app.charge(1, amount).header("Idempotency-Key", key).send();
    let first = charge("key-1", 1000).await.unwrap();
    assert_eq!(first.status(), 200);
    let first = first.text().await.unwrap();
    let retried = charge("key-1", 1000).await.unwrap();
    assert_eq!(retried.status(), 200);
    assert_eq!(
        retried.text().await.unwrap(),
        first,
        "the retry replays the first answer"
    );
    assert_eq!(app.balance_amount(1).await, 1000, "charged once");

    // Racing duplicates wait for the first and all get its answer.
    let mut answers = Vec::new();
    for response in join_all((0..20).map(|_| charge("key-2", 500))).await {
        let response = response.unwrap();
        assert_eq!(response.status(), 200);
        answers.push(response.text().await.unwrap());
    }
    assert!(answers.iter().all(|answer| *answer == answers[0]), "{answers:?}");
    assert_eq!(app.balance_amount(1).await, 1500, "twenty racing retries charge once");

    assert_error(charge("key-1", 2000).await.unwrap(), 422, "IDEMPOTENCY_KEY_REUSED").await;
    // Another user may use the same key: keys are scoped to the user.
    let other = app.charge(2, 1000).header("Idempotency-Key", "key-1").await;
    assert_eq!(other.status(), 200);

    app.stop().await;
}

#[tokio::test]
async fn a_retried_payment_with_its_key_pays_once() {
    let app = spawn_app().await;
    let tokens = app.admitted([1]).await;
    app.reserve(&tokens[&1], 1, 1, 1, &[1]).await;
    let pay = || app.pay(&tokens[&1], 1, 1, 1).header("Idempotency-Key", "pay-1").send();
    // A refused payment stores nothing: once the cause is fixed, the same key pays.
    assert_error(pay().await.unwrap(), 409, "INSUFFICIENT_BALANCE").await;
    app.charge(1, 10_000).await;
    let first = pay().await.unwrap();
    assert_eq!(first.status(), 200);
    let first = json_of(first).await;
    // The payment ended the token, yet the retry gets the same receipt back.
    let retry = json_of(pay().await.unwrap()).await;
    assert_eq!(retry, first);
    assert_eq!(app.balance_amount(1).await, 8000, "paid once");
    // Without the key, the ended token is refused as usual.
    assert_error(app.pay(&tokens[&1], 1, 1, 1).await, 403, "TOKEN_EXPIRED").await;
    let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(payments, 1);
    assert_eq!(first["paymentAmount"], 2000);
    app.stop().await;
}

#[tokio::test]
async fn racing_retries_of_a_payment_pay_once_and_share_the_receipt() {
    let app = spawn_app().await;
    let tokens = app.admitted([1]).await;
    app.charge(1, 10_000).await;
    app.reserve(&tokens[&1], 1, 1, 1, &[1, 2]).await;
    let racing = (0..8).map(|_| {
        app.pay(&tokens[&1], 1, 1, 1)
            .header("Idempotency-Key", "pay-race")
            .send()
    });
    let mut receipts = Vec::new();
    for response in join_all(racing).await {
        let response = response.unwrap();
        assert_eq!(response.status(), 200);
        receipts.push(json_of(response).await);
    }
    assert!(receipts.iter().all(|receipt| *receipt == receipts[0]), "{receipts:?}");
    assert_eq!(app.balance_amount(1).await, 6000, "two seats paid once");
    let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(payments, 1);
    app.stop().await;
}

#[tokio::test]
async fn bad_charges_and_unknown_users_get_clear_answers() {
    let app = spawn_app_with(|config| config.booking.max_balance = 50_000).await;
    let raw = |body: &str| {
        app.client
            .patch(app.url("/api/balances/balance/charge"))
            .header("user-id", "1")
            .body(body.to_string())
            .send()
    };
    for body in [
        "0",
        "-5",
        "10.5",
        "\"1000\"",
        "1e30",
        "{}",
        "{\"amount\": -1}",
        "1000001",
        "null",
        "[1000]",
    ] {
        assert_error(raw(body).await.unwrap(), 400, "INVALID_AMOUNT").await;
    }
    assert_error(raw("").await.unwrap(), 400, "MISSING_BODY").await;
    assert_error(raw("12abc").await.unwrap(), 400, "INVALID_JSON").await;
    assert_eq!(
        json_of(raw("{\"amount\": 40000}").await.unwrap()).await["amount"],
        40_000
    );
    assert_error(raw("20000").await.unwrap(), 409, "BALANCE_LIMIT_EXCEEDED").await;
    assert_eq!(app.balance_amount(1).await, 40_000);

    assert_error(app.charge(5000, 100).await, 404, "USER_NOT_FOUND").await;
    let unknown = app.balance(5000).await;
    assert_error(unknown, 404, "USER_NOT_FOUND").await;
    let missing = app.balance(1).without("user-id").await;
    assert_error(missing, 400, "MISSING_USER_ID").await;
    app.stop().await;
}

#[tokio::test]
async fn the_invariant_audit_passes_after_sales_and_catches_tampering() {
    // No reconciler: it would repair the tampered sold set this test shows the audit catching.
    let app = spawn_app_with(|config| {
        config.reconcile_interval_ms = 0;
        config.admin_token = Some(ADMIN.into());
    })
    .await;
    let tokens = app.admitted([1]).await;
    app.charge(1, 10_000).await;
    app.reserve(&tokens[&1], 1, 1, 1, &[1, 2]).await;
    assert_eq!(app.pay(&tokens[&1], 1, 1, 1).await.status(), 200);
    let audit = app.ops_invariants().await;
    assert_eq!(audit.status(), 200);
    let report = json_of(audit).await;
    assert_eq!(
        (report["ok"].as_bool(), report["seats_sold"].as_i64()),
        (Some(true), Some(2))
    );

    // Money out of thin air, a seat Redis believes sold that nobody bought, and
    // one sold that Redis forgot (and, with no reconciler, never learns again:
    // recent as the sale is, that is drift once the in-flight allowance is over).
    sqlx::query("UPDATE balances SET amount = amount + 1 WHERE user_id = 1")
        .execute(&app.state.db)
        .await
        .unwrap();
    let mut redis = app.state.redis.connection().await.unwrap();
    let sold_key = app.keys().sold(1);
    redis::cmd("SADD")
        .arg(&sold_key)
        .arg(20)
        .query_async::<i64>(&mut redis)
        .await
        .unwrap();
    redis::cmd("SREM")
        .arg(&sold_key)
        .arg(2)
        .query_async::<i64>(&mut redis)
        .await
        .unwrap();
    // The open route may serve the clean result of a moment ago; the admin's is fresh.
    let audit = app.admin_invariants().await;
    let report = assert_error(audit, 409, "INVARIANT_VIOLATED").await;
    let violations = report["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert_eq!(
        violations[1],
        "schedule 1: Redis marks [20] sold, which Postgres never sold; \
         Postgres sold [2], which Redis does not mark sold"
    );
    app.stop().await;
}
