//! The admin API's handlers: extract, call the features, map to wire types.
//!
//! Authentication is the [`Auth`] extractor: a personal API token (`Authorization: Bearer
//! tga_…`) or the dashboard's session cookie, and for the cookie every write must carry the
//! session's CSRF token. Tenant routes take a [`TenantMember`] (the caller, the tenant named by
//! `{slug}` and the caller's role in it, at least the role the handler names), which answers 404
//! for a tenant the caller is not a member of, exactly as for one that does not exist. Handlers
//! of `/tenants/{slug}/…/{id}` routes read the id as `Path((_, id))`: the slug is the member's.

use super::AdminError;
use crate::account::{AccountError, OperatorId, Principal, Role, SESSION_COOKIE};
use crate::app::AppState;
use crate::tenant::{Tenant, TenantError};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use uuid::Uuid;

mod end_users;
mod insights;
mod members;
mod payments;
mod plans;
mod session;
mod tenants;
mod tokens;
mod tools;

pub use end_users::{
    list_clients, remove_github_app, revoke_client, set_github_app, sign_in_setup,
};
pub use insights::{analytics, audit_log, get_customer, list_customers};
pub use members::{
    accept_invitation, change_role, invite, list_invitations, list_members, remove_member,
    revoke_invitation,
};
pub use payments::{
    connect_stripe, disconnect_stripe, failed_meter_events, last_reconciliation, reconcile_billing,
    stripe_prices, test_stripe,
};
pub use plans::{create_offer, list_offers, update_offer};
pub use session::{
    get_session, github_callback, github_start, setup, setup_status, sign_in, sign_in_options,
    sign_out,
};
pub use tenants::{
    create_tenant, delete_tenant, get_tenant, list_tenants, overview, update_tenant,
};
pub use tokens::{create_token, delete_token, list_tokens};
pub use tools::{
    add_tool, catalog, list_tools, preview_tool_draft, preview_tools, reorder_tools, update_tool,
};

/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

type Result<T> = std::result::Result<T, AdminError>;

/// A JSON body; a malformed one is a `bad_request` in the admin API's error shape.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(AdminError::BadRequest(match rejection {
                JsonRejection::MissingJsonContentType(_) => {
                    "send the body as JSON with Content-Type: application/json".to_owned()
                }
                other => other.body_text(),
            })),
        }
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Writes from another site are refused even before authentication: a browser always sends
/// `Origin` on a cross-site POST, and it must be our own.
fn check_origin(state: &AppState, parts: &Parts) -> Result<()> {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    match parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        None => Ok(()),
        Some(origin) if origin == public_origin(state) => Ok(()),
        Some(_) => Err(AdminError::Csrf),
    }
}

fn public_origin(state: &AppState) -> String {
    state.config.public_url.origin().to_owned()
}

/// The operator behind a request, and the session token when it came with the cookie.
pub struct Auth {
    principal: Principal,
}

impl Auth {
    fn operator_id(&self) -> OperatorId {
        self.principal.operator.id
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        check_origin(state, parts)?;
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or(AccountError::Unauthenticated)?;
            let principal = state.accounts.authenticate_api_token(token.trim()).await?;
            return Ok(Self { principal });
        }
        let session =
            cookie(&parts.headers, SESSION_COOKIE).ok_or(AccountError::Unauthenticated)?;
        let principal = state.accounts.authenticate_session(session).await?;
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let presented = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !state.accounts.csrf_matches(session, presented) {
                return Err(AdminError::Csrf);
            }
        }
        Ok(Self { principal })
    }
}

/// The operator, when signed in (for routes that also serve the signed-out).
pub struct MaybeAuth(Option<Auth>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        check_origin(state, parts)?;
        let signed_in = parts.headers.contains_key(header::AUTHORIZATION)
            || cookie(&parts.headers, SESSION_COOKIE).is_some();
        if !signed_in {
            return Ok(Self(None));
        }
        match Auth::from_request_parts(parts, state).await {
            Ok(auth) => Ok(Self(Some(auth))),
            Err(AdminError::Account(AccountError::Unauthenticated)) => Ok(Self(None)),
            Err(e) => Err(e),
        }
    }
}

