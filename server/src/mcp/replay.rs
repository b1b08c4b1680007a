//! Answers a `tools/call` that rmcp answered a moment ago from the answer it gave, without
//! passing the request through rmcp and the tool again: the hot call of a cached tool.
//!
//! What is remembered is the `result` of a successful answer, under a key made of everything
//! rmcp and the handler read to produce it: the tenant's snapshot (its tools, names and
//! texts; a change makes a new snapshot, so a new key), the request's parameters (tool,
//! arguments, `_meta`), the protocol headers (`Accept`, `Content-Type`, every `Mcp-*` but the
//! session id) and the session's protocol version. Only the request id differs, and it is put
//! in. Every check a call passes still runs on a replayed one: the tenant, the caller, the rate
//! limits and the session in `routes.rs` before this, and here the tool (enabled in the
//! current snapshot), its price (the offer list of now) and, for a paid tool, the caller's
//! entitlement (`BillingService::fast_pass`, the same check as a non-replayed call's fast
//! lane; anything else falls through to rmcp). Analytics, metrics and the log line are
//! written as for any call. An answer is remembered for `REPLAY_FOR`, well within the
//! upstream cache's own lifetime (10 minutes), and only when it is a complete, successful
//! tool result: errors and payment answers always go through rmcp.

use crate::analytics::Outcome;
use crate::app::AppState;
use crate::oauth::Caller;
use crate::tenant::TenantSnapshot;
use serde::Deserialize;
use serde_json::Value;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How long an answer is replayed.
const REPLAY_FOR: Duration = Duration::from_secs(10);
/// The most bytes of answers (and their keys) kept.
const REPLAY_BYTES: u64 = 64 * 1024 * 1024;
/// Answers larger than this are not remembered.
const LARGEST_REPLAYED: usize = 256 * 1024;

/// A remembered answer.
struct Replay {
    /// The snapshot the answer was made from. Held weakly: it keeps the allocation, so the
    /// pointer in the key cannot be reused by another snapshot while this lives.
    snapshot: Weak<TenantSnapshot>,
    /// The tool's name as called.
    tool: String,
    /// The serialised `result`.
    result: Vec<u8>,
}

/// The answers of one process.
#[derive(Clone)]
pub struct Replays {
    answers: moka::sync::Cache<String, Arc<Replay>>,
}

impl Default for Replays {
    fn default() -> Self {
        Self {
            answers: moka::sync::Cache::builder()
                .max_capacity(REPLAY_BYTES)
                .weigher(|key: &String, replay: &Arc<Replay>| {
                    u32::try_from(key.len() + replay.result.len()).unwrap_or(u32::MAX)
                })
                .time_to_live(REPLAY_FOR)
                .build(),
        }
    }
}

/// A `tools/call` request, as far as replaying it goes: anything else in it (another member,
/// an id that is neither a string nor an integer) and it goes through rmcp.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Call {
    jsonrpc: String,
    id: Value,
    method: String,
    params: Value,
}

/// What rmcp answered, when it can be replayed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    jsonrpc: String,
    #[expect(
        dead_code,
        reason = "the id of another request; read to refuse other members"
    )]
    id: Value,
    result: serde_json::Map<String, Value>,
}

/// A request that may be replayed: its key and its id.
pub struct ReplayKey {
    key: String,
    id: Value,
    tool: String,
}

impl Replays {
    /// The key of a `tools/call` of `tool` whose body is `body`, with the protocol headers
    /// `headers` (name, value) and the session's protocol version; `None` when it is not a
    /// request that could be replayed.
    pub fn key(
        &self,
        snapshot: &Arc<TenantSnapshot>,
        headers: &[(&str, &str)],
        session_version: Option<&str>,
        tool: &str,
        body: &[u8],
    ) -> Option<ReplayKey> {
        if tool.is_empty() || super::billing_tools::is_billing_tool(tool) {
            return None;
        }
        // The diagnostics pack's tools send progress and log notifications and ask for input:
        // their answers depend on more than the key holds, so they always go through rmcp.
        if snapshot
            .tool(tool)
            .is_some_and(|t| t.operation.pack() == crate::catalog::Pack::Diagnostics)
        {
            return None;
        }
        let mut call: Call = serde_json::from_slice(body).ok()?;
        if call.jsonrpc != "2.0" || call.method != "tools/call" || !string_or_integer(&call.id) {
            return None;
        }
        // Clients (rmcp's among them) send a new progress token with every request; the tools
        // replayed (the WordPress.org pack) send no progress, so the answer does not depend on it. A token of another type
        // stays in the key: rmcp, not this, says what it makes of it.
        if let Some(meta) = call.params.get_mut("_meta").and_then(Value::as_object_mut)
            && meta.get("progressToken").is_some_and(string_or_integer)
        {
            meta.remove("progressToken");
        }
        if call.params.get("name").and_then(Value::as_str) != Some(tool) {
            return None;
        }
        let mut key = format!(
            "{}|{:p}|{}|",
            snapshot.tenant.id.0,
            Arc::as_ptr(snapshot),
            session_version.unwrap_or("-")
        );
        for (name, value) in headers {
            key.push_str(name);
            key.push(':');
            key.push_str(value);
            key.push('\n');
        }
        key.push('|');
        key.push_str(&call.params.to_string());
        Some(ReplayKey {
            key,
            id: call.id,
            tool: tool.to_owned(),
        })
    }

