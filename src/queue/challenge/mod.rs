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
//! is taken once: the join it lets in marks its signature spent in Redis,
//! under the queue's hash tag, until the challenge expires, in the same
//! script run as the join (`lua/queue_standing.lua`), so a replay is refused
//! whichever instance it reaches and costs no call of its own: a call of its
//! own for each join cost the gateway more than checking the solution
//! (loadtest/RESULTS.md, The challenge).

use std::collections::BTreeMap;
use std::sync::Arc;

use altcha::CreateChallengeOptions;
use rand::Rng;

use super::QueueError;
use crate::store::scripts::standing::ChallengeMark;

/// PBKDF2 rounds per key derivation. A browser's derivation costs about
/// 80 µs whatever the rounds up to a hundred or so (Chromium's per-call
/// overhead, measured on the benchmark machine), a native bot's about 0.13 µs
/// a round; issuing pays one derivation. 100 rounds issued 32k challenges a
/// second per core, short of the 50k a rush's first second needs; 50 issue
/// about 52k and cost a bot half as much (loadtest/RESULTS.md, The challenge).
pub(crate) const DERIVATION_COST: u32 = 50;

mod check;

use check::Signing;

/// ALTCHA's name for the derivation.
const ALGORITHM: &str = "PBKDF2/SHA-256";

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

/// A solution that checked out, not yet taken: the join it lets in takes it.
#[derive(Debug, Clone, Copy)]
pub struct Solved(pub(crate) ChallengeMark);

#[derive(Clone)]
pub struct Challenges {
    signing: Arc<Signing>,
    ttl_s: u64,
}

impl Challenges {
    /// `secret` is the instances' shared token secret; the two signing keys
    /// are derived from it, so a challenge issued by one instance checks on another.
    pub(crate) fn new(secret: &[u8], ttl_s: u64) -> Self {
        Challenges {
            signing: Arc::new(Signing::new(
                derived(secret, "boxoffice altcha challenge"),
                derived(secret, "boxoffice altcha key"),
            )),
            ttl_s,
        }
    }

    /// A new challenge for `queue` of `complexity`, as the widget reads it.
    pub fn issue(&self, queue: &str, complexity: u32) -> Result<altcha::Challenge, QueueError> {
        let most = complexity.max(2);
        let counter = rand::rng().random_range(most / 2..=most);
        let expires_at = chrono::Utc::now().timestamp() + i64::try_from(self.ttl_s).unwrap_or(i64::MAX / 2);
        let options = CreateChallengeOptions {
            algorithm: ALGORITHM.to_string(),
            counter: Some(counter),
            cost: DERIVATION_COST,
            data: Some(BTreeMap::from([("queue".to_string(), queue.into())])),
            expires_at: Some(expires_at),
            hmac_signature_secret: Some(self.signing.parameters_secret().to_string()),
            hmac_key_signature_secret: Some(self.signing.key_secret().to_string()),
            ..CreateChallengeOptions::default()
        };
        altcha::create_challenge(options).map_err(|err| QueueError::Unreadable(format!("altcha challenge: {err}")))
    }

    /// Checks an `X-Altcha` payload for `queue`, in process: its signature,
    /// its expiry, its queue and its solution (`check.rs`). Does not take it:
    /// the join it lets in does, in its own script run ([`Solved`]).
    pub fn check(&self, queue: &str, header: &[u8]) -> Result<Solved, QueueError> {
        check::check(&self.signing, queue, header).map_err(QueueError::ChallengeFailed)
    }
}

/// A signing key for one use, from the shared secret.
fn derived(secret: &[u8], purpose: &str) -> String {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(purpose.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}