/// The minimum role a tenant route needs, as a type, so that a handler's signature says it
/// (`TenantMember<min::Admin>`).
pub mod min {
    use crate::account::Role;

    /// A role a [`TenantMember`](super::TenantMember) must at least hold.
    pub trait MinRole {
        /// The role.
        const ROLE: Role;
    }

    /// Any member (reads).
    pub struct Viewer;
    /// An admin or the owner (configuration).
    pub struct Admin;
    /// The owner only (members, deletion).
    pub struct Owner;

    impl MinRole for Viewer {
        const ROLE: Role = Role::Viewer;
    }
    impl MinRole for Admin {
        const ROLE: Role = Role::Admin;
    }
    impl MinRole for Owner {
        const ROLE: Role = Role::Owner;
    }
}

/// The caller and the tenant named by the route's `{slug}`, when the caller is a member with at
/// least the role `R` (else 403). A tenant they are not a member of is [`AdminError::NotFound`],
/// exactly like one that does not exist, and the handler never runs (invariant 9).
pub struct TenantMember<R: min::MinRole> {
    /// The caller.
    pub auth: Auth,
    /// The tenant.
    pub tenant: Tenant,
    /// The caller's role in it.
    pub role: Role,
    min: PhantomData<R>,
}

impl<R: min::MinRole> FromRequestParts<AppState> for TenantMember<R> {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let auth = Auth::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| AdminError::NotFound)?;
        let slug = params
            .iter()
            .find_map(|(name, value)| (name == "slug").then_some(value))
            .ok_or(AdminError::NotFound)?;
        let (tenant, role) = member(state, &auth, slug, R::ROLE).await?;
        Ok(Self {
            auth,
            tenant,
            role,
            min: PhantomData,
        })
    }
}

/// The tenant behind `slug` when the caller is a member with at least `min`.
async fn member(state: &AppState, auth: &Auth, slug: &str, min: Role) -> Result<(Tenant, Role)> {
    let tenant = match state.tenants.get_tenant_by_slug(slug).await {
        Ok(tenant) => tenant,
        Err(TenantError::TenantNotFound | TenantError::TenantGone) => {
            return Err(AdminError::NotFound);
        }
        Err(e) => return Err(e.into()),
    };
    let role = state
        .accounts
        .role_in(tenant.id, auth.operator_id())
        .await?
        .ok_or(AdminError::NotFound)?;
    if role < min {
        return Err(AccountError::Forbidden.into());
    }
    Ok((tenant, role))
}

fn parse_id(raw: &str) -> Result<Uuid> {
    Uuid::parse_str(raw).map_err(|_| AdminError::NotFound)
}

async fn audit(
    state: &AppState,
    auth: &Auth,
    tenant: Option<&Tenant>,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<()> {
    state
        .accounts
        .audit(
            tenant.map(|t| t.id),
            &auth.principal,
            action,
            target,
            detail,
        )
        .await?;
    Ok(())
}

fn public_url(state: &AppState) -> String {
    state
        .config
        .public_url
        .as_str()
        .trim_end_matches('/')
        .to_owned()
}

/// Refuses a cross-site write on routes that need no authentication.
pub struct OriginChecked;

impl FromRequestParts<AppState> for OriginChecked {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        check_origin(state, parts)?;
        Ok(Self)
    }
}

/// `GET /api/v1/openapi.json`
pub async fn openapi() -> Json<serde_json::Value> {
    Json(super::openapi::document())
}

/// Any other `/api/…` path: a JSON 404, not the dashboard's page.
pub async fn not_found() -> AdminError {
    AdminError::NoRoute
}
