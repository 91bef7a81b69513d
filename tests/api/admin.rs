//! Operating a sale live through the admin API: settings every instance
//! follows at its next step, validated changes, and the record of each change.

use std::time::Duration;

use crate::helpers::{
    assert_error, eventually, json_of, spawn_app_with, spawn_configured, test_config, uuid, TestApp, ADMIN,
};
use serde_json::{json, Value};

#[tokio::test]
async fn the_admin_api_is_off_without_a_token_and_closed_to_wrong_ones() {
    let off = spawn_app_with(|_| {}).await;
    let response = off.admin_queues().bearer(ADMIN).await;
    assert_error(response, 403, "ADMIN_DISABLED").await;
    off.stop().await;

    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    let missing = app.admin_queues().without("authorization").await;
    assert_error(missing, 401, "ADMIN_UNAUTHORIZED").await;
    let wrong = app.admin_queues().bearer("ops-team-tokeN").await;
    assert_error(wrong, 401, "ADMIN_UNAUTHORIZED").await;
    let listed = json_of(app.admin_queues().await).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "bts-spring", "hero-autumn", "iu-winter"]);
    let first = &listed[0];
    for field in [
        "state",
        "waiting",
        "active",
        "admittedPerSecond",
        "etaSecondsOfLast",
        "settings",
    ] {
        assert!(!first[field].is_null(), "{field} in {first}");
    }
    assert_eq!(first["settings"]["admitRate"], app.config.queue.admit_rate);
    app.stop().await;
}

#[tokio::test]
async fn bad_settings_are_refused_with_a_code() {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    for (body, code) in [
        (json!({ "admitRate": -5 }), "INVALID_SETTING"),
        (json!({ "maxActive": 1.5 }), "INVALID_SETTING"),
        (json!({ "state": "sleeping" }), "INVALID_STATE"),
        (json!({ "opensAt": "next tuesday" }), "INVALID_DATE"),
        (
            json!({ "adaptive": { "targetP99Ms": 200, "minRate": 50, "maxRate": 10 } }),
            "INVALID_SETTING",
        ),
        (json!({ "colour": "red" }), "UNKNOWN_SETTING"),
        (json!([1, 2]), "INVALID_SETTINGS"),
    ] {
        assert_error(app.admin_set_queue("default", &body).await, 400, code).await;
    }
    assert_error(
        app.admin_set_queue("no-such-queue", &json!({ "state": "paused" }))
            .await,
        404,
        "QUEUE_NOT_FOUND",
    )
    .await;
    let unchanged = json_of(app.admin_queue("default").await).await;
    assert_eq!(unchanged["settings"]["state"], "open", "nothing was applied");
    app.stop().await;
}

#[tokio::test]
async fn settings_the_store_cannot_keep_or_show_back_are_refused() {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    let queue = app.default_queue();
    for body in [
        // Stored as a negative time and shown as null.
        r#"{"opensAt": "1960-01-01T00:00:00"}"#,
        // Shown back as 9999-01-01T00:00:00.
        r#"{"opensAt": "+10000-01-01T00:00:00"}"#,
        // A negative number that rounds to 0, which would mean unlimited.
        r#"{"maxActive": -0}"#,
        r#"{"admitRate": -0.0}"#,
        r#"{"maxActive": 1000000001}"#,
        r#"{"admitRate": 1e15}"#,
        r#"{"adaptive": {"targetP99Ms": 200, "minRate": 1, "maxRate": 10, "increaseBy": -0}}"#,
        r#"{"adaptive": {"targetP99Ms": 200, "minRate": 1, "maxRate": 10000000000}}"#,
    ] {
        // The body as written, for numbers `json!` cannot spell (`-0`).
        let as_written = app.admin_set_queue(&queue, &json!({})).json_text(body);
        let refused = assert_error(as_written.await, 400, "INVALID_SETTING").await;
        assert!(!refused["message"].as_str().unwrap_or_default().is_empty(), "{body}");
    }
    let view = json_of(app.admin_queue(&queue).await).await;
    assert_eq!(
        view["settings"]["maxActive"], app.config.queue.max_active,
        "nothing was applied"
    );
    assert_eq!(view["settings"]["opensAt"], Value::Null);
    let events = app.admin_queue_events(&queue).await;
    assert_eq!(json_of(events).await, json!([]), "nothing was recorded");

    // The edges of the range are kept and shown back as written.
    let edges = json!({ "opensAt": "9999-12-31T23:59:59", "maxActive": 1_000_000_000, "admitRate": 0 });
    let kept = json_of(app.admin_set_queue(&queue, &edges).await).await;
    assert_eq!(
        (
            kept["opensAt"].as_str(),
            kept["maxActive"].as_u64(),
            kept["admitRate"].as_u64()
        ),
        (Some("9999-12-31T23:59:59"), Some(1_000_000_000), Some(0)),
        "{kept}"
    );
    app.stop().await;
}

