//! The request each endpoint method returns. Awaiting it (alone, or joined with
//! others) sends it and gives the response, a transport error failing the
//! test; `send` gives the transport's result where a test must see one (a
//! gateway being killed). A header set on it replaces the one the method set,
//! so a test can present another token or take it away, and the body can be
//! replaced the same way.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Body, Client, Method, Request, Response};
use serde::Serialize;

/// One application's address and a client to call it with; the endpoint
/// methods are in `api.rs`, `v1.rs` and `ops.rs`.
#[derive(Clone)]
pub struct Api {
    pub client: Client,
    /// `http://127.0.0.1:<port>`
    pub address: String,
    /// Sent by the admin API's methods when set.
    admin_token: Option<String>,
}

impl Api {
    pub fn new(client: Client, address: String, admin_token: Option<String>) -> Self {
        Api {
            client,
            address,
            admin_token,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// The same application through another client (bound to another address, say).
    pub fn through(&self, client: Client) -> Api {
        Api { client, ..self.clone() }
    }

    pub fn call(&self, method: Method, path: &str) -> Call {
        let request = self
            .client
            .request(method, self.url(path))
            .build()
            .unwrap_or_else(|err| panic!("a request to {path}: {err}"));
        Call {
            client: self.client.clone(),
            request: Some(request),
            sending: None,
        }
    }

    /// Anything by its path: the pages, their assets, a route that does not exist.
    pub fn get(&self, path: &str) -> Call {
        self.call(Method::GET, path)
    }

    /// A call with the admin token, if this application has one.
    pub(super) fn admin(&self, method: Method, path: &str) -> Call {
        let call = self.call(method, path);
        match &self.admin_token {
            Some(token) => call.bearer(token),
            None => call,
        }
    }
}

/// A request, sent when first polled: built by chaining, awaited (or joined
/// with others) to get the response.
pub struct Call {
    client: Client,
    request: Option<Request>,
    sending: Option<Pin<Box<dyn Future<Output = Response> + Send>>>,
}

impl Call {
    fn request(&mut self) -> &mut Request {
        self.request.as_mut().expect("a call is changed only before it is sent")
    }

    pub fn header<V>(mut self, name: &str, value: V) -> Self
    where
        V: TryInto<HeaderValue>,
        V::Error: Debug,
    {
        let name = HeaderName::try_from(name).expect("a header name");
        let value = value.try_into().expect("a header value");
        self.request().headers_mut().insert(name, value);
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header(AUTHORIZATION.as_str(), format!("Bearer {token}"))
    }

    /// The seed's `Token` header.
    pub fn token(self, token: &str) -> Self {
        self.header("Token", token)
    }

    pub fn without(mut self, name: &str) -> Self {
        self.request().headers_mut().remove(name);
        self
    }

    pub fn json(self, body: &impl Serialize) -> Self {
        let body = serde_json::to_vec(body).expect("JSON");
        self.json_text(body)
    }

    /// A JSON body as written (for what `json!` cannot spell, such as `-0`).
    pub fn json_text(self, body: impl Into<Body>) -> Self {
        self.header(CONTENT_TYPE.as_str(), "application/json").body(body)
    }

    /// A body as it is, its content type left as it was.
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        *self.request().body_mut() = Some(body.into());
        self
    }

    pub fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        self.request().url_mut().query_pairs_mut().extend_pairs(pairs);
        self
    }

    /// Sends it: the transport's result, for a test that must see a failure.
    pub async fn send(mut self) -> reqwest::Result<Response> {
        let request = self.request.take().expect("a call is sent once");
        self.client.execute(request).await
    }
}

/// Awaiting a call sends it; a transport error fails the test.
impl Future for Call {
    type Output = Response;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        if self.sending.is_none() {
            let request = self.request.take().expect("a call is sent once");
            let what = format!("{} {}", request.method(), request.url());
            let sent = self.client.execute(request);
            self.sending = Some(Box::pin(async move {
                sent.await
                    .unwrap_or_else(|err| panic!("{what} was not answered: {err}"))
            }));
        }
        self.sending
            .as_mut()
            .map(|sending| sending.as_mut().poll(cx))
            .unwrap_or(Poll::Pending)
    }
}
