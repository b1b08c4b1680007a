//! The WordPress.org tool over the block pattern directory.

use super::client::WordPressApi;
use super::support::{
    Query, check_range, decode_entities, non_blank, numbered_lines, one_line, parse_args, put,
    scalar_number, scalar_text, text, truncate, upstream_failure,
};
use crate::catalog::{Operation, OperationSpec, ToolAnswer, ToolFailure, ToolOutput};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::fmt::Write as _;

const PATTERNS_PATH: &str = "/patterns/1.0/";
/// Pattern markup kept unless the caller asks for all of it.
const PATTERN_CONTENT_CHARS: usize = 300;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternsArgs {
    search: Option<String>,
    category: Option<String>,
    per_page: Option<u32>,
    #[serde(default)]
    include_content: bool,
}

pub(super) fn patterns_input() -> Value {
    json!({
        "type": "object",
        "properties": {
            "search": {"type": "string", "maxLength": 200, "description": "Keywords, e.g. \"pricing table\"."},
            "category": {"type": "string", "maxLength": 100, "description": "Category slug, e.g. header, footer, gallery, call-to-action, text, featured, buttons, columns, banner, wireframe."},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10, "description": "Most patterns to return."},
            "include_content": {"type": "boolean", "default": false, "description": "Return each pattern's full block markup instead of its first 300 characters."}
        },
        "additionalProperties": false
    })
}

pub(super) fn patterns_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            "patterns": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "category_slugs": {"type": "array", "items": {"type": "string"}},
                        "keyword_slugs": {"type": "array", "items": {"type": "string"}},
                        "content": {"type": "string", "description": "Block markup to paste into the editor."},
                        "content_truncated": {"type": "boolean", "description": "True when content was cut; ask with include_content for all of it."}
                    },
                    "required": ["id", "title", "content", "content_truncated"]
                }
            }
        },
        "required": ["count", "patterns"]
    })
}

