//! An operator talking to the admin API (`/api/v1`) the way the dashboard does: the session
//! cookie kept by hand (the tests' HTTP client has no cookie store) and the CSRF token sent with
//! every write; or, instead, a personal API token.

use crate::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;

/// The setup link's token every test app is started with (`TOLLGATE_SETUP_TOKEN`).
pub const SETUP_TOKEN: &str = "setup_test_token_0123456789";
/// The first operator's password.
pub const PASSWORD: &str = "correct horse battery";

/// Where the built dashboard is: `TOLLGATE_ADMIN_ASSETS`, else the workspace's `frontend/dist`.
pub fn assets_dir() -> PathBuf {
    std::env::var_os("TOLLGATE_ADMIN_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("frontend")
                .join("dist")
        })
}

/// An operator's HTTP client.
#[derive(Clone)]
pub struct Operator {
    base: String,
    http: reqwest::Client,
    /// `tollgate_admin=…`, when signed in with a session.
    pub cookie: Option<String>,
    /// The session's CSRF token.
    pub csrf: Option<String>,
    /// A personal API token, used instead of the cookie when set.
    pub token: Option<String>,
    /// The operator's id.
    pub id: String,
}

/// An answer: status, headers and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body.
    pub body: Value,
}

impl Answer {
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// The `tollgate_admin=…` pair of a response's `Set-Cookie`, and the whole header line.
pub fn session_cookie(headers: &reqwest::header::HeaderMap) -> Option<(String, String)> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tollgate_admin="))
        .map(|line| {
            let pair = line.split(';').next().unwrap_or_default().to_owned();
            (pair, line.to_owned())
        })
}

impl Operator {
    /// Signed out.
    pub fn anonymous(app: &TestApp) -> Self {
        Self {
            base: app.url.clone(),
            http: app.http().clone(),
            cookie: None,
            csrf: None,
            token: None,
            id: String::new(),
        }
    }

    /// Sends a request; `body` as JSON.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        } else if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
            if method != Method::GET
                && let Some(csrf) = &self.csrf
            {
                request = request.header("x-csrf-token", csrf);
            }
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the admin API answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }

    /// PATCH with a JSON body.
    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PATCH, path, Some(body)).await
    }

    /// PUT with a JSON body.
    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PUT, path, Some(body)).await
    }

    /// DELETE, with an optional JSON body.
    pub async fn delete(&self, path: &str, body: Option<Value>) -> Answer {
        self.send(Method::DELETE, path, body).await
    }

    /// Takes the session from a sign-in answer.
    pub fn adopt(&mut self, answer: &Answer) {
        let (pair, _) = session_cookie(&answer.headers).expect("a session cookie is set");
        self.cookie = Some(pair);
        self.csrf = answer.body["csrf_token"].as_str().map(str::to_owned);
        self.id = answer.body["operator"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    }

    /// The same operator (the same session), talking to another replica of the app.
    pub fn at(&self, app: &TestApp) -> Self {
        Self {
            base: app.url.clone(),
            ..self.clone()
        }
    }

    /// The same operator, using a personal API token instead of the cookie.
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            cookie: None,
            csrf: None,
            ..self.clone()
        }
    }
}

