//! The HTTP face of `/t/{slug}/mcp`: Origin and Host checks, body limits, batch refusal and the
//! tenant lookup, before the request reaches the tenant's rmcp service.

use super::McpRequestContext;
use crate::app::AppState;
use crate::oauth::BearerRejection;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tracing::Instrument;

/// A JSON-RPC error answered at the HTTP layer, before any MCP handler runs.
fn jsonrpc_error(status: StatusCode, code: i32, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}})
            .to_string(),
    )
        .into_response()
}

/// Just enough of a JSON-RPC message to label logs.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow)]
    method: Option<std::borrow::Cow<'a, str>>,
    params: Option<PeekParams<'a>>,
}

#[derive(Deserialize)]
struct PeekParams<'a> {
    #[serde(borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
}

fn host_of(headers: &HeaderMap, request: &Request) -> Option<String> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))
        .map(|h| h.to_ascii_lowercase())
}

/// `ANY /t/{slug}/mcp`.
pub async fn mcp_endpoint(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    request: Request,
) -> Response {
    let public = &state.config.public_url;
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| public.allows_origin(&o.to_ascii_lowercase()));
        if !allowed {
            return jsonrpc_error(StatusCode::FORBIDDEN, -32600, "Origin not allowed");
        }
    }
    match host_of(request.headers(), &request) {
        Some(host) if public.allows_authority(&host) => {}
        _ => return jsonrpc_error(StatusCode::FORBIDDEN, -32600, "Host not allowed"),
    }

    let snapshot = match state.tenants.snapshot(&slug).await {
        Ok(Some(snapshot)) => snapshot,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "application/json")],
                json!({"error": "not_found", "message": format!("No tenant is served at /t/{slug}/mcp")})
                    .to_string(),
            )
                .into_response();
        }
        Err(error) => {
            tracing::error!(tenant.slug = %slug, %error, "tenant lookup failed");
            return jsonrpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                -32603,
                "Tollgate cannot read its configuration right now; try again shortly",
            );
        }
    };

    let tenant = &snapshot.tenant;
    if request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|pair| pair.starts_with("access_token=")))
    {
        return unauthorized(&state, &slug, Some("invalid_request"));
    }
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_owned);
    let caller = match bearer {
        Some(token) => match state.oauth.authenticate_bearer(tenant, &token).await {
            Ok(caller) => Some(caller),
            Err(BearerRejection::Unavailable) => return unavailable(),
            Err(BearerRejection::InvalidToken) => {
                return unauthorized(&state, &slug, Some("invalid_token"));
            }
        },
        None if tenant.settings.anonymous_free_tools => None,
        None => return unauthorized(&state, &slug, None),
    };
    let user = caller.as_ref().map(|c| c.user.id.0);
    let tenant_id = tenant.id;
    let session = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(session) = &session
        && let Some(owner) = state.mcp.session_owner(tenant_id, session)
        && owner != user
    {
        return (StatusCode::NOT_FOUND, "Not Found: Session not found").into_response();
    }

    let (mut parts, body) = request.into_parts();
    let is_delete = parts.method == Method::DELETE;
    let mut method = String::new();
    let mut tool = String::new();
    let body = if parts.method == Method::POST {
        let limit = state.config.max_body_bytes;
        let declared_too_big = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
            .is_some_and(|len| len > limit);
        if declared_too_big {
            return jsonrpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                -32600,
                "Request body too large",
            );
        }
        let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
            return jsonrpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                -32600,
                "Request body too large",
            );
        };
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => {}
            Some(b'[') => {
                return jsonrpc_error(
                    StatusCode::BAD_REQUEST,
                    -32600,
                    "JSON-RPC batches are not supported: send one message per request",
                );
            }
            _ => {
                return jsonrpc_error(
                    StatusCode::BAD_REQUEST,
                    -32600,
                    "The body must be one JSON-RPC message (a JSON object)",
                );
            }
        }
        if let Ok(peek) = serde_json::from_slice::<Peek<'_>>(&bytes) {
            method = peek.method.unwrap_or_default().into_owned();
            tool = peek
                .params
                .and_then(|p| p.name)
                .unwrap_or_default()
                .into_owned();
        }
        Body::from(bytes)
    } else {
        body
    };
    // Paid tools always need a signed-in caller: answer 401 so the client starts its sign-in.
    // The name checked is the body's, the one rmcp dispatches (it refuses a contradicting
    // `Mcp-Name` header).
    if caller.is_none()
        && method == "tools/call"
        && snapshot.tool(&tool).is_some_and(|t| t.pricing.is_some())
    {
        return unauthorized(&state, &slug, None);
    }

    parts.extensions.insert(McpRequestContext {
        tenant: snapshot.clone(),
        caller,
    });
    let service = state.mcp.service_for(tenant_id, &state);
    let span =
        tracing::info_span!("mcp", tenant.slug = %slug, mcp.method = %method, tool.name = %tool);
    let response = async move { service.handle(Request::from_parts(parts, body)).await }
        .instrument(span)
        .await;
    if session.is_none()
        && let Some(minted) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
    {
        state.mcp.bind_session(tenant_id, minted, user);
    }
    let mut response = response.map(Body::new);
    // A terminated session is answered 204: clients (the Python SDK among them) expect 200,
    // 204 or 405 to a DELETE, and rmcp says 202.
    if is_delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}

/// 401 with the pointer MCP clients follow to sign in (RFC 9728 §5.1).
/// The bearer could not be checked (the database failed): 503 with `Retry-After`, so the
/// client keeps its token and tries again.
fn unavailable() -> Response {
    let mut response = jsonrpc_error(
        StatusCode::SERVICE_UNAVAILABLE,
        -32603,
        "Temporarily unavailable: try again shortly",
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("5"),
    );
    response
}

fn unauthorized(state: &AppState, slug: &str, error: Option<&str>) -> Response {
    let metadata = state.oauth.resource_metadata_url(slug);
    let challenge = match error {
        Some(error) => format!(
            r#"Bearer error="{error}", resource_metadata="{metadata}", scope="{}""#,
            crate::oauth::SCOPE
        ),
        None => format!(
            r#"Bearer resource_metadata="{metadata}", scope="{}""#,
            crate::oauth::SCOPE
        ),
    };
    let mut response = jsonrpc_error(
        StatusCode::UNAUTHORIZED,
        -32001,
        "Sign-in required: this endpoint needs a valid access token",
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
