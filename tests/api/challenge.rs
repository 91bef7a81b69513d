//! The proof of work at the door: a queue whose settings ask for a challenge
//! (`challenge: {"kind": "altcha", ...}`) takes no join without a solved
//! ALTCHA challenge in `X-Altcha`, on either API or a protected site's
//! waiting room. A challenge comes from `GET /queues/{queue}/challenge`; a
//! solution is taken once, on any instance, only for its queue and before its
//! expiry. Solutions are found here as a browser finds them, with the ALTCHA
//! crate's solver.

use altcha::{Challenge, Payload, SolveChallengeOptions};
use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::{assert_error, json_of, metric_value, spawn_configured, test_config, uuid, TestApp, ADMIN};

const CONCERT: &str = "hero-autumn";

/// Small enough to solve at once in a debug build.
const EASY: u32 = 8;

async fn admin_app(customize: impl FnOnce(&mut boxoffice::config::Config)) -> TestApp {
    let mut config = test_config();
    config.admin_token = Some(ADMIN.into());
    customize(&mut config);
    spawn_configured(config).await
}

async fn ask_for_challenge(app: &TestApp, queue: &str, complexity: u32) {
    let response = app
        .admin_set_queue(
            queue,
            &json!({ "challenge": { "kind": "altcha", "complexity": complexity } }),
        )
        .await;
    assert_eq!(response.status(), 200, "{}", json_of(response).await);
}

/// A fresh challenge of `queue`, as the widget fetches it.
async fn challenge(app: &TestApp, queue: &str) -> Challenge {
    let response = app.get(&format!("/queues/{queue}/challenge")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    serde_json::from_value(json_of(response).await).expect("an ALTCHA challenge")
}

/// The widget's payload for a solved `challenge`: base64 of `{challenge, solution}`.
fn solved(challenge: Challenge) -> String {
    let solution = altcha::solve_challenge(SolveChallengeOptions::new(&challenge))
        .expect("solvable")
        .expect("solved in time");
    encode(&Payload { challenge, solution })
}

fn encode(payload: &Payload) -> String {
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(payload).expect("JSON"))
}

async fn solution_for(app: &TestApp, queue: &str) -> String {
    solved(challenge(app, queue).await)
}

async fn refused_because(response: reqwest::Response, reason: &str) {
    let body = assert_error(response, 403, "CHALLENGE_FAILED").await;
    assert_eq!(body["reason"], reason, "{body}");
}

#[tokio::test]
async fn a_challenged_queue_takes_a_join_only_with_a_solution_and_each_solution_once_on_both_apis() {
    let app = admin_app(|_| {}).await;
    let queue = app.default_queue();
    ask_for_challenge(&app, &queue, EASY).await;
    ask_for_challenge(&app, CONCERT, EASY).await;

    // Without one: told where to fetch it.
    let body = assert_error(app.join(1).await, 403, "CHALLENGE_REQUIRED").await;
    assert_eq!(body["challengeUrl"], format!("/queues/{queue}/challenge"));
    let body = assert_error(app.v1_join(CONCERT, &uuid(1)).await, 403, "CHALLENGE_REQUIRED").await;
    assert_eq!(body["challengeUrl"], format!("/queues/{CONCERT}/challenge"));

    // Seed 000.
    let payload = solution_for(&app, &queue).await;
    let response = app.join(1).header("X-Altcha", payload.as_str()).await;
    assert_eq!(response.status(), 200, "{}", json_of(response).await);
    refused_because(app.join(2).header("X-Altcha", payload.as_str()).await, "spent").await;

    // Seed 004.
    let payload = solution_for(&app, CONCERT).await;
    let response = app
        .v1_join(CONCERT, &uuid(1))
        .header("X-Altcha", payload.as_str())
        .await;
    assert_eq!(response.status(), 200, "{}", json_of(response).await);
    refused_because(
        app.v1_join(CONCERT, &uuid(2))
            .header("X-Altcha", payload.as_str())
            .await,
        "spent",
    )
    .await;
}

#[tokio::test]
async fn a_solution_taken_on_one_instance_is_refused_on_another() {
    let first = admin_app(|_| {}).await;
    let queue = first.default_queue();
    ask_for_challenge(&first, &queue, EASY).await;
    let second = spawn_configured(first.config.clone()).await;

    // Issued by one instance, checked by the other, then replayed on the first.
    let payload = solution_for(&second, &queue).await;
    let response = first.join(1).header("X-Altcha", payload.as_str()).await;
    assert_eq!(response.status(), 200, "{}", json_of(response).await);
    refused_because(second.join(2).header("X-Altcha", payload.as_str()).await, "spent").await;
    refused_because(first.join(3).header("X-Altcha", payload.as_str()).await, "spent").await;
}

