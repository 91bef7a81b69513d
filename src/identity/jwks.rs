//! An auth service's published keys (a JWKS, RFC 7517) as this service uses
//! them: each key with the one algorithm it verifies, found by `kid`.
//!
//! The algorithm comes from the key (its `alg`, else its `kty` and `crv`),
//! never from a proof's header: a proof whose header names another algorithm
//! than its key's is refused when verified. Symmetric (`oct`) keys, keys for
//! encryption and keys of algorithms not listed in [`algorithm_of`] are left
//! out: a published HS256 key would let anyone who read it sign proofs.

use std::sync::Arc;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

/// More keys than any provider publishes (they hold two or three during a
/// rotation); the rest of a larger document is not looked at.
const MAX_KEYS: usize = 64;

/// One verifying key.
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) key: DecodingKey,
    pub(crate) algorithm: Algorithm,
}

/// The usable keys of one JWKS document.
#[derive(Default)]
pub(crate) struct KeySet {
    keys: Vec<Arc<Key>>,
}

/// The document, each key read on its own so that one odd key (a type this
/// crate does not know, a field it cannot read) does not cost the others.
#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// The usable keys of a JWKS document, and how many were left out.
    pub(crate) fn from_document(body: &[u8]) -> Result<(KeySet, usize), serde_json::Error> {
        let document: Document = serde_json::from_slice(body)?;
        let mut keys = Vec::new();
        let mut left_out = 0;
        for value in document.keys.into_iter().take(MAX_KEYS) {
            match serde_json::from_value::<Jwk>(value).ok().and_then(|jwk| usable(&jwk)) {
                Some(key) => keys.push(Arc::new(key)),
                None => left_out += 1,
            }
        }
        Ok((KeySet { keys }, left_out))
    }

    /// The key a proof's `kid` names. A proof without one is verified with
    /// the only key of a set that holds one, else with none.
    pub(crate) fn find(&self, kid: Option<&str>) -> Option<Arc<Key>> {
        match kid {
            Some(kid) => self.keys.iter().find(|key| key.kid.as_deref() == Some(kid)),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
        .cloned()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys' ids, for the logs.
    pub(crate) fn kids(&self) -> Vec<&str> {
        self.keys
            .iter()
            .map(|key| key.kid.as_deref().unwrap_or("(none)"))
            .collect()
    }
}

fn usable(jwk: &Jwk) -> Option<Key> {
    let for_signatures = match (&jwk.common.public_key_use, &jwk.common.key_operations) {
        (Some(usage), _) if *usage != PublicKeyUse::Signature => false,
        (_, Some(operations)) => operations.contains(&KeyOperations::Verify),
        _ => true,
    };
    if !for_signatures {
        return None;
    }
    let algorithm = algorithm_of(jwk)?;
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key {
        kid: jwk.common.key_id.clone(),
        key,
        algorithm,
    })
}

/// The one algorithm a key verifies: the one it names when it agrees with the
/// key's type, else the usual one for its type and curve.
pub(crate) fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    let named = jwk.common.key_algorithm;
    match (&jwk.algorithm, named) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Some(Algorithm::RS256),
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::RS384)) => Some(Algorithm::RS384),
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::RS512)) => Some(Algorithm::RS512),
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::PS256)) => Some(Algorithm::PS256),
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::PS384)) => Some(Algorithm::PS384),
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::PS512)) => Some(Algorithm::PS512),
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
            if ec.curve == EllipticCurve::P256 =>
        {
            Some(Algorithm::ES256)
        }
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES384))
            if ec.curve == EllipticCurve::P384 =>
        {
            Some(Algorithm::ES384)
        }
        (AlgorithmParameters::OctetKeyPair(okp), None | Some(KeyAlgorithm::EdDSA))
            if okp.curve == EllipticCurve::Ed25519 =>
        {
            Some(Algorithm::EdDSA)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An Ed25519 public key (RFC 8037's example).
    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    /// A P-256 public point (RFC 7517's example).
    const P256: (&str, &str) = (
        "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
    );
    /// An RSA modulus (RFC 7517's example).
    const RSA_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    fn set(keys: serde_json::Value) -> (KeySet, usize) {
        KeySet::from_document(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
    }

    fn algorithm(jwk: serde_json::Value) -> Option<Algorithm> {
        algorithm_of(&serde_json::from_value(jwk).unwrap())
    }

    #[test]
    fn the_algorithm_comes_from_the_key_type_and_curve() {
        let rsa = json!({ "kty": "RSA", "n": RSA_N, "e": "AQAB" });
        assert_eq!(algorithm(rsa.clone()), Some(Algorithm::RS256));
        let mut ps = rsa.clone();
        ps["alg"] = json!("PS256");
        assert_eq!(algorithm(ps), Some(Algorithm::PS256));
        let ec = json!({ "kty": "EC", "crv": "P-256", "x": P256.0, "y": P256.1 });
        assert_eq!(algorithm(ec.clone()), Some(Algorithm::ES256));
        let ed = json!({ "kty": "OKP", "crv": "Ed25519", "x": ED_X });
        assert_eq!(algorithm(ed.clone()), Some(Algorithm::EdDSA));
        // A key naming an algorithm of another type is not used at all.
        for (mut jwk, alg) in [(rsa, "ES256"), (ec, "RS256"), (ed, "ES256")] {
            jwk["alg"] = json!(alg);
            assert_eq!(algorithm(jwk), None);
        }
    }

    #[test]
    fn secret_encryption_and_unknown_keys_are_left_out() {
        let (keys, left_out) = set(json!([
            { "kty": "oct", "k": "c2VjcmV0", "alg": "HS256", "kid": "shared" },
            { "kty": "RSA", "n": RSA_N, "e": "AQAB", "use": "enc", "kid": "encrypt" },
            { "kty": "RSA", "n": RSA_N, "e": "AQAB", "key_ops": ["encrypt"], "kid": "ops" },
            { "kty": "OKP", "crv": "X25519", "x": ED_X, "kid": "exchange" },
            { "kty": "weird", "kid": "unknown" },
            { "kty": "RSA", "n": RSA_N, "e": "AQAB", "alg": "none", "kid": "none" },
            { "kty": "OKP", "crv": "Ed25519", "x": ED_X, "use": "sig", "kid": "ed" },
        ]));
        assert_eq!(left_out, 6);
        assert_eq!(keys.kids(), ["ed"]);
        assert!(keys.find(Some("shared")).is_none());
        assert_eq!(keys.find(Some("ed")).map(|key| key.algorithm), Some(Algorithm::EdDSA));
    }

    #[test]
    fn keys_are_found_by_kid_and_a_lone_key_also_without() {
        let (one, _) = set(json!([{ "kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "a" }]));
        assert!(one.find(Some("a")).is_some());
        assert!(one.find(Some("b")).is_none());
        assert!(one.find(None).is_some());
        let (two, _) = set(json!([
            { "kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "a" },
            { "kty": "EC", "crv": "P-256", "x": P256.0, "y": P256.1, "kid": "b" },
        ]));
        assert_eq!(two.find(Some("b")).map(|key| key.algorithm), Some(Algorithm::ES256));
        assert!(two.find(None).is_none(), "which of two keys is not guessed");
        assert!(KeySet::default().find(None).is_none());
    }

    #[test]
    fn a_document_that_is_not_a_key_set_is_an_error() {
        for body in [&b"<html>"[..], b"{}", b"{\"keys\": {}}", b""] {
            assert!(
                KeySet::from_document(body).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(set(json!([])).0.is_empty());
    }
}
