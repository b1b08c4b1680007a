//! The rmcp `ServerHandler`: `tools/list` and `tools/call` from the calling tenant's configuration.

use super::{McpRequestContext, TOOLS_LIST_TTL_MS};
use crate::analytics::Outcome;
use crate::app::AppState;
use crate::billing::{Admission, Offer, Pass, PaymentRequired, offer_of};
use crate::catalog::{CallInput, ContentItem, Pack, ToolAnswer, ToolCall, ToolFailure};
use crate::tenant::{Tenant, TenantSnapshot, ToolConfig};
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    ElicitRequest, ElicitRequestParams, ErrorCode, Implementation, InputRequest, InputRequests,
    InputRequiredResult, ListToolsResult, PaginatedRequestParams, ProtocolVersion,
    ServerCapabilities, ServerConfig, SubscriptionFilter, Tool, ToolAnnotations,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Instant;

/// Serves every tenant; the tenant of a request comes from the endpoint's middleware.
#[derive(Clone)]
pub struct TollgateMcp {
    state: AppState,
}

impl TollgateMcp {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

pub(super) fn request_context(
    ctx: &RequestContext<RoleServer>,
) -> Result<McpRequestContext, ErrorData> {
    ctx.extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<McpRequestContext>().cloned())
        .ok_or_else(|| ErrorData::internal_error("the request reached MCP without a tenant", None))
}

/// How a configured tool looks in `tools/list`; a paid tool shows its price in its
/// description and in `_meta`.
pub fn describe_tool(tool: &ToolConfig, offer: Option<&Offer>) -> Tool {
    let description = match offer {
        Some(offer) => format!(
            "{} (Paid: {} — {}.)",
            tool.effective_description(),
            offer.name,
            offer.price_text()
        ),
        None => tool.effective_description().to_owned(),
    };
    let described = Tool::new(
        tool.name.as_str().to_owned(),
        description,
        tool.operation.input_schema(),
    );
    // A diagnostics tool has no output schema (it answers with content blocks), unless priced.
    let output_schema = match offer {
        Some(_) => Some(Arc::new(paid_output_schema(
            &tool.operation.output_schema(),
        ))),
        None if tool.operation.has_output_schema() => Some(tool.operation.output_schema()),
        None => None,
    };
    let described = described.with_title(tool.effective_title());
    let described = match output_schema {
        Some(schema) => described.with_raw_output_schema(schema),
        None => described,
    };
    let described = described.with_annotations(
        ToolAnnotations::with_title(tool.effective_title())
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(tool.operation.pack() == Pack::WordPress),
    );
    match offer {
        Some(offer) => described.with_meta(price_meta(offer)),
        None => described,
    }
}

