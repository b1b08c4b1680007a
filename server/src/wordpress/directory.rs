//! What the plugin and theme directories share: a page of search results, lookups by slug,
//! the hot-tags tool, the common schemas and the texts made of a summary.

use super::client::WordPressApi;
use super::support::{
    Query, SECTION_CHARS, TagsArgs, check_range, check_slug, clean_list, extra_value, hot_tags,
    non_blank, number, numbered_lines, parse_args, put, scalar_number, text, thousands, to_https,
    truncate, upstream_failure,
};
use crate::catalog::{Operation, ToolFailure, ToolOutput};
use serde_json::{Map, Value, json};
use std::fmt::Write as _;
use std::sync::Arc;

/// The arguments of a lookup by slug: `slug` or `slugs`, and the extra `fields`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LookupArgs {
    pub(super) slug: Option<String>,
    pub(super) slugs: Option<Vec<String>>,
    pub(super) fields: Option<Vec<String>>,
}

/// A summary of one plugin or theme, as the tools answer it.
pub(super) type Item = Map<String, Value>;

/// One of WordPress.org's two directories (plugins, themes).
pub(super) struct Directory {
    /// The API path, e.g. `/plugins/info/1.2/`.
    pub(super) path: &'static str,
    /// What it lists, singular and lower case: `plugin`, `theme`.
    pub(super) noun: &'static str,
    /// The search tool to point a caller to when a slug is unknown.
    pub(super) search_tool: &'static str,
    /// The last fact of an item's one-liner, the one that differs between the directories.
    pub(super) last_fact: fn(&Item) -> Option<String>,
    /// What a paragraph about one item says after its one-liner.
    pub(super) details: DetailKeys,
}

impl Directory {
    fn plural(&self) -> String {
        format!("{}s", self.noun)
    }

    fn capitalized(&self) -> String {
        let mut chars = self.noun.chars();
        chars
            .next()
            .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
            .unwrap_or_default()
    }

    /// Runs a search and returns WordPress.org's answer, its own error message as a rejection.
    pub(super) async fn search(
        &self,
        api: &dyn WordPressApi,
        query: &Query,
    ) -> Result<Arc<Value>, ToolFailure> {
        let answer = api.get_json(self.path, query.pairs()).await.map_err(|e| {
            upstream_failure(api, e, |m| format!("WordPress.org found nothing ({m})."))
        })?;
        if let Some(error) = text(&answer, "error") {
            return Err(ToolFailure::Rejected(error));
        }
        Ok(answer)
    }

    /// One page of search results: the page numbers from the answer, a numbered list of
    /// `items`, or `hint` when there are none.
    pub(super) fn page(&self, answer: &Value, items: &[Item], hint: &str) -> ToolOutput {
        let (page, pages, results) = super::support::page_info(answer);
        let plural = self.plural();
        let text = if items.is_empty() {
            format!(
                "No {plural} found (page {page} of {pages}, {} matches in all). {hint}",
                thousands(results)
            )
        } else {
            let lines: Vec<String> = items.iter().map(|item| self.one_liner(item)).collect();
            format!(
                "Found {} {plural} (page {page} of {pages}).{}",
                thousands(results),
                numbered_lines(&lines, 100)
            )
        };
        let mut structured = json!({"page": page, "pages": pages, "results": results});
        structured[plural.as_str()] = json!(items);
        ToolOutput { text, structured }
    }

    /// The lookup of one slug (`slug`) or several (`slugs`) with the given fields.
    pub(super) fn lookup_query(action: &str, slugs: &[String], single: bool) -> Query {
        let mut query = Query::action(action);
        if single {
            query.request("slug", &slugs[0]);
        } else {
            query.request_list("slugs", slugs);
        }
        query
    }

    /// Splits a lookup's answer into the items found (summarized, in the order asked) and the
    /// slugs not found. One slug's answer is the item itself; several are keyed by slug.
    pub(super) fn found(
        answer: &Value,
        slugs: &[String],
        single: bool,
        summarize: impl Fn(&Value) -> Item,
    ) -> (Vec<Item>, Vec<String>) {
        let mut found = Vec::new();
        let mut not_found = Vec::new();
        for slug in slugs {
            let raw = if single {
                Some(answer)
            } else {
                answer.get(slug.as_str())
            };
            match raw {
                Some(raw) if raw.is_object() && raw.get("error").is_none() => {
                    let mut item = summarize(raw);
                    item.entry("slug")
                        .or_insert_with(|| Value::String(slug.clone()));
                    found.push(item);
                }
                _ => not_found.push(slug.clone()),
            }
        }
        (found, not_found)
    }

