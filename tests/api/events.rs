//! The sales' events: a payment writes its `payment.completed` and
//! `seats.sold` with the sale (and a retry answered from its key writes
//! none), ids only increase, pages neither skip nor repeat, and the stream
//! delivers, follows and resumes after `Last-Event-ID`.

use std::time::{Duration, Instant};

use reqwest::Response;
use serde_json::Value;

use crate::helpers::{assert_error, eventually, json_of, spawn_app_with, TestApp};

const ADMIN: &str = "events-admin-token";

/// The sales' own types: a buyer's join and admission write queue events
/// besides, which these tests are not about.
const SALES: &str = "payment.completed,seats.sold";

async fn spawn() -> TestApp {
    spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await
}

/// `user` tops up, holds `seats` of schedule 1 and pays with `key`; the
/// payment's id.
pub(crate) async fn buy(app: &TestApp, user: i64, seats: &[i32], key: &str) -> i64 {
    buy_with_token(app, user, seats, key).await.0
}

/// As [`buy`], and the queue token it paid with.
async fn buy_with_token(app: &TestApp, user: i64, seats: &[i32], key: &str) -> (i64, String) {
    assert_eq!(app.charge(user, 100_000).await.status(), 200);
    let token = app.active_token(user).await;
    assert_eq!(app.reserve(&token, 1, 1, user, seats).await.status(), 200);
    let paid = app.pay(&token, 1, 1, user).header("Idempotency-Key", key).await;
    assert_eq!(paid.status(), 200);
    let payment = json_of(paid).await["paymentIds"][0].as_i64().expect("a payment id");
    (payment, token)
}

/// One page of events after `after`, of `types` if given.
async fn page(app: &TestApp, query: &[(&str, &str)]) -> Value {
    let answer = app.admin_events(query).await;
    assert_eq!(answer.status(), 200);
    json_of(answer).await
}

/// The sales' events readable so far, once there are `count` of them.
async fn events_once_there_are(app: &TestApp, count: usize) -> Vec<Value> {
    eventually(Duration::from_secs(5), format!("{count} events"), || async {
        let events = page(app, &[("limit", "1000"), ("types", SALES)]).await["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (events.len() >= count).then_some(events)
    })
    .await
}

fn ids(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|event| event["id"].as_i64().expect("an id"))
        .collect()
}

#[tokio::test]
async fn a_payment_writes_one_payment_completed_and_one_seats_sold_and_its_retry_none() {
    let app = spawn().await;
    let (payment, token) = buy_with_token(&app, 1, &[4, 3], "pay-events").await;
    let events = events_once_there_are(&app, 2).await;
    assert_eq!(events.len(), 2, "{events:?}");
    let amount: i64 = sqlx::query_scalar("SELECT amount FROM payments WHERE id = $1")
        .bind(payment)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let completed = events
        .iter()
        .find(|e| e["type"] == "payment.completed")
        .expect("payment.completed");
    assert_eq!(
        completed["data"],
        serde_json::json!({"paymentId": payment, "userId": 1, "scheduleId": 1, "amount": amount, "method": "balance"})
    );
    let sold = events.iter().find(|e| e["type"] == "seats.sold").expect("seats.sold");
    assert_eq!(
        sold["data"],
        serde_json::json!({"paymentId": payment, "userId": 1, "scheduleId": 1, "seats": [3, 4]})
    );
    for event in &events {
        assert_eq!(
            event["queue"],
            app.default_queue().as_str(),
            "the queue paid through: {event}"
        );
        let time = event["time"].as_str().expect("a time");
        assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "RFC 3339: {time}");
    }

    // The same request again (its token ended by the payment) is answered
    // from its key: the statement does not run again.
    let retried = app.pay(&token, 1, 1, 1).header("Idempotency-Key", "pay-events").await;
    assert_eq!(retried.status(), 200);
    assert_eq!(json_of(retried).await["paymentIds"][0], payment);
    let written: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE type IN ('payment.completed', 'seats.sold')")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(written, 2, "a retry wrote events");
    app.stop().await;
}

