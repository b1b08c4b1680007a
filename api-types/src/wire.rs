//! The admin API's bodies (`/api/v1`, described in `docs/admin-api.md`), shared by the server that
//! answers them and the dashboard that reads them. Plain serde types, nothing else.

use serde::{Deserialize, Serialize};

/// Every error body: `{"error": {...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ApiError,
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ApiError {
    /// `invalid`, `bad_request`, `unauthenticated`, `forbidden`, `csrf`, `not_found`,
    /// `conflict`, `throttled`, `provider`, `internal`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// The field to blame, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `GET /api/v1/setup`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SetupStatus {
    /// True while no operator exists.
    pub needed: bool,
}

/// `POST /api/v1/setup`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SetupRequest {
    /// The setup link's token.
    pub token: String,
    /// The first operator's e-mail.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Their password.
    pub password: String,
}

/// `POST /api/v1/session`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SignInRequest {
    /// E-mail.
    pub email: String,
    /// Password.
    pub password: String,
}

/// An operator as the dashboard shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Operator {
    /// Id.
    pub id: String,
    /// E-mail, when known.
    pub email: Option<String>,
    /// Display name.
    pub name: String,
    /// GitHub login, when signed up with GitHub.
    pub github_login: Option<String>,
}

/// The signed-in operator and the CSRF token to send with writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Session {
    /// Who.
    pub operator: Operator,
    /// Send as `X-CSRF-Token` with every non-GET request.
    pub csrf_token: String,
    /// Whether "Sign in with GitHub" is available.
    pub github_enabled: bool,
}

/// `GET /api/v1/session` when signed out tells whether GitHub sign-in exists through this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SignInOptions {
    /// Whether "Sign in with GitHub" is available.
    pub github_enabled: bool,
    /// Whether the first operator still has to be created.
    pub setup_needed: bool,
}

/// A personal API token as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ApiToken {
    /// Id.
    pub id: String,
    /// The name the operator gave it.
    pub name: String,
    /// Its first characters, to recognise it.
    pub prefix: String,
    /// Created.
    pub created_at: String,
    /// Last used, if ever.
    pub last_used_at: Option<String>,
    /// The token itself: only in the answer that creates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// `POST /api/v1/tokens`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NewApiToken {
    /// A name to recognise it by.
    pub name: String,
}

/// One of the tenants the operator belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TenantSummary {
    /// Id.
    pub id: String,
    /// URL slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The operator's role: `owner`, `admin`, `viewer`.
    pub role: String,
    /// The tenant's MCP endpoint.
    pub mcp_url: String,
    /// Created.
    pub created_at: String,
}

/// `POST /api/v1/tenants`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NewTenant {
    /// URL slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Add every WordPress.org tool (default true).
    #[serde(default = "yes")]
    pub install_catalog: bool,
}

fn yes() -> bool {
    true
}

/// `PATCH /api/v1/tenants/{slug}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TenantPatch {
    /// New display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether free tools work without signing in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_free_tools: Option<bool>,
    /// Whether the billing helper tools are offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_tools: Option<bool>,
}

/// `DELETE /api/v1/tenants/{slug}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DeleteTenant {
    /// Must repeat the slug.
    pub confirm: String,
}

/// How a tenant takes payments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Payments {
    /// `sandbox` or `stripe`.
    pub mode: String,
    /// The masked Stripe key (`sk_test_…4242`).
    pub key_hint: Option<String>,
}

/// The tenant's own GitHub app (the secret is never returned).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GitHubAppView {
    /// Its client id.
    pub client_id: String,
}

/// A tenant in full.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Tenant {
    /// Id.
    pub id: String,
    /// URL slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The operator's role.
    pub role: String,
    /// The MCP endpoint.
    pub mcp_url: String,
    /// The Stripe webhook endpoint to paste into Stripe.
    pub webhook_url: String,
    /// Whether free tools work without signing in.
    pub anonymous_free_tools: bool,
    /// Whether the billing helper tools are offered.
    pub billing_tools: bool,
    /// Payments.
    pub payments: Payments,
    /// The tenant's GitHub app, or `None` for the platform's.
    pub github_app: Option<GitHubAppView>,
    /// Created.
    pub created_at: String,
    /// Days a deleted tenant's slug rests before another tenant may take it.
    pub slug_rest_days: u32,
}

