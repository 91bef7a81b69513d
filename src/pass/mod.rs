//! The admission pass: what a visitor admitted to a protected site carries,
//! and what any origin, API gateway or CDN worker can verify offline with the
//! published keys.
//!
//! A pass is a JWT signed with Ed25519 (`alg` `EdDSA`, a `kid`) carrying
//! `iss`, `aud` (the protected origin), `sub` (the visitor or user), `queue`,
//! `iat`, `exp` and `jti`. Checking one ([`Passes::check`]) needs no store:
//! the signature (remembered once verified, `cache.rs`), the expiry, the
//! queue and origin, and the in-memory revocation list (`revocation.rs`).
//!
//! - `keys.rs`: the keys (newest signs, all verify) and the JWKS entries;
//! - `cache.rs`: passes already verified, by hash;
//! - `revocation.rs`: ended passes, followed from Redis by every instance.

mod cache;
mod keys;
pub(crate) mod revocation;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::PassConfig;
use crate::events::{self, EventType};
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use cache::VerifiedCache;
pub(crate) use keys::{PassKeys, PublicJwk};
use revocation::{RevocationLog, Revoked};

/// Longer strings are not passes: refused before any parsing.
const LONGEST_PASS: usize = 4096;

/// What a pass says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PassClaims {
    pub(crate) iss: String,
    /// The protected origin, `https://shop.example`.
    pub(crate) aud: String,
    /// The visitor (`v…`) or user the pass admits.
    pub(crate) sub: String,
    pub(crate) queue: String,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    pub(crate) jti: String,
}

/// Why a pass is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PassError {
    #[error("the pass is not one this service signed")]
    Invalid,
    #[error("the pass has expired")]
    Expired,
    #[error("the pass was ended")]
    Revoked,
    #[error("the pass is for another queue or site")]
    OtherQueue,
    /// A pass not yet verified here, from an address over its verification rate.
    #[error("too many passes never seen before from this address; try again shortly")]
    Throttled,
}

/// The admission a pass is for: who, and which of their places in line (a
/// join's issue second and nonce). Every pass of one admission carries the
/// same `jti`, so that ending it ends them all, and the `jti` names the place
/// whose slot an ending frees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Admission {
    pub(crate) sub: String,
    pub(crate) issued_s: i64,
    pub(crate) nonce: u32,
}

impl Admission {
    /// `<sub>.<issued_s>.<nonce>`.
    pub(crate) fn jti(&self) -> String {
        format!("{}.{}.{}", self.sub, self.issued_s, self.nonce)
    }

    /// The admission a `jti` names.
    pub(crate) fn of_jti(jti: &str) -> Option<Self> {
        let mut parts = jti.rsplitn(3, '.');
        let nonce = parts.next()?.parse().ok()?;
        let issued_s = parts.next()?.parse().ok()?;
        let sub = parts.next()?;
        (!sub.is_empty() && sub.len() <= 64).then(|| Admission {
            sub: sub.to_string(),
            issued_s,
            nonce,
        })
    }
}

/// A pass just signed.
#[derive(Debug, Clone)]
pub(crate) struct IssuedPass {
    pub(crate) token: String,
    pub(crate) claims: PassClaims,
}

/// Issues, checks and ends passes. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Passes {
    inner: Arc<Inner>,
}

struct Inner {
    /// For the queues' event streams (`pass.issued`, `pass.ended`).
    redis: Redis,
    redis_keys: Keys,
    /// Admissions whose first pass this instance has announced.
    announced: Mutex<HashSet<String>>,
    keys: PassKeys,
    issuer: String,
    validation: Validation,
    cache: VerifiedCache,
    revoked: Revoked,
    log: RevocationLog,
}

/// The most admissions whose first pass an instance remembers announcing.
const ANNOUNCED_KEPT: usize = 100_000;

pub(crate) fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

impl Passes {
    pub(crate) fn new(config: &PassConfig, keys: PassKeys, redis: Redis, redis_keys: &Keys) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Ours to issue: no leeway on our own expiry, and the audience is
        // compared with the queue's origin by `check`, not here.
        validation.leeway = 0;
        validation.validate_aud = false;
        validation.set_issuer(&[config.pass_issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Passes {
            inner: Arc::new(Inner {
                redis: redis.clone(),
                redis_keys: redis_keys.clone(),
                announced: Mutex::new(HashSet::new()),
                keys,
                issuer: config.pass_issuer.clone(),
                validation,
                cache: VerifiedCache::new(config.pass_cache_entries),
                revoked: Revoked::default(),
                log: RevocationLog::new(redis, redis_keys.revoked_passes()),
            }),
        }
    }

    /// Signs a pass for `admission` to `origin` through `queue`, valid until `exp`.
    pub(crate) fn issue(
        &self,
        admission: &Admission,
        queue: &str,
        origin: &str,
        exp: u64,
    ) -> anyhow::Result<IssuedPass> {
        let claims = PassClaims {
            iss: self.inner.issuer.clone(),
            aud: origin.to_string(),
            sub: admission.sub.clone(),
            queue: queue.to_string(),
            iat: now_s(),
            exp,
            jti: admission.jti(),
        };
        let (kid, key) = self.inner.keys.signing();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_string());
        let token = jsonwebtoken::encode(&header, &claims, key)?;
        Ok(IssuedPass { token, claims })
    }

