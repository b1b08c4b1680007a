//! The HTTP face of `/t/{slug}/mcp`: Origin and Host checks, body limits, batch refusal and the
//! tenant lookup, before the request reaches the tenant's rmcp service.

use super::McpRequestContext;
use crate::app::AppState;
use crate::limit::Check;
use crate::limit::routes::{ClientAddress, with_retry_after};
use crate::oauth::BearerRejection;
use crate::tenant::Served;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tracing::Instrument;

/// A JSON body, serialised already, with its content type.
fn json_response(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.into(),
    )
        .into_response()
}

/// A JSON-RPC error answered at the HTTP layer, before any MCP handler runs.
fn jsonrpc_error(status: StatusCode, code: i32, message: &str) -> Response {
    json_response(
        status,
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}})
            .to_string(),
    )
}

/// Just enough of a JSON-RPC message to label logs.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow)]
    method: Option<std::borrow::Cow<'a, str>>,
    /// The request id, for an error answered before rmcp sees the request.
    id: Option<serde_json::Value>,
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

    let served = state.tenants.served(&slug).await;
    let snapshot = match served.as_deref() {
        Ok(Served::Live(snapshot)) => snapshot.clone(),
        Ok(Served::Gone) => {
            return json_response(
                StatusCode::GONE,
                json!({"error": "gone", "message": format!("The tenant served at /t/{slug}/mcp was deleted by its operator; this endpoint is no longer available")})
                    .to_string(),
            );
        }
        Ok(Served::Missing) => {
            return json_response(
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "message": format!("No tenant is served at /t/{slug}/mcp")})
                    .to_string(),
            );
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
    let address = ClientAddress::of(&state, request.headers(), request.extensions());
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
    // A session id is not authentication: unknown, closed, another tenant's or another user's
    // session is answered as if it did not exist; a database failure refuses (fails closed).
    let mut session_info = None;
    if let Some(id) = &session {
        match state.mcp.sessions.check(tenant_id, id, user).await {
            Ok(Some(info)) => session_info = Some(info),
            Ok(None) => {
                return (StatusCode::NOT_FOUND, "Not Found: Session not found").into_response();
            }
            Err(error) => {
                tracing::error!(tenant.slug = %slug, %error, "session lookup failed");
                return unavailable();
            }
        }
        if request.method() == Method::DELETE {
            // Clients (the Python SDK among them) expect 200, 204 or 405 to a DELETE.
            return match state.mcp.sessions.close(tenant_id, id).await {
                Ok(_) => StatusCode::NO_CONTENT.into_response(),
                Err(error) => {
                    tracing::error!(tenant.slug = %slug, %error, "closing a session failed");
                    unavailable()
                }
            };
        }
    }

    let (mut parts, body) = request.into_parts();
    let mut init_params = None;
    let mut body_bytes = None;
    let mut method = String::new();
    let mut tool = String::new();
    let mut request_id = serde_json::Value::Null;
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
            request_id = peek.id.unwrap_or_default();
            method = peek.method.unwrap_or_default().into_owned();
            tool = peek
                .params
                .and_then(|p| p.name)
                .unwrap_or_default()
                .into_owned();
        }
        if method == "initialize" && session.is_none() {
            init_params = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .map(|mut m| m["params"].take());
        }
        body_bytes = Some(bytes.clone());
        Body::from(bytes)
    } else {
        body
    };
    if let Some(refused) = over_limit(&state, tenant_id, &address, user, request_id).await {
        return refused;
    }
    // A 2025 session's GET stream carries the tenant's tool-list changes (`streams.rs`);
    // without a session, rmcp answers a GET with 405.
    if parts.method == Method::GET && session_info.is_some() {
        return session_stream(&state, &slug);
    }
    if method == "subscriptions/listen" {
        parts
            .extensions
            .insert(super::streams::EarlyWatch::new(&state));
    }
    // Paid tools always need a signed-in caller: answer 401 so the client starts its sign-in.
    // The name checked is the body's, the one rmcp dispatches (it refuses a contradicting
    // `Mcp-Name` header).
    if caller.is_none()
        && method == "tools/call"
        && snapshot.tool(&tool).is_some_and(|t| t.pricing.is_some())
    {
        return unauthorized(&state, &slug, None);
    }

    // The hot call: a `tools/call` answered a moment ago is answered again without rmcp,
    // after every check (`replay.rs`).
    let mut replay_key = match &body_bytes {
        Some(bytes) if method == "tools/call" => replay_headers(&parts.headers).and_then(|h| {
            state.mcp.replays.key(
                &snapshot,
                &h,
                session_info.as_ref().map(|s| s.protocol_version.as_str()),
                &tool,
                bytes,
            )
        }),
        _ => None,
    };
    if let Some(key) = &replay_key
        && let Some(answer) = state
            .mcp
            .replays
            .answer(&state, &snapshot, caller.as_ref(), key)
            .await
    {
        return json_response(StatusCode::OK, answer);
    }

    let span =
        tracing::info_span!("mcp", tenant.slug = %slug, mcp.method = %method, tool.name = %tool);
    // A plain call of a WordPress.org tool, of a shape rmcp accepted before, is answered
    // without it, after the same checks (`direct.rs`).
    if let Some(key) = &mut replay_key
        && let Some(answer) = super::direct::answer(&state, &snapshot, caller.as_ref(), key)
            .instrument(span.clone())
            .await
    {
        return json_response(StatusCode::OK, answer);
    }

    parts.extensions.insert(McpRequestContext {
        tenant: snapshot.clone(),
        caller,
        session: session_info,
    });
    let service = state.mcp.service_for(tenant_id, &state);
    let response = async move { service.handle(Request::from_parts(parts, body)).await }
        .instrument(span)
        .await;
    let mut response = response.map(Body::new);
    if let Some(key) = replay_key
        && response.status() == StatusCode::OK
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
    {
        let (head, body) = response.into_parts();
        // rmcp's JSON answer is one buffer already: this only takes it out.
        let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
            return jsonrpc_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                -32603,
                "The answer could not be read",
            );
        };
        state.mcp.replays.remember(key, &snapshot, &bytes);
        response = Response::from_parts(head, Body::from(bytes));
    }
    // A successful `initialize` opens a legacy session: a row in the database, so that every
    // replica knows it.
    if let Some(params) = init_params
        && response.status() == StatusCode::OK
    {
        match state
            .mcp
            .sessions
            .open(tenant_id, user, &address.key(), &params)
            .await
        {
            Ok(id) => {
                if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
                    response.headers_mut().insert("mcp-session-id", value);
                }
            }
            Err(crate::mcp::SessionError::TooMany {
                retry_after_seconds,
            }) => {
                let mut refused = jsonrpc_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    RATE_LIMITED,
                    "Too many open sessions: close one (DELETE) or retry later",
                );
                refused
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after_seconds.into());
                return refused;
            }
            Err(error) => {
                tracing::error!(tenant.slug = %slug, %error, "opening a session failed");
                return unavailable();
            }
        }
    }
    response
}

