//! The WordPress.org tool over the theme directory's feature filters.

use super::client::WordPressApi;
use super::support::{Query, check_version, non_blank, parse_args, upstream_failure};
use std::fmt::Write as _;

const PATH: &str = "/themes/info/1.2/";
use crate::catalog::{Operation, OperationSpec, ToolAnswer, ToolFailure, ToolOutput};
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeaturesArgs {
    wp_version: Option<String>,
}

pub(super) fn features_input() -> Value {
    json!({
        "type": "object",
        "properties": {
            "wp_version": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+){0,2}$", "description": "WordPress version to list features for, e.g. \"6.5\"; default: current."}
        },
        "additionalProperties": false
    })
}

pub(super) fn features_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "groups": {
                "type": "array",
                "description": "Feature groups in WordPress.org's order.",
                "items": {
                    "type": "object",
                    "properties": {
                        "group": {"type": "string", "description": "Group name as WordPress.org shows it (may be translated)."},
                        "kind": {"type": "string", "enum": ["layout", "features", "subject", "other"], "description": "Stable identifier of the group."},
                        "tags": {"type": "array", "items": {"type": "string"}, "description": "Tag slugs usable as `tag` in wporg_query_themes."}
                    },
                    "required": ["group", "kind", "tags"]
                }
            }
        },
        "required": ["groups"]
    })
}

/// Which group a list of feature tags is, by its content (the group names are translated).
fn feature_kind(tags: &[String]) -> &'static str {
    let has = |t: &str| tags.iter().any(|x| x == t);
    if has("grid-layout") || has("one-column") || has("two-columns") || has("wide-blocks") {
        "layout"
    } else if has("accessibility-ready") || has("custom-background") || has("block-patterns") {
        "features"
    } else if has("blog") || has("portfolio") || has("e-commerce") || has("photography") {
        "subject"
    } else {
        "other"
    }
}

fn kind_rank(kind: &str) -> u8 {
    match kind {
        "layout" => 0,
        "features" => 1,
        "subject" => 2,
        _ => 3,
    }
}

/// `wporg.theme_features`: declared here, listed in [`crate::catalog::Operation::spec`].
pub(crate) static FEATURES: OperationSpec = OperationSpec {
    key: "wporg.theme_features",
    default_name: "wporg_theme_features",
    title: "WordPress.org theme feature filters",
    description: "The feature filters of the WordPress.org theme directory, grouped as Layout, \
         Features and Subject (e.g. full-site-editing, accessibility-ready, blog). These \
         are the valid `tag` values for wporg_query_themes. Optional `wp_version` gives \
         the list for an older WordPress.",
    input_schema: features_input,
    output_schema: Some(features_output),
    run: |call| Box::pin(async move { features(call.api, call.args).await.map(ToolAnswer::from) }),
};

pub(super) async fn features(
    api: &dyn WordPressApi,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolFailure> {
    let args: FeaturesArgs = parse_args(Operation::ThemeFeatures, args)?;
    let wp_version = non_blank(args.wp_version);
    if let Some(version) = &wp_version {
        check_version("wp_version", version)?;
    }
    let mut query = Query::action("feature_list");
    query.request_opt("wp_version", wp_version);
    let answer = api
        .get_json(PATH, query.pairs())
        .await
        .map_err(|e| upstream_failure(api, e, |m| format!("No feature list found ({m}).")))?;
    let mut groups: Vec<(String, &'static str, Vec<String>)> = answer
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(group, tags)| {
                    let tags: Vec<String> = match tags {
                        Value::Array(list) => list
                            .iter()
                            .filter_map(super::support::scalar_text)
                            .collect(),
                        Value::Object(map) => map.keys().cloned().collect(),
                        _ => Vec::new(),
                    };
                    let kind = feature_kind(&tags);
                    (group.clone(), kind, tags)
                })
                .collect()
        })
        .unwrap_or_default();
    // JSON objects lose their order here; WordPress.org lists Layout, Features, Subject.
    groups.sort_by(|a, b| kind_rank(a.1).cmp(&kind_rank(b.1)).then(a.0.cmp(&b.0)));
    let mut text = String::from("Theme feature filters (use any as `tag` in wporg_query_themes):");
    for (group, _, tags) in &groups {
        let _ = write!(text, "\n{group}: {}", tags.join(", "));
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(group, kind, tags)| json!({"group": group, "kind": kind, "tags": tags}))
        .collect();
    Ok(ToolOutput {
        text,
        structured: json!({ "groups": groups }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_groups_are_recognised_whatever_their_language() {
        let layout = vec!["grid-layout".to_owned(), "one-column".to_owned()];
        assert_eq!(feature_kind(&layout), "layout");
        assert_eq!(feature_kind(&["blog".to_owned()]), "subject");
        assert_eq!(
            feature_kind(&["accessibility-ready".to_owned()]),
            "features"
        );
        assert_eq!(feature_kind(&["zzz".to_owned()]), "other");
    }
}