/// The id of a pattern category, by slug or name; unknown ones list the known slugs.
async fn category_id(api: &dyn WordPressApi, wanted: &str) -> Result<u64, ToolFailure> {
    let mut query = Query::default();
    query.plain("categories", "");
    let answer = api
        .get_json(PATTERNS_PATH, query.pairs())
        .await
        .map_err(|e| upstream_failure(api, e, |m| format!("No pattern categories ({m}).")))?;
    let categories: Vec<(u64, String, String)> = answer
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|c| {
                    Some((
                        scalar_number(c.get("id")?)?,
                        text(c, "slug")?,
                        text(c, "name").unwrap_or_default(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let wanted_lower = wanted.to_lowercase();
    categories
        .iter()
        .find(|(_, slug, name)| *slug == wanted_lower || name.to_lowercase() == wanted_lower)
        .map(|(id, _, _)| *id)
        .ok_or_else(|| {
            let slugs: Vec<&str> = categories.iter().map(|(_, s, _)| s.as_str()).collect();
            ToolFailure::InvalidArguments(format!(
                "there is no pattern category {wanted:?}; the categories are: {}.",
                slugs.join(", ")
            ))
        })
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(scalar_text).collect())
        .unwrap_or_default()
}

/// `{"rendered": "x"}` or `"x"`.
fn rendered(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        other => other.get("rendered")?.as_str().map(str::to_owned),
    }
}

/// `wporg.patterns`: declared here, listed in [`crate::catalog::Operation::spec`].
pub(crate) static PATTERNS: OperationSpec = OperationSpec {
    key: "wporg.patterns",
    default_name: "wporg_patterns",
    title: "WordPress.org block patterns",
    description: "Search the WordPress.org block pattern directory by keyword (`search`) and/or \
         category slug (`category`, e.g. \"header\", \"footer\", \"gallery\"). Returns \
         each pattern's id, title, categories, keywords, description and block markup \
         (cut to 300 characters unless `include_content` is true). `per_page` up to \
         100, default 10.",
    input_schema: patterns_input,
    output_schema: Some(patterns_output),
    run: |call| Box::pin(async move { patterns(call.api, call.args).await.map(ToolAnswer::from) }),
};

pub(super) async fn patterns(
    api: &dyn WordPressApi,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolFailure> {
    let args: PatternsArgs = parse_args(Operation::Patterns, args)?;
    check_range("per_page", args.per_page, 1, 100)?;
    let per_page = args.per_page.unwrap_or(10);
    let search = non_blank(args.search);
    let category = match non_blank(args.category) {
        Some(category) => Some(category_id(api, &category).await?),
        None => None,
    };
    let mut query = Query::default();
    query
        .plain_opt("search", search.as_deref())
        .plain_opt("pattern-categories", category)
        .plain("per_page", &per_page);
    let answer = api
        .get_json(PATTERNS_PATH, query.pairs())
        .await
        .map_err(|e| upstream_failure(api, e, |m| format!("No patterns found ({m}).")))?;
    let list = match answer.as_ref() {
        Value::Array(list) => list.as_slice(),
        Value::Object(map) => {
            let message = map
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| "unexpected answer".to_owned(), one_line);
            return Err(ToolFailure::Rejected(message));
        }
        _ => &[],
    };
    let patterns: Vec<Map<String, Value>> = list
        .iter()
        .filter_map(|raw| {
            let id = scalar_number(raw.get("id")?)?;
            let title = rendered(raw.get("title"))
                .map(|t| decode_entities(&t))
                .unwrap_or_else(|| format!("Pattern {id}"));
            let content = raw
                .get("pattern_content")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| rendered(raw.get("content")))
                .unwrap_or_default();
            let cut = !args.include_content && content.chars().count() > PATTERN_CONTENT_CHARS;
            let content = if cut {
                truncate(&content, PATTERN_CONTENT_CHARS)
            } else {
                content
            };
            let mut pattern = Map::new();
            pattern.insert("id".to_owned(), json!(id));
            pattern.insert("title".to_owned(), json!(title));
            put(
                &mut pattern,
                "description",
                raw.pointer("/meta/wpop_description")
                    .and_then(Value::as_str)
                    .map(one_line)
                    .filter(|d| !d.is_empty()),
            );
            pattern.insert(
                "category_slugs".to_owned(),
                json!(string_list(raw.get("category_slugs"))),
            );
            pattern.insert(
                "keyword_slugs".to_owned(),
                json!(string_list(raw.get("keyword_slugs"))),
            );
            pattern.insert("content".to_owned(), json!(content));
            pattern.insert("content_truncated".to_owned(), json!(cut));
            Some(pattern)
        })
        .take(per_page as usize)
        .collect();
    let text = if patterns.is_empty() {
        "No block patterns found. Try other keywords or another category.".to_owned()
    } else {
        let lines: Vec<String> = patterns
            .iter()
            .map(|p| {
                let get = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default();
                let categories = string_list(p.get("category_slugs")).join(", ");
                let mut line = format!(
                    "{} (id {})",
                    get("title"),
                    p.get("id").and_then(Value::as_u64).unwrap_or_default()
                );
                if !categories.is_empty() {
                    let _ = write!(line, " — {categories}");
                }
                if !get("description").is_empty() {
                    let _ = write!(line, ": {}", truncate(get("description"), 120));
                }
                line
            })
            .collect();
        format!(
            "Found {} block patterns:{}",
            patterns.len(),
            numbered_lines(&lines, 100)
        )
    };
    Ok(ToolOutput {
        text,
        structured: json!({"count": patterns.len(), "patterns": patterns}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_titles_may_be_rendered_objects() {
        assert_eq!(
            rendered(Some(&json!({"rendered": "Hero"}))),
            Some("Hero".to_owned())
        );
        assert_eq!(rendered(Some(&json!("Plain"))), Some("Plain".to_owned()));
        assert_eq!(rendered(None), None);
    }
}
