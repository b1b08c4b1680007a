//! A fake GitHub: a real HTTP server speaking GitHub's OAuth web flow and its REST API's user endpoints.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long GitHub's authorization codes live.
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// Where GitHub's token errors point.
const TOKEN_ERRORS_DOC: &str = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors";

/// Where GitHub's REST errors point.
const REST_DOC: &str = "https://docs.github.com/rest";

/// A GitHub account, as the fake knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHubUser {
    /// GitHub's numeric user id: stable across renames.
    pub id: i64,
    /// The login (username); it can change.
    pub login: String,
    /// The display name.
    pub name: Option<String>,
    /// The verified primary email; `None` means the account has no verified email.
    pub email: Option<String>,
}

impl GitHubUser {
    /// The user signed in at the fake until a test says otherwise: id 1001, `octocat`.
    pub fn octocat() -> Self {
        Self {
            id: 1001,
            login: "octocat".into(),
            name: Some("The Octocat".into()),
            email: Some("octocat@example.com".into()),
        }
    }
}

/// How `GET /api/user` should misbehave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserFailure {
    /// Answer with this HTTP status and GitHub's JSON error body.
    Status(u16),
    /// Answer `200 {}`.
    EmptyObject,
}

/// A running fake GitHub (web at [`url`](Self::url), REST API at [`api_url`](Self::api_url)).
/// Clones share the server and its records.
#[derive(Clone)]
pub struct FakeGitHub {
    /// `http://127.0.0.1:<port>`: stands for `https://github.com`.
    pub url: String,
    /// `http://127.0.0.1:<port>/api`: stands for `https://api.github.com`.
    pub api_url: String,
    /// The OAuth app's client id.
    pub client_id: String,
    /// The OAuth app's client secret.
    pub client_secret: String,
    shared: Arc<Shared>,
}

struct Shared {
    url: String,
    api_url: String,
    client_id: String,
    client_secret: String,
    records: Mutex<Records>,
}

impl Shared {
    fn records(&self) -> MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An authorization code waiting to be redeemed.
struct Grant {
    client_id: String,
    redirect_uri: String,
    code_challenge: Option<String>,
    scope: String,
    user_id: i64,
    expires: Instant,
}

/// An access token GitHub issued.
struct Issued {
    user_id: i64,
    scope: String,
}

struct Records {
    signed_in: i64,
    users: HashMap<i64, GitHubUser>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Issued>,
    user_failure: Option<UserFailure>,
    token_requests: usize,
    authorizations: Vec<String>,
}

impl FakeGitHub {
    /// Starts the fake on `127.0.0.1:0`, with the app `Iv1.fakeclient` (a random secret) and
    /// [`GitHubUser::octocat`] signed in.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the fake GitHub binds a port");
        let addr = listener.local_addr().expect("a local address");
        let url = format!("http://{addr}");
        let api_url = format!("{url}/api");
        let octocat = GitHubUser::octocat();
        let shared = Arc::new(Shared {
            url: url.clone(),
            api_url: api_url.clone(),
            client_id: "Iv1.fakeclient".into(),
            client_secret: random_hex(40),
            records: Mutex::new(Records {
                signed_in: octocat.id,
                users: HashMap::from([(octocat.id, octocat)]),
                codes: HashMap::new(),
                tokens: HashMap::new(),
                user_failure: None,
                token_requests: 0,
                authorizations: Vec::new(),
            }),
        });
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            url,
            api_url,
            client_id: shared.client_id.clone(),
            client_secret: shared.client_secret.clone(),
            shared,
        }
    }

    /// Makes `user` the person signed in at GitHub for later authorizations. The same `id` with
    /// a new login is a rename: tokens already issued to that id see the new details too.
    pub fn sign_in_as(&self, user: GitHubUser) {
        let mut records = self.shared.records();
        records.signed_in = user.id;
        records.users.insert(user.id, user);
    }

    /// Makes `GET /api/user` misbehave; `None` makes it normal again.
    pub fn fail_user_endpoint(&self, failure: Option<UserFailure>) {
        self.shared.records().user_failure = failure;
    }

    /// Expires every authorization code issued so far, as ten minutes passing would.
    pub fn expire_codes(&self) {
        let now = Instant::now();
        for grant in self.shared.records().codes.values_mut() {
            grant.expires = now;
        }
    }

    /// How many `POST /login/oauth/access_token` requests arrived.
    pub fn token_requests(&self) -> usize {
        self.shared.records().token_requests
    }

    /// Every `Authorization` header value received on `/api/*`, in order.
    pub fn bearer_tokens_seen(&self) -> Vec<String> {
        self.shared.records().authorizations.clone()
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return api(&shared, &method, path, &headers);
    }
    if path == "/login/oauth/authorize" && method == Method::GET {
        return authorize(&shared, &uri);
    }
    if path == "/login/oauth/access_token" && method == Method::POST {
        return access_token(&shared, &uri, &headers, &body);
    }
    html_page(StatusCode::NOT_FOUND, "Page not found · GitHub")
}

