//! Tenants: listing, creating, renaming and switching settings, deleting, and the overview.

use super::{Auth, Body, Result, TenantMember, audit, min, public_url};
use crate::account::Role;
use crate::admin::{AdminError, client_configs, tenant_summary, tenant_view};
use crate::app::AppState;
use crate::tenant::{TenantError, TenantSettings};
use api_types::wire;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

/// `GET /api/v1/tenants`
pub async fn list_tenants(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<wire::TenantSummary>>> {
    let base = public_url(&state);
    let mut out = Vec::new();
    for (tenant, role) in state.accounts.memberships(auth.operator_id()).await? {
        match state.tenants.get_tenant_by_id(tenant).await {
            Ok(tenant) => out.push(tenant_summary(&tenant, role, &base)),
            Err(TenantError::TenantNotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Json(out))
}

/// `POST /api/v1/tenants`
pub async fn create_tenant(
    State(state): State<AppState>,
    auth: Auth,
    Body(body): Body<wire::NewTenant>,
) -> Result<(StatusCode, Json<wire::Tenant>)> {
    let tenant = state.tenants.create_tenant(&body.slug, &body.name).await?;
    state
        .accounts
        .add_member(tenant.id, auth.operator_id(), Role::Owner)
        .await?;
    if body.install_catalog {
        state.tenants.install_wordpress_pack(tenant.id).await?;
    }
    audit(
        &state,
        &auth,
        Some(&tenant),
        "tenant.create",
        tenant.slug.as_str(),
        serde_json::json!({"name": tenant.name, "install_catalog": body.install_catalog}),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(tenant_view(&tenant, Role::Owner, &public_url(&state))),
    ))
}

/// `GET /api/v1/tenants/{slug}`
pub async fn get_tenant(
    State(state): State<AppState>,
    TenantMember { tenant, role, .. }: TenantMember<min::Viewer>,
) -> Result<Json<wire::Tenant>> {
    Ok(Json(tenant_view(&tenant, role, &public_url(&state))))
}

/// `PATCH /api/v1/tenants/{slug}`
pub async fn update_tenant(
    State(state): State<AppState>,
    TenantMember {
        mut tenant,
        role,
        auth,
        ..
    }: TenantMember<min::Admin>,
    Body(body): Body<wire::TenantPatch>,
) -> Result<Json<wire::Tenant>> {
    if let Some(name) = &body.name {
        tenant = state.tenants.rename_tenant(tenant.id, name).await?;
    }
    if body.anonymous_free_tools.is_some()
        || body.billing_tools.is_some()
        || body.refund_duplicate_payments.is_some()
    {
        let settings = TenantSettings {
            anonymous_free_tools: body
                .anonymous_free_tools
                .unwrap_or(tenant.settings.anonymous_free_tools),
            billing_tools: body.billing_tools.unwrap_or(tenant.settings.billing_tools),
            refund_duplicate_payments: body
                .refund_duplicate_payments
                .unwrap_or(tenant.settings.refund_duplicate_payments),
            ..tenant.settings.clone()
        };
        tenant = state.tenants.update_settings(tenant.id, &settings).await?;
    }
    audit(
        &state,
        &auth,
        Some(&tenant),
        "tenant.update",
        tenant.slug.as_str(),
        serde_json::to_value(&body).unwrap_or_default(),
    )
    .await?;
    Ok(Json(tenant_view(&tenant, role, &public_url(&state))))
}

/// `DELETE /api/v1/tenants/{slug}`
pub async fn delete_tenant(
    State(state): State<AppState>,
    TenantMember { tenant, auth, .. }: TenantMember<min::Owner>,
    Body(body): Body<wire::DeleteTenant>,
) -> Result<StatusCode> {
    if body.confirm != tenant.slug.as_str() {
        return Err(AdminError::invalid(
            "confirm",
            format!("type the tenant's slug ({}) to confirm", tenant.slug),
        ));
    }
    // Subscriptions at Stripe outlive the tenant: they would go on charging for tools no
    // longer served. Either the operator asks Tollgate to cancel them first
    // (`cancel_subscriptions`), or cancels them elsewhere (Stripe's dashboard, each
    // customer's portal) and deletes again.
    if body.cancel_subscriptions {
        let cancelled = state.billing.cancel_live_subscriptions(&tenant).await?;
        if cancelled > 0 {
            audit(
                &state,
                &auth,
                Some(&tenant),
                "tenant.cancel_subscriptions",
                tenant.slug.as_str(),
                serde_json::json!({"cancelled": cancelled}),
            )
            .await?;
        }
    }
    let live = state.billing.live_subscriptions(tenant.id).await?;
    if live > 0 {
        return Err(AdminError::Conflict(format!(
            "{live} customer subscription{} at Stripe {} still live: deleting the tenant would \
             leave {} charging. Cancel {} in Stripe first, or delete with \
             cancel_subscriptions to have Tollgate cancel {} now.",
            if live == 1 { "" } else { "s" },
            if live == 1 { "is" } else { "are" },
            if live == 1 { "it" } else { "them" },
            if live == 1 { "it" } else { "them" },
            if live == 1 { "it" } else { "them" },
        )));
    }
    state.tenants.delete_tenant(tenant.id).await?;
    audit(
        &state,
        &auth,
        None,
        "tenant.delete",
        tenant.slug.as_str(),
        serde_json::json!({"name": tenant.name, "id": tenant.id.0}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/tenants/{slug}/overview`
pub async fn overview(
    State(state): State<AppState>,
    TenantMember { tenant, role, .. }: TenantMember<min::Viewer>,
) -> Result<Json<wire::Overview>> {
    let view = tenant_view(&tenant, role, &public_url(&state));
    let tools = state.tenants.list_tools(tenant.id).await?;
    let offers = state.billing.offers(tenant.id).await?;
    let numbers = state.analytics.overview_numbers(tenant.id).await?;
    let end_users = state
        .oauth
        .list_end_users(tenant.id)
        .await
        .map_err(|e| AdminError::OAuth(e.into()))?;
    let enabled: Vec<_> = tools.iter().filter(|t| t.enabled).collect();
    Ok(Json(wire::Overview {
        client_configs: client_configs(tenant.slug.as_str(), &view.mcp_url),
        mcp_url: view.mcp_url,
        tools_enabled: enabled.len() as u64,
        tools_paid: enabled
            .iter()
            .filter(|t| crate::billing::offer_of(&offers, t).is_some())
            .count() as u64,
        calls_today: numbers.calls_today,
        calls_30d: numbers.calls_30d,
        paying_customers: numbers.paying_customers,
        end_users: end_users.len() as u64,
        revenue_30d: numbers
            .revenue_30d
            .iter()
            .map(crate::admin::money_view)
            .collect(),
    }))
}
