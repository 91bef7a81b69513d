//! Network faults between the app and its stores, made by a Toxiproxy-style
//! proxy inside the test process (`helpers::faulty_link`, the `noxious`
//! crate): a store that answers late, one whose replies never come, one
//! whose reply is cut with its connection. The stores themselves (the shared
//! ones, each test with its own database and key prefix) are never touched:
//! only the link to them. For each: what the client sees, how fast, and that
//! nothing is lost or doubled.

use std::time::{Duration, Instant};

use futures::future::join_all;
use noxious::toxic::{StreamDirection, ToxicKind};
use serde_json::json;

use super::helpers::faulty_link::FaultyLink;
use super::helpers::lost_replies::LostReplies;
use super::helpers::{assert_error, eventually, json_of, spawn_configured, test_config, TestApp, ADMIN};
use super::{audit_is_clean_within, paying, stores_back};

const REDIS_PORT: u16 = 6379;
const POSTGRES_PORT: u16 = 5432;

/// An app whose Redis is reached through a faulty link.
async fn app_behind_a_redis_link() -> (TestApp, FaultyLink) {
    let link = FaultyLink::start("redis", REDIS_PORT).await;
    let mut config = test_config();
    config.redis_url = link.in_front_of(&config.redis_url, REDIS_PORT);
    config.redis_cluster = Vec::new();
    (spawn_configured(config).await, link)
}

/// The place of each user, as the position route reports it.
async fn positions(app: &TestApp, users: impl IntoIterator<Item = i64>) -> Vec<i64> {
    let mut places = Vec::new();
    for user in users {
        let body = json_of(app.position(user).await).await;
        let place = body["position"].as_i64();
        places.push(place.unwrap_or_else(|| panic!("user {user} has no place: {body}")));
    }
    places
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "network faults; run by .ci/run with the fault suite"]
async fn a_redis_whose_replies_never_come_is_answered_503_in_seconds_and_the_line_is_kept() {
    let (app, mut link) = app_behind_a_redis_link().await;
    for user in 1..=5 {
        assert_eq!(app.join(user).await.status(), 200);
    }
    // The connection stays open and requests still reach Redis; no reply comes back.
    link.add("silent", ToxicKind::Timeout { timeout: 0 }, StreamDirection::Downstream)
        .await;
    let started = Instant::now();
    let (join, poll) = tokio::join!(app.join(6), app.position(1));
    let answered_in = started.elapsed();
    assert!(answered_in < Duration::from_secs(4), "answered after {answered_in:?}");
    for response in [join, poll] {
        assert!(response.headers().contains_key("retry-after"));
        assert_error(response, 503, "DEPENDENCY_UNAVAILABLE").await;
    }

    // The replies swallowed are lost for good: the app's connection must be
    // given up, not waited on (it is, at its first reply that did not come).
    link.replace().await;
    // The probes (run by /ready here, in the background in a server) see it
    // answer again and close the breaker.
    stores_back(&app).await;
    // The join sent into the silence may have reached Redis: joining again
    // returns that place, never a second one.
    let rejoined = eventually(Duration::from_secs(6), "joins served again", || async {
        let response = app.join(6).await;
        (response.status() == 200).then_some(response)
    })
    .await;
    assert_eq!(json_of(rejoined).await["position"], 6);
    assert_eq!(
        positions(&app, 1..=6).await,
        vec![1, 2, 3, 4, 5, 6],
        "places kept, none doubled"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "network faults; run by .ci/run with the fault suite"]
async fn a_slow_redis_answers_every_join_once_only_later() {
    let (app, link) = app_behind_a_redis_link().await;
    // No jitter: noxious 1.0.4 delays each chunk on its own, so jitter
    // reorders a stream's bytes, which no network does to a TCP stream.
    link.add(
        "slow",
        ToxicKind::Latency {
            latency: 300,
            jitter: 0,
        },
        StreamDirection::Downstream,
    )
    .await;
    let started = Instant::now();
    let joins = join_all((1..=20).map(|user| app.join(user))).await;
    let took = started.elapsed();
    for response in joins {
        assert_eq!(response.status(), 200, "{}", json_of(response).await);
    }
    assert!(took >= Duration::from_millis(200), "the latency was not felt: {took:?}");
    assert!(took < Duration::from_secs(3), "joins waited {took:?}");
    let mut places = positions(&app, 1..=20).await;
    places.sort_unstable();
    assert_eq!(places, (1..=20).collect::<Vec<_>>(), "twenty joins, twenty places");
    link.heal().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "network faults; run by .ci/run with the fault suite"]
async fn a_redis_on_a_thin_link_serves_joins_and_polls_slower_and_exactly() {
    let (app, link) = app_behind_a_redis_link().await;
    // Every reply crosses in pieces of about 16 bytes, 5 ms apart: a batch's
    // reply takes tens of milliseconds. (noxious's own bandwidth toxic
    // panics, subtracting durations, in 1.0.4.)
    link.add(
        "thin",
        ToxicKind::Slicer {
            average_size: 16,
            size_variation: 8,
            delay: 5_000,
        },
        StreamDirection::Downstream,
    )
    .await;
    let joins = join_all((1..=30).map(|user| app.join(user))).await;
    assert!(joins.iter().all(|response| response.status() == 200));
    let mut places = positions(&app, 1..=30).await;
    places.sort_unstable();
    assert_eq!(places, (1..=30).collect::<Vec<_>>());
    link.heal().await;
    app.stop().await;
}

/// An app whose Postgres is reached through a faulty link, with six users
/// admitted, each holding a seat and able to pay.
async fn app_behind_a_postgres_link() -> (TestApp, FaultyLink, Vec<String>) {
    let link = FaultyLink::start("postgres", POSTGRES_PORT).await;
    let mut config = test_config();
    config.database_url = link.in_front_of(&config.database_url, POSTGRES_PORT);
    config.db_statement_timeout_ms = 1000;
    let app = spawn_configured(config).await;
    for user in 1..=6 {
        app.join(user).await;
    }
    app.admit_everyone(&app.default_queue()).await;
    let mut tokens = Vec::new();
    for user in 1..=6 {
        let token = json_of(app.position(user).await).await["token"]
            .as_str()
            .expect("a token")
            .to_string();
        assert_eq!(app.charge(user, 10_000).await.status(), 200);
        let held = app.reserve(&token, 1, 1, user, &[user as i32 + 10]).await;
        assert_eq!(held.status(), 200);
        tokens.push(token);
    }
    (app, link, tokens)
}

async fn payments_in_postgres(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&app.state.db)
        .await
        .expect("counted")
}

