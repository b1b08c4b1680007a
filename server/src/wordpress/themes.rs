//! The theme directory tools: search, details, popular tags and feature filters.

use super::client::WordPressApi;
use super::support::{
    Query, SECTION_CHARS, SHORT_TEXT_CHARS, TagsArgs, check_fields, check_range, check_slug,
    clean_list, extra_value, hot_tags, https_url, non_blank, number, numbered_lines, one_line,
    page_info, parse_args, put, string_or_list, tags_input_schema, tags_output_schema, text,
    thousands, truncate, upstream_failure,
};
use crate::catalog::{Operation, OperationSpec, ToolAnswer, ToolFailure, ToolOutput};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::fmt::Write as _;

const PATH: &str = "/themes/info/1.2/";

/// Fields always asked of WordPress.org: what the summaries are made of.
const BASE_FIELDS: &[&str] = &[
    "description",
    "rating",
    "num_ratings",
    "homepage",
    "extended_author",
    "requires",
    "requires_php",
    "last_updated",
    "active_installs",
    "screenshot_url",
];

/// Extra fields a caller may name in `fields`: (argument, upstream request field, answer key).
const EXTRA_FIELDS: &[(&str, &str, &str)] = &[
    ("sections", "sections", "sections"),
    ("versions", "versions", "versions"),
    ("screenshots", "screenshots", "screenshots"),
    ("tags", "tags", "tags"),
    ("ratings", "ratings", "ratings"),
    ("downloaded", "downloaded", "downloaded"),
    ("download_link", "downloadlink", "download_link"),
    ("creation_time", "creation_time", "creation_time"),
    ("parent", "parent", "parent"),
    ("reviews_url", "reviews_url", "reviews_url"),
    ("theme_url", "theme_url", "theme_url"),
    ("description", "description", "description"),
];

fn extra_names() -> Vec<&'static str> {
    EXTRA_FIELDS.iter().map(|(name, _, _)| *name).collect()
}

/// The `request[fields]` of a theme request: the base fields and the asked extras on, the
/// other extras off (theme_information would send sections and more by default).
fn add_fields(query: &mut Query, asked: &[String]) {
    let mut on: Vec<&str> = BASE_FIELDS.to_vec();
    let mut off: Vec<&str> = Vec::new();
    for (name, upstream, _) in EXTRA_FIELDS {
        if asked.iter().any(|a| a == name) {
            if !on.contains(upstream) {
                on.push(upstream);
            }
        } else {
            off.push(upstream);
        }
    }
    off.retain(|f| !BASE_FIELDS.contains(f));
    query.fields(&on, &off);
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Browse {
    Popular,
    New,
    Updated,
    Featured,
    Favorites,
    Commercial,
    Community,
}

impl Browse {
    fn as_str(self) -> &'static str {
        match self {
            Self::Popular => "popular",
            Self::New => "new",
            Self::Updated => "updated",
            Self::Featured => "featured",
            Self::Favorites => "favorites",
            Self::Commercial => "commercial",
            Self::Community => "community",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryArgs {
    search: Option<String>,
    #[serde(default, deserialize_with = "string_or_list")]
    tag: Option<Vec<String>>,
    author: Option<String>,
    browse: Option<Browse>,
    user: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
    fields: Option<Vec<String>>,
}

fn fields_schema(what: &str) -> Value {
    json!({
        "type": "array",
        "description": format!(
            "Extra data to include for each {what}, left out by default to keep answers small."
        ),
        "items": {"type": "string", "enum": extra_names()},
        "uniqueItems": true
    })
}

pub(super) fn query_input() -> Value {
    json!({
        "type": "object",
        "properties": {
            "search": {"type": "string", "description": "Keywords to search for in theme names and descriptions.", "maxLength": 200},
            "tag": {
                "description": "Feature tag(s) every result must have, e.g. \"full-site-editing\" or [\"blog\", \"accessibility-ready\"]. See wporg_theme_features.",
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 20}
                ]
            },
            "author": {"type": "string", "description": "WordPress.org username of the theme author."},
            "browse": {
                "type": "string",
                "enum": ["popular", "new", "updated", "featured", "favorites", "commercial", "community"],
                "description": "A directory listing instead of (or besides) a search. `favorites` needs `user`."
            },
            "user": {"type": "string", "description": "WordPress.org username whose favourite themes to list (with browse=favorites)."},
            "page": {"type": "integer", "minimum": 1, "maximum": 999, "default": 1, "description": "Result page, from 1."},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10, "description": "Themes per page."},
            "fields": fields_schema("theme")
        },
        "additionalProperties": false
    })
}