impl ServerHandler for TollgateMcp {
    #[expect(
        deprecated,
        reason = "logging is declared for 2025 sessions, where it is current"
    )]
    fn get_info(&self) -> ServerConfig {
        // `listChanged`: open 2025 sessions (their GET stream) and 2026-07-28
        // `subscriptions/listen` streams hear of every change of the tenant's tools
        // (`streams.rs`). Logging: only the diagnostics pack logs, and only when allowed.
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_logging()
                .build(),
        )
        .with_server_info(Implementation::new("tollgate", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Tools that search and read the public WordPress.org directory: themes, plugins, \
                 core releases, translations, events and block patterns.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let request = request_context(&ctx)?;
        let tenant = &request.tenant.tenant;
        let offers = self.offers(tenant).await?;
        let tools = super::listed_tools(&request.tenant, &offers);
        let mut result = ListToolsResult::with_all_items(tools);
        // The list depends only on the tenant, which is part of the URL clients cache by.
        result.ttl_ms = Some(TOOLS_LIST_TTL_MS);
        result.cache_scope = Some(CacheScope::Public);
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let context = request_context(&ctx)?;
        let tenant = &context.tenant.tenant;
        let offers = self.offers(tenant).await?;
        if super::billing_tools::is_billing_tool(&request.name)
            && super::billing_tools_on(&context.tenant, &offers)
        {
            let response = super::billing_tools::call(
                &self.state,
                tenant,
                context.caller.as_ref(),
                &offers,
                &context.tenant.tools,
                &request.name,
            )
            .await;
            let outcome = match &response {
                Ok(CallToolResponse::Complete(result)) if result.is_error != Some(true) => {
                    Outcome::Free
                }
                _ => Outcome::Error,
            };
            self.state
                .analytics
                .record(tenant.id, &request.name, outcome);
            return response;
        }
        // An unknown tool is not counted: its name is whatever the client sent, and counting
        // it would let anyone add rows to the tenant's statistics.
        let Some(tool) = context.tenant.tool(&request.name) else {
            self.state
                .metrics
                .tool_call(tenant.slug.as_str(), "unknown", "unknown_tool");
            return Err(ErrorData::invalid_params(
                format!("unknown tool: {}", request.name),
                None,
            ));
        };
        let input = CallInput {
            responses: request
                .input_responses
                .map(|responses| responses.into_iter().collect())
                .unwrap_or_default(),
            state: request.request_state,
        };
        let arguments = request.arguments.unwrap_or_default();
        let pass = match offer_of(&offers, tool) {
            None => None,
            Some(offer) => {
                let Some(caller) = context.caller.as_ref() else {
                    self.state
                        .analytics
                        .record(tenant.id, tool.name.as_str(), Outcome::Error);
                    return Err(ErrorData::invalid_request(
                        "sign in to use this paid tool",
                        None,
                    ));
                };
                match self
                    .state
                    .billing
                    .admit(tenant, &caller.user, offer, tool.name.as_str())
                    .await
                {
                    Ok(Admission::Go(pass)) => Some(pass),
                    Ok(Admission::Pay(required)) => {
                        self.state.analytics.record(
                            tenant.id,
                            tool.name.as_str(),
                            Outcome::PaymentRequired,
                        );
                        self.state.metrics.tool_call(
                            tenant.slug.as_str(),
                            tool.name.as_str(),
                            "payment_required",
                        );
                        tracing::info!(tenant.slug = %tenant.slug, tool.name = %tool.name, outcome = "payment_required", "tool call");
                        return payment_answer(&ctx, &required);
                    }
                    Err(error) => {
                        tracing::error!(tenant.slug = %tenant.slug, tool.name = %tool.name, %error, "payment gate failed");
                        self.state
                            .analytics
                            .record(tenant.id, tool.name.as_str(), Outcome::Error);
                        self.state.metrics.tool_call(
                            tenant.slug.as_str(),
                            tool.name.as_str(),
                            "billing_unavailable",
                        );
                        return Ok(CallToolResult::error(vec![ContentBlock::text(
                            "Payments are unavailable right now, so this paid tool cannot run. Nothing was charged; please try again in a minute.",
                        )])
                        .into());
                    }
                }
            }
        };
        let events = super::streams::CallEvents::new(&self.state, &ctx, &context.tenant.tenant);
        run_admitted(
            &self.state,
            &context.tenant,
            tool,
            pass.as_ref(),
            ToolCall {
                api: self.state.wordpress.as_ref(),
                args: &arguments,
                events: &events,
                input: &input,
            },
        )
        .await
    }

    #[expect(
        deprecated,
        reason = "logging/setLevel is part of the 2025 protocol Tollgate serves"
    )]
    async fn set_level(
        &self,
        _request: rmcp::model::SetLevelRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        // Accepted and not kept: sessions are served statelessly, and the only tools that log
        // (the diagnostics pack) log at `info`, which every level but the stricter ones shows.
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        _requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // Tools are all a tenant serves; rmcp intersects this with what the client asked for.
        Some(SubscriptionFilter::builder().tools_list_changed().build())
    }

    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), ErrorData> {
        let request = request_context(subscription.request_context())?;
        super::streams::serve_subscription(&self.state, &request, &subscription).await;
        Ok(())
    }

    fn get_tool(&self, _name: &str) -> Option<Tool> {
        // Tools differ per tenant and this hook has no request to tell which; `call_tool`
        // resolves the tool itself.
        None
    }
}

