//! Webhooks: an endpoint registered by the admin API gets the events of the
//! types it asked for and no others, signed, with the same `webhook-id` on
//! every attempt; a failing endpoint is retried until it answers 2xx, and its
//! deliveries show every attempt; bad registrations are refused clearly.
//! (A receiver checking the signatures with the specification's own library,
//! and a gateway killed mid-delivery, are in the fault suite.)

use std::time::Duration;

use serde_json::{json, Value};

use crate::events::buy;
use crate::helpers::receiver::{Received, Receiver};
use crate::helpers::{assert_error, eventually, json_of, spawn_app_with, TestApp};

const ADMIN: &str = "webhooks-admin-token";

async fn spawn() -> TestApp {
    spawn_app_with(|config| {
        config.admin_token = Some(ADMIN.into());
        config.webhooks.webhook_retry_first_ms = 50;
        config.webhooks.webhook_timeout_ms = 500;
    })
    .await
}

/// Registers `url` for `events`; the answer's body.
async fn register(app: &TestApp, url: &str, events: &[&str]) -> Value {
    let answer = app.admin_new_webhook(&json!({ "url": url, "events": events })).await;
    assert_eq!(answer.status(), 201);
    json_of(answer).await
}

/// What the receiver got, once it got `count` requests.
async fn received(receiver: &Receiver, count: usize) -> Vec<Received> {
    eventually(Duration::from_secs(10), format!("{count} deliveries"), || async {
        let got = receiver.received();
        (got.len() >= count).then_some(got)
    })
    .await
}