#[tokio::test]
async fn one_solution_sent_by_twenty_joins_at_once_through_two_instances_is_taken_once() {
    let first = admin_app(|_| {}).await;
    let queue = first.default_queue();
    ask_for_challenge(&first, &queue, EASY).await;
    let second = spawn_configured(first.config.clone()).await;
    let payload = solution_for(&first, &queue).await;
    // Joins of one instance that arrive together go to Redis in one call:
    // the same mark twice in a call, as well as on two instances.
    let joins = (1..=20).map(|user| {
        let app = if user % 2 == 0 { &first } else { &second };
        let payload = payload.clone();
        async move {
            app.join(user)
                .header("X-Altcha", payload.as_str())
                .await
                .status()
                .as_u16()
        }
    });
    let mut statuses = futures::future::join_all(joins).await;
    statuses.sort_unstable();
    let mut expected = vec![200];
    expected.extend([403; 19]);
    assert_eq!(statuses, expected);
}

#[tokio::test]
async fn a_solution_for_another_queue_a_wrong_one_and_garbage_are_refused() {
    let app = admin_app(|_| {}).await;
    let queue = app.default_queue();
    ask_for_challenge(&app, &queue, EASY).await;
    ask_for_challenge(&app, CONCERT, EASY).await;

    let for_the_concert = solution_for(&app, CONCERT).await;
    refused_because(
        app.join(1).header("X-Altcha", for_the_concert.as_str()).await,
        "otherQueue",
    )
    .await;

    // The right counter's key, but one byte of it changed.
    let mut payload: Payload = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(solution_for(&app, &queue).await)
            .expect("base64"),
    )
    .expect("a payload");
    let flipped = if payload.solution.derived_key.ends_with('0') {
        '1'
    } else {
        '0'
    };
    payload.solution.derived_key.pop();
    payload.solution.derived_key.push(flipped);
    refused_because(
        app.join(1).header("X-Altcha", encode(&payload).as_str()).await,
        "invalid",
    )
    .await;

    // A solved challenge whose expiry was moved after signing.
    let mut payload: Payload = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(solution_for(&app, &queue).await)
            .expect("base64"),
    )
    .expect("a payload");
    payload.challenge.parameters.expires_at = payload.challenge.parameters.expires_at.map(|at| at + 3600);
    refused_because(
        app.join(1).header("X-Altcha", encode(&payload).as_str()).await,
        "invalid",
    )
    .await;

    for garbage in ["not base64!", "e30=", "bnVsbA=="] {
        refused_because(app.join(1).header("X-Altcha", garbage).await, "invalid").await;
    }
    // The refusals took nothing: a good solution still joins.
    let payload = solution_for(&app, &queue).await;
    let response = app.join(1).header("X-Altcha", payload.as_str()).await;
    assert_eq!(response.status(), 200, "{}", json_of(response).await);
}

#[tokio::test]
async fn a_solution_shown_after_its_challenge_expired_is_refused() {
    let app = admin_app(|config| config.queue.challenge_ttl_s = 1).await;
    let queue = app.default_queue();
    ask_for_challenge(&app, &queue, EASY).await;
    ask_for_challenge(&app, CONCERT, EASY).await;
    let late = solution_for(&app, &queue).await;
    let late_for_the_concert = solution_for(&app, CONCERT).await;
    // Expiry is in whole seconds: past it for certain.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    refused_because(app.join(1).header("X-Altcha", late.as_str()).await, "expired").await;
    refused_because(
        app.v1_join(CONCERT, &uuid(1))
            .header("X-Altcha", late_for_the_concert.as_str())
            .await,
        "expired",
    )
    .await;
}

#[tokio::test]
async fn a_queue_without_a_challenge_joins_as_before_and_has_no_challenge_to_give() {
    let app = admin_app(|_| {}).await;
    let queue = app.default_queue();
    let response = app.join(1).await;
    assert_eq!(response.status(), 200);
    // A stray header is not looked at.
    let response = app.join(2).header("X-Altcha", "anything").await;
    assert_eq!(response.status(), 200);
    assert_error(
        app.get(&format!("/queues/{queue}/challenge")).await,
        404,
        "CHALLENGE_OFF",
    )
    .await;
    assert_error(app.get("/queues/no-such-queue/challenge").await, 404, "QUEUE_NOT_FOUND").await;
}

