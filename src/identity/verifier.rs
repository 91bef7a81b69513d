//! The `X-Identity` proof checked: its signature, and every claim in force.
//!
//! A proof is refused unless every part of it is understood and in force: a
//! `nbf` still ahead, a `crit` header (it names extensions this service does
//! not implement, and RFC 7515 says to reject those), an `exp` further ahead
//! than the longest lifetime allowed (else a leaked proof lives for ever), or
//! an `aud` other than ours when one is configured. Without a configured
//! audience `aud` is not looked at: auth services that always set one work.

use std::fmt;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use uuid::Uuid;

use super::{Caller, IdentityError, Subject};
use crate::config::{IdentityConfig, IdentityMode};

/// Seconds of clock difference tolerated on `exp` and `nbf`.
const LEEWAY_S: u64 = 5;

#[derive(Deserialize)]
struct Claims {
    sub: String,
    /// Checked by jsonwebtoken (required, in force); read again for the lifetime.
    exp: u64,
    /// A NumericDate may have a fraction, so not an integer.
    iat: Option<f64>,
}

pub(crate) struct IdentityVerifier {
    keys: Option<(DecodingKey, Validation)>,
    max_lifetime_s: u64,
}

impl fmt::Debug for IdentityVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityVerifier")
            .field("signed", &self.keys.is_some())
            .finish()
    }
}

