//! The HTTP face of each tenant's authorization server: metadata, registration, the browser
//! flow (authorize → consent → GitHub or the demo sign-in → code), token and revocation.

use super::{
    AuthorizeParams, ConsentOutcome, FlowError, OAuthError, RegistrationRequest, TokenParams, pages,
};
use crate::app::AppState;
use crate::html::{binding_cookie, cookies, foreign_form, form_from_our_pages, page};
use crate::limit::routes::{ClientAddress, with_retry_after};
use crate::limit::{Check, Limit};
use crate::tenant::{Tenant, TenantError};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

/// The tenant of a JSON endpoint; a deleted one is 410 Gone, a missing one 404.
async fn tenant(state: &AppState, slug: &str) -> Result<Tenant, Response> {
    match state.tenants.get_tenant_by_slug(slug).await {
        Ok(tenant) => Ok(tenant),
        Err(TenantError::TenantGone) => Err((
            StatusCode::GONE,
            Json(json!({"error": "gone", "message": GONE_MESSAGE})),
        )
            .into_response()),
        Err(TenantError::Database(error)) => {
            tracing::error!(tenant.slug = %slug, %error, "tenant lookup failed");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": "temporarily_unavailable"})),
            )
                .into_response())
        }
        Err(_) => Err((StatusCode::NOT_FOUND, Json(json!({"error": "not_found"}))).into_response()),
    }
}

const GONE_MESSAGE: &str =
    "This service was deleted by its operator; its sign-in is no longer available.";

/// The tenant of a browser page, or a 404 (410 when deleted) page.
async fn page_tenant(state: &AppState, slug: &str) -> Result<Tenant, Response> {
    tenant(state, slug).await.map_err(|response| {
        let (status, text) = match response.status() {
            StatusCode::GONE => (StatusCode::GONE, GONE_MESSAGE),
            StatusCode::SERVICE_UNAVAILABLE => (
                StatusCode::SERVICE_UNAVAILABLE,
                "This service is unavailable right now. Please try again in a minute.",
            ),
            _ => (StatusCode::NOT_FOUND, "There is no such service here."),
        };
        page(status, pages::error(text))
    })
}

/// The tenant of a browser form: a form not sent from our own pages is refused first.
async fn form_tenant(
    state: &AppState,
    slug: &str,
    headers: &HeaderMap,
) -> Result<Tenant, Response> {
    if !form_from_our_pages(headers, &state.config.public_url) {
        return Err(foreign_form("Sign-in problem"));
    }
    page_tenant(state, slug).await
}

