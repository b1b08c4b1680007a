//! Each tenant's MCP endpoint: one rmcp Streamable HTTP service per tenant, serving the tools
//! stored in the tenant's configuration, for 2025-era clients (sessions) and 2026-07-28 clients
//! (stateless) alike.

mod billing_tools;
mod direct;
mod handler;
mod replay;
pub(crate) mod routes;
mod sessions;
mod store;
mod streams;

use crate::app::AppState;
use crate::oauth::Caller;
use crate::tenant::{TenantId, TenantSnapshot};
use handler::TollgateMcp;
pub use handler::describe_tool;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
pub use sessions::{McpSessions, SESSION_IDLE, SessionError, SessionInfo, SessionLimits};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio_util::sync::CancellationToken;

/// How long clients may cache a `tools/list` answer (2026-07-28 `ttlMs`).
pub const TOOLS_LIST_TTL_MS: u64 = 30_000;

/// What `tools/list` answers for a tenant: its enabled tools in order, each described with its
/// price, then the billing tools when the tenant prices something and offers them. The admin
/// API's preview shows exactly this.
pub fn listed_tools(
    snapshot: &TenantSnapshot,
    offers: &[crate::billing::Offer],
) -> Vec<rmcp::model::Tool> {
    let mut tools: Vec<rmcp::model::Tool> = snapshot
        .tools
        .iter()
        .map(|tool| handler::describe_tool(tool, crate::billing::offer_of(offers, tool)))
        .collect();
    if billing_tools_on(snapshot, offers) {
        tools.extend(billing_tools::describe());
    }
    tools
}

/// How one tool would be listed with edits not saved yet (the dashboard's preview): `tool`
/// carrying the edited title and description, priced with `offer` (`None`: free). The same
/// description as [`listed_tools`] gives once the edits are saved; `None` for a tool that is
/// switched off, which clients do not see.
pub fn listed_tool_draft(
    tool: &crate::tenant::ToolConfig,
    offer: Option<&crate::billing::Offer>,
) -> Option<rmcp::model::Tool> {
    tool.enabled.then(|| handler::describe_tool(tool, offer))
}

/// Whether the tenant offers `billing_status` and friends: it sells something and did not turn
/// them off.
fn billing_tools_on(snapshot: &TenantSnapshot, offers: &[crate::billing::Offer]) -> bool {
    snapshot.tenant.settings.billing_tools
        && snapshot
            .tools
            .iter()
            .any(|t| crate::billing::offer_of(offers, t).is_some())
}

/// What the endpoint's middleware learned about a request, for the MCP handler.
#[derive(Clone, Debug)]
pub struct McpRequestContext {
    /// The tenant whose endpoint was called, with its tools.
    pub tenant: Arc<TenantSnapshot>,
    /// The signed-in caller; `None` for an anonymous call the tenant allows.
    pub caller: Option<Caller>,
    /// The legacy session the request belongs to, if any (what its `initialize` said).
    pub session: Option<SessionInfo>,
}

type TenantService = StreamableHttpService<TollgateMcp, NeverSessionManager>;

/// The per-tenant rmcp services, created on a tenant's first request, and the legacy sessions.
///
/// rmcp serves every request statelessly; the legacy sessions are Tollgate's own rows
/// (`sessions.rs`), checked in `routes.rs` before rmcp sees the request. A session id minted
/// at one tenant's URL is unknown (404) at every other tenant's URL.
#[derive(Clone)]
pub struct McpEndpoints {
    services: Arc<RwLock<HashMap<TenantId, TenantService>>>,
    /// The legacy sessions, in the database.
    pub sessions: McpSessions,
    /// Answers of hot `tools/call`s, replayed without rmcp.
    replays: replay::Replays,
    shutdown: CancellationToken,
    max_body_bytes: usize,
}

impl McpEndpoints {
    /// Endpoints with no tenant service yet; `shutdown` ends every open stream.
    pub fn new(max_body_bytes: usize, shutdown: CancellationToken, sessions: McpSessions) -> Self {
        Self {
            services: Arc::default(),
            sessions,
            replays: replay::Replays::default(),
            shutdown,
            max_body_bytes,
        }
    }

    fn service_for(&self, tenant: TenantId, state: &AppState) -> TenantService {
        if let Some(service) = self
            .services
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&tenant)
        {
            return service.clone();
        }
        let mut services = self
            .services
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        services
            .entry(tenant)
            .or_insert_with(|| {
                let handler = TollgateMcp::new(state.clone());
                // Stateless for every era: legacy sessions live in the database, not in an
                // rmcp session worker of one process.
                let config = StreamableHttpServerConfig::default()
                    .with_legacy_session_mode(false)
                    .with_json_response(true)
                    .with_cancellation_token(self.shutdown.child_token())
                    .with_max_request_body_bytes(self.max_body_bytes)
                    // `routes::mcp_endpoint` checks Host and Origin against the public URL
                    // before any request gets here, with one rule for every tenant.
                    .disable_allowed_hosts()
                    .disable_allowed_origins();
                StreamableHttpService::new(
                    move || Ok(handler.clone()),
                    Arc::new(NeverSessionManager::default()),
                    config,
                )
            })
            .clone()
    }
}
