//! The WordPress.org tool over a plugin's daily download counts.

use super::client::WordPressApi;
use super::support::{
    Query, check_range, check_slug, parse_args, scalar_number, thousands, upstream_failure,
};
use std::fmt::Write as _;

const DOWNLOADS_PATH: &str = "/stats/plugin/1.0/downloads.php";
use crate::catalog::{Operation, OperationSpec, ToolAnswer, ToolFailure, ToolOutput};
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DownloadsArgs {
    slug: String,
    limit: Option<u32>,
}

pub(super) fn downloads_input() -> Value {
    json!({
        "type": "object",
        "properties": {
            "slug": {"type": "string", "pattern": "^[a-z0-9_-]+$", "description": "Plugin slug, e.g. \"woocommerce\"."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 730, "default": 30, "description": "How many most recent days."}
        },
        "required": ["slug"],
        "additionalProperties": false
    })
}

pub(super) fn downloads_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "slug": {"type": "string"},
            "days": {
                "type": "array",
                "description": "Downloads per day, oldest first.",
                "items": {
                    "type": "object",
                    "properties": {
                        "date": {"type": "string", "description": "YYYY-MM-DD."},
                        "downloads": {"type": "integer", "minimum": 0}
                    },
                    "required": ["date", "downloads"]
                }
            },
            "total": {"type": "integer", "minimum": 0, "description": "Sum over the days listed."},
            "average": {"type": "integer", "minimum": 0, "description": "Mean downloads per day, rounded down."}
        },
        "required": ["slug", "days", "total", "average"]
    })
}

fn no_statistics(slug: &str) -> String {
    format!(
        "WordPress.org has no download statistics for plugin \"{slug}\". Check the slug with \
         wporg_plugin_info, or search with wporg_query_plugins."
    )
}

/// `wporg.plugin_downloads`: declared here, listed in [`crate::catalog::Operation::spec`].
pub(crate) static DOWNLOADS: OperationSpec = OperationSpec {
    key: "wporg.plugin_downloads",
    default_name: "wporg_plugin_downloads",
    title: "WordPress.org plugin daily downloads",
    description: "Daily download counts of a WordPress.org plugin over the last `limit` days \
         (default 30, up to 730), oldest first, with the total. Use it to judge a \
         plugin's momentum. `slug` is the plugin slug, e.g. \"woocommerce\".",
    input_schema: downloads_input,
    output_schema: Some(downloads_output),
    run: |call| Box::pin(async move { downloads(call.api, call.args).await.map(ToolAnswer::from) }),
};

pub(super) async fn downloads(
    api: &dyn WordPressApi,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolFailure> {
    let args: DownloadsArgs = parse_args(Operation::PluginDownloads, args)?;
    let slug = args.slug.trim().to_owned();
    check_slug(&slug, "wporg_query_plugins")?;
    check_range("limit", args.limit, 1, 730)?;
    let limit = args.limit.unwrap_or(30);
    let mut query = Query::default();
    query.plain("slug", &slug).plain("limit", &limit);
    let answer = api
        .get_json(DOWNLOADS_PATH, query.pairs())
        .await
        .map_err(|e| upstream_failure(api, e, |_| no_statistics(&slug)))?;
    let mut days: Vec<(String, u64)> = match answer.as_ref() {
        Value::Object(map) if map.contains_key("error") => {
            return Err(ToolFailure::NotFound(no_statistics(&slug)));
        }
        Value::Object(map) => map
            .iter()
            .filter_map(|(date, count)| Some((date.clone(), scalar_number(count)?)))
            .collect(),
        _ => Vec::new(),
    };
    if days.is_empty() {
        return Err(ToolFailure::NotFound(no_statistics(&slug)));
    }
    days.sort_by(|a, b| a.0.cmp(&b.0));
    // Keep the most recent `limit` days, should upstream send more.
    let skip = days.len().saturating_sub(limit as usize);
    let days: Vec<(String, u64)> = days.into_iter().skip(skip).collect();
    let total: u64 = days.iter().map(|(_, n)| n).sum();
    let average = total / days.len() as u64;
    let mut text = format!(
        "Plugin {slug}: {} downloads over {} days ({} to {}), {} a day on average.",
        thousands(total),
        days.len(),
        days.first().map(|d| d.0.as_str()).unwrap_or_default(),
        days.last().map(|d| d.0.as_str()).unwrap_or_default(),
        thousands(average)
    );
    if let Some((date, count)) = days.last() {
        let _ = write!(text, " Latest day {date}: {}.", thousands(*count));
    }
    let days: Vec<Value> = days
        .into_iter()
        .map(|(date, downloads)| json!({"date": date, "downloads": downloads}))
        .collect();
    Ok(ToolOutput {
        text,
        structured: json!({"slug": slug, "days": days, "total": total, "average": average}),
    })
}
