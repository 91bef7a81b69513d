//! Live settings are operators' decisions: Postgres keeps them and their
//! history, Redis holds the copy the queue's scripts read. A copy Redis lost is
//! written again within about a second, changes from many instances land in
//! order, and Redis ends on Postgres's last version whoever writes last.
//! (The fault suite does the same with a Redis killed and restarted empty.)

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::helpers::{assert_error, eventually, json_of, spawn_configured, test_config, TestApp, ADMIN};
use futures::future::join_all;
use serde_json::{json, Value};

async fn admin_app() -> TestApp {
    let mut config = test_config();
    config.admin_token = Some(ADMIN.into());
    spawn_configured(config).await
}

async fn settings_of(app: &TestApp, queue: &str) -> Value {
    json_of(app.admin_queue(queue).await).await["settings"].clone()
}

async fn events_of(app: &TestApp, queue: &str) -> Vec<Value> {
    let events = app.admin_queue_events(queue).query(&[("count", "1000")]).await;
    json_of(events).await.as_array().cloned().expect("a list")
}

/// The settings hash the queue's scripts read (the layout of src/store/keys.rs).
async fn redis_copy(app: &TestApp, queue: &str) -> HashMap<String, String> {
    let key = app.keys().queue(queue, "settings");
    let mut redis = app.state.redis.connection().await.unwrap();
    redis::cmd("HGETALL").arg(&key).query_async(&mut redis).await.unwrap()
}

async fn write_redis_copy(app: &TestApp, queue: &str, fields: &[(&str, &str)]) {
    let key = app.keys().queue(queue, "settings");
    let mut redis = app.state.redis.connection().await.unwrap();
    redis::cmd("DEL")
        .arg(&key)
        .query_async::<i64>(&mut redis)
        .await
        .unwrap();
    redis::cmd("HSET")
        .arg(&key)
        .arg(fields)
        .query_async::<i64>(&mut redis)
        .await
        .unwrap();
}

