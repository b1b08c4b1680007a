//! The admin API client: same-origin `fetch` (the session cookie goes along), JSON in and out,
//! `X-CSRF-Token` on every write, the API's `ErrorBody` as the error, and a 401 anywhere sends
//! the operator to the sign-in page.

use crate::wire::{ApiError, ErrorBody, Session};
use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;

thread_local! {
    static CSRF: RefCell<Option<String>> = const { RefCell::new(None) };
    static ON_UNAUTHENTICATED: RefCell<Option<Box<dyn Fn()>>> = const { RefCell::new(None) };
}

/// Remembers the CSRF token of a fresh session.
pub fn remember(session: &Session) {
    CSRF.with(|c| *c.borrow_mut() = Some(session.csrf_token.clone()));
}

/// Forgets the CSRF token (signed out).
pub fn forget() {
    CSRF.with(|c| *c.borrow_mut() = None);
}

/// What to do when the API answers 401 (the app navigates to the sign-in page).
pub fn on_unauthenticated(f: impl Fn() + 'static) {
    ON_UNAUTHENTICATED.with(|c| *c.borrow_mut() = Some(Box::new(f)));
}

/// A failed call: the HTTP status (0 when the request never got an answer) and the API's error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// HTTP status, 0 for network errors.
    pub status: u16,
    /// The API's error body (or one made up for network and parse errors).
    pub error: ApiError,
    /// Seconds from `Retry-After` (429).
    pub retry_after: Option<u64>,
}

impl Failure {
    fn local(code: &str, message: impl Into<String>) -> Self {
        Failure {
            status: 0,
            error: ApiError {
                code: code.into(),
                message: message.into(),
                field: None,
            },
            retry_after: None,
        }
    }

    /// The sentence to show.
    pub fn message(&self) -> String {
        match (self.status, self.retry_after) {
            (429, Some(secs)) => format!("Too many attempts, try again in {secs} seconds."),
            (429, None) => "Too many attempts, try again in a few minutes.".into(),
            (403, _) if self.error.code == "forbidden" => {
                "Your role does not allow this.".to_string()
            }
            _ => capitalise(&self.error.message),
        }
    }

    /// The sentence to show, consuming the failure.
    pub fn into_message(self) -> String {
        self.message()
    }

    /// The field the API blames, if any.
    pub fn field(&self) -> Option<&str> {
        self.error.field.as_deref()
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The result of a call.
pub type ApiResult<T> = Result<T, Failure>;

/// `/api/v1` + `path`.
fn url(path: &str) -> String {
    format!("/api/v1{path}")
}

/// Percent-encodes one path segment.
pub fn seg(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn with_csrf(builder: RequestBuilder) -> RequestBuilder {
    let builder = builder.header("Accept", "application/json");
    match CSRF.with(|c| c.borrow().clone()) {
        Some(token) => builder.header("X-CSRF-Token", &token),
        None => builder,
    }
}

async fn run(request: Result<Request, gloo_net::Error>, quiet_401: bool) -> ApiResult<Response> {
    let request = request.map_err(|e| Failure::local("bad_request", e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| Failure::local("network", format!("The server did not answer ({e}).")))?;
    let status = response.status();
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.trim().parse().ok());
    let text = response.text().await.unwrap_or_default();
    let error = serde_json::from_str::<ErrorBody>(&text)
        .map(|body| body.error)
        .unwrap_or_else(|_| ApiError {
            code: "internal".into(),
            message: format!("the server answered {status}"),
            field: None,
        });
    if status == 401 && !quiet_401 {
        forget();
        ON_UNAUTHENTICATED.with(|c| {
            if let Some(f) = c.borrow().as_ref() {
                f();
            }
        });
    }
    Err(Failure {
        status,
        error,
        retry_after,
    })
}

async fn decode<T: DeserializeOwned>(response: Response) -> ApiResult<T> {
    let text = response
        .text()
        .await
        .map_err(|e| Failure::local("network", e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| {
        Failure::local(
            "internal",
            format!("Unexpected answer from the server: {e}"),
        )
    })
}

/// `GET` and decode.
pub async fn get<T: DeserializeOwned>(path: &str) -> ApiResult<T> {
    decode(run(with_csrf(Request::get(&url(path))).build(), false).await?).await
}

/// `GET` without the sign-in redirect on 401 (for the pages that work signed out).
pub async fn get_quiet<T: DeserializeOwned>(path: &str) -> ApiResult<T> {
    decode(run(with_csrf(Request::get(&url(path))).build(), true).await?).await
}

/// Which write.
#[derive(Clone, Copy, Debug)]
pub enum Method {
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

fn builder(method: Method, path: &str) -> RequestBuilder {
    let url = url(path);
    with_csrf(match method {
        Method::Post => Request::post(&url),
        Method::Put => Request::put(&url),
        Method::Patch => Request::patch(&url),
        Method::Delete => Request::delete(&url),
    })
}

/// A write with a JSON body, decoding the JSON answer.
pub async fn send<B: Serialize, T: DeserializeOwned>(
    method: Method,
    path: &str,
    body: &B,
) -> ApiResult<T> {
    decode(run(builder(method, path).json(body), false).await?).await
}

/// A write with a JSON body (quiet on 401: sign-in, setup, invitations).
pub async fn send_quiet<B: Serialize, T: DeserializeOwned>(
    method: Method,
    path: &str,
    body: &B,
) -> ApiResult<T> {
    decode(run(builder(method, path).json(body), true).await?).await
}

/// A write without a body, decoding the JSON answer.
pub async fn call<T: DeserializeOwned>(method: Method, path: &str) -> ApiResult<T> {
    decode(run(builder(method, path).build(), false).await?).await
}

/// A write without a body whose answer is empty (204).
pub async fn call_empty(method: Method, path: &str) -> ApiResult<()> {
    run(builder(method, path).build(), false).await.map(drop)
}

/// A write with a body whose answer is empty (204).
pub async fn send_empty<B: Serialize>(method: Method, path: &str, body: &B) -> ApiResult<()> {
    run(builder(method, path).json(body), false).await.map(drop)
}

/// What `GET /api/v1/session` tells: the session, or (401) not signed in (with the sign-in
/// options, should the server add them to the error body).
pub enum Probe {
    /// Signed in.
    SignedIn(Session),
    /// Signed out, with the options when the server gave them.
    SignedOut(Option<crate::wire::SignInOptions>),
}

/// Asks whether the operator is signed in, without redirecting.
pub async fn probe_session() -> Probe {
    let request = with_csrf(Request::get(&url("/session"))).build();
    let Ok(request) = request else {
        return Probe::SignedOut(None);
    };
    let Ok(response) = request.send().await else {
        return Probe::SignedOut(None);
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if (200..300).contains(&status)
        && let Ok(session) = serde_json::from_str::<Session>(&text)
    {
        return Probe::SignedIn(session);
    }
    Probe::SignedOut(serde_json::from_str(&text).ok())
}
