//! A queue in front of any site: anonymous visitors wait and are admitted
//! with a pass, the forward-auth check lets a valid pass through and refuses
//! every other with a `PASS_*` code and the room's address, the origin ends a
//! session on every instance within a second, and bad input is a 401, never
//! a 5xx.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::monitor::ClientCommands;
use crate::helpers::own_stores::OwnRedis;
use crate::helpers::{
    assert_error, eventually, json_of, metric_value, pass_key_file, set_cookie, spawn_app_with, spawn_configured,
    test_config, TestApp, ADMIN,
};

const ORIGIN: &str = "https://shop.example";

/// An app whose default queue protects the shop's checkout; the queue and an origin key.
async fn protected_app() -> (TestApp, String, String) {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    let queue = app.default_queue();
    protect(&app, &queue, 600).await;
    let key = json_of(app.admin_new_origin_key(&queue).await).await["key"]
        .as_str()
        .expect("a key")
        .to_string();
    (app, queue, key)
}

async fn protect(app: &TestApp, queue: &str, session_seconds: u64) {
    let protect =
        json!({ "protect": { "origin": ORIGIN, "paths": ["/checkout/*"], "sessionSeconds": session_seconds } });
    let response = app.admin_set_queue(queue, &protect).await;
    assert_eq!(response.status(), 200);
}

/// Joins as a new visitor: the visitor's name and token (from the cookie).
async fn visit(app: &TestApp, queue: &str) -> (String, String) {
    let response = app.gate_join(queue).await;
    assert_eq!(response.status(), 200);
    let cookie = set_cookie(response.headers(), "boxoffice_visitor").expect("the visitor cookie");
    let body = json_of(response).await;
    assert_eq!(body["token"], cookie.as_str(), "the cookie holds the token");
    (body["visitor"].as_str().expect("a visitor").to_string(), cookie)
}

/// Joins, is admitted, and asks for the status: the pass.
async fn admitted_pass(app: &TestApp, queue: &str) -> (String, String) {
    let (visitor, token) = visit(app, queue).await;
    app.admit_everyone(queue).await;
    let status = json_of(app.gate_status(queue, &token).await).await;
    assert_eq!(status["status"], "admitted", "{status}");
    (visitor, status["pass"].as_str().expect("a pass").to_string())
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|value| value.to_str().ok())
}

