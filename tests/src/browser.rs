//! A person's browser for the sign-in flow (cookies kept, redirects followed by hand so tests
//! can look at each hop), and the client side of OAuth: registration, PKCE, code, tokens.

use crate::TestApp;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// A browser: keeps cookies per host, never follows redirects on its own.
pub struct Browser {
    http: reqwest::Client,
    cookies: Mutex<HashMap<String, String>>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

/// One page load: status, `Location`, body.
#[derive(Debug)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body text.
    pub body: String,
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Mutex::default(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .expect("lock")
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap_or_default();
            if let Some((name, rest)) = text.split(';').next().and_then(|p| p.split_once('=')) {
                self.cookies
                    .lock()
                    .expect("lock")
                    .insert(name.trim().to_owned(), rest.trim().to_owned());
            }
        }
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.unwrap_or_default();
        Page {
            status,
            location,
            headers,
            body,
        }
    }

    /// GET a URL.
    pub async fn get(&self, url: &str) -> Page {
        let response = self
            .http
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("the server answers");
        self.finish(response).await
    }

    /// POST a form.
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .http
            .post(url)
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("the server answers");
        self.finish(response).await
    }

    /// POST a form with extra request headers (what a browser says about where the form
    /// comes from: `Origin`, `Sec-Fetch-Site`).
    pub async fn post_form_with(
        &self,
        url: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut request = self
            .http
            .post(url)
            .header("cookie", self.cookie_header())
            .form(form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the server answers");
        self.finish(response).await
    }

    /// Opens a sandbox checkout page and presses "Pay (test)", as a person does; returns the
    /// answer to the form.
    pub async fn pay_sandbox_checkout(&self, checkout: &str) -> Page {
        let page = self.get(checkout).await;
        assert_eq!(page.status, 200, "sandbox checkout: {}", page.body);
        let csrf = hidden_input(&page.body, "csrf").expect("the checkout form's token");
        self.post_form(checkout, &[("csrf", &csrf)]).await
    }

    /// Names of the cookies this browser holds.
    pub fn cookie_names(&self) -> Vec<String> {
        self.cookies.lock().expect("lock").keys().cloned().collect()
    }
}

/// The value of `<input … name="{name}" value="…">` in a page.
pub fn hidden_input(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&amp;", "&")
            .replace("&quot;", "\""),
    )
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A PKCE verifier and its S256 challenge.
pub struct Pkce {
    /// The verifier the client keeps.
    pub verifier: String,
    /// The challenge it sends to `/authorize`.
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair.
    pub fn new() -> Self {
        let verifier = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let challenge = tollgate::crypto::pkce_s256(&verifier);
        Self {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// The redirect URI test clients register.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// An MCP client's side of the flow against one tenant.
pub struct OAuthClient<'a> {
    /// The app.
    pub app: &'a TestApp,
    /// The tenant.
    pub slug: String,
    /// The registered client id.
    pub client_id: String,
}

impl<'a> OAuthClient<'a> {
    /// Registers a public client with [`REDIRECT_URI`].
    pub async fn register(app: &'a TestApp, slug: &str) -> Self {
        Self::register_with(app, slug, REDIRECT_URI).await
    }

    /// Registers a public client with this redirect URI.
    pub async fn register_with(app: &'a TestApp, slug: &str, redirect_uri: &str) -> Self {
        let response = app
            .http()
            .post(format!("{}/t/{slug}/oauth/register", app.url))
            .json(&json!({
                "client_name": "Test Client",
                "redirect_uris": [redirect_uri],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "application_type": "native",
            }))
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), 201, "registration succeeds");
        let body: Value = response.json().await.expect("json");
        Self {
            app,
            slug: slug.to_owned(),
            client_id: body["client_id"].as_str().expect("client_id").to_owned(),
        }
    }

