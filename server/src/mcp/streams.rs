//! What reaches a client while it waits: the events of a running tool call (progress, logs) and
//! `notifications/tools/list_changed` on open streams.
//!
//! A tenant's tool list changes through the admin API on any replica. `TenantService` announces
//! every change this process makes or hears of (on PostgreSQL, through `crate::changes`'
//! `LISTEN/NOTIFY`), and each replica pushes the notification to the streams its own clients
//! hold: a 2025 session's `GET` stream (`session_changes`, served by `routes.rs`) and a
//! 2026-07-28 `subscriptions/listen` request (`serve_subscription`; rmcp sends the
//! acknowledgement, tags every notification with the subscription id and enforces the filter).
//! A client that is not connected when a change happens misses it, as the protocol allows; it
//! re-lists when it reconnects.
#![expect(
    deprecated,
    reason = "2026-07-28 deprecates logging (SEP-2577), but a request may still ask for it in \
              `_meta` and 2025 sessions use it"
)]

use super::McpRequestContext;
use crate::app::AppState;
use crate::catalog::{EventFuture, ToolEvents};
use crate::tenant::{ConfigChanged, Tenant, TenantSlug};
use futures::Stream;
use rmcp::RoleServer;
use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
};
use rmcp::service::{Peer, RequestContext, SubscriptionContext};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast::{self, error::RecvError};

/// The events of one `tools/call`, sent on the request's own response stream.
pub(super) struct CallEvents {
    peer: Peer<RoleServer>,
    progress_token: Option<ProgressToken>,
    /// Whether log messages may be sent: a 2025-era request (the session's level is not kept,
    /// see `set_level`), or a 2026-07-28 request whose `_meta` asked for `info` or finer.
    log: bool,
    declared: Declared,
    state: AppState,
    slug: TenantSlug,
}

impl CallEvents {
    pub(super) fn new(state: &AppState, ctx: &RequestContext<RoleServer>, tenant: &Tenant) -> Self {
        let per_request = ctx.meta.protocol_version().is_some();
        let log = if per_request {
            matches!(
                ctx.meta.log_level(),
                Some(LoggingLevel::Debug | LoggingLevel::Info)
            )
        } else {
            true
        };
        // A 2026-07-28 request declares its capabilities in `_meta`; a 2025 session's come
        // from `initialize`.
        let declared = match ctx.meta.client_capabilities() {
            Some(capabilities) => Declared::of(&capabilities),
            None => ctx
                .peer
                .peer_info()
                .map(|info| Declared::of(&info.capabilities))
                .unwrap_or_default(),
        };
        Self {
            peer: ctx.peer.clone(),
            progress_token: ctx.meta.get_progress_token(),
            log,
            declared,
            state: state.clone(),
            slug: tenant.slug.clone(),
        }
    }
}

impl ToolEvents for CallEvents {
    fn progress(&self, progress: f64, total: f64) -> EventFuture<'_> {
        Box::pin(async move {
            let Some(token) = self.progress_token.clone() else {
                return;
            };
            let param = ProgressNotificationParam::new(token, progress).with_total(total);
            // A client gone is not the tool's failure; the call itself notices.
            let _ = self.peer.notify_progress(param).await;
        })
    }

    fn log(&self, message: String) -> EventFuture<'_> {
        Box::pin(async move {
            if !self.log {
                return;
            }
            let param = LoggingMessageNotificationParam::new(
                LoggingLevel::Info,
                serde_json::Value::String(message),
            )
            .with_logger("tollgate.diagnostics");
            let _ = self.peer.notify_logging_message(param).await;
        })
    }

    fn client_declares(&self, capability: &str) -> bool {
        match capability {
            "sampling" => self.declared.sampling,
            "elicitation" => self.declared.elicitation,
            "roots" => self.declared.roots,
            _ => false,
        }
    }

    fn seal_state(&self, purpose: &str, plain: &str) -> Option<String> {
        self.state
            .master_key
            .seal(plain, &self.state_context(purpose))
            .ok()
    }

    fn open_state(&self, purpose: &str, sealed: &str) -> Option<String> {
        self.state
            .master_key
            .open(sealed, &self.state_context(purpose))
            .ok()
            .map(|plain| plain.expose().to_owned())
    }

    fn tools_changed(&self) -> EventFuture<'_> {
        Box::pin(async move { self.state.tenants.announce_change(&self.slug).await })
    }
}