/// How a tenant's end users sign in now, for the Sign-in settings page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SignInSetup {
    /// `tenant_app` (its own GitHub app), `platform_app` (the platform's GitHub app), `demo`
    /// (the marked demo sign-in: no GitHub app anywhere) or `unavailable` (production without
    /// any GitHub app).
    pub active: String,
    /// The callback URL to register with the tenant's own GitHub app (served by this server).
    pub github_callback_url: String,
}

/// An amount of money.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Money {
    /// ISO code, lower case.
    pub currency: String,
    /// Minor units.
    pub amount: i64,
    /// As people read it.
    pub text: String,
}

/// A ready-to-paste configuration for one MCP client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ClientConfig {
    /// `claude_desktop`, `claude_code`, `cursor`, `inspector`.
    pub client: String,
    /// Its name.
    pub label: String,
    /// `json` or `shell`.
    pub format: String,
    /// What to paste.
    pub text: String,
}

/// A tenant's overview page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Overview {
    /// The MCP endpoint.
    pub mcp_url: String,
    /// Enabled tools.
    pub tools_enabled: u64,
    /// Enabled tools with a price.
    pub tools_paid: u64,
    /// Tool calls today (UTC).
    pub calls_today: u64,
    /// Tool calls in the last 30 days.
    pub calls_30d: u64,
    /// End users with an active plan.
    pub paying_customers: u64,
    /// End users who signed in.
    pub end_users: u64,
    /// Revenue in the last 30 days, per currency.
    pub revenue_30d: Vec<Money>,
    /// Client configurations.
    pub client_configs: Vec<ClientConfig>,
}

/// A catalog operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CatalogEntry {
    /// Its key (`query_themes`).
    pub operation: String,
    /// The tool name it gets by default.
    pub default_name: String,
    /// Its title.
    pub title: String,
    /// Its description.
    pub description: String,
}

/// A tenant's tool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Tool {
    /// Id.
    pub id: String,
    /// The catalog operation.
    pub operation: String,
    /// The name clients see.
    pub name: String,
    /// Title override.
    pub title: Option<String>,
    /// Description override.
    pub description: Option<String>,
    /// The catalog's title.
    pub default_title: String,
    /// The catalog's description.
    pub default_description: String,
    /// Whether clients see it.
    pub enabled: bool,
    /// Its place in `tools/list`.
    pub position: i32,
    /// The plan that prices it, if any.
    pub offer_id: Option<String>,
    /// The plan's price, as people read it.
    pub price_text: Option<String>,
}

/// `POST /api/v1/tenants/{slug}/tools`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NewTool {
    /// The catalog operation.
    pub operation: String,
    /// The name clients will see.
    pub name: String,
}

/// `PATCH /api/v1/tenants/{slug}/tools/{id}`. For `title`, `description` and `offer_id`:
/// absent leaves it, `null` clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ToolPatch {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New title (`Some(None)` resets).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub title: Option<Option<String>>,
    /// New description (`Some(None)` resets).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub description: Option<Option<String>>,
    /// On or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// New plan (`Some(None)` makes it free).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub offer_id: Option<Option<String>>,
}

/// `PUT /api/v1/tenants/{slug}/tools/order`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ToolOrder {
    /// Every tool id, in the new order.
    pub tool_ids: Vec<String>,
}

/// A plan as an operator writes it (`POST`/`PUT` offers).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NewOffer {
    /// Display name.
    pub name: String,
    /// `one_time`, `subscription` or `metered`.
    pub kind: String,
    /// The Stripe price id.
    pub price_id: String,
    /// Minor units.
    pub amount: i64,
    /// ISO code.
    pub currency: String,
    /// `month`/`year` (subscription, metered).
    #[serde(default)]
    pub interval: Option<String>,
    /// Calls one purchase buys (one-time; `None` unlimited).
    #[serde(default)]
    pub calls: Option<i64>,
    /// The billing meter's event name (metered).
    #[serde(default)]
    pub meter_event: Option<String>,
    /// The value each call reports (metered, default 1).
    #[serde(default)]
    pub meter_value: Option<i64>,
    /// Free calls per user per month.
    #[serde(default)]
    pub free_quota: Option<i32>,
    /// Most billed calls per user per month (metered).
    #[serde(default)]
    pub spend_cap: Option<i64>,
    /// Why payment is asked.
    #[serde(default)]
    pub payment_reason: Option<String>,
    /// Where the browser goes after paying.
    #[serde(default)]
    pub success_url: Option<String>,
}

/// A plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Offer {
    /// Id.
    pub id: String,
    /// As written.
    #[serde(flatten)]
    pub fields: NewOffer,
    /// The price as people read it.
    pub price_text: String,
    /// The tools it prices.
    pub tools: Vec<String>,
}