/// Every user pays at once, each with its key; all are answered within 5 s.
async fn pay_all_at_once(app: &TestApp, tokens: &[String]) -> Vec<reqwest::Result<reqwest::Response>> {
    let started = Instant::now();
    let payments = join_all(
        (1..)
            .zip(tokens)
            .map(|(user, token)| paying(app, token, user, &format!("pay-{user}")).send()),
    )
    .await;
    let answered_in = started.elapsed();
    assert!(answered_in < Duration::from_secs(5), "answered after {answered_in:?}");
    payments
}

/// Each payment retried with its key settles exactly once, and the books balance.
async fn every_payment_settles_once(app: &TestApp, tokens: &[String]) {
    for (user, token) in (1..).zip(tokens) {
        eventually(Duration::from_secs(8), "the payment settles", || async {
            let response = paying(app, token, user, &format!("pay-{user}")).await;
            (response.status() == 200).then_some(())
        })
        .await;
    }
    assert_eq!(payments_in_postgres(app).await, tokens.len() as i64);
    for user in 1..=tokens.len() as i64 {
        assert!(app.balance_amount(user).await < 10_000, "user {user} paid once");
    }
    audit_is_clean_within(app, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "network faults; run by .ci/run with the fault suite"]
async fn a_postgres_whose_replies_never_come_is_answered_503_and_each_payment_settles_once_after() {
    let (app, mut link, tokens) = app_behind_a_postgres_link().await;
    link.add("silent", ToxicKind::Timeout { timeout: 0 }, StreamDirection::Downstream)
        .await;
    let payments = pay_all_at_once(&app, &tokens).await;
    for response in payments {
        let response = response.expect("an answer");
        assert_eq!(response.status(), 503);
        let code = json_of(response).await["code"].as_str().unwrap_or_default().to_string();
        assert!(code == "OUTCOME_UNKNOWN" || code == "DEPENDENCY_UNAVAILABLE", "{code}");
    }
    link.replace().await;
    stores_back(&app).await;
    every_payment_settles_once(&app, &tokens).await;
    app.stop().await;
}

/// Found by the chaos soak: a Postgres 300 ms away was refused for the whole
/// fault, since the probe's new connection (a few round trips) had to come
/// within the half second its ping has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "network faults; run by .ci/run with the fault suite"]
async fn a_postgres_300_ms_away_after_a_flap_is_slow_not_down() {
    let (app, mut link, tokens) = app_behind_a_postgres_link().await;
    // The flap drops every connection, the probe's too; then each reply is
    // 300 ms late.
    link.replace().await;
    link.add(
        "slow",
        ToxicKind::Latency {
            latency: 300,
            jitter: 0,
        },
        StreamDirection::Downstream,
    )
    .await;
    // Several probe rounds: enough for two silent ones to open the breaker.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (user, token) in (1..).zip(&tokens) {
        let response = paying(&app, token, user, &format!("pay-{user}")).await;
        let status = response.status();
        assert_eq!(status, 200, "user {user}: {}", json_of(response).await);
    }
    link.replace().await;
    every_payment_settles_once(&app, &tokens).await;
    app.stop().await;
}