#[tokio::test]
async fn an_endpoint_gets_the_types_it_asked_for_signed_and_nothing_else() {
    let app = spawn().await;
    let receiver = Receiver::start(|_, _| (Duration::ZERO, 204)).await;
    let registered = register(&app, &receiver.url, &["payment.completed"]).await;
    let secret = registered["secret"].as_str().expect("a secret");
    assert!(secret.starts_with("whsec_"), "{registered}");
    let id = registered["id"].as_str().expect("an id");

    let payment = buy(&app, 1, &[7], "pay-hook").await;
    let got = received(&receiver, 1).await;
    // seats.sold was written with it but not asked for: a while more, nothing else.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let got_later = receiver.received();
    assert_eq!(got_later.len(), 1, "{got_later:?}");
    let delivery = &got[0];
    assert_eq!(delivery.body["type"], "payment.completed");
    assert_eq!(delivery.body["data"]["paymentId"], payment);
    assert_eq!(delivery.id, format!("evt_{}", delivery.body["id"]));
    assert!(delivery.signature.starts_with("v1,"), "{delivery:?}");
    let sent_at: i64 = delivery.timestamp.parse().expect("Unix seconds");
    assert!((sent_at - chrono::Utc::now().timestamp()).abs() < 60);

    // The listing counts it delivered and never shows the secret.
    let listing = json_of(app.admin_webhooks().await).await;
    let endpoint = &listing.as_array().expect("a list")[0];
    assert_eq!(endpoint["id"], id);
    assert_eq!(endpoint["events"], json!(["payment.completed"]));
    assert_eq!(
        (endpoint["delivered"].as_i64(), endpoint["pending"].as_i64()),
        (Some(1), Some(0))
    );
    assert!(!listing.to_string().contains(secret), "{listing}");
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_with_the_same_webhook_id_until_it_answers() {
    let app = spawn().await;
    // Fails twice (a 500, then too late for the 500 ms timeout), then takes it.
    let receiver = Receiver::start(|_, seen| match seen {
        0 => (Duration::ZERO, 500),
        1 => (Duration::from_millis(1500), 200),
        _ => (Duration::ZERO, 200),
    })
    .await;
    let registered = register(&app, &receiver.url, &["seats.sold"]).await;
    buy(&app, 2, &[9, 10], "pay-retried").await;

    let got = received(&receiver, 3).await;
    assert!(got.iter().all(|attempt| attempt.id == got[0].id), "{got:?}");
    assert!(got.iter().all(|attempt| attempt.body == got[0].body), "{got:?}");
    assert_eq!(
        got[0].body["data"]["seats"].as_array().map(Vec::len),
        Some(2),
        "{got:?}"
    );

    let id = registered["id"].as_str().expect("an id");
    let deliveries = eventually(Duration::from_secs(5), "the delivery recorded delivered", || async {
        let deliveries = json_of(app.admin_webhook_deliveries(id).await).await;
        (deliveries[0]["state"] == "delivered").then_some(deliveries)
    })
    .await;
    let delivery = &deliveries[0];
    assert_eq!(delivery["webhookId"], got[0].id.as_str());
    assert_eq!(delivery["eventType"], "seats.sold");
    assert_eq!(delivery["attemptCount"], 3);
    let attempts = delivery["attempts"].as_array().expect("attempts");
    let outcomes: Vec<(Value, bool)> = attempts
        .iter()
        .map(|attempt| (attempt["status"].clone(), attempt.get("error").is_some()))
        .collect();
    assert_eq!(
        outcomes,
        vec![(json!(500), true), (Value::Null, true), (json!(200), false)],
        "{attempts:?}"
    );
    assert!(attempts[1]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("no answer within"));
}

#[tokio::test]
async fn an_endpoint_removed_gets_nothing_more() {
    let app = spawn().await;
    let receiver = Receiver::start(|_, _| (Duration::ZERO, 200)).await;
    let registered = register(&app, &receiver.url, &["payment.completed", "seats.sold"]).await;
    let id = registered["id"].as_str().expect("an id");
    assert_eq!(app.admin_delete_webhook(id).await.status(), 204);
    assert_error(app.admin_delete_webhook(id).await, 404, "WEBHOOK_NOT_FOUND").await;
    assert_error(app.admin_webhook_deliveries(id).await, 404, "WEBHOOK_NOT_FOUND").await;
    assert_error(
        app.admin_webhook_deliveries("not-a-uuid").await,
        404,
        "WEBHOOK_NOT_FOUND",
    )
    .await;

    buy(&app, 3, &[12], "pay-unheard").await;
    // The payment's events are readable, and no delivery came of them.
    eventually(Duration::from_secs(5), "the events sequenced", || async {
        let page = json_of(app.admin_events(&[]).await).await;
        (page["events"].as_array().map(Vec::len) == Some(2)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(receiver.received().is_empty(), "{:?}", receiver.received());
    assert_eq!(json_of(app.admin_webhooks().await).await, json!([]));
}

#[tokio::test]
async fn bad_registrations_are_refused_with_the_reason() {
    let app = spawn().await;
    let refused = [
        (
            json!({ "url": "ftp://shop.example/x", "events": ["seats.sold"] }),
            "INVALID_BODY",
        ),
        (json!({ "url": "/relative", "events": ["seats.sold"] }), "INVALID_BODY"),
        (json!({ "url": "https://shop.example/x", "events": [] }), "INVALID_BODY"),
        (
            json!({ "url": "https://shop.example/x", "events": ["seats.bought"] }),
            "UNKNOWN_EVENT_TYPE",
        ),
        (
            json!({ "url": "https://shop.example/x", "events": ["seats.sold"], "secret": "hunter2" }),
            "INVALID_BODY",
        ),
        (
            json!({ "url": "https://shop.example/x", "events": ["seats.sold"], "retries": 3 }),
            "INVALID_BODY",
        ),
    ];
    for (body, code) in refused {
        assert_error(app.admin_new_webhook(&body).await, 400, code).await;
    }
    // A secret given is kept and answered back.
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let answer = app
        .admin_new_webhook(&json!({ "url": "https://shop.example/x", "events": ["seats.sold"], "secret": secret }))
        .await;
    assert_eq!(answer.status(), 201);
    assert_eq!(json_of(answer).await["secret"], secret);
    // Without the admin token: refused, nothing registered.
    let anonymous = app.call(reqwest::Method::GET, "/admin/webhooks").await;
    assert_error(anonymous, 401, "ADMIN_UNAUTHORIZED").await;
}
