//! The OpenAPI 3.1 document of the admin API, served at `/api/v1/openapi.json`. The operations
//! are listed in [`OPERATIONS`]; the schemas are generated from the wire types the handlers
//! really use (`api_types::wire`), so they cannot drift from the code. A test checks that every
//! listed operation answers (the cross-tenant matrix walks this document).

use api_types::wire;
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

/// Who may call an operation.
#[derive(Clone, Copy)]
enum Access {
    /// Anyone.
    Public,
    /// Any signed-in operator.
    SignedIn,
    /// A member of the tenant with at least this role.
    Member(&'static str),
}

/// A request or response body: a schema made from a wire type.
type SchemaOf = fn(&mut SchemaGenerator) -> Value;

fn of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Value {
    generator.subschema_for::<T>().to_value()
}

fn list_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Value {
    generator.subschema_for::<Vec<T>>().to_value()
}

fn any_json(_: &mut SchemaGenerator) -> Value {
    json!({"type": "object"})
}

struct Operation {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    access: Access,
    request: Option<SchemaOf>,
    status: u16,
    response: Option<SchemaOf>,
}

#[expect(clippy::too_many_arguments, reason = "one row of the table each")]
const fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    access: Access,
    request: Option<SchemaOf>,
    status: u16,
    response: Option<SchemaOf>,
) -> Operation {
    Operation {
        method,
        path,
        id,
        summary,
        access,
        request,
        status,
        response,
    }
}

use Access::{Member, Public, SignedIn};

