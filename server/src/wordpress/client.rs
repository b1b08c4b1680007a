//! The HTTP client for api.wordpress.org: pooled, retried once, cached and single-flight
//! (`super::cache`).

use super::cache::ResponseCache;
use crate::ops::metrics::Metrics;
use futures::future::BoxFuture;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The User-Agent sent with every upstream request.
const USER_AGENT: &str = concat!("Tollgate/", env!("CARGO_PKG_VERSION"));
/// How long to wait for a TCP/TLS connection before giving up on an attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The pause before the single retry of a failed idempotent request.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// The largest upstream body accepted; anything bigger is refused rather than buffered.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The longest upstream error message kept (they are shown to models).
const MAX_MESSAGE_CHARS: usize = 200;

/// How to reach WordPress.org and how much to remember of its answers.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// Where the API lives, e.g. `https://api.wordpress.org`; request paths are appended to it.
    pub base_url: url::Url,
    /// The time limit of one upstream attempt (connecting, sending and reading the body).
    pub timeout: Duration,
    /// The most responses kept in the cache.
    pub cache_capacity: u64,
    /// How long a cached response is served before it is fetched again.
    pub cache_ttl: Duration,
}

impl ClientSettings {
    /// Settings for `base_url` with the defaults: 10 s time-out, 10 000 cached responses kept
    /// for 600 s (WordPress.org itself caches for 10 minutes).
    pub fn new(base_url: url::Url) -> Self {
        Self {
            base_url,
            timeout: Duration::from_secs(10),
            cache_capacity: 10_000,
            cache_ttl: Duration::from_secs(600),
        }
    }
}

/// Why a request to WordPress.org did not produce a usable JSON body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// 404, with WordPress.org's message (e.g. `Theme not found`).
    #[error("not found: {0}")]
    NotFound(String),
    /// WordPress.org refused the request as malformed (400, 405, 422, …), with its message.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Any other unexpected HTTP status (5xx, 429, 3xx, …).
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    /// No complete answer within the configured time-out (after the retry).
    #[error("timed out")]
    Timeout,
    /// Connecting or talking to WordPress.org failed.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The body was not JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// The body was larger than the client accepts.
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    /// The request could not be built (bad path, bad settings).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl UpstreamError {
    /// The `outcome` label of the upstream latency metric.
    fn metric_outcome(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::Timeout => "timeout",
            _ => "error",
        }
    }
}

/// Read access to the WordPress.org API; the tools are written against this so tests can
/// substitute it.
pub trait WordPressApi: Send + Sync + 'static {
    /// GET `{base_url}{path}` with these query pairs, returning the parsed JSON body.
    fn get_json<'a>(
        &'a self,
        path: &'a str,
        query: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<Arc<Value>, UpstreamError>>;

    /// The time limit of one upstream attempt, if there is one; used to word time-out errors.
    fn timeout(&self) -> Option<Duration> {
        None
    }
}

/// The production [`WordPressApi`]: reqwest over rustls, with a bounded response cache.
pub struct HttpWordPressApi {
    http: reqwest::Client,
    settings: ClientSettings,
    cache: ResponseCache,
    metrics: Metrics,
}

impl std::fmt::Debug for HttpWordPressApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpWordPressApi")
            .field("settings", &self.settings)
            .field("cached", &self.cache.len())
            .finish_non_exhaustive()
    }
}

