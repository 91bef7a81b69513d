//! The fault suite: what each failure costs, against a Redis and a Postgres of
//! the suite's own (tests/api/helpers/own_stores.rs), never the shared ones. Slow
//! and in need of Debian's PostgreSQL tools, so `cargo test` leaves it out and
//! `.ci/run` runs it: `cargo test --features tools --test faults -- --ignored --test-threads 1`.
//!
//! Each test checks what docs/reliability.md promises for its failure: no
//! seat sold twice, money conserved, every 503 answered within its bound, no
//! commit behind a 503 that says nothing happened, places given back from
//! tokens, and the audit clean within the reconciliation bound.

// The integration crate's helpers, shared rather than copied (this suite uses a few).
#[allow(dead_code, unused_imports)]
#[path = "api/helpers/mod.rs"]
mod helpers;
// Faults of the network between the app and its stores.
#[path = "faults/network.rs"]
mod network;
// Webhook deliveries through a failing receiver and a gateway crash.
#[path = "faults/webhooks.rs"]
mod webhooks;

use std::cell::Cell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::future::join_all;
use helpers::gateway::{gateway_env, Gateway};
use helpers::own_stores::{OwnCluster, OwnPostgres, OwnRedis};
use helpers::{
    assert_error, eventually, json_of, metric_value, spawn_configured, test_config, Api, Call, TestApp, ADMIN,
};
use serde_json::Value;

/// Blocking work (starting, stopping, freezing a store) off the async workers.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

async fn audit_is_clean_within(app: &Api, bound: Duration) -> Value {
    eventually(bound, "the audit clean", || async {
        let response = app.ops_invariants().send().await.ok()?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        (status == 200).then_some(body)
    })
    .await
}

/// Waits until the instance has both stores back: its probes answer (`/ready`
/// runs them, and closes a breaker on an answer) and so does its own Redis
/// connection, which reconnects only once a command finds it broken.
async fn stores_back(app: &TestApp) {
    eventually(Duration::from_secs(5), "the stores answering again", || async {
        let ready = app.ready().send().await;
        let ready = ready.is_ok_and(|response| response.status() == 200);
        let mut redis = app.state.redis.connection().await.ok()?;
        let pong = redis::cmd("PING").query_async::<String>(&mut redis).await;
        (ready && pong.is_ok()).then_some(())
    })
    .await;
}

/// The app with the admin API on, on a Redis of the test's own (one node).
async fn admin_app_on_own_redis() -> (OwnRedis, TestApp) {
    let redis = blocking(OwnRedis::start);
    let mut config = test_config();
    config.redis_url = redis.url();
    config.redis_cluster.clear();
    config.admin_token = Some(ADMIN.into());
    (redis, spawn_configured(config).await)
}

fn paying(app: &TestApp, token: &str, user: i64, key: &str) -> Call {
    app.pay(token, 1, 1, user).header("Idempotency-Key", key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts its own Postgres; run by .ci/run"]
async fn a_stopped_postgres_is_answered_at_once_and_nothing_waits_twice() {
    let postgres = blocking(OwnPostgres::start);
    let mut config = test_config();
    config.database_url = postgres.url("boxoffice");
    let app = spawn_configured(config).await;
    let token = app.admitted_token(1).await;
    app.charge(1, 10_000).await;
    assert_eq!(app.reserve(&token, 1, 1, 1, &[1]).await.status(), 200);

    blocking(|| postgres.stop());
    // The probes notice within about a second. (Slept on: the breaker shows
    // only in how fast a request is answered, which is what is measured next,
    // and asking /ready would probe in their place.)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for kind in ["charge", "payment"] {
        let started = Instant::now();
        let response = match kind {
            "charge" => app.charge(1, 500).await,
            _ => app.pay(&token, 1, 1, 1).await,
        };
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "{kind}: {:?}",
            started.elapsed()
        );
        assert!(response.headers().contains_key("retry-after"));
        let body = assert_error(response, 503, "DEPENDENCY_UNAVAILABLE").await;
        assert!(body["message"].as_str().unwrap().contains("nothing"), "{body}");
    }
    let started = Instant::now();
    let keyed = paying(&app, &token, 1, "pay-1").await;
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "a request with an Idempotency-Key does not wait twice: {:?}",
        started.elapsed()
    );
    assert_error(keyed, 503, "DEPENDENCY_UNAVAILABLE").await;
    let ready = app.ready().await;
    assert_eq!(
        assert_error(ready, 503, "DEPENDENCY_UNAVAILABLE").await["down"],
        serde_json::json!(["postgres"])
    );

    blocking(|| postgres.start_again());
    stores_back(&app).await;
    assert_eq!(paying(&app, &token, 1, "pay-1").await.status(), 200);
    assert_eq!(
        app.balance_amount(1).await,
        8_000,
        "nothing behind the 503s, one payment after"
    );
    audit_is_clean_within(&app, Duration::from_secs(5)).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts its own Postgres; run by .ci/run"]