#[tokio::test]
async fn a_visitor_waits_is_admitted_passes_the_check_and_is_refused_once_the_origin_ends_the_session() {
    let (app, queue, key) = protected_app().await;

    let refused = app.gate_check(&queue, "/checkout/pay?x=1", None).await;
    let location = header(&refused, "location").expect("a Location").to_string();
    assert!(location.contains(&format!("queue={queue}")), "{location}");
    assert!(
        location.contains("return=https%3A%2F%2Fshop.example%2Fcheckout%2Fpay%3Fx%3D1"),
        "{location}"
    );
    let body = assert_error(refused, 401, "PASS_MISSING").await;
    assert_eq!(body["room"], location.as_str(), "apps read the room from the body");
    assert_eq!(body["queue"], queue.as_str());
    let room = app.get(&location).await;
    assert_eq!(room.status(), 200, "the Location is the room's page");
    assert!(room.text().await.unwrap().contains("gate.js"));
    let open = app.gate_check(&queue, "/about", None).await;
    assert_eq!(open.status(), 200, "a path the queue does not guard passes");
    let asset = app.gate_check(&queue, "/checkout/app.css", None).await;
    assert_eq!(asset.status(), 200, "static files pass");

    let (visitor, token) = visit(&app, &queue).await;
    assert!(visitor.starts_with('v'), "{visitor}");
    let again = json_of(app.gate_status(&queue, &token).await).await;
    assert_eq!(
        (again["status"].as_str(), again["position"].as_u64()),
        (Some("waiting"), Some(1))
    );
    assert!(again.get("pass").is_none(), "no pass while waiting");
    let rejoined = app
        .gate_join(&queue)
        .header("cookie", format!("boxoffice_visitor={token}"))
        .await;
    assert_eq!(
        json_of(rejoined).await["visitor"],
        visitor.as_str(),
        "the cookie keeps the place"
    );

    app.admit_everyone(&queue).await;
    let response = app
        .gate_status(&queue, &token)
        .query(&[("return", "/checkout/pay?x=1")])
        .await;
    let cookie = set_cookie(response.headers(), "boxoffice_pass").expect("the pass cookie");
    let status = json_of(response).await;
    assert_eq!(status["status"], "admitted");
    assert_eq!(status["pass"], cookie.as_str());
    assert_eq!(status["returnTo"], "https://shop.example/checkout/pay?x=1");
    let pass = cookie;

    let passed = app.gate_check(&queue, "/checkout/pay", Some(&pass)).await;
    assert_eq!(passed.status(), 200);
    assert_eq!(header(&passed, "x-boxoffice-visitor"), Some(visitor.as_str()));
    assert_eq!(header(&passed, "x-boxoffice-queue"), Some(queue.as_str()));
    assert_eq!(
        header(&passed, "x-boxoffice-pass-expires").and_then(|exp| exp.parse::<u64>().ok()),
        status["passExpires"].as_u64()
    );
    let bearer = app.gate_check(&queue, "/checkout/pay", None).bearer(&pass).await;
    assert_eq!(bearer.status(), 200, "the pass as a bearer token");

    let wrong = app.gate_end(&queue, "bo_origin_guess", &json!({ "pass": pass })).await;
    assert_error(wrong, 401, "ORIGIN_UNAUTHORIZED").await;
    let active_before = json_of(app.admin_queue(&queue).await).await["active"].as_u64();
    let ended = app.gate_end(&queue, &key, &json!({ "pass": pass })).await;
    assert_eq!(ended.status(), 204);
    assert_error(
        app.gate_check(&queue, "/checkout/pay", Some(&pass)).await,
        401,
        "PASS_REVOKED",
    )
    .await;
    let active_after = json_of(app.admin_queue(&queue).await).await["active"].as_u64();
    assert_eq!(
        (active_before, active_after),
        (Some(1), Some(0)),
        "the slot is free at once"
    );
    let over = json_of(app.gate_status(&queue, &token).await).await;
    assert_eq!(over["status"], "expired", "{over}");

    // The pass's life as events: issued once for the admission (however
    // often the status was asked), then ended by the origin.
    let jti = pass_claims(&pass)["jti"].clone();
    let issued = pass_events(&app, "pass.issued", 1).await;
    let ended = pass_events(&app, "pass.ended", 1).await;
    assert_eq!(issued.len(), 1, "{issued:?}");
    assert_eq!(
        (&issued[0]["data"]["jti"], &issued[0]["data"]["renewed"]),
        (&jti, &json!(false))
    );
    assert_eq!(ended[0]["data"]["jti"], jti);
    assert_eq!(ended[0]["data"]["visitorId"], issued[0]["data"]["visitorId"]);
    assert!(ended
        .iter()
        .chain(&issued)
        .all(|event| event["queue"] == queue.as_str()));
    app.stop().await;
}

/// A pass's claims, unverified.
fn pass_claims(pass: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(pass.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

/// The events of `kind` once there are `count`.
async fn pass_events(app: &TestApp, kind: &str, count: usize) -> Vec<Value> {
    eventually(Duration::from_secs(5), format!("{count} {kind}"), || async {
        let page = json_of(app.admin_events(&[("types", kind)]).await).await;
        page["events"]
            .as_array()
            .filter(|events| events.len() >= count)
            .cloned()
    })
    .await
}

#[tokio::test]
async fn the_published_keys_verify_a_pass_with_a_plain_jwt_library() {
    let (app, queue, _) = protected_app().await;
    let (visitor, pass) = admitted_pass(&app, &queue).await;
    let jwks = json_of(app.jwks().await).await;
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["use"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("sig"))
    );
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).expect("a JWKS");
    let kid = jsonwebtoken::decode_header(&pass).unwrap().kid.expect("a kid");
    let decoding = jsonwebtoken::DecodingKey::from_jwk(set.find(&kid).expect("the pass's key")).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&[ORIGIN]);
    validation.set_issuer(&["boxoffice"]);
    let claims = jsonwebtoken::decode::<Value>(&pass, &decoding, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], visitor.as_str());
    assert_eq!(claims["queue"], queue.as_str());
    for claim in ["iat", "exp", "jti"] {
        assert!(!claims[claim].is_null(), "{claim} in {claims}");
    }
    app.stop().await;
}

