//! Every URL Tollgate serves, in one place.

use crate::admin::{assets, routes as api};
use crate::app::AppState;
use crate::{billing, mcp, oauth, ops};
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, patch, post, put};
use tower_http::trace::TraceLayer;

/// The application's routes.
pub fn build(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(ops::routes::healthz))
        .route("/readyz", get(ops::routes::readyz))
        .route("/metrics", get(ops::routes::metrics))
        .route("/t/{slug}/mcp", any(mcp::routes::mcp_endpoint))
        // RFC 9728 protected-resource metadata: path-inserted, and under the tenant.
        .route(
            "/.well-known/oauth-protected-resource/t/{slug}/mcp",
            get(oauth::routes::protected_resource_metadata).options(preflight),
        )
        .route(
            "/t/{slug}/.well-known/oauth-protected-resource",
            get(oauth::routes::protected_resource_metadata).options(preflight),
        )
        .route(
            "/t/{slug}/mcp/.well-known/oauth-protected-resource",
            get(oauth::routes::protected_resource_metadata).options(preflight),
        )
        // RFC 8414 and OpenID discovery for the issuer `{public}/t/{slug}`.
        .route(
            "/.well-known/oauth-authorization-server/t/{slug}",
            get(oauth::routes::authorization_server_metadata).options(preflight),
        )
        .route(
            "/.well-known/openid-configuration/t/{slug}",
            get(oauth::routes::authorization_server_metadata).options(preflight),
        )
        .route(
            "/t/{slug}/.well-known/openid-configuration",
            get(oauth::routes::authorization_server_metadata).options(preflight),
        )
        .route(
            "/t/{slug}/.well-known/oauth-authorization-server",
            get(oauth::routes::authorization_server_metadata).options(preflight),
        )
        .route(
            "/t/{slug}/oauth/register",
            post(oauth::routes::register).options(preflight),
        )
        .route("/t/{slug}/oauth/authorize", get(oauth::routes::authorize))
        .route("/t/{slug}/oauth/consent", post(oauth::routes::consent))
        .route(
            "/t/{slug}/oauth/local",
            get(oauth::routes::local_sign_in_page).post(oauth::routes::local_sign_in),
        )
        .route(
            oauth::GITHUB_CALLBACK_ROUTE,
            get(oauth::routes::github_callback),
        )
        .route(
            "/t/{slug}/oauth/token",
            post(oauth::routes::token).options(preflight),
        )
        .route(
            "/t/{slug}/webhooks/stripe",
            post(billing::routes::stripe_webhook),
        )
        .route("/t/{slug}/pay/{purchase}", get(billing::routes::pay_page))
        .route(
            "/t/{slug}/pay/{purchase}/success",
            get(billing::routes::success_page),
        )
        .route(
            "/t/{slug}/pay/{purchase}/cancel",
            get(billing::routes::cancel_page),
        )
        .route("/t/{slug}/account", get(billing::routes::account_page))
        .route(
            "/t/{slug}/sandbox/checkout/{session}",
            get(billing::routes::sandbox_page).post(billing::routes::sandbox_pay),
        )
        .route(
            "/t/{slug}/oauth/revoke",
            post(oauth::routes::revoke).options(preflight),
        )
        // The operators' dashboard and the admin API behind it (docs/admin-api.md).
        .route("/admin", get(assets::page))
        .route("/admin/pkg/{file}", get(assets::file))
        .route("/admin/{*page}", get(assets::page))
        .route("/api/v1/openapi.json", get(api::openapi))
        .route("/api/v1/setup", get(api::setup_status).post(api::setup))
        .route(
            "/api/v1/session",
            get(api::get_session)
                .post(api::sign_in)
                .delete(api::sign_out),
        )
        .route("/api/v1/session/options", get(api::sign_in_options))
        .route("/api/v1/session/github", get(api::github_start))
        .route("/api/v1/session/github/callback", get(api::github_callback))
        .route(
            "/api/v1/tokens",
            get(api::list_tokens).post(api::create_token),
        )
        .route("/api/v1/tokens/{id}", delete(api::delete_token))
        .route("/api/v1/catalog", get(api::catalog))
        .route("/api/v1/invitations/accept", post(api::accept_invitation))
        .route(
            "/api/v1/tenants",
            get(api::list_tenants).post(api::create_tenant),
        )
        .route(
            "/api/v1/tenants/{slug}",
            get(api::get_tenant)
                .patch(api::update_tenant)
                .delete(api::delete_tenant),
        )
        .route("/api/v1/tenants/{slug}/overview", get(api::overview))
        .route("/api/v1/tenants/{slug}/sign-in", get(api::sign_in_setup))
        .route(
            "/api/v1/tenants/{slug}/tools",
            get(api::list_tools).post(api::add_tool),
        )
        .route(
            "/api/v1/tenants/{slug}/tools/order",
            put(api::reorder_tools),
        )
        .route(
            "/api/v1/tenants/{slug}/tools/preview",
            get(api::preview_tools),
        )
        .route("/api/v1/tenants/{slug}/tools/{id}", patch(api::update_tool))
        .route(
            "/api/v1/tenants/{slug}/tools/{id}/preview",
            post(api::preview_tool_draft),
        )
        .route(
            "/api/v1/tenants/{slug}/offers",
            get(api::list_offers).post(api::create_offer),
        )
        .route("/api/v1/tenants/{slug}/offers/{id}", put(api::update_offer))
        .route(
            "/api/v1/tenants/{slug}/payments/stripe",
            put(api::connect_stripe).delete(api::disconnect_stripe),
        )
        .route(
            "/api/v1/tenants/{slug}/payments/stripe/test",
            post(api::test_stripe),
        )
        .route(
            "/api/v1/tenants/{slug}/payments/stripe/prices",
            get(api::stripe_prices),
        )
        .route(
            "/api/v1/tenants/{slug}/meter-events/failed",
            get(api::failed_meter_events),
        )
        .route(
            "/api/v1/tenants/{slug}/billing/reconcile",
            post(api::reconcile_billing),
        )
        .route(
            "/api/v1/tenants/{slug}/billing/reconciliation",
            get(api::last_reconciliation),
        )
        .route(
            "/api/v1/tenants/{slug}/github-app",
            put(api::set_github_app).delete(api::remove_github_app),
        )
        .route("/api/v1/tenants/{slug}/clients", get(api::list_clients))
        .route(
            "/api/v1/tenants/{slug}/clients/{client_id}",
            delete(api::revoke_client),
        )
        .route("/api/v1/tenants/{slug}/customers", get(api::list_customers))
        .route(
            "/api/v1/tenants/{slug}/customers/{id}",
            get(api::get_customer),
        )
        .route("/api/v1/tenants/{slug}/analytics", get(api::analytics))
        .route("/api/v1/tenants/{slug}/audit", get(api::audit_log))
        .route("/api/v1/tenants/{slug}/members", get(api::list_members))
        .route(
            "/api/v1/tenants/{slug}/members/{operator_id}",
            patch(api::change_role).delete(api::remove_member),
        )
        .route(
            "/api/v1/tenants/{slug}/invitations",
            get(api::list_invitations).post(api::invite),
        )
        .route(
            "/api/v1/tenants/{slug}/invitations/{id}",
            delete(api::revoke_invitation),
        )
        .route("/api/v1/{*rest}", any(api::not_found))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::routes::count_requests,
        ))
        .layer(axum::middleware::from_fn(
            ops::routes::close_when_body_unread,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::routes::strict_transport_security,
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                // The path only: query strings may carry codes or states.
                tracing::info_span!(
                    "http",
                    http.method = %request.method(),
                    http.path = %request.uri().path(),
                )
            }),
        )
        .with_state(state)
}

/// CORS preflight for the endpoints browser-based MCP clients call directly (metadata,
/// registration, token, revocation). They use no cookies, so any origin may call them.
async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, authorization, mcp-protocol-version"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}
