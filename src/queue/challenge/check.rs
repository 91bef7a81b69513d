//! Checking a solution (`X-Altcha`), the one part of a challenge on the join's
//! path, so written for it.
//!
//! The ALTCHA crate checks a payload by parsing it whole, rebuilding its
//! parameters as canonical JSON (keys sorted, through a `serde_json::Value`)
//! and keying two HMACs from their secrets: about 8 µs, half again the cost
//! of a whole join's gateway work (loadtest/RESULTS.md, The challenge). The
//! parameters a widget sends back are the bytes this server wrote, and those
//! are canonical already (`altcha::ChallengeParameters` declares its fields in
//! order; `data` is a sorted map), so the fast path signs the received bytes
//! as they are, with HMACs keyed once, reading only the fields it needs. A
//! client that re-encodes them otherwise (reordered keys, other spacing) fails
//! that comparison and is checked the crate's way, which decides.

use std::borrow::Cow;

use altcha::{HmacAlgorithm, Payload, VerifySolutionOptions};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{Failure, Solved};
use crate::store::scripts::standing::ChallengeMark;

/// The longest `X-Altcha` read: a payload is about 700 bytes.
const MOST_PAYLOAD_BYTES: usize = 4096;

/// The two secrets, and an HMAC keyed with each (cloned per use: keying
/// costs two SHA-256 blocks).
pub(super) struct Signing {
    /// Signs what a challenge says (its parameters).
    parameters_secret: String,
    /// Signs the key a challenge's solver must derive.
    key_secret: String,
    parameters: Hmac<Sha256>,
    key: Hmac<Sha256>,
}

impl Signing {
    pub(super) fn new(parameters_secret: String, key_secret: String) -> Self {
        // As the crate keys them: with the secret's text.
        let keyed = |secret: &str| Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        Signing {
            parameters: keyed(&parameters_secret),
            key: keyed(&key_secret),
            parameters_secret,
            key_secret,
        }
    }

    pub(super) fn parameters_secret(&self) -> &str {
        &self.parameters_secret
    }

    pub(super) fn key_secret(&self) -> &str {
        &self.key_secret
    }
}

/// The payload as sent, borrowed where it can be.
#[derive(Deserialize)]
struct Sent<'a> {
    #[serde(borrow)]
    challenge: SentChallenge<'a>,
    #[serde(borrow)]
    solution: SentSolution<'a>,
}

#[derive(Deserialize)]
struct SentChallenge<'a> {
    #[serde(borrow)]
    parameters: &'a RawValue,
    #[serde(borrow)]
    signature: Cow<'a, str>,
}

#[derive(Deserialize)]
struct SentSolution<'a> {
    #[serde(rename = "derivedKey", borrow)]
    derived_key: Cow<'a, str>,
}

/// The parameters this check reads; the signature covers the rest.
#[derive(Deserialize)]
struct Parameters<'a> {
    #[serde(rename = "expiresAt")]
    expires_at: Option<i64>,
    #[serde(rename = "keySignature", borrow)]
    key_signature: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<Data<'a>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    queue: Option<Cow<'a, str>>,
}

/// Checks `header` for `queue`: signed by us, then unexpired, solved, and this queue's.
pub(super) fn check(signing: &Signing, queue: &str, header: &[u8]) -> Result<Solved, Failure> {
    if header.len() > MOST_PAYLOAD_BYTES {
        return Err(Failure::Invalid);
    }
    let json = base64::engine::general_purpose::STANDARD
        .decode(header.trim_ascii())
        .map_err(|_| Failure::Invalid)?;
    let sent: Sent = serde_json::from_slice(&json).map_err(|_| Failure::Invalid)?;
    if !signed(
        &signing.parameters,
        sent.challenge.parameters.get().as_bytes(),
        &sent.challenge.signature,
    ) {
        return canonical(signing, queue, &json);
    }
    let parameters: Parameters = serde_json::from_str(sent.challenge.parameters.get()).map_err(|_| Failure::Invalid)?;
    let expires_at_s = parameters.expires_at.unwrap_or(0);
    if expires_at_s != 0 && chrono::Utc::now().timestamp() > expires_at_s {
        return Err(Failure::Expired);
    }
    // Only key-signed challenges are issued here: the derived key is checked
    // against its signature, and no key is derived.
    let key = hex::decode(sent.solution.derived_key.as_bytes()).map_err(|_| Failure::Invalid)?;
    let key_signature = parameters.key_signature.ok_or(Failure::Invalid)?;
    if !signed(&signing.key, &key, &key_signature) {
        return Err(Failure::Invalid);
    }
    let issued_for = parameters.data.and_then(|data| data.queue);
    if issued_for.as_deref() != Some(queue) {
        return Err(Failure::OtherQueue);
    }
    solved(&sent.challenge.signature, expires_at_s)
}

/// A checked solution, to be taken by its join: its mark lasts a second past its expiry.
fn solved(signature: &str, expires_at_s: i64) -> Result<Solved, Failure> {
    let mut bytes = [0_u8; 32];
    hex::decode_to_slice(signature, &mut bytes).map_err(|_| Failure::Invalid)?;
    Ok(Solved(ChallengeMark {
        signature: bytes,
        until_ms: expires_at_s.saturating_add(1).saturating_mul(1000),
    }))
}

/// Whether `signature` (hex) is `mac`'s HMAC of `message`, compared in constant time.
fn signed(mac: &Hmac<Sha256>, message: &[u8], signature: &str) -> bool {
    let Ok(signature) = hex::decode(signature) else {
        return false;
    };
    let mut mac = mac.clone();
    mac.update(message);
    mac.finalize().into_bytes().as_slice().ct_eq(&signature).into()
}