/// The rest of a tool call once every check passed and a paid tool's pass was given: runs the
/// tool, settles the pass, counts the call and turns the outcome into the answer. The handler
/// and the direct path (`direct.rs`) share it, so a call answers alike whichever way it came.
pub(super) async fn run_admitted(
    state: &AppState,
    snapshot: &TenantSnapshot,
    tool: &ToolConfig,
    pass: Option<&Pass>,
    call: ToolCall<'_>,
) -> Result<CallToolResponse, ErrorData> {
    let tenant = &snapshot.tenant;
    let started = Instant::now();
    let outcome = tool.operation.run(call).await;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Some(pass) = pass {
        // A call that asks the client for input has not run yet: its use is given back.
        let ran = matches!(outcome, Ok(ToolAnswer::Data(_) | ToolAnswer::Content(_)));
        let settled = state
            .billing
            .settle(tenant, pass, tool.name.as_str(), ran)
            .await;
        if let Err(error) = settled {
            tracing::error!(tenant.slug = %tenant.slug, tool.name = %tool.name, %error, "could not settle a paid call");
        }
    }
    let counted = match (&outcome, &pass) {
        (Err(_), _) => Outcome::Error,
        (Ok(_), Some(pass)) if pass.is_billed() => Outcome::Paid,
        (Ok(_), _) => Outcome::Free,
    };
    state
        .analytics
        .record(tenant.id, tool.name.as_str(), counted);
    let result = match outcome {
        Ok(ToolAnswer::Content(items)) => {
            state
                .metrics
                .tool_call(tenant.slug.as_str(), tool.name.as_str(), "ok");
            CallToolResult::success(items.into_iter().map(content_block).collect())
        }
        Ok(ToolAnswer::InputRequired {
            requests,
            state: request_state,
        }) => {
            state
                .metrics
                .tool_call(tenant.slug.as_str(), tool.name.as_str(), "input_required");
            return input_required(requests, request_state);
        }
        Err(ToolFailure::InvalidRequestState) => {
            state.metrics.tool_call(
                tenant.slug.as_str(),
                tool.name.as_str(),
                "invalid_request_state",
            );
            return Err(ErrorData::invalid_params(
                ToolFailure::InvalidRequestState.to_string(),
                None,
            ));
        }
        Err(ToolFailure::MissingClientCapability(capability)) => {
            state.metrics.tool_call(
                tenant.slug.as_str(),
                tool.name.as_str(),
                "missing_capability",
            );
            return Err(ErrorData::new(
                ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
                format!("this tool needs the client capability `{capability}`"),
                Some(json!({"requiredCapabilities": {capability: {}}})),
            ));
        }
        Ok(ToolAnswer::Data(output)) => {
            state
                .metrics
                .tool_call(tenant.slug.as_str(), tool.name.as_str(), "ok");
            tracing::info!(
                tenant.slug = %tenant.slug, tool.name = %tool.name, duration_ms,
                outcome = "ok", "tool call"
            );
            let text = in_tenant_words(&output.text, &snapshot.tools);
            let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
            result.structured_content = Some(output.structured);
            result
        }
        Err(failure) => {
            state
                .metrics
                .tool_call(tenant.slug.as_str(), tool.name.as_str(), failure.outcome());
            tracing::info!(
                tenant.slug = %tenant.slug, tool.name = %tool.name, duration_ms,
                outcome = failure.outcome(), error = %failure, "tool call failed"
            );
            CallToolResult::error(vec![ContentBlock::text(in_tenant_words(
                &failure.to_string(),
                &snapshot.tools,
            ))])
        }
    };
    Ok(result.into())
}

impl TollgateMcp {
    async fn offers(&self, tenant: &Tenant) -> Result<Arc<Vec<Offer>>, ErrorData> {
        self.state.billing.offers(tenant.id).await.map_err(|error| {
            tracing::error!(tenant.slug = %tenant.slug, %error, "cannot read offers");
            ErrorData::internal_error("pricing is unavailable right now", None)
        })
    }
}

