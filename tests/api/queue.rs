//! The waiting queue against real Redis: fairness, admission limits, expiry,
//! abandonment, the booking gate, and the pacing hints.

use std::collections::HashSet;
use std::time::Duration;

use crate::helpers::{assert_error, json_of, spawn_app, spawn_app_with, spawn_configured, TestApp};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use boxoffice::queue::TokenSigner;
use futures::future::join_all;
use reqwest::Method;

/// Milliseconds of Redis `TIME`, the clock every expiry and rate uses.
async fn redis_now_ms(app: &TestApp) -> u64 {
    let mut redis = app.state.redis.connection().await.unwrap();
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut redis).await.unwrap();
    secs * 1000 + micros / 1000
}

#[tokio::test]
async fn a_thousand_concurrent_joins_get_a_thousand_distinct_places() {
    let app = spawn_app().await;
    let joins = (1..=1000).map(|user| {
        let app = &app;
        async move { (user, json_of(app.join(user).await).await) }
    });
    let answers = join_all(joins).await;

    let mut positions: Vec<u64> = answers
        .iter()
        .map(|(_, body)| body["position"].as_u64().unwrap())
        .collect();
    positions.sort_unstable();
    assert_eq!(positions, (1..=1000).collect::<Vec<u64>>());
    let tokens: HashSet<&str> = answers
        .iter()
        .map(|(_, body)| body["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens.len(), 1000, "one token per user");
    assert!(answers.iter().all(|(_, body)| body["tokenStatus"] == "대기"));

    // A retry or a second tab gets the same token and the same place back.
    let (user, first) = &answers[417];
    let again = json_of(app.join(*user).await).await;
    assert_eq!(again["token"], first["token"]);
    assert_eq!(again["position"], first["position"]);
    assert_eq!(again["tokenCreated"], first["tokenCreated"]);
    let stats = app.state.scheduler.stats(&app.default_queue()).await.unwrap();
    assert_eq!((stats.waiting, stats.joined), (1000, 1000));
    app.stop().await;
}

#[tokio::test]
async fn join_and_poll_answer_in_the_seed_shape() {
    let app = spawn_app().await;
    let response = app.join(1).await;
    assert_eq!(response.status(), 200);
    let body = json_of(response).await;
    for field in [
        "userId",
        "token",
        "tokenCreated",
        "tokenExpiry",
        "tokenStatus",
        "position",
        "etaSeconds",
        "pollAfterMs",
    ] {
        assert!(body.get(field).is_some(), "{field} missing from {body}");
    }
    assert_eq!(body["userId"], 1);
    let created = body["tokenCreated"].as_str().unwrap();
    assert_eq!(
        created.len(),
        "2024-10-10T10:00:00".len(),
        "local time without offset: {created}"
    );

    let poll = json_of(app.position(1).await).await;
    assert_eq!(
        (poll["position"].as_u64(), poll["token"].clone()),
        (Some(1), body["token"].clone())
    );

    // Paths answer with and without the trailing slash.
    let bare = app
        .call(Method::POST, "/api/waiting-queue")
        .header("user-id", "2")
        .await;
    assert_eq!(bare.status(), 200);
    let slashed = app.get("/api/waiting-queue/position/").header("user-id", "2").await;
    assert_eq!(json_of(slashed).await["position"], 2);
    app.stop().await;
}

#[tokio::test]
async fn unknown_users_and_users_without_tokens_get_404() {
    let app = spawn_app().await;
    assert_error(app.join(5000).await, 404, "USER_NOT_FOUND").await;
    assert_error(app.position(5000).await, 404, "USER_NOT_FOUND").await;
    assert_error(app.position(3).await, 404, "TOKEN_NOT_FOUND").await;
    app.stop().await;
}

#[tokio::test]
async fn join_and_poll_never_touch_postgres() {
    let app = spawn_app().await;
    app.state.db.close().await;
    assert_eq!(app.join(1).await.status(), 200);
    assert_eq!(app.position(1).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn admission_respects_capacity_and_rate() {
    let app = spawn_app_with(|config| {
        config.queue.max_active = 10;
        config.queue.admit_rate = 5;
        config.queue.admit_tick_ms = 1000;
    })
    .await;
    let queue = app.default_queue();
    for user in 1..=30 {
        assert_eq!(app.join(user).await.status(), 200);
    }
    let started = redis_now_ms(&app).await;
    let mut admitted = 0;
    loop {
        let step = app.state.scheduler.admit_once(&queue).await.unwrap();
        admitted += step.admitted;
        let elapsed_s = (redis_now_ms(&app).await - started) as f64 / 1000.0;
        assert!(step.active <= 10, "active {} over capacity", step.active);
        let allowed = (5.0 * elapsed_s).floor() as u64 + 5;
        assert!(
            admitted <= allowed,
            "admitted {admitted} after {elapsed_s:.2} s (allowed {allowed})"
        );
        if elapsed_s >= 3.0 {
            break;
        }
        // Stepped as the scheduler would, over seconds: the rate over time is the behaviour.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(admitted, 10, "capacity is reached, not exceeded");
    assert_eq!(
        json_of(app.position(11).await).await["position"],
        1,
        "the 11th user is next"
    );
    app.stop().await;
}

#[tokio::test]
async fn two_schedulers_stepping_at_once_admit_no_more_than_one() {
    let first = spawn_app_with(|config| {
        config.queue.max_active = 0;
        config.queue.admit_rate = 5;
    })
    .await;
    // A second instance on the same Redis prefix and database.
    let second = spawn_configured(first.config.clone()).await;
    let queue = first.default_queue();
    for user in 1..=100 {
        first.join(user).await;
    }
    let started = redis_now_ms(&first).await;
    let mut admitted = 0;
    loop {
        let (a, b) = tokio::join!(
            first.state.scheduler.admit_once(&queue),
            second.state.scheduler.admit_once(&queue)
        );
        admitted += a.unwrap().admitted + b.unwrap().admitted;
        let elapsed_s = (redis_now_ms(&first).await - started) as f64 / 1000.0;
        let allowed = (5.0 * elapsed_s).floor() as u64 + 5;
        assert!(
            admitted <= allowed,
            "two instances admitted {admitted} in {elapsed_s:.2} s"
        );
        if elapsed_s >= 2.0 {
            break;
        }
        // Stepped over seconds: the rate over time is the behaviour.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(admitted >= 10, "they still admit at the rate: {admitted}");
    second.stop().await;
    first.stop().await;
}

#[tokio::test]
async fn expired_active_tokens_free_their_slots() {
    let app = spawn_app_with(|config| {
        config.queue.max_active = 2;
        config.queue.admit_rate = 0;
        config.queue.active_ttl_s = 1;
    })
    .await;
    let queue = app.default_queue();
    for user in 1..=4 {
        app.join(user).await;
    }
    assert_eq!(app.state.scheduler.admit_once(&queue).await.unwrap().admitted, 2);
    assert_eq!(json_of(app.position(1).await).await["tokenStatus"], "활성");
    assert_eq!(json_of(app.position(4).await).await["position"], 2);

    // The active TTL (1 s) lapsing is the behaviour.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let step = app.state.scheduler.admit_once(&queue).await.unwrap();
    assert_eq!((step.expired, step.admitted), (2, 2));
    let first = json_of(app.position(1).await).await;
    assert_eq!(
        (first["tokenStatus"].as_str(), first["position"].as_u64()),
        (Some("만료"), Some(0))
    );
    assert_eq!(json_of(app.position(3).await).await["tokenStatus"], "활성");

    // An expired user who joins again goes to the back of the line with a new token.
    let rejoined = json_of(app.join(1).await).await;
    assert_eq!(rejoined["tokenStatus"], "대기");
    assert_ne!(rejoined["token"], first["token"]);
    app.stop().await;
}

#[tokio::test]
async fn abandoned_waiting_users_are_skipped_and_those_behind_move_up() {
    let app = spawn_app_with(|config| {
        config.queue.max_active = 1;
        config.queue.admit_rate = 0;
        config.queue.idle_timeout_s = 1;
    })
    .await;
    let queue = app.default_queue();
    for user in 1..=3 {
        app.join(user).await;
    }
    // Users 1 and 2 go quiet; user 3 keeps polling (the idle timeout passing is the behaviour).
    for _ in 0..7 {
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(json_of(app.position(3).await).await["position"], 3);
    }
    app.join(4).await;
    let step = app.state.scheduler.admit_once(&queue).await.unwrap();
    assert_eq!((step.admitted, step.abandoned), (1, 2));
    assert_eq!(json_of(app.position(3).await).await["tokenStatus"], "활성");
    assert_eq!(
        json_of(app.position(4).await).await["position"],
        1,
        "moved up from 4th to 1st"
    );
    assert_eq!(json_of(app.position(1).await).await["tokenStatus"], "만료");
    app.stop().await;
}

#[tokio::test]
async fn one_step_reaches_past_more_gone_users_than_it_first_reads() {
    // A step first reads as much of the head as it may need (admitting one:
    // 34 users), then runs on those; 40 gone users ahead of the one still
    // there take it past that read, and the same step reads on.
    let app = spawn_app_with(|config| {
        config.queue.max_active = 1;
        config.queue.admit_rate = 0;
        config.queue.idle_timeout_s = 1;
    })
    .await;
    let queue = app.default_queue();
    for user in 1..=41 {
        app.join(user).await;
    }
    // Users 1 to 40 go quiet; user 41 keeps polling (the idle timeout passing is the behaviour).
    for _ in 0..7 {
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(json_of(app.position(41).await).await["position"], 41);
    }
    let step = app.state.scheduler.admit_once(&queue).await.unwrap();
    assert_eq!((step.admitted, step.abandoned, step.waiting), (1, 40, 0));
    assert_eq!(json_of(app.position(41).await).await["tokenStatus"], "활성");
    app.stop().await;
}

#[tokio::test]
async fn a_quiet_user_who_polls_too_late_has_lost_the_place() {
    let app = spawn_app_with(|config| config.queue.idle_timeout_s = 1).await;
    app.join(1).await;
    app.join(2).await;
    // Quiet past the idle timeout (1 s): the wait is the behaviour.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(json_of(app.position(1).await).await["tokenStatus"], "만료");
    app.stop().await;
}

#[tokio::test]
async fn the_gate_refuses_every_token_that_is_not_active_and_yours() {
    let app = spawn_app_with(|config| config.queue.active_ttl_s = 2).await;
    let reserve = |token: Option<&str>, user: i64| {
        match token {
            Some(token) => app.reserve(token, 1, 1, user, &[1]),
            None => app.reserve("", 1, 1, user, &[1]).without("token"),
        }
        .send()
    };

    assert_error(reserve(None, 1).await.unwrap(), 401, "TOKEN_MISSING").await;
    assert_error(reserve(Some("forged.token"), 1).await.unwrap(), 401, "TOKEN_INVALID").await;
    let foreign = TokenSigner::new(b"someone else's secret").sign(&boxoffice::queue::QueueToken {
        queue: app.default_queue(),
        user_id: 1,
        issued_s: 1,
        nonce: 1,
        seq: 0,
        active_until_ms: 0,
    });
    assert_error(reserve(Some(&foreign), 1).await.unwrap(), 401, "TOKEN_INVALID").await;

    let waiting = json_of(app.join(1).await).await["token"].as_str().unwrap().to_string();
    app.join(2).await;
    let body = assert_error(reserve(Some(&waiting), 1).await.unwrap(), 403, "NOT_ADMITTED").await;
    assert_eq!(body["position"], 1);
    assert!(body["message"].as_str().unwrap().contains('1'));

    app.admit_everyone(&app.default_queue()).await;
    let token = waiting;
    // Tampered: another user id in the payload under the original signature.
    let (payload, signature) = token.split_once('.').unwrap();
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let altered = URL_SAFE_NO_PAD.encode(decoded.replacen("|1|", "|2|", 1));
    assert_error(
        reserve(Some(&format!("{altered}.{signature}")), 2).await.unwrap(),
        401,
        "TOKEN_INVALID",
    )
    .await;

    assert_error(reserve(Some(&token), 2).await.unwrap(), 403, "TOKEN_MISMATCH").await;
    let other_queue = app.state.line.join("hero-autumn", 1).await.unwrap().token;
    app.admit_everyone("hero-autumn").await;
    assert_error(reserve(Some(&other_queue), 1).await.unwrap(), 403, "TOKEN_MISMATCH").await;

    assert_eq!(
        reserve(Some(&token), 1).await.unwrap().status(),
        200,
        "the real active token passes"
    );
    let bearer = app.reserve("", 1, 1, 1, &[2]).without("token").bearer(&token).await;
    assert_eq!(bearer.status(), 200, "Authorization: Bearer works too");

    // The active TTL (2 s) lapsing is the behaviour.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_error(reserve(Some(&token), 1).await.unwrap(), 403, "TOKEN_EXPIRED").await;
    app.stop().await;
}

#[tokio::test]
async fn eta_and_poll_interval_grow_with_the_position() {
    let app = spawn_app_with(|config| config.queue.admit_rate = 10).await;
    for user in 1..=300 {
        app.join(user).await;
    }
    let front = app.position(1).await;
    assert_eq!(front.headers()["retry-after"], "1");
    let front = json_of(front).await;
    let back = app.position(300).await;
    let retry_after: u64 = back.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let back = json_of(back).await;

    assert_eq!(front["etaSeconds"], 1);
    assert_eq!(back["etaSeconds"], 30, "300 people at 10 per second");
    let (front_poll, back_poll) = (
        front["pollAfterMs"].as_u64().unwrap(),
        back["pollAfterMs"].as_u64().unwrap(),
    );
    assert_eq!(front_poll, 1000);
    assert!(back_poll > front_poll && back_poll <= 30_000, "{back_poll}");
    assert_eq!(retry_after, back_poll.div_ceil(1000));

    // Once admissions are measured, the estimate follows them.
    let queue = app.default_queue();
    app.state.scheduler.admit_once(&queue).await.unwrap();
    // A rate is measured over time: two steps 0.6 s apart.
    tokio::time::sleep(Duration::from_millis(600)).await;
    app.state.scheduler.admit_once(&queue).await.unwrap();
    let stats = app.state.scheduler.stats(&queue).await.unwrap();
    assert!(stats.admission_rate > 0.0, "measured rate {}", stats.admission_rate);
    let later = json_of(app.position(300).await).await;
    let expected = (later["position"].as_f64().unwrap() / stats.admission_rate).ceil() as u64;
    assert_eq!(later["etaSeconds"].as_u64().unwrap(), expected);
    app.stop().await;
}

#[tokio::test]
async fn joining_too_fast_is_rate_limited() {
    let app = spawn_app_with(|config| config.queue.join_rate_limit = 2).await;
    assert_eq!(app.join(1).await.status(), 200);
    assert_eq!(app.join(1).await.status(), 200);
    let limited = app.join(1).await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_error(limited, 429, "RATE_LIMITED").await;
    assert_eq!(app.join(2).await.status(), 200, "other users are not affected");
    app.stop().await;
}

#[tokio::test]
async fn a_burst_after_an_idle_line_does_not_shrink_the_eta() {
    // Short ticks: the first step after a quiet spell admits a whole second's
    // allowance in one 200 ms tick; that is not a 5x faster line.
    let app = spawn_app_with(|config| {
        config.queue.admit_rate = 100;
        config.queue.admit_tick_ms = 200;
    })
    .await;
    let queue = app.default_queue();
    // The scheduler ticks over an empty line for a while (the time passing is
    // the behaviour), saving up allowance...
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.state.scheduler.admit_once(&queue).await.unwrap();
    }
    // ...then the rush arrives, all at once as a rush does (the step measures
    // admissions over the time since the last: 600 joins one after another
    // could outlast a second on a loaded machine), user 600 last in line...
    join_all((1..600).map(|user| app.join(user))).await;
    app.join(600).await;
    // ...and the next tick admits the saved second at once.
    let step = app.state.scheduler.admit_once(&queue).await.unwrap();
    assert_eq!(step.admitted, 100);
    let last = json_of(app.position(600).await).await;
    assert_eq!(last["position"], 500);
    assert_eq!(last["etaSeconds"], 5, "500 people at 100 per second: {last}");
    app.stop().await;
}
