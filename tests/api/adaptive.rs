//! Adaptive admission against a real slow back end: bookers pay for seats as
//! fast as they are admitted while a test client holds a lock in Postgres that
//! payments wait behind. The admission rate must fall while payments are slow
//! and climb back once the lock is gone, between the operator's floor and ceiling.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::{
    assert_error, eventually, json_of, spawn_app_with, spawn_configured, test_config, TestApp, ADMIN,
};
use boxoffice::store::seed;
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};

const USERS: i64 = 1600;
const MIN_RATE: u64 = 4;
const MAX_RATE: u64 = 40;

/// The rate admission uses now and the controller's last decision.
async fn adaptive_status(app: &TestApp) -> (u64, String) {
    let queue = json_of(app.admin_queue("default").await).await;
    let status = &queue["adaptive"];
    (
        status["rate"].as_u64().unwrap_or(0),
        status["decision"].as_str().unwrap_or("").to_string(),
    )
}

/// Samples the rate every 200 ms until it satisfies `done` or `within` has
/// passed; returns every rate seen on the way and the decisions made (the
/// samples are what the test judges, so this samples rather than only waits).
async fn watch_rate(app: &TestApp, within: Duration, done: impl Fn(u64) -> bool) -> (Vec<u64>, Vec<String>) {
    let started = Instant::now();
    let (mut rates, mut decisions) = (Vec::new(), Vec::new());
    while started.elapsed() < within {
        let (rate, decision) = adaptive_status(app).await;
        rates.push(rate);
        decisions.push(decision);
        if done(rate) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (rates, decisions)
}

/// One booker: takes the next user in join order (the order admission
/// follows), waits for the admission, holds the user's seat and pays for it.
async fn book_until_stopped(
    app: Arc<TestApp>,
    concert: i64,
    schedule: i64,
    next: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let user = next.fetch_add(1, Ordering::Relaxed);
        if user > USERS {
            return;
        }
        let token = loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let Ok(response) = app.position(user).await.json::<Value>().await else {
                continue;
            };
            if response["tokenStatus"] == "활성" {
                break response["token"].as_str().unwrap_or_default().to_string();
            }
            // A client polling until admitted (or the test is over).
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let seat = i32::try_from(user).unwrap_or(1);
        let _ = app.reserve(&token, concert, schedule, user, &[seat]).send().await;
        let _ = app.pay(&token, concert, schedule, user).send().await;
    }
}

