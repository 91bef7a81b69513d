//! Start-up, demo data, readiness and the shape of bad-input answers.

use std::time::{Duration, Instant};

use crate::helpers::{assert_error, json_of, spawn_app, spawn_app_with, spawn_configured, test_config};
use boxoffice::store::seed;

#[tokio::test]
async fn startup_on_an_empty_database_creates_schema_and_demo_data() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let counts: (i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM concerts), (SELECT count(*) FROM concert_schedules),
                (SELECT count(*) FROM seats), (SELECT count(*) FROM users), (SELECT count(*) FROM balances)",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(counts, (3, 7, 350, 1000, 1000));

    let hero: (String, String) = sqlx::query_as("SELECT code, name FROM concerts WHERE id = 1")
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(hero, ("hero-autumn".to_string(), "임영웅가을콘서트".to_string()));
    let codes: Vec<String> = sqlx::query_scalar("SELECT code FROM concerts ORDER BY id")
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(codes, ["hero-autumn", "iu-winter", "bts-spring"]);
    let hero_seats: (i64, i64, i32, i32) = sqlx::query_as(
        "SELECT count(*), min(price), min(seat_number), max(seat_number)
         FROM seats s JOIN concert_schedules c ON c.id = s.schedule_id WHERE c.concert_id = 1",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(hero_seats, (150, 2000, 1, 50));
    let future: bool = sqlx::query_scalar("SELECT bool_and(starts_at > now()) FROM concert_schedules")
        .fetch_one(db)
        .await
        .unwrap();
    assert!(future, "demo schedules are in the future");
    app.stop().await;
}

#[tokio::test]
async fn a_second_start_duplicates_nothing() {
    let first = spawn_app().await;
    let config = first.config.clone();
    first.stop().await;
    let second = spawn_configured(config).await;
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM concerts), (SELECT count(*) FROM seats), (SELECT count(*) FROM users)",
    )
    .fetch_one(&second.state.db)
    .await
    .unwrap();
    assert_eq!(counts, (3, 350, 1000));
    second.stop().await;
}

#[tokio::test]
async fn demo_user_seven_has_the_name_based_uuid() {
    let app = spawn_app().await;
    let uuid: uuid::Uuid = sqlx::query_scalar("SELECT uuid FROM users WHERE id = 7")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    // Python: uuid.uuid5(uuid.NAMESPACE_OID, "boxoffice-user-7")
    assert_eq!(uuid.to_string(), "890cd9f4-4be2-56a3-a116-49b160d80fa5");
    assert_eq!(
        uuid,
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, b"boxoffice-user-7")
    );
    app.stop().await;
}

#[tokio::test]
async fn seeding_users_continues_the_ids_with_the_same_uuid_rule() {
    let app = spawn_app().await;
    let added = seed::add_users(&app.state.db, 2500).await.unwrap();
    assert_eq!(added, 1001..=3500);
    let (count, uuid): (i64, uuid::Uuid) =
        sqlx::query_as("SELECT (SELECT count(*) FROM users), (SELECT uuid FROM users WHERE id = 3500)")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!((count, uuid), (3500, seed::user_uuid(3500)));
    // The directory picks them up, so they can join at once after a refresh.
    app.state.users.refresh(&app.state.db).await.unwrap();
    assert_eq!(app.join(3500).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn health_and_ready_answer_when_both_stores_are_up() {
    let app = spawn_app().await;
    let health = app.health().await;
    assert_eq!(health.status(), 200);
    let ready = app.ready().await;
    assert_eq!(ready.status(), 200);
    assert_eq!(json_of(ready).await["checks"]["redis"], "up");
    app.stop().await;
}

#[tokio::test]
async fn ready_names_redis_quickly_when_it_is_down() {
    // A port nothing listens on: bind one, then free it.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = test_config();
    config.redis_url = format!("redis://127.0.0.1:{closed_port}");
    config.redis_cluster.clear();
    let app = spawn_configured(config).await;

    let started = Instant::now();
    let response = app.ready().await;
    let elapsed = started.elapsed();
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..]),
        "a 503 says when to look again"
    );
    let body = assert_error(response, 503, "DEPENDENCY_UNAVAILABLE").await;
    assert_eq!(body["down"], serde_json::json!(["redis"]));
    assert_eq!(body["checks"]["postgres"], "up");
    assert!(elapsed < Duration::from_secs(3), "answered in {elapsed:?}");

    // A queue call fails the same way: a fast 503, not a hang or a 500.
    assert_error(app.join(1).await, 503, "DEPENDENCY_UNAVAILABLE").await;
    app.stop().await;
}

