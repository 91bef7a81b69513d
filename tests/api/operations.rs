//! The open reads behind the `/ops` and `/waiting-room` pages, and the pages
//! themselves: figures without anyone's identity, and files only from `web/`.

use std::time::Duration;

use crate::helpers::{assert_error, eventually, json_of, spawn_app_with, Call, ADMIN};
use serde_json::Value;

/// The JSON of a read that must answer 200.
async fn read(call: Call) -> Value {
    let response = call.await;
    let url = response.url().clone();
    assert_eq!(response.status(), 200, "{url}");
    json_of(response).await
}

fn default_queue_of(queues: &Value) -> &Value {
    queues
        .as_array()
        .unwrap()
        .iter()
        .find(|queue| queue["name"] == "default")
        .expect("the default queue")
}

#[tokio::test]
async fn the_open_reads_show_every_figure_and_nobodys_identity() {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    let token = app.active_token(7).await;
    app.charge(7, 10_000).await;
    assert_eq!(app.reserve(&token, 1, 1, 7, &[3, 4]).await.status(), 200);

    // Seat 3 and 4 are held: the open map says so, and not by whom.
    let open_map = read(app.ops_seat_map(1)).await;
    let seat3 = &open_map["seats"][2];
    assert_eq!(
        (seat3["seatNumber"].as_i64(), seat3["state"].as_str()),
        (Some(3), Some("held"))
    );
    assert!(
        seat3.get("heldBy").is_none() && seat3.get("heldUntil").is_none(),
        "{seat3}"
    );
    assert_eq!(open_map["held"], 2);
    let admin_map = json_of(app.admin_seat_map(1).await).await;
    assert_eq!(admin_map["seats"][2]["heldBy"], 7, "the admin map names the holder");

    assert_eq!(app.pay(&token, 1, 1, 7).await.status(), 200);
    let sales = read(app.ops_sales()).await;
    let concert = &sales[0];
    let schedule = &concert["schedules"][0];
    assert_eq!(
        (concert["concertId"].as_i64(), schedule["scheduleId"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (schedule["sold"].as_i64(), schedule["held"].as_i64()),
        (Some(2), Some(0))
    );
    assert!(schedule["revenue"].as_i64().unwrap() > 0, "{schedule}");
    assert_eq!(
        schedule["free"].as_i64().unwrap() + 2,
        schedule["seats"].as_i64().unwrap()
    );

    // The hold and the payment were timed into the queue's booking figures
    // (reported to Redis twice a second).
    let booking = eventually(Duration::from_secs(5), "two booking samples", || async {
        let queues = read(app.ops_queues()).await;
        let booking = default_queue_of(&queues)["booking"].clone();
        (booking["samples"].as_u64() >= Some(2)).then_some(booking)
    })
    .await;
    assert_eq!(booking["samples"], 2, "{booking}");
    assert_eq!(booking["errors"], 0);
    assert!(booking["p99Ms"].as_u64().unwrap() >= 1, "{booking}");
    let queues = read(app.ops_queues()).await;
    let default = default_queue_of(&queues);
    assert_eq!(default["admitted"], 1);
    assert_eq!(default["admitRateInUse"], default["settings"]["admitRate"]);
    app.stop().await;
}

#[tokio::test]
async fn a_fan_finds_every_concert_and_the_settings_that_pace_the_page() {
    let app = spawn_app_with(|config| config.queue.idle_timeout_s = 240).await;
    let concerts = read(app.v1_concerts()).await;
    let codes: Vec<&str> = concerts
        .as_array()
        .unwrap()
        .iter()
        .map(|concert| concert["concertCode"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 3, "{concerts}");
    assert!(codes.contains(&"hero-autumn"));
    let first_date = &concerts[0]["schedules"][0];
    assert!(first_date["concertDateId"].is_i64() && first_date["scheduleAt"].is_string());

    let config = read(app.waiting_room_config()).await;
    assert_eq!(config["idleTimeoutSeconds"], 240);
    assert_eq!(config["maxSeatsPerUser"], app.config.booking.max_seats_per_user);
    app.stop().await;
}

#[tokio::test]
async fn pages_and_assets_come_only_from_the_embedded_folder() {
    let app = spawn_app_with(|_| {}).await;
    for page in ["/ops", "/waiting-room"] {
        let response = app.get(page).await;
        assert_eq!(response.status(), 200, "{page}");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/html; charset=utf-8"
        );
        let etag = response.headers()["etag"].clone();
        assert!(response.text().await.unwrap().contains("<html"), "{page}");
        let again = app.get(page).header("If-None-Match", etag).await;
        assert_eq!(again.status(), 304, "{page} unchanged is not sent again");
    }
    let script = app.get("/assets/ops.js").await;
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    // An encoded slash reaches the handler as `../src/main.rs`: refused.
    for missing in [
        "/assets/nothing.js",
        "/assets/..%2fsrc%2fmain.rs",
        "/assets/%2fetc%2fpasswd",
    ] {
        let response = app.get(missing).await;
        assert_error(response, 404, "ASSET_NOT_FOUND").await;
    }
    // A plain `..` is resolved by the client before it is sent: nothing outside either.
    let response = app.get("/assets/../Cargo.toml").await;
    assert_eq!(response.status(), 404);
    app.stop().await;
}

/// Issue 29: the frontends' package is served from its own folder, the same
/// bytes `npm pack` ships, and nothing beside it.
#[tokio::test]
async fn the_frontends_package_is_served_from_its_own_source() {
    let app = spawn_app_with(|_| {}).await;
    for file in ["index.js", "element.js", "waiting-room.js", "http.js"] {
        let response = app.get(&format!("/assets/client/{file}")).await;
        assert_eq!(response.status(), 200, "{file}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
        let source = std::fs::read_to_string(format!("{}/clients/js/src/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert_eq!(response.text().await.unwrap(), source, "{file} as in clients/js/src");
    }
    for outside in [
        "/assets/client/..%2fpackage.json",
        "/assets/client/nothing.js",
        "/assets/client/",
    ] {
        let response = app.get(outside).await;
        assert_error(response, 404, "ASSET_NOT_FOUND").await;
    }
    app.stop().await;
}

/// Issue 23: `/ops` loaded inside another site's frame, and `/openapi.json`
/// went without `nosniff`. (tests/browser/headers.mjs checks what a browser does with them.)
#[tokio::test]
async fn pages_may_not_be_framed_and_no_answer_may_be_sniffed() {
    let app = spawn_app_with(|_| {}).await;
    for page in [
        "/",
        "/ops",
        "/waiting-room",
        "/docs",
        "/assets/ops.js",
        "/waiting-room/config.json",
    ] {
        let response = app.get(page).await;
        let headers = response.headers();
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("default-src 'self'"), "{page}: {policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{page}: {policy}");
        assert!(!policy.contains("unsafe-inline"), "{page}: {policy}");
        assert_eq!(headers["x-frame-options"], "DENY", "{page}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{page}");
    }
    for answer in ["/openapi.json", "/ops/queues", "/metrics", "/health", "/no/such/route"] {
        let response = app.get(answer).await;
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{answer}");
    }
    let refused = app.call(reqwest::Method::DELETE, "/api/waiting-queue").await;
    assert_eq!(refused.headers()["x-content-type-options"], "nosniff");
    // No inline script left for the policy to refuse.
    let docs = app.get("/docs").await.text().await.unwrap();
    assert!(!docs.contains("<script>") && !docs.contains("<style>"), "{docs}");
    app.stop().await;
}

/// `GET /` answered 404: a visitor who typed the address found nothing.
#[tokio::test]
async fn the_front_door_points_at_the_waiting_room_the_ops_page_and_the_docs() {
    let app = spawn_app_with(|_| {}).await;
    let page = app.home().await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    for link in ["/waiting-room", "/ops", "/docs"] {
        assert!(html.contains(&format!("href=\"{link}\"")), "{link} in {html}");
    }
    let links = read(app.home().header("accept", "application/json")).await;
    assert_eq!(links["waitingRoom"], "/waiting-room");
    assert_eq!(links["ops"], "/ops");
    assert_eq!(links["docs"], "/docs");
    assert_eq!(links["openapi"], "/openapi.json");
    for link in ["waitingRoom", "ops", "docs", "openapi"] {
        let path = links[link].as_str().unwrap();
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
    // A browser's Accept names JSON too, after HTML: it gets the page.
    let browser = app
        .home()
        .header(
            "accept",
            "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8",
        )
        .await;
    assert!(browser.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    app.stop().await;
}
