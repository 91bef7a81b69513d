//! Identity from an OIDC provider: proofs signed with the keys it publishes
//! (RS256, ES256, EdDSA), found through its discovery document or at a JWKS
//! URL, chosen by `kid`; a rotation followed; a provider that fails, hangs or
//! stops costing nothing but proofs signed by keys never seen (`401`, fast);
//! and a flood of made-up `kid`s costing the provider a fetch or two.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::helpers::provider::{Answer, Provider, TestKey};
use crate::helpers::{assert_error, eventually, spawn_app_with, TestApp};

const AUDIENCE: &str = "boxoffice";
const USER: i64 = 501;
/// The longest a refused proof may take: the app waits 2 s at most for a
/// fetch its unknown `kid` started; beyond this, it hangs.
const NO_HANG: Duration = Duration::from_secs(6);

fn claims(provider: &Provider) -> Value {
    json!({
        "sub": USER.to_string(),
        "exp": jsonwebtoken::get_current_timestamp() + 600,
        "iss": provider.issuer,
        "aud": AUDIENCE,
    })
}

/// An app believing `provider` (through discovery unless `by_jwks_url`),
/// fetching its keys again every `refresh_s`.
async fn app_of(provider: &Provider, by_jwks_url: bool, refresh_s: u64) -> TestApp {
    let (issuer, jwks_url) = (provider.issuer.clone(), provider.jwks_url.clone());
    spawn_app_with(move |config| {
        config.identity.issuer = Some(issuer);
        config.identity.jwks_url = by_jwks_url.then_some(jwks_url);
        config.identity.audience = Some(AUDIENCE.into());
        config.identity.jwks_refresh_s = refresh_s;
    })
    .await
}

/// The status of a balance read of [`USER`] with `proof`, and how long it took.
async fn read_with(app: &TestApp, proof: &str) -> (u16, Duration) {
    let started = Instant::now();
    let response = app
        .balance(USER)
        .header("X-Identity", proof)
        .send()
        .await
        .expect("an answer");
    (response.status().as_u16(), started.elapsed())
}

async fn status_with(app: &TestApp, proof: &str) -> u16 {
    read_with(app, proof).await.0
}

/// Asserts `proof` is refused as invalid, and without a hang.
async fn refused(app: &TestApp, proof: &str) {
    let started = Instant::now();
    let response = app
        .balance(USER)
        .header("X-Identity", proof)
        .send()
        .await
        .expect("an answer");
    assert!(
        started.elapsed() < NO_HANG,
        "refused only after {:?}",
        started.elapsed()
    );
    assert_error(response, 401, "IDENTITY_INVALID").await;
}

#[tokio::test]
async fn proofs_signed_with_each_kind_of_published_key_are_believed_through_discovery() {
    let (rsa, ec, ed) = (TestKey::rsa(), TestKey::p256(), TestKey::ed25519());
    let provider = Provider::start(&[&rsa, &ec, &ed]).await;
    let app = app_of(&provider, false, 300).await;
    for key in [&rsa, &ec, &ed] {
        assert_eq!(
            status_with(&app, &key.sign(&claims(&provider))).await,
            200,
            "{}",
            key.kid
        );
    }
    let claimed = |field: &str, value: Value| {
        let mut claims = claims(&provider);
        claims[field] = value;
        ed.sign(&claims)
    };
    refused(&app, &claimed("iss", json!("http://127.0.0.1:1/realms/other"))).await;
    refused(&app, &claimed("iss", json!(format!("{}/", provider.issuer)))).await;
    refused(&app, &claimed("aud", json!("billing"))).await;
    let mut no_issuer = claims(&provider);
    no_issuer.as_object_mut().unwrap().remove("iss");
    refused(&app, &ed.sign(&no_issuer)).await;
    // A key's algorithm is the key's: a proof naming the RSA key but signed
    // (and labelled) EdDSA, or HS256 with the RSA key's published half as the
    // shared secret (the classic confusion), is refused.
    refused(&app, &ed.sign_as(&rsa.kid, &claims(&provider))).await;
    let published = rsa.jwk().to_string();
    let confused = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some(rsa.kid.clone()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &claims(&provider),
        &jsonwebtoken::EncodingKey::from_secret(published.as_bytes()),
    )
    .unwrap();
    refused(&app, &confused).await;
    // Another user's proof is still another user's.
    let mut other = claims(&provider);
    other["sub"] = json!("502");
    let response = app
        .balance(USER)
        .header("X-Identity", ec.sign(&other))
        .send()
        .await
        .unwrap();
    assert_error(response, 401, "IDENTITY_MISMATCH").await;
    app.stop().await;
}

