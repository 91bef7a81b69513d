//! Queue tokens: opaque, signed, bound to one queue and one user.
//!
//! A token is `base64url(queue|user|issued_s|nonce) . base64url(HMAC-SHA256[..16])`.
//! The signature is checked before any Redis call, so a forged or altered token
//! costs nothing but a hash. The queue and user are readable inside the token so
//! a valid token shown on the wrong queue or by the wrong user is told apart
//! (TOKEN_MISMATCH) from a forged one (TOKEN_INVALID).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::QueueError;
use crate::store::scripts::standing::Presented;

/// 128 bits of HMAC: far beyond guessing, and keeps tokens short.
const SIGNATURE_BYTES: usize = 16;
const MAX_TOKEN_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueToken {
    pub queue: String,
    pub user_id: i64,
    pub issued_s: i64,
    pub nonce: u32,
    /// The place's sequence number in the queue (0: a token that carries none),
    /// signed so that a Redis that lost its data can be given the place back.
    pub seq: i64,
    /// While active: when the admission ends, ms since the epoch; 0 while waiting.
    pub active_until_ms: i64,
}

#[derive(Clone)]
pub struct TokenSigner {
    mac: Hmac<Sha256>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InvalidToken;

impl QueueToken {
    /// What the queue's scripts need of a token to give back a lost place.
    pub(crate) fn presented(&self) -> Presented {
        Presented {
            issued_s: self.issued_s,
            nonce: self.nonce,
            seq: self.seq,
            active_until_ms: self.active_until_ms,
        }
    }
}

impl TokenSigner {
    pub fn new(secret: &[u8]) -> Self {
        let mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
        Self { mac }
    }

    pub fn sign(&self, token: &QueueToken) -> String {
        // Built without the formatting machinery: a poll signs a token every
        // time, and `format!` was most of what signing cost.
        let mut payload = String::with_capacity(token.queue.len() + 64);
        let mut digits = itoa::Buffer::new();
        payload.push_str(&token.queue);
        for field in [
            token.user_id,
            token.issued_s,
            i64::from(token.nonce),
            token.seq,
            token.active_until_ms,
        ] {
            payload.push('|');
            payload.push_str(digits.format(field));
        }
        let mut mac = self.mac.clone();
        mac.update(payload.as_bytes());
        let signature = mac.finalize().into_bytes();
        let mut out = String::with_capacity(payload.len().div_ceil(3) * 4 + 24);
        URL_SAFE_NO_PAD.encode_string(payload.as_bytes(), &mut out);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature[..SIGNATURE_BYTES], &mut out);
        out
    }

    /// The one signature check behind every use of a token: a token whose
    /// signature holds and that was issued for `queue` (no Redis call).
    pub(crate) fn verify_for(&self, queue: &str, raw: &str) -> Result<QueueToken, QueueError> {
        let token = self.verify_signed(raw)?;
        if token.queue != queue {
            return Err(QueueError::TokenMismatch);
        }
        Ok(token)
    }

    /// A token whose signature holds, for whichever queue it names.
    pub(crate) fn verify_signed(&self, raw: &str) -> Result<QueueToken, QueueError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(QueueError::TokenMissing);
        }
        self.verify(raw).map_err(|_| QueueError::TokenInvalid)
    }

    pub(crate) fn verify(&self, raw: &str) -> Result<QueueToken, InvalidToken> {
        if raw.len() > MAX_TOKEN_LEN {
            return Err(InvalidToken);
        }
        let (payload, signature) = raw.split_once('.').ok_or(InvalidToken)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| InvalidToken)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| InvalidToken)?;
        let mut mac = self.mac.clone();
        mac.update(&payload);
        mac.verify_truncated_left(&signature).map_err(|_| InvalidToken)?;
        if signature.len() != SIGNATURE_BYTES {
            return Err(InvalidToken);
        }
        let payload = std::str::from_utf8(&payload).map_err(|_| InvalidToken)?;
        // Tokens signed before they carried a sequence have four fields.
        parse_fields(payload, true)
            .or_else(|| parse_fields(payload, false))
            .ok_or(InvalidToken)
    }
}

