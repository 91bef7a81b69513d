//! When something fails: Redis converging on Postgres by itself, and 503s that
//! mean what they say. (Tests that stop or freeze a store run against stores of
//! their own: tests/faults.rs.)

use std::time::{Duration, Instant};

use crate::helpers::{assert_error, eventually, json_of, spawn_app_with, uuid, TestApp};
use boxoffice::queue::{QueueToken, TokenSigner};
use redis::AsyncCommands;
use sqlx::{Connection, PgConnection};

async fn seat_is_shown_sold(app: &TestApp, schedule: i64, seat: i64) -> bool {
    let body = json_of(app.seats(1, schedule).await).await;
    body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["seatNumber"] == seat && s["reserveYn"] == "Y")
}

/// As if the gateway had died between commit and Redis: the sale is in
/// Postgres, and Redis never heard of it.
async fn forget_in_redis(app: &TestApp, schedule: i64, seat: i64) {
    let mut redis = app.state.redis.connection().await.unwrap();
    let sold_key = app.keys().sold(schedule);
    let removed: i64 = redis::cmd("SREM")
        .arg(&sold_key)
        .arg(seat)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(removed, 1, "the sale was in Redis before");
}

async fn wait_until_healed(app: &TestApp, schedule: i64, seat: i64, within: Duration) -> Duration {
    let started = Instant::now();
    eventually(within, format!("seat {seat} shown sold again"), || async {
        seat_is_shown_sold(app, schedule, seat).await.then_some(())
    })
    .await;
    started.elapsed()
}

#[tokio::test]
async fn a_sale_redis_never_heard_of_is_shown_sold_again_within_seconds() {
    let app = spawn_app_with(|_| {}).await;
    let token = app.active_token(1).await;
    app.charge(1, 10_000).await;
    app.reserve(&token, 1, 1, 1, &[5]).await;
    assert_eq!(app.pay(&token, 1, 1, 1).await.status(), 200);

    forget_in_redis(&app, 1, 5).await;
    // Nobody tries to buy the seat: the recent-sales pass alone brings it back.
    let healed_in = wait_until_healed(&app, 1, 5, Duration::from_secs(3)).await;
    assert!(healed_in < Duration::from_secs(3));
    let audit = app.ops_invariants().await;
    assert_eq!(audit.status(), 200, "{}", json_of(audit).await);
    app.stop().await;
}

#[tokio::test]
async fn an_old_sale_missing_from_redis_is_restored_by_the_full_pass() {
    let app = spawn_app_with(|config| config.reconcile_interval_ms = 500).await;
    let token = app.active_token(1).await;
    app.charge(1, 10_000).await;
    app.reserve(&token, 1, 2, 1, &[6]).await;
    assert_eq!(app.pay(&token, 1, 2, 1).await.status(), 200);
    // Older than the recent window: only the per-schedule comparison finds it.
    sqlx::query("UPDATE reservations SET created_at = now() - interval '1 hour'")
        .execute(&app.state.db)
        .await
        .unwrap();
    forget_in_redis(&app, 2, 6).await;
    wait_until_healed(&app, 2, 6, Duration::from_secs(3)).await;

    // And a seat Redis marks sold that nobody bought is freed again.
    let mut redis = app.state.redis.connection().await.unwrap();
    let sold_key = app.keys().sold(2);
    redis::cmd("SADD")
        .arg(&sold_key)
        .arg(30)
        .query_async::<i64>(&mut redis)
        .await
        .unwrap();
    eventually(Duration::from_secs(3), "seat 30 shown free again", || async {
        (!seat_is_shown_sold(&app, 2, 30).await).then_some(())
    })
    .await;
    let audit = app.ops_invariants().await;
    assert_eq!(audit.status(), 200, "{}", json_of(audit).await);
    app.stop().await;
}