#[tokio::test]
async fn pausing_stops_admission_on_every_instance_and_the_rate_follows_a_change() {
    let mut config = test_config();
    config.admin_token = Some(ADMIN.into());
    let first = spawn_configured(config.clone()).await;
    // A second gateway on the same stores, as in a deployment of many.
    let second = spawn_configured(config).await;
    for user in 1..=30 {
        first.join(user).await;
    }
    let queue = first.default_queue();

    let paused = json_of(first.admin_set_queue(&queue, &json!({ "state": "paused" })).await).await;
    assert_eq!(paused["state"], "paused");
    for app in [&first, &second] {
        let step = app.state.scheduler.admit_once(&queue).await.unwrap();
        assert_eq!(
            step.admitted, 0,
            "a paused queue admits nobody, whichever instance steps"
        );
    }
    assert_eq!(
        json_of(first.join(31).await).await["position"],
        31,
        "joins go on while paused"
    );

    let resumed = json_of(
        second
            .admin_set_queue(&queue, &json!({ "state": "open", "admitRate": 4 }))
            .await,
    )
    .await;
    assert_eq!(
        (resumed["state"].as_str(), resumed["admitRate"].as_u64()),
        (Some("open"), Some(4))
    );
    // The step's allowance is one second's worth at the new rate, on either instance.
    let step = first.state.scheduler.admit_once(&queue).await.unwrap();
    assert_eq!(step.admitted, 4, "{step:?}");
    let step = second.state.scheduler.admit_once(&queue).await.unwrap();
    assert!(step.admitted <= 1, "the bucket is shared: {step:?}");

    let events = json_of(first.admin_queue_events(&queue).await).await;
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["changes"]["admit_rate"], "4", "newest first: {events:?}");
    assert_eq!(events[0]["before"]["state"], "paused");
    assert_eq!(events[0]["after"]["state"], "open");
    assert_eq!(events[1]["changes"]["state"], "paused");
    assert_eq!(
        events[0]["who"].as_str().map(str::len),
        Some(8),
        "the token's fingerprint, not the token"
    );
    first.stop().await;
    second.stop().await;
}

/// Users admitted so far, as the admin API reports them.
async fn admitted_so_far(app: &TestApp, queue: &str) -> u64 {
    let view = json_of(app.admin_queue(queue).await).await;
    view["admitted"].as_u64().expect("admitted")
}