impl HttpWordPressApi {
    /// Builds the client. Fails only if the HTTP client cannot be set up.
    pub fn new(settings: ClientSettings, metrics: Metrics) -> Result<Self, UpstreamError> {
        // The binary installs ring at start; this makes the client usable on its own too (in
        // tests). It does nothing when a provider is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(settings.timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(settings.timeout))
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| UpstreamError::InvalidRequest(format!("HTTP client set-up: {e}")))?;
        let cache = ResponseCache::new(settings.cache_capacity, settings.cache_ttl);
        Ok(Self {
            http,
            settings,
            cache,
            metrics,
        })
    }

    /// The settings this client was built with.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    async fn get_cached(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Arc<Value>, UpstreamError> {
        if !path.starts_with('/') {
            return Err(UpstreamError::InvalidRequest(format!(
                "path {path:?} must start with '/'"
            )));
        }
        // The query is encoded once: its canonical form names the request in the cache and
        // is the URL's query (WordPress.org reads the pairs by name, so their order is free).
        let canonical = canonical_query(query);
        let key = self.cache.fingerprint(&format!("{path}?{canonical}"));
        let (outcome, lookup) = self
            .cache
            .get_or_fetch(key, || self.fetch(path, &canonical))
            .await;
        self.metrics.cache_lookup(lookup.label());
        outcome
    }

    /// One logical fetch: an attempt, and one retry if it failed in a way worth retrying.
    async fn fetch(&self, path: &str, canonical: &str) -> Result<Arc<Value>, UpstreamError> {
        let url = request_url(&self.settings.base_url, path, canonical)?;
        let label = endpoint_label(path);
        match self.attempt(&url, &label).await {
            Ok(value) => Ok(Arc::new(value)),
            Err(Attempt { error, retry: true }) => {
                tracing::info!(endpoint = %label, %error, "retrying upstream request once");
                tokio::time::sleep(RETRY_BACKOFF).await;
                self.attempt(&url, &label)
                    .await
                    .map(Arc::new)
                    .map_err(|failed| failed.error)
            }
            Err(Attempt { error, .. }) => Err(error),
        }
    }

    async fn attempt(&self, url: &url::Url, label: &str) -> Result<Value, Attempt> {
        let started = Instant::now();
        let result = self.attempt_inner(url).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(failed) => failed.error.metric_outcome(),
        };
        self.metrics
            .upstream_request(label, outcome, started.elapsed().as_secs_f64());
        if let Err(failed) = &result {
            tracing::warn!(endpoint = %label, error = %failed.error, "upstream request failed");
        }
        result
    }

    async fn attempt_inner(&self, url: &url::Url) -> Result<Value, Attempt> {
        let mut response = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Attempt::transport(&e))?;
        let status = response.status().as_u16();
        if let Some(length) = response.content_length()
            && length > MAX_BODY_BYTES as u64
        {
            return Err(Attempt::fatal(UpstreamError::TooLarge(MAX_BODY_BYTES)));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| Attempt::transport(&e))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(Attempt::fatal(UpstreamError::TooLarge(MAX_BODY_BYTES)));
            }
            body.extend_from_slice(&chunk);
        }
        match status {
            200..=299 => serde_json::from_slice(&body)
                .map_err(|e| Attempt::fatal(UpstreamError::InvalidJson(e.to_string()))),
            404 => Err(Attempt::fatal(UpstreamError::NotFound(error_message(
                &body,
                "not found",
            )))),
            429 => Err(Attempt::fatal(UpstreamError::Status(status))),
            400..=499 => Err(Attempt::fatal(UpstreamError::BadRequest(error_message(
                &body,
                &format!("HTTP {status}"),
            )))),
            502..=504 => Err(Attempt {
                error: UpstreamError::Status(status),
                retry: true,
            }),
            _ => Err(Attempt::fatal(UpstreamError::Status(status))),
        }
    }
}

impl WordPressApi for HttpWordPressApi {
    fn get_json<'a>(
        &'a self,
        path: &'a str,
        query: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<Arc<Value>, UpstreamError>> {
        Box::pin(self.get_cached(path, query))
    }

    fn timeout(&self) -> Option<Duration> {
        Some(self.settings.timeout)
    }
}

/// A failed attempt, and whether trying again could help.
struct Attempt {
    error: UpstreamError,
    retry: bool,
}

impl Attempt {
    fn fatal(error: UpstreamError) -> Self {
        Self {
            error,
            retry: false,
        }
    }

    /// Transport failures of a GET (connect errors, resets, time-outs) are safe to retry.
    fn transport(error: &reqwest::Error) -> Self {
        let error = if error.is_timeout() {
            UpstreamError::Timeout
        } else if error.is_connect() {
            UpstreamError::Unreachable(format!("connection failed: {}", root_cause(error)))
        } else {
            UpstreamError::Unreachable(root_cause(error))
        };
        Self { error, retry: true }
    }
}

/// The innermost message of an error chain (reqwest's own message repeats the URL).
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// The `error` message of a WordPress.org error body (`{"error":"Theme not found"}`), or the
/// fallback.
fn error_message(body: &[u8], fallback: &str) -> String {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| match v {
            Value::Object(map) => ["error", "message"]
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_str).map(str::to_owned)),
            _ => None,
        })
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| fallback.to_owned());
    message.chars().take(MAX_MESSAGE_CHARS).collect()
}

/// `{base_url}{path}?{query}` (no `?` for an empty query), keeping any path prefix of the
/// base URL.
fn request_url(base: &url::Url, path: &str, query: &str) -> Result<url::Url, UpstreamError> {
    let separator = if query.is_empty() { "" } else { "?" };
    let joined = format!(
        "{}{path}{separator}{query}",
        base.as_str().trim_end_matches('/')
    );
    url::Url::parse(&joined).map_err(|e| UpstreamError::InvalidRequest(format!("{joined}: {e}")))
}

/// The canonical query of a request: its pairs sorted by name (the order of repeated names,
/// e.g. `request[tag][]`, is kept), form-encoded, but for the brackets of the names, which
/// stay as they are (`request[fields][tags]=true`): the API documents its URLs that way, PHP
/// reads both forms alike, and each bracket written as `%5B`/`%5D` would be two more
/// characters for every hop (the cache's fingerprint, the URL parser, WordPress.org) to read.
pub(crate) fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = query.iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut encoded = String::with_capacity(
        pairs
            .iter()
            .map(|(name, value)| name.len() + value.len() + 2)
            .sum(),
    );
    let plain = |c: u8| c.is_ascii_alphanumeric() || b"[]*-._".contains(&c);
    for (name, value) in pairs {
        if !encoded.is_empty() {
            encoded.push('&');
        }
        if name.bytes().all(plain) {
            encoded.push_str(name);
        } else {
            encoded.extend(url::form_urlencoded::byte_serialize(name.as_bytes()));
        }
        encoded.push('=');
        encoded.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
    }
    encoded
}

