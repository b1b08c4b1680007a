//! GitHub as the upstream identity provider: the OAuth web flow (oauth2 crate, code + PKCE +
//! state) and the user's numeric id, login, name and verified email from GitHub's API.

use crate::crypto::SecretString;
use futures::future::BoxFuture;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, TokenResponse, TokenUrl,
};
use serde::Deserialize;

/// The HTTP client GitHub calls go through, one for the whole process (the vendor's type stays
/// in this adapter; the rest of the server names it through this alias).
pub type HttpClient = reqwest::Client;

/// The client for upstream identity calls. It never follows redirects: a redirect from a token
/// endpoint is an error, not a place to send a code.
pub fn http_client() -> Result<HttpClient, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
}

/// Who signed in upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamIdentity {
    /// The provider's stable id: GitHub's numeric user id, as text.
    pub subject: String,
    /// The login (it can change; never a key).
    pub login: String,
    /// The display name.
    pub name: Option<String>,
    /// The verified primary email, when there is one.
    pub email: Option<String>,
}

/// Why an upstream sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The provider refused the code (expired, reused, wrong app).
    #[error("GitHub refused the sign-in: {0}")]
    Refused(String),
    /// The provider could not be reached or answered something unusable.
    #[error("GitHub could not be reached or answered unexpectedly: {0}")]
    Unavailable(String),
}

/// An upstream identity provider: where to send the browser, and who came back.
pub trait IdentityProvider: Send + Sync {
    /// The URL that starts the provider's sign-in.
    fn authorize_url(&self, callback: &str, state: &str, pkce_challenge: &str) -> String;

    /// Redeems the provider's code and reads the user.
    fn sign_in<'a>(
        &'a self,
        callback: &'a str,
        code: &'a str,
        pkce_verifier: &'a str,
    ) -> BoxFuture<'a, Result<UpstreamIdentity, IdentityError>>;
}

/// A GitHub OAuth app, reached through configurable base URLs.
pub struct GitHubIdentity {
    client_id: String,
    client_secret: SecretString,
    web_url: String,
    api_url: String,
    http: reqwest::Client,
}

impl GitHubIdentity {
    /// The app `client_id`/`client_secret` at `web_url` (e.g. `https://github.com`) and
    /// `api_url` (e.g. `https://api.github.com`). `http` must not follow redirects.
    pub fn new(
        client_id: String,
        client_secret: SecretString,
        web_url: &str,
        api_url: &str,
        http: reqwest::Client,
    ) -> Self {
        Self {
            client_id,
            client_secret,
            web_url: web_url.trim_end_matches('/').to_owned(),
            api_url: api_url.trim_end_matches('/').to_owned(),
            http,
        }
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        token: &str,
    ) -> Result<T, IdentityError> {
        let response = self
            .http
            .get(format!("{}{path}", self.api_url))
            .bearer_auth(token)
            .header("accept", "application/vnd.github+json")
            .header(
                "user-agent",
                concat!("Tollgate/", env!("CARGO_PKG_VERSION")),
            )
            .send()
            .await
            .map_err(|e| IdentityError::Unavailable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(IdentityError::Unavailable(format!(
                "{path} answered {}",
                response.status()
            )));
        }
        response
            .json::<T>()
            .await
            .map_err(|e| IdentityError::Unavailable(format!("{path}: {}", e.without_url())))
    }
}

#[derive(Deserialize)]
struct GitHubUser {
    id: i64,
    login: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// Sends oauth2's requests with reqwest 0.13 (oauth2's own reqwest feature would pull a second
/// reqwest).
async fn send_with(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut builder = oauth2::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let bytes = response.bytes().await?;
    Ok(builder
        .body(bytes.to_vec())
        .unwrap_or_else(|_| oauth2::http::Response::new(Vec::new())))
}

impl IdentityProvider for GitHubIdentity {
    fn authorize_url(&self, callback: &str, state: &str, pkce_challenge: &str) -> String {
        let mut url = url::Url::parse(&format!("{}/login/oauth/authorize", self.web_url))
            .unwrap_or_else(|_| {
                url::Url::parse("https://github.com/login/oauth/authorize").expect("static URL")
            });
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", callback)
            .append_pair("scope", "read:user user:email")
            .append_pair("state", state)
            .append_pair("code_challenge", pkce_challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("allow_signup", "true");
        url.to_string()
    }

    fn sign_in<'a>(
        &'a self,
        callback: &'a str,
        code: &'a str,
        pkce_verifier: &'a str,
    ) -> BoxFuture<'a, Result<UpstreamIdentity, IdentityError>> {
        Box::pin(async move {
            let bad_url = |e: oauth2::url::ParseError| IdentityError::Unavailable(e.to_string());
            let client = BasicClient::new(ClientId::new(self.client_id.clone()))
                .set_client_secret(ClientSecret::new(self.client_secret.expose().to_owned()))
                .set_auth_uri(
                    AuthUrl::new(format!("{}/login/oauth/authorize", self.web_url))
                        .map_err(bad_url)?,
                )
                .set_token_uri(
                    TokenUrl::new(format!("{}/login/oauth/access_token", self.web_url))
                        .map_err(bad_url)?,
                )
                .set_redirect_uri(RedirectUrl::new(callback.to_owned()).map_err(bad_url)?)
                .set_auth_type(AuthType::RequestBody);
            let client_http = self.http.clone();
            let http = move |request: oauth2::HttpRequest| {
                let client_http = client_http.clone();
                async move { send_with(&client_http, request).await }
            };
            let token = client
                .exchange_code(AuthorizationCode::new(code.to_owned()))
                .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
                .request_async(&http)
                .await
                .map_err(|e| match e {
                    // GitHub answers refusals with HTTP 200 and `{"error": …}`, which oauth2
                    // reports as a body it cannot parse.
                    oauth2::RequestTokenError::ServerResponse(r) => {
                        IdentityError::Refused(r.error().to_string())
                    }
                    oauth2::RequestTokenError::Parse(_, body) => IdentityError::Refused(
                        serde_json::from_slice::<serde_json::Value>(&body)
                            .ok()
                            .and_then(|v| {
                                v.get("error").and_then(|e| e.as_str()).map(str::to_owned)
                            })
                            .unwrap_or_else(|| "unexpected token response".into()),
                    ),
                    other => IdentityError::Unavailable(other.to_string()),
                })?;
            let access = token.access_token().secret();
            let user: GitHubUser = self.get_json("/user", access).await?;
            if user.login.is_empty() {
                return Err(IdentityError::Unavailable("/user gave no login".into()));
            }
            // Only a verified primary address is worth keeping; a failure here is not fatal.
            let email = self
                .get_json::<Vec<GitHubEmail>>("/user/emails", access)
                .await
                .ok()
                .and_then(|emails| {
                    emails
                        .into_iter()
                        .find(|e| e.primary && e.verified)
                        .map(|e| e.email)
                });
            Ok(UpstreamIdentity {
                subject: user.id.to_string(),
                login: user.login,
                name: user.name.filter(|n| !n.is_empty()),
                email,
            })
        })
    }
}

/// A fresh PKCE pair for the upstream hop: (challenge, verifier).
pub fn upstream_pkce() -> (String, SecretString) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    (
        challenge.as_str().to_owned(),
        SecretString::new(verifier.secret().clone()),
    )
}

/// A fresh random `state` for the upstream hop.
pub fn upstream_state() -> SecretString {
    SecretString::new(CsrfToken::new_random().secret().clone())
}
