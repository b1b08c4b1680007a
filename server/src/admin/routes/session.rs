//! Operators' sessions: the first setup, signing in and out (password or GitHub), and the session the dashboard reads.

use super::{Auth, Body, OriginChecked, Result, cookie};
use crate::account::{Credential, SESSION_COOKIE, SESSION_LIFETIME};
use crate::app::AppState;
use crate::limit::routes::ClientAddress;
use api_types::wire;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// The short-lived cookie that remembers a started GitHub sign-in.
pub(super) const GITHUB_FLOW_COOKIE: &str = "tollgate_admin_github";

pub(super) fn session_cookie(state: &AppState, token: &str) -> HeaderValue {
    let secure = if state.config.public_url.as_str().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        SESSION_LIFETIME.num_seconds()
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub(super) fn clear_cookie(name: &str, path: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}=; HttpOnly; SameSite=Strict; Path={path}; Max-Age=0"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub(super) fn session_body(
    state: &AppState,
    operator: &crate::account::Operator,
    token: &str,
) -> wire::Session {
    wire::Session {
        operator: crate::admin::operator_view(operator),
        csrf_token: state.accounts.csrf_token(token),
        github_enabled: state.accounts.github_enabled(),
    }
}

pub(super) fn signed_in(
    state: &AppState,
    status: StatusCode,
    operator: &crate::account::Operator,
    token: &str,
) -> Response {
    let mut response = (status, Json(session_body(state, operator, token))).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(state, token));
    response
}

/// `GET /api/v1/setup`
pub async fn setup_status(State(state): State<AppState>) -> Result<Json<wire::SetupStatus>> {
    Ok(Json(wire::SetupStatus {
        needed: state.accounts.setup_needed().await?,
    }))
}

/// `GET /api/v1/session/options`
pub async fn sign_in_options(State(state): State<AppState>) -> Result<Json<wire::SignInOptions>> {
    Ok(Json(wire::SignInOptions {
        github_enabled: state.accounts.github_enabled(),
        setup_needed: state.accounts.setup_needed().await?,
    }))
}

/// `POST /api/v1/setup`
pub async fn setup(
    State(state): State<AppState>,
    _origin: OriginChecked,
    Body(body): Body<wire::SetupRequest>,
) -> Result<Response> {
    let (operator, token) = state
        .accounts
        .setup(&body.token, &body.email, &body.name, &body.password)
        .await?;
    tracing::info!(operator.id = %operator.id.0, "created the first operator");
    Ok(signed_in(
        &state,
        StatusCode::CREATED,
        &operator,
        token.expose(),
    ))
}

/// `POST /api/v1/session`
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientAddress,
    _origin: OriginChecked,
    Body(body): Body<wire::SignInRequest>,
) -> Result<Response> {
    let (operator, token) = state
        .accounts
        .sign_in(&body.email, &body.password, &client.key())
        .await?;
    Ok(signed_in(&state, StatusCode::OK, &operator, token.expose()))
}

/// `GET /api/v1/session`
pub async fn get_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    auth: Auth,
) -> Result<Json<wire::Session>> {
    let token = match auth.principal.credential {
        Credential::Session => cookie(&headers, SESSION_COOKIE)
            .unwrap_or_default()
            .to_owned(),
        // A token needs no CSRF token; an empty one says so.
        Credential::ApiToken(_) => String::new(),
    };
    let mut body = session_body(&state, &auth.principal.operator, &token);
    if token.is_empty() {
        body.csrf_token = String::new();
    }
    Ok(Json(body))
}

/// `DELETE /api/v1/session`
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    _auth: Auth,
) -> Result<Response> {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        state.accounts.sign_out(token).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(SESSION_COOKIE, "/"));
    Ok(response)
}

/// `GET /api/v1/session/github`
pub async fn github_start(State(state): State<AppState>) -> Result<Response> {
    let (url, flow) = state.accounts.start_github()?;
    let mut response = Redirect::to(&url).into_response();
    // Lax: GitHub's redirect back is a cross-site navigation that must carry it.
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{GITHUB_FLOW_COOKIE}={flow}; HttpOnly; SameSite=Lax; Path=/api/v1/session/github; Max-Age=600"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// GitHub's answer.
#[derive(Deserialize)]
pub struct GitHubCallback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /api/v1/session/github/callback`
pub async fn github_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<GitHubCallback>,
) -> Response {
    let flow = cookie(&headers, GITHUB_FLOW_COOKIE).unwrap_or_default();
    let outcome = match (&query.code, &query.state, &query.error) {
        (Some(code), Some(returned), None) => state
            .accounts
            .finish_github(flow, returned, code)
            .await
            .map_err(|e| e.to_string()),
        (_, _, Some(error)) => Err(format!("GitHub answered: {error}")),
        _ => Err("GitHub's answer was incomplete; start again".to_owned()),
    };
    let mut response = match outcome {
        Ok((_, token)) => {
            let mut response = Redirect::to("/admin").into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, session_cookie(&state, token.expose()));
            response
        }
        Err(message) => {
            tracing::info!(reason = %message, "operator GitHub sign-in failed");
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("error", &message)
                .finish();
            Redirect::to(&format!("/admin/sign-in?{query}")).into_response()
        }
    };
    response.headers_mut().append(
        header::SET_COOKIE,
        clear_cookie(GITHUB_FLOW_COOKIE, "/api/v1/session/github"),
    );
    response
}
