//! How a tenant's end users sign in (its GitHub app) and the MCP clients they use.

use super::{Body, Result, TenantMember, audit, min, public_url};
use crate::admin::{AdminError, tenant_view};
use crate::app::AppState;
use crate::tenant::{TenantGitHubApp, TenantSettings};
use api_types::{validate, wire};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// `GET /api/v1/tenants/{slug}/sign-in`
pub async fn sign_in_setup(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Viewer>,
) -> Result<Json<wire::SignInSetup>> {
    Ok(Json(wire::SignInSetup {
        active: state.oauth.active_sign_in(&tenant).as_str().to_owned(),
        github_callback_url: state.oauth.github_callback_url(&tenant),
    }))
}

/// `PUT /api/v1/tenants/{slug}/github-app`
pub async fn set_github_app(
    State(state): State<AppState>,
    TenantMember {
        tenant, role, auth, ..
    }: TenantMember<min::Admin>,
    Body(body): Body<wire::GitHubAppKeys>,
) -> Result<Json<wire::Tenant>> {
    let client_id = body.client_id.trim();
    validate::github_client_id(client_id).map_err(|m| AdminError::invalid("client_id", m))?;
    validate::github_client_secret(body.client_secret.trim())
        .map_err(|m| AdminError::invalid("client_secret", m))?;
    let sealed = state
        .oauth
        .seal_github_secret(tenant.id, body.client_secret.trim())
        .map_err(crate::billing::BillingError::from)?;
    let settings = TenantSettings {
        github_app: Some(TenantGitHubApp {
            client_id: client_id.to_owned(),
            client_secret_sealed: sealed,
        }),
        ..tenant.settings.clone()
    };
    let tenant = state.tenants.update_settings(tenant.id, &settings).await?;
    audit(
        &state,
        &auth,
        Some(&tenant),
        "github_app.set",
        client_id,
        serde_json::json!({"client_id": client_id}),
    )
    .await?;
    Ok(Json(tenant_view(&tenant, role, &public_url(&state))))
}

/// `DELETE /api/v1/tenants/{slug}/github-app`
pub async fn remove_github_app(
    State(state): State<AppState>,
    TenantMember {
        tenant, role, auth, ..
    }: TenantMember<min::Admin>,
) -> Result<Json<wire::Tenant>> {
    let settings = TenantSettings {
        github_app: None,
        ..tenant.settings.clone()
    };
    let tenant = state.tenants.update_settings(tenant.id, &settings).await?;
    audit(
        &state,
        &auth,
        Some(&tenant),
        "github_app.remove",
        tenant.slug.as_str(),
        serde_json::json!({}),
    )
    .await?;
    Ok(Json(tenant_view(&tenant, role, &public_url(&state))))
}

/// `GET /api/v1/tenants/{slug}/clients`
pub async fn list_clients(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Viewer>,
) -> Result<Json<Vec<wire::McpClientView>>> {
    let clients = state.oauth.list_clients(tenant.id).await?;
    Ok(Json(
        clients.into_iter().map(crate::admin::client_view).collect(),
    ))
}

/// `DELETE /api/v1/tenants/{slug}/clients/{client_id}`
pub async fn revoke_client(
    State(state): State<AppState>,
    TenantMember { tenant, auth, .. }: TenantMember<min::Admin>,
    Path((_, client_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    state.oauth.revoke_client(tenant.id, &client_id).await?;
    audit(
        &state,
        &auth,
        Some(&tenant),
        "client.revoke",
        &client_id,
        serde_json::json!({}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