#[tokio::test]
async fn a_running_sale_follows_the_operator_within_a_tick_on_every_instance() {
    let mut config = test_config();
    config.admin_token = Some(ADMIN.into());
    config.queue.run_scheduler = true;
    config.queue.admit_tick_ms = 200;
    config.queue.max_active = 0;
    // Two gateways, both running admission on their own clocks.
    let first = spawn_configured(config.clone()).await;
    let second = spawn_configured(config).await;
    let queue = first.default_queue();
    first.admin_set_queue(&queue, &json!({ "admitRate": 40 })).await;
    for user in 1..=600 {
        first.join(user).await;
    }
    // Each change is followed from the next tick on: one tick is let pass (a
    // step already under way reads the settings before), then admissions are
    // counted over a window of whole seconds. Both waits are the behaviour.
    let tick = Duration::from_millis(200);
    let measure = |seconds: u64| {
        let (first, queue) = (&first, &queue);
        async move {
            let before = admitted_so_far(first, queue).await;
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            admitted_so_far(first, queue).await - before
        }
    };
    // The first step spends a second's allowance at once: measure after it.
    eventually(Duration::from_secs(3), "admission under way", || async {
        (admitted_so_far(&first, &queue).await > 0).then_some(())
    })
    .await;
    let fast = measure(3).await;
    assert!((100..=140).contains(&fast), "{fast} admitted in 3 s at 40/s");

    second.admin_set_queue(&queue, &json!({ "admitRate": 10 })).await;
    tokio::time::sleep(tick).await;
    let slow = measure(3).await;
    assert!((20..=40).contains(&slow), "{slow} admitted in 3 s at 10/s");

    second.admin_set_queue(&queue, &json!({ "state": "paused" })).await;
    tokio::time::sleep(tick).await;
    let paused = measure(2).await;
    assert_eq!(paused, 0, "admitted while paused");

    first.admin_set_queue(&queue, &json!({ "state": "open" })).await;
    tokio::time::sleep(tick).await;
    assert!(measure(2).await > 0, "resumed");
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn a_closed_queue_refuses_newcomers_and_still_admits_its_line() {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    let queue = app.default_queue();
    for user in 1..=5 {
        app.join(user).await;
    }
    assert_eq!(
        app.admin_set_queue(&queue, &json!({ "state": "closed" }))
            .await
            .status(),
        200
    );
    assert_error(app.join(6).await, 409, "QUEUE_CLOSED").await;
    // Those in line keep their places, may re-join (same place), and are admitted.
    assert_eq!(json_of(app.join(3).await).await["position"], 3);
    assert_eq!(json_of(app.position(5).await).await["position"], 5);
    let step = app.admit_everyone(&queue).await;
    assert_eq!(step.admitted, 5);
    assert_eq!(json_of(app.position(5).await).await["tokenStatus"], "활성");
    assert_eq!(
        app.admin_set_queue(&queue, &json!({ "state": "open" })).await.status(),
        200
    );
    assert_eq!(app.join(6).await.status(), 200, "reopened");
    app.stop().await;
}

#[tokio::test]
async fn a_concert_created_through_the_admin_api_is_on_sale_on_every_instance() {
    let mut config = test_config();
    config.admin_token = Some(ADMIN.into());
    let first = spawn_configured(config.clone()).await;
    let second = spawn_configured(config).await;
    let concert = json!({
        "code": "winter-gala",
        "name": "겨울갈라",
        "schedules": [
            { "startsAt": "2031-12-24T19:00:00", "seats": 20, "price": 3000 },
            { "startsAt": "2031-12-25T19:00:00", "sections": [{ "seats": 5, "price": 9000 }, { "seats": 10, "price": 4000 }] }
        ]
    });
    let created = first.admin_create_concert(&concert).await;
    assert_eq!(created.status(), 201);
    let created = json_of(created).await;
    let schedules = created["schedules"].as_array().unwrap();
    assert_eq!(
        (schedules[0]["seats"].as_u64(), schedules[1]["seats"].as_u64()),
        (Some(20), Some(15))
    );
    let second_schedule = schedules[1]["concertDateId"].as_i64().unwrap();
    let again = first.admin_create_concert(&concert).await;
    assert_error(again, 409, "CONCERT_EXISTS").await;
    for (body, code) in [
        (
            json!({ "code": "Bad Code", "name": "x", "schedules": [{ "startsAt": "2031-01-01T19:00:00", "seats": 1, "price": 1 }] }),
            "INVALID_CONCERT",
        ),
        (
            json!({ "code": "ok", "name": "x", "schedules": [{ "startsAt": "soon", "seats": 1, "price": 1 }] }),
            "INVALID_DATE",
        ),
        (
            json!({ "code": "ok", "name": "x", "schedules": [{ "startsAt": "2031-01-01T19:00:00", "seats": 0, "price": 1 }] }),
            "INVALID_CONCERT",
        ),
        (json!({ "code": "ok", "name": "x", "schedules": [] }), "INVALID_CONCERT"),
    ] {
        let refused = first.admin_create_concert(&body).await;
        assert_error(refused, 400, code).await;
    }

    // The other instance sells it within a couple of seconds: its queue exists there too.
    let uuid = uuid(9);
    let token = eventually(Duration::from_secs(3), "on sale on the other instance", || async {
        let joined = second.v1_join("winter-gala", &uuid).await;
        if joined.status() != 200 {
            return None;
        }
        Some(json_of(joined).await["token"].as_str().unwrap().to_string())
    })
    .await;
    second.admit_everyone("winter-gala").await;
    second.charge(9, 20_000).await;
    for seat in [2, 7] {
        let held = second
            .v1_hold("winter-gala", &token, &uuid, "2031-12-25T19:00:00", seat)
            .await;
        assert_eq!(held.status(), 200);
    }
    let held = json_of(first.admin_seat_map(second_schedule).await).await;
    assert_eq!(
        (held["held"].as_u64(), held["free"].as_u64(), held["sold"].as_i64()),
        (Some(2), Some(13), Some(0))
    );
    assert_eq!(held["seats"][1]["state"], "held");
    assert_eq!(held["seats"][1]["heldBy"], 9);
    let paid = second.v1_pay(&token, &uuid).await;
    assert_eq!(json_of(paid).await["paymentAmount"], 9000 + 4000);
    let sold = json_of(first.admin_seat_map(second_schedule).await).await;
    assert_eq!(
        (sold["sold"].as_i64(), sold["revenue"].as_i64(), sold["held"].as_u64()),
        (Some(2), Some(13_000), Some(0))
    );
    assert_eq!(sold["seats"][6]["state"], "sold");
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn a_queue_protects_a_site_until_protect_is_null_and_origin_keys_are_shown_once() {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    let queue = app.default_queue();
    let protect = json!({
        "origin": "https://shop.example", "paths": ["/checkout/*"], "sessionSeconds": 600,
        "failMode": "closed", "bypassCidrs": [], "bypassHeader": null
    });
    let changed = json_of(app.admin_set_queue(&queue, &json!({ "protect": protect })).await).await;
    assert_eq!(changed["protect"], protect, "{changed}");
    let shown = json_of(app.admin_queue(&queue).await).await;
    assert_eq!(shown["settings"]["protect"], protect, "GET shows it");
    let events = json_of(app.admin_queue_events(&queue).await).await;
    assert!(events[0]["changes"]["protect"].is_string(), "recorded: {events}");

    for bad in [
        json!({ "protect": { "origin": "shop.example" } }),
        json!({ "protect": { "origin": "https://shop.example", "sessionSeconds": 0 } }),
        json!({ "protect": { "origin": "https://shop.example", "failMode": "ajar" } }),
        json!({ "protect": "https://shop.example" }),
    ] {
        assert_error(app.admin_set_queue(&queue, &bad).await, 400, "INVALID_SETTING").await;
    }

    let first = json_of(app.admin_new_origin_key(&queue).await).await;
    let second = json_of(app.admin_new_origin_key(&queue).await).await;
    let (first, second) = (first["key"].as_str().unwrap(), second["key"].as_str().unwrap());
    assert!(first.starts_with("bo_origin_") && first != second);
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT key_sha256 FROM queue_origin_keys WHERE queue = $1")
        .bind(&queue)
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|hash| hash.len() == 32), "only hashes are kept");
    assert_error(app.admin_new_origin_key("no-such-queue").await, 404, "QUEUE_NOT_FOUND").await;

    let off = json_of(app.admin_set_queue(&queue, &json!({ "protect": null })).await).await;
    assert_eq!(off["protect"], Value::Null);
    app.stop().await;
}