    /// The `/authorize` URL with the usual, valid parameters plus `extra` overrides.
    pub fn authorize_url(&self, pkce: &Pkce, extra: &[(&str, &str)]) -> String {
        let resource = self.app.resource_url(&self.slug);
        let mut params: Vec<(&str, String)> = vec![
            ("response_type", "code".into()),
            ("client_id", self.client_id.clone()),
            ("redirect_uri", REDIRECT_URI.into()),
            ("state", "xyz-state".into()),
            ("code_challenge", pkce.challenge.clone()),
            ("code_challenge_method", "S256".into()),
            ("resource", resource),
            ("scope", "mcp".into()),
        ];
        for (k, v) in extra {
            params.retain(|(name, _)| name != k);
            if !v.is_empty() {
                params.push((k, (*v).to_owned()));
            }
        }
        let mut url = url::Url::parse(&format!("{}/t/{}/oauth/authorize", self.app.url, self.slug))
            .expect("url");
        url.query_pairs_mut()
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
        url.to_string()
    }

    /// The consent page for a fresh authorization in `browser`.
    pub async fn consent_page(&self, browser: &Browser, pkce: &Pkce) -> Page {
        let page = browser.get(&self.authorize_url(pkce, &[])).await;
        assert_eq!(page.status, 200, "consent page: {}", page.body);
        page
    }

    /// Approves a consent page and follows the browser to the client's redirect URI; returns
    /// that final URL (holding `code`, `state`, `iss`).
    pub async fn approve(&self, browser: &Browser, consent: &Page) -> String {
        let request = hidden_input(&consent.body, "request").expect("request field");
        let csrf = hidden_input(&consent.body, "csrf").expect("csrf field");
        let page = browser
            .post_form(
                &format!("{}/t/{}/oauth/consent", self.app.url, self.slug),
                &[
                    ("request", &request),
                    ("csrf", &csrf),
                    ("decision", "approve"),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "approval redirects: {}", page.body);
        self.follow(browser, page.location.expect("location")).await
    }

    /// Follows redirects (GitHub's authorize, our callback, the demo sign-in) until the
    /// client's redirect URI.
    pub async fn follow(&self, browser: &Browser, mut location: String) -> String {
        for _ in 0..10 {
            if location.starts_with(REDIRECT_URI) {
                return location;
            }
            let absolute = if location.starts_with('/') {
                format!("{}{location}", self.app.url)
            } else {
                self.app.local_url(&location)
            };
            let page = browser.get(&absolute).await;
            if page.status == 200 && page.body.contains("Demo sign-in") {
                let request = hidden_input(&page.body, "request").expect("request field");
                let next = browser
                    .post_form(
                        &format!("{}/t/{}/oauth/local", self.app.url, self.slug),
                        &[("request", &request), ("name", "Ada Lovelace")],
                    )
                    .await;
                location = next.location.expect("the demo sign-in redirects");
                continue;
            }
            location = match page.location {
                Some(next) => next,
                None => panic!(
                    "the flow stopped at {absolute}: {} {}",
                    page.status, page.body
                ),
            };
        }
        panic!("too many redirects");
    }

    /// The whole browser part: returns the authorization code.
    pub async fn authorize(&self, pkce: &Pkce) -> String {
        let browser = Browser::new();
        let consent = self.consent_page(&browser, pkce).await;
        let back = self.approve(&browser, &consent).await;
        assert_eq!(query_param(&back, "state").as_deref(), Some("xyz-state"));
        query_param(&back, "code").expect("a code")
    }

    /// POSTs to the token endpoint.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .app
            .http()
            .post(format!("{}/t/{}/oauth/token", self.app.url, self.slug))
            .form(form)
            .send()
            .await
            .expect("answer");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Exchanges a code.
    pub async fn exchange(&self, code: &str, pkce: &Pkce) -> (u16, Value) {
        let resource = self.app.resource_url(&self.slug);
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &pkce.verifier),
            ("client_id", &self.client_id),
            ("resource", &resource),
        ])
        .await
    }

    /// Refreshes.
    pub async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &self.client_id),
        ])
        .await
    }

    /// Registration, sign-in and code exchange: a token response.
    pub async fn sign_in(&self) -> Value {
        let pkce = Pkce::new();
        let code = self.authorize(&pkce).await;
        let (status, tokens) = self.exchange(&code, &pkce).await;
        assert_eq!(status, 200, "{tokens}");
        tokens
    }
}