fn theme_item_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "slug": {"type": "string", "description": "Identifier used in URLs and other tools."},
            "name": {"type": "string"},
            "version": {"type": "string"},
            "author": {"type": "string", "description": "Author display name."},
            "author_profile": {"type": "string"},
            "description": {"type": "string", "description": "Plain-text description, shortened unless `description` was asked in fields."},
            "rating": {"type": "integer", "minimum": 0, "maximum": 100, "description": "Average rating as a percentage."},
            "num_ratings": {"type": "integer", "minimum": 0},
            "active_installs": {"type": "integer", "minimum": 0, "description": "Sites using it, rounded by WordPress.org."},
            "last_updated": {"type": "string"},
            "requires": {"type": "string", "description": "Minimum WordPress version."},
            "requires_php": {"type": "string", "description": "Minimum PHP version."},
            "homepage": {"type": "string", "description": "The theme's page on WordPress.org."},
            "preview_url": {"type": "string", "description": "Live preview."},
            "screenshot_url": {"type": "string"},
            "sections": {"type": "object", "description": "Only with fields: sections. Plain text per section."},
            "versions": {"description": "Only with fields: versions. Download URL per version."},
            "screenshots": {"description": "Only with fields: screenshots."},
            "tags": {"description": "Only with fields: tags. Tag slug to name."},
            "ratings": {"description": "Only with fields: ratings. Count per star rating."},
            "downloaded": {"type": "integer", "description": "Only with fields: downloaded."},
            "download_link": {"type": "string", "description": "Only with fields: download_link."}
        },
        "required": ["slug", "name"]
    })
}

pub(super) fn query_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 1},
            "results": {"type": "integer", "minimum": 0, "description": "Themes matching in all pages."},
            "themes": {"type": "array", "items": theme_item_schema()}
        },
        "required": ["page", "pages", "results", "themes"]
    })
}

/// `wporg.query_themes`: declared here, listed in [`crate::catalog::Operation::spec`].
pub(crate) static QUERY: OperationSpec = OperationSpec {
    key: "wporg.query_themes",
    default_name: "wporg_query_themes",
    title: "Search WordPress.org themes",
    description: "Search the free themes in the WordPress.org theme directory. Use it to find \
         themes by keyword (`search`), feature tags (`tag`, all must match; see \
         wporg_theme_features for valid tags), author username (`author`) or a listing \
         (`browse`: popular, new, updated, featured). Returns one page of results \
         (`page`, `per_page` up to 100, default 10) with name, slug, version, author, \
         rating, active installs and a short description. Heavy data (sections, \
         versions, screenshots, …) is left out unless named in `fields`. Use \
         wporg_theme_info with a slug for full details.",
    input_schema: query_input,
    output_schema: Some(query_output),
    run: |call| Box::pin(async move { query(call.api, call.args).await.map(ToolAnswer::from) }),
};