#[tokio::test]
async fn the_admission_rate_falls_while_payments_are_slow_and_recovers_after() {
    let app = spawn_app_with(|config| {
        config.admin_token = Some(ADMIN.into());
        config.queue.run_scheduler = true;
        config.queue.admit_tick_ms = 200;
        config.queue.adaptive_window_s = 2;
        // A payment waits this long for the lock, then answers 503.
        config.db_statement_timeout_ms = 1000;
    })
    .await;
    seed::add_users(&app.state.db, 700).await.unwrap();
    app.state.users.refresh(&app.state.db).await.unwrap();
    let created = app
        .admin_create_concert(&json!({
            "code": "adaptive-test", "name": "적응형",
            "schedules": [{ "startsAt": "2031-06-01T19:00:00", "seats": USERS, "price": 1000 }]
        }))
        .await;
    let created = json_of(created).await;
    let concert = created["concertId"].as_i64().unwrap();
    let schedule = created["schedules"][0]["concertDateId"].as_i64().unwrap();
    for user in 1..=USERS {
        assert_eq!(app.charge(user, 5_000).await.status(), 200);
    }

    // Refused knobs first: a floor of 0 (0 is "unlimited" to admission), a cut
    // to 100%, a field that does not exist.
    for adaptive in [
        json!({ "targetP99Ms": 250, "minRate": 0, "maxRate": 40 }),
        json!({ "targetP99Ms": 250, "minRate": 4, "maxRate": 40, "decreaseToPercent": 100 }),
        json!({ "targetP99Ms": 250, "minRate": 4, "maxRate": 40, "increaseBy": -1 }),
        json!({ "targetP99Ms": 250, "minRate": 4, "maxRate": 40, "target": 1 }),
    ] {
        let refused = app.admin_set_queue("default", &json!({ "adaptive": adaptive })).await;
        assert_error(refused, 400, "INVALID_SETTING").await;
    }
    let set = app
        .admin_set_queue(
            "default",
            &json!({
                "maxActive": 0,
                "admitRate": 20,
                "adaptive": { "targetP99Ms": 250, "minRate": MIN_RATE, "maxRate": MAX_RATE, "increaseBy": 6 }
            }),
        )
        .await;
    let settings = json_of(set).await;
    assert_eq!(settings["adaptive"]["decreaseToPercent"], 70, "{settings}");

    for user in 1..=USERS {
        assert_eq!(app.join(user).await.status(), 200);
    }
    let app = Arc::new(app);
    let (next, stop) = (Arc::new(AtomicI64::new(1)), Arc::new(AtomicBool::new(false)));
    let bookers: Vec<_> = (0..24)
        .map(|_| {
            tokio::spawn(book_until_stopped(
                app.clone(),
                concert,
                schedule,
                next.clone(),
                stop.clone(),
            ))
        })
        .collect();

    // Healthy: from the fixed rate (20) up to the ceiling.
    let (healthy, _) = watch_rate(&app, Duration::from_secs(15), |rate| rate >= MAX_RATE).await;
    assert_eq!(
        healthy.last().copied(),
        Some(MAX_RATE),
        "never reached the ceiling: {healthy:?}"
    );

    // Slow: another client holds a lock every payment's insert waits behind.
    let mut other_client = PgConnection::connect(&app.config.database_url).await.unwrap();
    let mut blocker = other_client.begin().await.unwrap();
    sqlx::query("LOCK TABLE reservations IN SHARE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let (slow, slow_decisions) = watch_rate(&app, Duration::from_secs(8), |_| false).await;
    blocker.rollback().await.unwrap();
    let lowest = slow.iter().copied().min().unwrap_or(MAX_RATE);
    assert!(slow_decisions.iter().any(|d| d == "down"), "{slow_decisions:?}");
    assert!(
        lowest <= MAX_RATE * 7 / 10 * 7 / 10,
        "cut at least twice in 8 s of slow payments: {slow:?}"
    );

    // Healthy again: it climbs back to the ceiling.
    let (recovered, _) = watch_rate(&app, Duration::from_secs(20), |rate| rate >= MAX_RATE).await;
    stop.store(true, Ordering::Relaxed);
    for booker in bookers {
        booker.await.unwrap();
    }
    assert_eq!(
        recovered.last().copied(),
        Some(MAX_RATE),
        "did not recover from {lowest}: {recovered:?}"
    );
    let every: Vec<u64> = healthy.iter().chain(&slow).chain(&recovered).copied().collect();
    assert!(
        every.iter().all(|rate| (MIN_RATE..=MAX_RATE).contains(rate)),
        "outside the floor and ceiling: {every:?}"
    );

    // The measured admissions followed: the queue admitted people all along,
    // and payments went through on both sides of the slow spell.
    let paid: i64 = sqlx::query_scalar("SELECT count(*) FROM reservations WHERE schedule_id = $1")
        .bind(schedule)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(paid > 100, "only {paid} seats sold");

    // Every move of the rate is an event, with the step's reason.
    let changes = eventually(Duration::from_secs(5), "the rate's changes as events", || async {
        let page = json_of(
            app.admin_events(&[("types", "admission.rate_changed"), ("limit", "1000")])
                .await,
        )
        .await;
        let changes = page["events"].as_array().cloned().unwrap_or_default();
        changes
            .iter()
            .any(|change| change["data"]["decision"] == "down")
            .then_some(changes)
    })
    .await;
    for change in &changes {
        let data = &change["data"];
        let (from, to) = (data["from"].as_u64().unwrap_or(0), data["to"].as_u64().unwrap_or(0));
        match data["decision"].as_str() {
            Some("up") => assert!(to > from && data["reason"] == "healthy", "{change}"),
            Some("down") => assert!(
                to < from && matches!(data["reason"].as_str(), Some("p99_over_target" | "errors_over_limit")),
                "{change}"
            ),
            _ => panic!("a change that is neither up nor down: {change}"),
        }
        assert_eq!(change["queue"], "default");
        assert_eq!(data["targetP99Ms"], 250);
    }
    let audit = app.ops_invariants().await;
    assert_eq!(audit.status(), 200, "{}", json_of(audit).await);
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
}

#[tokio::test]
async fn instances_stepping_together_move_the_rate_once_a_second_between_them() {
    let mut config = test_config();
    config.admin_token = Some(ADMIN.into());
    config.queue.run_scheduler = true;
    // Ten steps a second on each of two instances: unguarded, the rate would
    // rise twenty times faster than the operator's increaseBy per second.
    config.queue.admit_tick_ms = 100;
    // Ten let in, the rest waiting all along: with an emptied line the rate
    // would hold, and how soon the 200 joins empty it depends on the machine.
    config.queue.max_active = 10;
    let first = spawn_configured(config.clone()).await;
    let second = spawn_configured(config).await;
    for user in 1..=200 {
        assert_eq!(first.join(user).await.status(), 200);
    }
    let set = second
        .admin_set_queue(
            "default",
            &json!({ "adaptive": { "targetP99Ms": 2000, "minRate": 1, "maxRate": 1000, "increaseBy": 1 } }),
        )
        .await;
    assert_eq!(set.status(), 200);
    // The adaptive rate starts from the fixed one (100 by default) and, with
    // people waiting and no booking to judge, rises by 1 per second.
    let started = Instant::now();
    let (start, _) = watch_rate(&first, Duration::from_secs(3), |rate| rate > 0).await;
    // The rate moves with time: three seconds of it are the measure.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (end, decision) = adaptive_status(&second).await;
    let elapsed = started.elapsed().as_secs();
    let start = start.last().copied().unwrap_or(0);
    assert!(start >= 100, "started from {start}");
    assert!(
        end > start && end - start <= elapsed + 1,
        "{start} -> {end} ({decision}) in {elapsed} s"
    );
    first.stop().await;
    second.stop().await;
}
