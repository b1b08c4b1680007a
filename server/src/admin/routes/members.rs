//! A tenant's members and invitations, and accepting an invitation.

use super::session::{session_body, signed_in};
use super::{Body, MaybeAuth, Result, TenantMember, audit, cookie, min, parse_id, public_url};
use crate::account::{AccountError, Credential, OperatorId, Principal, Role, SESSION_COOKIE};
use crate::admin::AdminError;
use crate::app::AppState;
use api_types::wire;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// `GET /api/v1/tenants/{slug}/members`
pub async fn list_members(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Viewer>,
) -> Result<Json<Vec<wire::Member>>> {
    let members = state.accounts.list_members(tenant.id).await?;
    Ok(Json(
        members.iter().map(crate::admin::member_view).collect(),
    ))
}

/// `PATCH /api/v1/tenants/{slug}/members/{operator_id}`
pub async fn change_role(
    State(state): State<AppState>,
    TenantMember { tenant, auth, .. }: TenantMember<min::Owner>,
    Path((_, id)): Path<(String, String)>,
    Body(body): Body<wire::RoleChange>,
) -> Result<Json<wire::Member>> {
    let role = Role::parse(&body.role)?;
    let changed = state
        .accounts
        .change_role(tenant.id, OperatorId(parse_id(&id)?), role)
        .await
        .map_err(not_found_conflict)?;
    audit(
        &state,
        &auth,
        Some(&tenant),
        "member.role",
        &changed.operator.name,
        serde_json::json!({"operator_id": id, "role": body.role}),
    )
    .await?;
    Ok(Json(crate::admin::member_view(&changed)))
}

/// The store says "not found" as a refusal; that one is a 404.
pub(super) fn not_found_conflict(e: AccountError) -> AdminError {
    match e {
        AccountError::Conflict(m) if m == "not found" => AdminError::NotFound,
        other => other.into(),
    }
}

/// `DELETE /api/v1/tenants/{slug}/members/{operator_id}`
pub async fn remove_member(
    State(state): State<AppState>,
    TenantMember { tenant, auth, .. }: TenantMember<min::Owner>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    state
        .accounts
        .remove_member(tenant.id, OperatorId(parse_id(&id)?))
        .await
        .map_err(not_found_conflict)?;
    audit(
        &state,
        &auth,
        Some(&tenant),
        "member.remove",
        &id,
        serde_json::json!({"operator_id": id}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/tenants/{slug}/invitations`
pub async fn list_invitations(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Admin>,
) -> Result<Json<Vec<wire::Invitation>>> {
    let invitations = state.accounts.list_invitations(tenant.id).await?;
    Ok(Json(
        invitations
            .iter()
            .map(|i| crate::admin::invitation_view(i, None))
            .collect(),
    ))
}

/// `POST /api/v1/tenants/{slug}/invitations`
pub async fn invite(
    State(state): State<AppState>,
    TenantMember { tenant, auth, .. }: TenantMember<min::Owner>,
    Body(body): Body<wire::NewInvitation>,
) -> Result<(StatusCode, Json<wire::Invitation>)> {
    let role = Role::parse(&body.role)?;
    let (info, token) = state
        .accounts
        .invite(tenant.id, auth.operator_id(), &body.email, role)
        .await?;
    audit(
        &state,
        &auth,
        Some(&tenant),
        "member.invite",
        &info.email,
        serde_json::json!({"role": body.role}),
    )
    .await?;
    let url = format!(
        "{}/admin/invite?token={}",
        public_url(&state),
        token.expose()
    );
    Ok((
        StatusCode::CREATED,
        Json(crate::admin::invitation_view(&info, Some(url))),
    ))
}

/// `DELETE /api/v1/tenants/{slug}/invitations/{id}`
pub async fn revoke_invitation(
    State(state): State<AppState>,
    TenantMember { tenant, auth, .. }: TenantMember<min::Owner>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    state
        .accounts
        .revoke_invitation(tenant.id, parse_id(&id)?)
        .await?;
    audit(
        &state,
        &auth,
        Some(&tenant),
        "member.uninvite",
        &id,
        serde_json::json!({}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/invitations/accept`
pub async fn accept_invitation(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeAuth(auth): MaybeAuth,
    Body(body): Body<wire::AcceptInvitation>,
) -> Result<Response> {
    let (operator, tenant, new_session) = state
        .accounts
        .accept_invitation(
            &body.token,
            auth.as_ref().map(|a| &a.principal.operator),
            body.name.as_deref(),
            body.password.as_deref(),
        )
        .await?;
    let principal = Principal {
        operator: operator.clone(),
        credential: Credential::Session,
    };
    state
        .accounts
        .audit(
            Some(tenant),
            &principal,
            "member.join",
            &principal.actor(),
            serde_json::json!({}),
        )
        .await?;
    Ok(match new_session {
        Some(token) => signed_in(&state, StatusCode::OK, &operator, token.expose()),
        None => {
            let token = cookie(&headers, SESSION_COOKIE).unwrap_or_default();
            Json(session_body(&state, &operator, token)).into_response()
        }
    })
}