#[tokio::test]
async fn ids_increase_and_pages_follow_each_other_without_gap_or_repeat() {
    let app = spawn().await;
    let first = buy(&app, 1, &[5], "first").await;
    let second = buy(&app, 2, &[6], "second").await;
    let events = events_once_there_are(&app, 4).await;
    let all = ids(&events);
    assert!(all.windows(2).all(|pair| pair[0] < pair[1]), "{all:?}");
    let payments: Vec<i64> = events
        .iter()
        .filter(|e| e["type"] == "payment.completed")
        .map(|e| e["data"]["paymentId"].as_i64().unwrap())
        .collect();
    assert_eq!(payments, [first, second], "in the order the sales committed");

    let (mut after, mut paged) = (0, Vec::new());
    loop {
        let body = page(&app, &[("after", &after.to_string()), ("limit", "1"), ("types", SALES)]).await;
        let events = body["events"].as_array().expect("events").clone();
        assert!(events.len() <= 1);
        if events.is_empty() {
            assert_eq!(body["next"], after, "an empty page's next is the after given");
            break;
        }
        after = body["next"].as_i64().expect("next");
        assert_eq!(after, events[0]["id"]);
        paged.extend(ids(&events));
    }
    assert_eq!(paged, all);

    let sold = page(&app, &[("types", "seats.sold")]).await;
    let types: Vec<&str> = sold["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["seats.sold", "seats.sold"]);
    app.stop().await;
}

/// An open `text/event-stream` answer, read event by event.
struct EventStream {
    answer: Response,
    buffer: String,
}

impl EventStream {
    async fn open(app: &TestApp, last_event_id: Option<i64>) -> Self {
        let mut call = app.admin_event_stream().query(&[("types", SALES)]);
        if let Some(id) = last_event_id {
            call = call.header("last-event-id", id.to_string());
        }
        let answer = call.await;
        assert_eq!(answer.status(), 200);
        let content_type = answer.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        EventStream {
            answer,
            buffer: String::new(),
        }
    }

    /// The next event's `id:` and its `data:` as JSON, within `within`;
    /// keep-alive comments are skipped.
    async fn next(&mut self, within: Duration) -> (i64, Value) {
        let until = Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|line| line.strip_prefix(name))
                        .map(|value| value.trim_start().to_string())
                };
                if let (Some(id), Some(data)) = (field("id:"), field("data:")) {
                    let data: Value = serde_json::from_str(&data).expect("data is JSON");
                    assert_eq!(field("event:").as_deref(), data["type"].as_str());
                    return (id.parse().expect("a numeric id"), data);
                }
            }
            let left = until.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, self.answer.chunk())
                .await
                .expect("an event in time")
                .expect("the stream is readable")
                .expect("the stream did not end");
            self.buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }
}

#[tokio::test]
async fn the_stream_delivers_follows_and_resumes_after_last_event_id() {
    let app = spawn().await;
    buy(&app, 1, &[7], "first").await;
    let mut stream = EventStream::open(&app, None).await;
    let (first, event) = stream.next(Duration::from_secs(5)).await;
    assert_eq!(event["id"], first);
    let (second, _) = stream.next(Duration::from_secs(5)).await;
    assert!(second > first);

    // New events reach the open stream as they are sequenced.
    buy(&app, 2, &[8], "second").await;
    let (third, event) = stream.next(Duration::from_secs(5)).await;
    let (fourth, _) = stream.next(Duration::from_secs(5)).await;
    assert!(first < second && second < third && third < fourth);
    assert_eq!(event["data"]["userId"], 2);

    // A second connection resumes after the first event: exactly the next ones.
    let mut resumed = EventStream::open(&app, Some(first)).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(resumed.next(Duration::from_secs(5)).await.0);
    }
    assert_eq!(seen, [second, third, fourth]);

    // Open streams end when the server shuts down: they do not hold it up.
    tokio::time::timeout(Duration::from_secs(5), app.stop())
        .await
        .expect("the server stops with streams open");
    loop {
        match stream.answer.chunk().await {
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(err) => panic!("the stream was cut, not ended: {err}"),
        }
    }
    drop(resumed);
}