/// Found by the chaos soak (a payment's replay hung 20 s behind a late
/// link): a retry whose answer is read back from Postgres, with no statement
/// that moves money, was bounded by nothing, since money routes are left to
/// their statements' deadlines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "network faults; run by .ci/run with the fault suite"]
async fn a_retry_read_back_from_a_silent_postgres_is_answered_503_within_the_deadline() {
    let (app, mut link, tokens) = app_behind_a_postgres_link().await;
    for response in pay_all_at_once(&app, &tokens).await {
        assert_eq!(response.expect("an answer").status(), 200);
    }
    link.add("silent", ToxicKind::Timeout { timeout: 0 }, StreamDirection::Downstream)
        .await;
    // Statement deadline 1 s, plus the half second the client waits for
    // Postgres's own word, plus room for a loaded machine.
    let started = Instant::now();
    let replays = tokio::time::timeout(Duration::from_secs(4), pay_all_at_once(&app, &tokens))
        .await
        .expect("every replay answered within 4 s, not left hanging on the link");
    for response in replays {
        let response = response.expect("an answer");
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key("retry-after"));
        let code = json_of(response).await["code"].as_str().unwrap_or_default().to_string();
        // Reading the receipt back changes nothing: nothing happened.
        assert_eq!(code, "DEPENDENCY_UNAVAILABLE", "after {:?}", started.elapsed());
    }
    link.replace().await;
    stores_back(&app).await;
    every_payment_settles_once(&app, &tokens).await;
    app.stop().await;
}

/// An app whose Postgres is behind a link that can lose the replies of the
/// connections open at one moment: a pool of three, a deadline of a second
/// (and half a second more), the admin API on.
async fn app_behind_a_link_that_loses_replies() -> (TestApp, LostReplies) {
    let link = LostReplies::start(POSTGRES_PORT).await;
    let mut config = test_config();
    config.database_url = link.in_front_of(&config.database_url, POSTGRES_PORT);
    config.db_statement_timeout_ms = 1000;
    config.db_max_connections = 3;
    config.db_acquire_timeout_ms = 1000;
    config.admin_token = Some(ADMIN.into());
    (spawn_configured(config).await, link)
}

/// Found by the chaos soak: after a link lost replies for good, every read
/// that had given up on one kept its pool slot (sqlx checks a returned
/// connection by reading out what it owes, which never came), until the pool
/// was empty and every payment of the instance answered 503 for the rest of
/// the sale. Here the pool has three connections, each loses a reply, and
/// new connections pass: reads must be served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "network faults; run by .ci/run with the fault suite"]
async fn reads_that_gave_up_on_a_lost_reply_leave_the_pool_whole() {
    let (app, link) = app_behind_a_link_that_loses_replies().await;
    assert_eq!(app.charge(1, 5_000).await.status(), 200);
    // Three reads at a time keep the pool's three connections busy, while
    // the link loses what the open connections carry back.
    let reading = join_all((0..3).map(|_| app.balance(1).send()));
    let losing = async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        link.lose_open_connections();
    };
    let (reads, ()) = tokio::join!(reading, losing);
    for read in reads {
        let status = read.expect("an answer").status();
        assert!(status == 200 || status == 503, "{status}");
    }
    for _ in 0..6 {
        let read = app.balance(1).await;
        if read.status() == 200 {
            break;
        }
    }
    eventually(Duration::from_secs(8), "a balance read is served again", || async {
        let read = app.balance(1).await;
        (read.status() == 200).then_some(())
    })
    .await;
    app.stop().await;
}