    /// The answer of a lookup: a paragraph for one slug, a numbered list for several.
    pub(super) fn lookup_output(
        &self,
        slugs: &[String],
        single: bool,
        found: &[Item],
        not_found: &[String],
    ) -> ToolOutput {
        let plural = self.plural();
        let text = if single {
            found
                .first()
                .map(|item| self.details(item))
                .unwrap_or_default()
        } else {
            let lines: Vec<String> = found.iter().map(|item| self.one_liner(item)).collect();
            let mut text = format!("{} of {} {plural} found.", found.len(), slugs.len());
            text.push_str(&numbered_lines(&lines, 100));
            if !not_found.is_empty() {
                let _ = write!(
                    text,
                    "\nNot found: {}. Check these slugs, or search with {}.",
                    not_found.join(", "),
                    self.search_tool
                );
            }
            text
        };
        let mut structured = Map::new();
        structured.insert(plural, json!(found));
        structured.insert("not_found".to_owned(), json!(not_found));
        ToolOutput {
            text,
            structured: Value::Object(structured),
        }
    }

    /// The hot-tags tool: the `number` most used tags (default 30).
    pub(super) async fn tags(
        &self,
        api: &dyn WordPressApi,
        operation: Operation,
        args: &Map<String, Value>,
    ) -> Result<ToolOutput, ToolFailure> {
        let args: TagsArgs = parse_args(operation, args)?;
        check_range("number", args.number, 1, 500)?;
        let wanted = args.number.unwrap_or(30);
        let mut query = Query::action("hot_tags");
        query.request("number", &wanted);
        let noun = self.noun;
        let answer = api
            .get_json(self.path, query.pairs())
            .await
            .map_err(|e| upstream_failure(api, e, |m| format!("No {noun} tags found ({m}).")))?;
        let tags = hot_tags(&answer, wanted as usize);
        Ok(ToolOutput {
            text: tags_text(noun, &tags),
            structured: json!({ "tags": tags }),
        })
    }

    /// The input schema of a lookup by slug.
    pub(super) fn lookup_input(&self, example: &str, fields: &Value) -> Value {
        json!({
            "type": "object",
            "properties": {
                "slug": {"type": "string", "pattern": "^[a-z0-9_-]+$", "description": format!("{} slug, e.g. \"{example}\". Give this or `slugs`.", self.capitalized())},
                "slugs": {
                    "type": "array", "minItems": 1, "maxItems": 100, "uniqueItems": true,
                    "items": {"type": "string", "pattern": "^[a-z0-9_-]+$"},
                    "description": format!("Several {} slugs at once (up to 100). Give this or `slug`.", self.noun)
                },
                "fields": fields
            },
            "additionalProperties": false
        })
    }

    /// The output schema of a lookup by slug.
    pub(super) fn lookup_output_schema(&self, item: &Value, not_found: &str) -> Value {
        let plural = self.plural();
        let mut properties = Map::new();
        properties.insert(
            plural.clone(),
            json!({
                "type": "array", "items": item,
                "description": format!("The {plural} found, in the order asked.")
            }),
        );
        properties.insert(
            "not_found".to_owned(),
            json!({"type": "array", "items": {"type": "string"}, "description": not_found}),
        );
        json!({"type": "object", "properties": properties, "required": [plural, "not_found"]})
    }

    /// The output schema of a search.
    pub(super) fn search_output_schema(&self, item: &Value) -> Value {
        let plural = self.plural();
        let mut properties = json!({
            "page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 1},
            "results": {"type": "integer", "minimum": 0, "description": format!("{}s matching in all pages.", self.capitalized())}
        });
        properties[plural.as_str()] = json!({"type": "array", "items": item});
        json!({
            "type": "object",
            "properties": properties,
            "required": ["page", "pages", "results", plural]
        })
    }
}

/// `page` and `per_page` checked, with their defaults (1 and 10).
pub(super) fn page_and_size(
    page: Option<u32>,
    per_page: Option<u32>,
) -> Result<(u32, u32), ToolFailure> {
    check_range("page", page, 1, 999)?;
    check_range("per_page", per_page, 1, 100)?;
    Ok((page.unwrap_or(1), per_page.unwrap_or(10)))
}

/// `slug` or `slugs`, exactly one, each checked; returns the slugs and whether one was asked.
pub(super) fn slugs_argument(
    slug: Option<String>,
    slugs: Option<Vec<String>>,
    search_tool: &str,
) -> Result<(Vec<String>, bool), ToolFailure> {
    let (slugs, single) = match (non_blank(slug), slugs) {
        (Some(slug), None) => (vec![slug], true),
        (None, Some(slugs)) => {
            let slugs = clean_list(Some(slugs)).unwrap_or_default();
            if slugs.is_empty() || slugs.len() > 100 {
                return Err(ToolFailure::InvalidArguments(format!(
                    "`slugs` must hold 1 to 100 slugs, got {}.",
                    slugs.len()
                )));
            }
            (slugs, false)
        }
        (Some(_), Some(_)) => {
            return Err(ToolFailure::InvalidArguments(
                "give either `slug` or `slugs`, not both.".to_owned(),
            ));
        }
        (None, None) => {
            return Err(ToolFailure::InvalidArguments(format!(
                "`slug` is required (or `slugs` for several). Find slugs with {search_tool}."
            )));
        }
    };
    for slug in &slugs {
        check_slug(slug, search_tool)?;
    }
    Ok((slugs, single))
}