async fn a_frozen_postgres_never_commits_behind_a_503_that_says_nothing_happened() {
    let postgres = blocking(OwnPostgres::start);
    let mut config = test_config();
    config.database_url = postgres.url("boxoffice");
    config.db_statement_timeout_ms = 1000;
    let app = spawn_configured(config).await;
    let tokens: HashMap<i64, String> = {
        let mut tokens = HashMap::new();
        for user in 1..=6 {
            app.join(user).await;
        }
        app.admit_everyone(&app.default_queue()).await;
        for user in 1..=6 {
            let body = json_of(app.position(user).await).await;
            tokens.insert(user, body["token"].as_str().unwrap().to_string());
            app.charge(user, 10_000).await;
            let held = app.reserve(&tokens[&user], 1, 1, user, &[user as i32 + 10]).await;
            assert_eq!(held.status(), 200);
        }
        tokens
    };

    // Connections open and idle in the pool, as in a sale: the payments below
    // are sent at once and Postgres freezes under them.
    join_all((1..=9).map(|user| app.balance_amount(user))).await;
    // Frozen past any deadline, with payments and charges in flight.
    blocking(|| postgres.freeze());
    let started = Instant::now();
    let in_flight = (1..=6).map(|user| {
        let request = paying(&app, &tokens[&user], user, &format!("pay-{user}"));
        async move { (user, request.send().await.unwrap()) }
    });
    let charges = (1..=3).map(|user| app.charge(user, 100));
    let (payments, charges) = tokio::join!(join_all(in_flight), join_all(charges));
    let answered_in = started.elapsed();
    assert!(answered_in < Duration::from_secs(4), "answered after {answered_in:?}");
    let mut unknown = Vec::new();
    for (user, response) in payments {
        assert_eq!(response.status(), 503);
        let body = json_of(response).await;
        match body["code"].as_str() {
            Some("OUTCOME_UNKNOWN") => unknown.push(user),
            Some("DEPENDENCY_UNAVAILABLE") => {}
            other => panic!("{other:?}: {body}"),
        }
    }
    assert!(!unknown.is_empty(), "statements were sent to the frozen Postgres");
    let mut charge_codes = Vec::new();
    for response in charges {
        assert_eq!(response.status(), 503);
        charge_codes.push(json_of(response).await["code"].as_str().unwrap().to_string());
    }
    // Once the probes have noticed (two silent ones, half a second apart:
    // slept on, as the breaker shows only in the answer timed next), nothing
    // more is sent: answered at once.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let started = Instant::now();
    let fast = app.charge(4, 100).await;
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_error(fast, 503, "DEPENDENCY_UNAVAILABLE").await;
    // Past the request deadline too (the time frozen is the fault), then Postgres resumes.
    tokio::time::sleep(Duration::from_secs(9)).await;
    blocking(|| postgres.thaw());
    // A statement still waiting would commit now: the balances read next show
    // it only if it is given the time to.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // A "nothing happened" 503 hid no commit: those balances are untouched.
    for (user, code) in (1..=3).zip(&charge_codes) {
        if code == "DEPENDENCY_UNAVAILABLE" {
            let paid = unknown.contains(&user);
            let balance = app.balance_amount(user).await;
            assert!(
                balance == 10_000 || (paid && balance < 10_000),
                "user {user}: {balance} after a charge refused with {code}"
            );
        }
    }
    assert_eq!(app.balance_amount(4).await, 10_000, "the fast 503 charged nothing");
    // Every payment retried with its key settles exactly once.
    for user in 1..=6 {
        let retried = paying(&app, &tokens[&user], user, &format!("pay-{user}")).await;
        assert_eq!(retried.status(), 200, "user {user}: {}", json_of(retried).await);
    }
    let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(payments, 6);
    audit_is_clean_within(&app, Duration::from_secs(10)).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts its own Redis; run by .ci/run"]
async fn a_redis_killed_and_restarted_empty_gives_places_back_and_sells_nothing_twice() {
    let mut redis = blocking(OwnRedis::start);
    let mut config = test_config();
    config.redis_url = redis.url();
    config.redis_cluster.clear();
    let app = spawn_configured(config).await;
    let mut waiting = Vec::new();
    for user in 1..=20 {
        waiting.push((
            user,
            json_of(app.join(user).await).await["token"]
                .as_str()
                .unwrap()
                .to_string(),
        ));
    }
    // The first five are admitted, fund themselves and hold a seat each.
    let limits = boxoffice::queue::AdmissionLimits {
        max_active: 5,
        rate: 0,
        tick_ms: 1000,
        max_users_per_step: 5,
    };
    app.state
        .scheduler
        .admit_with(&app.default_queue(), limits)
        .await
        .unwrap();
    let mut active = HashMap::new();
    for user in 1..=5 {
        let body = json_of(app.position(user).await).await;
        assert_eq!(body["tokenStatus"], "활성");
        active.insert(user, body["token"].as_str().unwrap().to_string());
        app.charge(user, 10_000).await;
        assert_eq!(
            app.reserve(&active[&user], 1, 1, user, &[user as i32]).await.status(),
            200
        );
    }
    assert_eq!(app.pay(&active[&1], 1, 1, 1).await.status(), 200);

    blocking(|| redis.kill());
    // The probes notice (two silent ones; slept on, as the breaker shows only
    // in the answer timed next).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let started = Instant::now();
    let during = app.join(50).await;
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert!(during.headers().contains_key("retry-after"));
    assert_error(during, 503, "DEPENDENCY_UNAVAILABLE").await;

    blocking(|| redis.restart_empty());
    stores_back(&app).await;
    // Waiting users come back with their tokens, in their original order.
    for (user, token) in waiting.iter().skip(5).rev() {
        let body = json_of(app.position(*user).token(token).await).await;
        assert_eq!(body["tokenStatus"], "대기", "user {user}: {body}");
    }
    for (user, _) in waiting.iter().skip(5) {
        assert_eq!(json_of(app.position(*user).await).await["position"], *user - 5);
    }
    // Admitted users keep their admission; their unpaid holds are what was lost.
    assert_error(app.pay(&active[&2], 1, 1, 2).await, 409, "NO_HOLD").await;
    // Seat 1 was sold before the loss: it stays sold.
    assert_error(app.reserve(&active[&2], 1, 1, 2, &[1]).await, 409, "SEAT_UNAVAILABLE").await;
    for user in 2..=5 {
        assert_eq!(
            app.reserve(&active[&user], 1, 1, user, &[user as i32]).await.status(),
            200
        );
        assert_eq!(app.pay(&active[&user], 1, 1, user).await.status(), 200);
    }
    let report = audit_is_clean_within(&app, Duration::from_secs(8)).await;
    assert_eq!(report["seats_sold"], 5);
    app.stop().await;
}

/// A queue's settings as the admin API shows them; `None` while it cannot answer.
async fn queue_settings(app: &TestApp, queue: &str) -> Option<Value> {
    let response = app.admin_queue(queue).send().await.ok()?;
    (response.status() == 200).then_some(json_of(response).await["settings"].clone())
}

fn close_small(app: &TestApp, queue: &str) -> Call {
    app.admin_set_queue(
        queue,
        &serde_json::json!({ "state": "closed", "maxActive": 5, "admitRate": 1 }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts its own Redis; run by .ci/run"]
async fn a_redis_lost_keeps_a_closed_sale_closed_with_its_settings_and_history() {
    let (mut redis, app) = admin_app_on_own_redis().await;
    let queue = app.default_queue();
    assert_eq!(close_small(&app, &queue).await.status(), 200);
    assert_error(app.join(1).await, 409, "QUEUE_CLOSED").await;

    blocking(|| redis.kill());
    // The probes notice (slept on, as above).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Postgres decides a change while Redis is down; Redis gets it when back.
    let slower = app
        .admin_set_queue(&queue, &serde_json::json!({ "admitRate": 2 }))
        .await;
    assert_eq!(slower.status(), 200);
    blocking(|| redis.restart_empty());
    let restarted = Instant::now();
    let closed = serde_json::json!({ "state": "closed", "maxActive": 5, "admitRate": 2, "opensAt": null,
        "adaptive": null, "protect": null,
        "joinLimits": { "perIdentityPerMinute": 0, "perIpPerMinute": 0, "perNetworkPerMinute": 0 },
        "challenge": null });
    // A newcomer each time: 503 until the probes see Redis back, then
    // refused: joins follow the instance's own view of the settings, which
    // Redis's loss does not touch.
    let (user, let_in) = (&Cell::new(1), &Cell::new(0));
    eventually(
        Duration::from_millis(2500),
        "joins refused again after the restart",
        || async {
            user.set(user.get() + 1);
            let joined = app.join(user.get()).await;
            let_in.set(let_in.get() + u32::from(joined.status() == 200));
            (joined.status() == 409).then_some(())
        },
    )
    .await;
    let refused_after = restarted.elapsed();
    println!(
        "joins refused again {refused_after:?} after Redis restarted empty; {} of {} newcomers let in before",
        let_in.get(),
        user.get() - 2
    );
    assert_eq!(let_in.get(), 0, "a newcomer got into a closed queue");
    // Redis's copy, which admission reads, is written again within about a second.
    let shown = eventually(Duration::from_millis(2500), "Redis's copy restored", || async {
        let shown = queue_settings(&app, &queue).await;
        (shown.as_ref() == Some(&closed)).then_some(shown)
    })
    .await;
    assert_eq!(shown, Some(closed), "the settings are back as set");
    let events = app.admin_queue_events(&queue).await;
    let events = json_of(events).await;
    assert_eq!(events.as_array().map(Vec::len), Some(2), "{events}");
    assert_eq!(events[1]["after"]["admit_rate"], "1");
    assert_eq!(events[0]["before"], events[1]["after"]);
    assert_eq!(events[0]["after"]["state"], "closed");
    assert_eq!(events[0]["after"]["admit_rate"], "2");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts its own Postgres; run by .ci/run"]
async fn a_settings_change_with_postgres_down_is_refused_and_the_sale_goes_on_as_set() {
    let postgres = blocking(OwnPostgres::start);
    let mut config = test_config();
    config.database_url = postgres.url("boxoffice");
    config.admin_token = Some(ADMIN.into());
    let app = spawn_configured(config).await;
    let queue = app.default_queue();
    assert_eq!(close_small(&app, &queue).await.status(), 200);

    blocking(|| postgres.stop());
    // The probes notice (slept on, as the breaker shows only in the answer timed next).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    let reopen = app
        .admin_set_queue(&queue, &serde_json::json!({ "state": "open" }))
        .await;
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert!(reopen.headers().contains_key("retry-after"));
    assert_error(reopen, 503, "DEPENDENCY_UNAVAILABLE").await;
    // Read from Redis's copy, and followed by the queue, as set before.
    let shown = queue_settings(&app, &queue)
        .await
        .expect("settings read with Postgres down");
    assert_eq!(
        (&shown["state"], &shown["maxActive"]),
        (&Value::from("closed"), &Value::from(5))
    );
    assert_error(app.join(1).await, 409, "QUEUE_CLOSED").await;

    blocking(|| postgres.start_again());
    stores_back(&app).await;
    let reopen = app
        .admin_set_queue(&queue, &serde_json::json!({ "state": "open" }))
        .await;
    assert_eq!(reopen.status(), 200);
    assert_eq!(
        app.join(1).await.status(),
        200,
        "reopened once Postgres took the change"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "kills gateway processes; run by .ci/run"]
async fn a_gateway_killed_mid_rush_loses_no_sale_and_redis_heals_by_itself() {
    let config = test_config();
    let env = gateway_env(&config, &[("BOXOFFICE_ADMIT_RATE", "0"), ("BOXOFFICE_MAX_ACTIVE", "0")]);
    let mut gateway = blocking(|| Gateway::start(env));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let api = gateway.api(&client);
    gateway.wait_ready(&client).await;

    // 30 buyers: join, wait for admission, fund, hold one seat, pay with a key;
    // any answer lost to a killed gateway is retried with the same key.
    let buyer = |user: i64| {
        let api = api.clone();
        async move {
            let started = Instant::now();
            let mut token = String::new();
            let mut step = 0;
            while started.elapsed() < Duration::from_secs(40) {
                let attempt = match step {
                    0 => api.join(user),
                    1 => api.position(user),
                    2 => api
                        .charge(user, 5000)
                        .header("Idempotency-Key", format!("charge-{user}")),
                    3 => api.reserve(&token, 1, 1, user, &[user as i32]),
                    _ => api
                        .pay(&token, 1, 1, user)
                        .header("Idempotency-Key", format!("pay-{user}")),
                }
                .send()
                .await;
                // A client's pause before trying again (its gateway being restarted).
                let Ok(response) = attempt else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                match (step, status) {
                    (1, 200) if body["tokenStatus"] == "활성" => {
                        token = body["token"].as_str().unwrap_or_default().to_string();
                        step = 2;
                    }
                    (0, 200) | (2, 200) | (3, 200) => step += 1,
                    (4, 200) => return Some(body),
                    // Not admitted yet, or a 503: a client's pause before asking again.
                    (1, 200) | (_, 503) => tokio::time::sleep(Duration::from_millis(100)).await,
                    // The hold was lost with the gateway's answer: hold again.
                    (4, 409) if body["code"] == "NO_HOLD" || body["code"] == "HOLD_EXPIRED" => step = 3,
                    _ => panic!("user {user}, step {step}: {status} {body}"),
                }
            }
            None
        }
    };
    let rush = tokio::spawn(join_all((1..=30).map(buyer)));
    // Killed three times while the rush goes on.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        blocking(|| gateway.kill_and_restart());
        gateway.wait_ready(&client).await;
    }
    let receipts = rush.await.unwrap();
    assert!(receipts.iter().all(Option::is_some), "every buyer paid in the end");

    let report = audit_is_clean_within(&api, Duration::from_secs(10)).await;
    assert_eq!(report["seats_sold"], 30, "{report}");
    assert_eq!(report["revenue"], 30 * 2000);

    // The sale's events: neither lost nor invented by the kills. Every payment
    // has one payment.completed of its amount and one seats.sold of its
    // seats, and no event names a payment that does not exist.
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&config.database_url)
        .await
        .unwrap();
    let (payments, mismatched, invented): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM payments),
                (SELECT count(*) FROM payments p WHERE
                    (SELECT count(*) FROM events e WHERE e.type = 'payment.completed'
                        AND (e.data->>'paymentId')::bigint = p.id AND (e.data->>'amount')::bigint = p.amount) <> 1
                 OR (SELECT count(*) FROM events e WHERE e.type = 'seats.sold'
                        AND (e.data->>'paymentId')::bigint = p.id
                        AND e.data->'seats' = (SELECT jsonb_agg(s.seat_number ORDER BY s.seat_number)
                                               FROM reservations r JOIN seats s ON s.id = r.seat_id
                                               WHERE r.payment_id = p.id)) <> 1),
                (SELECT count(*) FROM events e WHERE e.type IN ('payment.completed', 'seats.sold')
                    AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = (e.data->>'paymentId')::bigint))",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!((payments, mismatched, invented), (30, 0, 0));
    drop(gateway);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts its own Redis Cluster; run by .ci/run"]
async fn a_master_failed_over_costs_seconds_of_503s_and_no_double_sale() {
    // Node timeout 1 s by default: the replica takes over a second or two after
    // its master dies. FAILOVER_NODE_TIMEOUT_MS measures another (the cluster
    // script's default is 2000).
    let node_timeout_ms = std::env::var("FAILOVER_NODE_TIMEOUT_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(1000);
    let cluster = blocking(|| OwnCluster::start(node_timeout_ms));
    let mut config = test_config();
    config.redis_cluster = cluster.nodes.clone();
    let app = spawn_configured(config).await;
    for user in 1..=4 {
        let token = app.admitted_token(user).await;
        app.charge(user, 10_000).await;
        let held = app.reserve(&token, 1, 1, user, &[user as i32]).await;
        assert_eq!(held.status(), 200);
        assert_eq!(
            paying(&app, &token, user, &format!("before-{user}")).await.status(),
            200
        );
    }

    // The master holding the queue's slot dies.
    let queue_key = format!("{{{}:q:{}}}:waiting", app.config.redis_prefix, app.default_queue());
    let master = blocking(|| cluster.master_of(&queue_key));
    blocking(|| cluster.kill(master));
    let killed = Instant::now();
    let (mut unavailable, mut slowest) = (0, Duration::ZERO);
    let mut user = 100;
    let served_again = loop {
        user += 1;
        let asked = Instant::now();
        let response = app.join(user).await;
        slowest = slowest.max(asked.elapsed());
        match response.status().as_u16() {
            200 => break killed.elapsed(),
            503 => {
                assert!(
                    response.headers().contains_key("retry-after"),
                    "a 503 says when to come back"
                );
                unavailable += 1;
            }
            other => panic!(
                "a join during the failover answered {other}: {}",
                json_of(response).await
            ),
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "not served again 30 s after the failover"
        );
        // A client trying again every 100 ms: the 503s it gets are counted.
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // No request hung: each was answered within the Redis client's bounds.
    assert!(
        slowest < Duration::from_secs(5),
        "a join took {slowest:?} during the failover"
    );
    eprintln!(
        "failover (node timeout {node_timeout_ms} ms): served again after {served_again:?}, \
         {unavailable} answers 503, slowest {slowest:?}"
    );

    // The same process serves the whole journey again, and nothing was sold twice.
    let token = app.admitted_token(60).await;
    app.charge(60, 10_000).await;
    let held = app.reserve(&token, 1, 1, 60, &[30]).await;
    assert_eq!(held.status(), 200, "{}", json_of(held).await);
    assert_eq!(paying(&app, &token, 60, "after").await.status(), 200);
    let seat_one_again = app.admitted_token(61).await;
    app.charge(61, 10_000).await;
    let refused = app.reserve(&seat_one_again, 1, 1, 61, &[1]).await;
    assert_eq!(refused.status(), 409, "seat 1 was sold before the failover");
    audit_is_clean_within(&app, Duration::from_secs(10)).await;
    app.stop().await;
    drop(cluster);
}

/// One answer of the rush: when it was sent (from the kill), how long it took, its status.
struct Answered {
    sent_ms: i64,
    took: Duration,
    status: u16,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts its own Redis Cluster; run by .ci/run"]
async fn a_master_failed_over_under_a_rush_answers_fast_keeps_the_places_and_sells_nothing_twice() {
    let node_timeout_ms: u64 = std::env::var("FAILOVER_NODE_TIMEOUT_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(1000);
    let cluster = blocking(|| OwnCluster::start(node_timeout_ms));
    let mut config = test_config();
    config.redis_cluster = cluster.nodes.clone();
    let app = spawn_configured(config).await;
    // A line before the fault: each user's token and place.
    let mut before = Vec::new();
    for user in 1..=100 {
        let body = json_of(app.join(user).await).await;
        before.push((
            user,
            body["token"].as_str().unwrap_or_default().to_string(),
            body["position"].clone(),
        ));
    }
    let queue_key = format!("{{{}:q:{}}}:waiting", app.config.redis_prefix, app.default_queue());
    let master = blocking(|| cluster.master_of(&queue_key));

    // The rush: 32 clients joining back to back, from before the kill until
    // well after the line is served again: the demo's users 101 to 1000, new
    // places until they run out, then joins again (which find their places).
    let start = Instant::now();
    let kill_at = Duration::from_millis(500);
    let rush_for = Duration::from_secs(12);
    let clients = (0..32_i64).map(|client| {
        let app = &app;
        async move {
            let mut answers = Vec::new();
            let mut k = client;
            while start.elapsed() < rush_for {
                let sent = start.elapsed();
                let response = app.join(101 + k % 900).await;
                let status = response.status().as_u16();
                if status == 503 {
                    assert!(
                        response.headers().contains_key("retry-after"),
                        "a 503 says when to come back"
                    );
                }
                answers.push(Answered {
                    sent_ms: sent.as_millis() as i64 - kill_at.as_millis() as i64,
                    took: start.elapsed() - sent,
                    status,
                });
                k += 32;
                if status != 200 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            answers
        }
    });
    let kill = async {
        tokio::time::sleep(kill_at).await;
        blocking(|| cluster.kill(master));
    };
    let (answers, ()) = tokio::join!(join_all(clients), kill);
    let answers: Vec<Answered> = answers.into_iter().flatten().collect();

    for answer in &answers {
        assert!(matches!(answer.status, 200 | 503), "a join answered {}", answer.status);
    }
    let refused: Vec<&Answered> = answers.iter().filter(|answer| answer.status == 503).collect();
    let window = refused.first().zip(refused.last()).map(|(first, last)| {
        (
            refused.iter().map(|a| a.sent_ms).min().unwrap_or(first.sent_ms),
            refused.iter().map(|a| a.sent_ms).max().unwrap_or(last.sent_ms),
        )
    });
    let slowest = answers.iter().map(|answer| answer.took).max().unwrap_or_default();
    let served_after = answers.iter().filter(|a| a.status == 200 && a.sent_ms > 0).count();
    eprintln!(
        "failover under a rush (node timeout {node_timeout_ms} ms): {} joins, {} answered 503, \
         503s sent from {:?} ms to {:?} ms after the kill, slowest answer {slowest:?}, {served_after} served after the kill",
        answers.len(),
        refused.len(),
        window.map(|w| w.0),
        window.map(|w| w.1),
    );
    assert!(
        slowest < Duration::from_secs(5),
        "a join took {slowest:?} during the failover"
    );
    let last_refused = window.map_or(0, |w| w.1);
    assert!(last_refused < 10_000, "still refusing {last_refused} ms after the kill");
    assert!(
        answers.iter().any(|a| a.status == 200 && a.sent_ms > last_refused),
        "joins served again after the failover"
    );

    // The line from before the fault: every place kept, shown with its token.
    for (user, token, position) in &before {
        let body = json_of(app.position(*user).token(token).await).await;
        assert_eq!(&body["position"], position, "user {user}: {body}");
    }
    // Nothing sold twice: seat 1 is sold once, after the failover.
    let first = app.admitted_token(1).await;
    app.charge(1, 10_000).await;
    assert_eq!(app.reserve(&first, 1, 1, 1, &[1]).await.status(), 200);
    assert_eq!(paying(&app, &first, 1, "after").await.status(), 200);
    let second = app.admitted_token(2).await;
    app.charge(2, 10_000).await;
    assert_eq!(
        app.reserve(&second, 1, 1, 2, &[1]).await.status(),
        409,
        "seat 1 is sold"
    );
    audit_is_clean_within(&app, Duration::from_secs(10)).await;
    app.stop().await;
    drop(cluster);
}

/// `boxoffice_db_acquires_waiting` as `/metrics` shows it.
async fn acquires_waiting(app: &TestApp) -> f64 {
    metric_value(&app.metrics_text().await, "boxoffice_db_acquires_waiting ").unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts its own Postgres; run by .ci/run"]
async fn requests_waiting_for_a_connection_when_postgres_stops_are_answered_then_not_at_their_timeout() {
    let postgres = blocking(OwnPostgres::start);
    let mut config = test_config();
    config.database_url = postgres.url("boxoffice");
    config.db_max_connections = 2;
    config.db_acquire_timeout_ms = 5000;
    let app = spawn_configured(config).await;
    assert_eq!(app.charge(1, 1000).await.status(), 200);
    // Every connection of the pool busy, as in a rush, and charges waiting for one.
    let held = [
        app.state.db.acquire().await.unwrap(),
        app.state.db.acquire().await.unwrap(),
    ];
    let waiting: Vec<_> = (1..=8).map(|user| tokio::spawn(app.charge(user, 100))).collect();
    eventually(
        Duration::from_secs(3),
        "the charges waiting for a connection",
        || async { (acquires_waiting(&app).await >= 8.0).then_some(()) },
    )
    .await;

    blocking(|| postgres.stop());
    let stopped = Instant::now();
    for answer in join_all(waiting).await {
        let response = answer.unwrap();
        assert!(response.headers().contains_key("retry-after"));
        assert_error(response, 503, "DEPENDENCY_UNAVAILABLE").await;
    }
    let answered_in = stopped.elapsed();
    assert!(
        answered_in < Duration::from_secs(1),
        "answered {answered_in:?} after Postgres stopped (acquire timeout 5 s)"
    );
    drop(held);

    blocking(|| postgres.start_again());
    eventually(Duration::from_secs(5), "Postgres back", || async {
        (app.charge(1, 1).await.status() == 200).then_some(())
    })
    .await;
    for user in 2..=8 {
        assert_eq!(
            app.balance_amount(user).await,
            0,
            "user {user}: a refused charge was made"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts its own Postgres; run by .ci/run"]
async fn a_rush_meeting_a_stopped_postgres_is_told_nothing_happened_at_once_and_served_once_it_is_back() {
    let postgres = blocking(OwnPostgres::start);
    let mut config = test_config();
    config.database_url = postgres.url("boxoffice");
    config.db_max_connections = 4;
    config.db_acquire_timeout_ms = 5000;
    let app = spawn_configured(config).await;
    // Connections open and idle in the pool, as between a sale's requests.
    for response in join_all((1..=4).map(|user| app.charge(user, 1000))).await {
        assert_eq!(response.status(), 200);
    }

    // The stop ends every connection: the instance knows before the next request.
    blocking(|| postgres.stop());
    let sent = Instant::now();
    let rush = join_all((1..=12).map(|user| app.charge(user, 100))).await;
    let answered_in = sent.elapsed();
    for response in rush {
        assert!(response.headers().contains_key("retry-after"));
        assert_error(response, 503, "DEPENDENCY_UNAVAILABLE").await;
    }
    assert!(answered_in < Duration::from_secs(1), "answered after {answered_in:?}");

    blocking(|| postgres.start_again());
    eventually(Duration::from_secs(5), "Postgres back", || async {
        (app.ready().await.status() == 200).then_some(())
    })
    .await;
    // The pool's connections died with it: none of them is handed out again.
    for response in join_all((1..=12).map(|user| app.charge(user, 100))).await {
        assert_eq!(response.status(), 200, "{}", json_of(response).await);
    }
    for user in 1..=12 {
        let funded = if user <= 4 { 1000 } else { 0 };
        assert_eq!(app.balance_amount(user).await, funded + 100, "user {user}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts its own Redis; run by .ci/run"]
async fn with_redis_down_admitted_visitors_keep_passing_and_the_room_follows_its_fail_mode() {
    let (mut redis, app) = admin_app_on_own_redis().await;
    let (closed, open) = (app.default_queue(), "hero-autumn");
    for (queue, mode) in [(closed.as_str(), "closed"), (open, "open")] {
        let protect = serde_json::json!({ "protect": {
            "origin": "https://shop.example", "paths": ["/*"], "failMode": mode } });
        assert_eq!(app.admin_set_queue(queue, &protect).await.status(), 200);
    }
    let joined = json_of(app.gate_join(&closed).await).await;
    app.admit_everyone(&closed).await;
    let token = joined["token"].as_str().unwrap().to_string();
    let status = json_of(app.gate_status(&closed, &token).await).await;
    let pass = status["pass"].as_str().expect("admitted: a pass").to_string();

    // /metrics reads Redis too: the counter is read before and after the outage.
    let series = format!("boxoffice_gate_fail_open_passes_total{{queue=\"{open}\"}}");
    let before = metric_value(&app.metrics_text().await, &series).unwrap_or(0.0);
    blocking(|| redis.kill());
    // The probes notice (slept on, as above).
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // An admitted visitor keeps passing: the check needs no Redis.
    for _ in 0..3 {
        let passed = app.gate_check(&closed, "/cart", Some(&pass)).await;
        assert_eq!(passed.status(), 200);
    }
    // Closed: a newcomer is sent to the room, which says it is unavailable.
    assert_error(app.gate_check(&closed, "/cart", None).await, 401, "PASS_MISSING").await;
    let room = app.gate_join(&closed).await;
    assert!(room.headers().contains_key("retry-after"));
    assert_error(room, 503, "DEPENDENCY_UNAVAILABLE").await;

    // Open: a newcomer gets a short pass at once, counted.
    let let_in = app.gate_check(open, "/cart", None).await;
    assert_eq!(let_in.status(), 200);
    let visitor = let_in.headers()["x-boxoffice-visitor"].to_str().unwrap().to_string();
    assert!(visitor.starts_with("open-"), "{visitor}");
    let short = helpers::set_cookie(let_in.headers(), "boxoffice_pass").expect("a short pass");
    let again = app.gate_check(open, "/cart", Some(&short)).await;
    assert_eq!(again.headers()["x-boxoffice-visitor"].to_str().unwrap(), visitor);
    // A pass of another queue stays refused, open or not.
    assert_error(
        app.gate_check(open, "/cart", Some(&pass)).await,
        401,
        "PASS_OTHER_QUEUE",
    )
    .await;

    blocking(|| redis.restart_empty());
    stores_back(&app).await;
    let after = metric_value(&app.metrics_text().await, &series).unwrap_or(0.0);
    assert_eq!(after - before, 1.0, "one short pass, counted once");
    // Redis back: the open queue's room queues newcomers again.
    assert_error(app.gate_check(open, "/cart", None).await, 401, "PASS_MISSING").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts its own Redis; run by .ci/run"]
async fn a_redis_outage_is_told_as_its_breaker_opening_then_closing() {
    let (mut redis, app) = admin_app_on_own_redis().await;
    blocking(|| redis.kill());
    // The probes notice within about a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    blocking(|| redis.restart_empty());
    stores_back(&app).await;
    let changes = eventually(Duration::from_secs(10), "the breaker's two changes", || async {
        let page = json_of(app.admin_events(&[("types", "dependency.breaker_changed")]).await).await;
        let changes = page["events"].as_array().cloned().unwrap_or_default();
        (changes.len() >= 2).then_some(changes)
    })
    .await;
    let states: Vec<(&str, &str)> = changes
        .iter()
        .map(|change| {
            (
                change["data"]["dependency"].as_str().unwrap_or(""),
                change["data"]["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(states, [("redis", "open"), ("redis", "closed")], "{changes:?}");
    assert!(changes.iter().all(|change| change["data"]["instance"].is_string()));
    let times: Vec<&str> = changes.iter().filter_map(|change| change["time"].as_str()).collect();
    assert!(times[0] < times[1], "in the order they happened: {times:?}");
}
