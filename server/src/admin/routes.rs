//! The admin API's handlers: extract, call the features, map to wire types.
//!
//! Authentication is the [`Auth`] extractor: a personal API token (`Authorization: Bearer
//! tga_…`) or the dashboard's session cookie, and for the cookie every write must carry the
//! session's CSRF token. Tenant routes go through [`member`], which answers 404 for a tenant the
//! caller is not a member of, exactly as for one that does not exist.

use super::{AdminError, client_configs, new_offer, tenant_summary, tenant_view};
use crate::account::{
    AccountError, Credential, OperatorId, Principal, Role, SESSION_COOKIE, SESSION_LIFETIME,
};
use crate::app::AppState;
use crate::billing::OfferId;
use crate::limit::routes::ClientAddress;
use crate::tenant::{
    Tenant, TenantError, TenantGitHubApp, TenantSettings, ToolId, ToolName, ToolPatch,
};
use crate::wordpress::Operation;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use frontend::{validate, wire};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The short-lived cookie that remembers a started GitHub sign-in.
const GITHUB_FLOW_COOKIE: &str = "tollgate_admin_github";

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

/// The tenant behind `slug` when the caller is a member with at least `min`; a tenant they are
/// not a member of is [`AdminError::NotFound`], exactly like one that does not exist.
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

fn session_cookie(state: &AppState, token: &str) -> HeaderValue {
    let secure = if state.config.public_url.as_str().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        SESSION_LIFETIME.num_seconds()
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn clear_cookie(name: &str, path: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}=; HttpOnly; SameSite=Strict; Path={path}; Max-Age=0"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn session_body(
    state: &AppState,
    operator: &crate::account::Operator,
    token: &str,
) -> wire::Session {
    wire::Session {
        operator: super::operator_view(operator),
        csrf_token: state.accounts.csrf_token(token),
        github_enabled: state.accounts.github_enabled(),
    }
}

fn signed_in(
    state: &AppState,
    status: StatusCode,
    operator: &crate::account::Operator,
    token: &str,
) -> Response {
    let mut response = (status, Json(session_body(state, operator, token))).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(state, token));
    response
}

// ---- session ----------------------------------------------------------------------------

/// `GET /api/v1/setup`
pub async fn setup_status(State(state): State<AppState>) -> Result<Json<wire::SetupStatus>> {
    Ok(Json(wire::SetupStatus {
        needed: state.accounts.setup_needed().await?,
    }))
}

/// `GET /api/v1/session/options`
pub async fn sign_in_options(State(state): State<AppState>) -> Result<Json<wire::SignInOptions>> {
    Ok(Json(wire::SignInOptions {
        github_enabled: state.accounts.github_enabled(),
        setup_needed: state.accounts.setup_needed().await?,
    }))
}

/// `POST /api/v1/setup`
pub async fn setup(
    State(state): State<AppState>,
    _origin: OriginChecked,
    Body(body): Body<wire::SetupRequest>,
) -> Result<Response> {
    let (operator, token) = state
        .accounts
        .setup(&body.token, &body.email, &body.name, &body.password)
        .await?;
    tracing::info!(operator.id = %operator.id.0, "created the first operator");
    Ok(signed_in(
        &state,
        StatusCode::CREATED,
        &operator,
        token.expose(),
    ))
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

/// `POST /api/v1/session`
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientAddress,
    _origin: OriginChecked,
    Body(body): Body<wire::SignInRequest>,
) -> Result<Response> {
    let (operator, token) = state
        .accounts
        .sign_in(&body.email, &body.password, &client.key())
        .await?;
    Ok(signed_in(&state, StatusCode::OK, &operator, token.expose()))
}

/// `GET /api/v1/session`
pub async fn get_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    auth: Auth,
) -> Result<Json<wire::Session>> {
    let token = match auth.principal.credential {
        Credential::Session => cookie(&headers, SESSION_COOKIE)
            .unwrap_or_default()
            .to_owned(),
        // A token needs no CSRF token; an empty one says so.
        Credential::ApiToken(_) => String::new(),
    };
    let mut body = session_body(&state, &auth.principal.operator, &token);
    if token.is_empty() {
        body.csrf_token = String::new();
    }
    Ok(Json(body))
}