/// `PUT /api/v1/tenants/{slug}/payments/stripe`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StripeKeys {
    /// `sk_…` or `rk_…`.
    pub secret_key: String,
    /// `whsec_…`.
    pub webhook_secret: String,
}

/// The answer of "test connection".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ConnectionTest {
    /// Whether Stripe accepted the key.
    pub ok: bool,
    /// What to tell the operator.
    pub message: String,
}

/// A price in the tenant's Stripe account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StripePrice {
    /// `price_…`.
    pub id: String,
    /// The product's name.
    pub product: String,
    /// Minor units.
    pub amount: i64,
    /// ISO code.
    pub currency: String,
    /// `one_time`, `subscription` or `metered`.
    pub kind: String,
    /// `month`/`year` for recurring prices.
    pub interval: Option<String>,
    /// As people read it.
    pub text: String,
}

/// A meter event that was set aside and never reached Stripe
/// (`GET /api/v1/tenants/{slug}/meter-events/failed`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FailedMeterEvent {
    /// The identifier it would have had at Stripe (`tg_call_…`).
    pub identifier: String,
    /// The meter's event name.
    pub event_name: String,
    /// The Stripe customer (`cus_…`).
    pub customer: String,
    /// The usage it carried.
    pub value: i64,
    /// When the paid call happened (RFC 3339).
    pub occurred_at: String,
    /// Why it was set aside: Stripe's message, or the time limit it broke.
    pub reason: String,
    /// Attempts made to send it (0: never sent).
    pub attempts: i32,
    /// When it was set aside (RFC 3339).
    pub failed_at: String,
}

/// `PUT /api/v1/tenants/{slug}/github-app`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GitHubAppKeys {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
}

/// A registered MCP client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct McpClientView {
    /// Its client id.
    pub client_id: String,
    /// Its name.
    pub name: String,
    /// Its redirect URIs.
    pub redirect_uris: Vec<String>,
    /// `dynamic`, `metadata_document` or `preregistered`.
    pub kind: String,
    /// Registered.
    pub created_at: String,
    /// Users with a live grant.
    pub active_grants: u64,
}

/// A plan an end user holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CustomerPlan {
    /// The plan's name.
    pub offer: String,
    /// `active`, `trialing`, `past_due`, `canceled`, `exhausted`, …
    pub status: String,
    /// Calls left (one-time plans with a count).
    pub calls_remaining: Option<i64>,
    /// End of the paid period (subscriptions).
    pub period_end: Option<String>,
}

/// A payment an end user made or started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CustomerPayment {
    /// Purchase id.
    pub id: String,
    /// The plan's name.
    pub offer: String,
    /// `open`, `paid`, `expired`, …
    pub status: String,
    /// Started.
    pub created_at: String,
    /// The plan's price.
    pub amount_text: String,
}

/// Calls of one tool in one month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CustomerUsage {
    /// Tool name.
    pub tool: String,
    /// Calls.
    pub calls: u64,
    /// `YYYY-MM`.
    pub period: String,
}

/// An end user of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Customer {
    /// Id.
    pub id: String,
    /// Login at the identity provider.
    pub login: String,
    /// Name, if known.
    pub name: Option<String>,
    /// E-mail, if known.
    pub email: Option<String>,
    /// First sign-in.
    pub created_at: String,
    /// Billed calls this month.
    pub calls_this_month: u64,
    /// Plans.
    pub plans: Vec<CustomerPlan>,
    /// Payments (in the detail answer only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payments: Vec<CustomerPayment>,
    /// Usage per tool and month (in the detail answer only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage: Vec<CustomerUsage>,
}

/// Calls of one tool on one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DailyCalls {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Tool name.
    pub tool: String,
    /// Free calls that succeeded.
    pub free: u64,
    /// Paid calls that succeeded.
    pub paid: u64,
    /// Calls answered with a payment request.
    pub payment_required: u64,
    /// Calls that failed.
    pub errors: u64,
}

/// Totals over the period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AnalyticsTotals {
    /// Every call.
    pub calls: u64,
    /// Free calls.
    pub free: u64,
    /// Paid calls.
    pub paid: u64,
    /// Payment requests.
    pub payment_required: u64,
    /// Failures.
    pub errors: u64,
    /// Checkouts opened.
    pub checkouts_started: u64,
    /// Checkouts paid.
    pub checkouts_paid: u64,
    /// `checkouts_paid / checkouts_started` (0 when none started).
    pub conversion: f64,
}

