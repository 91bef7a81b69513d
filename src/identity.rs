//! Who is asking. The queue and booking APIs name their user (a `user-id`
//! header, a `userId` or `UUID` in the body or path); this decides whether to
//! believe the name.
//!
//! - `trusted-header`: believe it. Right behind an authenticating gateway that
//!   sets the name itself; anywhere else anyone can act as anyone, so start-up
//!   warns loudly.
//! - `signed` (the default once a key is configured): each request naming a
//!   user carries a JWT from the upstream auth service in `X-Identity`, with an
//!   `exp` and a `sub` holding the user's id (decimal) or UUID, which must be
//!   the user the request names. HS256 with a shared secret, or RS256/EdDSA
//!   with the auth service's public key.

use std::fmt;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use uuid::Uuid;

use crate::config::{IdentityConfig, IdentityMode};

/// Seconds of clock difference tolerated on `exp`.
const LEEWAY_S: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum IdentityError {
    #[error("this request names a user, so it needs an X-Identity proof")]
    Missing,
    #[error("the X-Identity proof is not valid")]
    Invalid,
    #[error("the X-Identity proof has expired")]
    Expired,
    #[error("the X-Identity proof is for another user")]
    Mismatch,
}

/// The user a verified proof names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    Id(i64),
    Uuid(Uuid),
}

/// What a request proved about its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// Trusted-header mode: the request's own naming is believed.
    Trusted,
    Proven(Subject),
}

impl Caller {
    /// The named user, provided the caller may act as them. `uuid_of` gives
    /// the named user's UUID, asked only for a proof whose subject is a UUID.
    pub(crate) fn may_act_as(
        &self,
        user_id: i64,
        uuid_of: impl FnOnce() -> Option<Uuid>,
    ) -> Result<i64, IdentityError> {
        match self {
            Caller::Trusted => Ok(user_id),
            Caller::Proven(Subject::Id(id)) if *id == user_id => Ok(user_id),
            Caller::Proven(Subject::Uuid(proven)) if Some(*proven) == uuid_of() => Ok(user_id),
            Caller::Proven(_) => Err(IdentityError::Mismatch),
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

pub(crate) struct IdentityVerifier {
    keys: Option<(DecodingKey, Validation)>,
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
            return Ok(IdentityVerifier { keys: None });
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
        validation.required_spec_claims = ["exp", "sub"].iter().map(|claim| claim.to_string()).collect();
        Ok(IdentityVerifier {
            keys: Some((key, validation)),
        })
    }

    pub(crate) fn requires_proof(&self) -> bool {
        self.keys.is_some()
    }

    /// The caller of a request carrying `proof` (the `X-Identity` header).
    pub(crate) fn caller(&self, proof: Option<&str>) -> Result<Caller, IdentityError> {
        let Some((key, validation)) = &self.keys else {
            return Ok(Caller::Trusted);
        };
        let proof = proof.map(str::trim).filter(|proof| !proof.is_empty());
        let proof = proof.ok_or(IdentityError::Missing)?;
        let proof = proof.strip_prefix("Bearer ").unwrap_or(proof);
        let claims = jsonwebtoken::decode::<Claims>(proof, key, validation).map_err(|err| match err.kind() {
            ErrorKind::ExpiredSignature => IdentityError::Expired,
            _ => IdentityError::Invalid,
        })?;
        let sub = claims.claims.sub;
        let subject = match (sub.parse::<i64>(), Uuid::parse_str(&sub)) {
            (Ok(id), _) if id > 0 && id.to_string() == sub => Subject::Id(id),
            (_, Ok(uuid)) => Subject::Uuid(uuid),
            _ => return Err(IdentityError::Invalid),
        };
        Ok(Caller::Proven(subject))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    fn signed(secret: &str) -> IdentityVerifier {
        let config = IdentityConfig {
            mode: None,
            key: Some(secret.into()),
            public_key_file: None,
        };
        IdentityVerifier::from_config(&config).unwrap()
    }

    fn proof(secret: &str, claims: serde_json::Value) -> String {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn in_an_hour() -> u64 {
        jsonwebtoken::get_current_timestamp() + 3600
    }

    #[test]
    fn a_proof_names_its_user_by_id_or_uuid() {
        let verifier = signed("s3cret");
        let by_id = proof("s3cret", json!({ "sub": "42", "exp": in_an_hour() }));
        assert_eq!(verifier.caller(Some(&by_id)), Ok(Caller::Proven(Subject::Id(42))));
        let uuid = Uuid::new_v4();
        let by_uuid = proof("s3cret", json!({ "sub": uuid.to_string(), "exp": in_an_hour() }));
        assert_eq!(verifier.caller(Some(&by_uuid)), Ok(Caller::Proven(Subject::Uuid(uuid))));
        let caller = verifier.caller(Some(&by_id)).unwrap();
        assert_eq!(caller.may_act_as(42, || None), Ok(42));
        assert_eq!(caller.may_act_as(43, || None), Err(IdentityError::Mismatch));
        let by_uuid = verifier.caller(Some(&by_uuid)).unwrap();
        assert_eq!(by_uuid.may_act_as(42, || Some(uuid)), Ok(42));
        assert_eq!(
            by_uuid.may_act_as(42, || Some(Uuid::new_v4())),
            Err(IdentityError::Mismatch)
        );
    }

    #[test]
    fn missing_expired_forged_or_incomplete_proofs_are_refused() {
        let verifier = signed("s3cret");
        assert_eq!(verifier.caller(None), Err(IdentityError::Missing));
        let old = proof(
            "s3cret",
            json!({ "sub": "42", "exp": jsonwebtoken::get_current_timestamp() - 60 }),
        );
        assert_eq!(verifier.caller(Some(&old)), Err(IdentityError::Expired));
        let forged = proof("guess", json!({ "sub": "42", "exp": in_an_hour() }));
        assert_eq!(verifier.caller(Some(&forged)), Err(IdentityError::Invalid));
        let no_exp = proof("s3cret", json!({ "sub": "42" }));
        assert_eq!(verifier.caller(Some(&no_exp)), Err(IdentityError::Invalid));
        let padded = proof("s3cret", json!({ "sub": "042", "exp": in_an_hour() }));
        assert_eq!(verifier.caller(Some(&padded)), Err(IdentityError::Invalid));
        assert_eq!(verifier.caller(Some("not.a.jwt")), Err(IdentityError::Invalid));
    }

    #[test]
    fn trusted_header_mode_believes_the_request() {
        let config = IdentityConfig {
            mode: Some(IdentityMode::TrustedHeader),
            key: None,
            public_key_file: None,
        };
        let verifier = IdentityVerifier::from_config(&config).unwrap();
        assert_eq!(verifier.caller(None), Ok(Caller::Trusted));
        assert_eq!(Caller::Trusted.may_act_as(7, || None), Ok(7));
    }
}
