//! Answers a plain `tools/call` of a WordPress.org tool without rmcp: the call every request
//! of which reaches the upstream (a search per user query), where rmcp's per-request work
//! (parsing the message again, a task and channels per request, validating the headers by
//! serialising the message once more) weighs as much as the rest (docs/benchmarks.md).
//!
//! The direct path answers only a request whose shape rmcp accepted before under the same
//! snapshot of the tenant (`Replays::direct_allowed`): the shape is everything rmcp reads of a
//! `tools/call` but the arguments and the id (the protocol headers, the session's protocol
//! version, the tool's name, `_meta`), so rmcp would accept this one too; the arguments must be
//! an object, as rmcp requires, and are only read by the tool. Every other check runs here as
//! in the handler: the tool (enabled in the current snapshot, of the WordPress.org pack), its
//! price (the offer list of now) and, for a paid tool, the caller's entitlement
//! (`BillingService::fast_pass`, the fast lane of `admit`). A call that needs anything else (no
//! entitlement that counts nothing, a payment to ask for, a failing database) goes to rmcp.
//! The tool then runs through the handler's own end of a call (`handler::run_admitted`), and
//! the result is written as rmcp writes it for the request's protocol version.

use super::handler::run_admitted;
use super::replay::{ReplayKey, envelope, pass_without_rmcp};
use crate::app::AppState;
use crate::catalog::{CallInput, NoEvents, Pack, ToolCall};
use crate::oauth::Caller;
use crate::tenant::TenantSnapshot;
use rmcp::model::{CallToolResponse, ServerResult};
use std::sync::Arc;

/// The answer to the `tools/call` of `key`, or `None` when rmcp must answer it (nothing ran).
pub async fn answer(
    state: &AppState,
    snapshot: &Arc<TenantSnapshot>,
    caller: Option<&Caller>,
    key: &mut ReplayKey,
) -> Option<Vec<u8>> {
    if !state.config.direct_calls || !state.mcp.replays.direct_allowed(snapshot, key) {
        return None;
    }
    let tenant = &snapshot.tenant;
    let tool = snapshot.tool(key.tool())?;
    // The other packs' tools talk to the client while they run (`streams::CallEvents`).
    if tool.operation.pack() != Pack::WordPress {
        return None;
    }
    let pass = pass_without_rmcp(state, tenant, tool, caller).await?;
    let arguments = key.take_arguments();
    let response = run_admitted(
        state,
        snapshot,
        tool,
        pass.as_ref(),
        ToolCall {
            api: state.wordpress.as_ref(),
            args: &arguments,
            // WordPress.org tools report no progress, log nothing and ask the client nothing.
            events: &NoEvents,
            // A WordPress.org tool asks nothing of the client, so it reads no answers.
            input: &CallInput::default(),
        },
    )
    .await;
    // A WordPress.org tool's outcome is always a tool result, its failures included (only
    // the diagnostics pack asks for input or refuses at the protocol level).
    let Ok(CallToolResponse::Complete(result)) = response else {
        tracing::error!(tenant.slug = %tenant.slug, tool.name = %tool.name, "a WordPress.org tool gave an answer the direct path cannot write");
        return Some(internal_error(key));
    };
    let succeeded = result.is_error != Some(true);
    // What rmcp's handler does to a result for the protocol version of the request.
    let mut result = ServerResult::CallToolResult(result);
    if key.modern() {
        result.fill_missing_cache_hints();
    } else {
        result.strip_result_type_for_legacy_peer();
        result.strip_non_object_output_for_legacy_peer();
    }
    let ServerResult::CallToolResult(result) = result else {
        return Some(internal_error(key));
    };
    let Ok(result) = serde_json::to_vec(&result) else {
        return Some(internal_error(key));
    };
    state.metrics.call_path("direct");
    // The tool ran: whatever happens now, the answer is this one (never rmcp's, which would run
    // it again).
    let Some(body) = envelope(key.id(), &result) else {
        return Some(internal_error(key));
    };
    if succeeded {
        state.mcp.replays.remember_result(key, snapshot, result);
    }
    Some(body)
}

/// A JSON-RPC internal error for the request of `key`, as rmcp writes one.
fn internal_error(key: &ReplayKey) -> Vec<u8> {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": key.id(),
        "error": {"code": -32603, "message": "the tool's answer could not be written"},
    })
    .to_string()
    .into_bytes()
}