#[tokio::test]
async fn a_payment_stuck_behind_a_lock_is_refused_in_time_and_never_commits_later() {
    let app = spawn_app_with(|config| config.db_statement_timeout_ms = 400).await;
    let token = app.active_token(1).await;
    app.charge(1, 10_000).await;
    app.reserve(&token, 1, 1, 1, &[8]).await;

    // Another client (not under the service's deadlines) holds the buyer's
    // balance row for two seconds.
    let mut other_client = PgConnection::connect(&app.config.database_url).await.unwrap();
    let mut blocker = other_client.begin().await.unwrap();
    sqlx::query("SELECT amount FROM balances WHERE user_id = 1 FOR UPDATE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let started = Instant::now();
    let refused = app.pay(&token, 1, 1, 1).await;
    let waited = started.elapsed();
    let charge_refused = app.charge(1, 100).await;
    // Held past both answers (the hold is the behaviour), then let go.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    blocker.commit().await.unwrap();

    assert!(waited < Duration::from_millis(1500), "answered after {waited:?}");
    assert_eq!(
        refused.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    let body = assert_error(refused, 503, "DEPENDENCY_UNAVAILABLE").await;
    assert!(body["message"].as_str().unwrap().contains("nothing"), "{body}");
    assert_error(charge_refused, 503, "DEPENDENCY_UNAVAILABLE").await;

    // The lock is gone: nothing of either request committed behind its 503.
    // (Whatever was still waiting would commit now: that nothing does is
    // seen only by letting it have the time to.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.balance_amount(1).await, 10_000);
    let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(payments, 0);
    // The hold is still there, so the buyer simply pays again.
    assert_eq!(app.pay(&token, 1, 1, 1).await.status(), 200);
    assert_eq!(app.balance_amount(1).await, 8_000);
    app.stop().await;
}

#[tokio::test]
async fn beyond_its_in_flight_bound_a_route_group_sheds_at_once() {
    let app = spawn_app_with(|config| {
        config.limits.max_inflight_booking = 1;
        config.db_statement_timeout_ms = 2000;
    })
    .await;
    app.charge(2, 1000).await;
    // One charge waits on a row lock another client holds, filling the bound.
    let mut other_client = PgConnection::connect(&app.config.database_url).await.unwrap();
    let mut blocker = other_client.begin().await.unwrap();
    sqlx::query("SELECT amount FROM balances WHERE user_id = 2 FOR UPDATE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let stuck = tokio::spawn(app.charge(2, 100).send());
    eventually(Duration::from_secs(3), "the charge waiting on the lock", || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        (waiting > 0).then_some(())
    })
    .await;

    let started = Instant::now();
    let shed = app.balance(3).await;
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "shed in {:?}",
        started.elapsed()
    );
    assert!(shed.headers().contains_key("retry-after"));
    assert_error(shed, 503, "OVERLOADED").await;
    // Other groups are not affected: the queue and operations still answer.
    assert_eq!(app.join(4).await.status(), 200);
    assert_eq!(app.health().await.status(), 200);

    blocker.commit().await.unwrap();
    assert_eq!(
        stuck.await.unwrap().unwrap().status(),
        200,
        "the request in flight finishes"
    );
    assert_eq!(
        app.balance_amount(3).await,
        0,
        "with the bound free again, requests are served"
    );
    app.stop().await;
}

async fn poll_with_token(app: &TestApp, user: i64, token: &str) -> serde_json::Value {
    let response = app.position(user).token(token).await;
    assert_eq!(response.status(), 200);
    json_of(response).await
}

#[tokio::test]
async fn places_come_back_in_join_order_after_redis_loses_its_data() {
    let app = spawn_app_with(|_| {}).await;
    let mut tokens = Vec::new();
    for user in 1..=60 {
        let body = json_of(app.join(user).await).await;
        assert_eq!(body["position"], user);
        tokens.push((user, body["token"].as_str().unwrap().to_string()));
    }
    app.flush_redis().await;

    // Someone joins first after the loss; then the others come back in a
    // shuffled order, each with the token they held.
    let newcomer = json_of(app.join(500).await).await;
    assert_eq!(newcomer["position"], 1, "alone in an empty line");
    let mut returning = tokens.clone();
    returning.reverse();
    returning.swap(3, 40);
    for (user, token) in &returning {
        let body = poll_with_token(&app, *user, token).await;
        assert_eq!(body["tokenStatus"], "대기", "{body}");
    }
    // Everyone is back at their place relative to the others, ahead of the newcomer.
    for (user, token) in &tokens {
        let body = poll_with_token(&app, *user, token).await;
        assert_eq!(body["position"], *user, "user {user}: {body}");
    }
    assert_eq!(json_of(app.position(500).await).await["position"], 61);
    app.stop().await;
}

#[tokio::test]
async fn api_v1_places_come_back_too() {
    let app = spawn_app_with(|_| {}).await;
    let mut tokens = Vec::new();
    for user in 1..=5 {
        let response = app.v1_join("hero-autumn", &uuid(user)).await;
        tokens.push(json_of(response).await["token"].as_str().unwrap().to_string());
    }
    app.flush_redis().await;
    let poll = |token: &str| app.v1_poll("hero-autumn", token);
    for token in tokens.iter().rev() {
        assert_eq!(poll(token).await.status(), 200);
    }
    for (index, token) in tokens.iter().enumerate() {
        let body = json_of(poll(token).await).await;
        assert_eq!(body["position"], index + 1, "{body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_admission_is_honoured_until_its_signed_end_after_redis_loses_it() {
    let app = spawn_app_with(|_| {}).await;
    let token = app.admitted_token(1).await;
    assert_eq!(json_of(app.position(1).await).await["tokenStatus"], "활성");
    app.flush_redis().await;

    // Redis has forgotten the admission; the signed token still books.
    let held = app.reserve(&token, 1, 1, 1, &[4]).await;
    assert_eq!(held.status(), 200, "{}", json_of(held).await);
    assert_eq!(json_of(app.position(1).await).await["tokenStatus"], "활성");
    app.stop().await;
}

/// What a failover to a replica that missed the last writes leaves behind:
/// `users`' records and places gone, and the queue's sequence counter back
/// where it stood before they joined (`seq`).
async fn lose_the_last_joins(app: &TestApp, users: &[i64], seq: i64) {
    let queue = app.default_queue();
    let mut redis = app.state.redis.connection().await.unwrap();
    let mut pipe = redis::pipe();
    for &user in users {
        pipe.zrem(app.keys().queue(&queue, "waiting"), user)
            .zrem(app.keys().queue(&queue, "active"), user)
            .hdel(app.keys().user_record_bucket(&queue, user), user);
    }
    pipe.hset(app.keys().queue(&queue, "stats"), "seq", seq);
    pipe.query_async::<()>(&mut redis).await.unwrap();
}

async fn sequence_of(app: &TestApp, user: i64) -> i64 {
    let mut redis = app.state.redis.connection().await.unwrap();
    let waiting = app.keys().queue(&app.default_queue(), "waiting");
    redis::cmd("ZSCORE")
        .arg(&waiting)
        .arg(user)
        .query_async(&mut redis)
        .await
        .unwrap()
}

async fn last_sequence(app: &TestApp) -> i64 {
    let mut redis = app.state.redis.connection().await.unwrap();
    let stats = app.keys().queue(&app.default_queue(), "stats");
    redis.hget(&stats, "seq").await.unwrap()
}

#[tokio::test]
async fn places_lost_with_a_failovers_last_writes_come_back_in_order() {
    let app = spawn_app_with(|_| {}).await;
    let mut tokens = Vec::new();
    for user in 1..=5 {
        tokens.push(
            json_of(app.join(user).await).await["token"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // The replica had users 1-3 only, and the counter as user 3 left it.
    let seq = sequence_of(&app, 3).await;
    lose_the_last_joins(&app, &[4, 5], seq).await;

    let newcomer = json_of(app.join(6).await).await;
    assert_eq!(newcomer["position"], 4, "behind those Redis kept");
    // Users 4 and 5 reload with their tokens: their places, ahead of the newcomer.
    for user in [5, 4] {
        let body = poll_with_token(&app, user, &tokens[user as usize - 1]).await;
        assert_eq!(body["tokenStatus"], "대기", "user {user}: {body}");
    }
    for user in 1..=5 {
        let body = poll_with_token(&app, user, &tokens[user as usize - 1]).await;
        assert_eq!(body["position"], user, "user {user}: {body}");
    }
    assert_eq!(json_of(app.position(6).await).await["position"], 6);
    app.stop().await;
}

#[tokio::test]
async fn a_newer_place_lost_behind_an_older_record_comes_back() {
    let app = spawn_app_with(|_| {}).await;
    let queue = app.default_queue();
    let first = json_of(app.join(1).await).await["token"].as_str().unwrap().to_string();
    app.join(2).await;
    let mut redis = app.state.redis.connection().await.unwrap();
    let waiting = app.keys().queue(&queue, "waiting");
    let bucket = app.keys().user_record_bucket(&queue, 1);
    // User 1's place ends (as when dropped for not polling) and they join again.
    let _: () = redis.zrem(&waiting, 1).await.unwrap();
    let old_record: Vec<u8> = redis.hget(&bucket, 1).await.unwrap();
    let rejoined = json_of(app.join(1).token(&first).await).await;
    assert_eq!(rejoined["position"], 2, "{rejoined}");
    let second = rejoined["token"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    // A failover loses the second join: Redis holds the first place's record.
    let _: () = redis::pipe()
        .zrem(&waiting, 1)
        .hset(&bucket, 1, old_record)
        .query_async(&mut redis)
        .await
        .unwrap();

    let body = poll_with_token(&app, 1, &second).await;
    assert_eq!(body["tokenStatus"], "대기", "{body}");
    assert_eq!(body["position"], 2, "{body}");
    assert_eq!(json_of(app.join(3).await).await["position"], 3);
    app.stop().await;
}

#[tokio::test]
async fn an_admission_lost_with_a_failovers_last_writes_still_books() {
    let app = spawn_app_with(|_| {}).await;
    app.join(2).await;
    let seq = last_sequence(&app).await;
    let token = app.admitted_token(1).await;
    lose_the_last_joins(&app, &[1], seq).await;

    let held = app.reserve(&token, 1, 1, 1, &[4]).await;
    assert_eq!(held.status(), 200, "{}", json_of(held).await);
    assert_eq!(json_of(app.position(1).await).await["tokenStatus"], "활성");
    app.stop().await;
}

/// What a failover that kept `user`'s place (at `seq`) and lost the
/// admission leaves behind: the user waiting again, not active.
async fn lose_the_admission(app: &TestApp, user: i64, seq: i64) {
    let queue = app.default_queue();
    let mut redis = app.state.redis.connection().await.unwrap();
    let _: () = redis::pipe()
        .zrem(app.keys().queue(&queue, "active"), user)
        .zadd(app.keys().queue(&queue, "waiting"), user, seq)
        .query_async(&mut redis)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_admission_lost_while_the_place_was_kept_stands_until_its_end() {
    let app = spawn_app_with(|_| {}).await;
    app.join(1).await;
    let seq = sequence_of(&app, 1).await;
    let token = app.admitted_token(1).await;
    app.join(2).await;
    // The failover kept the place and lost the admission: user 1 waits again.
    lose_the_admission(&app, 1, seq).await;

    let body = poll_with_token(&app, 1, &token).await;
    assert_eq!(body["tokenStatus"], "활성", "{body}");
    assert_eq!(
        json_of(app.position(2).await).await["position"],
        1,
        "no one is behind a ghost"
    );
    let held = app.reserve(&token, 1, 1, 1, &[4]).await;
    assert_eq!(held.status(), 200, "{}", json_of(held).await);
    app.stop().await;
}

#[tokio::test]
async fn a_booking_finds_an_admission_lost_while_the_place_was_kept() {
    let app = spawn_app_with(|_| {}).await;
    app.join(1).await;
    let seq = sequence_of(&app, 1).await;
    let token = app.admitted_token(1).await;
    lose_the_admission(&app, 1, seq).await;

    let held = app.reserve(&token, 1, 1, 1, &[4]).await;
    assert_eq!(held.status(), 200, "{}", json_of(held).await);
    app.stop().await;
}

#[tokio::test]
async fn a_token_whose_record_lapsed_normally_does_not_jump_the_line() {
    let app = spawn_app_with(|_| {}).await;
    app.join(2).await;
    app.join(3).await;
    // User 1 joined more than a day ago (the records' TTL) with a place ahead
    // of both; the record has lapsed since, while Redis kept everything else.
    let issued_s = chrono::Utc::now().timestamp() - 25 * 3600;
    let old = TokenSigner::new(b"test-secret").sign(&QueueToken {
        queue: app.default_queue(),
        user_id: 1,
        issued_s,
        nonce: 7,
        seq: issued_s * 1_000_000,
        active_until_ms: 0,
    });
    let polled = app.position(1).token(&old).await;
    assert_error(polled, 404, "TOKEN_NOT_FOUND").await;
    let rejoined = app.join(1).token(&old).await;
    assert_eq!(json_of(rejoined).await["position"], 3, "to the back, like anyone");
    // And a token is only ever presented by its own user.
    let borrowed = app.position(2).token(&old).await;
    assert_error(borrowed, 403, "TOKEN_MISMATCH").await;
    app.stop().await;
}

/// Makes Redis forget the Lua library, as a restart without persistence or a
/// failover to a node that never had it does: `FUNCTION FLUSH` (sent to every
/// master of a cluster) and `SCRIPT FLUSH`.
async fn forget_the_lua(app: &TestApp) {
    let mut redis = app.state.redis.connection().await.unwrap();
    for what in ["FUNCTION", "SCRIPT"] {
        let flushed: String = redis::cmd(what).arg("FLUSH").query_async(&mut redis).await.unwrap();
        assert_eq!(flushed, "OK");
    }
}

#[tokio::test]
async fn a_redis_that_lost_the_lua_library_gets_it_back_with_nothing_for_the_client_to_see() {
    let app = spawn_app_with(|_| {}).await;
    // Before each step, so that the join, the admission step, the poll, the
    // hold and the payment each find the library gone and load it again.
    forget_the_lua(&app).await;
    let joined = json_of(app.join(12).await).await;
    let token = joined["token"].as_str().expect("a token").to_string();
    forget_the_lua(&app).await;
    assert_eq!(app.admit_everyone(&app.default_queue()).await.admitted, 1);
    forget_the_lua(&app).await;
    let position = json_of(app.position(12).await).await;
    assert_eq!(position["tokenStatus"], "활성", "{position}");
    app.charge(12, 10_000).await;
    forget_the_lua(&app).await;
    let held = app.reserve(&token, 1, 1, 12, &[21]).await;
    assert_eq!(held.status(), 200, "{}", json_of(held).await);
    forget_the_lua(&app).await;
    let paid = app.pay(&token, 1, 1, 12).await;
    assert_eq!(paid.status(), 200, "{}", json_of(paid).await);

    // Many calls finding it gone together: every one is answered.
    for user in 13..=40 {
        app.join(user).await;
    }
    forget_the_lua(&app).await;
    let polls = (13..=40).map(|user| app.position(user));
    for answer in futures::future::join_all(polls).await {
        assert_eq!(answer.status(), 200);
    }
    app.stop().await;
}

#[tokio::test]
async fn the_full_pass_reports_seats_restored_not_sold_sets_rebuilt() {
    // The passes are driven here, one step at a time (no background pass).
    let app = spawn_app_with(|config| config.reconcile_interval_ms = 0).await;
    let schedules: Vec<i64> = sqlx::query_scalar("SELECT id FROM concert_schedules")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert!(schedules.len() > 1);
    let mut redis = app.state.redis.connection().await.unwrap();
    let sold_key = |schedule: i64| format!("{{{}:s:{schedule}}}:sold", app.config.redis_prefix);

    // Redis has no sold set yet: the first pass rebuilds every one of them,
    // and nothing was sold, so it has no seat to report.
    assert_eq!(app.state.reconcile_sold_sets().await.unwrap(), (0, 0));
    for &schedule in &schedules {
        let marked: bool = redis::cmd("SISMEMBER")
            .arg(sold_key(schedule))
            .arg(0)
            .query_async(&mut redis)
            .await
            .unwrap();
        assert!(marked, "schedule {schedule} was not rebuilt");
    }

    // Two seats sold an hour ago that Redis never heard of, as a gateway that
    // died between commit and Redis would leave them (older than the recent
    // pass's window: only the full pass restores them).
    sqlx::query(
        "WITH paid AS (
             INSERT INTO payments (user_id, schedule_id, amount, created_at)
             SELECT 1, 2, sum(price), now() - interval '1 hour'
             FROM seats WHERE schedule_id = 2 AND seat_number IN (4, 9)
             RETURNING id
         )
         INSERT INTO reservations (seat_id, schedule_id, user_id, payment_id, price, created_at)
         SELECT s.id, 2, 1, paid.id, s.price, now() - interval '1 hour'
         FROM seats s, paid WHERE s.schedule_id = 2 AND s.seat_number IN (4, 9)",
    )
    .execute(&app.state.db)
    .await
    .unwrap();

    // The next pass reports those two seats, and nothing for the sets it
    // only compared.
    assert_eq!(app.state.reconcile_sold_sets().await.unwrap(), (2, 0));
    let mut sold: Vec<i32> = redis::cmd("SMEMBERS")
        .arg(sold_key(2))
        .query_async(&mut redis)
        .await
        .unwrap();
    sold.sort_unstable();
    assert_eq!(sold, [0, 4, 9]);
    assert_eq!(
        app.state.reconcile_sold_sets().await.unwrap(),
        (0, 0),
        "nothing left to heal"
    );
    app.stop().await;
}
