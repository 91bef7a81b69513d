//! Signing deliveries as the Standard Webhooks specification says
//! (<https://www.standardwebhooks.com/>), so receivers check them with any of
//! its libraries: the secret is `whsec_` and the base64 of 24 to 64 random
//! bytes; a delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds)
//! and `webhook-signature`, `v1,` and the base64 of HMAC-SHA256 over
//! `{id}.{timestamp}.{body}` keyed with the secret's bytes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// The specification's bounds on a secret's length, in bytes.
const SHORTEST: usize = 24;
const LONGEST: usize = 64;

/// An endpoint's signing secret, as given and stored (`whsec_…`), with its bytes.
#[derive(Clone)]
pub(crate) struct Secret {
    text: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A new secret of 32 random bytes.
    pub(crate) fn generate() -> Self {
        let mut key = vec![0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Secret {
            text: format!("{PREFIX}{}", STANDARD.encode(&key)),
            key,
        }
    }

    /// A secret as an operator gives it, if it is one the specification allows.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let key = STANDARD.decode(text.strip_prefix(PREFIX)?).ok()?;
        (SHORTEST..=LONGEST).contains(&key.len()).then(|| Secret {
            text: text.to_string(),
            key,
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The `webhook-signature` value of `body` sent as message `id` at `timestamp`.
    pub(crate) fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // Any key length is valid for HMAC; the error cannot happen.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            unreachable!("HMAC takes keys of any length")
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    /// Computed by the specification's reference library (the `standardwebhooks`
    /// package on PyPI, `Webhook(secret).sign(id, timestamp, body)`), not by us.
    #[test]
    fn signs_as_the_reference_library_does() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("a valid secret");
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_whsec_and_base64_of_24_to_64_bytes() {
        let made = Secret::generate();
        assert!(made.as_str().starts_with("whsec_"));
        assert!(Secret::parse(made.as_str()).is_some());
        assert!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none(), "no prefix");
        assert!(Secret::parse("whsec_c2hvcnQ=").is_none(), "5 bytes");
        assert!(Secret::parse("whsec_not base64!").is_none());
    }
}