/// Postgres's version of the queue's settings.
async fn version_in_postgres(app: &TestApp, queue: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT version FROM queue_settings WHERE queue = $1")
        .bind(queue)
        .fetch_optional(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_closed_sale_stays_closed_when_redis_loses_its_settings() {
    let app = admin_app().await;
    let queue = app.default_queue();
    let closed = json!({ "state": "closed", "maxActive": 5, "admitRate": 1 });
    assert_eq!(app.admin_set_queue(&queue, &closed).await.status(), 200);
    assert_error(app.join(1).await, 409, "QUEUE_CLOSED").await;

    app.flush_redis().await;
    // A newcomer each time: one who got in keeps the place on joining again.
    let newcomer = std::sync::atomic::AtomicI64::new(1);
    let started = Instant::now();
    eventually(Duration::from_secs(3), "joins refused again", || async {
        let user = newcomer.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        (app.join(user).await.status() == 409).then_some(())
    })
    .await;
    let took = started.elapsed();
    println!("joins refused again {took:?} after Redis lost the settings");
    // Joins follow the instance's own view of the settings; Redis's copy,
    // which admission reads, is written again within about a second.
    let settings = eventually(Duration::from_secs(3), "Redis's copy restored", || async {
        let settings = settings_of(&app, &queue).await;
        (settings["state"] == "closed").then_some(settings)
    })
    .await;
    assert_eq!(
        (&settings["state"], &settings["maxActive"], &settings["admitRate"]),
        (&json!("closed"), &json!(5), &json!(1)),
        "{settings}"
    );
    let events = events_of(&app, &queue).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["changes"]["state"], "closed");
    assert_eq!(events[0]["after"]["max_active"], "5");
    app.stop().await;
}

#[tokio::test]
async fn conflicting_changes_from_two_instances_land_in_order_and_redis_ends_on_the_last() {
    let mut config = test_config();
    config.admin_token = Some(ADMIN.into());
    // Two gateways on one database and one Redis prefix.
    let first = spawn_configured(config.clone()).await;
    let second = spawn_configured(config).await;
    let queue = first.default_queue();
    let states = ["open", "paused", "closed"];
    let changes = (0..20_u64).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        let body = json!({ "state": states[i as usize % 3], "maxActive": i + 1, "admitRate": 100 + i });
        let queue = &queue;
        async move { app.admin_set_queue(queue, &body).await.status() }
    });
    for status in join_all(changes).await {
        assert_eq!(status, 200);
    }

    // Redis holds Postgres's last version at once, whichever write came last.
    assert_eq!(version_in_postgres(&first, &queue).await, Some(20));
    let copy = redis_copy(&first, &queue).await;
    assert_eq!(copy.get("version").map(String::as_str), Some("20"), "{copy:?}");
    let events = events_of(&first, &queue).await;
    assert_eq!(events.len(), 20);
    let mut expected: serde_json::Map<String, Value> = events[0]["after"].as_object().cloned().unwrap();
    expected.insert("version".into(), json!("20"));
    let as_json = |copy: HashMap<String, String>| -> serde_json::Map<String, Value> {
        copy.into_iter().map(|(name, value)| (name, json!(value))).collect()
    };
    assert_eq!(as_json(copy), expected, "Redis's copy is the last change's result");
    // The copy of an earlier change arriving last, as the instance that lost
    // the race for the row would send it: refused, and the copy stays.
    let key = first.keys().queue(&queue, "settings");
    let mut redis = first.state.redis.connection().await.unwrap();
    let late: i64 = boxoffice::store::fcall("queue_settings")
        .arg(1)
        .arg(&key)
        .arg(19)
        .arg("state")
        .arg("open")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(late, 0);
    assert_eq!(as_json(redis_copy(&first, &queue).await), expected);
    // Each change was applied on top of the one before it: none was lost.
    for pair in events.windows(2) {
        assert_eq!(pair[0]["before"], pair[1]["after"], "{pair:?}");
    }
    assert_eq!(events[19]["before"], json!({}));
    let (one, other) = (settings_of(&first, &queue).await, settings_of(&second, &queue).await);
    assert_eq!(one, other);
    assert_eq!(
        one["maxActive"].to_string(),
        events[0]["after"]["max_active"].as_str().unwrap()
    );
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn settings_only_redis_held_are_adopted_into_postgres_not_lost() {
    let app = admin_app().await;
    let queue = app.default_queue();
    // As an earlier version left them: in Redis only, with no version.
    write_redis_copy(&app, &queue, &[("state", "closed"), ("max_active", "7")]).await;
    eventually(Duration::from_secs(3), "adopted", || async {
        version_in_postgres(&app, &queue).await.map(|_| ())
    })
    .await;
    let events = events_of(&app, &queue).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["who"], "redis");
    assert_eq!(events[0]["after"], json!({ "state": "closed", "max_active": "7" }));

    // A later change starts from them.
    let changed = json_of(app.admin_set_queue(&queue, &json!({ "admitRate": 3 })).await).await;
    assert_eq!(
        (&changed["state"], &changed["maxActive"], &changed["admitRate"]),
        (&json!("closed"), &json!(7), &json!(3)),
        "{changed}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_copy_claiming_a_version_postgres_never_gave_yields_to_postgres() {
    let app = admin_app().await;
    let queue = app.default_queue();
    assert_eq!(
        app.admin_set_queue(&queue, &json!({ "state": "paused" }))
            .await
            .status(),
        200
    );
    // A copy ahead of Postgres, as after Postgres was restored from a backup.
    write_redis_copy(&app, &queue, &[("version", "50"), ("state", "open")]).await;
    eventually(Duration::from_secs(3), "Postgres's settings back in Redis", || async {
        let copy = redis_copy(&app, &queue).await;
        (copy.get("state").map(String::as_str) == Some("paused")).then_some(())
    })
    .await;
    assert_eq!(version_in_postgres(&app, &queue).await, Some(51));
    // And a change made after it is not taken for an older one.
    assert_eq!(
        app.admin_set_queue(&queue, &json!({ "state": "closed" }))
            .await
            .status(),
        200
    );
    assert_eq!(settings_of(&app, &queue).await["state"], "closed");
    assert_error(app.join(1).await, 409, "QUEUE_CLOSED").await;
    app.stop().await;
}