impl IdentityVerifier {
    /// The verifier the configuration asks for; an error names what is missing.
    pub(crate) fn from_config(config: &IdentityConfig) -> anyhow::Result<Self> {
        if config.mode() == IdentityMode::TrustedHeader {
            tracing::warn!(
                "!!! BOXOFFICE_IDENTITY=trusted-header: the user-id header, userId and UUID are believed as sent, \
                 so any client can act as any user. Only run this behind a gateway that sets them itself. !!!"
            );
            return Ok(IdentityVerifier {
                keys: None,
                max_lifetime_s: config.max_lifetime_s,
            });
        }
        let (key, algorithm) = match (&config.key, &config.public_key_file) {
            (Some(secret), _) => (DecodingKey::from_secret(secret.as_bytes()), Algorithm::HS256),
            (None, Some(path)) => {
                let pem = std::fs::read(path)
                    .map_err(|err| anyhow::anyhow!("cannot read BOXOFFICE_IDENTITY_PUBLIC_KEY_FILE {path}: {err}"))?;
                match DecodingKey::from_ed_pem(&pem) {
                    Ok(key) => (key, Algorithm::EdDSA),
                    Err(_) => (
                        DecodingKey::from_rsa_pem(&pem)
                            .map_err(|err| anyhow::anyhow!("{path} is neither an Ed25519 nor an RSA public key: {err}"))?,
                        Algorithm::RS256,
                    ),
                }
            }
            (None, None) => anyhow::bail!(
                "BOXOFFICE_IDENTITY=signed needs BOXOFFICE_IDENTITY_KEY (HS256) or BOXOFFICE_IDENTITY_PUBLIC_KEY_FILE (RS256/EdDSA)"
            ),
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_S;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        match &config.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.validate_aud = true;
                required.push("aud");
            }
            // jsonwebtoken refuses any `aud` when it has no audience to compare
            // with; with none configured, `aud` is simply not this service's business.
            None => validation.validate_aud = false,
        }
        validation.required_spec_claims = required.into_iter().map(str::to_string).collect();
        Ok(IdentityVerifier {
            keys: Some((key, validation)),
            max_lifetime_s: config.max_lifetime_s,
        })
    }

    pub(crate) fn requires_proof(&self) -> bool {
        self.keys.is_some()
    }

    /// The caller of a request carrying `proof` (the `X-Identity` header's
    /// bytes). A JWT is ASCII, so any other byte makes the proof invalid, not absent.
    pub(crate) fn caller(&self, proof: Option<&[u8]>) -> Result<Caller, IdentityError> {
        let Some((key, validation)) = &self.keys else {
            return Ok(Caller::Trusted);
        };
        let proof = match proof.map(std::str::from_utf8) {
            Some(Ok(text)) if text.is_ascii() => text,
            Some(_) => return Err(IdentityError::Invalid),
            None => "",
        };
        let proof = Some(proof.trim()).filter(|proof| !proof.is_empty());
        let proof = proof.ok_or(IdentityError::Missing)?;
        let proof = proof.strip_prefix("Bearer ").unwrap_or(proof);
        let decoded = jsonwebtoken::decode::<Claims>(proof, key, validation).map_err(|err| match err.kind() {
            ErrorKind::ExpiredSignature => IdentityError::Expired,
            _ => IdentityError::Invalid,
        })?;
        if decoded.header.crit.is_some() {
            return Err(IdentityError::Invalid);
        }
        let claims = decoded.claims;
        if !self.lifetime_allowed(claims.exp, claims.iat, jsonwebtoken::get_current_timestamp()) {
            return Err(IdentityError::Invalid);
        }
        let sub = claims.sub;
        let subject = match (sub.parse::<i64>(), Uuid::parse_str(&sub)) {
            (Ok(id), _) if id > 0 && id.to_string() == sub => Subject::Id(id),
            (_, Ok(uuid)) => Subject::Uuid(uuid),
            _ => return Err(IdentityError::Invalid),
        };
        Ok(Caller::Proven(subject))
    }

    /// `exp` no further than the longest lifetime from now (with the clock
    /// skew tolerated), nor from `iat` when the proof says when it was issued.
    fn lifetime_allowed(&self, exp: u64, iat: Option<f64>, now: u64) -> bool {
        let ahead_of_now = exp.saturating_sub(now);
        let since_issued = iat.map_or(0.0, |iat| exp as f64 - iat);
        ahead_of_now <= self.max_lifetime_s + LEEWAY_S && since_issued <= self.max_lifetime_s as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, get_current_timestamp, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &str = "s3cret";

    fn config() -> IdentityConfig {
        IdentityConfig {
            mode: None,
            key: Some(SECRET.into()),
            public_key_file: None,
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

    fn check(verifier: &IdentityVerifier, proof: &str) -> Result<Caller, IdentityError> {
        verifier.caller(Some(proof.as_bytes()))
    }

    fn in_an_hour() -> u64 {
        get_current_timestamp() + 3600
    }

    const USER_42: Result<Caller, IdentityError> = Ok(Caller::Proven(Subject::Id(42)));

    #[test]
    fn a_proof_names_its_user_by_id_or_uuid() {
        let verifier = signed();
        let by_id = proof(json!({ "sub": "42", "exp": in_an_hour() }));
        assert_eq!(check(&verifier, &by_id), USER_42);
        let uuid = Uuid::new_v4();
        let by_uuid = proof(json!({ "sub": uuid.to_string(), "exp": in_an_hour() }));
        assert_eq!(check(&verifier, &by_uuid), Ok(Caller::Proven(Subject::Uuid(uuid))));
        let caller = check(&verifier, &by_id).unwrap();
        assert_eq!(caller.may_act_as(42, || None), Ok(42));
        assert_eq!(caller.may_act_as(43, || None), Err(IdentityError::Mismatch));
        let by_uuid = check(&verifier, &by_uuid).unwrap();
        assert_eq!(by_uuid.may_act_as(42, || Some(uuid)), Ok(42));
        assert_eq!(
            by_uuid.may_act_as(42, || Some(Uuid::new_v4())),
            Err(IdentityError::Mismatch)
        );
    }

    #[test]
    fn missing_expired_forged_or_incomplete_proofs_are_refused() {
        let verifier = signed();
        assert_eq!(verifier.caller(None), Err(IdentityError::Missing));
        assert_eq!(check(&verifier, "  "), Err(IdentityError::Missing));
        let old = proof(json!({ "sub": "42", "exp": get_current_timestamp() - 60 }));
        assert_eq!(check(&verifier, &old), Err(IdentityError::Expired));
        let forged = signed_with(Header::default(), "guess", json!({ "sub": "42", "exp": in_an_hour() }));
        assert_eq!(check(&verifier, &forged), Err(IdentityError::Invalid));
        let no_exp = proof(json!({ "sub": "42" }));
        assert_eq!(check(&verifier, &no_exp), Err(IdentityError::Invalid));
        let padded = proof(json!({ "sub": "042", "exp": in_an_hour() }));
        assert_eq!(check(&verifier, &padded), Err(IdentityError::Invalid));
        assert_eq!(check(&verifier, "not.a.jwt"), Err(IdentityError::Invalid));
    }

    #[test]
    fn a_proof_not_yet_in_force_is_refused() {
        let verifier = signed();
        let now = get_current_timestamp();
        let later = proof(json!({ "sub": "42", "exp": now + 7200, "nbf": now + 3600 }));
        assert_eq!(check(&verifier, &later), Err(IdentityError::Invalid));
        // Within the clock skew tolerated, and already in force: accepted.
        let skewed = proof(json!({ "sub": "42", "exp": now + 7200, "nbf": now + 2 }));
        assert_eq!(check(&verifier, &skewed), USER_42);
        let started = proof(json!({ "sub": "42", "exp": now + 7200, "nbf": now - 60 }));
        assert_eq!(check(&verifier, &started), USER_42);
    }

    #[test]
    fn a_critical_header_extension_is_refused() {
        let verifier = signed();
        let claims = json!({ "sub": "42", "exp": in_an_hour() });
        let header = Header {
            crit: Some(vec!["exp-policy".into()]),
            ..Header::default()
        };
        assert_eq!(
            check(&verifier, &signed_with(header, SECRET, claims.clone())),
            Err(IdentityError::Invalid)
        );
        // An empty list is not allowed either (RFC 7515, 4.1.11).
        let empty = Header {
            crit: Some(Vec::new()),
            ..Header::default()
        };
        assert_eq!(
            check(&verifier, &signed_with(empty, SECRET, claims.clone())),
            Err(IdentityError::Invalid)
        );
        // Headers this service does not need but understands are fine.
        let with_kid = Header {
            kid: Some("key-2026".into()),
            ..Header::default()
        };
        assert_eq!(check(&verifier, &signed_with(with_kid, SECRET, claims)), USER_42);
    }

    #[test]
    fn a_proof_may_live_no_longer_than_the_longest_lifetime() {
        let verifier = IdentityVerifier::from_config(&IdentityConfig {
            max_lifetime_s: 3600,
            ..config()
        })
        .unwrap();
        let now = get_current_timestamp();
        let for_ever = proof(json!({ "sub": "42", "exp": 1u64 << 63 }));
        assert_eq!(check(&verifier, &for_ever), Err(IdentityError::Invalid));
        let two_hours = proof(json!({ "sub": "42", "exp": now + 7200 }));
        assert_eq!(check(&verifier, &two_hours), Err(IdentityError::Invalid));
        let one_hour = proof(json!({ "sub": "42", "exp": now + 3600 }));
        assert_eq!(check(&verifier, &one_hour), USER_42);
        // Issued two hours before it ends: too long a life, though it ends within the hour.
        let issued_long_ago = proof(json!({ "sub": "42", "exp": now + 600, "iat": now - 6600 }));
        assert_eq!(check(&verifier, &issued_long_ago), Err(IdentityError::Invalid));
        let issued_recently = proof(json!({ "sub": "42", "exp": now + 600, "iat": now as f64 - 60.5 }));
        assert_eq!(check(&verifier, &issued_recently), USER_42);
        // The default allows a day.
        let a_week = proof(json!({ "sub": "42", "exp": now + 7 * 86_400 }));
        assert_eq!(check(&signed(), &a_week), Err(IdentityError::Invalid));
        assert_eq!(check(&signed(), &two_hours), USER_42);
    }

    #[test]
    fn an_audience_is_ignored_unless_configured_and_then_required() {
        let for_us = proof(json!({ "sub": "42", "exp": in_an_hour(), "aud": "boxoffice" }));
        let for_many = proof(json!({ "sub": "42", "exp": in_an_hour(), "aud": ["billing", "boxoffice"] }));
        let for_others = proof(json!({ "sub": "42", "exp": in_an_hour(), "aud": "billing" }));
        let for_anyone = proof(json!({ "sub": "42", "exp": in_an_hour() }));
        let unset = signed();
        for any in [&for_us, &for_many, &for_others, &for_anyone] {
            assert_eq!(check(&unset, any), USER_42, "no audience configured: aud not checked");
        }
        let ours = IdentityVerifier::from_config(&IdentityConfig {
            audience: Some("boxoffice".into()),
            ..config()
        })
        .unwrap();
        assert_eq!(check(&ours, &for_us), USER_42);
        assert_eq!(check(&ours, &for_many), USER_42);
        assert_eq!(check(&ours, &for_others), Err(IdentityError::Invalid));
        assert_eq!(check(&ours, &for_anyone), Err(IdentityError::Invalid));
    }

    #[test]
    fn a_proof_with_bytes_outside_ascii_is_invalid_not_missing() {
        let verifier = signed();
        let good = proof(json!({ "sub": "42", "exp": in_an_hour() }));
        let mut latin1 = good.clone().into_bytes();
        latin1.push(0xE9);
        assert_eq!(verifier.caller(Some(&latin1)), Err(IdentityError::Invalid));
        let utf8 = format!("{good}é");
        assert_eq!(check(&verifier, &utf8), Err(IdentityError::Invalid));
        assert_eq!(verifier.caller(Some(b"\xff\xfe")), Err(IdentityError::Invalid));
    }

    #[test]
    fn trusted_header_mode_believes_the_request() {
        let config = IdentityConfig {
            mode: Some(IdentityMode::TrustedHeader),
            key: None,
            ..config()
        };
        let verifier = IdentityVerifier::from_config(&config).unwrap();
        assert_eq!(verifier.caller(None), Ok(Caller::Trusted));
        assert_eq!(Caller::Trusted.may_act_as(7, || None), Ok(7));
    }
}