#[tokio::test]
async fn malformed_input_gets_a_json_400_with_a_code() {
    let app = spawn_app().await;
    let client = &app.client;

    let missing = client.post(app.url("/api/waiting-queue/")).send().await.unwrap();
    assert_error(missing, 400, "MISSING_USER_ID").await;
    for bad in ["abc", "-3", "0", "1.5", "99999999999999999999999"] {
        let response = client
            .post(app.url("/api/waiting-queue/"))
            .header("user-id", bad)
            .send()
            .await
            .unwrap();
        assert_error(response, 400, "INVALID_USER_ID").await;
    }

    let path = client
        .get(app.url("/api/concerts/abc/schedules/"))
        .send()
        .await
        .unwrap();
    assert_error(path, 400, "INVALID_PATH").await;

    let token = app.active_token(1).await;
    let broken = app
        .reserve(&token, 1, 1, 1, &[1])
        .body("{\"userId\": 1, \"seats\": [1,")
        .send()
        .await
        .unwrap();
    assert_error(broken, 400, "INVALID_JSON").await;
    let wrong_type = client
        .post(app.url("/api/concerts/1/schedules/1/seats/reservation"))
        .header("Token", &token)
        .body(r#"{"userId": "one", "seats": [1]}"#)
        .send()
        .await
        .unwrap();
    assert_error(wrong_type, 400, "INVALID_JSON").await;
    let empty = client
        .post(app.url("/api/concerts/1/schedules/1/seats/reservation"))
        .header("Token", &token)
        .send()
        .await
        .unwrap();
    assert_error(empty, 400, "MISSING_BODY").await;

    let huge = "1".repeat(64 * 1024);
    let oversized = client
        .patch(app.url("/api/balances/balance/charge"))
        .header("user-id", "1")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_error(oversized, 413, "PAYLOAD_TOO_LARGE").await;

    assert_error(
        client.get(app.url("/no/such/route")).send().await.unwrap(),
        404,
        "ROUTE_NOT_FOUND",
    )
    .await;
    assert_error(
        client.delete(app.url("/api/waiting-queue/")).send().await.unwrap(),
        405,
        "METHOD_NOT_ALLOWED",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app_with(|_| {}).await;
    let id_of = |response: &reqwest::Response| {
        let id = response.headers().get("x-request-id").expect("an x-request-id");
        id.to_str().expect("text").to_string()
    };
    let first = id_of(&app.health().await);
    let second = id_of(&app.position(1).await);
    assert_ne!(first, second, "one id per request");
    let (prefix, _) = first.split_once('-').expect("<process>-<counter>");
    assert!(second.starts_with(prefix), "{first} {second}");
    // Errors carry one too, and an id a proxy set is kept.
    let missing = app.get("/no/such/route").await;
    assert!(id_of(&missing).starts_with(prefix));
    let proxied = app.health().header("x-request-id", "edge-42").await;
    assert_eq!(id_of(&proxied), "edge-42");
    app.stop().await;
}

/// Sends `request` as raw bytes and reads the answer: (status, body as JSON).
async fn raw_exchange(app: &crate::helpers::TestApp, request: Vec<u8>) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    // The server may answer (and close) before reading all of a huge request.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let json = serde_json::from_str(body).unwrap_or_else(|_| panic!("not a JSON body: {text:?}"));
    (status, json)
}

#[tokio::test]
async fn requests_hyper_cannot_parse_still_get_a_json_error() {
    let app = spawn_app().await;
    let huge = format!(
        "GET /health HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let (status, body) = raw_exchange(&app, huge.into_bytes()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (431, Some("HEADERS_TOO_LARGE")),
        "{body}"
    );

    let mut many = String::from("GET /health HTTP/1.1\r\nhost: x\r\n");
    for n in 0..500 {
        many.push_str(&format!("x-h{n}: v\r\n"));
    }
    many.push_str("\r\n");
    let (status, body) = raw_exchange(&app, many.into_bytes()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (431, Some("HEADERS_TOO_LARGE")),
        "{body}"
    );

    let mut raw_path = b"GET /api/\xff\xfe\x01 HTTP/1.1\r\nhost: x\r\n\r\n".to_vec();
    raw_path.extend_from_slice(b"");
    let (status, body) = raw_exchange(&app, raw_path).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("MALFORMED_REQUEST")),
        "{body}"
    );
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    app.stop().await;
}

#[tokio::test]
async fn a_user_id_must_be_written_plainly_and_once() {
    let app = spawn_app().await;
    let zeros = format!("{}1", "0".repeat(4000));
    // (Spaces around a header value are not part of it in HTTP, RFC 9110 5.5:
    // `user-id:  1 ` is `1`. Spaces inside it are.)
    for bad in ["+1", "1 1", "01", "1_000", zeros.as_str()] {
        let request =
            format!("POST /api/waiting-queue HTTP/1.1\r\nhost: x\r\nconnection: close\r\nuser-id: {bad}\r\ncontent-length: 0\r\n\r\n");
        let (status, body) = raw_exchange(&app, request.into_bytes()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("INVALID_USER_ID")),
            "{bad:?}: {body}"
        );
    }
    let twice = "POST /api/waiting-queue HTTP/1.1\r\nhost: x\r\nconnection: close\r\nuser-id: 1\r\nuser-id: 2\r\ncontent-length: 0\r\n\r\n";
    let (status, body) = raw_exchange(&app, twice.as_bytes().to_vec()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("DUPLICATE_HEADER")),
        "{body}"
    );

    let doubled = app
        .client
        .patch(app.url("/api/balances/balance/charge"))
        .header("user-id", "1")
        .body(r#"{"amount": 1, "amount": 100000}"#)
        .send()
        .await
        .unwrap();
    assert_error(doubled, 400, "DUPLICATE_JSON_KEY").await;
    assert_eq!(app.balance_amount(1).await, 0, "nothing was charged");
    app.stop().await;
}
