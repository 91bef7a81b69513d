//! The keys of an OIDC provider (Keycloak, Auth0, Cognito, Entra, Ory...),
//! fetched from its JWKS URL (given, or found through the issuer's discovery
//! document) and held in memory, so a request never waits on the provider
//! but for a key it has not seen yet.
//!
//! - Refetched in the background every `BOXOFFICE_IDENTITY_JWKS_REFRESH_S`
//!   (the `identity keys` chore asks; a failed fetch is tried again sooner,
//!   backing off to [`RETRY_AT_MOST`]), which is how withdrawn keys go.
//! - A `kid` not held starts a fetch at once, since a rotation publishes a new
//!   key just before it signs with it; but at most one fetch in
//!   [`UNKNOWN_KID_EVERY`], whoever asks, so a flood of proofs with made-up
//!   `kid`s costs the provider one request every few seconds. A request waits
//!   for that fetch at most [`UNKNOWN_KID_WAIT`], then its proof is refused.
//! - A fetch that fails (the provider down, slow, answering garbage or no
//!   usable key) changes nothing: the keys held keep serving. At start the
//!   service does not wait for the provider: until the first fetch lands,
//!   proofs are refused as signed by an unknown key (`401`).

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Deserialize;
use tokio::sync::watch;

use super::jwks::{Key, KeySet};
use crate::config::IdentityConfig;

/// Bound of one request to the provider (connecting, answering, reading).
const FETCH_TIMEOUT: Duration = Duration::from_secs(4);
/// Least time between two fetches started by unknown `kid`s.
pub(crate) const UNKNOWN_KID_EVERY: Duration = Duration::from_secs(5);
/// Longest a request waits for the fetch its unknown `kid` started.
pub(crate) const UNKNOWN_KID_WAIT: Duration = Duration::from_secs(2);
/// Longest wait before trying again after failed fetches (first 1 s, doubling).
const RETRY_AT_MOST: Duration = Duration::from_secs(30);
/// Larger than any key set or discovery document.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// Where the keys come from.
enum Source {
    /// The JWKS URL as configured.
    Jwks(reqwest::Url),
    /// The issuer's discovery document names the JWKS URL.
    Discovery { issuer: String, document: reqwest::Url },
}

pub(crate) struct ProviderKeys {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    client: reqwest::Client,
    refresh: Duration,
    keys: RwLock<Arc<KeySet>>,
    fetching: Mutex<Fetching>,
    /// Counts finished fetches, for requests waiting on one.
    fetched: watch::Sender<u64>,
}

#[derive(Default)]
struct Fetching {
    in_flight: bool,
    last_started: Option<Instant>,
    /// When the background refresh is next due; `None` at start: at once.
    due: Option<Instant>,
    failures: u32,
    /// The discovered JWKS URL, kept until a fetch from it fails.
    discovered: Option<reqwest::Url>,
}

impl ProviderKeys {
    /// The provider the configuration names, or `None` when it names none.
    /// Nothing is fetched yet.
    pub(crate) fn from_config(config: &IdentityConfig) -> anyhow::Result<Option<Self>> {
        let source = match (&config.jwks_url, &config.issuer) {
            (Some(url), _) => Source::Jwks(parse_url("BOXOFFICE_IDENTITY_JWKS_URL", url)?),
            (None, Some(issuer)) => {
                let issuer_url = parse_url("BOXOFFICE_IDENTITY_ISSUER", issuer)?;
                let document = format!(
                    "{}/.well-known/openid-configuration",
                    issuer_url.as_str().trim_end_matches('/')
                );
                Source::Discovery {
                    issuer: issuer.clone(),
                    document: parse_url("BOXOFFICE_IDENTITY_ISSUER", &document)?,
                }
            }
            (None, None) => return Ok(None),
        };
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("boxoffice/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Some(ProviderKeys {
            inner: Arc::new(Inner {
                source,
                client,
                refresh: Duration::from_secs(config.jwks_refresh_s),
                keys: RwLock::new(Arc::new(KeySet::default())),
                fetching: Mutex::new(Fetching::default()),
                fetched: watch::channel(0).0,
            }),
        }))
    }

    /// The key a proof's `kid` names: held, or fetched now if the provider
    /// may have published it since (see the module's notes for the bounds).
    pub(crate) async fn key_for(&self, kid: Option<&str>) -> Option<Arc<Key>> {
        if let Some(key) = self.inner.held().find(kid) {
            return Some(key);
        }
        let mut finished = self.inner.fetched.subscribe();
        let started = {
            let mut fetching = lock(&self.inner.fetching);
            let recently = fetching
                .last_started
                .is_some_and(|last| last.elapsed() < UNKNOWN_KID_EVERY);
            fetching.in_flight || (!recently && self.inner.start(&mut fetching))
        };
        if started {
            let _ = tokio::time::timeout(UNKNOWN_KID_WAIT, finished.changed()).await;
        }
        self.inner.held().find(kid)
    }

    /// Starts the background refresh when it is due; returns at once.
    pub(crate) fn refresh_if_due(&self) {
        let mut fetching = lock(&self.inner.fetching);
        if !fetching.in_flight && fetching.due.is_none_or(|due| due <= Instant::now()) {
            self.inner.start(&mut fetching);
        }
    }
}

