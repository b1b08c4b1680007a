//! The HTTP client async-stripe's requests go out through. async-stripe's own client keeps no
//! idle connection (its hyper pool holds none), so each request would open a new TCP and TLS
//! connection; this one is reqwest with its connection pool, built once per tenant key
//! (`BillingService::provider_for` keeps it), so paid calls reuse kept-alive connections.
//!
//! It sends each request once: retries are the caller's (`with_retry` in `stripe.rs`, the
//! meter sender's backoff), with the idempotency key the request carries.

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use std::fmt::Display;
use stripe_client_core::{CustomizedStripeRequest, StripeClient, StripeClientErr, StripeMethod};

/// Why a request to Stripe failed.
#[derive(Debug)]
pub(super) enum CallError {
    /// Stripe answered with an error status and its message.
    Api { status: u16, message: String },
    /// No answer: connection refused or dropped, TLS, a time-out below ours.
    Transport(String),
    /// An answer that could not be read.
    Decode(String),
}

impl StripeClientErr for CallError {
    fn deserialize_err(msg: impl Display) -> Self {
        Self::Decode(msg.to_string())
    }
}

/// One tenant's key, one pool.
#[derive(Clone)]
pub(super) struct Pooled {
    http: reqwest::Client,
    /// `…/v1`, without a trailing slash.
    base: String,
}

impl Pooled {
    pub(super) fn new(secret_key: &str, api_base: &str) -> Result<Self, String> {
        let mut auth = HeaderValue::from_str(&format!("Bearer {secret_key}"))
            .map_err(|_| "the key is not a valid header value".to_owned())?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        let version = stripe_shared::version::VERSION;
        headers.insert(
            "stripe-version",
            HeaderValue::from_str(version.as_str()).map_err(|e| e.to_string())?,
        );
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("Tollgate/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(5))
            .pool_idle_timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            base: format!("{}/v1", api_base.trim_end_matches('/')),
        })
    }
}

impl Pooled {
    /// `GET {path}?{query}` read as JSON, for the reads async-stripe has no type for that
    /// Tollgate wants (the event list and subscriptions, read by `webhook.rs`).
    pub(super) async fn get_json(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<serde_json::Value, CallError> {
        let body = send(self.http.get(format!("{}{path}", self.base)).query(query)).await?;
        serde_json::from_slice(&body).map_err(|e| CallError::Decode(e.to_string()))
    }
}

/// Sends a request and answers its body; a failure status becomes Stripe's error with its
/// message. No URL in a transport error (it may carry ids a log should not keep).
async fn send(request: reqwest::RequestBuilder) -> Result<Bytes, CallError> {
    let transport = |e: reqwest::Error| CallError::Transport(e.without_url().to_string());
    let response = request.send().await.map_err(transport)?;
    let status = response.status();
    let body = response.bytes().await.map_err(transport)?;
    if status.is_success() {
        return Ok(body);
    }
    Err(api_error(status.as_u16(), &body))
}

/// Stripe's error answer, with its message.
fn api_error(status: u16, body: &[u8]) -> CallError {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "no message".to_owned());
    CallError::Api { status, message }
}

impl StripeClient for Pooled {
    type Err = CallError;

    fn execute(
        &self,
        request: CustomizedStripeRequest,
    ) -> impl std::future::Future<Output = Result<Bytes, CallError>> + Send {
        let (request, config) = request.into_pieces();
        let method = match request.method {
            StripeMethod::Get => reqwest::Method::GET,
            StripeMethod::Post => reqwest::Method::POST,
            StripeMethod::Delete => reqwest::Method::DELETE,
        };
        let mut url = format!("{}{}", self.base, request.path);
        if let Some(query) = &request.query {
            url.push('?');
            url.push_str(query);
        }
        let mut builder = self.http.request(method, url);
        if let Some(key) = config.request_strategy.and_then(|s| s.get_key()) {
            builder = builder.header("idempotency-key", key.as_str());
        }
        if let Some(body) = request.body {
            builder = builder
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body);
        }
        send(builder)
    }
}