/// `GET /login/oauth/authorize`: the person has already authorized the app, so GitHub sends
/// the browser straight back with a code.
fn authorize(shared: &Shared, uri: &Uri) -> Response {
    let params = query_pairs(uri);
    if params.get("client_id").map(String::as_str) != Some(shared.client_id.as_str()) {
        return html_page(StatusCode::NOT_FOUND, "Page not found · GitHub");
    }
    let method = params.get("code_challenge_method");
    if method.is_some_and(|m| m != "S256") {
        return html_page(
            StatusCode::BAD_REQUEST,
            "code_challenge_method must be S256 · GitHub",
        );
    }
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return html_page(StatusCode::BAD_REQUEST, "redirect_uri is required · GitHub");
    };
    let Ok(mut location) = url::Url::parse(redirect_uri) else {
        return html_page(
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not a URL · GitHub",
        );
    };
    let code = random_hex(20);
    let scope = params
        .get("scope")
        .map(|s| {
            s.split([' ', ','])
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    {
        let mut records = shared.records();
        let user_id = records.signed_in;
        records.codes.insert(
            code.clone(),
            Grant {
                client_id: shared.client_id.clone(),
                redirect_uri: redirect_uri.clone(),
                code_challenge: params.get("code_challenge").cloned(),
                scope,
                user_id,
                expires: Instant::now() + CODE_LIFETIME,
            },
        );
    }
    {
        let mut query = location.query_pairs_mut();
        query.append_pair("code", &code);
        if let Some(state) = params.get("state") {
            query.append_pair("state", state);
        }
    }
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location.as_str()) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `POST /login/oauth/access_token`: redeems a code. Refusals are HTTP 200 with an `error`.
fn access_token(shared: &Shared, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
    let mut params = query_pairs(uri);
    params.extend(url::form_urlencoded::parse(body).into_owned());
    let as_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"));
    let mut records = shared.records();
    records.token_requests += 1;

    let (client_id, client_secret) = basic_credentials(headers).unwrap_or_else(|| {
        (
            params.get("client_id").cloned().unwrap_or_default(),
            params.get("client_secret").cloned().unwrap_or_default(),
        )
    });
    if client_id != shared.client_id || client_secret != shared.client_secret {
        return token_error(
            as_json,
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
            "#incorrect-client-credentials",
        );
    }
    let bad_code = || {
        token_error(
            as_json,
            "bad_verification_code",
            "The code passed is incorrect or expired.",
            "#bad-verification-code",
        )
    };
    // A code is spent by any attempt to redeem it.
    let Some(grant) = params
        .get("code")
        .and_then(|code| records.codes.remove(code))
    else {
        return bad_code();
    };
    if grant.expires <= Instant::now() || grant.client_id != client_id {
        return bad_code();
    }
    if params
        .get("redirect_uri")
        .is_some_and(|uri| *uri != grant.redirect_uri)
    {
        return token_error(
            as_json,
            "redirect_uri_mismatch",
            "The redirect_uri MUST match the registered callback URL for this application.",
            "#redirect-uri-mismatch",
        );
    }
    let pkce_holds = match (&grant.code_challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => tollgate::crypto::pkce_s256(verifier) == *challenge,
        (None, None) => true,
        // A verifier for a code issued without a challenge is a downgrade attempt.
        _ => false,
    };
    if !pkce_holds {
        return bad_code();
    }
    let token = format!("gho_{}", random_hex(36));
    records.tokens.insert(
        token.clone(),
        Issued {
            user_id: grant.user_id,
            scope: grant.scope.clone(),
        },
    );
    token_answer(
        as_json,
        &[
            ("access_token", &token),
            ("token_type", "bearer"),
            ("scope", &grant.scope),
        ],
    )
}

fn token_error(as_json: bool, error: &str, description: &str, anchor: &str) -> Response {
    let uri = format!("{TOKEN_ERRORS_DOC}/{anchor}");
    token_answer(
        as_json,
        &[
            ("error", error),
            ("error_description", description),
            ("error_uri", &uri),
        ],
    )
}

/// An answer of the token endpoint: JSON when asked for, else a form-encoded body; always 200.
fn token_answer(as_json: bool, pairs: &[(&str, &str)]) -> Response {
    if as_json {
        let object: serde_json::Map<String, Value> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect();
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            Value::Object(object).to_string(),
        )
            .into_response();
    }
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// `/api/*`: the REST API's `GET /user` and `GET /user/emails`.
fn api(shared: &Shared, method: &Method, path: &str, headers: &HeaderMap) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let mut records = shared.records();
    if let Some(value) = &authorization {
        records.authorizations.push(value.clone());
    }
    if !headers.contains_key(header::USER_AGENT) {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Request forbidden by administrative rules. Please make sure your request has a \
             User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). \
             Check https://developer.github.com for other possible causes.\n",
        )
            .into_response();
    }
    let route = path.trim_start_matches("/api");
    if *method != Method::GET || !matches!(route, "/user" | "/user/emails") {
        return rest_error(StatusCode::NOT_FOUND, "Not Found", REST_DOC);
    }
    let Some(value) = authorization else {
        return rest_error(
            StatusCode::UNAUTHORIZED,
            "Requires authentication",
            "https://docs.github.com/rest/users/users#get-the-authenticated-user",
        );
    };
    let token = value.split_once(' ').and_then(|(scheme, token)| {
        (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
            .then(|| token.trim())
    });
    let found = token
        .and_then(|token| records.tokens.get(token))
        .and_then(|issued| {
            records
                .users
                .get(&issued.user_id)
                .map(|user| (user.clone(), issued.scope.clone()))
        });
    let Some((user, scope)) = found else {
        return rest_error(StatusCode::UNAUTHORIZED, "Bad credentials", REST_DOC);
    };
    let mut response = if route == "/user" {
        match records.user_failure {
            Some(UserFailure::Status(status)) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                let message = status.canonical_reason().unwrap_or("Server Error");
                return rest_error(status, message, REST_DOC);
            }
            Some(UserFailure::EmptyObject) => rest_json(StatusCode::OK, &json!({})),
            None => rest_json(StatusCode::OK, &user_json(shared, &user)),
        }
    } else if scope.split(',').any(|s| s == "user:email" || s == "user") {
        rest_json(StatusCode::OK, &emails_json(&user))
    } else {
        // Without the `user:email` scope GitHub hides the resource.
        rest_error(
            StatusCode::NOT_FOUND,
            "Not Found",
            "https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user",
        )
    };
    if let Ok(value) = HeaderValue::from_str(&scope.replace(',', ", ")) {
        response.headers_mut().insert("x-oauth-scopes", value);
    }
    response
}