pub(super) async fn query(
    api: &dyn WordPressApi,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolFailure> {
    let args: QueryArgs = parse_args(Operation::QueryThemes, args)?;
    check_range("page", args.page, 1, 999)?;
    check_range("per_page", args.per_page, 1, 100)?;
    let fields = check_fields(args.fields.as_deref(), &extra_names())?;
    let user = non_blank(args.user);
    if matches!(args.browse, Some(Browse::Favorites)) && user.is_none() {
        return Err(ToolFailure::InvalidArguments(
            "browse=favorites needs `user`, the WordPress.org username whose favourites to list."
                .to_owned(),
        ));
    }
    let page = args.page.unwrap_or(1);
    let per_page = args.per_page.unwrap_or(10);
    let mut query = Query::action("query_themes");
    query
        .request_opt("search", non_blank(args.search))
        .request_list("tag", &clean_list(args.tag).unwrap_or_default())
        .request_opt("author", non_blank(args.author))
        .request_opt("browse", args.browse.map(Browse::as_str))
        .request_opt("user", user)
        .request("page", &page)
        .request("per_page", &per_page);
    add_fields(&mut query, &fields);
    let answer = api
        .get_json(PATH, query.pairs())
        .await
        .map_err(|e| upstream_failure(api, e, |m| format!("WordPress.org found nothing ({m}).")))?;
    if let Some(error) = text(&answer, "error") {
        return Err(ToolFailure::Rejected(error));
    }
    let (page, pages, results) = page_info(&answer);
    let themes: Vec<Map<String, Value>> = answer
        .get("themes")
        .and_then(Value::as_array)
        .map(|list| list.iter().map(|raw| summarize(raw, &fields)).collect())
        .unwrap_or_default();
    let text = if themes.is_empty() {
        format!(
            "No themes found (page {page} of {pages}, {} matches in all). Try fewer or \
             broader keywords or tags.",
            thousands(results)
        )
    } else {
        let lines: Vec<String> = themes.iter().map(one_liner).collect();
        format!(
            "Found {} themes (page {page} of {pages}).{}",
            thousands(results),
            numbered_lines(&lines, 100)
        )
    };
    Ok(ToolOutput {
        text,
        structured: json!({"page": page, "pages": pages, "results": results, "themes": themes}),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InfoArgs {
    slug: Option<String>,
    slugs: Option<Vec<String>>,
    fields: Option<Vec<String>>,
}

pub(super) fn info_input() -> Value {
    json!({
        "type": "object",
        "properties": {
            "slug": {"type": "string", "pattern": "^[a-z0-9_-]+$", "description": "Theme slug, e.g. \"twentytwentyfour\". Give this or `slugs`."},
            "slugs": {
                "type": "array", "minItems": 1, "maxItems": 100, "uniqueItems": true,
                "items": {"type": "string", "pattern": "^[a-z0-9_-]+$"},
                "description": "Several theme slugs at once (up to 100). Give this or `slug`."
            },
            "fields": fields_schema("theme")
        },
        "additionalProperties": false
    })
}

pub(super) fn info_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "themes": {"type": "array", "items": theme_item_schema(), "description": "The themes found, in the order asked."},
            "not_found": {"type": "array", "items": {"type": "string"}, "description": "Slugs WordPress.org does not know."}
        },
        "required": ["themes", "not_found"]
    })
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

fn theme_not_found(slug: &str) -> String {
    format!(
        "Theme \"{slug}\" was not found on WordPress.org. Check the slug, or search with \
         wporg_query_themes."
    )
}

/// `wporg.theme_info`: declared here, listed in [`crate::catalog::Operation::spec`].
pub(crate) static INFO: OperationSpec = OperationSpec {
    key: "wporg.theme_info",
    default_name: "wporg_theme_info",
    title: "WordPress.org theme details",
    description: "Details of WordPress.org themes by slug: version, author, rating, active \
         installs, last update, required WordPress and PHP versions, links and a short \
         description. Pass `slug` for one theme or `slugs` for up to 100 at once. Add \
         `fields` (e.g. [\"sections\", \"versions\", \"tags\"]) for the long description, \
         changelog-style sections, download links per version and more.",
    input_schema: info_input,
    output_schema: Some(info_output),
    run: |call| Box::pin(async move { info(call.api, call.args).await.map(ToolAnswer::from) }),
};

pub(super) async fn info(
    api: &dyn WordPressApi,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolFailure> {
    let args: InfoArgs = parse_args(Operation::ThemeInfo, args)?;
    let fields = check_fields(args.fields.as_deref(), &extra_names())?;
    let (slugs, single) = slugs_argument(args.slug, args.slugs, "wporg_query_themes")?;
    let mut query = Query::action("theme_information");
    if single {
        query.request("slug", &slugs[0]);
    } else {
        query.request_list("slugs", &slugs);
    }
    add_fields(&mut query, &fields);
    let answer = api
        .get_json(PATH, query.pairs())
        .await
        .map_err(|e| upstream_failure(api, e, |_| theme_not_found(&slugs.join(", "))))?;
    let mut themes = Vec::new();
    let mut not_found = Vec::new();
    for slug in &slugs {
        let raw = if single {
            Some(answer.as_ref())
        } else {
            answer.get(slug.as_str())
        };
        match raw {
            Some(raw) if raw.is_object() && raw.get("error").is_none() => {
                let mut theme = summarize(raw, &fields);
                theme
                    .entry("slug")
                    .or_insert_with(|| Value::String(slug.clone()));
                themes.push(theme);
            }
            _ => not_found.push(slug.clone()),
        }
    }
    if single && themes.is_empty() {
        return Err(ToolFailure::NotFound(theme_not_found(&slugs[0])));
    }
    let text = if single {
        themes.first().map(details).unwrap_or_default()
    } else {
        let lines: Vec<String> = themes.iter().map(one_liner).collect();
        let mut text = format!("{} of {} themes found.", themes.len(), slugs.len());
        text.push_str(&numbered_lines(&lines, 100));
        if !not_found.is_empty() {
            let _ = write!(
                text,
                "\nNot found: {}. Check these slugs, or search with wporg_query_themes.",
                not_found.join(", ")
            );
        }
        text
    };
    Ok(ToolOutput {
        text,
        structured: json!({"themes": themes, "not_found": not_found}),
    })
}

/// The fields of a theme worth showing, plus the extras asked for.
pub(super) fn summarize(raw: &Value, extras: &[String]) -> Map<String, Value> {
    let mut theme = Map::new();
    put(&mut theme, "slug", text(raw, "slug"));
    put(
        &mut theme,
        "name",
        text(raw, "name").or_else(|| text(raw, "slug")),
    );
    put(&mut theme, "version", text(raw, "version"));
    match raw.get("author") {
        Some(author @ Value::Object(_)) => {
            put(
                &mut theme,
                "author",
                text(author, "display_name")
                    .or_else(|| text(author, "author"))
                    .or_else(|| text(author, "user_nicename")),
            );
            put(&mut theme, "author_profile", https_url(author, "profile"));
        }
        Some(Value::String(author)) => put(&mut theme, "author", Some(one_line(author))),
        _ => {}
    }
    let description = raw
        .get("description")
        .and_then(Value::as_str)
        .or_else(|| raw.pointer("/sections/description").and_then(Value::as_str))
        .map(one_line)
        .filter(|d| !d.is_empty());
    let limit = if extras.iter().any(|e| e == "description") {
        SECTION_CHARS
    } else {
        SHORT_TEXT_CHARS
    };
    put(
        &mut theme,
        "description",
        description.map(|d| truncate(&d, limit)),
    );
    put(
        &mut theme,
        "rating",
        number(raw, "rating").map(|r| r.min(100)),
    );
    put(&mut theme, "num_ratings", number(raw, "num_ratings"));
    put(
        &mut theme,
        "active_installs",
        number(raw, "active_installs"),
    );
    put(&mut theme, "last_updated", text(raw, "last_updated"));
    put(&mut theme, "requires", text(raw, "requires"));
    put(&mut theme, "requires_php", text(raw, "requires_php"));
    put(&mut theme, "homepage", https_url(raw, "homepage"));
    put(&mut theme, "preview_url", https_url(raw, "preview_url"));
    put(
        &mut theme,
        "screenshot_url",
        https_url(raw, "screenshot_url"),
    );
    for (name, _, key) in EXTRA_FIELDS {
        if *name == "description" || !extras.iter().any(|e| e == name) {
            continue;
        }
        if let Some(value) = raw.get(*key) {
            let value = extra_value(key, value);
            match (*name, &value) {
                ("downloaded", _) => put(&mut theme, name, super::support::scalar_number(&value)),
                ("download_link" | "reviews_url" | "theme_url", Value::String(url)) => {
                    put(&mut theme, name, Some(super::support::to_https(url)));
                }
                (_, Value::Null | Value::Bool(false)) => {}
                _ => {
                    theme.insert((*name).to_owned(), value);
                }
            }
        }
    }
    theme
}

/// `Astra 4.6.3 (astra) by Brainstorm Force — rating 98/100, 1,000,000+ installs`.
fn one_liner(theme: &Map<String, Value>) -> String {
    let get = |k: &str| theme.get(k).and_then(Value::as_str).unwrap_or_default();
    let mut line = get("name").to_owned();
    if !get("version").is_empty() {
        let _ = write!(line, " {}", get("version"));
    }
    let _ = write!(line, " ({})", get("slug"));
    if !get("author").is_empty() {
        let _ = write!(line, " by {}", get("author"));
    }
    let mut facts = Vec::new();
    if let Some(rating) = theme.get("rating").and_then(Value::as_u64)
        && theme
            .get("num_ratings")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            > 0
    {
        facts.push(format!("rating {rating}/100"));
    }
    if let Some(installs) = theme.get("active_installs").and_then(Value::as_u64) {
        facts.push(format!("{}+ installs", thousands(installs)));
    }
    if !get("last_updated").is_empty() {
        facts.push(format!("updated {}", get("last_updated")));
    }
    if !facts.is_empty() {
        let _ = write!(line, " — {}", facts.join(", "));
    }
    line
}

/// A paragraph about one theme.
fn details(theme: &Map<String, Value>) -> String {
    let get = |k: &str| theme.get(k).and_then(Value::as_str).unwrap_or_default();
    let mut out = one_liner(theme);
    out.push('.');
    if let Some(n) = theme.get("num_ratings").and_then(Value::as_u64) {
        let _ = write!(out, " {} ratings.", thousands(n));
    }
    if !get("requires").is_empty() || !get("requires_php").is_empty() {
        let _ = write!(
            out,
            " Requires WordPress {}, PHP {}.",
            non_empty_or(get("requires"), "any"),
            non_empty_or(get("requires_php"), "any")
        );
    }
    if !get("homepage").is_empty() {
        let _ = write!(out, " {}", get("homepage"));
    }
    if !get("description").is_empty() {
        let _ = write!(out, "\n{}", get("description"));
    }
    out
}

fn non_empty_or<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    if value.is_empty() { fallback } else { value }
}

pub(super) fn tags_input() -> Value {
    tags_input_schema()
}

pub(super) fn tags_output() -> Value {
    tags_output_schema("themes")
}

/// `wporg.theme_tags`: declared here, listed in [`crate::catalog::Operation::spec`].
pub(crate) static TAGS: OperationSpec = OperationSpec {
    key: "wporg.theme_tags",
    default_name: "wporg_theme_tags",
    title: "Popular WordPress.org theme tags",
    description: "The most used tags of the WordPress.org theme directory, with how many themes \
         carry each. Use it to pick `tag` values for wporg_query_themes. `number` limits \
         the list (default 30).",
    input_schema: tags_input,
    output_schema: Some(tags_output),
    run: |call| Box::pin(async move { tags(call.api, call.args).await.map(ToolAnswer::from) }),
};

pub(super) async fn tags(
    api: &dyn WordPressApi,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolFailure> {
    let args: TagsArgs = parse_args(Operation::ThemeTags, args)?;
    check_range("number", args.number, 1, 500)?;
    let wanted = args.number.unwrap_or(30);
    let mut query = Query::action("hot_tags");
    query.request("number", &wanted);
    let answer = api
        .get_json(PATH, query.pairs())
        .await
        .map_err(|e| upstream_failure(api, e, |m| format!("No theme tags found ({m}).")))?;
    let tags = hot_tags(&answer, wanted as usize);
    Ok(ToolOutput {
        text: tags_text("theme", &tags),
        structured: json!({ "tags": tags }),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_fields_are_dropped_unless_asked() {
        let raw = json!({
            "name": "Astra", "slug": "astra", "version": "4.6.3",
            "author": {"display_name": "Brainstorm Force", "profile": "//profiles.wordpress.org/brainstormforce/"},
            "description": "<p>Astra is <b>fast</b>.</p>",
            "screenshot_url": "//ts.w.org/wp-content/themes/astra/screenshot.jpg?ver=4.6.3",
            "rating": "98", "num_ratings": 5000, "active_installs": 1_000_000,
            "sections": {"description": "<p>Long</p>"},
            "versions": {"4.6.3": "https://downloads.wordpress.org/theme/astra.4.6.3.zip"},
            "tags": [], "requires": false
        });
        let plain = summarize(&raw, &[]);
        assert_eq!(plain["author"], "Brainstorm Force");
        assert_eq!(plain["description"], "Astra is fast.");
        assert_eq!(plain["rating"], 98);
        assert_eq!(
            plain["screenshot_url"],
            "https://ts.w.org/wp-content/themes/astra/screenshot.jpg?ver=4.6.3"
        );
        assert!(plain.get("sections").is_none());
        assert!(plain.get("versions").is_none());
        assert!(plain.get("requires").is_none(), "false is dropped");

        let rich = summarize(&raw, &["sections".to_owned(), "tags".to_owned()]);
        assert_eq!(rich["sections"], json!({"description": "Long"}));
        assert_eq!(rich["tags"], json!({}));
        assert!(rich.get("versions").is_none());
    }

    #[test]
    fn query_arguments_are_validated() {
        let args = |v: Value| v.as_object().cloned().unwrap_or_default();
        let parsed: QueryArgs =
            parse_args(Operation::QueryThemes, &args(json!({"tag": "blog"}))).expect("valid");
        assert_eq!(parsed.tag, Some(vec!["blog".to_owned()]));
        let parsed: QueryArgs =
            parse_args(Operation::QueryThemes, &args(json!({"tag": ["a", "b"]}))).expect("valid");
        assert_eq!(parsed.tag, Some(vec!["a".to_owned(), "b".to_owned()]));
        let error = parse_args::<QueryArgs>(Operation::QueryThemes, &args(json!({"serch": "x"})))
            .expect_err("unknown field");
        assert!(error.to_string().contains("serch"), "{error}");
        assert!(error.to_string().contains("wporg_query_themes"), "{error}");
        let error = parse_args::<QueryArgs>(Operation::QueryThemes, &args(json!({"browse": "x"})))
            .expect_err("bad browse");
        assert!(error.to_string().contains("popular"), "{error}");
    }

    #[test]
    fn theme_information_turns_heavy_defaults_off() {
        let mut query = Query::action("theme_information");
        add_fields(&mut query, &["versions".to_owned()]);
        let has = |k: &str, v: &str| query.pairs().iter().any(|(a, b)| a == k && b == v);
        assert!(has("request[fields][versions]", "true"));
        assert!(has("request[fields][sections]", "false"));
        assert!(has("request[fields][downloadlink]", "false"));
        assert!(has("request[fields][description]", "true"));
        assert!(!has("request[fields][description]", "false"));
    }
}
