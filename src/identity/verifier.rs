//! The `X-Identity` proof checked: its signature, and every claim in force.
//!
//! A proof is refused unless every part of it is understood and in force: a
//! `nbf` still ahead, a `crit` header (it names extensions this service does
//! not implement, and RFC 7515 says to reject those), an `exp` further ahead
//! than the longest lifetime allowed (else a leaked proof lives for ever), an
//! `iss` other than the configured issuer, or an `aud` other than ours when
//! one is configured. Without a configured audience `aud` is not looked at:
//! auth services that always set one work.
//!
//! The key is one configured (a shared secret, a public key file) or one of
//! an OIDC provider's, chosen by the proof's `kid` (`provider.rs`). Either
//! way the key decides the algorithm; the proof's header only has to agree.

use std::fmt;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use uuid::Uuid;

use super::provider::ProviderKeys;
use super::{Caller, IdentityError, Subject};
use crate::config::{IdentityConfig, IdentityMode};

#[cfg(test)]
mod tests;

/// Seconds of clock difference tolerated on `exp` and `nbf`.
const LEEWAY_S: u64 = 5;

/// The algorithms a provider's keys may verify (see `jwks::algorithm_of`).
const PROVIDER_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

#[derive(Deserialize)]
struct Claims {
    sub: String,
    /// Checked by jsonwebtoken (required, in force); read again for the lifetime.
    exp: u64,
    /// A NumericDate may have a fraction, so not an integer.
    iat: Option<f64>,
}

enum Keys {
    /// Trusted-header mode: no proof is looked at.
    None,
    Configured(DecodingKey, Algorithm),
    Provider(ProviderKeys),
}

pub(crate) struct IdentityVerifier {
    keys: Keys,
    /// The checks for each algorithm a key may verify: a proof is checked
    /// with those of its key's algorithm.
    validations: Vec<Validation>,
    max_lifetime_s: u64,
}

impl fmt::Debug for IdentityVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityVerifier")
            .field("signed", &self.requires_proof())
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
                keys: Keys::None,
                validations: Vec::new(),
                max_lifetime_s: config.max_lifetime_s,
            });
        }
        let keys = configured_keys(config)?;
        let algorithms = match &keys {
            Keys::Configured(_, algorithm) => vec![*algorithm],
            _ => PROVIDER_ALGORITHMS.to_vec(),
        };
        Ok(IdentityVerifier {
            keys,
            validations: algorithms.into_iter().map(|alg| validation(config, alg)).collect(),
            max_lifetime_s: config.max_lifetime_s,
        })
    }

    pub(crate) fn requires_proof(&self) -> bool {
        !matches!(self.keys, Keys::None)
    }

    /// Fetches the provider's keys again when that is due (a chore asks every
    /// second); returns at once.
    pub(crate) fn refresh_keys_if_due(&self) {
        if let Keys::Provider(provider) = &self.keys {
            provider.refresh_if_due();
        }
    }

    /// The caller of a request carrying `proof` (the `X-Identity` header's
    /// bytes). A JWT is ASCII, so any other byte makes the proof invalid, not absent.
    pub(crate) async fn caller(&self, proof: Option<&[u8]>) -> Result<Caller, IdentityError> {
        if !self.requires_proof() {
            return Ok(Caller::Trusted);
        }
        let proof = match proof.map(std::str::from_utf8) {
            Some(Ok(text)) if text.is_ascii() => text,
            Some(_) => return Err(IdentityError::Invalid),
            None => "",
        };
        let proof = Some(proof.trim()).filter(|proof| !proof.is_empty());
        let proof = proof.ok_or(IdentityError::Missing)?;
        let proof = proof.strip_prefix("Bearer ").unwrap_or(proof);
        let held;
        let (key, algorithm) = match &self.keys {
            Keys::None => return Ok(Caller::Trusted),
            Keys::Configured(key, algorithm) => (key, *algorithm),
            Keys::Provider(provider) => {
                let header = jsonwebtoken::decode_header(proof).map_err(|_| IdentityError::Invalid)?;
                held = provider
                    .key_for(header.kid.as_deref())
                    .await
                    .ok_or(IdentityError::UnknownKey)?;
                (&held.key, held.algorithm)
            }
        };
        let validation = self
            .validations
            .iter()
            .find(|validation| validation.algorithms == [algorithm])
            .ok_or(IdentityError::Invalid)?;
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

/// The key source configured: a shared secret, a public key file, or a
/// provider's JWKS (as given, or found through the issuer). Only one.
fn configured_keys(config: &IdentityConfig) -> anyhow::Result<Keys> {
    if config.jwks_url.is_some() && (config.key.is_some() || config.public_key_file.is_some()) {
        anyhow::bail!(
            "BOXOFFICE_IDENTITY_JWKS_URL and BOXOFFICE_IDENTITY_KEY or BOXOFFICE_IDENTITY_PUBLIC_KEY_FILE are set: \
             proofs are verified with the keys of one source, so set only one"
        );
    }
    Ok(match (&config.key, &config.public_key_file) {
        (Some(secret), _) => Keys::Configured(DecodingKey::from_secret(secret.as_bytes()), Algorithm::HS256),
        (None, Some(path)) => {
            let pem = std::fs::read(path)
                .map_err(|err| anyhow::anyhow!("cannot read BOXOFFICE_IDENTITY_PUBLIC_KEY_FILE {path}: {err}"))?;
            match DecodingKey::from_ed_pem(&pem) {
                Ok(key) => Keys::Configured(key, Algorithm::EdDSA),
                Err(_) => Keys::Configured(
                    DecodingKey::from_rsa_pem(&pem)
                        .map_err(|err| anyhow::anyhow!("{path} is neither an Ed25519 nor an RSA public key: {err}"))?,
                    Algorithm::RS256,
                ),
            }
        }
        (None, None) => match ProviderKeys::from_config(config)? {
            Some(provider) => Keys::Provider(provider),
            None => anyhow::bail!(
                "BOXOFFICE_IDENTITY=signed needs BOXOFFICE_IDENTITY_KEY (HS256), BOXOFFICE_IDENTITY_PUBLIC_KEY_FILE \
                 (RS256/EdDSA), or an OIDC provider's BOXOFFICE_IDENTITY_ISSUER or BOXOFFICE_IDENTITY_JWKS_URL"
            ),
        },
    })
}

/// The checks of a proof verified with a key of `algorithm`.
fn validation(config: &IdentityConfig, algorithm: Algorithm) -> Validation {
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
    if let Some(issuer) = &config.issuer {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    validation.required_spec_claims = required.into_iter().map(str::to_string).collect();
    validation
}