/// `DELETE /api/v1/session`
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    _auth: Auth,
) -> Result<Response> {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        state.accounts.sign_out(token).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(SESSION_COOKIE, "/"));
    Ok(response)
}

/// `GET /api/v1/session/github`
pub async fn github_start(State(state): State<AppState>) -> Result<Response> {
    let (url, flow) = state.accounts.start_github()?;
    let mut response = Redirect::to(&url).into_response();
    // Lax: GitHub's redirect back is a cross-site navigation that must carry it.
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{GITHUB_FLOW_COOKIE}={flow}; HttpOnly; SameSite=Lax; Path=/api/v1/session/github; Max-Age=600"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// GitHub's answer.
#[derive(Deserialize)]
pub struct GitHubCallback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /api/v1/session/github/callback`
pub async fn github_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<GitHubCallback>,
) -> Response {
    let flow = cookie(&headers, GITHUB_FLOW_COOKIE).unwrap_or_default();
    let outcome = match (&query.code, &query.state, &query.error) {
        (Some(code), Some(returned), None) => state
            .accounts
            .finish_github(flow, returned, code)
            .await
            .map_err(|e| e.to_string()),
        (_, _, Some(error)) => Err(format!("GitHub answered: {error}")),
        _ => Err("GitHub's answer was incomplete; start again".to_owned()),
    };
    let mut response = match outcome {
        Ok((_, token)) => {
            let mut response = Redirect::to("/admin").into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, session_cookie(&state, token.expose()));
            response
        }
        Err(message) => {
            tracing::info!(reason = %message, "operator GitHub sign-in failed");
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("error", &message)
                .finish();
            Redirect::to(&format!("/admin/sign-in?{query}")).into_response()
        }
    };
    response.headers_mut().append(
        header::SET_COOKIE,
        clear_cookie(GITHUB_FLOW_COOKIE, "/api/v1/session/github"),
    );
    response
}

// ---- tokens -------------------------------------------------------------------------------

/// `GET /api/v1/tokens`
pub async fn list_tokens(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<wire::ApiToken>>> {
    let tokens = state.accounts.list_api_tokens(auth.operator_id()).await?;
    Ok(Json(
        tokens.iter().map(|t| super::token_view(t, None)).collect(),
    ))
}

/// `POST /api/v1/tokens`
pub async fn create_token(
    State(state): State<AppState>,
    auth: Auth,
    Body(body): Body<wire::NewApiToken>,
) -> Result<(StatusCode, Json<wire::ApiToken>)> {
    let (info, secret) = state
        .accounts
        .create_api_token(auth.operator_id(), &body.name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(super::token_view(&info, Some(secret.expose().to_owned()))),
    ))
}

/// `DELETE /api/v1/tokens/{id}`
pub async fn delete_token(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state
        .accounts
        .delete_api_token(auth.operator_id(), parse_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- tenants ------------------------------------------------------------------------------

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
    auth: Auth,
    Path(slug): Path<String>,
) -> Result<Json<wire::Tenant>> {
    let (tenant, role) = member(&state, &auth, &slug, Role::Viewer).await?;
    Ok(Json(tenant_view(&tenant, role, &public_url(&state))))
}

/// `PATCH /api/v1/tenants/{slug}`
pub async fn update_tenant(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
    Body(body): Body<wire::TenantPatch>,
) -> Result<Json<wire::Tenant>> {
    let (mut tenant, role) = member(&state, &auth, &slug, Role::Admin).await?;
    if let Some(name) = &body.name {
        tenant = state.tenants.rename_tenant(tenant.id, name).await?;
    }
    if body.anonymous_free_tools.is_some() || body.billing_tools.is_some() {
        let settings = TenantSettings {
            anonymous_free_tools: body
                .anonymous_free_tools
                .unwrap_or(tenant.settings.anonymous_free_tools),
            billing_tools: body.billing_tools.unwrap_or(tenant.settings.billing_tools),
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
    auth: Auth,
    Path(slug): Path<String>,
    Body(body): Body<wire::DeleteTenant>,
) -> Result<StatusCode> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Owner).await?;
    if body.confirm != tenant.slug.as_str() {
        return Err(AdminError::invalid(
            "confirm",
            format!("type the tenant's slug ({}) to confirm", tenant.slug),
        ));
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
    auth: Auth,
    Path(slug): Path<String>,
) -> Result<Json<wire::Overview>> {
    let (tenant, role) = member(&state, &auth, &slug, Role::Viewer).await?;
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
            .filter(|t| crate::mcp::offer_of(&offers, t).is_some())
            .count() as u64,
        calls_today: numbers.calls_today,
        calls_30d: numbers.calls_30d,
        paying_customers: numbers.paying_customers,
        end_users: end_users.len() as u64,
        revenue_30d: numbers.revenue_30d,
    }))
}

// ---- tools --------------------------------------------------------------------------------

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

async fn tools_of(state: &AppState, tenant: &Tenant) -> Result<Vec<wire::Tool>> {
    let tools = state.tenants.list_tools(tenant.id).await?;
    let offers = state.billing.offers(tenant.id).await?;
    Ok(tools.iter().map(|t| super::tool_view(t, &offers)).collect())
}

/// `GET /api/v1/tenants/{slug}/tools`
pub async fn list_tools(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
) -> Result<Json<Vec<wire::Tool>>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Viewer).await?;
    Ok(Json(tools_of(&state, &tenant).await?))
}

/// `POST /api/v1/tenants/{slug}/tools`
pub async fn add_tool(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
    Body(body): Body<wire::NewTool>,
) -> Result<(StatusCode, Json<wire::Tool>)> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Admin).await?;
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
    Ok((StatusCode::CREATED, Json(super::tool_view(&tool, &offers))))
}

/// `PATCH /api/v1/tenants/{slug}/tools/{id}`
pub async fn update_tool(
    State(state): State<AppState>,
    auth: Auth,
    Path((slug, id)): Path<(String, String)>,
    Body(body): Body<wire::ToolPatch>,
) -> Result<Json<wire::Tool>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Admin).await?;
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
    };
    let mut tool = state.tenants.update_tool(tenant.id, tool_id, patch).await?;
    if let Some(offer) = offer {
        state
            .billing
            .price_tool(&state.tenants, tenant.id, tool_id, offer)
            .await?;
        tool = state
            .tenants
            .list_tools(tenant.id)
            .await?
            .into_iter()
            .find(|t| t.id == tool_id)
            .ok_or(AdminError::NotFound)?;
    }
    audit(
        &state,
        &auth,
        Some(&tenant),
        "tool.update",
        tool.name.as_str(),
        serde_json::to_value(&body).unwrap_or_default(),
    )
    .await?;
    let offers = state.billing.offers(tenant.id).await?;
    Ok(Json(super::tool_view(&tool, &offers)))
}

/// `PUT /api/v1/tenants/{slug}/tools/order`
pub async fn reorder_tools(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
    Body(body): Body<wire::ToolOrder>,
) -> Result<Json<Vec<wire::Tool>>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Admin).await?;
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
    auth: Auth,
    Path(slug): Path<String>,
) -> Result<Json<wire::ToolsPreview>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Viewer).await?;
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

// ---- plans --------------------------------------------------------------------------------

async fn offers_of(state: &AppState, tenant: &Tenant) -> Result<Vec<wire::Offer>> {
    let offers = state.billing.offers(tenant.id).await?;
    let mut names = state
        .billing
        .offer_tool_names(&state.tenants, tenant.id)
        .await?;
    Ok(offers
        .iter()
        .map(|o| super::offer_view(o, names.remove(&o.id).unwrap_or_default()))
        .collect())
}

/// `GET /api/v1/tenants/{slug}/offers`
pub async fn list_offers(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
) -> Result<Json<Vec<wire::Offer>>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Viewer).await?;
    Ok(Json(offers_of(&state, &tenant).await?))
}

/// `POST /api/v1/tenants/{slug}/offers`
pub async fn create_offer(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
    Body(body): Body<wire::NewOffer>,
) -> Result<(StatusCode, Json<wire::Offer>)> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Admin).await?;
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
        Json(super::offer_view(&offer, Vec::new())),
    ))
}

/// `PUT /api/v1/tenants/{slug}/offers/{id}`
pub async fn update_offer(
    State(state): State<AppState>,
    auth: Auth,
    Path((slug, id)): Path<(String, String)>,
    Body(body): Body<wire::NewOffer>,
) -> Result<Json<wire::Offer>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Admin).await?;
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
    Ok(Json(super::offer_view(
        &offer,
        names.remove(&offer.id).unwrap_or_default(),
    )))
}

// ---- payments -----------------------------------------------------------------------------

/// `PUT /api/v1/tenants/{slug}/payments/stripe`
pub async fn connect_stripe(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
    Body(body): Body<wire::StripeKeys>,
) -> Result<Json<wire::Tenant>> {
    let (tenant, role) = member(&state, &auth, &slug, Role::Admin).await?;
    state
        .billing
        .connect_stripe(
            &state.tenants,
            &tenant,
            &body.secret_key,
            &[body.webhook_secret.trim()],
        )
        .await?;
    let tenant = state.tenants.get_tenant_by_id(tenant.id).await?;
    // The keys never reach the log: only the masked hint.
    audit(
        &state,
        &auth,
        Some(&tenant),
        "payments.connect",
        "stripe",
        serde_json::json!({
            "key_hint": tenant.settings.stripe.as_ref().map(|s| s.key_hint.clone())
        }),
    )
    .await?;
    Ok(Json(tenant_view(&tenant, role, &public_url(&state))))
}

/// `DELETE /api/v1/tenants/{slug}/payments/stripe`
pub async fn disconnect_stripe(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
) -> Result<Json<wire::Tenant>> {
    let (tenant, role) = member(&state, &auth, &slug, Role::Admin).await?;
    let tenant = state
        .billing
        .disconnect_stripe(&state.tenants, &tenant)
        .await?;
    audit(
        &state,
        &auth,
        Some(&tenant),
        "payments.disconnect",
        "stripe",
        serde_json::json!({}),
    )
    .await?;
    Ok(Json(tenant_view(&tenant, role, &public_url(&state))))
}

/// `POST /api/v1/tenants/{slug}/payments/stripe/test`
pub async fn test_stripe(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
) -> Result<Json<wire::ConnectionTest>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Admin).await?;
    Ok(Json(state.billing.test_connection(&tenant).await))
}

/// `GET /api/v1/tenants/{slug}/payments/stripe/prices`
pub async fn stripe_prices(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
) -> Result<Json<Vec<wire::StripePrice>>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Admin).await?;
    Ok(Json(state.billing.stripe_prices(&tenant).await?))
}

// ---- sign-in --------------------------------------------------------------------------------

/// `GET /api/v1/tenants/{slug}/sign-in`
pub async fn sign_in_setup(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
) -> Result<Json<wire::SignInSetup>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Viewer).await?;
    Ok(Json(wire::SignInSetup {
        active: state.oauth.active_sign_in(&tenant).as_str().to_owned(),
        github_callback_url: state.oauth.github_callback_url(&tenant),
    }))
}

/// `PUT /api/v1/tenants/{slug}/github-app`
pub async fn set_github_app(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
    Body(body): Body<wire::GitHubAppKeys>,
) -> Result<Json<wire::Tenant>> {
    let (tenant, role) = member(&state, &auth, &slug, Role::Admin).await?;
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
    auth: Auth,
    Path(slug): Path<String>,
) -> Result<Json<wire::Tenant>> {
    let (tenant, role) = member(&state, &auth, &slug, Role::Admin).await?;
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
    auth: Auth,
    Path(slug): Path<String>,
) -> Result<Json<Vec<wire::McpClientView>>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Viewer).await?;
    Ok(Json(state.oauth.list_clients(tenant.id).await?))
}

/// `DELETE /api/v1/tenants/{slug}/clients/{client_id}`
pub async fn revoke_client(
    State(state): State<AppState>,
    auth: Auth,
    Path((slug, client_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Admin).await?;
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

// ---- customers, analytics, audit -----------------------------------------------------------

/// `GET /api/v1/tenants/{slug}/customers`
pub async fn list_customers(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
) -> Result<Json<Vec<wire::Customer>>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Viewer).await?;
    Ok(Json(state.billing.customers(tenant.id).await?))
}

/// `GET /api/v1/tenants/{slug}/customers/{id}`
pub async fn get_customer(
    State(state): State<AppState>,
    auth: Auth,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Json<wire::Customer>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Viewer).await?;
    state
        .billing
        .customer(tenant.id, parse_id(&id)?)
        .await?
        .map(Json)
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
    auth: Auth,
    Path(slug): Path<String>,
    Query(days): Query<Days>,
) -> Result<Json<wire::Analytics>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Viewer).await?;
    let days = days.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(AdminError::invalid("days", "days must be 1-366"));
    }
    Ok(Json(state.analytics.report(tenant.id, days).await?))
}

/// `GET /api/v1/tenants/{slug}/audit`
pub async fn audit_log(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
) -> Result<Json<Vec<wire::AuditEntry>>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Viewer).await?;
    let entries = state.accounts.audit_log(tenant.id, 200).await?;
    Ok(Json(entries.into_iter().map(super::audit_view).collect()))
}

// ---- members and invitations ---------------------------------------------------------------

/// `GET /api/v1/tenants/{slug}/members`
pub async fn list_members(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
) -> Result<Json<Vec<wire::Member>>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Viewer).await?;
    let members = state.accounts.list_members(tenant.id).await?;
    Ok(Json(members.iter().map(super::member_view).collect()))
}

/// `PATCH /api/v1/tenants/{slug}/members/{operator_id}`
pub async fn change_role(
    State(state): State<AppState>,
    auth: Auth,
    Path((slug, id)): Path<(String, String)>,
    Body(body): Body<wire::RoleChange>,
) -> Result<Json<wire::Member>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Owner).await?;
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
    Ok(Json(super::member_view(&changed)))
}

/// The store says "not found" as a refusal; that one is a 404.
fn not_found_conflict(e: AccountError) -> AdminError {
    match e {
        AccountError::Conflict(m) if m == "not found" => AdminError::NotFound,
        other => other.into(),
    }
}

/// `DELETE /api/v1/tenants/{slug}/members/{operator_id}`
pub async fn remove_member(
    State(state): State<AppState>,
    auth: Auth,
    Path((slug, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Owner).await?;
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
    auth: Auth,
    Path(slug): Path<String>,
) -> Result<Json<Vec<wire::Invitation>>> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Admin).await?;
    let invitations = state.accounts.list_invitations(tenant.id).await?;
    Ok(Json(
        invitations
            .iter()
            .map(|i| super::invitation_view(i, None))
            .collect(),
    ))
}

/// `POST /api/v1/tenants/{slug}/invitations`
pub async fn invite(
    State(state): State<AppState>,
    auth: Auth,
    Path(slug): Path<String>,
    Body(body): Body<wire::NewInvitation>,
) -> Result<(StatusCode, Json<wire::Invitation>)> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Owner).await?;
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
        Json(super::invitation_view(&info, Some(url))),
    ))
}

/// `DELETE /api/v1/tenants/{slug}/invitations/{id}`
pub async fn revoke_invitation(
    State(state): State<AppState>,
    auth: Auth,
    Path((slug, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    let (tenant, _) = member(&state, &auth, &slug, Role::Owner).await?;
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

/// `GET /api/v1/openapi.json`
pub async fn openapi() -> Json<serde_json::Value> {
    Json(super::openapi::document())
}

/// Any other `/api/…` path: a JSON 404, not the dashboard's page.
pub async fn not_found() -> AdminError {
    AdminError::NoRoute
}
