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
use crate::billing::Pass;
use crate::oauth::Caller;
use crate::tenant::TenantSnapshot;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// The keys missed lately (their hashes), so that only a request asked at least twice has
    /// its answer kept: calls that are never repeated (a search per user query) would
    /// otherwise fill the cache and push out the answers worth keeping.
    missed: Arc<Doorkeeper>,
    /// The shapes of requests rmcp accepted (`ReplayKey::shape`) with the snapshot they were
    /// accepted under (held weakly, like a replay's): the direct path (`direct.rs`) answers
    /// only those.
    shapes: moka::sync::Cache<String, Weak<TenantSnapshot>>,
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
            missed: Arc::new(Doorkeeper::new()),
            shapes: moka::sync::Cache::builder()
                .max_capacity(SHAPES_KEPT)
                .time_to_idle(SHAPE_IDLE)
                .build(),
        }
    }
}

/// How many request shapes are kept for the direct path.
const SHAPES_KEPT: u64 = 10_000;
/// How long a shape nobody uses is kept.
const SHAPE_IDLE: Duration = Duration::from_secs(600);
/// The slots of the doorkeeper (a power of two): a few seconds of distinct misses at the rates
/// one process serves.
const DOORKEEPER_SLOTS: usize = 1 << 16;

/// A fixed table of key hashes, one per slot: "was this key missed a moment ago?". A newer
/// key in the same slot pushes the older one out, which only costs that key one more miss.
struct Doorkeeper {
    slots: Box<[AtomicU64]>,
    hasher: std::hash::RandomState,
}