#[tokio::test]
async fn a_rotated_in_key_is_believed_at_first_use_and_a_withdrawn_one_refused_after_a_refresh() {
    let (old, new) = (TestKey::ed25519(), TestKey::ed25519_next());
    let provider = Provider::start(&[&old]).await;
    let app = app_of(&provider, true, 300).await;
    assert_eq!(status_with(&app, &old.sign(&claims(&provider))).await, 200);
    // The provider publishes the next key, then signs with it. A `kid` not
    // held is fetched at once, unless a fetch started within the last 5 s:
    // this waits those out, then the first proof with it is believed.
    provider.publish(&[&old, &new]);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let fetches = provider.fetches();
    assert_eq!(status_with(&app, &new.sign(&claims(&provider))).await, 200);
    assert_eq!(provider.fetches(), fetches + 1, "fetched for the new kid");
    assert_eq!(status_with(&app, &old.sign(&claims(&provider))).await, 200);
    app.stop().await;

    // The old key withdrawn: refused once the keys are fetched again.
    let app = app_of(&provider, true, 1).await;
    assert_eq!(status_with(&app, &old.sign(&claims(&provider))).await, 200);
    provider.publish(&[&new]);
    let old_proof = old.sign(&claims(&provider));
    eventually(Duration::from_secs(10), "the withdrawn key refused", || async {
        (status_with(&app, &old_proof).await == 401).then_some(())
    })
    .await;
    refused(&app, &old_proof).await;
    assert_eq!(status_with(&app, &new.sign(&claims(&provider))).await, 200);
    app.stop().await;
}

#[tokio::test]
async fn with_the_provider_failing_hanging_or_gone_the_held_keys_serve_and_unknown_ones_are_refused_fast() {
    let (held, unseen) = (TestKey::p256(), TestKey::ed25519_next());
    let mut provider = Provider::start(&[&held]).await;
    // Down at start: the service starts all the same, refusing proofs...
    provider.answer(Answer::Fail);
    let app = app_of(&provider, false, 1).await;
    let proof = held.sign(&claims(&provider));
    refused(&app, &proof).await;
    // ...until the provider is back and its keys are fetched.
    provider.answer(Answer::Serve);
    eventually(
        Duration::from_secs(15),
        "keys fetched once the provider is back",
        || async { (status_with(&app, &proof).await == 200).then_some(()) },
    )
    .await;

    for (answer, what) in [(Answer::Fail, "503"), (Answer::Hang, "no answer")] {
        provider.answer(answer);
        let before = provider.fetches();
        eventually(Duration::from_secs(15), format!("a refresh met {what}"), || async {
            (provider.fetches() > before + 1).then_some(())
        })
        .await;
        let (status, took) = read_with(&app, &proof).await;
        assert_eq!(status, 200, "the held key serves through {what}");
        assert!(took < NO_HANG, "took {took:?} through {what}");
        refused(&app, &unseen.sign(&claims(&provider))).await;
    }

    // Gone altogether (connections refused), then back with a new key. The
    // pause lets a refresh or two (one a second) meet the refusal.
    provider.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        status_with(&app, &proof).await,
        200,
        "the held key serves while it is gone"
    );
    refused(&app, &unseen.sign(&claims(&provider))).await;
    provider.publish(&[&held, &unseen]);
    provider.restart().await;
    let unseen_proof = unseen.sign(&claims(&provider));
    eventually(
        Duration::from_secs(15),
        "the new key fetched once it is back",
        || async { (status_with(&app, &unseen_proof).await == 200).then_some(()) },
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_flood_of_made_up_kids_costs_the_provider_a_fetch_or_two() {
    let key = TestKey::ed25519();
    let provider = Provider::start(&[&key]).await;
    let app = app_of(&provider, true, 300).await;
    assert_eq!(status_with(&app, &key.sign(&claims(&provider))).await, 200);
    let (before, started) = (provider.fetches(), Instant::now());
    let statuses: Vec<u16> = stream::iter(0..200)
        .map(|_| {
            let kid = format!("forged-{:016x}", rand::random::<u64>());
            let proof = key.sign_as(&kid, &claims(&provider));
            let app = &app;
            async move { read_with(app, &proof).await }
        })
        .buffer_unordered(20)
        .map(|(status, took)| {
            assert!(took < NO_HANG, "a forged kid refused only after {took:?}");
            status
        })
        .collect()
        .await;
    assert!(statuses.iter().all(|status| *status == 401), "{statuses:?}");
    // One fetch at most every 5 s: one or two, unless a loaded machine makes
    // the flood last longer.
    let (fetched, took) = (provider.fetches() - before, started.elapsed());
    let allowed = 1 + took.as_secs() as usize / 5;
    assert!(fetched <= allowed, "200 forged kids in {took:?} cost {fetched} fetches");
    assert_eq!(status_with(&app, &key.sign(&claims(&provider))).await, 200);
    app.stop().await;
}
