//! The billing tools Tollgate adds to a tenant that sells tools: `billing_status`,
//! `billing_portal` and `list_plans`. The operator can turn them off.

use crate::app::AppState;
use crate::billing::Offer;
use crate::oauth::Caller;
use crate::tenant::{Tenant, ToolConfig};
use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, Tool, ToolAnnotations};
use serde_json::json;
use std::sync::Arc;

const NAMES: [&str; 3] = ["billing_status", "billing_portal", "list_plans"];

/// Whether `name` is one of the billing tools.
pub fn is_billing_tool(name: &str) -> bool {
    NAMES.contains(&name)
}

fn empty_schema() -> Arc<serde_json::Map<String, serde_json::Value>> {
    let schema = json!({"type": "object", "properties": {}, "additionalProperties": false});
    Arc::new(schema.as_object().cloned().unwrap_or_default())
}

/// How the billing tools look in `tools/list`.
pub fn describe() -> Vec<Tool> {
    let annotations = |title: &str| {
        ToolAnnotations::with_title(title)
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(false)
    };
    vec![
        Tool::new(
            "billing_status",
            "Your plans with this service: which are active, calls left, free calls left this month, and a personal link to your account page. Requires sign-in.",
            empty_schema(),
        )
        .with_title("Billing status")
        .with_annotations(annotations("Billing status")),
        Tool::new(
            "billing_portal",
            "A link where you can manage your subscription, payment method and invoices. Requires sign-in.",
            empty_schema(),
        )
        .with_title("Billing portal")
        .with_annotations(annotations("Billing portal")),
        Tool::new(
            "list_plans",
            "The plans this service sells, their prices, and the tools each one unlocks.",
            empty_schema(),
        )
        .with_title("List plans")
        .with_annotations(annotations("List plans")),
    ]
}

fn text_result(text: String, structured: serde_json::Value) -> CallToolResponse {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(structured);
    result.into()
}

/// Runs a billing tool.
pub async fn call(
    state: &AppState,
    tenant: &Tenant,
    caller: Option<&Caller>,
    offers: &[Offer],
    tools: &[ToolConfig],
    name: &str,
) -> Result<CallToolResponse, ErrorData> {
    if name == "list_plans" {
        let plans: Vec<serde_json::Value> = offers
            .iter()
            .map(|offer| {
                let covers: Vec<&str> = tools
                    .iter()
                    .filter(|t| {
                        crate::billing::offer_of(offers, t).is_some_and(|o| o.id == offer.id)
                    })
                    .map(|t| t.name.as_str())
                    .collect();
                json!({"name": offer.name, "price": offer.price_text(), "kind": offer.kind,
                       "free_calls_per_month": offer.free_quota, "tools": covers})
            })
            .collect();
        let text = plans
            .iter()
            .map(|p| {
                format!(
                    "{}: {} (tools: {})",
                    p["name"].as_str().unwrap_or_default(),
                    p["price"].as_str().unwrap_or_default(),
                    p["tools"]
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        return Ok(text_result(text, json!({"plans": plans})));
    }
    let Some(caller) = caller else {
        return Ok(CallToolResult::error(vec![ContentBlock::text(
            "Sign in to see your billing: reconnect this server with sign-in enabled.",
        )])
        .into());
    };
    let unavailable = |error: crate::billing::BillingError| {
        tracing::error!(tenant.slug = %tenant.slug, %error, "billing tool failed");
        ErrorData::internal_error("billing is unavailable right now; try again shortly", None)
    };
    match name {
        "billing_status" => {
            let plans = state
                .billing
                .status(tenant, &caller.user)
                .await
                .map_err(unavailable)?;
            let link = state.billing.account_link(tenant, &caller.user);
            let mut text = plans
                .iter()
                .map(|p| {
                    format!(
                        "{} ({}): {}{}{}",
                        p.offer,
                        p.price,
                        if p.active { "active" } else { "not purchased" },
                        p.calls_remaining
                            .map(|n| format!(", {n} calls left"))
                            .unwrap_or_default(),
                        p.free_calls_left
                            .map(|n| format!(", {n} free calls left this month"))
                            .unwrap_or_default(),
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            text.push_str(&format!("\nYour account page (valid 15 minutes): {link}"));
            Ok(text_result(
                text,
                json!({"plans": plans, "account_url": link}),
            ))
        }
        _ => {
            let url = state
                .billing
                .portal_url(tenant, &caller.user)
                .await
                .map_err(unavailable)?;
            Ok(text_result(
                format!("Manage your billing here: {url}"),
                json!({"portal_url": url}),
            ))
        }
    }
}