/// A bounded metric label for an API path: its first two non-version segments,
/// e.g. `/themes/info/1.2/` → `themes/info`, `/stats/plugin/1.0/downloads.php` → `stats/plugin`.
pub(crate) fn endpoint_label(path: &str) -> String {
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .filter(|s| !s.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .filter(|s| !s.contains('.'))
        .take(2)
        .collect();
    let valid = !segments.is_empty()
        && segments.iter().all(|s| {
            s.chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c == '_')
        });
    if valid {
        segments.join("/")
    } else {
        "other".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_canonical_query_ignores_parameter_order_but_keeps_array_order() {
        let a = canonical_query(&pairs(&[
            ("request[search]", "blue"),
            ("action", "query_themes"),
        ]));
        let b = canonical_query(&pairs(&[
            ("action", "query_themes"),
            ("request[search]", "blue"),
        ]));
        assert_eq!(a, b);
        assert_eq!(a, "action=query_themes&request[search]=blue");
        let tags_ab = canonical_query(&pairs(&[
            ("request[tag][]", "a"),
            ("x", "1"),
            ("request[tag][]", "b"),
        ]));
        let tags_ab_again = canonical_query(&pairs(&[
            ("x", "1"),
            ("request[tag][]", "a"),
            ("request[tag][]", "b"),
        ]));
        assert_eq!(tags_ab, tags_ab_again);
        let tags_ba = canonical_query(&pairs(&[("request[tag][]", "b"), ("request[tag][]", "a")]));
        assert_ne!(tags_ab, tags_ba);
    }

    #[test]
    fn the_canonical_query_cannot_be_confused_by_separators_in_values() {
        let one = canonical_query(&pairs(&[("a", "1&b=2")]));
        let two = canonical_query(&pairs(&[("a", "1"), ("b", "2")]));
        assert_ne!(one, two);
        assert_eq!(one, "a=1%26b%3D2");
        // Names are ours; one that is not plain is encoded whole.
        assert_eq!(
            canonical_query(&pairs(&[("request[search term]", "a b+c")])),
            "request%5Bsearch+term%5D=a+b%2Bc"
        );
        // What a form decoder (PHP, the fake) reads back is what was sent.
        let sent = pairs(&[
            ("request[tag][]", "blog & news"),
            ("request[fields][tags]", "true"),
            ("action", "query_themes"),
        ]);
        let mut read: Vec<(String, String)> =
            url::form_urlencoded::parse(canonical_query(&sent).as_bytes())
                .into_owned()
                .collect();
        let mut expected = sent;
        read.sort();
        expected.sort();
        assert_eq!(read, expected);
    }

    #[test]
    fn endpoint_labels_are_short_and_bounded() {
        assert_eq!(endpoint_label("/themes/info/1.2/"), "themes/info");
        assert_eq!(endpoint_label("/plugins/info/1.2/"), "plugins/info");
        assert_eq!(
            endpoint_label("/stats/plugin/1.0/downloads.php"),
            "stats/plugin"
        );
        assert_eq!(
            endpoint_label("/core/version-check/1.7/"),
            "core/version-check"
        );
        assert_eq!(endpoint_label("/events/1.0/"), "events");
        assert_eq!(
            endpoint_label("/translations/core/1.0/"),
            "translations/core"
        );
        assert_eq!(endpoint_label("/"), "other");
        assert_eq!(endpoint_label("/Weird Path/x"), "other");
    }

    #[test]
    fn urls_keep_the_base_path() {
        let base = url::Url::parse("http://127.0.0.1:8080/wp/").expect("url");
        let url = request_url(&base, "/events/1.0/", "").expect("joined");
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/wp/events/1.0/");
        let url = request_url(&base, "/events/1.0/", "number=3&locale=fr_FR").expect("joined");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/wp/events/1.0/?number=3&locale=fr_FR"
        );
    }

    #[test]
    fn error_messages_come_from_the_body() {
        assert_eq!(
            error_message(br#"{"error":"Plugin not found."}"#, "x"),
            "Plugin not found."
        );
        assert_eq!(error_message(b"<html>", "HTTP 400"), "HTTP 400");
    }

    #[test]
    fn default_settings() {
        let settings =
            ClientSettings::new(url::Url::parse("https://api.wordpress.org").expect("url"));
        assert_eq!(settings.timeout, Duration::from_secs(10));
        assert_eq!(settings.cache_capacity, 10_000);
        assert_eq!(settings.cache_ttl, Duration::from_secs(600));
    }
}