/// The headers rmcp reads to answer a request, sorted (name, value); `None` when one of them
/// is repeated or not text, which only rmcp may judge. The session id is left out: the
/// session was checked before, and its protocol version is part of the replay key instead.
fn replay_headers(headers: &HeaderMap) -> Option<Vec<(&str, &str)>> {
    let mut out = Vec::with_capacity(6);
    for name in headers.keys() {
        let name = name.as_str();
        let read_by_rmcp = name == "accept"
            || name == "content-type"
            || (name.starts_with("mcp-") && name != "mcp-session-id");
        if !read_by_rmcp {
            continue;
        }
        let mut values = headers.get_all(name).iter();
        let value = values.next()?.to_str().ok()?;
        if values.next().is_some() {
            return None;
        }
        out.push((name, value));
    }
    out.sort_unstable();
    Some(out)
}

/// Counts an MCP request per client address (and tenant) and per signed-in user, from a lease
/// or in one round-trip (`RateLimiter::hit_leased`); `Some` is the answer when it must stop: 429 with `Retry-After` and a JSON-RPC
/// error carrying the request's id, or 503 when the counters cannot be read.
async fn over_limit(
    state: &AppState,
    tenant: crate::tenant::TenantId,
    address: &ClientAddress,
    user: Option<uuid::Uuid>,
    request_id: serde_json::Value,
) -> Option<Response> {
    let limits = state.limits.settings();
    let tenant = tenant.0.to_string();
    let mut checks = vec![Check::new(
        limits.mcp_address,
        "mcp_address",
        &[&tenant, &address.key()],
    )];
    let user = user.map(|u| u.to_string());
    if let Some(user) = &user {
        checks.push(Check::new(limits.mcp_user, "mcp_user", &[user]));
    }
    let (status, retry_after, message) = match state.limits.hit_leased(&checks).await {
        Ok(Ok(())) => return None,
        Ok(Err(limited)) => (
            StatusCode::TOO_MANY_REQUESTS,
            limited.retry_after_secs,
            format!(
                "Too many requests: try again in {} seconds",
                limited.retry_after_secs
            ),
        ),
        Err(error) => {
            tracing::error!(%error, "rate-limit counters unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                1,
                "Tollgate is briefly unavailable; try again shortly".to_owned(),
            )
        }
    };
    let body = json!({
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": RATE_LIMITED, "message": message, "data": {"retryAfter": retry_after}},
    });
    Some(with_retry_after(
        json_response(status, body.to_string()),
        retry_after,
    ))
}

/// The JSON-RPC error code of a request refused by a rate limit or a session cap: in the range
/// MCP leaves to implementations (-32000..-32019; -32020..-32099 are reserved for MCP itself).
pub const RATE_LIMITED: i32 = -32010;

/// 503 with `Retry-After`: the database did not answer (the bearer, the session or its row could
/// not be checked); nothing was decided, and the client keeps its token and tries again.
fn unavailable() -> Response {
    let mut response = jsonrpc_error(
        StatusCode::SERVICE_UNAVAILABLE,
        -32603,
        "Tollgate cannot reach its database right now; try again shortly",
    );
    response.headers_mut().insert(header::RETRY_AFTER, 5.into());
    response
}

/// 401 with the pointer MCP clients follow to sign in (RFC 9728 §5.1).
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

/// The SSE response of a 2025 session's `GET`: server-to-client notifications, with a comment
/// every 15 s so that proxies keep the connection open.
fn session_stream(state: &AppState, slug: &str) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use futures::StreamExt as _;
    let events = super::streams::session_changes(state, slug)
        .map(|message| Ok::<_, std::convert::Infallible>(Event::default().data(message)));
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response();
    response.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    response
}
