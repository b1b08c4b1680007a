//! What a tenant's operators read: customers, analytics and the audit log.

use super::{Result, TenantMember, min, parse_id};
use crate::admin::AdminError;
use crate::app::AppState;
use api_types::wire;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

/// `GET /api/v1/tenants/{slug}/customers`
pub async fn list_customers(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Viewer>,
) -> Result<Json<Vec<wire::Customer>>> {
    Ok(Json(
        state
            .billing
            .customers(tenant.id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// `GET /api/v1/tenants/{slug}/customers/{id}`
pub async fn get_customer(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Viewer>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<wire::Customer>> {
    state
        .billing
        .customer(tenant.id, parse_id(&id)?)
        .await?
        .map(|customer| Json(customer.into()))
        .ok_or(AdminError::NotFound)
}

/// `?days=`
#[derive(Deserialize)]
pub struct Days {
    days: Option<u32>,
}

/// `GET /api/v1/tenants/{slug}/analytics`
pub async fn analytics(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Viewer>,
    Query(days): Query<Days>,
) -> Result<Json<wire::Analytics>> {
    let days = days.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(AdminError::invalid("days", "days must be 1-366"));
    }
    let report = state.analytics.report(tenant.id, days).await?;
    Ok(Json(crate::admin::analytics_view(report)))
}

/// `GET /api/v1/tenants/{slug}/audit`
pub async fn audit_log(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Viewer>,
) -> Result<Json<Vec<wire::AuditEntry>>> {
    let entries = state.accounts.audit_log(tenant.id, 200).await?;
    Ok(Json(
        entries.into_iter().map(crate::admin::audit_view).collect(),
    ))
}