/// Every operation of the admin API.
#[rustfmt::skip]
const OPERATIONS: &[Operation] = &[
    op("get", "/api/v1/setup", "setup_status", "Whether the first operator has yet to be created", Public, None, 200, Some(of::<wire::SetupStatus>)),
    op("post", "/api/v1/setup", "setup", "Create the first operator with the setup link's token", Public, Some(of::<wire::SetupRequest>), 201, Some(of::<wire::Session>)),
    op("get", "/api/v1/session/options", "sign_in_options", "How operators can sign in", Public, None, 200, Some(of::<wire::SignInOptions>)),
    op("post", "/api/v1/session", "sign_in", "Sign in with e-mail and password (sets the session cookie)", Public, Some(of::<wire::SignInRequest>), 200, Some(of::<wire::Session>)),
    op("get", "/api/v1/session", "get_session", "The signed-in operator and the CSRF token", SignedIn, None, 200, Some(of::<wire::Session>)),
    op("delete", "/api/v1/session", "sign_out", "Sign out", SignedIn, None, 204, None),
    op("get", "/api/v1/session/github", "github_sign_in", "Start signing in with GitHub (302 to GitHub)", Public, None, 302, None),
    op("get", "/api/v1/session/github/callback", "github_callback", "GitHub's return (302 to the dashboard)", Public, None, 302, None),
    op("get", "/api/v1/tokens", "list_tokens", "Your personal API tokens", SignedIn, None, 200, Some(list_of::<wire::ApiToken>)),
    op("post", "/api/v1/tokens", "create_token", "Make a personal API token (shown once)", SignedIn, Some(of::<wire::NewApiToken>), 201, Some(of::<wire::ApiToken>)),
    op("delete", "/api/v1/tokens/{id}", "delete_token", "Revoke a personal API token", SignedIn, None, 204, None),
    op("get", "/api/v1/catalog", "catalog", "Every WordPress.org operation a tool can run", SignedIn, None, 200, Some(list_of::<wire::CatalogEntry>)),
    op("get", "/api/v1/tenants", "list_tenants", "The tenants you are a member of", SignedIn, None, 200, Some(list_of::<wire::TenantSummary>)),
    op("post", "/api/v1/tenants", "create_tenant", "Create a tenant (you become its owner)", SignedIn, Some(of::<wire::NewTenant>), 201, Some(of::<wire::Tenant>)),
    op("get", "/api/v1/tenants/{slug}", "get_tenant", "A tenant", Member("viewer"), None, 200, Some(of::<wire::Tenant>)),
    op("patch", "/api/v1/tenants/{slug}", "update_tenant", "Rename a tenant or change its settings", Member("admin"), Some(of::<wire::TenantPatch>), 200, Some(of::<wire::Tenant>)),
    op("delete", "/api/v1/tenants/{slug}", "delete_tenant", "Delete a tenant and everything it owns (its slug rests 30 days)", Member("owner"), Some(of::<wire::DeleteTenant>), 204, None),
    op("get", "/api/v1/tenants/{slug}/overview", "overview", "MCP URL, client configurations and numbers at a glance", Member("viewer"), None, 200, Some(of::<wire::Overview>)),
    op("get", "/api/v1/tenants/{slug}/tools", "list_tools", "The tenant's tools in tools/list order", Member("viewer"), None, 200, Some(list_of::<wire::Tool>)),
    op("post", "/api/v1/tenants/{slug}/tools", "add_tool", "Add a tool from the catalog", Member("admin"), Some(of::<wire::NewTool>), 201, Some(of::<wire::Tool>)),
    op("put", "/api/v1/tenants/{slug}/tools/order", "reorder_tools", "Reorder the tools", Member("admin"), Some(of::<wire::ToolOrder>), 200, Some(list_of::<wire::Tool>)),
    op("get", "/api/v1/tenants/{slug}/tools/preview", "preview_tools", "The live tools/list answer", Member("viewer"), None, 200, Some(of::<wire::ToolsPreview>)),
    op("post", "/api/v1/tenants/{slug}/tools/{id}/preview", "preview_tool_draft", "How a tool would be listed with unsaved edits (nothing is changed)", Member("viewer"), Some(of::<wire::ToolDraft>), 200, Some(of::<wire::ToolDraftPreview>)),
    op("patch", "/api/v1/tenants/{slug}/tools/{id}", "update_tool", "Rename, describe, turn on/off or price a tool", Member("admin"), Some(of::<wire::ToolPatch>), 200, Some(of::<wire::Tool>)),
    op("get", "/api/v1/tenants/{slug}/offers", "list_offers", "The tenant's plans", Member("viewer"), None, 200, Some(list_of::<wire::Offer>)),
    op("post", "/api/v1/tenants/{slug}/offers", "create_offer", "Create a plan", Member("admin"), Some(of::<wire::NewOffer>), 201, Some(of::<wire::Offer>)),
    op("put", "/api/v1/tenants/{slug}/offers/{id}", "update_offer", "Change a plan", Member("admin"), Some(of::<wire::NewOffer>), 200, Some(of::<wire::Offer>)),
    op("put", "/api/v1/tenants/{slug}/payments/stripe", "connect_stripe", "Connect Stripe (keys stored encrypted)", Member("admin"), Some(of::<wire::StripeKeys>), 200, Some(of::<wire::Tenant>)),
    op("delete", "/api/v1/tenants/{slug}/payments/stripe", "disconnect_stripe", "Go back to the sandbox", Member("admin"), None, 200, Some(of::<wire::Tenant>)),
    op("post", "/api/v1/tenants/{slug}/payments/stripe/test", "test_stripe", "Check the Stripe key works", Member("admin"), None, 200, Some(of::<wire::ConnectionTest>)),
    op("get", "/api/v1/tenants/{slug}/payments/stripe/prices", "stripe_prices", "Prices in the tenant's Stripe account", Member("admin"), None, 200, Some(list_of::<wire::StripePrice>)),
    op("get", "/api/v1/tenants/{slug}/meter-events/failed", "failed_meter_events", "Usage Stripe refused (or would have): set aside, never retried, the latest 100", Member("viewer"), None, 200, Some(list_of::<wire::FailedMeterEvent>)),
    op("post", "/api/v1/tenants/{slug}/billing/reconcile", "reconcile_billing", "Reconcile with Stripe now: lost webhooks' events applied, stale subscriptions read again; 409 while another replica runs one", Member("admin"), None, 200, Some(of::<wire::ReconciliationReport>)),
    op("get", "/api/v1/tenants/{slug}/billing/reconciliation", "last_reconciliation", "The last reconciliation's report (null before the first)", Member("viewer"), None, 200, Some(of::<Option<wire::ReconciliationReport>>)),
    op("get", "/api/v1/tenants/{slug}/sign-in", "sign_in_setup", "The sign-in end users get now, and the GitHub callback URL to register", Member("viewer"), None, 200, Some(of::<wire::SignInSetup>)),
    op("put", "/api/v1/tenants/{slug}/github-app", "set_github_app", "Use the tenant's own GitHub app for end users", Member("admin"), Some(of::<wire::GitHubAppKeys>), 200, Some(of::<wire::Tenant>)),
    op("delete", "/api/v1/tenants/{slug}/github-app", "remove_github_app", "Go back to the platform's GitHub app", Member("admin"), None, 200, Some(of::<wire::Tenant>)),
    op("get", "/api/v1/tenants/{slug}/clients", "list_clients", "Registered MCP clients", Member("viewer"), None, 200, Some(list_of::<wire::McpClientView>)),
    op("delete", "/api/v1/tenants/{slug}/clients/{client_id}", "revoke_client", "Revoke an MCP client and its tokens", Member("admin"), None, 204, None),
    op("get", "/api/v1/tenants/{slug}/customers", "list_customers", "End users, their plans and usage", Member("viewer"), None, 200, Some(list_of::<wire::Customer>)),
    op("get", "/api/v1/tenants/{slug}/customers/{id}", "get_customer", "One end user with payments and usage", Member("viewer"), None, 200, Some(of::<wire::Customer>)),
    op("get", "/api/v1/tenants/{slug}/analytics", "analytics", "Calls per tool and day, conversion, revenue (?days=1-366)", Member("viewer"), None, 200, Some(of::<wire::Analytics>)),
    op("get", "/api/v1/tenants/{slug}/audit", "audit_log", "Configuration changes, newest first", Member("viewer"), None, 200, Some(list_of::<wire::AuditEntry>)),
    op("get", "/api/v1/tenants/{slug}/members", "list_members", "Members and their roles", Member("viewer"), None, 200, Some(list_of::<wire::Member>)),
    op("patch", "/api/v1/tenants/{slug}/members/{operator_id}", "change_role", "Change a member's role", Member("owner"), Some(of::<wire::RoleChange>), 200, Some(of::<wire::Member>)),
    op("delete", "/api/v1/tenants/{slug}/members/{operator_id}", "remove_member", "Remove a member", Member("owner"), None, 204, None),
    op("get", "/api/v1/tenants/{slug}/invitations", "list_invitations", "Open invitations", Member("admin"), None, 200, Some(list_of::<wire::Invitation>)),
    op("post", "/api/v1/tenants/{slug}/invitations", "invite", "Invite someone by e-mail (the link is shown once)", Member("owner"), Some(of::<wire::NewInvitation>), 201, Some(of::<wire::Invitation>)),
    op("delete", "/api/v1/tenants/{slug}/invitations/{id}", "revoke_invitation", "Withdraw an invitation", Member("owner"), None, 204, None),
    op("post", "/api/v1/invitations/accept", "accept_invitation", "Accept an invitation", Public, Some(of::<wire::AcceptInvitation>), 200, Some(of::<wire::Session>)),
    op("get", "/api/v1/openapi.json", "openapi", "This document", Public, None, 200, Some(any_json)),
];