#[tokio::test]
async fn a_stream_outlives_the_request_timeout_and_the_idle_connection_timeout() {
    let app = spawn_app_with(|config| {
        config.admin_token = Some(ADMIN.into());
        config.request_timeout_ms = 300;
        config.connections.idle_connection_timeout_s = 1;
    })
    .await;
    let mut stream = EventStream::open(&app, None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    buy(&app, 1, &[9], "late").await;
    let (_, event) = stream.next(Duration::from_secs(5)).await;
    assert_eq!(event["data"]["userId"], 1);
    app.stop().await;
}

#[tokio::test]
async fn without_the_admin_token_nothing_is_read() {
    let app = spawn().await;
    for accept in ["application/json", "text/event-stream"] {
        let refused = app
            .admin_event_stream()
            .header("accept", accept)
            .without("authorization")
            .await;
        assert_error(refused, 401, "ADMIN_UNAUTHORIZED").await;
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_queries_are_refused_with_json_errors() {
    let app = spawn().await;
    for limit in ["0", "1001", "ten", "-5"] {
        assert_error(app.admin_events(&[("limit", limit)]).await, 400, "INVALID_QUERY").await;
    }
    for after in ["-1", "x"] {
        assert_error(app.admin_events(&[("after", after)]).await, 400, "INVALID_EVENT_ID").await;
    }
    let unknown = assert_error(
        app.admin_events(&[("types", "seats.sold,seats.bought")]).await,
        400,
        "UNKNOWN_EVENT_TYPE",
    )
    .await;
    let message = unknown["message"].as_str().unwrap();
    assert!(
        message.contains("seats.bought") && message.contains("queue.counts") && message.contains("pass.ended"),
        "{message}"
    );
    let resumed = app.admin_event_stream().header("last-event-id", "yesterday").await;
    assert_error(resumed, 400, "INVALID_EVENT_ID").await;
    app.stop().await;
}

#[tokio::test]
async fn an_event_committed_after_a_later_one_is_not_skipped_by_a_reader() {
    let app = spawn().await;
    let insert = "INSERT INTO events (type, data) VALUES ('seats.sold', $1) RETURNING id";
    // The earlier row (lower id) stays uncommitted while the later one commits.
    let mut earlier = app.state.db.begin().await.unwrap();
    let early_id: i64 = sqlx::query_scalar(insert)
        .bind(serde_json::json!({"row": "earlier"}))
        .fetch_one(&mut *earlier)
        .await
        .unwrap();
    let mut later = app.state.db.begin().await.unwrap();
    let late_id: i64 = sqlx::query_scalar(insert)
        .bind(serde_json::json!({"row": "later"}))
        .fetch_one(&mut *later)
        .await
        .unwrap();
    assert!(early_id < late_id);
    later.commit().await.unwrap();
    let seen = events_once_there_are(&app, 1).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["data"]["row"], "later");
    let last = seen[0]["id"].as_i64().unwrap();

    earlier.commit().await.unwrap();
    let next = eventually(
        Duration::from_secs(5),
        "the earlier row after the last seen",
        || async {
            let body = page(&app, &[("after", &last.to_string())]).await;
            let events = body["events"].as_array().cloned().unwrap_or_default();
            (!events.is_empty()).then_some(events)
        },
    )
    .await;
    assert_eq!(next.len(), 1);
    assert_eq!(next[0]["data"]["row"], "earlier");
    assert!(next[0]["id"].as_i64().unwrap() > last);
    app.stop().await;
}

#[tokio::test]
async fn a_settings_change_writes_who_changed_what_with_no_secret_in_it() {
    let app = spawn().await;
    let queue = app.default_queue();
    let secret = "staff-only-bypass-secret";
    let patch = serde_json::json!({
        "admitRate": 7,
        "protect": {"origin": "https://shop.example", "bypassHeader": {"name": "X-Staff", "value": secret}},
    });
    assert_eq!(app.admin_set_queue(&queue, &patch).await.status(), 200);
    let events = events_of(&app, "queue.settings_changed", 1).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let changed = &events[0];
    assert_eq!(changed["type"], "queue.settings_changed");
    assert_eq!(changed["queue"], queue.as_str());
    let data = &changed["data"];
    assert_eq!(data["changes"]["admit_rate"], "7", "{data}");
    assert_eq!(data["after"]["admit_rate"], "7", "{data}");
    assert_ne!(data["before"]["admit_rate"], "7", "{data}");
    assert!(
        data["after"]["protect"]
            .as_str()
            .unwrap_or_default()
            .contains("X-Staff"),
        "{data}"
    );
    assert_eq!(data["who"].as_str().map(str::len), Some(8), "{data}");
    assert!(data["version"].as_i64().is_some(), "{data}");
    assert!(!changed.to_string().contains(secret), "the secret left: {changed}");
    // A refused change writes none.
    let refused = app.admin_set_queue(&queue, &serde_json::json!({"admitRate": -1})).await;
    assert_eq!(refused.status(), 400);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        page(&app, &[("types", "queue.settings_changed")]).await["events"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

/// The events of `types` readable so far, once there are `count` of them.
async fn events_of(app: &TestApp, types: &str, count: usize) -> Vec<Value> {
    eventually(Duration::from_secs(5), format!("{count} {types}"), || async {
        let events = page(app, &[("types", types), ("limit", "1000")]).await["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (events.len() >= count).then_some(events)
    })
    .await
}

#[tokio::test]
async fn admissions_and_time_outs_are_events_of_the_queue_drained_from_redis() {
    let app = spawn_app_with(|config| {
        config.admin_token = Some(ADMIN.into());
        config.queue.idle_timeout_s = 1;
        config.queue.active_ttl_s = 1;
    })
    .await;
    let queue = app.default_queue();
    for user in [1, 2] {
        assert_eq!(app.join(user).await.status(), 200);
    }
    app.admit_everyone(&queue).await;
    let admitted = events_of(&app, "queue.admitted", 2).await;
    let users: Vec<i64> = admitted.iter().filter_map(|e| e["data"]["userId"].as_i64()).collect();
    assert_eq!(users, vec![1, 2], "first come, first admitted: {admitted:?}");
    for event in &admitted {
        assert_eq!(event["queue"], queue.as_str());
        assert!(
            event["data"]["waitedS"].as_i64().is_some_and(|s| (0..5).contains(&s)),
            "{event}"
        );
    }

    // User 3 joins and stops polling; 1 and 2's admissions run out.
    assert_eq!(app.join(3).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    app.admit_everyone(&queue).await;
    let timed_out = events_of(&app, "queue.timed_out", 3).await;
    let mut why: Vec<(i64, String)> = timed_out
        .iter()
        .map(|e| {
            (
                e["data"]["userId"].as_i64().unwrap_or(0),
                e["data"]["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    why.sort();
    assert_eq!(
        why,
        vec![(1, "active".into()), (2, "active".into()), (3, "idle".into())],
        "{timed_out:?}"
    );
    // Moved, not copied: the queue's stream is there, and empty once drained.
    let stream = app.keys().queue(&queue, "events");
    let mut redis = app.state.services().redis.connection().await.expect("Redis");
    let kind: String = redis::cmd("TYPE")
        .arg(&stream)
        .query_async(&mut redis)
        .await
        .expect("TYPE");
    let length: i64 = redis::cmd("XLEN")
        .arg(&stream)
        .query_async(&mut redis)
        .await
        .expect("XLEN");
    assert_eq!((kind.as_str(), length), ("stream", 0));
}

#[tokio::test]
async fn joins_polls_and_admissions_are_counted_per_second_not_one_by_one() {
    let app = spawn().await;
    let queue = app.default_queue();
    for user in [1, 2] {
        assert_eq!(app.join(user).await.status(), 200);
    }
    for _ in 0..3 {
        assert_eq!(app.position(1).await.status(), 200);
    }
    app.admit_everyone(&queue).await;
    let total = |events: &[Value], field: &str| -> u64 {
        events.iter().filter_map(|event| event["data"][field].as_u64()).sum()
    };
    let counts = eventually(Duration::from_secs(5), "every count written", || async {
        let events = page(&app, &[("types", "queue.counts"), ("limit", "1000")]).await["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (total(&events, "admitted") == 2).then_some(events)
    })
    .await;
    assert_eq!(
        ["joins", "polls", "admitted", "timedOut", "left"].map(|field| total(&counts, field)),
        [2, 3, 2, 0, 0],
        "{counts:?}"
    );
    for event in &counts {
        assert_eq!(event["queue"], queue.as_str());
        let second = event["data"]["second"].as_i64().expect("its second");
        assert!((second - chrono::Utc::now().timestamp()).abs() < 30, "{event}");
    }
    // The admissions are also events one by one; the joins and polls are not.
    assert_eq!(events_of(&app, "queue.admitted", 2).await.len(), 2);
}

#[tokio::test]
async fn holds_made_and_lapsed_are_events_of_the_schedule_naming_the_queue() {
    let app = spawn_app_with(|config| {
        config.admin_token = Some(ADMIN.into());
        config.booking.hold_ttl_s = 1;
    })
    .await;
    let queue = app.default_queue();
    for user in [1, 2, 3] {
        assert_eq!(app.charge(user, 100_000).await.status(), 200);
    }
    let first = app.active_token(1).await;
    let second = app.active_token(2).await;
    let third = app.active_token(3).await;
    assert_eq!(app.reserve(&first, 1, 1, 1, &[5, 2]).await.status(), 200);
    assert_eq!(app.reserve(&third, 1, 1, 3, &[9]).await.status(), 200);
    let held = events_of(&app, "seats.held", 2).await;
    let first_held = held.iter().find(|e| e["data"]["userId"] == 1).expect("user 1's hold");
    assert_eq!(first_held["queue"], queue.as_str());
    assert_eq!(first_held["data"]["scheduleId"], 1);
    assert_eq!(first_held["data"]["seats"], serde_json::json!([2, 5]));
    assert!(first_held["data"]["expiresAtMs"].as_i64().is_some(), "{first_held}");

    // The holds lapse. User 2 takes over seat 5 (user 1's lapsed hold is
    // released then); the sweep releases the rest.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(app.reserve(&second, 1, 1, 2, &[5]).await.status(), 200);
    app.state.services().sweep_lapsed_holds().await.expect("a sweep");
    let released = events_of(&app, "seats.released", 3).await;
    let mut lapsed: Vec<(i64, Value)> = released
        .iter()
        .map(|e| (e["data"]["userId"].as_i64().unwrap_or(0), e["data"]["seats"].clone()))
        .collect();
    lapsed.sort_by_key(|(user, seats)| (*user, seats.to_string()));
    assert_eq!(
        lapsed,
        vec![
            (1, serde_json::json!([2])),
            (1, serde_json::json!([5])),
            (3, serde_json::json!([9])),
        ],
        "{released:?}"
    );
    assert!(released
        .iter()
        .all(|e| e["data"]["reason"] == "lapsed" && e["data"]["scheduleId"] == 1));
    // User 2's hold is live: not released, and a third seats.held.
    assert_eq!(events_of(&app, "seats.held", 3).await.len(), 3);
}