/// GitHub's "authenticated user" object.
fn user_json(shared: &Shared, user: &GitHubUser) -> Value {
    json!({
        "login": user.login,
        "id": user.id,
        "node_id": base64_encode(format!("04:User{}", user.id).as_bytes()),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", user.id),
        "gravatar_id": "",
        "url": format!("{}/users/{}", shared.api_url, user.login),
        "html_url": format!("{}/{}", shared.url, user.login),
        "type": "User",
        "user_view_type": "public",
        "site_admin": false,
        "name": user.name,
        "company": null,
        "blog": "",
        "location": null,
        "email": user.email,
        "hireable": null,
        "bio": null,
        "twitter_username": null,
        "public_repos": 8,
        "public_gists": 8,
        "followers": 0,
        "following": 0,
        "created_at": "2011-01-25T18:44:36Z",
        "updated_at": "2025-01-22T12:00:00Z",
    })
}

/// GitHub's email list: the verified primary plus an unverified secondary, or nothing.
fn emails_json(user: &GitHubUser) -> Value {
    match &user.email {
        Some(email) => json!([
            {"email": email, "primary": true, "verified": true, "visibility": "public"},
            {
                "email": format!("{}-old@example.net", user.login),
                "primary": false,
                "verified": false,
                "visibility": null,
            },
        ]),
        None => json!([]),
    }
}