/// An operator's changes whose answers are lost. Each is answered: 200 when
/// made, 503 `OUTCOME_UNKNOWN` when it may have been, 503
/// `DEPENDENCY_UNAVAILABLE` only when it was not (the record of changes
/// tells). And the pool is whole again after: a change cut off by its deadline
/// used to hand its connection back to sqlx, which reads a returned connection
/// to its end first, and behind a lost reply that never came.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "network faults; run by .ci/run with the fault suite"]
async fn operators_changes_whose_answers_are_lost_are_told_truly_and_leave_the_pool_whole() {
    let (app, link) = app_behind_a_link_that_loses_replies().await;
    let queue = app.default_queue();
    let change = |max_active: u64| app.admin_set_queue(&queue, &json!({ "maxActive": max_active }));
    assert_eq!(change(5).await.status(), 200);

    let changing = join_all((6..9).map(|max_active| change(max_active).send()));
    let losing = async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        link.lose_open_connections();
    };
    let (answers, ()) = tokio::join!(changing, losing);
    let mut told = Vec::new();
    for (max_active, answer) in (6..9).zip(answers) {
        let answer = answer.expect("an answer");
        let status = answer.status().as_u16();
        let body = json_of(answer).await;
        let code = body["code"].as_str().unwrap_or_default().to_owned();
        assert!(
            status == 200 || (status == 503 && ["OUTCOME_UNKNOWN", "DEPENDENCY_UNAVAILABLE"].contains(&code.as_str())),
            "{status} {body}"
        );
        told.push((max_active, if status == 200 { "OK".to_owned() } else { code }));
    }

    eventually(Duration::from_secs(8), "a change is made again", || async {
        (change(20).await.status() == 200).then_some(())
    })
    .await;
    let events = json_of(app.admin_queue_events(&queue).query(&[("count", "100")]).await).await;
    let made: Vec<String> = events
        .as_array()
        .expect("a list of changes")
        .iter()
        .filter_map(|event| event["changes"]["max_active"].as_str().map(str::to_owned))
        .collect();
    println!("told {told:?}; the record holds {made:?}");
    for (max_active, code) in &told {
        let recorded = made.contains(&max_active.to_string());
        match code.as_str() {
            "OK" => assert!(
                recorded,
                "maxActive {max_active} answered 200 is not recorded: {made:?}"
            ),
            "DEPENDENCY_UNAVAILABLE" => assert!(!recorded, "maxActive {max_active} said undone was made: {made:?}"),
            _ => {}
        }
    }
    assert!(made.contains(&"20".to_owned()), "{made:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "network faults; run by .ci/run with the fault suite"]
async fn a_postgres_reply_cut_with_its_connection_leaves_each_payment_to_settle_once() {
    let (app, mut link, tokens) = app_behind_a_postgres_link().await;
    // Every connection is closed after 64 more bytes of reply: statements
    // reach Postgres (and may commit) while their answers are cut.
    link.add("cut", ToxicKind::LimitData { bytes: 64 }, StreamDirection::Downstream)
        .await;
    let payments = pay_all_at_once(&app, &tokens).await;
    for response in payments {
        let response = response.expect("an answer");
        let status = response.status().as_u16();
        let body = json_of(response).await;
        // Cut before the answer: told so (never a 500); a payment whose
        // answer made it through is simply done.
        assert!(status == 200 || status == 503, "{status} {body}");
    }
    link.replace().await;
    stores_back(&app).await;
    every_payment_settles_once(&app, &tokens).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "network faults; run by .ci/run with the fault suite"]
async fn a_redis_link_that_closes_slowly_still_serves_joins() {
    let (app, link) = app_behind_a_redis_link().await;
    link.add(
        "slow-close",
        ToxicKind::SlowClose { delay: 2000 },
        StreamDirection::Downstream,
    )
    .await;
    let joins = join_all((1..=10).map(|user| app.join(user))).await;
    assert!(joins.iter().all(|response| response.status() == 200));
    let mut places = positions(&app, 1..=10).await;
    places.sort_unstable();
    assert_eq!(places, (1..=10).collect::<Vec<_>>());
    link.heal().await;
    app.stop().await;
}