/// `queue|user|issued|nonce|seq|until`, or the older `queue|user|issued|nonce`.
fn parse_fields(payload: &str, with_sequence: bool) -> Option<QueueToken> {
    let mut parts = payload.rsplitn(if with_sequence { 6 } else { 4 }, '|');
    let (seq, active_until_ms) = if with_sequence {
        let until = parts.next()?.parse().ok()?;
        (parts.next()?.parse().ok()?, until)
    } else {
        (0, 0)
    };
    let nonce = parts.next()?.parse().ok()?;
    let issued_s = parts.next()?.parse().ok()?;
    let user_id = parts.next()?.parse().ok()?;
    let queue = parts.next()?.to_string();
    Some(QueueToken {
        queue,
        user_id,
        issued_s,
        nonce,
        seq,
        active_until_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> QueueToken {
        QueueToken {
            queue: "hero-autumn".into(),
            user_id: 42,
            issued_s: 1_760_000_000,
            nonce: 7,
            seq: 1_795_000_000_123_456,
            active_until_ms: 0,
        }
    }

    #[test]
    fn a_signed_token_verifies_to_its_contents() {
        let signer = TokenSigner::new(b"secret");
        assert_eq!(signer.verify(&signer.sign(&sample())), Ok(sample()));
        let active = QueueToken {
            active_until_ms: 1_795_000_600_000,
            ..sample()
        };
        assert_eq!(signer.verify(&signer.sign(&active)), Ok(active));
    }

    #[test]
    fn tokens_signed_before_sequences_still_verify_with_none() {
        let signer = TokenSigner::new(b"secret");
        let payload = "hero-autumn|42|1760000000|7";
        let mut mac = signer.mac.clone();
        mac.update(payload.as_bytes());
        let signature = mac.finalize().into_bytes();
        let legacy = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(&signature[..SIGNATURE_BYTES])
        );
        let token = signer.verify(&legacy).unwrap();
        assert_eq!(
            (token.user_id, token.nonce, token.seq, token.active_until_ms),
            (42, 7, 0, 0)
        );
    }

    #[test]
    fn the_signed_payload_spells_every_field_in_decimal() {
        let signer = TokenSigner::new(b"secret");
        let token = QueueToken {
            user_id: -7,
            nonce: u32::MAX,
            seq: i64::MAX,
            active_until_ms: 0,
            ..sample()
        };
        let signed = signer.sign(&token);
        let (payload, _) = signed.split_once('.').unwrap();
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(
            payload,
            format!("hero-autumn|-7|1760000000|{}|{}|0", u32::MAX, i64::MAX)
        );
        assert_eq!(signer.verify(&signed), Ok(token));
    }

    #[test]
    fn altered_or_foreign_tokens_are_refused() {
        let signer = TokenSigner::new(b"secret");
        let token = signer.sign(&sample());
        let (payload, signature) = token.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode("hero-autumn|43|1760000000|7");
        assert_eq!(
            signer.verify(&format!("{forged_payload}.{signature}")),
            Err(InvalidToken)
        );
        assert_eq!(signer.verify(&format!("{payload}.AAAA")), Err(InvalidToken));
        assert_eq!(signer.verify(payload), Err(InvalidToken));
        assert_eq!(signer.verify("not a token"), Err(InvalidToken));
        assert_eq!(TokenSigner::new(b"other").verify(&token), Err(InvalidToken));
        // An earlier place cannot be claimed: the sequence is under the signature.
        let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        let earlier = URL_SAFE_NO_PAD.encode(decoded.replace("|1795000000123456|", "|1795000000000001|"));
        assert_eq!(signer.verify(&format!("{earlier}.{signature}")), Err(InvalidToken));
    }
}
