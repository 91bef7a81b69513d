//! An OIDC provider of a test's own on a random port: its discovery document
//! and its JWKS, whose keys the test publishes (and rotates), and which the
//! test can make fail, hang or stop listening. It counts the requests it
//! gets; its test keys sign proofs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// Where the keys are, as Keycloak lays out a realm.
const REALM: &str = "/realms/boxoffice";

/// How the provider answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Serve,
    /// `503` at once.
    Fail,
    /// Nothing for a minute, far beyond any fetch's timeout.
    Hang,
}

#[derive(Clone)]
struct Shared {
    issuer: String,
    keys: Arc<Mutex<Vec<Value>>>,
    answer: Arc<Mutex<Answer>>,
    fetches: Arc<AtomicUsize>,
}

pub struct Provider {
    /// The issuer, as proofs name it and discovery starts from.
    pub issuer: String,
    /// The JWKS URL, as the discovery document gives it.
    pub jwks_url: String,
    port: u16,
    shared: Shared,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Provider {
    /// A provider publishing `keys`.
    pub async fn start(keys: &[&TestKey]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("an address").port();
        let issuer = format!("http://127.0.0.1:{port}{REALM}");
        let shared = Shared {
            issuer: issuer.clone(),
            keys: Arc::new(Mutex::new(Vec::new())),
            answer: Arc::new(Mutex::new(Answer::Serve)),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let mut provider = Provider {
            jwks_url: format!("{issuer}/protocol/openid-connect/certs"),
            issuer,
            port,
            shared,
            task: None,
        };
        provider.publish(keys);
        provider.listen(listener);
        provider
    }

    fn listen(&mut self, listener: tokio::net::TcpListener) {
        let app = Router::new()
            .route(&format!("{REALM}/.well-known/openid-configuration"), get(discovery))
            .route(&format!("{REALM}/protocol/openid-connect/certs"), get(jwks))
            .with_state(self.shared.clone());
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    /// From now on the JWKS holds exactly `keys`.
    pub fn publish(&self, keys: &[&TestKey]) {
        *self.shared.keys.lock().expect("not poisoned") = keys.iter().map(|key| key.jwk.clone()).collect();
    }

    pub fn answer(&self, answer: Answer) {
        *self.shared.answer.lock().expect("not poisoned") = answer;
    }

    /// Requests so far (discovery documents and JWKS), answered or not.
    pub fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }

    /// Stops listening: connections are refused (and the ones kept alive
    /// are answered `503` and closed) until [`Provider::restart`].
    pub fn stop(&mut self) {
        self.answer(Answer::Fail);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Listens again on the same port, serving.
    pub async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("the provider's port again");
        self.answer(Answer::Serve);
        self.listen(listener);
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn answered(shared: &Shared, document: Value) -> Response {
    let answer = *shared.answer.lock().expect("not poisoned");
    match answer {
        Answer::Serve => Json(document).into_response(),
        Answer::Fail => (StatusCode::SERVICE_UNAVAILABLE, [(header::CONNECTION, "close")], "down").into_response(),
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

async fn discovery(State(shared): State<Shared>) -> Response {
    shared.fetches.fetch_add(1, Ordering::SeqCst);
    let document = json!({
        "issuer": shared.issuer,
        "jwks_uri": format!("{}/protocol/openid-connect/certs", shared.issuer),
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
    });
    answered(&shared, document).await
}

async fn jwks(State(shared): State<Shared>) -> Response {
    shared.fetches.fetch_add(1, Ordering::SeqCst);
    let keys = shared.keys.lock().expect("not poisoned").clone();
    answered(&shared, json!({ "keys": keys })).await
}

/// A provider's signing key: its private half signs proofs, its public half
/// is published as a JWK.
pub struct TestKey {
    pub kid: String,
    algorithm: Algorithm,
    private: EncodingKey,
    jwk: Value,
}

impl TestKey {
    pub fn rsa() -> Self {
        Self::new(
            "rsa-2026",
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()),
        )
    }

    pub fn p256() -> Self {
        Self::new(
            "ec-2026",
            Algorithm::ES256,
            EncodingKey::from_ec_pem(P256_PRIVATE.as_bytes()),
        )
    }

    pub fn ed25519() -> Self {
        Self::new(
            "ed-2026",
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(ED25519_PRIVATE.as_bytes()),
        )
    }

    /// Another Ed25519 key, the one a rotation brings in.
    pub fn ed25519_next() -> Self {
        Self::new(
            "ed-2027",
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(ED25519_NEXT_PRIVATE.as_bytes()),
        )
    }

    fn new(kid: &str, algorithm: Algorithm, private: jsonwebtoken::errors::Result<EncodingKey>) -> Self {
        let private = private.expect("a test key");
        let mut jwk = Jwk::from_encoding_key(&private, algorithm).expect("its public half");
        jwk.common.key_id = Some(kid.to_string());
        let mut jwk = serde_json::to_value(jwk).expect("a JWK");
        jwk["use"] = json!("sig");
        TestKey {
            kid: kid.to_string(),
            algorithm,
            private,
            jwk,
        }
    }

    /// The public half, as published.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// `claims` signed with this key, its header naming `kid`.
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(kid.to_string());
        encode(&header, claims, &self.private).expect("signed")
    }

    /// `claims` signed with this key, its header naming it.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }
}

// Test keys, made for these tests with `openssl genpkey`.
const RSA_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQClQQP4A75asQ4y
/OBXvgqOBezKhcKqVSnlwmp/VV0d0BB8e5AFGeGKrKLaooOlXtQITq6N1hDFRVB6
YhA2G1K3IndovMqCuO/skMiiK+eyqPc9JR/i5oji3XdKSbbn+F/g94MGPTkfip0j
e6Fx1pIWlJfrSma1VYweWIRD25mBa2prU7ZzEGonHTtF//rjYu9JzbF4wLieTeBS
RP5DO6uy9WsO3wkHgztOa8bqcsME9NIGQCAN+tbegxRIJtjyucyiY/afu5oB+0kq
PogJ9wcHyzP5f9jkCCyzJRHTViCKXa/iPJzFNefWYS6Sg4oPe4z8uQ5uCFaTmQYg
GKaH+pwpAgMBAAECggEAB+i07dY7XR/7X+gs54jOUgOevzGdgmVJjaLF/I/4wSrF
AzmEXXjNNoPH1o1vyLF2wJVdctHeOHF2ZikSgWMXjMbERBnBr8sgm9KbxkaHfrbq
AFM/c66uD1I4pEWjZfZD8SJ/cu6+sLpZBh/5DIJPuG9xAZSXFlIraYS52H07208A
VuYHaq+b+UgAfVRiDi+VkvXdn0nyy+/2ZtcydqBqBo3C3c3VoaBojKEKTzNG3o83
lOs3N5dHrFlToW2yAAm9/kn0LtbGl27c68JVxlzXyiqX5W6PgtnKI+Ykdgs1KXG/
AhuV8Uik0keKTq5CZ6I84C+EniBlKeqYNWYxVaIuRQKBgQDPwJzU4AanOz5UNeMc
JVTF8Arxi5aLobFQdnXea8mTnn5TvTKZNl43l0So+6Ua6/XEplk+ssjTZ9R8kCNw
Qisf2Zu4rNvY07fP0/hgTiJsJ9EiErP8V3rzD5YZSumG84icC/IrwZ14Yqe+Egfx
jPcK9VzrhYo0vUsPnJfyKQ1UxQKBgQDLocSBhTAwsTQOHDkUC+1pZXNXv9/4v08u
aqimo/LAZ62SCgfy55RQEoQouIAS02rKFWGZ+iVHsSyuAbpk80KEN8eLMjgop5W4
6DShw01vG1X8ivysZSkInLomrd9z9Tr+j3khHUjIH0E5M501VvhIEq+q4LztPkVb
D2O5kxKIFQKBgQCyrIk1W+bc9MrKSf4lOsYJ5kTDMLYtKMcC2J7OyAz5dJpZEqLt
uiCV1vcqDiMVYFJi6l5e2gx2JRpOdvjDl2TXY6PV1HTPqmavyzIWQZzBQA1RLJy3
LdWELad94Tuu4MxgyLVihIYV/2McyQ0j5YSiXBuqQ5N1gEeKCbd0gXIBsQKBgQCF
dq9e3LarE1m07daTRwYCEFY66y2W0XzKRWnoXohahxmCIET5dcMFgD1SmyqGLD9P
2BeyXftVM9C+868BP1cXZZ/Joc6hBsXg/YCRjXoRGm+PKGFXdK4iUObJNyi/zbku
40ZW5+SuFZ4gKa4eKbRtOKIec1IghLHcbwfDt5tryQKBgH2tLLQyhnPxe1XaAoft
xoZktgX1J+cyDLwKSpd7fUB0uZozBZjJb7anF6MYUbJPMDZyRtRO5X7QCHywiqhS
DbNbbLEhbv0EGBCGhL+J85GUMXeq62h8gemg4/vlu8puS9nXU6hnDxj2L/K8u6n1
qiCUjKyon42j1iPPVi+yGJAK
-----END PRIVATE KEY-----
";

const P256_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgbuVjljZqvK0jtol2
GTVJOXFK+AMG3r2uwwNFCHjOuFyhRANCAAThhRBApRNJ3J/ehktgi5NWJSYDBTQL
ySMXSamvGbiu9g93g7ZZMmiEIU/4O/aPFC1VaTogmky+2W6Bnp1Hgess
-----END PRIVATE KEY-----
";

const ED25519_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIHZ+eIAEk2nWwIyNiub464fUtCmI7ISCSqdBlMJsBcfB
-----END PRIVATE KEY-----
";

const ED25519_NEXT_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIG6u3oJIrO9gWjkLs+AQkWA43yNRZ42Sz1BU/zat5h7o
-----END PRIVATE KEY-----
";
