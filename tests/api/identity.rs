//! Identities no one can borrow: with a key configured, every request that
//! names a user must carry an `X-Identity` proof of being that user; without
//! one, the seeds' trust-the-header behaviour stays available. Also the per-IP
//! limits on polls and balance reads, and when `X-Forwarded-For` is believed.

use crate::helpers::{assert_error, json_of, spawn_app_with, Call, TestApp};
use boxoffice::store::seed::user_uuid;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;

const SECRET: &str = "auth-service-shared-secret";

/// A test key pair (Ed25519), made for these tests with `openssl genpkey`.
const ED_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJE6826ro8Y+szSbb70XUi8n760XQtrBJ93LYQsgIyR5
-----END PRIVATE KEY-----
";
const ED_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEASa98wyvWEstLPG5U/CvKNeZ5jGdgF/h04vmvghgI+l0=
-----END PUBLIC KEY-----
";

fn in_an_hour() -> u64 {
    jsonwebtoken::get_current_timestamp() + 3600
}

fn proof_for(sub: &str) -> String {
    let claims = json!({ "sub": sub, "exp": in_an_hour() });
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

async fn signed_app() -> TestApp {
    spawn_app_with(|config| config.identity.key = Some(SECRET.into())).await
}

fn join_as(app: &TestApp, user: i64, proof: Option<&str>) -> Call {
    match proof {
        Some(proof) => app.join(user).header("X-Identity", proof),
        None => app.join(user),
    }
}

#[tokio::test]
async fn with_a_key_set_the_api_refuses_a_user_id_without_its_proof() {
    let app = signed_app().await;
    assert_error(join_as(&app, 501, None).await, 401, "IDENTITY_MISSING").await;
    let someone_else = proof_for("502");
    assert_error(join_as(&app, 501, Some(&someone_else)).await, 401, "IDENTITY_MISMATCH").await;
    let expired = encode(
        &Header::default(),
        &json!({ "sub": "501", "exp": jsonwebtoken::get_current_timestamp() - 120 }),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_error(join_as(&app, 501, Some(&expired)).await, 401, "IDENTITY_EXPIRED").await;
    let forged = encode(
        &Header::default(),
        &json!({ "sub": "501", "exp": in_an_hour() }),
        &EncodingKey::from_secret(b"a guess"),
    )
    .unwrap();
    assert_error(join_as(&app, 501, Some(&forged)).await, 401, "IDENTITY_INVALID").await;

    // The reproduction: user 502 takes user 501's place, holds and pays with 501's money.
    let own = proof_for("501");
    let joined = json_of(join_as(&app, 501, Some(&own)).await).await;
    let token = joined["token"].as_str().unwrap().to_string();
    app.admit_everyone(&app.default_queue()).await;
    let charge = |proof: &str| app.charge(501, 10000).header("X-Identity", proof).send();
    assert_error(charge(&someone_else).await.unwrap(), 401, "IDENTITY_MISMATCH").await;
    assert_eq!(charge(&own).await.unwrap().status(), 200);
    let hold = |proof: &str| {
        app.reserve(&token, 1, 1, 501, &[1, 2])
            .header("X-Identity", proof.to_string())
            .send()
    };
    assert_error(hold(&someone_else).await.unwrap(), 401, "IDENTITY_MISMATCH").await;
    assert_eq!(hold(&own).await.unwrap().status(), 200);
    let pay = |proof: &str| {
        app.pay(&token, 1, 1, 501)
            .header("X-Identity", proof.to_string())
            .send()
    };
    assert_error(pay(&someone_else).await.unwrap(), 401, "IDENTITY_MISMATCH").await;
    let balance = |proof: &str| app.balance(501).header("X-Identity", proof).send();
    assert_error(balance(&someone_else).await.unwrap(), 401, "IDENTITY_MISMATCH").await;
    assert_eq!(
        json_of(balance(&own).await.unwrap()).await["amount"],
        10_000,
        "nothing was spent"
    );
    assert_eq!(pay(&own).await.unwrap().status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn with_a_key_set_api_v1_refuses_another_users_uuid() {
    let app = signed_app().await;
    let uuid = user_uuid(501).to_string();
    let join = |proof: Option<String>| {
        let request = app.v1_join("hero-autumn", &uuid);
        match proof {
            Some(proof) => request.header("X-Identity", proof),
            None => request,
        }
        .send()
    };
    assert_error(join(None).await.unwrap(), 401, "IDENTITY_MISSING").await;
    assert_error(
        join(Some(proof_for(&user_uuid(502).to_string()))).await.unwrap(),
        401,
        "IDENTITY_MISMATCH",
    )
    .await;
    // The proof may name the user by UUID or by id.
    assert_eq!(join(Some(proof_for(&uuid))).await.unwrap().status(), 200);
    assert_eq!(join(Some(proof_for("501"))).await.unwrap().status(), 200);

    let balance = |proof: String| app.v1_balance(&uuid).header("X-Identity", proof).send();
    assert_error(balance(proof_for("502")).await.unwrap(), 401, "IDENTITY_MISMATCH").await;
    assert_eq!(balance(proof_for(&uuid)).await.unwrap().status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn an_eddsa_public_key_verifies_proofs_signed_by_the_auth_service() {
    let key_file = std::env::temp_dir().join(format!("bo-identity-{}.pem", rand::random::<u32>()));
    std::fs::write(&key_file, ED_PUBLIC).unwrap();
    let path = key_file.to_string_lossy().to_string();
    let app = spawn_app_with(|config| config.identity.public_key_file = Some(path)).await;
    let sign = |sub: &str| {
        encode(
            &Header::new(Algorithm::EdDSA),
            &json!({ "sub": sub, "exp": in_an_hour() }),
            &EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    assert_eq!(join_as(&app, 7, Some(&sign("7"))).await.status(), 200);
    assert_error(join_as(&app, 7, Some(&sign("8"))).await, 401, "IDENTITY_MISMATCH").await;
    // An HS256 proof is not accepted where the service expects EdDSA.
    assert_error(join_as(&app, 7, Some(&proof_for("7"))).await, 401, "IDENTITY_INVALID").await;
    app.stop().await;
    let _ = std::fs::remove_file(key_file);
}

#[tokio::test]
async fn without_a_key_the_seed_behaviour_stays() {
    let app = spawn_app_with(|_| {}).await;
    assert_eq!(join_as(&app, 501, None).await.status(), 200);
    app.stop().await;
}

/// Issue 23: each of these was answered 200 (or, for the bytes, IDENTITY_MISSING).
#[tokio::test]
async fn proofs_not_in_force_too_long_lived_with_critical_extensions_or_non_ascii_are_invalid() {
    let app = signed_app().await;
    let now = jsonwebtoken::get_current_timestamp();
    let sign = |header: Header, claims: serde_json::Value| {
        encode(&header, &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
    };
    let not_yet = sign(
        Header::default(),
        json!({ "sub": "501", "exp": now + 7200, "nbf": now + 3600 }),
    );
    let for_ever = sign(Header::default(), json!({ "sub": "501", "exp": 1u64 << 63 }));
    let critical = Header {
        crit: Some(vec!["x-policy".into()]),
        ..Header::default()
    };
    let critical = sign(critical, json!({ "sub": "501", "exp": in_an_hour() }));
    let mut non_ascii = proof_for("501").into_bytes();
    non_ascii.push(0xE9);
    let non_ascii = reqwest::header::HeaderValue::from_bytes(&non_ascii).unwrap();
    for (what, proof) in [
        (
            "nbf an hour ahead",
            reqwest::header::HeaderValue::from_str(&not_yet).unwrap(),
        ),
        ("exp 2^63", reqwest::header::HeaderValue::from_str(&for_ever).unwrap()),
        ("crit", reqwest::header::HeaderValue::from_str(&critical).unwrap()),
        ("a byte outside ASCII", non_ascii),
    ] {
        let response = app.join(501).header("X-Identity", proof).await;
        let status = response.status();
        let body = json_of(response).await;
        assert_eq!(
            (status.as_u16(), body["code"].as_str()),
            (401, Some("IDENTITY_INVALID")),
            "{what}: {body}"
        );
    }
    // An auth service that always names an audience: accepted while none is configured.
    let with_aud = sign(
        Header::default(),
        json!({ "sub": "501", "exp": in_an_hour(), "aud": "ticketing" }),
    );
    assert_eq!(join_as(&app, 501, Some(&with_aud)).await.status(), 200);
    app.stop().await;

    let app = spawn_app_with(|config| {
        config.identity.key = Some(SECRET.into());
        config.identity.audience = Some("boxoffice".into());
    })
    .await;
    let for_us = sign(
        Header::default(),
        json!({ "sub": "501", "exp": in_an_hour(), "aud": ["boxoffice", "shop"] }),
    );
    assert_eq!(join_as(&app, 501, Some(&for_us)).await.status(), 200);
    for proof in [&with_aud, &proof_for("501")] {
        assert_error(join_as(&app, 501, Some(proof)).await, 401, "IDENTITY_INVALID").await;
    }
    app.stop().await;
}

#[tokio::test]
async fn polls_and_balance_reads_are_limited_per_client_ip() {
    let app = spawn_app_with(|config| {
        config.limits.poll_rate_limit = 3;
        config.limits.read_rate_limit = 2;
    })
    .await;
    app.join(1).await;
    let mut limited = None;
    for _ in 0..10 {
        let response = app.position(1).await;
        if response.status() == 429 {
            limited = Some(response);
            break;
        }
    }
    let limited = limited.expect("a burst of polls from one IP is limited");
    assert!(limited.headers().contains_key("retry-after"));
    assert_error(limited, 429, "RATE_LIMITED").await;

    let read = || app.balance(2).send();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(read().await.unwrap().status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    app.stop().await;
}

#[tokio::test]
async fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
    let limited_app = |trusted: Vec<String>| {
        spawn_app_with(move |config| {
            config.limits.poll_rate_limit = 2;
            config.limits.trusted_proxies = trusted;
        })
    };
    let poll_from = |app: &TestApp, client: &str| app.position(1).header("X-Forwarded-For", client).send();
    // Behind a trusted proxy, each forwarded client has a budget of its own.
    let app = limited_app(vec!["127.0.0.1".into()]).await;
    app.join(1).await;
    for n in 0..12 {
        let response = poll_from(&app, &format!("203.0.113.{n}")).await.unwrap();
        assert_eq!(response.status(), 200, "client {n}");
    }
    app.stop().await;
    // Otherwise the header is ignored: one peer, one budget, whatever it claims.
    let app = limited_app(vec![]).await;
    app.join(1).await;
    let mut statuses = Vec::new();
    for n in 0..12 {
        statuses.push(
            poll_from(&app, &format!("203.0.113.{n}"))
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    app.stop().await;
}