/// The document.
pub fn document() -> Value {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let error = of::<wire::ErrorBody>(&mut generator);
    let mut paths: Map<String, Value> = Map::new();
    for operation in OPERATIONS {
        let mut responses = Map::new();
        let ok = match operation.response {
            Some(schema) => json!({
                "description": "OK",
                "content": {"application/json": {"schema": schema(&mut generator)}}
            }),
            None => json!({"description": "Done"}),
        };
        responses.insert(operation.status.to_string(), ok);
        responses.insert(
            "default".into(),
            json!({
                "description": "An error (see the `code`)",
                "content": {"application/json": {"schema": error.clone()}}
            }),
        );
        let parameters: Vec<Value> = operation
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let (security, role) = match operation.access {
            Public => (json!([]), None),
            SignedIn => (json!([{"session": []}, {"token": []}]), None),
            Member(role) => (json!([{"session": []}, {"token": []}]), Some(role)),
        };
        let mut entry = json!({
            "operationId": operation.id,
            "summary": operation.summary,
            "parameters": parameters,
            "responses": responses,
            "security": security,
        });
        if let Some(role) = role {
            entry["x-tollgate-role"] = json!(role);
            entry["description"] = json!(format!(
                "Needs the `{role}` role (or higher) in the tenant. A tenant you are not a member of answers 404."
            ));
        }
        if let Some(schema) = operation.request {
            entry["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": schema(&mut generator)}}
            });
        }
        let path = paths
            .entry(operation.path.to_owned())
            .or_insert_with(|| json!({}));
        path[operation.method] = entry;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tollgate admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Configure tenants, tools, prices, payments and sign-in; read customers, analytics and the audit log. Writes with the session cookie need the X-CSRF-Token header; personal API tokens (Bearer tga_…) do not."
        },
        "paths": paths,
        "components": {
            "schemas": generator.take_definitions(true),
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": crate::account::SESSION_COOKIE},
                "token": {"type": "http", "scheme": "bearer", "description": "A personal API token (tga_…)"}
            }
        }
    })
}