/// `Cache-Control: no-store`: tokens, redirects and OAuth errors are never cached.
const NO_STORE: (HeaderName, &str) = (header::CACHE_CONTROL, "no-store");
/// `Access-Control-Allow-Origin: *`: the JSON endpoints serve browser-based clients too.
const ANY_ORIGIN: (HeaderName, &str) = (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");

fn with_headers(mut response: Response, headers: &[(HeaderName, &'static str)]) -> Response {
    for (name, value) in headers {
        response
            .headers_mut()
            .insert(name.clone(), HeaderValue::from_static(value));
    }
    response
}

/// The response with the cookie that binds the sign-in to this browser, when one is due.
fn with_binding_cookie(
    mut response: Response,
    state: &AppState,
    name: &str,
    value: &str,
) -> Response {
    if let Some(cookie) = binding_cookie(name, value, &state.config.public_url) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The limits of an endpoint counted per client address and, when the request names a client,
/// per client, both within the tenant.
fn address_and_client_checks(
    tenant: &Tenant,
    address: &ClientAddress,
    per_address: (Limit, &str),
    per_client: (Limit, &str),
    client_id: Option<&str>,
) -> Vec<Check> {
    let tenant_id = tenant.id.0.to_string();
    let mut checks = vec![Check::new(
        per_address.0,
        per_address.1,
        &[&tenant_id, &address.key()],
    )];
    if let Some(client_id) = client_id {
        checks.push(Check::new(
            per_client.0,
            per_client.1,
            &[&tenant_id, client_id],
        ));
    }
    checks
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    with_headers(response, &[NO_STORE])
}

fn flow_error(error: FlowError) -> Response {
    match error {
        FlowError::Local { status, message } => page(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            pages::error(&message),
        ),
        FlowError::Redirect(location) => see_other(&location),
    }
}

/// OAuth JSON errors, as RFC 6749 §5.2 spells them.
fn oauth_error(error: &OAuthError) -> Response {
    let status = match error {
        OAuthError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
        OAuthError::Server(e) => {
            tracing::error!(error = %e, "authorization server database error");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    let response = (
        status,
        Json(json!({"error": error.code(), "error_description": error.to_string()})),
    )
        .into_response();
    let response = with_headers(response, &[NO_STORE]);
    if status == StatusCode::UNAUTHORIZED {
        with_headers(
            response,
            &[(header::WWW_AUTHENTICATE, "Basic realm=\"tollgate\"")],
        )
    } else {
        response
    }
}

/// Counts a request against `checks`; `Some` is the answer when it must stop here: 429 with
/// `Retry-After` and an RFC 6749-style body carrying `error` (`slow_down` at the JSON endpoints,
/// `temporarily_unavailable` at `/authorize`, the code RFC 6749 §4.1.2.1 has for it), or 503
/// when the counters cannot be read.
async fn over_limit(state: &AppState, checks: &[Check], error: &'static str) -> Option<Response> {
    let (status, retry_after, description) = match state.limits.hit(checks).await {
        Ok(Ok(())) => return None,
        Ok(Err(limited)) => (
            StatusCode::TOO_MANY_REQUESTS,
            limited.retry_after_secs,
            format!(
                "too many requests; try again in {} seconds",
                limited.retry_after_secs
            ),
        ),
        Err(e) => {
            tracing::error!(error = %e, "rate-limit counters unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                1,
                "the service is briefly unavailable; try again".to_owned(),
            )
        }
    };
    let error = if status == StatusCode::SERVICE_UNAVAILABLE {
        "temporarily_unavailable"
    } else {
        error
    };
    let response = (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    let response = with_headers(response, &[NO_STORE, ANY_ORIGIN]);
    Some(with_retry_after(response, retry_after))
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (id, secret) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((decode(&id)?, decode(&secret)?))
}

/// `GET /.well-known/oauth-protected-resource/t/{slug}/mcp` (and the other forms).
pub async fn protected_resource_metadata(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Response {
    match tenant(&state, &slug).await {
        Ok(tenant) => cors_json(state.oauth.resource_metadata(&tenant)),
        Err(response) => response,
    }
}

/// `GET /.well-known/oauth-authorization-server/t/{slug}` (and the OpenID forms).
pub async fn authorization_server_metadata(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Response {
    match tenant(&state, &slug).await {
        Ok(tenant) => cors_json(state.oauth.server_metadata(&tenant)),
        Err(response) => response,
    }
}

fn cors_json(value: serde_json::Value) -> Response {
    with_headers(Json(value).into_response(), &[ANY_ORIGIN])
}

/// `POST /t/{slug}/oauth/register` (RFC 7591).
pub async fn register(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    client: ClientAddress,
    body: axum::body::Bytes,
) -> Result<Response, Response> {
    let tenant = tenant(&state, &slug).await?;
    let tenant_id = tenant.id.0.to_string();
    let checks = [Check::new(
        state.limits.settings().register_address,
        "register_address",
        &[&tenant_id, &client.key()],
    )];
    if let Some(refused) = over_limit(&state, &checks, "slow_down").await {
        return Ok(refused);
    }
    if body.len() > 16 * 1024 {
        return Ok(oauth_error(&OAuthError::InvalidClientMetadata(
            "the registration is larger than 16 KiB".into(),
        )));
    }
    let request: RegistrationRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return Ok(oauth_error(&OAuthError::InvalidClientMetadata(format!(
                "not valid client metadata JSON: {e}"
            ))));
        }
    };
    Ok(match state.oauth.register(&tenant, request).await {
        Ok(client) => with_headers(
            (StatusCode::CREATED, Json(client)).into_response(),
            &[NO_STORE, ANY_ORIGIN],
        ),
        Err(e) => oauth_error(&e),
    })
}

/// `GET /t/{slug}/oauth/authorize`: validates, then shows the consent page.
pub async fn authorize(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    client: ClientAddress,
    Query(params): Query<AuthorizeParams>,
) -> Result<Response, Response> {
    let tenant = page_tenant(&state, &slug).await?;
    // Every GET writes a pending request: counted before anything else runs.
    let limits = state.limits.settings();
    let checks = address_and_client_checks(
        &tenant,
        &client,
        (limits.authorize_address, "authorize_address"),
        (limits.authorize_client, "authorize_client"),
        params.client_id.as_deref(),
    );
    if let Some(refused) = over_limit(&state, &checks, "temporarily_unavailable").await {
        return Ok(refused);
    }
    Ok(
        match state.oauth.start_authorization(&tenant, params).await {
            Ok(prompt) => {
                let response = page(
                    StatusCode::OK,
                    pages::consent(&prompt, &format!("/t/{slug}/oauth/consent")),
                );
                // The consent can be answered only by the browser that was shown it.
                with_binding_cookie(
                    response,
                    &state,
                    &prompt.cookie_name,
                    prompt.cookie_value.expose(),
                )
            }
            Err(e) => flow_error(e),
        },
    )
}

/// The consent form. Missing fields are empty (`serde(default)`), so a mangled form or link
/// gets the flow's own "unknown request" page instead of a parser's message.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ConsentForm {
    request: String,
    csrf: String,
    decision: String,
}

/// `POST /t/{slug}/oauth/consent`.
pub async fn consent(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ConsentForm>,
) -> Result<Response, Response> {
    let tenant = form_tenant(&state, &slug, &headers).await?;
    let approve = form.decision == "approve";
    Ok(
        match state
            .oauth
            .decide_consent(
                &tenant,
                &form.request,
                &form.csrf,
                approve,
                &cookies(&headers),
            )
            .await
        {
            Ok(ConsentOutcome::Denied(location)) => see_other(&location),
            Ok(ConsentOutcome::Continue {
                location,
                cookie_name,
                cookie_value,
            }) => with_binding_cookie(
                see_other(&location),
                &state,
                &cookie_name,
                cookie_value.expose(),
            ),
            Err(e) => flow_error(e),
        },
    )
}

/// `?request=` of the local sign-in page.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct LocalQuery {
    request: String,
}

/// `GET /t/{slug}/oauth/local`: the demo sign-in page.
pub async fn local_sign_in_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<LocalQuery>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let tenant = page_tenant(&state, &slug).await?;
    Ok(
        match state
            .oauth
            .local_sign_in_request(&tenant, &query.request, &cookies(&headers))
            .await
        {
            Ok(()) => page(
                StatusCode::OK,
                pages::local_sign_in(&format!("/t/{slug}/oauth/local"), &query.request),
            ),
            Err(e) => flow_error(e),
        },
    )
}

/// The demo sign-in form.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct LocalForm {
    request: String,
    name: String,
}

/// `POST /t/{slug}/oauth/local`.
pub async fn local_sign_in(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LocalForm>,
) -> Result<Response, Response> {
    let tenant = form_tenant(&state, &slug, &headers).await?;
    Ok(
        match state
            .oauth
            .finish_local_sign_in(&tenant, &form.request, &form.name, &cookies(&headers))
            .await
        {
            Ok(location) => see_other(&location),
            Err(e) => flow_error(e),
        },
    )
}

/// GitHub's answer.
#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /t/{slug}/oauth/callback/github`.
pub async fn github_callback(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let tenant = page_tenant(&state, &slug).await?;
    Ok(
        match state
            .oauth
            .finish_github_sign_in(
                &tenant,
                query.state.as_deref(),
                query.code.as_deref(),
                query.error.as_deref(),
                &cookies(&headers),
            )
            .await
        {
            Ok(location) => see_other(&location),
            Err(e) => flow_error(e),
        },
    )
}

/// `POST /t/{slug}/oauth/token`.
pub async fn token(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    client: ClientAddress,
    headers: HeaderMap,
    axum::Form(params): axum::Form<TokenParams>,
) -> Result<Response, Response> {
    let tenant = tenant(&state, &slug).await?;
    let basic = basic_credentials(&headers);
    let limits = state.limits.settings();
    let checks = address_and_client_checks(
        &tenant,
        &client,
        (limits.token_address, "token_address"),
        (limits.token_client, "token_client"),
        basic
            .as_ref()
            .map(|(id, _)| id.as_str())
            .or(params.client_id.as_deref()),
    );
    if let Some(refused) = over_limit(&state, &checks, "slow_down").await {
        return Ok(refused);
    }
    Ok(match state.oauth.token(&tenant, params, basic).await {
        Ok(tokens) => with_headers(
            Json(tokens).into_response(),
            &[NO_STORE, (header::PRAGMA, "no-cache"), ANY_ORIGIN],
        ),
        Err(e) => oauth_error(&e),
    })
}

/// The revocation form.
#[derive(Deserialize)]
pub struct RevokeForm {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `POST /t/{slug}/oauth/revoke` (RFC 7009).
pub async fn revoke(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<RevokeForm>,
) -> Result<Response, Response> {
    let tenant = tenant(&state, &slug).await?;
    let Some(token) = form.token else {
        return Ok(oauth_error(&OAuthError::InvalidRequest(
            "token is required".into(),
        )));
    };
    let params = TokenParams {
        client_id: form.client_id,
        client_secret: form.client_secret,
        ..TokenParams::default()
    };
    Ok(
        match state
            .oauth
            .revoke(&tenant, &token, &params, basic_credentials(&headers))
            .await
        {
            Ok(()) => with_headers(StatusCode::OK.into_response(), &[ANY_ORIGIN]),
            Err(e) => oauth_error(&e),
        },
    )
}