#[tokio::test]
async fn leaving_frees_the_place_and_those_behind_move_up() {
    let (app, queue, _) = protected_app().await;
    let (_, first) = visit(&app, &queue).await;
    let (_, second) = visit(&app, &queue).await;
    assert_eq!(json_of(app.gate_status(&queue, &second).await).await["position"], 2);
    let left = app.gate_leave(&queue, &first).await;
    assert_eq!(left.status(), 204);
    assert_eq!(set_cookie(left.headers(), "boxoffice_visitor").as_deref(), Some(""));
    assert_eq!(json_of(app.gate_status(&queue, &second).await).await["position"], 1);
    assert_eq!(
        json_of(app.gate_status(&queue, &first).await).await["status"],
        "expired"
    );
    // The departure is an event of the queue, drained from its stream.
    let left = eventually(Duration::from_secs(5), "queue.left", || async {
        let page = json_of(app.admin_events(&[("types", "queue.left")]).await).await;
        page["events"].as_array().filter(|events| !events.is_empty()).cloned()
    })
    .await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["queue"], queue.as_str());
    assert!(
        left[0]["data"]["visitorId"]
            .as_str()
            .is_some_and(|id| id.starts_with('v')),
        "{left:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_queue_that_protects_no_site_answers_queue_not_protected() {
    let app = spawn_app_with(|config| config.admin_token = Some(ADMIN.into())).await;
    let queue = app.default_queue();
    assert_error(app.gate_check(&queue, "/", None).await, 404, "QUEUE_NOT_PROTECTED").await;
    assert_error(app.gate_join("no-such-queue").await, 404, "QUEUE_NOT_PROTECTED").await;
    protect(&app, &queue, 600).await;
    assert_eq!(app.gate_join(&queue).await.status(), 200);
    app.admin_set_queue(&queue, &json!({ "protect": null })).await;
    assert_error(app.gate_join(&queue).await, 404, "QUEUE_NOT_PROTECTED").await;
    app.stop().await;
}

#[tokio::test]
async fn passes_of_another_queue_tampered_forged_or_expired_are_refused_with_their_code() {
    let (app, queue, _) = protected_app().await;
    protect(&app, "hero-autumn", 2).await;
    let (_, pass) = admitted_pass(&app, &queue).await;
    let (_, other) = admitted_pass(&app, "hero-autumn").await;
    let check = |pass: String| {
        let (app, queue) = (&app, &queue);
        async move { app.gate_check(queue, "/checkout/pay", Some(&pass)).await }
    };
    assert_error(check(other.clone()).await, 401, "PASS_OTHER_QUEUE").await;

    let parts: Vec<&str> = pass.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["exp"] = json!(claims["exp"].as_u64().unwrap() + 86_400);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let jwks = json_of(app.jwks().await).await;
    let public = URL_SAFE_NO_PAD.decode(jwks["keys"][0]["x"].as_str().unwrap()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = jwks["keys"][0]["kid"].as_str().map(str::to_string);
    let confused = jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(&public)).unwrap();
    for forged in [
        tampered,
        none,
        confused,
        "garbage".into(),
        "a.b.c".into(),
        "x.".repeat(1000),
    ] {
        assert_error(check(forged).await, 401, "PASS_INVALID").await;
    }

    // The other queue's passes last two seconds: this test is about time passing.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let expired = app.gate_check("hero-autumn", "/checkout/pay", Some(&other)).await;
    assert_error(expired, 401, "PASS_EXPIRED").await;
    app.stop().await;
}