/// The crate's own check, for parameters not sent back as they were written.
fn canonical(signing: &Signing, queue: &str, json: &[u8]) -> Result<Solved, Failure> {
    let payload: Payload = serde_json::from_slice(json).map_err(|_| Failure::Invalid)?;
    let challenge = &payload.challenge;
    // The crate reads the expiry before the signature: the signature is
    // checked first here (signed again the crate's way, canonically), so
    // `expired` is only ever said of a challenge we issued.
    let mut parameters = challenge.parameters.clone();
    let ours = altcha::sign_challenge(
        &HmacAlgorithm::Sha256,
        &mut parameters,
        None,
        &signing.parameters_secret,
        None,
    )
    .map_err(|_| Failure::Invalid)?;
    let sent = challenge.signature.as_deref().unwrap_or_default();
    if !bool::from(ours.signature.unwrap_or_default().as_bytes().ct_eq(sent.as_bytes())) {
        return Err(Failure::Invalid);
    }
    // Without a key signature the crate would derive the key at whatever
    // cost the payload names.
    if challenge.parameters.key_signature.as_deref().is_none_or(str::is_empty) {
        return Err(Failure::Invalid);
    }
    let options = VerifySolutionOptions {
        hmac_key_signature_secret: Some(signing.key_secret.clone()),
        ..VerifySolutionOptions::new(challenge, &payload.solution, signing.parameters_secret.clone())
    };
    let verdict = altcha::verify_solution(options).map_err(|_| Failure::Invalid)?;
    if verdict.expired {
        return Err(Failure::Expired);
    }
    if !verdict.verified {
        return Err(Failure::Invalid);
    }
    let issued_for = challenge
        .parameters
        .data
        .as_ref()
        .and_then(|data| data.get("queue"))
        .and_then(|queue| queue.as_str());
    if issued_for != Some(queue) {
        return Err(Failure::OtherQueue);
    }
    solved(sent, challenge.parameters.expires_at.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use altcha::{CreateChallengeOptions, SolveChallengeOptions};

    use super::*;

    fn signing() -> Signing {
        Signing::new("parameters-secret".into(), "key-secret".into())
    }

    /// A solved challenge of `queue`, as the widget would send it back,
    /// its parameters written by `write` (the server's own bytes or not).
    fn payload(signing: &Signing, queue: &str, expires_at: i64, write: fn(&Payload) -> Vec<u8>) -> Vec<u8> {
        let challenge = altcha::create_challenge(CreateChallengeOptions {
            algorithm: "PBKDF2/SHA-256".into(),
            counter: Some(3),
            cost: 2,
            data: Some(BTreeMap::from([("queue".to_string(), queue.into())])),
            expires_at: Some(expires_at),
            hmac_signature_secret: Some(signing.parameters_secret.clone()),
            hmac_key_signature_secret: Some(signing.key_secret.clone()),
            ..CreateChallengeOptions::default()
        })
        .expect("a challenge");
        let solution = altcha::solve_challenge(SolveChallengeOptions::new(&challenge))
            .expect("solvable")
            .expect("solved");
        let json = write(&Payload { challenge, solution });
        base64::engine::general_purpose::STANDARD.encode(json).into_bytes()
    }

    fn as_written(payload: &Payload) -> Vec<u8> {
        serde_json::to_vec(payload).expect("JSON")
    }

    /// Parameters re-encoded with their keys in reverse order and spaces, as
    /// another client might send them.
    fn reordered(payload: &Payload) -> Vec<u8> {
        let parameters = serde_json::to_value(&payload.challenge.parameters).expect("JSON");
        let fields: Vec<String> = parameters
            .as_object()
            .expect("an object")
            .iter()
            .rev()
            .map(|(name, value)| format!("{name:?} : {value}"))
            .collect();
        format!(
            r#"{{"challenge":{{"parameters":{{{}}},"signature":{:?}}},"solution":{}}}"#,
            fields.join(", "),
            payload.challenge.signature.as_deref().unwrap_or_default(),
            serde_json::to_string(&payload.solution).expect("JSON"),
        )
        .into_bytes()
    }

    fn later() -> i64 {
        chrono::Utc::now().timestamp() + 600
    }

    #[test]
    fn a_solution_checks_whether_its_parameters_come_back_as_written_or_reordered() {
        let signing = signing();
        for write in [as_written as fn(&Payload) -> Vec<u8>, reordered] {
            let solved = check(&signing, "q", &payload(&signing, "q", later(), write));
            assert!(solved.is_ok(), "{:?}", solved.err());
            let other = check(&signing, "other", &payload(&signing, "q", later(), write));
            assert_eq!(other.err(), Some(Failure::OtherQueue));
            let late = check(&signing, "q", &payload(&signing, "q", 1, write));
            assert_eq!(late.err(), Some(Failure::Expired));
        }
    }

    #[test]
    fn another_secret_s_challenge_is_invalid_even_when_it_says_it_expired() {
        let theirs = Signing::new("not ours".into(), "key-secret".into());
        for write in [as_written as fn(&Payload) -> Vec<u8>, reordered] {
            for expires_at in [later(), 1] {
                let sent = payload(&theirs, "q", expires_at, write);
                assert_eq!(check(&signing(), "q", &sent).err(), Some(Failure::Invalid));
            }
        }
    }
}