fn rest_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json; charset=utf-8"),
            (
                header::HeaderName::from_static("x-github-media-type"),
                "github.v3; format=json",
            ),
        ],
        body.to_string(),
    )
        .into_response()
}

fn rest_error(status: StatusCode, message: &str, documentation_url: &str) -> Response {
    rest_json(
        status,
        &json!({
            "message": message,
            "documentation_url": documentation_url,
            "status": status.as_u16().to_string(),
        }),
    )
}

fn html_page(status: StatusCode, title: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body><h1>{}</h1><p>{title}</p></body></html>\n",
            status.as_u16()
        ),
    )
        .into_response()
}

fn query_pairs(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((percent_decode(id), percent_decode(secret)))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.trim_end_matches('=').bytes() {
        let value = BASE64.iter().position(|&b| b == c)?;
        acc = (acc << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `len` random lowercase hex digits.
fn random_hex(len: usize) -> String {
    let mut out = String::with_capacity(len + 32);
    while out.len() < len {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> reqwest::Client {
        crate::install_crypto();
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client")
    }

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CALLBACK: &str = "http://127.0.0.1:9/t/demo/oauth/callback/github?x=1";

    /// Runs the authorize hop and returns the code GitHub sent back.
    async fn authorize(github: &FakeGitHub, http: &reqwest::Client) -> String {
        let challenge = tollgate::crypto::pkce_s256(VERIFIER);
        let response = http
            .get(format!("{}/login/oauth/authorize", github.url))
            .query(&[
                ("client_id", github.client_id.as_str()),
                ("redirect_uri", CALLBACK),
                ("scope", "read:user user:email"),
                ("state", "st4te"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await
            .expect("GitHub answers");
        assert_eq!(response.status(), 302);
        let location = response.headers()[header::LOCATION]
            .to_str()
            .expect("ascii")
            .to_owned();
        let location = url::Url::parse(&location).expect("a URL");
        assert_eq!(location.path(), "/t/demo/oauth/callback/github");
        let pairs: HashMap<String, String> = location.query_pairs().into_owned().collect();
        assert_eq!(pairs["x"], "1");
        assert_eq!(pairs["state"], "st4te");
        pairs["code"].clone()
    }

    async fn redeem(
        github: &FakeGitHub,
        http: &reqwest::Client,
        code: &str,
        verifier: &str,
    ) -> Value {
        http.post(format!("{}/login/oauth/access_token", github.url))
            .header("accept", "application/json")
            .form(&[
                ("client_id", github.client_id.as_str()),
                ("client_secret", github.client_secret.as_str()),
                ("code", code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .expect("GitHub answers")
            .json()
            .await
            .expect("JSON")
    }

    async fn get_api(
        github: &FakeGitHub,
        http: &reqwest::Client,
        path: &str,
        auth: &str,
    ) -> (u16, Value) {
        let response = http
            .get(format!("{}{path}", github.api_url))
            .header("authorization", auth)
            .header("user-agent", "fake-github-test")
            .send()
            .await
            .expect("GitHub answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON"))
    }

    #[tokio::test]
    async fn a_code_becomes_a_token_that_reads_the_user_and_their_emails() {
        let github = FakeGitHub::start().await;
        let http = client();
        let code = authorize(&github, &http).await;
        let token = redeem(&github, &http, &code, VERIFIER).await;
        assert_eq!(token["token_type"], "bearer");
        assert_eq!(token["scope"], "read:user,user:email");
        let access = token["access_token"].as_str().expect("a token");
        assert!(access.starts_with("gho_"), "{access}");

        let (status, user) = get_api(&github, &http, "/user", &format!("Bearer {access}")).await;
        assert_eq!(status, 200);
        assert_eq!(user["id"], 1001);
        assert_eq!(user["login"], "octocat");
        assert_eq!(user["name"], "The Octocat");
        assert_eq!(user["node_id"], base64_encode(b"04:User1001"));
        assert_eq!(user["type"], "User");
        let (status, emails) =
            get_api(&github, &http, "/user/emails", &format!("token {access}")).await;
        assert_eq!(status, 200);
        assert_eq!(emails[0]["email"], "octocat@example.com");
        assert_eq!(emails[0]["primary"], true);
        assert_eq!(emails[0]["verified"], true);
        assert_eq!(emails[1]["verified"], false);
        assert_eq!(github.token_requests(), 1);
        assert_eq!(
            github.bearer_tokens_seen(),
            vec![format!("Bearer {access}"), format!("token {access}")]
        );
    }

    #[tokio::test]
    async fn a_code_is_single_use_and_needs_the_right_verifier() {
        let github = FakeGitHub::start().await;
        let http = client();
        let code = authorize(&github, &http).await;
        let wrong = redeem(&github, &http, &code, &VERIFIER.replace('d', "e")).await;
        assert_eq!(wrong["error"], "bad_verification_code");
        let spent = redeem(&github, &http, &code, VERIFIER).await;
        assert_eq!(spent["error"], "bad_verification_code");
        assert_eq!(
            spent["error_description"],
            "The code passed is incorrect or expired."
        );

        let code = authorize(&github, &http).await;
        assert!(redeem(&github, &http, &code, VERIFIER).await["access_token"].is_string());
        let replay = redeem(&github, &http, &code, VERIFIER).await;
        assert_eq!(replay["error"], "bad_verification_code");

        let code = authorize(&github, &http).await;
        github.expire_codes();
        let expired = redeem(&github, &http, &code, VERIFIER).await;
        assert_eq!(expired["error"], "bad_verification_code");
        assert_eq!(github.token_requests(), 5);
    }

    #[tokio::test]
    async fn errors_are_http_200_in_the_format_the_client_accepts() {
        let github = FakeGitHub::start().await;
        let http = client();
        let code = authorize(&github, &http).await;
        let response = http
            .post(format!("{}/login/oauth/access_token", github.url))
            .form(&[
                ("client_id", github.client_id.as_str()),
                ("client_secret", "wrong"),
                ("code", &code),
            ])
            .send()
            .await
            .expect("GitHub answers");
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .expect("ascii")
                .starts_with("application/x-www-form-urlencoded")
        );
        let body = response.text().await.expect("text");
        let pairs: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs["error"], "incorrect_client_credentials");

        // The wrong secret did not spend the code; a wrong redirect_uri does.
        let mismatch: Value = http
            .post(format!("{}/login/oauth/access_token", github.url))
            .header("accept", "application/json")
            .basic_auth(&github.client_id, Some(&github.client_secret))
            .form(&[
                ("code", code.as_str()),
                ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
                ("code_verifier", VERIFIER),
            ])
            .send()
            .await
            .expect("GitHub answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(mismatch["error"], "redirect_uri_mismatch");

        let code = authorize(&github, &http).await;
        let response = http
            .post(format!("{}/login/oauth/access_token", github.url))
            .basic_auth(&github.client_id, Some(&github.client_secret))
            .form(&[("code", code.as_str()), ("code_verifier", VERIFIER)])
            .send()
            .await
            .expect("GitHub answers");
        let body = response.text().await.expect("text");
        let pairs: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert!(pairs["access_token"].starts_with("gho_"), "{body}");
        assert_eq!(pairs["scope"], "read:user,user:email");
    }

    #[tokio::test]
    async fn authorize_refuses_unknown_apps_and_plain_pkce() {
        let github = FakeGitHub::start().await;
        let http = client();
        let unknown = http
            .get(format!(
                "{}/login/oauth/authorize?client_id=nope&redirect_uri={CALLBACK}",
                github.url
            ))
            .send()
            .await
            .expect("GitHub answers");
        assert_eq!(unknown.status(), 404);
        let plain = http
            .get(format!("{}/login/oauth/authorize", github.url))
            .query(&[
                ("client_id", github.client_id.as_str()),
                ("redirect_uri", CALLBACK),
                ("code_challenge", VERIFIER),
                ("code_challenge_method", "plain"),
            ])
            .send()
            .await
            .expect("GitHub answers");
        assert_eq!(plain.status(), 400);
    }

    #[tokio::test]
    async fn the_user_endpoint_follows_renames_failures_and_bad_credentials() {
        let github = FakeGitHub::start().await;
        let http = client();
        let code = authorize(&github, &http).await;
        let token = redeem(&github, &http, &code, VERIFIER).await;
        let auth = format!("Bearer {}", token["access_token"].as_str().expect("token"));

        github.sign_in_as(GitHubUser {
            id: 1001,
            login: "octocat-renamed".into(),
            name: None,
            email: None,
        });
        let (_, user) = get_api(&github, &http, "/user", &auth).await;
        assert_eq!(user["login"], "octocat-renamed");
        assert_eq!(user["name"], Value::Null);
        let (_, emails) = get_api(&github, &http, "/user/emails", &auth).await;
        assert_eq!(emails, json!([]));

        github.fail_user_endpoint(Some(UserFailure::Status(503)));
        let (status, body) = get_api(&github, &http, "/user", &auth).await;
        assert_eq!((status, body["status"].clone()), (503, json!("503")));
        github.fail_user_endpoint(Some(UserFailure::EmptyObject));
        assert_eq!(
            get_api(&github, &http, "/user", &auth).await,
            (200, json!({}))
        );
        github.fail_user_endpoint(None);

        let (status, body) = get_api(&github, &http, "/user", "Bearer gho_forged").await;
        assert_eq!(status, 401);
        assert_eq!(body["message"], "Bad credentials");
        let no_agent = http
            .get(format!("{}/user", github.api_url))
            .header("authorization", &auth)
            .send()
            .await
            .expect("GitHub answers");
        assert_eq!(no_agent.status(), 403);
    }

    #[test]
    fn base64_round_trips() {
        for text in ["", "a", "ab", "abc", "abcd", "Iv1.fakeclient:s%3Ac"] {
            let encoded = base64_encode(text.as_bytes());
            assert_eq!(encoded.len() % 4, 0);
            assert_eq!(base64_decode(&encoded), Some(text.as_bytes().to_vec()));
        }
        assert_eq!(base64_encode(b"04:User1"), "MDQ6VXNlcjE=");
        assert_eq!(percent_decode("s%3Ac+d"), "s:c d");
    }
}
