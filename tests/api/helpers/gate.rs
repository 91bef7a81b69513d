//! A protected site's routes: the waiting room's visitor API, the
//! forward-auth check as a proxy asks it, ending a session, the public keys;
//! one method per endpoint, and [`pass_key_file`] for instances that must
//! share their pass keys.

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::Method;
use serde_json::Value;

use super::call::{Api, Call};

impl Api {
    /// `POST /gate/{queue}/join`: an anonymous visitor takes a place.
    pub fn gate_join(&self, queue: &str) -> Call {
        self.call(Method::POST, &format!("/gate/{queue}/join"))
    }

    /// `GET /gate/{queue}/status`, the visitor's token as the cookie.
    pub fn gate_status(&self, queue: &str, visitor_token: &str) -> Call {
        self.call(Method::GET, &format!("/gate/{queue}/status"))
            .header("cookie", format!("boxoffice_visitor={visitor_token}"))
    }

    /// `POST /gate/{queue}/leave`, the visitor's token as the cookie.
    pub fn gate_leave(&self, queue: &str, visitor_token: &str) -> Call {
        self.call(Method::POST, &format!("/gate/{queue}/leave"))
            .header("cookie", format!("boxoffice_visitor={visitor_token}"))
    }

    /// `GET /gate/{queue}` as a proxy's `auth_request` asks it: the original
    /// URI, and the pass as the site's cookie when there is one.
    pub fn gate_check(&self, queue: &str, uri: &str, pass: Option<&str>) -> Call {
        let call = self
            .call(Method::GET, &format!("/gate/{queue}"))
            .header("x-original-uri", uri);
        match pass {
            Some(pass) => call.header("cookie", format!("boxoffice_pass={pass}")),
            None => call,
        }
    }

    /// `POST /gate/{queue}/end` with an origin key, naming the session by `body`.
    pub fn gate_end(&self, queue: &str, origin_key: &str, body: &Value) -> Call {
        self.call(Method::POST, &format!("/gate/{queue}/end"))
            .bearer(origin_key)
            .json(body)
    }

    /// `GET /.well-known/jwks.json`
    pub fn jwks(&self) -> Call {
        self.call(Method::GET, "/.well-known/jwks.json")
    }
}

/// The value of the cookie `name` set by an answer, if it set one.
pub fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|cookie| cookie.split(';').next()?.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// A PEM file (PKCS#8) of a new Ed25519 private key, as `openssl genpkey
/// -algorithm ed25519` writes: for instances that must verify each other's passes.
pub fn pass_key_file() -> String {
    use base64::Engine;
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ];
    der.extend_from_slice(&rand::random::<[u8; 32]>());
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    );
    let path = std::env::temp_dir().join(format!("bo-pass-{:016x}.pem", rand::random::<u64>()));
    std::fs::write(&path, pem).expect("a temporary key file");
    path.display().to_string()
}