impl Inner {
    fn held(&self) -> Arc<KeySet> {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Starts a fetch in a task of its own (so no caller giving up cancels
    /// it); returns true.
    fn start(self: &Arc<Self>, fetching: &mut Fetching) -> bool {
        fetching.in_flight = true;
        fetching.last_started = Some(Instant::now());
        let inner = self.clone();
        tokio::spawn(async move { inner.fetch().await });
        true
    }

    async fn fetch(&self) {
        let discovered = lock(&self.fetching).discovered.clone();
        let outcome = self.fetch_keys(discovered).await;
        let mut fetching = lock(&self.fetching);
        fetching.in_flight = false;
        match outcome {
            Ok((url, keys)) => {
                fetching.failures = 0;
                fetching.due = Some(Instant::now() + self.refresh);
                if matches!(self.source, Source::Discovery { .. }) {
                    fetching.discovered = Some(url);
                }
                let mut held = self.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner());
                if held.kids() != keys.kids() {
                    tracing::info!(kids = ?keys.kids(), "identity provider keys now held");
                }
                *held = Arc::new(keys);
            }
            Err(err) => {
                fetching.failures = fetching.failures.saturating_add(1);
                let wait = Duration::from_secs(1 << fetching.failures.min(6).saturating_sub(1));
                fetching.due = Some(Instant::now() + wait.min(RETRY_AT_MOST).min(self.refresh));
                fetching.discovered = None;
                tracing::warn!(
                    error = format!("{err:#}"),
                    failures = fetching.failures,
                    "identity provider keys could not be fetched; the keys held still serve"
                );
            }
        }
        drop(fetching);
        self.fetched.send_modify(|count| *count += 1);
    }

    /// The provider's usable keys, and the JWKS URL they came from.
    async fn fetch_keys(&self, discovered: Option<reqwest::Url>) -> anyhow::Result<(reqwest::Url, KeySet)> {
        let url = match (&self.source, discovered) {
            (Source::Jwks(url), _) => url.clone(),
            (Source::Discovery { .. }, Some(url)) => url,
            (Source::Discovery { issuer, document }, None) => self.discover(issuer, document).await?,
        };
        let body = self.get(&url).await?;
        let (keys, left_out) = KeySet::from_document(&body).with_context(|| format!("{url} is not a JWKS"))?;
        if keys.is_empty() {
            anyhow::bail!("{url} holds no usable key ({left_out} left out: only RSA, P-256, P-384 and Ed25519 signing keys are used)");
        }
        Ok((url, keys))
    }

    async fn discover(&self, issuer: &str, document: &reqwest::Url) -> anyhow::Result<reqwest::Url> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let body = self.get(document).await?;
        let discovery: Discovery =
            serde_json::from_slice(&body).with_context(|| format!("{document} is not a discovery document"))?;
        // OpenID Connect Discovery 1.0, 4.3: the document is the issuer's only
        // if it names exactly that issuer (a trailing slash counts).
        anyhow::ensure!(
            discovery.issuer == issuer,
            "{document} is for issuer {:?}, not BOXOFFICE_IDENTITY_ISSUER {issuer:?}",
            discovery.issuer
        );
        parse_url("the discovery document's jwks_uri", &discovery.jwks_uri)
    }

    async fn get(&self, url: &reqwest::Url) -> anyhow::Result<Vec<u8>> {
        let mut response = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        anyhow::ensure!(response.status().is_success(), "GET {url}: {}", response.status());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.with_context(|| format!("GET {url}"))? {
            body.extend_from_slice(&chunk);
            anyhow::ensure!(
                body.len() <= MAX_DOCUMENT_BYTES,
                "GET {url}: more than {MAX_DOCUMENT_BYTES} bytes"
            );
        }
        Ok(body)
    }
}

/// An http(s) URL; plain http is let through (a provider in the same pod or
/// network, the tests') with a warning, since whoever is on the path could
/// substitute keys.
fn parse_url(what: &str, url: &str) -> anyhow::Result<reqwest::Url> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("{what} {url:?} is not a URL"))?;
    match parsed.scheme() {
        "https" => {}
        "http" => tracing::warn!("{what} {url} is plain http: keys fetched from it could be substituted on the way"),
        other => anyhow::bail!("{what} {url:?}: {other} is not http(s)"),
    }
    Ok(parsed)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
