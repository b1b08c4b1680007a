//! A tenant's plans (offers).

use super::{Body, Result, TenantMember, audit, min, parse_id};
use crate::admin::new_offer;
use crate::app::AppState;
use crate::billing::OfferId;
use crate::tenant::Tenant;
use api_types::wire;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

pub(super) async fn offers_of(state: &AppState, tenant: &Tenant) -> Result<Vec<wire::Offer>> {
    let offers = state.billing.offers(tenant.id).await?;
    let mut names = state
        .billing
        .offer_tool_names(&state.tenants, tenant.id)
        .await?;
    Ok(offers
        .iter()
        .map(|o| crate::admin::offer_view(o, names.remove(&o.id).unwrap_or_default()))
        .collect())
}

/// `GET /api/v1/tenants/{slug}/offers`
pub async fn list_offers(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Viewer>,
) -> Result<Json<Vec<wire::Offer>>> {
    Ok(Json(offers_of(&state, &tenant).await?))
}

/// `POST /api/v1/tenants/{slug}/offers`
pub async fn create_offer(
    State(state): State<AppState>,
    TenantMember { tenant, auth, .. }: TenantMember<min::Admin>,
    Body(body): Body<wire::NewOffer>,
) -> Result<(StatusCode, Json<wire::Offer>)> {
    let offer = state
        .billing
        .create_offer(tenant.id, new_offer(body.clone())?)
        .await?;
    audit(
        &state,
        &auth,
        Some(&tenant),
        "offer.create",
        &offer.name,
        serde_json::to_value(&body).unwrap_or_default(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(crate::admin::offer_view(&offer, Vec::new())),
    ))
}

/// `PUT /api/v1/tenants/{slug}/offers/{id}`
pub async fn update_offer(
    State(state): State<AppState>,
    TenantMember { tenant, auth, .. }: TenantMember<min::Admin>,
    Path((_, id)): Path<(String, String)>,
    Body(body): Body<wire::NewOffer>,
) -> Result<Json<wire::Offer>> {
    let id = OfferId(parse_id(&id)?);
    let offer = state
        .billing
        .update_offer(tenant.id, id, new_offer(body.clone())?)
        .await?;
    audit(
        &state,
        &auth,
        Some(&tenant),
        "offer.update",
        &offer.name,
        serde_json::to_value(&body).unwrap_or_default(),
    )
    .await?;
    let mut names = state
        .billing
        .offer_tool_names(&state.tenants, tenant.id)
        .await?;
    Ok(Json(crate::admin::offer_view(
        &offer,
        names.remove(&offer.id).unwrap_or_default(),
    )))
}