#[tokio::test]
async fn the_admin_api_sets_shows_and_clears_a_challenge_with_the_configured_complexity_by_default() {
    let app = admin_app(|config| config.queue.challenge_complexity = 12_345).await;
    let queue = app.default_queue();
    let shown = |body: Value| body["challenge"].clone();

    let response = app
        .admin_set_queue(&queue, &json!({ "challenge": { "kind": "altcha" } }))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        shown(json_of(response).await),
        json!({ "kind": "altcha", "complexity": 12_345 })
    );
    let response = app
        .admin_set_queue(&queue, &json!({ "challenge": { "kind": "altcha", "complexity": 500 } }))
        .await;
    assert_eq!(shown(json_of(response).await)["complexity"], 500);
    let view = json_of(app.admin_queue(&queue).await).await;
    assert_eq!(view["settings"]["challenge"]["complexity"], 500, "{view}");
    // The challenge's counter is drawn from [complexity / 2, complexity]:
    // its signed parameters carry the queue and an expiry.
    let issued = challenge(&app, &queue).await;
    assert_eq!(issued.parameters.algorithm, "PBKDF2/SHA-256");
    assert_eq!(
        issued.parameters.data.as_ref().and_then(|data| data.get("queue")),
        Some(&json!(queue))
    );
    assert!(issued.parameters.expires_at.is_some());

    for wrong in [
        json!({ "kind": "captcha" }),
        json!({ "kind": "altcha", "complexity": 1 }),
        json!({ "kind": "altcha", "complexity": 10_000_001 }),
        json!({ "kind": "altcha", "complexity": "hard" }),
        json!({ "kind": "altcha", "cost": 5 }),
        json!("altcha"),
    ] {
        assert_error(
            app.admin_set_queue(&queue, &json!({ "challenge": wrong })).await,
            400,
            "INVALID_SETTING",
        )
        .await;
    }

    let response = app.admin_set_queue(&queue, &json!({ "challenge": null })).await;
    assert_eq!(shown(json_of(response).await), Value::Null);
    assert_eq!(app.join(1).await.status(), 200);
}

#[tokio::test]
async fn a_protected_site_s_waiting_room_asks_its_visitors_for_the_challenge_too() {
    let app = admin_app(|_| {}).await;
    let queue = app.default_queue();
    let response = app
        .admin_set_queue(&queue, &json!({ "protect": { "origin": "https://shop.example" } }))
        .await;
    assert_eq!(response.status(), 200);
    ask_for_challenge(&app, &queue, EASY).await;

    assert_error(app.gate_join(&queue).await, 403, "CHALLENGE_REQUIRED").await;
    let payload = solution_for(&app, &queue).await;
    let response = app.gate_join(&queue).header("X-Altcha", payload.as_str()).await;
    assert_eq!(response.status(), 200, "{}", json_of(response).await);
    refused_because(
        app.gate_join(&queue).header("X-Altcha", payload.as_str()).await,
        "spent",
    )
    .await;
}

#[tokio::test]
async fn joins_turned_away_at_the_door_are_counted_by_reason_on_ops_and_in_the_metrics() {
    // A queue name of this test's own: the metrics recorder is the process's.
    let app = admin_app(|config| config.queue.default_queue = "door-counted".into()).await;
    let queue = app.default_queue();
    ask_for_challenge(&app, &queue, EASY).await;

    assert_error(app.join(1).await, 403, "CHALLENGE_REQUIRED").await;
    assert_error(app.join(1).await, 403, "CHALLENGE_REQUIRED").await;
    refused_because(app.join(1).header("X-Altcha", "e30=").await, "invalid").await;
    let payload = solution_for(&app, &queue).await;
    assert_eq!(app.join(1).header("X-Altcha", payload.as_str()).await.status(), 200);
    refused_because(app.join(2).header("X-Altcha", payload.as_str()).await, "spent").await;

    let refusals = json_of(app.ops_refusals().await).await;
    let door = &refusals["joinsRefused"];
    assert_eq!(
        (
            door["challengeRequired"].clone(),
            door["challengeInvalid"].clone(),
            door["challengeSpent"].clone()
        ),
        (json!(2), json!(1), json!(1)),
        "{refusals}"
    );
    assert_eq!(door["challengeExpired"], 0);
    let metrics = app.metrics_text().await;
    let series = |reason: &str| format!("boxoffice_joins_refused_total{{queue=\"{queue}\",reason=\"{reason}\"}}");
    assert_eq!(metric_value(&metrics, &series("challenge_required")), Some(2.0));
    assert_eq!(metric_value(&metrics, &series("challenge_spent")), Some(1.0));
}