/// `Top 3 theme tags: blog (5,200), …`.
pub(super) fn tags_text(what: &str, tags: &[Value]) -> String {
    if tags.is_empty() {
        return format!("WordPress.org returned no {what} tags.");
    }
    let list: Vec<String> = tags
        .iter()
        .map(|t| {
            format!(
                "{} ({})",
                t.get("slug").and_then(Value::as_str).unwrap_or_default(),
                thousands(t.get("count").and_then(Value::as_u64).unwrap_or_default())
            )
        })
        .collect();
    format!(
        "Top {} {what} tags, with the number of {what}s using each: {}.",
        tags.len(),
        list.join(", ")
    )
}

/// Rating, number of ratings, installs and last update, as both directories give them.
pub(super) fn put_reach(item: &mut Item, raw: &Value) {
    put(item, "rating", number(raw, "rating").map(|r| r.min(100)));
    put(item, "num_ratings", number(raw, "num_ratings"));
    put(item, "active_installs", number(raw, "active_installs"));
    put(item, "last_updated", text(raw, "last_updated"));
}

/// The extras asked for, `(argument, key in the answer)`: counts as numbers, `links` made
/// https, a description shortened, nulls (and with `drop_false`, `false`) left out.
pub(super) fn put_extras<'a>(
    item: &mut Item,
    raw: &Value,
    asked: impl Iterator<Item = (&'a str, &'a str)>,
    links: &[&str],
    drop_false: bool,
) {
    for (name, key) in asked {
        let Some(value) = raw.get(key) else {
            continue;
        };
        let value = extra_value(key, value);
        match (name, &value) {
            ("downloaded", _) => put(item, name, scalar_number(&value)),
            ("description", Value::String(d)) => {
                put(item, name, Some(truncate(d, SECTION_CHARS)));
            }
            (_, Value::String(url)) if links.contains(&name) => {
                put(item, name, Some(to_https(url)));
            }
            (_, Value::Null) => {}
            (_, Value::Bool(false)) if drop_false => {}
            _ => {
                item.insert(name.to_owned(), value);
            }
        }
    }
}

/// What a paragraph about one item says after its one-liner.
pub(super) struct DetailKeys {
    /// Whether to say when it was last updated (when the one-liner does not).
    pub(super) last_updated: bool,
    /// The key of the link to end the facts with.
    pub(super) link: &'static str,
    /// The key of the description to end with.
    pub(super) description: &'static str,
}

impl Directory {
    /// `Akismet 5.3 (akismet) by Automattic — rating 96/100, 6,000,000+ installs`, then the
    /// directory's own last fact.
    fn one_liner(&self, item: &Item) -> String {
        let get = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default();
        let mut line = get("name").to_owned();
        if !get("version").is_empty() {
            let _ = write!(line, " {}", get("version"));
        }
        let _ = write!(line, " ({})", get("slug"));
        if !get("author").is_empty() {
            let _ = write!(line, " by {}", get("author"));
        }
        let mut facts = Vec::new();
        if let Some(rating) = item.get("rating").and_then(Value::as_u64)
            && item.get("num_ratings").and_then(Value::as_u64).unwrap_or(1) > 0
        {
            facts.push(format!("rating {rating}/100"));
        }
        if let Some(installs) = item.get("active_installs").and_then(Value::as_u64) {
            facts.push(format!("{}+ installs", thousands(installs)));
        }
        facts.extend((self.last_fact)(item));
        if !facts.is_empty() {
            let _ = write!(line, " — {}", facts.join(", "));
        }
        line
    }

    /// A paragraph about one item: its one-liner, ratings, requirements, link and description.
    fn details(&self, item: &Item) -> String {
        let keys = &self.details;
        let get = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default();
        let or_any = |k: &str| if get(k).is_empty() { "any" } else { get(k) };
        let mut out = self.one_liner(item);
        out.push('.');
        if let Some(n) = item.get("num_ratings").and_then(Value::as_u64) {
            let _ = write!(out, " {} ratings.", thousands(n));
        }
        if keys.last_updated && !get("last_updated").is_empty() {
            let _ = write!(out, " Last updated {}.", get("last_updated"));
        }
        if !get("requires").is_empty() || !get("requires_php").is_empty() {
            let _ = write!(
                out,
                " Requires WordPress {}, PHP {}.",
                or_any("requires"),
                or_any("requires_php")
            );
        }
        if !get(keys.link).is_empty() {
            let _ = write!(out, " {}", get(keys.link));
        }
        if !get(keys.description).is_empty() {
            let _ = write!(out, "\n{}", get(keys.description));
        }
        out
    }
}