/// `GET /api/v1/tenants/{slug}/analytics`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Analytics {
    /// The period, in days up to today.
    pub days: u32,
    /// Per day and tool, oldest first.
    pub daily: Vec<DailyCalls>,
    /// Totals.
    pub totals: AnalyticsTotals,
    /// Revenue per currency.
    pub revenue: Vec<Money>,
}

/// One configuration change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AuditEntry {
    /// Id.
    pub id: String,
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// What (`tool.update`).
    pub action: String,
    /// On what (`wporg_query_themes`).
    pub target: String,
    /// The change.
    pub detail: serde_json::Value,
}

/// A member of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Member {
    /// Operator id.
    pub operator_id: String,
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: Option<String>,
    /// GitHub login.
    pub github_login: Option<String>,
    /// Role.
    pub role: String,
}

/// `PATCH .../members/{id}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RoleChange {
    /// The new role.
    pub role: String,
}

/// An open invitation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Invitation {
    /// Id.
    pub id: String,
    /// Who is invited.
    pub email: String,
    /// As what.
    pub role: String,
    /// Created.
    pub created_at: String,
    /// Valid until.
    pub expires_at: String,
    /// The link to send: only in the answer that creates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_url: Option<String>,
}

/// `POST .../invitations`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NewInvitation {
    /// E-mail.
    pub email: String,
    /// Role.
    pub role: String,
}

/// `POST /api/v1/invitations/accept`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AcceptInvitation {
    /// The link's token.
    pub token: String,
    /// Name for a new account.
    #[serde(default)]
    pub name: Option<String>,
    /// Password for a new account.
    #[serde(default)]
    pub password: Option<String>,
}

/// `{"tools": [...]}`: the live `tools/list` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ToolsPreview {
    /// Tools as MCP clients receive them.
    pub tools: Vec<serde_json::Value>,
}

/// `POST /api/v1/tenants/{slug}/tools/{id}/preview`: a tool's unsaved edits, as the editor's
/// forms hold them. Absent fields keep what is saved.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ToolDraft {
    /// The title as typed (empty: the catalog's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The description as typed (empty: the catalog's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The plan chosen (`null`: free).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub offer_id: Option<Option<String>>,
    /// A plan not created yet ("New plan…"), priced as it would be once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_offer: Option<NewOffer>,
}

/// `{"tool": …}`: the tool as `tools/list` would describe it once the draft is saved; `null`
/// when it is switched off (clients would not see it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ToolDraftPreview {
    /// The tool as MCP clients would receive it.
    pub tool: Option<serde_json::Value>,
}

/// Serde for `Option<Option<T>>`: absent → `None`, `null` → `Some(None)`.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

/// One entitlement a reconciliation changed to match Stripe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReconciliationCorrection {
    /// The end user's id.
    pub end_user_id: String,
    /// Their login.
    pub end_user: String,
    /// The plan's name.
    pub offer: String,
    /// What granted it: `checkout:<session>` or `subscription:<id>`.
    pub source: String,
    /// `active`, `suspended` or `revoked` before (null: there was no entitlement).
    pub before: Option<String>,
    /// `active`, `suspended` or `revoked` now.
    pub after: String,
    /// The end of access before (RFC 3339), when it had one.
    pub access_until_before: Option<String>,
    /// The end of access now (RFC 3339), when it has one.
    pub access_until: Option<String>,
    /// What showed the difference: a Stripe event type whose webhook was lost, or
    /// `subscription` for a subscription read again from Stripe.
    pub cause: String,
    /// The Stripe event's id, when an event showed it.
    pub event: Option<String>,
}

/// What one reconciliation with Stripe did (`POST …/billing/reconcile`,
/// `GET …/billing/reconciliation`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReconciliationReport {
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it finished (RFC 3339).
    pub finished_at: String,
    /// The replica that ran it.
    pub replica: String,
    /// `schedule` (the background job) or `operator`.
    pub trigger: String,
    /// Events of the handled types read from Stripe.
    pub events_read: u64,
    /// Of those, events Tollgate had not seen (their webhooks were lost), now applied.
    pub events_applied: u64,
    /// Subscriptions read again from Stripe.
    pub subscriptions_checked: u64,
    /// Entitlements changed to match Stripe.
    pub corrections: Vec<ReconciliationCorrection>,
    /// What could not be checked, with Stripe's message.
    pub problems: Vec<String>,
}