    /// A genuine pass, unexpired and not ended: its claims.
    pub(crate) fn verify(&self, raw: &str) -> Result<Arc<PassClaims>, PassError> {
        self.verify_within(raw, || true)
    }

    /// [`Passes::verify`], paying for a signature only when `may_verify`
    /// allows it: a pass this instance remembers is checked without it, one
    /// never seen is `Throttled` when refused. A flood of made-up passes then
    /// costs a hash and a map lookup each, not an Ed25519 verification.
    pub(crate) fn verify_within(
        &self,
        raw: &str,
        may_verify: impl FnOnce() -> bool,
    ) -> Result<Arc<PassClaims>, PassError> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > LONGEST_PASS {
            return Err(PassError::Invalid);
        }
        let hash = cache::hash_of(raw);
        let claims = match self.inner.cache.get(&hash) {
            Some(claims) => claims,
            None => {
                if !may_verify() {
                    return Err(PassError::Throttled);
                }
                let claims = Arc::new(self.verify_signature(raw)?);
                self.inner.cache.insert(hash, claims.clone());
                claims
            }
        };
        if claims.exp <= now_s() {
            return Err(PassError::Expired);
        }
        if self.inner.revoked.contains(&claims.queue, &claims.jti) {
            return Err(PassError::Revoked);
        }
        Ok(claims)
    }

    /// [`Passes::verify_within`], and the pass is for `queue` in front of `origin`.
    pub(crate) fn check(
        &self,
        raw: &str,
        queue: &str,
        origin: &str,
        may_verify: impl FnOnce() -> bool,
    ) -> Result<Arc<PassClaims>, PassError> {
        let claims = self.verify_within(raw, may_verify)?;
        if claims.queue != queue || claims.aud != origin {
            return Err(PassError::OtherQueue);
        }
        Ok(claims)
    }

    fn verify_signature(&self, raw: &str) -> Result<PassClaims, PassError> {
        let header = jsonwebtoken::decode_header(raw).map_err(|_| PassError::Invalid)?;
        // Only our algorithm: `none`, or HS256 keyed with a public key, never.
        if header.alg != Algorithm::EdDSA {
            return Err(PassError::Invalid);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.inner.keys.verifying(kid))
            .ok_or(PassError::Invalid)?;
        match jsonwebtoken::decode::<PassClaims>(raw, key, &self.inner.validation) {
            Ok(data) => Ok(data.claims),
            Err(err) if *err.kind() == ErrorKind::ExpiredSignature => Err(PassError::Expired),
            Err(_) => Err(PassError::Invalid),
        }
    }

    /// Ends `queue`'s passes of `jti` on every instance: at once here,
    /// within a second elsewhere; and says so with a `pass.ended` event.
    pub(crate) async fn revoke(&self, queue: &str, jti: &str, exp: u64) -> Result<(), redis::RedisError> {
        self.inner.log.publish(queue, jti, exp, now_ms()).await?;
        self.inner.revoked.add(queue, jti, exp);
        let mut fields = vec![("jti", jti.to_string()), ("exp", exp.to_string())];
        if let Some(admission) = Admission::of_jti(jti) {
            fields.push(("visitorId", admission.sub));
        }
        let stream = self.inner.redis_keys.queue(queue).events.clone();
        events::emit(&self.inner.redis, &stream, EventType::PassEnded, &fields).await
    }

    /// Tells of a pass just issued with a `pass.issued` event: the first pass
    /// of an admission this instance issues, and every renewal. Sent in the
    /// background, never waited on: the pass is the visitor's whether or not
    /// the event is written (it is lost if Redis is down then).
    pub(crate) fn announce(&self, issued: &IssuedPass, renewed: bool) {
        let claims = &issued.claims;
        if !renewed {
            let mut announced = self
                .inner
                .announced
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            // A bound on what is remembered: past it, an admission may be
            // announced again by this instance (as by another).
            if announced.len() >= ANNOUNCED_KEPT {
                announced.clear();
            }
            if !announced.insert(claims.jti.clone()) {
                return;
            }
        }
        let fields = vec![
            ("visitorId", claims.sub.clone()),
            ("jti", claims.jti.clone()),
            ("exp", claims.exp.to_string()),
            ("renewed", renewed.to_string()),
        ];
        let stream = self.inner.redis_keys.queue(&claims.queue).events.clone();
        let redis = self.inner.redis.clone();
        tokio::spawn(async move {
            if let Err(err) = events::emit(&redis, &stream, EventType::PassIssued, &fields).await {
                tracing::debug!(error = %err, "pass.issued not written");
            }
        });
    }

    /// Takes in the endings other instances published; drops those expired.
    pub(crate) async fn follow_revocations(&self) -> Result<usize, redis::RedisError> {
        self.inner.revoked.prune(now_s());
        self.inner.log.follow(&self.inner.revoked).await
    }

    /// The public keys, for `/.well-known/jwks.json`.
    pub(crate) fn published_keys(&self) -> &[PublicJwk] {
        self.inner.keys.published()
    }

    /// How many verified passes and endings this instance holds (for the metrics).
    pub(crate) fn held(&self) -> (usize, usize) {
        (self.inner.cache.len(), self.inner.revoked.len())
    }
}

#[cfg(test)]
mod tests;
