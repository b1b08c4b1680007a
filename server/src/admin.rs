//! The admin API (`/api/v1`) that the operators' dashboard uses and operators script: its
//! errors (turned into JSON responses here, in one place), the views that turn domain types
//! into the wire types shared with the dashboard (`api_types::wire`), the ready-to-paste client
//! configurations, and the OpenAPI document. `routes.rs` holds the handlers; the dashboard's
//! files are served by `assets.rs`.

pub(crate) mod assets;
pub(crate) mod openapi;
pub(crate) mod routes;

use crate::account::{AccountError, InvitationInfo, MemberInfo, Operator, Role};
use crate::analytics::AnalyticsError;
use crate::billing::{BillingError, Offer};
use crate::oauth::OAuthError;
use crate::tenant::{Tenant, TenantError, ToolConfig};
use api_types::wire;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Everything the admin API can answer instead of what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The body is not JSON of the right shape.
    #[error("{0}")]
    BadRequest(String),
    /// A field is wrong.
    #[error("{message}")]
    Invalid {
        /// The field, when one is to blame.
        field: Option<&'static str>,
        /// What is wrong.
        message: String,
    },
    /// A cookie-authenticated write without the session's CSRF token.
    #[error("missing or wrong X-CSRF-Token header; reload the dashboard")]
    Csrf,
    /// No such object, or one of a tenant the caller is not a member of.
    #[error("not found")]
    NotFound,
    /// No such route under `/api/v1`.
    #[error("no such API route; see /api/v1/openapi.json")]
    NoRoute,
    /// The request cannot be carried out in the current state; the message says why and what
    /// to do first.
    #[error("{0}")]
    Conflict(String),
    /// Operators' accounts.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Tenants and tools.
    #[error(transparent)]
    Tenant(#[from] TenantError),
    /// Billing.
    #[error(transparent)]
    Billing(#[from] BillingError),
    /// The authorization server.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// Analytics.
    #[error(transparent)]
    Analytics(#[from] AnalyticsError),
}

impl AdminError {
    /// A field-level validation error.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: Some(field),
            message: message.into(),
        }
    }

    /// (status, code, field) of this error.
    fn classify(&self) -> (StatusCode, &'static str, Option<&'static str>) {
        use StatusCode as S;
        match self {
            Self::BadRequest(_) => (S::BAD_REQUEST, "bad_request", None),
            Self::Invalid { field, .. } => (S::BAD_REQUEST, "invalid", *field),
            Self::Csrf => (S::FORBIDDEN, "csrf", None),
            Self::NotFound | Self::NoRoute => (S::NOT_FOUND, "not_found", None),
            Self::Conflict(_) => (S::CONFLICT, "conflict", None),
            Self::Account(e) => match e {
                AccountError::Invalid { field, .. } => (S::BAD_REQUEST, "invalid", Some(*field)),
                AccountError::WrongCredentials => (S::BAD_REQUEST, "invalid", None),
                AccountError::Throttled { .. } => (S::TOO_MANY_REQUESTS, "throttled", None),
                AccountError::Unauthenticated | AccountError::WrongTokenKind => {
                    (S::UNAUTHORIZED, "unauthenticated", None)
                }
                AccountError::Forbidden => (S::FORBIDDEN, "forbidden", None),
                AccountError::NotFound => (S::NOT_FOUND, "not_found", None),
                AccountError::Conflict(_) => (S::CONFLICT, "conflict", None),
                AccountError::SetupUnavailable(_) => (S::FORBIDDEN, "forbidden", None),
                AccountError::GitHub(_) => (S::BAD_GATEWAY, "provider", None),
                // Authentication reads the database first: when it fails, the caller's
                // credential is not at fault, so 503 (with Retry-After), never 401.
                AccountError::Database(_) => (S::SERVICE_UNAVAILABLE, "unavailable", None),
                AccountError::Crypto(_) => (S::INTERNAL_SERVER_ERROR, "internal", None),
            },
            Self::Tenant(e) => match e {
                TenantError::InvalidSlug(_) => (S::BAD_REQUEST, "invalid", Some("slug")),
                TenantError::InvalidToolName(_) => (S::BAD_REQUEST, "invalid", Some("name")),
                TenantError::InvalidText(_) => (S::BAD_REQUEST, "invalid", None),
                // A deleted tenant is gone from the admin API as if it had never been.
                TenantError::TenantNotFound
                | TenantError::TenantGone
                | TenantError::ToolNotFound => (S::NOT_FOUND, "not_found", None),
                TenantError::SlugTaken(_) => (S::CONFLICT, "conflict", Some("slug")),
                TenantError::SlugRetired { .. } => (S::BAD_REQUEST, "invalid", Some("slug")),
                TenantError::ToolNameTaken(_) => (S::CONFLICT, "conflict", Some("name")),
                #[allow(unreachable_patterns, reason = "the enum may grow variants")]
                TenantError::Database(_) => (S::INTERNAL_SERVER_ERROR, "internal", None),
                #[allow(unreachable_patterns, reason = "the enum may grow variants")]
                _ => (S::BAD_REQUEST, "invalid", None),
            },
            Self::Billing(e) => match e {
                BillingError::Invalid(_) => (S::BAD_REQUEST, "invalid", None),
                BillingError::OfferNotFound => (S::NOT_FOUND, "not_found", None),
                BillingError::Provider(_) => (S::BAD_GATEWAY, "provider", None),
                BillingError::Busy(_) => (S::CONFLICT, "conflict", None),
                BillingError::Tenant(
                    TenantError::TenantNotFound
                    | TenantError::TenantGone
                    | TenantError::ToolNotFound,
                ) => (S::NOT_FOUND, "not_found", None),
                BillingError::Tenant(_) | BillingError::Crypto(_) | BillingError::Database(_) => {
                    (S::INTERNAL_SERVER_ERROR, "internal", None)
                }
            },
            Self::OAuth(e) => match e {
                OAuthError::ClientNotFound => (S::NOT_FOUND, "not_found", None),
                OAuthError::Server(_) => (S::INTERNAL_SERVER_ERROR, "internal", None),
                _ => (S::BAD_REQUEST, "invalid", None),
            },
            Self::Analytics(_) => (S::INTERNAL_SERVER_ERROR, "internal", None),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, code, field) = self.classify();
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "admin API request failed");
            "something went wrong on our side; try again".to_owned()
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %self, "admin API request failed: database unavailable");
            "the service is temporarily unavailable; try again shortly".to_owned()
        } else {
            self.to_string()
        };
        let body = wire::ErrorBody {
            error: wire::ApiError {
                code: code.to_owned(),
                message,
                field: field.map(str::to_owned),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let Self::Account(AccountError::Throttled { retry_after_secs }) = self
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// An operator as the dashboard shows them.
pub fn operator_view(operator: &Operator) -> wire::Operator {
    wire::Operator {
        id: operator.id.0.to_string(),
        email: operator.email.clone(),
        name: operator.name.clone(),
        github_login: operator.github_login.clone(),
    }
}

fn time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A tenant as the dashboard shows it.
pub fn tenant_view(tenant: &Tenant, role: Role, public_url: &str) -> wire::Tenant {
    let base = public_url.trim_end_matches('/');
    wire::Tenant {
        id: tenant.id.0.to_string(),
        slug: tenant.slug.to_string(),
        name: tenant.name.clone(),
        role: role.as_str().to_owned(),
        mcp_url: format!("{base}/t/{}/mcp", tenant.slug),
        webhook_url: format!("{base}/t/{}/webhooks/stripe", tenant.slug),
        anonymous_free_tools: tenant.settings.anonymous_free_tools,
        billing_tools: tenant.settings.billing_tools,
        refund_duplicate_payments: tenant.settings.refund_duplicate_payments,
        payments: wire::Payments {
            mode: if tenant.settings.stripe.is_some() {
                "stripe"
            } else {
                "sandbox"
            }
            .to_owned(),
            key_hint: tenant.settings.stripe.as_ref().map(|s| s.key_hint.clone()),
        },
        github_app: tenant
            .settings
            .github_app
            .as_ref()
            .map(|app| wire::GitHubAppView {
                client_id: app.client_id.clone(),
            }),
        created_at: time(tenant.created_at),
        slug_rest_days: u32::try_from(crate::tenant::SLUG_RETIREMENT.num_days())
            .unwrap_or(u32::MAX),
    }
}

/// A tenant in the list.
pub fn tenant_summary(tenant: &Tenant, role: Role, public_url: &str) -> wire::TenantSummary {
    let full = tenant_view(tenant, role, public_url);
    wire::TenantSummary {
        id: full.id,
        slug: full.slug,
        name: full.name,
        role: full.role,
        mcp_url: full.mcp_url,
        created_at: full.created_at,
    }
}

/// A tool as the dashboard shows it.
pub fn tool_view(tool: &ToolConfig, offers: &[Offer]) -> wire::Tool {
    let offer = crate::billing::offer_of(offers, tool);
    wire::Tool {
        id: tool.id.0.to_string(),
        operation: tool.operation.key().to_owned(),
        name: tool.name.to_string(),
        title: tool.title.clone(),
        description: tool.description.clone(),
        default_title: tool.operation.title().to_owned(),
        default_description: tool.operation.description().to_owned(),
        enabled: tool.enabled,
        position: tool.position,
        offer_id: offer.map(|o| o.id.0.to_string()),
        price_text: offer.map(Offer::price_text),
    }
}

/// A plan as the dashboard shows it.
pub fn offer_view(offer: &Offer, tools: Vec<String>) -> wire::Offer {
    wire::Offer {
        id: offer.id.0.to_string(),
        fields: wire::NewOffer {
            name: offer.name.clone(),
            kind: serde_json::to_value(offer.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            price_id: offer.price_id.clone(),
            amount: offer.amount,
            currency: offer.currency.clone(),
            interval: offer.interval.clone(),
            calls: offer.calls,
            meter_event: offer.meter_event.clone(),
            meter_value: Some(offer.meter_value),
            free_quota: offer.free_quota,
            spend_cap: offer.spend_cap,
            payment_reason: Some(offer.payment_reason.clone()),
            success_url: offer.success_url.clone(),
            past_due_grace_days: Some(i64::from(offer.past_due_grace_days)),
        },
        price_text: offer.price_text(),
        tools,
    }
}

/// A plan as the billing feature takes it.
pub fn new_offer(wire: wire::NewOffer) -> Result<crate::billing::NewOffer, AdminError> {
    let kind =
        serde_json::from_value(serde_json::Value::String(wire.kind.clone())).map_err(|_| {
            AdminError::invalid("kind", "the kind must be one_time, subscription or metered")
        })?;
    Ok(crate::billing::NewOffer {
        name: wire.name,
        kind,
        price_id: wire.price_id,
        amount: wire.amount,
        currency: wire.currency,
        interval: wire.interval,
        calls: wire.calls,
        meter_event: wire.meter_event,
        meter_value: wire.meter_value,
        free_quota: wire.free_quota,
        spend_cap: wire.spend_cap,
        payment_reason: wire.payment_reason,
        success_url: wire.success_url,
        past_due_grace_days: wire.past_due_grace_days,
    })
}

/// A member as the dashboard shows them.
pub fn member_view(member: &MemberInfo) -> wire::Member {
    wire::Member {
        operator_id: member.operator.id.0.to_string(),
        name: member.operator.name.clone(),
        email: member.operator.email.clone(),
        github_login: member.operator.github_login.clone(),
        role: member.role.as_str().to_owned(),
    }
}

/// An invitation as the dashboard shows it.
pub fn invitation_view(
    invitation: &InvitationInfo,
    accept_url: Option<String>,
) -> wire::Invitation {
    wire::Invitation {
        id: invitation.id.to_string(),
        email: invitation.email.clone(),
        role: invitation.role.as_str().to_owned(),
        created_at: time(invitation.created_at),
        expires_at: time(invitation.expires_at),
        accept_url,
    }
}

/// An API token as listed.
pub fn token_view(token: &crate::account::ApiTokenInfo, secret: Option<String>) -> wire::ApiToken {
    wire::ApiToken {
        id: token.id.to_string(),
        name: token.name.clone(),
        prefix: token.prefix.clone(),
        created_at: time(token.created_at),
        last_used_at: token.last_used_at.map(time),
        token: secret,
    }
}

/// An audit entry as listed.
pub fn audit_view(entry: crate::account::AuditEntry) -> wire::AuditEntry {
    wire::AuditEntry {
        id: entry.id.to_string(),
        at: time(entry.at),
        actor: entry.actor,
        action: entry.action,
        target: entry.target,
        detail: entry.detail,
    }
}

/// Revenue in one currency, with the amount as people read it.
pub fn money_view(revenue: &crate::analytics::Revenue) -> wire::Money {
    wire::Money {
        text: api_types::money::display(revenue.amount, &revenue.currency),
        currency: revenue.currency.clone(),
        amount: revenue.amount,
    }
}

/// A tenant's analytics report, for the dashboard.
pub fn analytics_view(report: crate::analytics::Report) -> wire::Analytics {
    let totals = report.totals;
    wire::Analytics {
        days: report.days,
        daily: report
            .daily
            .into_iter()
            .map(|day| wire::DailyCalls {
                date: day.day.format("%Y-%m-%d").to_string(),
                tool: day.tool,
                free: day.free,
                paid: day.paid,
                payment_required: day.payment_required,
                errors: day.errors,
            })
            .collect(),
        totals: wire::AnalyticsTotals {
            calls: totals.calls,
            free: totals.free,
            paid: totals.paid,
            payment_required: totals.payment_required,
            errors: totals.errors,
            checkouts_started: totals.checkouts_started,
            checkouts_paid: totals.checkouts_paid,
            conversion: totals.conversion,
        },
        revenue: report.revenue.iter().map(money_view).collect(),
    }
}

/// An MCP client, for the dashboard.
pub fn client_view(client: crate::oauth::ClientSummary) -> wire::McpClientView {
    wire::McpClientView {
        created_at: client
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        client_id: client.client_id,
        name: client.name,
        redirect_uris: client.redirect_uris,
        kind: client.kind,
        active_grants: client.active_grants,
    }
}

/// Ready-to-paste configurations of the common MCP clients for one endpoint. The server name
/// is the tenant's slug.
pub fn client_configs(slug: &str, mcp_url: &str) -> Vec<wire::ClientConfig> {
    let pretty = |value: serde_json::Value| {
        serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string())
    };
    vec![
        wire::ClientConfig {
            client: "claude_desktop".into(),
            label: "Claude Desktop".into(),
            format: "json".into(),
            // Claude Desktop's config file takes local commands; mcp-remote bridges to a remote
            // server and runs the OAuth sign-in in the browser.
            text: pretty(serde_json::json!({
                "mcpServers": {
                    slug: {"command": "npx", "args": ["-y", "mcp-remote", mcp_url]}
                }
            })),
        },
        wire::ClientConfig {
            client: "claude_code".into(),
            label: "Claude Code".into(),
            format: "shell".into(),
            text: format!("claude mcp add --transport http {slug} {mcp_url}"),
        },
        wire::ClientConfig {
            client: "cursor".into(),
            label: "Cursor".into(),
            format: "json".into(),
            text: pretty(serde_json::json!({"mcpServers": {slug: {"url": mcp_url}}})),
        },
        wire::ClientConfig {
            client: "inspector".into(),
            label: "MCP Inspector".into(),
            format: "shell".into(),
            text: format!(
                "npx @modelcontextprotocol/inspector --transport http --server-url {mcp_url}"
            ),
        },
    ]
}