impl TestApp {
    /// Creates the first operator (`owner@example.com`, owner of the demo tenant) through the
    /// setup link, signed in.
    pub async fn first_operator(&self) -> Operator {
        let mut operator = Operator::anonymous(self);
        let answer = operator
            .post(
                "/api/v1/setup",
                json!({"token": SETUP_TOKEN, "email": "owner@example.com", "name": "Olive Owner", "password": PASSWORD}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
        operator.adopt(&answer);
        operator
    }

    /// A new operator with an e-mail account, made by `inviter` inviting `email` to `slug` as
    /// `role`, and accepting; signed in.
    pub async fn invited_operator(
        &self,
        inviter: &Operator,
        slug: &str,
        email: &str,
        role: &str,
    ) -> Operator {
        let invitation = inviter
            .post(
                &format!("/api/v1/tenants/{slug}/invitations"),
                json!({"email": email, "role": role}),
            )
            .await;
        assert_eq!(
            invitation.status,
            StatusCode::CREATED,
            "{:?}",
            invitation.body
        );
        let url = invitation.body["accept_url"].as_str().expect("a link");
        let token = url.split("token=").nth(1).expect("a token in the link");
        let mut operator = Operator::anonymous(self);
        let answer = operator
            .post(
                "/api/v1/invitations/accept",
                json!({"token": token, "name": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        operator.adopt(&answer);
        operator
    }

    /// An operator who is a member only of a tenant of their own, `slug`.
    pub async fn stranger(&self, inviter: &Operator, slug: &str) -> Operator {
        let created = inviter
            .post(
                "/api/v1/tenants",
                json!({"slug": slug, "name": "Stranger's"}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let stranger = self
            .invited_operator(inviter, slug, &format!("{slug}@example.com"), "owner")
            .await;
        // The inviter leaves, so the stranger is the only member.
        let left = stranger
            .delete(
                &format!("/api/v1/tenants/{slug}/members/{}", inviter.id),
                None,
            )
            .await;
        assert_eq!(left.status, StatusCode::NO_CONTENT, "{:?}", left.body);
        stranger
    }
}

/// Signs `email` (with the harness's [`PASSWORD`]) in on the dashboard's sign-in page that
/// `browser` shows, as a person would: waits for the form, types, presses the button.
pub async fn sign_in_in_browser(browser: &crate::webdriver::Chromium, email: &str) {
    browser
        .wait_for("[data-test=sign-in-form]")
        .await
        .expect("the sign-in form");
    browser
        .fill("[data-test=sign-in-form] [name=email]", email)
        .await
        .expect("e-mail");
    browser
        .fill("[data-test=sign-in-form] [name=password]", PASSWORD)
        .await
        .expect("password");
    browser
        .click("[data-test=sign-in-submit]")
        .await
        .expect("sign in");
}

/// A Chromium at `width` × `height` that opened `/admin{path}` signed out and signed in there
/// as `email` (the dashboard then shows `path`, or the tenant list for `/sign-in`).
pub async fn browser_signed_in(
    app: &TestApp,
    (width, height): (u32, u32),
    path: &str,
    email: &str,
) -> crate::webdriver::Chromium {
    let browser = crate::webdriver::Chromium::launch_at(width, height).await;
    browser
        .goto(&format!("{}/admin{path}", app.url))
        .await
        .expect("the dashboard");
    sign_in_in_browser(&browser, email).await;
    browser
}

/// On a tenant's sign-in settings page: sets a well-formed GitHub OAuth app of the tenant's
/// own and waits until the page names it as the active sign-in.
pub async fn use_own_github_app_in_browser(browser: &crate::webdriver::Chromium) {
    browser
        .fill(
            "[data-test=github-app-form] [name=client_id]",
            "Iv1.0123456789abcdef",
        )
        .await
        .expect("client id");
    browser
        .fill(
            "[data-test=github-app-form] [name=client_secret]",
            "0123456789abcdef0123456789abcdef01234567",
        )
        .await
        .expect("client secret");
    browser
        .click("[data-test=github-app-submit]")
        .await
        .expect("use this app");
    browser
        .wait_for_text("[data-test=sign-in-active]", "your own GitHub OAuth app")
        .await
        .expect("the tenant's own app is active");
}

impl Operator {
    /// Creates the tenant `slug` without the WordPress.org tools and adds every tool of the
    /// diagnostics pack (the conformance suite's fixtures) from the catalog, as an operator
    /// would in the dashboard. Returns the names of the tools added.
    pub async fn tenant_with_diagnostics_pack(&self, slug: &str) -> Vec<String> {
        let created = self
            .post(
                "/api/v1/tenants",
                json!({"slug": slug, "name": "Conformance", "install_catalog": false}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let catalog = self.get("/api/v1/catalog").await;
        let mut names = Vec::new();
        for entry in catalog.body.as_array().into_iter().flatten() {
            let operation = entry["operation"].as_str().unwrap_or_default();
            if !operation.starts_with("diagnostics.") {
                continue;
            }
            let name = entry["default_name"].as_str().unwrap_or_default();
            let added = self
                .post(
                    &format!("/api/v1/tenants/{slug}/tools"),
                    json!({"operation": operation, "name": name}),
                )
                .await;
            assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
            names.push(name.to_owned());
        }
        assert!(!names.is_empty(), "the catalog offers the diagnostics pack");
        names
    }
}
