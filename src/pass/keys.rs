//! The keys of the admission pass: Ed25519, read from PEM files (newest first)
//! or, with none configured, one made at start for development.
//!
//! The newest key signs; every key verifies, so a key being retired keeps
//! its passes valid until they expire. Each key's `kid` is its RFC 7638 JWK
//! thumbprint: every instance given the same files names the keys alike with
//! no `kid` to configure, and the JWKS document publishes exactly those.

use std::collections::HashMap;

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::SigningKey;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::PassConfig;

/// PKCS#8 v1's DER for an Ed25519 private key, less the 32-byte seed that
/// ends it (RFC 8410, section 7): what jsonwebtoken signs with.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// One public key as the JWKS document shows it (RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PublicJwk {
    pub(crate) kty: &'static str,
    pub(crate) crv: &'static str,
    pub(crate) alg: &'static str,
    #[serde(rename = "use")]
    pub(crate) usage: &'static str,
    pub(crate) kid: String,
    /// The public key, base64url without padding.
    pub(crate) x: String,
}

/// The signing key and every verifying key, by `kid`.
pub(crate) struct PassKeys {
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    published: Vec<PublicJwk>,
}

impl PassKeys {
    /// The keys the configuration names, or a development key when it names none.
    pub(crate) fn from_config(config: &PassConfig) -> anyhow::Result<Self> {
        let mut seeds = Vec::new();
        for path in config.key_files() {
            let pem = std::fs::read(path).with_context(|| format!("cannot read BOXOFFICE_PASS_KEY_FILES {path}"))?;
            let key = EncodingKey::from_ed_pem(&pem)
                .ok()
                .and_then(|key| SigningKey::from_pkcs8_der(key.as_bytes()).ok())
                .with_context(|| format!("{path} is not an Ed25519 private key in PKCS#8 PEM"))?;
            seeds.push(key.to_bytes());
        }
        if seeds.is_empty() {
            tracing::warn!(
                "!!! BOXOFFICE_PASS_KEY_FILES is not set: admission passes are signed with a key made at start, \
                 which other instances do not know and a restart forgets. Set it before protecting a real site. !!!"
            );
            seeds.push(rand::random());
        }
        Ok(Self::from_seeds(&seeds))
    }

    /// Keys from their 32-byte seeds, the first signing.
    pub(crate) fn from_seeds(seeds: &[[u8; 32]]) -> Self {
        let mut verifying = HashMap::new();
        let mut published = Vec::new();
        for seed in seeds {
            let public = SigningKey::from_bytes(seed).verifying_key().to_bytes();
            let x = URL_SAFE_NO_PAD.encode(public);
            let kid = thumbprint(&x);
            verifying.insert(kid.clone(), DecodingKey::from_ed_der(&public));
            published.push(PublicJwk {
                kty: "OKP",
                crv: "Ed25519",
                alg: "EdDSA",
                usage: "sig",
                kid,
                x,
            });
        }
        let newest = seeds.first().copied().unwrap_or_else(rand::random);
        let mut der = PKCS8_ED25519_PREFIX.to_vec();
        der.extend_from_slice(&newest);
        PassKeys {
            signing_kid: published.first().map(|jwk| jwk.kid.clone()).unwrap_or_default(),
            signing: EncodingKey::from_ed_der(&der),
            verifying,
            published,
        }
    }

    pub(crate) fn signing(&self) -> (&str, &EncodingKey) {
        (&self.signing_kid, &self.signing)
    }

    pub(crate) fn verifying(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifying.get(kid)
    }

    /// The public keys, newest first.
    pub(crate) fn published(&self) -> &[PublicJwk] {
        &self.published
    }
}

/// RFC 7638: SHA-256 of the key's required members in lexicographic order.
fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbprint_is_rfc_8037s_example() {
        // RFC 8037, appendix A.3: the JWK thumbprint of its Ed25519 example key.
        assert_eq!(
            thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn rfc_8037s_example_seed_gives_its_public_key() {
        let seed = URL_SAFE_NO_PAD
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .unwrap();
        let keys = PassKeys::from_seeds(&[seed.try_into().unwrap()]);
        assert_eq!(keys.published()[0].x, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(keys.signing().0, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn a_pem_file_of_openssl_is_read() {
        // `openssl genpkey -algorithm ed25519` of RFC 8037's example seed.
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";
        let dir = std::env::temp_dir().join(format!("bo-pass-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key.pem");
        std::fs::write(&path, pem).unwrap();
        let config = PassConfig {
            pass_key_files: vec![path.display().to_string()],
            pass_issuer: "boxoffice".into(),
            pass_cache_entries: 10,
            room_url: "/".into(),
        };
        let keys = PassKeys::from_config(&config).unwrap();
        assert_eq!(keys.published()[0].x, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        std::fs::write(&path, "not a key").unwrap();
        assert!(PassKeys::from_config(&config).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
