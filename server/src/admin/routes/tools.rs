//! The catalog and a tenant's tools: adding, changing, pricing, ordering, and the preview of `tools/list`.

use super::{Auth, Body, Result, TenantMember, audit, min, parse_id};
use crate::admin::AdminError;
use crate::app::AppState;
use crate::billing::OfferId;
use crate::tenant::{Tenant, ToolId, ToolName, ToolPatch};
use crate::wordpress::Operation;
use api_types::wire;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use uuid::Uuid;

/// `GET /api/v1/catalog`: both packs; the diagnostics tools' titles say they are for
/// conformance testing.
pub async fn catalog(_auth: Auth) -> Json<Vec<wire::CatalogEntry>> {
    Json(
        Operation::catalog()
            .map(|op| wire::CatalogEntry {
                operation: op.key().to_owned(),
                default_name: op.default_name().to_owned(),
                title: op.title().to_owned(),
                description: op.description().to_owned(),
            })
            .collect(),
    )
}

pub(super) async fn tools_of(state: &AppState, tenant: &Tenant) -> Result<Vec<wire::Tool>> {
    let tools = state.tenants.list_tools(tenant.id).await?;
    let offers = state.billing.offers(tenant.id).await?;
    Ok(tools
        .iter()
        .map(|t| crate::admin::tool_view(t, &offers))
        .collect())
}

/// `GET /api/v1/tenants/{slug}/tools`
pub async fn list_tools(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Viewer>,
) -> Result<Json<Vec<wire::Tool>>> {
    Ok(Json(tools_of(&state, &tenant).await?))
}

/// `POST /api/v1/tenants/{slug}/tools`
pub async fn add_tool(
    State(state): State<AppState>,
    TenantMember { tenant, auth, .. }: TenantMember<min::Admin>,
    Body(body): Body<wire::NewTool>,
) -> Result<(StatusCode, Json<wire::Tool>)> {
    let operation = Operation::parse(&body.operation).ok_or_else(|| {
        AdminError::invalid(
            "operation",
            format!("no catalog operation {:?}", body.operation),
        )
    })?;
    let tool = state
        .tenants
        .add_tool(tenant.id, operation, &body.name)
        .await?;
    audit(
        &state,
        &auth,
        Some(&tenant),
        "tool.create",
        tool.name.as_str(),
        serde_json::json!({"operation": body.operation}),
    )
    .await?;
    let offers = state.billing.offers(tenant.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(crate::admin::tool_view(&tool, &offers)),
    ))
}

/// `PATCH /api/v1/tenants/{slug}/tools/{id}`
pub async fn update_tool(
    State(state): State<AppState>,
    TenantMember { tenant, auth, .. }: TenantMember<min::Admin>,
    Path((_, id)): Path<(String, String)>,
    Body(body): Body<wire::ToolPatch>,
) -> Result<Json<wire::Tool>> {
    let tool_id = ToolId(parse_id(&id)?);
    let offer = match &body.offer_id {
        Some(Some(raw)) => {
            Some(Some(OfferId(Uuid::parse_str(raw).map_err(|_| {
                AdminError::invalid("offer_id", "no such plan")
            })?)))
        }
        Some(None) => Some(None),
        None => None,
    };
    // Check the plan before changing anything, so a bad plan changes nothing.
    if let Some(Some(offer)) = offer
        && !state
            .billing
            .offers(tenant.id)
            .await?
            .iter()
            .any(|o| o.id == offer)
    {
        return Err(AdminError::invalid(
            "offer_id",
            "no such plan in this tenant",
        ));
    }
    let patch = ToolPatch {
        name: body.name.as_deref().map(ToolName::parse).transpose()?,
        title: body.title.clone(),
        description: body.description.clone(),
        enabled: body.enabled,
        position: None,
        pricing: offer,
    };
    let note = auth.principal.audit_note(
        "tool.update",
        serde_json::to_value(&body).unwrap_or_default(),
    );
    let tool = state
        .tenants
        .update_tool(tenant.id, tool_id, patch, Some(&note))
        .await?;
    let offers = state.billing.offers(tenant.id).await?;
    Ok(Json(crate::admin::tool_view(&tool, &offers)))
}

/// `PUT /api/v1/tenants/{slug}/tools/order`
pub async fn reorder_tools(
    State(state): State<AppState>,
    TenantMember { tenant, auth, .. }: TenantMember<min::Admin>,
    Body(body): Body<wire::ToolOrder>,
) -> Result<Json<Vec<wire::Tool>>> {
    let ids = body
        .tool_ids
        .iter()
        .map(|raw| {
            Uuid::parse_str(raw)
                .map(ToolId)
                .map_err(|_| AdminError::invalid("tool_ids", format!("{raw:?} is not a tool id")))
        })
        .collect::<Result<Vec<_>>>()?;
    state.tenants.reorder_tools(tenant.id, &ids).await?;
    audit(
        &state,
        &auth,
        Some(&tenant),
        "tool.reorder",
        tenant.slug.as_str(),
        serde_json::json!({"tool_ids": body.tool_ids}),
    )
    .await?;
    Ok(Json(tools_of(&state, &tenant).await?))
}

/// `GET /api/v1/tenants/{slug}/tools/preview`
pub async fn preview_tools(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Viewer>,
) -> Result<Json<wire::ToolsPreview>> {
    let snapshot = state
        .tenants
        .snapshot(tenant.slug.as_str())
        .await?
        .ok_or(AdminError::NotFound)?;
    let offers = state.billing.offers(tenant.id).await?;
    let tools = crate::mcp::listed_tools(&snapshot, &offers)
        .into_iter()
        .map(|t| serde_json::to_value(t).unwrap_or_default())
        .collect();
    Ok(Json(wire::ToolsPreview { tools }))
}

/// `POST /api/v1/tenants/{slug}/tools/{id}/preview`: how the tool would be listed once the
/// editor's unsaved edits are saved. Changes nothing, so a viewer may ask too.
pub async fn preview_tool_draft(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Viewer>,
    Path((_, id)): Path<(String, String)>,
    Body(body): Body<wire::ToolDraft>,
) -> Result<Json<wire::ToolDraftPreview>> {
    let tool_id = ToolId(parse_id(&id)?);
    let mut tool = state
        .tenants
        .list_tools(tenant.id)
        .await?
        .into_iter()
        .find(|t| t.id == tool_id)
        .ok_or(AdminError::NotFound)?;
    // Text as typed; empty means the catalog's, as saving it would.
    let typed = |text: String| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    if let Some(title) = body.title {
        tool.title = typed(title);
    }
    if let Some(description) = body.description {
        tool.description = typed(description);
    }
    let offers = state.billing.offers(tenant.id).await?;
    let offer = match (body.new_offer, body.offer_id) {
        (Some(new), _) => Some(state.billing.draft_offer(crate::admin::new_offer(new)?)?),
        (None, None) => crate::billing::offer_of(&offers, &tool).cloned(),
        (None, Some(None)) => None,
        (None, Some(Some(raw))) => Some(
            Uuid::parse_str(&raw)
                .ok()
                .and_then(|id| offers.iter().find(|o| o.id == OfferId(id)))
                .cloned()
                .ok_or_else(|| AdminError::invalid("offer_id", "no such plan in this tenant"))?,
        ),
    };
    let tool = crate::mcp::listed_tool_draft(&tool, offer.as_ref())
        .map(|t| serde_json::to_value(t).unwrap_or_default());
    Ok(Json(wire::ToolDraftPreview { tool }))
}