    /// Remembers rmcp's answer `body` to the request of `key`, if it is a successful tool
    /// result.
    pub fn remember(&self, key: ReplayKey, snapshot: &Arc<TenantSnapshot>, body: &[u8]) {
        if body.len() > LARGEST_REPLAYED {
            return;
        }
        let Ok(answer) = serde_json::from_slice::<Answer>(body) else {
            return;
        };
        let result = &answer.result;
        let complete = result
            .get("resultType")
            .is_none_or(|t| t.as_str() == Some("complete"));
        let succeeded = result.get("isError").and_then(Value::as_bool) != Some(true);
        if answer.jsonrpc != "2.0" || !complete || !succeeded || !result.contains_key("content") {
            return;
        }
        let Ok(result) = serde_json::to_vec(result) else {
            return;
        };
        self.answers.insert(
            key.key,
            Arc::new(Replay {
                snapshot: Arc::downgrade(snapshot),
                tool: key.tool,
                result,
            }),
        );
    }

    /// The answer to the request of `key` from a remembered one, after every check a call
    /// passes; `None` when there is none or a check needs the full path (rmcp).
    pub async fn answer(
        &self,
        state: &AppState,
        snapshot: &Arc<TenantSnapshot>,
        caller: Option<&Caller>,
        key: &ReplayKey,
    ) -> Option<Vec<u8>> {
        let replay = self.answers.get(&key.key)?;
        if !std::ptr::eq(replay.snapshot.as_ptr(), Arc::as_ptr(snapshot)) {
            return None;
        }
        let tenant = &snapshot.tenant;
        let tool = snapshot.tool(&replay.tool)?;
        let offers = state.billing.offers(tenant.id).await.ok()?;
        let pass = match crate::billing::offer_of(&offers, tool) {
            None => None,
            Some(offer) => {
                let caller = caller?;
                match state.billing.fast_pass(tenant, &caller.user, offer).await {
                    Ok(Some(pass)) => Some(pass),
                    // No entitlement that counts nothing, or the database failed: the full
                    // path decides (and answers the failure as it does).
                    Ok(None) | Err(_) => return None,
                }
            }
        };
        let id = serde_json::to_string(&key.id).ok()?;
        let mut body = Vec::with_capacity(replay.result.len() + id.len() + 40);
        body.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
        body.extend_from_slice(id.as_bytes());
        body.extend_from_slice(br#","result":"#);
        body.extend_from_slice(&replay.result);
        body.push(b'}');
        let outcome = match &pass {
            Some(pass) => {
                // The call succeeded (its answer is a success): the use is recorded.
                if let Err(error) = state
                    .billing
                    .settle(tenant, pass, tool.name.as_str(), true)
                    .await
                {
                    tracing::error!(tenant.slug = %tenant.slug, tool.name = %tool.name, %error, "could not settle a paid call");
                }
                if pass.is_billed() {
                    Outcome::Paid
                } else {
                    Outcome::Free
                }
            }
            None => Outcome::Free,
        };
        state
            .analytics
            .record(tenant.id, tool.name.as_str(), outcome);
        state
            .metrics
            .tool_call(tenant.slug.as_str(), tool.name.as_str(), "ok");
        // The answer came from a cache of the upstream's answers: one hit.
        state.metrics.cache_lookup("hit");
        tracing::info!(
            tenant.slug = %tenant.slug, tool.name = %tool.name, duration_ms = 0.0,
            outcome = "ok", replayed = true, "tool call"
        );
        Some(body)
    }
}

/// A JSON-RPC id or progress token as rmcp takes it: a string or an integer.
fn string_or_integer(value: &Value) -> bool {
    match value {
        Value::String(_) => true,
        Value::Number(n) => n.is_i64(),
        _ => false,
    }
}
