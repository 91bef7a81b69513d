use super::*;
use jsonwebtoken::{encode, get_current_timestamp, EncodingKey, Header};
use serde_json::json;

const SECRET: &str = "s3cret";

fn config() -> IdentityConfig {
    IdentityConfig {
        mode: None,
        key: Some(SECRET.into()),
        public_key_file: None,
        issuer: None,
        jwks_url: None,
        jwks_refresh_s: 300,
        audience: None,
        max_lifetime_s: 86_400,
    }
}

fn signed() -> IdentityVerifier {
    IdentityVerifier::from_config(&config()).unwrap()
}

fn signed_with(header: Header, secret: &str, claims: serde_json::Value) -> String {
    encode(&header, &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn proof(claims: serde_json::Value) -> String {
    signed_with(Header::default(), SECRET, claims)
}

async fn check(verifier: &IdentityVerifier, proof: &str) -> Result<Caller, IdentityError> {
    verifier.caller(Some(proof.as_bytes())).await
}

fn in_an_hour() -> u64 {
    get_current_timestamp() + 3600
}

const USER_42: Result<Caller, IdentityError> = Ok(Caller::Proven(Subject::Id(42)));

#[tokio::test]
async fn a_proof_names_its_user_by_id_or_uuid() {
    let verifier = signed();
    let by_id = proof(json!({ "sub": "42", "exp": in_an_hour() }));
    assert_eq!(check(&verifier, &by_id).await, USER_42);
    let uuid = Uuid::new_v4();
    let by_uuid = proof(json!({ "sub": uuid.to_string(), "exp": in_an_hour() }));
    assert_eq!(
        check(&verifier, &by_uuid).await,
        Ok(Caller::Proven(Subject::Uuid(uuid)))
    );
    let caller = check(&verifier, &by_id).await.unwrap();
    assert_eq!(caller.may_act_as(42, || None), Ok(42));
    assert_eq!(caller.may_act_as(43, || None), Err(IdentityError::Mismatch));
    let by_uuid = check(&verifier, &by_uuid).await.unwrap();
    assert_eq!(by_uuid.may_act_as(42, || Some(uuid)), Ok(42));
    assert_eq!(
        by_uuid.may_act_as(42, || Some(Uuid::new_v4())),
        Err(IdentityError::Mismatch)
    );
}

#[tokio::test]
async fn missing_expired_forged_or_incomplete_proofs_are_refused() {
    let verifier = signed();
    assert_eq!(verifier.caller(None).await, Err(IdentityError::Missing));
    assert_eq!(check(&verifier, "  ").await, Err(IdentityError::Missing));
    let old = proof(json!({ "sub": "42", "exp": get_current_timestamp() - 60 }));
    assert_eq!(check(&verifier, &old).await, Err(IdentityError::Expired));
    let forged = signed_with(Header::default(), "guess", json!({ "sub": "42", "exp": in_an_hour() }));
    assert_eq!(check(&verifier, &forged).await, Err(IdentityError::Invalid));
    let no_exp = proof(json!({ "sub": "42" }));
    assert_eq!(check(&verifier, &no_exp).await, Err(IdentityError::Invalid));
    let padded = proof(json!({ "sub": "042", "exp": in_an_hour() }));
    assert_eq!(check(&verifier, &padded).await, Err(IdentityError::Invalid));
    assert_eq!(check(&verifier, "not.a.jwt").await, Err(IdentityError::Invalid));
}

#[tokio::test]
async fn a_proof_not_yet_in_force_is_refused() {
    let verifier = signed();
    let now = get_current_timestamp();
    let later = proof(json!({ "sub": "42", "exp": now + 7200, "nbf": now + 3600 }));
    assert_eq!(check(&verifier, &later).await, Err(IdentityError::Invalid));
    // Within the clock skew tolerated, and already in force: accepted.
    let skewed = proof(json!({ "sub": "42", "exp": now + 7200, "nbf": now + 2 }));
    assert_eq!(check(&verifier, &skewed).await, USER_42);
    let started = proof(json!({ "sub": "42", "exp": now + 7200, "nbf": now - 60 }));
    assert_eq!(check(&verifier, &started).await, USER_42);
}

#[tokio::test]
async fn a_critical_header_extension_is_refused() {
    let verifier = signed();
    let claims = json!({ "sub": "42", "exp": in_an_hour() });
    let header = Header {
        crit: Some(vec!["exp-policy".into()]),
        ..Header::default()
    };
    assert_eq!(
        check(&verifier, &signed_with(header, SECRET, claims.clone())).await,
        Err(IdentityError::Invalid)
    );
    // An empty list is not allowed either (RFC 7515, 4.1.11).
    let empty = Header {
        crit: Some(Vec::new()),
        ..Header::default()
    };
    assert_eq!(
        check(&verifier, &signed_with(empty, SECRET, claims.clone())).await,
        Err(IdentityError::Invalid)
    );
    // Headers this service does not need but understands are fine.
    let with_kid = Header {
        kid: Some("key-2026".into()),
        ..Header::default()
    };
    assert_eq!(check(&verifier, &signed_with(with_kid, SECRET, claims)).await, USER_42);
}

#[tokio::test]
async fn a_proof_may_live_no_longer_than_the_longest_lifetime() {
    let verifier = IdentityVerifier::from_config(&IdentityConfig {
        max_lifetime_s: 3600,
        ..config()
    })
    .unwrap();
    let now = get_current_timestamp();
    let for_ever = proof(json!({ "sub": "42", "exp": 1u64 << 63 }));
    assert_eq!(check(&verifier, &for_ever).await, Err(IdentityError::Invalid));
    let two_hours = proof(json!({ "sub": "42", "exp": now + 7200 }));
    assert_eq!(check(&verifier, &two_hours).await, Err(IdentityError::Invalid));
    let one_hour = proof(json!({ "sub": "42", "exp": now + 3600 }));
    assert_eq!(check(&verifier, &one_hour).await, USER_42);
    // Issued two hours before it ends: too long a life, though it ends within the hour.
    let issued_long_ago = proof(json!({ "sub": "42", "exp": now + 600, "iat": now - 6600 }));
    assert_eq!(check(&verifier, &issued_long_ago).await, Err(IdentityError::Invalid));
    let issued_recently = proof(json!({ "sub": "42", "exp": now + 600, "iat": now as f64 - 60.5 }));
    assert_eq!(check(&verifier, &issued_recently).await, USER_42);
    // The default allows a day.
    let a_week = proof(json!({ "sub": "42", "exp": now + 7 * 86_400 }));
    assert_eq!(check(&signed(), &a_week).await, Err(IdentityError::Invalid));
    assert_eq!(check(&signed(), &two_hours).await, USER_42);
}

#[tokio::test]
async fn an_audience_is_ignored_unless_configured_and_then_required() {
    let for_us = proof(json!({ "sub": "42", "exp": in_an_hour(), "aud": "boxoffice" }));
    let for_many = proof(json!({ "sub": "42", "exp": in_an_hour(), "aud": ["billing", "boxoffice"] }));
    let for_others = proof(json!({ "sub": "42", "exp": in_an_hour(), "aud": "billing" }));
    let for_anyone = proof(json!({ "sub": "42", "exp": in_an_hour() }));
    let unset = signed();
    for any in [&for_us, &for_many, &for_others, &for_anyone] {
        assert_eq!(
            check(&unset, any).await,
            USER_42,
            "no audience configured: aud not checked"
        );
    }
    let ours = IdentityVerifier::from_config(&IdentityConfig {
        audience: Some("boxoffice".into()),
        ..config()
    })
    .unwrap();
    assert_eq!(check(&ours, &for_us).await, USER_42);
    assert_eq!(check(&ours, &for_many).await, USER_42);
    assert_eq!(check(&ours, &for_others).await, Err(IdentityError::Invalid));
    assert_eq!(check(&ours, &for_anyone).await, Err(IdentityError::Invalid));
}

#[tokio::test]
async fn with_an_issuer_configured_iss_must_be_it() {
    let verifier = IdentityVerifier::from_config(&IdentityConfig {
        issuer: Some("https://auth.example/realms/boxoffice".into()),
        ..config()
    })
    .unwrap();
    let ours = proof(json!({ "sub": "42", "exp": in_an_hour(), "iss": "https://auth.example/realms/boxoffice" }));
    assert_eq!(check(&verifier, &ours).await, USER_42);
    let slashed = proof(json!({ "sub": "42", "exp": in_an_hour(), "iss": "https://auth.example/realms/boxoffice/" }));
    assert_eq!(check(&verifier, &slashed).await, Err(IdentityError::Invalid));
    let none = proof(json!({ "sub": "42", "exp": in_an_hour() }));
    assert_eq!(check(&verifier, &none).await, Err(IdentityError::Invalid));
    // Without one, `iss` is not looked at.
    assert_eq!(check(&signed(), &slashed).await, USER_42);
}

#[test]
fn a_jwks_url_beside_a_configured_key_is_refused_at_start() {
    let both = IdentityConfig {
        jwks_url: Some("https://auth.example/jwks.json".into()),
        ..config()
    };
    let err = IdentityVerifier::from_config(&both).unwrap_err().to_string();
    assert!(err.contains("set only one"), "{err}");
    let not_a_url = IdentityConfig {
        key: None,
        issuer: Some("auth.example".into()),
        ..config()
    };
    assert!(IdentityVerifier::from_config(&not_a_url).is_err());
}

#[tokio::test]
async fn a_proof_with_bytes_outside_ascii_is_invalid_not_missing() {
    let verifier = signed();
    let good = proof(json!({ "sub": "42", "exp": in_an_hour() }));
    let mut latin1 = good.clone().into_bytes();
    latin1.push(0xE9);
    assert_eq!(verifier.caller(Some(&latin1)).await, Err(IdentityError::Invalid));
    let utf8 = format!("{good}é");
    assert_eq!(check(&verifier, &utf8).await, Err(IdentityError::Invalid));
    assert_eq!(verifier.caller(Some(b"\xff\xfe")).await, Err(IdentityError::Invalid));
}

#[tokio::test]
async fn trusted_header_mode_believes_the_request() {
    let config = IdentityConfig {
        mode: Some(IdentityMode::TrustedHeader),
        key: None,
        ..config()
    };
    let verifier = IdentityVerifier::from_config(&config).unwrap();
    assert_eq!(verifier.caller(None).await, Ok(Caller::Trusted));
    assert_eq!(Caller::Trusted.may_act_as(7, || None), Ok(7));
}