impl Doorkeeper {
    fn new() -> Self {
        Self {
            slots: (0..DOORKEEPER_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hasher: std::hash::RandomState::new(),
        }
    }

    /// Whether `key` was missed before (since its slot last changed hands); if not, it is now.
    fn seen_before(&self, key: &str) -> bool {
        let hash = self.hasher.hash_one(key) | 1;
        // The low bits pick the slot, all of them identify the key (0 marks an empty slot).
        let slot = &self.slots[(hash as usize) & (DOORKEEPER_SLOTS - 1)];
        slot.swap(hash, Ordering::Relaxed) == hash
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

/// A request that may be replayed: its key and its id, and what the direct path needs.
pub struct ReplayKey {
    key: String,
    /// How much of `key` is the request's shape: everything but the arguments.
    shape_len: usize,
    id: Value,
    tool: String,
    /// The arguments, taken out of the request (`None`: absent).
    arguments: Option<Map<String, Value>>,
    /// Whether the direct path may answer it: the arguments are absent or an object (rmcp
    /// refuses anything else), and no `Mcp-Param-*` header repeats one of them (rmcp checks
    /// those against the arguments, so a shape says nothing of them).
    direct: bool,
    /// Whether the answer is in the 2026-07-28 form: the protocol version rmcp reads (the
    /// request's `_meta`, else the `MCP-Protocol-Version` header) is that one or later.
    modern: bool,
}

impl ReplayKey {
    /// The request without its arguments and id: rmcp accepted the next request of the same
    /// shape when it accepted one (what it checks of a `tools/call` is all in the shape).
    fn shape(&self) -> &str {
        &self.key[..self.shape_len]
    }

    /// The request's id.
    pub fn id(&self) -> &Value {
        &self.id
    }

    /// The tool called, by the name the tenant serves it under.
    pub fn tool(&self) -> &str {
        &self.tool
    }

    /// Whether the answer is in the 2026-07-28 form (`resultType`).
    pub fn modern(&self) -> bool {
        self.modern
    }

    /// The arguments, taken out (empty when absent, as the handler takes them).
    pub fn take_arguments(&mut self) -> Map<String, Value> {
        self.arguments.take().unwrap_or_default()
    }
}

/// The protocol version from which answers carry `resultType` (rmcp's rule: ISO dates compare
/// as text).
const MODERN: &str = "2026-07-28";
/// Where a 2026-07-28 request carries its protocol version.
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";

/// A JSON-RPC answer with `id` and the serialised `result`, as rmcp writes one.
pub fn envelope(id: &Value, result: &[u8]) -> Option<Vec<u8>> {
    let id = serde_json::to_string(id).ok()?;
    let mut body = Vec::with_capacity(result.len() + id.len() + 40);
    body.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    body.extend_from_slice(id.as_bytes());
    body.extend_from_slice(br#","result":"#);
    body.extend_from_slice(result);
    body.push(b'}');
    Some(body)
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
        let mut direct = !headers
            .iter()
            .any(|(name, _)| name.starts_with("mcp-param-"));
        let arguments = match call.params.as_object_mut() {
            None => None,
            Some(params) => match params.remove("arguments") {
                None => None,
                Some(Value::Object(arguments)) => Some(arguments),
                Some(other) => {
                    // Not an object: rmcp refuses it (or reads it its way), the direct path
                    // never answers it, and it stays in the key as sent.
                    params.insert("arguments".to_owned(), other);
                    direct = false;
                    None
                }
            },
        };
        let version = call
            .params
            .get("_meta")
            .and_then(|meta| meta.get(META_VERSION))
            .and_then(Value::as_str)
            .or_else(|| {
                headers
                    .iter()
                    .find(|(name, _)| *name == "mcp-protocol-version")
                    .map(|(_, value)| *value)
            });
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
        // Whether there are arguments is part of the shape; what they are is not.
        key.push_str(if arguments.is_some() { "|{" } else { "|-" });
        let shape_len = key.len();
        if let Some(arguments) = &arguments {
            key.push('|');
            key.push_str(&serde_json::to_string(arguments).ok()?);
        }
        Some(ReplayKey {
            key,
            shape_len,
            id: call.id,
            tool: tool.to_owned(),
            arguments,
            direct,
            modern: version.is_some_and(|v| v >= MODERN),
        })
    }

    /// Whether rmcp accepted a request of `key`'s shape under this snapshot, and the direct
    /// path may answer it.
    pub fn direct_allowed(&self, snapshot: &Arc<TenantSnapshot>, key: &ReplayKey) -> bool {
        key.direct
            && self
                .shapes
                .get(key.shape())
                .is_some_and(|accepted| std::ptr::eq(accepted.as_ptr(), Arc::as_ptr(snapshot)))
    }

    /// Remembers a result the direct path made, `result` serialised, if the request was
    /// missed before (see `missed`).
    pub fn remember_result(
        &self,
        key: &ReplayKey,
        snapshot: &Arc<TenantSnapshot>,
        result: Vec<u8>,
    ) {
        if result.len() > LARGEST_REPLAYED || !self.missed.seen_before(&key.key) {
            return;
        }
        self.answers.insert(
            key.key.clone(),
            Arc::new(Replay {
                snapshot: Arc::downgrade(snapshot),
                tool: key.tool.clone(),
                result,
            }),
        );
    }

    /// Learns from rmcp's answer `body` to the request of `key`: that its shape is accepted,
    /// when rmcp answered a result; and the answer itself, if it is a successful tool result
    /// and the request was missed before (see `missed`).
    pub fn remember(&self, key: ReplayKey, snapshot: &Arc<TenantSnapshot>, body: &[u8]) {
        if body.len() > LARGEST_REPLAYED {
            return;
        }
        let Ok(answer) = serde_json::from_slice::<Answer>(body) else {
            return;
        };
        if answer.jsonrpc == "2.0"
            && key.direct
            && self
                .shapes
                .get(key.shape())
                .is_none_or(|accepted| !std::ptr::eq(accepted.as_ptr(), Arc::as_ptr(snapshot)))
        {
            self.shapes
                .insert(key.shape().to_owned(), Arc::downgrade(snapshot));
        }
        if !self.missed.seen_before(&key.key) {
            return;
        }
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
        let pass = pass_without_rmcp(state, tenant, tool, caller).await?;
        let body = envelope(&key.id, &replay.result)?;
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
        state.metrics.call_path("replayed");
        // The answer came from a cache of the upstream's answers: one hit.
        state.metrics.cache_lookup("hit");
        tracing::info!(
            tenant.slug = %tenant.slug, tool.name = %tool.name, duration_ms = 0.0,
            outcome = "ok", replayed = true, "tool call"
        );
        Some(body)
    }
}

/// The price check of a call answered without rmcp (replayed here, or run by `direct.rs`):
/// `Some(None)` for a free tool, `Some(Some(pass))` for a paid one on the fast lane, `None`
/// when only the full path can decide (no caller, no entitlement that counts nothing, the
/// offers or the database unreadable: the handler answers those as it does).
pub async fn pass_without_rmcp(
    state: &AppState,
    tenant: &crate::tenant::Tenant,
    tool: &crate::tenant::ToolConfig,
    caller: Option<&Caller>,
) -> Option<Option<Pass>> {
    let offers = state.billing.offers(tenant.id).await.ok()?;
    let Some(offer) = crate::billing::offer_of(&offers, tool) else {
        return Some(None);
    };
    match state.billing.fast_pass(tenant, &caller?.user, offer).await {
        Ok(Some(pass)) => Some(Some(pass)),
        Ok(None) | Err(_) => None,
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