#[tokio::test]
async fn bad_input_at_the_check_is_a_401_never_a_5xx() {
    let (app, queue, _) = protected_app().await;
    let many: String = (0..300).map(|n| format!("c{n}=v{n}; ")).collect();
    let huge = format!("boxoffice_pass={}", "A".repeat(8_000));
    let cases = [
        ("cookie", many),
        ("cookie", huge),
        ("cookie", "boxoffice_pass=".to_string()),
        ("cookie", format!("boxoffice_pass={}", "é".repeat(100))),
        ("cookie", "boxoffice_pass=...;boxoffice_pass=x".to_string()),
        ("authorization", "Bearer".to_string()),
        ("authorization", "Basic dXNlcjpwYXNz".to_string()),
        ("x-original-uri", "not a path".to_string()),
        ("x-original-uri", "/checkout/x?boxoffice_pass=%%%".to_string()),
    ];
    for (name, value) in cases {
        let response = app
            .gate_check(&queue, "/checkout/pay", None)
            .header(name, value.as_str())
            .await;
        let status = response.status().as_u16();
        assert!(
            status == 401 || status == 200 && name == "x-original-uri",
            "{name}: {status}"
        );
        if status == 401 {
            let body = json_of(response).await;
            assert!(body["code"].as_str().unwrap_or_default().starts_with("PASS_"), "{body}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_flood_of_never_seen_passes_from_one_address_is_throttled_while_a_verified_pass_still_passes() {
    let app = spawn_app_with(|config| {
        config.admin_token = Some(ADMIN.into());
        config.limits.pass_verify_rate_limit = 3;
    })
    .await;
    let queue = app.default_queue();
    protect(&app, &queue, 600).await;
    let (_, pass) = admitted_pass(&app, &queue).await;
    let check = |pass: String| {
        let (app, queue) = (&app, &queue);
        async move { app.gate_check(queue, "/checkout/pay", Some(&pass)).await }
    };
    assert_eq!(
        check(pass.clone()).await.status(),
        200,
        "verified once, within the budget"
    );

    let mut codes = Vec::new();
    for n in 0..10 {
        let body = json_of(check(format!("made.up.{n}")).await).await;
        codes.push(body["code"].as_str().unwrap_or_default().to_string());
    }
    let throttled = codes.iter().filter(|code| *code == "PASS_THROTTLED").count();
    assert!(codes.iter().any(|code| code == "PASS_INVALID"), "{codes:?}");
    assert!(throttled >= 6, "3 a second, one spent on the real pass: {codes:?}");
    assert!(
        codes
            .iter()
            .all(|code| code == "PASS_INVALID" || code == "PASS_THROTTLED"),
        "{codes:?}"
    );
    assert_eq!(
        check(pass).await.status(),
        200,
        "a pass already verified costs no budget"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_pass_ended_through_one_instance_is_refused_by_another_within_a_second() {
    let mut config = test_config();
    config.admin_token = Some(ADMIN.into());
    config.pass.pass_key_files = vec![pass_key_file()];
    let first = spawn_configured(config.clone()).await;
    let second = spawn_configured(config).await;
    let queue = first.default_queue();
    protect(&first, &queue, 600).await;
    let key = json_of(first.admin_new_origin_key(&queue).await).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, pass) = admitted_pass(&first, &queue).await;
    eventually(
        Duration::from_secs(3),
        "the second instance sees the protection",
        || async { (second.gate_check(&queue, "/checkout/pay", Some(&pass)).await.status() == 200).then_some(()) },
    )
    .await;

    let jti: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(pass.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let ended = first.gate_end(&queue, &key, &json!({ "jti": jti["jti"] })).await;
    assert_eq!(ended.status(), 204);
    let started = std::time::Instant::now();
    eventually(
        Duration::from_secs(1),
        "the second instance refuses the pass",
        || async {
            let response = second.gate_check(&queue, "/checkout/pay", Some(&pass)).await;
            (response.status() == 401).then_some(())
        },
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(1));
    let refused = second.gate_check(&queue, "/checkout/pay", Some(&pass)).await;
    assert_error(refused, 401, "PASS_REVOKED").await;
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn the_staffs_network_and_secret_header_pass_without_a_pass_and_are_counted() {
    let (app, queue, _) = protected_app().await;
    let secret = "staff-0123456789abcdef";
    let bypassed = |rule: &str| {
        let series = format!("boxoffice_gate_bypassed_total{{queue=\"{queue}\",rule=\"{rule}\"}}");
        let app = &app;
        async move { metric_value(&app.metrics_text().await, &series).unwrap_or(0.0) }
    };
    let header_rule = json!({ "protect": { "origin": ORIGIN, "paths": ["/*"],
        "bypassHeader": { "name": "X-Staff", "value": secret } } });
    app.admin_set_queue(&queue, &header_rule).await;
    let shown = app.ops_queues().await.text().await.unwrap();
    assert!(!shown.contains(secret), "the open /ops reads never show the secret");
    assert!(shown.contains("X-Staff"));
    let recorded = app.admin_queue_events(&queue).await.text().await.unwrap();
    assert!(recorded.contains("X-Staff"), "the change is recorded: {recorded}");
    assert!(!recorded.contains(secret), "nor does the record of changes: {recorded}");
    let before = bypassed("header").await;
    let staff = app.gate_check(&queue, "/", None).header("x-staff", secret).await;
    assert_eq!(staff.status(), 200);
    assert_eq!(header(&staff, "x-boxoffice-bypass"), Some("header"));
    let guess = app
        .gate_check(&queue, "/", None)
        .header("x-staff", "staff-0123456789abcdeF")
        .await;
    assert_error(guess, 401, "PASS_MISSING").await;
    assert_eq!(bypassed("header").await - before, 1.0);

    // Tests connect from 127.0.0.1.
    let cidr_rule = json!({ "protect": { "origin": ORIGIN, "paths": ["/*"], "bypassCidrs": ["10.0.0.0/8"] } });
    app.admin_set_queue(&queue, &cidr_rule).await;
    assert_error(app.gate_check(&queue, "/", None).await, 401, "PASS_MISSING").await;
    let cidr_rule = json!({ "protect": { "origin": ORIGIN, "paths": ["/*"], "bypassCidrs": ["127.0.0.0/8"] } });
    app.admin_set_queue(&queue, &cidr_rule).await;
    let before = bypassed("cidr").await;
    let monitoring = app.gate_check(&queue, "/", None).await;
    assert_eq!(header(&monitoring, "x-boxoffice-bypass"), Some("cidr"));
    assert_eq!(bypassed("cidr").await - before, 1.0);
    app.stop().await;
}

#[tokio::test]
async fn a_session_slides_the_check_renews_the_pass_and_the_slot_follows_in_the_background() {
    // Sessions of 4 s: a protected queue admits for a session (not the
    // configured 600 s), so renewing a pass must carry the admission's end along.
    let (app, queue, _) = protected_app().await;
    protect(&app, &queue, 4).await;
    let (visitor, pass) = admitted_pass(&app, &queue).await;
    let line_id = -visitor.trim_start_matches('v').parse::<i64>().unwrap();
    let active_until = || async {
        let mut redis = app.state.redis.connection().await.unwrap();
        let score: Option<f64> = redis::cmd("ZSCORE")
            .arg(app.keys().queue(&queue, "active"))
            .arg(line_id)
            .query_async(&mut redis)
            .await
            .unwrap();
        score.unwrap_or(0.0) as u64
    };
    let before = active_until().await;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        before <= now_ms + 4_000,
        "admitted for the session: {before} vs now {now_ms}"
    );
    let fresh = app.gate_check(&queue, "/checkout/pay", Some(&pass)).await;
    assert!(
        set_cookie(fresh.headers(), "boxoffice_pass").is_none(),
        "a fresh pass is not renewed"
    );
    // Half the session passes (whole seconds): that is what is tested.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let checked = app.gate_check(&queue, "/checkout/pay", Some(&pass)).await;
    assert_eq!(checked.status(), 200);
    let renewed = set_cookie(checked.headers(), "boxoffice_pass").expect("a renewed pass");
    let claims = |pass: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(pass.split('.').nth(1).unwrap()).unwrap()).unwrap()
    };
    let (old, new) = (claims(&pass), claims(&renewed));
    assert_eq!(old["jti"], new["jti"], "the same admission");
    assert!(new["exp"].as_u64() > old["exp"].as_u64(), "{old} {new}");
    let renewed_until = new["exp"].as_u64().unwrap() * 1000;
    eventually(Duration::from_secs(3), "the active set follows", || async {
        let until = active_until().await;
        (until == renewed_until && until > before).then_some(())
    })
    .await;
    let again = app.gate_check(&queue, "/checkout/pay", Some(&renewed)).await;
    assert_eq!(header(&again, "x-boxoffice-visitor"), Some(visitor.as_str()));
    // The renewal is a pass.issued of its own, marked so.
    let issued = pass_events(&app, "pass.issued", 2).await;
    let renewals: Vec<&Value> = issued.iter().filter(|event| event["data"]["renewed"] == true).collect();
    assert_eq!(renewals.len(), 1, "{issued:?}");
    assert_eq!(renewals[0]["data"]["exp"], new["exp"]);
    app.stop().await;
}

#[tokio::test]
async fn a_valid_check_sends_redis_nothing() {
    // A Redis of this test's own: the shared one's counters move with every test.
    let redis = OwnRedis::start();
    let mut config = test_config();
    config.redis_url = redis.url();
    config.redis_cluster = Vec::new();
    config.admin_token = Some(ADMIN.into());
    let app = spawn_configured(config).await;
    let queue = app.default_queue();
    protect(&app, &queue, 600).await;
    let (_, pass) = admitted_pass(&app, &queue).await;

    const CHECKS: u64 = 300;
    let started = std::time::Instant::now();
    let watched = ClientCommands::watch(redis.port);
    for _ in 0..CHECKS {
        assert_eq!(app.gate_check(&queue, "/checkout/pay", Some(&pass)).await.status(), 200);
    }
    let commands = watched.stop();
    let sent: u64 = commands.values().sum();
    // The background chores (endings followed four times a second, the
    // settings, the catalog) send a few calls a second whatever the checks,
    // more the longer the checks take on a busy machine: the same window
    // without checks is the yardstick. A new instance's first reconciling
    // passes (tens of set and hash calls, seen on a Cluster run) may fall in
    // either window, hence the allowance of a fifth. One call per check
    // would be 300.
    let idle = ClientCommands::watch(redis.port);
    tokio::time::sleep(started.elapsed()).await;
    let background: u64 = idle.stop().values().sum();
    assert!(
        sent <= 2 * background + CHECKS / 5,
        "{sent} Redis calls during {CHECKS} checks ({commands:?}), {background} in as long without"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_origin_ends_only_its_own_queues_sessions() {
    let (app, queue, key) = protected_app().await;
    protect(&app, "hero-autumn", 600).await;
    let (_, theirs) = admitted_pass(&app, "hero-autumn").await;
    let named = app.gate_end(&queue, &key, &json!({ "pass": theirs })).await;
    assert_error(named, 401, "PASS_OTHER_QUEUE").await;
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(theirs.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let by_jti = app.gate_end(&queue, &key, &json!({ "jti": claims["jti"] })).await;
    assert_eq!(by_jti.status(), 204, "nothing of this queue's to end");
    let still = app.gate_check("hero-autumn", "/checkout/pay", Some(&theirs)).await;
    assert_eq!(still.status(), 200, "another queue's session goes on");
    app.stop().await;
}