impl CallEvents {
    /// What a request state is bound to: this tenant and this fixture.
    fn state_context(&self, purpose: &str) -> String {
        format!("tenant:{}:request_state:{purpose}", self.slug.as_str())
    }
}

/// The client capabilities a call may ask through.
#[derive(Clone, Copy, Debug, Default)]
struct Declared {
    sampling: bool,
    elicitation: bool,
    roots: bool,
}

impl Declared {
    fn of(capabilities: &rmcp::model::ClientCapabilities) -> Self {
        Self {
            sampling: capabilities.sampling.is_some(),
            elicitation: capabilities.elicitation.is_some(),
            roots: capabilities.roots.is_some(),
        }
    }
}

/// A watch on the tenant changes taken by `routes.rs` before a `subscriptions/listen` request
/// reaches rmcp, so that a change made just after the client sees the acknowledgement is not
/// missed while the subscription starts.
#[derive(Clone)]
pub(crate) struct EarlyWatch(Arc<Mutex<Option<broadcast::Receiver<ConfigChanged>>>>);

impl EarlyWatch {
    pub(crate) fn new(state: &AppState) -> Self {
        Self(Arc::new(Mutex::new(Some(state.tenants.watch_changes()))))
    }

    fn take(&self) -> Option<broadcast::Receiver<ConfigChanged>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// Waits for the next change of the tenant at `slug`; `false` when no more can come.
async fn next_change(changes: &mut broadcast::Receiver<ConfigChanged>, slug: &str) -> bool {
    loop {
        match changes.recv().await {
            Ok(ConfigChanged::Tenant(changed)) if changed == slug => return true,
            Ok(ConfigChanged::Tenant(_)) => {}
            // Missed changes may have been this tenant's: say so.
            Ok(ConfigChanged::Any) | Err(RecvError::Lagged(_)) => return true,
            Err(RecvError::Closed) => return false,
        }
    }
}

/// Runs a 2026-07-28 `subscriptions/listen` stream until the client closes it or the server
/// shuts down: one `notifications/tools/list_changed` per change of the tenant.
pub(super) async fn serve_subscription(
    state: &AppState,
    request: &McpRequestContext,
    subscription: &SubscriptionContext,
) {
    let early = subscription
        .request_context()
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<EarlyWatch>())
        .and_then(EarlyWatch::take);
    let mut changes = early.unwrap_or_else(|| state.tenants.watch_changes());
    let slug = request.tenant.tenant.slug.as_str().to_owned();
    loop {
        tokio::select! {
            () = subscription.cancelled() => return,
            () = state.mcp.shutdown.cancelled() => return,
            more = next_change(&mut changes, &slug) => {
                if !more || subscription.sink().notify_tool_list_changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The JSON-RPC messages of a 2025 session's `GET` stream: one
/// `notifications/tools/list_changed` per change of the tenant at `slug`, until the server
/// shuts down. The watch starts now, before the response's headers go out.
pub(super) fn session_changes(
    state: &AppState,
    slug: &str,
) -> impl Stream<Item = String> + Send + 'static {
    let changes = state.tenants.watch_changes();
    let shutdown = state.mcp.shutdown.clone();
    let message =
        serde_json::json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
            .to_string();
    futures::stream::unfold((changes, slug.to_owned()), move |(mut changes, slug)| {
        let shutdown = shutdown.clone();
        let message = message.clone();
        async move {
            tokio::select! {
                () = shutdown.cancelled() => None,
                more = next_change(&mut changes, &slug) => {
                    more.then_some((message, (changes, slug)))
                }
            }
        }
    })
}