/// `text` with every catalog tool name (`wporg_query_plugins`) replaced by the name this
/// tenant serves that operation under, so a model is never told to call a tool it does not
/// have under that name. Names of operations the tenant does not serve stay as they are.
fn in_tenant_words(text: &str, tools: &[ToolConfig]) -> String {
    const PREFIX: &str = "wporg_";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        out.push_str(&rest[..at]);
        let word = &rest[at..];
        let len = word
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(word.len());
        let (name, after) = word.split_at(len);
        let renamed = tools
            .iter()
            .find(|t| t.operation.default_name() == name)
            .map(|t| t.name.as_str());
        out.push_str(renamed.unwrap_or(name));
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The output schema of a priced tool: its own answer, or the payment answer (see
/// `payment_answer`). Clients that check `structuredContent` against the schema even on an
/// error result (the official TypeScript SDK v1 does) would otherwise reject the payment answer
/// and never show the link. The tool's schemas have no `$defs`, so nesting keeps them valid.
fn paid_output_schema(tool_output: &Map<String, Value>) -> Map<String, Value> {
    let payment = json!({
        "type": "object",
        "properties": {
            "status": {"type": "string",
                       "enum": ["payment_required", "payment_pending", "spend_cap_reached"]},
            "checkout_url": {"type": "string"},
            "purchase_id": {"type": "string"},
            "offer": {"type": "string"},
            "price": {"type": "string"},
            "reason": {"type": "string"},
        },
        "required": ["status", "checkout_url"],
    });
    let mut schema = Map::new();
    schema.insert("type".into(), "object".into());
    schema.insert(
        "anyOf".into(),
        Value::Array(vec![Value::Object(tool_output.clone()), payment]),
    );
    schema
}

fn price_meta(offer: &Offer) -> rmcp::model::MetaObject {
    let mut meta = rmcp::model::MetaObject::new();
    meta.0.insert(
        "io.tollgate/price".into(),
        json!({
            "offer": offer.name,
            "kind": offer.kind,
            "amount": offer.amount,
            "currency": offer.currency,
            "interval": offer.interval,
            "calls": offer.calls,
            "free_quota": offer.free_quota,
            "text": offer.price_text(),
        }),
    );
    meta
}

/// The payment answer in the form the client understands: 2026-07-28 clients that declared
/// URL elicitation get `input_required`; 2025-11-25 ones get the URL-elicitation error
/// (-32042); everyone else gets a tool result with the link in its text and in
/// `structuredContent`.
fn payment_answer(
    ctx: &RequestContext<RoleServer>,
    required: &PaymentRequired,
) -> Result<CallToolResponse, ErrorData> {
    let message = if required.capped {
        required.reason.clone()
    } else if required.pending {
        format!(
            "Your payment for {} is being confirmed. Try again in a moment; if it takes long, open {}",
            required.offer_name, required.payment_url
        )
    } else {
        format!(
            "{} — {} ({}). Open this link to pay, then run the tool again: {}",
            required.reason, required.offer_name, required.price, required.payment_url
        )
    };
    let structured = json!({
        "status": if required.capped { "spend_cap_reached" } else if required.pending { "payment_pending" } else { "payment_required" },
        "checkout_url": required.payment_url,
        "purchase_id": required.purchase_id,
        "offer": required.offer_name,
        "price": required.price,
        "reason": required.reason,
    });
    // A 2026-07-28 request carries its version and capabilities in its own `_meta`; a legacy
    // session's come from `initialize`.
    let info = ctx.peer.peer_info();
    let per_request_version = ctx.meta.protocol_version();
    let url_elicitation = match ctx.meta.client_capabilities() {
        Some(capabilities) => capabilities
            .elicitation
            .as_ref()
            .is_some_and(|e| e.url.is_some()),
        // rmcp serves legacy sessions statelessly too: what the client declared at
        // `initialize` comes from Tollgate's session row.
        None => {
            info.as_ref()
                .and_then(|i| i.capabilities.elicitation.as_ref())
                .is_some_and(|e| e.url.is_some())
                || request_context(ctx)
                    .ok()
                    .and_then(|c| c.session)
                    .is_some_and(|s| s.url_elicitation)
        }
    };
    let version = per_request_version.or_else(|| info.as_ref().map(|i| i.protocol_version.clone()));
    if url_elicitation && !required.capped && !required.pending {
        if version == Some(ProtocolVersion::V_2026_07_28) {
            let params = ElicitRequestParams::UrlElicitationParams {
                meta: None,
                message,
                url: required.payment_url.clone(),
                elicitation_id: String::new(),
            };
            let mut requests = InputRequests::new();
            requests.insert(
                "payment".into(),
                InputRequest::Elicitation(ElicitRequest::new(params)),
            );
            return Ok(InputRequiredResult::from_input_requests(requests).into());
        }
        if version == Some(ProtocolVersion::V_2025_11_25) {
            return Err(ErrorData::new(
                ErrorCode(-32042),
                "Payment is required to use this tool",
                Some(json!({"elicitations": [{
                    "mode": "url",
                    "elicitationId": required.purchase_id,
                    "url": required.payment_url,
                    "message": message,
                }]})),
            ));
        }
    }
    let mut result = CallToolResult::error(vec![ContentBlock::text(message)]);
    result.structured_content = Some(structured);
    Ok(result.into())
}

/// A diagnostics tool's content item as an MCP content block.
fn content_block(item: ContentItem) -> ContentBlock {
    match item {
        ContentItem::Text(text) => ContentBlock::text(text),
        ContentItem::Image { data, mime_type } => ContentBlock::image(data, mime_type),
        ContentItem::Audio { data, mime_type } => ContentBlock::audio(data, mime_type),
        ContentItem::Resource {
            uri,
            mime_type,
            text,
        } => ContentBlock::resource(rmcp::model::ResourceContents::TextResourceContents {
            uri: uri.to_owned(),
            mime_type: Some(mime_type.to_owned()),
            text,
            meta: None,
        }),
    }
}

/// An `input_required` answer (2026-07-28) from a tool's requests, each a JSON-RPC request shape
/// rmcp reads as an `InputRequest`.
fn input_required(
    requests: Vec<(String, Value)>,
    state: Option<String>,
) -> Result<CallToolResponse, ErrorData> {
    let mut inputs = InputRequests::new();
    for (key, request) in requests {
        let request: InputRequest = serde_json::from_value(request).map_err(|error| {
            ErrorData::internal_error(
                format!("a tool asked for input Tollgate cannot send: {error}"),
                None,
            )
        })?;
        inputs.insert(key, request);
    }
    Ok(InputRequiredResult::new(Some(inputs), state).into())
}
