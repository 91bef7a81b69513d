//! The proof of work at the door: ALTCHA's PoW v2 challenges, issued to
//! anyone for a queue that asks for one, solved by the browser, and carried
//! by each join in `X-Altcha` (the widget's payload: base64 of
//! `{challenge, solution}`).
//!
//! The ALTCHA crate makes and checks them; this module decides how. A
//! challenge runs in ALTCHA's deterministic mode: the server draws the counter
//! the solver must find (between half the queue's complexity and all of it),
//! derives its key once and signs it. So issuing costs one key derivation
//! and checking a solution costs two HMACs and no derivation at all; the
//! solver pays for every counter below the drawn one. Each derivation is
//! PBKDF2/SHA-256 at [`DERIVATION_COST`] rounds, which the browser does
//! natively (SubtleCrypto): a dearer one would make issuing dear too, a
//! cheaper one would let a native bot outpace a browser by more
//! (loadtest/RESULTS.md, The challenge).
//!
//! A challenge names its queue and its expiry in what it signs. A solution
//! is taken once: its signature is marked spent in Redis, under the queue's
//! hash tag, until the challenge expires, so a replay is refused whichever
//! instance it reaches.

use std::collections::BTreeMap;
use std::sync::Arc;

use altcha::{CreateChallengeOptions, Payload, VerifySolutionOptions};
use base64::Engine;
use rand::Rng;

use super::settings::ChallengeSetting;
use super::QueueError;
use crate::store::keys::Keys;
use crate::store::redis::Redis;

/// PBKDF2 rounds per key derivation: one derivation is about 12 µs in Rust
/// and 85 µs in Chromium on the benchmark machine, most of it the browser's
/// per-call overhead.
pub(crate) const DERIVATION_COST: u32 = 100;

/// ALTCHA's name for the derivation.
const ALGORITHM: &str = "PBKDF2/SHA-256";

/// The longest `X-Altcha` read: a payload is about 700 bytes.
const MOST_PAYLOAD_BYTES: usize = 4096;

/// Why a solution was refused (`CHALLENGE_FAILED`'s `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Not a payload, not ours, or not solved.
    Invalid,
    /// Solved too late.
    Expired,
    /// Already taken by a join.
    Spent,
    /// Issued for another queue.
    OtherQueue,
}

impl Failure {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Failure::Invalid => "invalid",
            Failure::Expired => "expired",
            Failure::Spent => "spent",
            Failure::OtherQueue => "otherQueue",
        }
    }
}

/// A solution that checked out, not yet taken.
#[derive(Debug)]
pub(crate) struct Solved {
    signature: String,
    expires_at_s: i64,
}

#[derive(Clone)]
pub(crate) struct Challenges {
    /// Signs what a challenge says (its parameters).
    signing: Arc<str>,
    /// Signs the key a challenge's solver must derive.
    key_signing: Arc<str>,
    ttl_s: u64,
    redis: Redis,
    keys: Keys,
}

impl Challenges {
    /// `secret` is the instances' shared token secret; the two signing keys
    /// are derived from it, so a challenge issued by one instance checks on another.
    pub(crate) fn new(secret: &[u8], ttl_s: u64, redis: Redis, keys: Keys) -> Self {
        Challenges {
            signing: derived(secret, "boxoffice altcha challenge"),
            key_signing: derived(secret, "boxoffice altcha key"),
            ttl_s,
            redis,
            keys,
        }
    }

    /// A new challenge for `queue`, as the widget reads it.
    pub(crate) fn issue(&self, queue: &str, setting: &ChallengeSetting) -> Result<altcha::Challenge, QueueError> {
        let most = setting.complexity.max(2);
        let counter = rand::rng().random_range(most / 2..=most);
        let expires_at = chrono::Utc::now().timestamp() + i64::try_from(self.ttl_s).unwrap_or(i64::MAX / 2);
        let options = CreateChallengeOptions {
            algorithm: ALGORITHM.to_string(),
            counter: Some(counter),
            cost: DERIVATION_COST,
            data: Some(BTreeMap::from([("queue".to_string(), queue.into())])),
            expires_at: Some(expires_at),
            hmac_signature_secret: Some(self.signing.to_string()),
            hmac_key_signature_secret: Some(self.key_signing.to_string()),
            ..CreateChallengeOptions::default()
        };
        altcha::create_challenge(options).map_err(|err| QueueError::Unreadable(format!("altcha challenge: {err}")))
    }

    /// Checks an `X-Altcha` payload for `queue`, in process: its signature,
    /// its expiry, its queue and its solution. Does not take it ([`Challenges::spend`]).
    pub(crate) fn check(&self, queue: &str, header: &[u8]) -> Result<Solved, QueueError> {
        let failed = |failure| QueueError::ChallengeFailed(failure);
        if header.len() > MOST_PAYLOAD_BYTES {
            return Err(failed(Failure::Invalid));
        }
        let json = base64::engine::general_purpose::STANDARD
            .decode(header.trim_ascii())
            .map_err(|_| failed(Failure::Invalid))?;
        let payload: Payload = serde_json::from_slice(&json).map_err(|_| failed(Failure::Invalid))?;
        let challenge = &payload.challenge;
        // Only the key-signed challenges issued here: without a key signature
        // a check would derive the key at whatever cost the payload names.
        if challenge.parameters.key_signature.as_deref().is_none_or(str::is_empty) {
            return Err(failed(Failure::Invalid));
        }
        let options = VerifySolutionOptions {
            hmac_key_signature_secret: Some(self.key_signing.to_string()),
            ..VerifySolutionOptions::new(challenge, &payload.solution, self.signing.to_string())
        };
        let verdict = altcha::verify_solution(options).map_err(|_| failed(Failure::Invalid))?;
        if verdict.expired {
            return Err(failed(Failure::Expired));
        }
        if !verdict.verified {
            return Err(failed(Failure::Invalid));
        }
        // Signed by us: what it names is what we issued.
        let issued_for = challenge
            .parameters
            .data
            .as_ref()
            .and_then(|data| data.get("queue"))
            .and_then(|queue| queue.as_str());
        if issued_for != Some(queue) {
            return Err(failed(Failure::OtherQueue));
        }
        Ok(Solved {
            signature: challenge.signature.clone().unwrap_or_default(),
            expires_at_s: challenge.parameters.expires_at.unwrap_or(0),
        })
    }

    /// Takes a checked solution for `queue`: the first join to show it
    /// wins, on any instance; the mark outlives the challenge by a second.
    pub(crate) async fn spend(&self, queue: &str, solved: &Solved) -> Result<(), QueueError> {
        let mut redis = self.redis.connection().await?;
        let until_ms = solved.expires_at_s.saturating_add(1).saturating_mul(1000);
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.keys.queue(queue).spent_challenge(&solved.signature))
            .arg(1)
            .arg("NX")
            .arg("PXAT")
            .arg(until_ms)
            .query_async(&mut redis)
            .await?;
        match taken {
            Some(_) => Ok(()),
            None => Err(QueueError::ChallengeFailed(Failure::Spent)),
        }
    }
}

/// A signing key for one use, from the shared secret.
fn derived(secret: &[u8], purpose: &str) -> Arc<str> {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(purpose.as_bytes());
    Arc::from(hex::encode(mac.finalize().into_bytes()))
}
