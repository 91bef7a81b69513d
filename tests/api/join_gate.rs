//! The join gate: both surfaces' joins pass one extractor, and a join follows
//! its queue's settings as the instance holds them (refreshed from Postgres
//! about once a second): a closed queue is closed on every instance within a
//! second whatever Redis holds, and a join still costs one Redis call.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::helpers::monitor::ClientCommands;
use crate::helpers::own_stores::OwnRedis;

use crate::helpers::{assert_error, eventually, spawn_configured, test_config, uuid, TestApp, ADMIN};

const CONCERT: &str = "hero-autumn";

async fn forget_settings_copy(app: &TestApp, queue: &str) {
    let key = app.keys().queue(queue, "settings");
    let mut redis = app.state.redis.connection().await.expect("redis");
    let _: () = redis::cmd("DEL").arg(&key).query_async(&mut redis).await.expect("DEL");
}

#[tokio::test]
async fn a_queue_closed_through_one_instance_is_closed_to_newcomers_on_every_instance() {
    let mut config = test_config();
    config.admin_token = Some(ADMIN.into());
    let first = spawn_configured(config.clone()).await;
    let second = spawn_configured(config).await;
    let queue = first.default_queue();
    assert_eq!(second.join(1).await.status(), 200);
    assert_eq!(second.v1_join(CONCERT, &uuid(1)).await.status(), 200);

    for closed in [queue.as_str(), CONCERT] {
        let response = first.admin_set_queue(closed, &json!({ "state": "closed" })).await;
        assert_eq!(response.status(), 200);
    }
    // The other instance's copy follows within its refresh period.
    let mut newcomer = 100;
    eventually(
        Duration::from_secs(3),
        "the second instance closes to newcomers",
        || {
            newcomer += 1;
            let second = &second;
            async move { (second.join(newcomer).await.status() == 409).then_some(()) }
        },
    )
    .await;
    eventually(Duration::from_secs(3), "the second instance closes the concert", || {
        newcomer += 1;
        let second = &second;
        async move { (second.v1_join(CONCERT, &uuid(newcomer)).await.status() == 409).then_some(()) }
    })
    .await;

    // Once each instance holds the decision, Redis losing its copy of the
    // settings does not reopen the queue to anyone, on either surface.
    for closed in [queue.as_str(), CONCERT] {
        forget_settings_copy(&first, closed).await;
    }
    for app in [&first, &second] {
        assert_error(app.join(200).await, 409, "QUEUE_CLOSED").await;
        assert_error(app.v1_join(CONCERT, &uuid(201)).await, 409, "QUEUE_CLOSED").await;
    }
    // Those already in line keep their places.
    assert_eq!(first.join(1).await.status(), 200);
    assert_eq!(first.v1_join(CONCERT, &uuid(1)).await.status(), 200);
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn an_accepted_join_costs_one_redis_call_and_no_settings_read() {
    // A Redis of this test's own: the shared one's counters move with every test.
    let redis = OwnRedis::start();
    let mut config = test_config();
    config.redis_url = redis.url();
    config.redis_cluster = Vec::new();
    let app = spawn_configured(config).await;
    // The first join loads what the queue runs in Redis.
    assert_eq!(app.join(1).await.status(), 200);
    assert_eq!(app.v1_join(CONCERT, &uuid(1)).await.status(), 200);

    const JOINS: u64 = 100;
    let watched = ClientCommands::watch(redis.port);
    for user in 2..2 + JOINS as i64 {
        assert_eq!(app.join(user).await.status(), 200);
        assert_eq!(app.v1_join(CONCERT, &uuid(user)).await.status(), 200);
    }
    let sent = watched.stop();
    let grown: BTreeMap<&str, u64> = sent.iter().map(|(name, calls)| (name.as_str(), *calls)).collect();
    // One script run per join (each sent alone: they come one at a time);
    // the background chores (settings, catalog) add a few calls a second.
    let runs = ["evalsha", "fcall", "fcall_ro"]
        .iter()
        .map(|name| grown.get(name).copied().unwrap_or(0))
        .sum::<u64>();
    assert!(
        (2 * JOINS..2 * JOINS + 20).contains(&runs),
        "{runs} script runs for {} joins: {grown:?}",
        2 * JOINS
    );
    for (name, calls) in &grown {
        if !["evalsha", "fcall", "fcall_ro"].contains(name) {
            assert!(
                *calls < JOINS / 2,
                "{name} was called {calls} times for {} joins",
                2 * JOINS
            );
        }
    }
    app.stop().await;
}
