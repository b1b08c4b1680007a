//! The rmcp `ServerHandler`: `tools/list` and `tools/call` from the calling tenant's configuration.

use super::{McpRequestContext, TOOLS_LIST_TTL_MS};
use crate::app::AppState;
use crate::tenant::ToolConfig;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
    Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
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

fn request_context(ctx: &RequestContext<RoleServer>) -> Result<McpRequestContext, ErrorData> {
    ctx.extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<McpRequestContext>().cloned())
        .ok_or_else(|| ErrorData::internal_error("the request reached MCP without a tenant", None))
}

/// How a configured tool looks in `tools/list`.
pub fn describe_tool(tool: &ToolConfig) -> Tool {
    Tool::new(
        tool.name.as_str().to_owned(),
        tool.effective_description().to_owned(),
        tool.operation.input_schema(),
    )
    .with_title(tool.effective_title())
    .with_raw_output_schema(tool.operation.output_schema())
    .with_annotations(
        ToolAnnotations::with_title(tool.effective_title())
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(true),
    )
}

impl ServerHandler for TollgateMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
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
        let tools = request.tenant.tools.iter().map(describe_tool).collect();
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
        let Some(tool) = context.tenant.tool(&request.name) else {
            self.state
                .metrics
                .tool_call(tenant.slug.as_str(), "unknown", "unknown_tool");
            return Err(ErrorData::invalid_params(
                format!("unknown tool: {}", request.name),
                None,
            ));
        };
        let arguments = request.arguments.unwrap_or_default();
        let started = Instant::now();
        let outcome = tool
            .operation
            .run(self.state.wordpress.as_ref(), &arguments)
            .await;
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let result = match outcome {
            Ok(output) => {
                self.state
                    .metrics
                    .tool_call(tenant.slug.as_str(), tool.name.as_str(), "ok");
                tracing::info!(
                    tenant.slug = %tenant.slug, tool.name = %tool.name, duration_ms,
                    outcome = "ok", "tool call"
                );
                let mut result = CallToolResult::success(vec![ContentBlock::text(output.text)]);
                result.structured_content = Some(output.structured);
                result
            }
            Err(failure) => {
                self.state.metrics.tool_call(
                    tenant.slug.as_str(),
                    tool.name.as_str(),
                    failure.outcome(),
                );
                tracing::info!(
                    tenant.slug = %tenant.slug, tool.name = %tool.name, duration_ms,
                    outcome = failure.outcome(), error = %failure, "tool call failed"
                );
                CallToolResult::error(vec![ContentBlock::text(failure.to_string())])
            }
        };
        Ok(result.into())
    }

    fn get_tool(&self, _name: &str) -> Option<Tool> {
        // Tools differ per tenant and this hook has no request to tell which; `call_tool`
        // resolves the tool itself.
        None
    }
}
