//! The plugin directory tools: search, details, popular tags and download statistics.

use super::client::{UpstreamError, WordPressApi};
use super::support::{
    Query, SECTION_CHARS, SHORT_TEXT_CHARS, TagsArgs, check_fields, check_range, extra_value,
    hot_tags, https_url, non_blank, number, numbered_lines, one_line, page_info, parse_args, put,
    scalar_number, scalar_text, tags_input_schema, tags_output_schema, text, thousands, to_https,
    truncate, upstream_failure,
};
use super::themes::{slugs_argument, tags_text};
use crate::catalog::{Operation, OperationSpec, ToolAnswer, ToolFailure, ToolOutput};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::fmt::Write as _;

const PATH: &str = "/plugins/info/1.2/";

/// Fields always asked of WordPress.org: what the summaries are made of.
const BASE_FIELDS: &[&str] = &[
    "short_description",
    "rating",
    "active_installs",
    "last_updated",
    "requires",
    "requires_php",
    "tested",
    "homepage",
];

/// Extra fields a caller may name in `fields` (the same names upstream and in the answer).
const EXTRA_FIELDS: &[&str] = &[
    "sections",
    "description",
    "versions",
    "screenshots",
    "contributors",
    "banners",
    "icons",
    "tags",
    "ratings",
    "downloaded",
    "download_link",
    "donate_link",
    "added",
    "upgrade_notice",
    "support_url",
    "blocks",
    "language_packs",
    "business_model",
    "preview_link",
    "stable_tag",
    "compatibility",
];

/// The `request[fields]` of a plugin request: base fields and asked extras on, the rest off.
fn add_fields(query: &mut Query, asked: &[String]) {
    let mut on: Vec<&str> = BASE_FIELDS.to_vec();
    let mut off: Vec<&str> = Vec::new();
    for name in EXTRA_FIELDS {
        if asked.iter().any(|a| a == name) {
            on.push(name);
        } else {
            off.push(name);
        }
    }
    if !on.contains(&"sections") {
        off.push("reviews");
    }
    query.fields(&on, &off);
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Browse {
    Popular,
    New,
    Updated,
    Featured,
    Beta,
    Blocks,
    Favorites,
    AdoptMe,
}

impl Browse {
    fn as_str(self) -> &'static str {
        match self {
            Self::Popular => "popular",
            Self::New => "new",
            Self::Updated => "updated",
            Self::Featured => "featured",
            Self::Beta => "beta",
            Self::Blocks => "blocks",
            Self::Favorites => "favorites",
            Self::AdoptMe => "adopt-me",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryArgs {
    search: Option<String>,
    tag: Option<String>,
    author: Option<String>,
    browse: Option<Browse>,
    user: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
    fields: Option<Vec<String>>,
}

fn fields_schema() -> Value {
    json!({
        "type": "array",
        "description": "Extra data to include for each plugin, left out by default to keep answers small (e.g. sections = readme text, versions = download URL per version).",
        "items": {"type": "string", "enum": EXTRA_FIELDS},
        "uniqueItems": true
    })
}

pub(super) fn query_input() -> Value {
    json!({
        "type": "object",
        "properties": {
            "search": {"type": "string", "maxLength": 200, "description": "Keywords; also \"slug:<slug>\" or \"block:<block-name>\"."},
            "tag": {"type": "string", "description": "A plugin tag, e.g. \"seo\" (see wporg_plugin_tags)."},
            "author": {"type": "string", "description": "WordPress.org username of the plugin author."},
            "browse": {
                "type": "string",
                "enum": ["popular", "new", "updated", "featured", "beta", "blocks", "favorites", "adopt-me"],
                "description": "A directory listing instead of a search; cannot be combined with search, tag or author. `favorites` needs `user`."
            },
            "user": {"type": "string", "description": "WordPress.org username whose favourite plugins to list."},
            "page": {"type": "integer", "minimum": 1, "maximum": 999, "default": 1, "description": "Result page, from 1."},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10, "description": "Plugins per page."},
            "fields": fields_schema()
        },
        "additionalProperties": false
    })
}

fn plugin_item_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "slug": {"type": "string", "description": "Identifier used in URLs and other tools."},
            "name": {"type": "string"},
            "version": {"type": "string"},
            "author": {"type": "string", "description": "Author display name."},
            "author_profile": {"type": "string"},
            "short_description": {"type": "string", "description": "Plain-text summary, at most about 300 characters."},
            "rating": {"type": "integer", "minimum": 0, "maximum": 100, "description": "Average rating as a percentage."},
            "num_ratings": {"type": "integer", "minimum": 0},
            "active_installs": {"type": "integer", "minimum": 0, "description": "Sites using it, rounded by WordPress.org."},
            "last_updated": {"type": "string"},
            "requires": {"type": "string", "description": "Minimum WordPress version."},
            "tested": {"type": "string", "description": "Latest WordPress version it was tested with."},
            "requires_php": {"type": "string", "description": "Minimum PHP version."},
            "requires_plugins": {"type": "array", "items": {"type": "string"}, "description": "Slugs of plugins it depends on."},
            "homepage": {"type": "string"},
            "url": {"type": "string", "description": "The plugin's page on WordPress.org."},
            "sections": {"type": "object", "description": "Only with fields: sections. Plain text per readme section."},
            "description": {"type": "string", "description": "Only with fields: description."},
            "versions": {"description": "Only with fields: versions. Download URL per version."},
            "downloaded": {"type": "integer", "description": "Only with fields: downloaded."}
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
            "results": {"type": "integer", "minimum": 0, "description": "Plugins matching in all pages."},
            "plugins": {"type": "array", "items": plugin_item_schema()}
        },
        "required": ["page", "pages", "results", "plugins"]
    })
}

/// `wporg.query_plugins`: declared here, listed in [`crate::catalog::Operation::spec`].
pub(crate) static QUERY: OperationSpec = OperationSpec {
    key: "wporg.query_plugins",
    default_name: "wporg_query_plugins",
    title: "Search WordPress.org plugins",
    description: "Search the free plugins in the WordPress.org plugin directory by keyword \
         (`search`, also `slug:<slug>` or `block:<block-name>`), `tag` or author \
         username (`author`), or list one of the directory's `browse` views (popular, \
         new, updated, featured, beta, blocks, adopt-me; `browse` cannot be combined \
         with search, tag or author). Returns one page (`page`, `per_page` up to 100, \
         default 10) with name, slug, version, author, rating, active installs, \
         compatibility and a short description. Use wporg_plugin_info for full details.",
    input_schema: query_input,
    output_schema: Some(query_output),
    run: |call| Box::pin(async move { query(call.api, call.args).await.map(ToolAnswer::from) }),
};

pub(super) async fn query(
    api: &dyn WordPressApi,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolFailure> {
    let args: QueryArgs = parse_args(Operation::QueryPlugins, args)?;
    check_range("page", args.page, 1, 999)?;
    check_range("per_page", args.per_page, 1, 100)?;
    let fields = check_fields(args.fields.as_deref(), EXTRA_FIELDS)?;
    let search = non_blank(args.search);
    let tag = non_blank(args.tag);
    let author = non_blank(args.author);
    let user = non_blank(args.user);
    if let Some(browse) = args.browse
        && (search.is_some() || tag.is_some() || author.is_some())
    {
        return Err(ToolFailure::InvalidArguments(format!(
            "browse={} cannot be combined with search, tag or author (WordPress.org would \
             ignore them). Drop `browse` to search, or drop the search terms to list.",
            browse.as_str()
        )));
    }
    match (args.browse, &user) {
        (Some(Browse::Favorites), None) => {
            return Err(ToolFailure::InvalidArguments(
                "browse=favorites needs `user`, the WordPress.org username whose favourites to \
                 list."
                    .to_owned(),
            ));
        }
        (Some(browse), Some(_)) if browse != Browse::Favorites => {
            return Err(ToolFailure::InvalidArguments(
                "`user` lists a user's favourites; use it alone or with browse=favorites."
                    .to_owned(),
            ));
        }
        _ => {}
    }
    let page = args.page.unwrap_or(1);
    let per_page = args.per_page.unwrap_or(10);
    let mut query = Query::action("query_plugins");
    query
        .request_opt("search", search)
        .request_opt("tag", tag)
        .request_opt("author", author)
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
    let plugins: Vec<Map<String, Value>> = answer
        .get("plugins")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter(|raw| raw.is_object())
                .map(|raw| summarize(raw, &fields))
                .collect()
        })
        .unwrap_or_default();
    let text = if plugins.is_empty() {
        format!(
            "No plugins found (page {page} of {pages}, {} matches in all). Try other or fewer \
             keywords, or a tag from wporg_plugin_tags.",
            thousands(results)
        )
    } else {
        let lines: Vec<String> = plugins.iter().map(one_liner).collect();
        format!(
            "Found {} plugins (page {page} of {pages}).{}",
            thousands(results),
            numbered_lines(&lines, 100)
        )
    };
    Ok(ToolOutput {
        text,
        structured: json!({"page": page, "pages": pages, "results": results, "plugins": plugins}),
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
            "slug": {"type": "string", "pattern": "^[a-z0-9_-]+$", "description": "Plugin slug, e.g. \"akismet\". Give this or `slugs`."},
            "slugs": {
                "type": "array", "minItems": 1, "maxItems": 100, "uniqueItems": true,
                "items": {"type": "string", "pattern": "^[a-z0-9_-]+$"},
                "description": "Several plugin slugs at once (up to 100). Give this or `slug`."
            },
            "fields": fields_schema()
        },
        "additionalProperties": false
    })
}

pub(super) fn info_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "plugins": {"type": "array", "items": plugin_item_schema(), "description": "The plugins found, in the order asked."},
            "not_found": {"type": "array", "items": {"type": "string"}, "description": "Slugs WordPress.org does not know (or closed plugins)."}
        },
        "required": ["plugins", "not_found"]
    })
}

fn plugin_not_found(slug: &str, message: &str) -> String {
    if message.eq_ignore_ascii_case("closed") {
        format!(
            "Plugin \"{slug}\" has been closed on WordPress.org and is not available. Look for \
             an alternative with wporg_query_plugins."
        )
    } else {
        format!(
            "Plugin \"{slug}\" was not found on WordPress.org. Check the slug, or search with \
             wporg_query_plugins."
        )
    }
}

/// `wporg.plugin_info`: declared here, listed in [`crate::catalog::Operation::spec`].
pub(crate) static INFO: OperationSpec = OperationSpec {
    key: "wporg.plugin_info",
    default_name: "wporg_plugin_info",
    title: "WordPress.org plugin details",
    description: "Details of WordPress.org plugins by slug (e.g. \"akismet\"): version, author, \
         rating, active installs, last update, tested-up-to and required WordPress and \
         PHP versions, and a short description. Pass `slug` for one plugin or `slugs` \
         for up to 100. Add `fields` (e.g. [\"sections\", \"versions\", \"banners\"]) \
         for the readme sections (description, installation, FAQ, changelog), download \
         links per version, images and more.",
    input_schema: info_input,
    output_schema: Some(info_output),
    run: |call| Box::pin(async move { info(call.api, call.args).await.map(ToolAnswer::from) }),
};

pub(super) async fn info(
    api: &dyn WordPressApi,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolFailure> {
    let args: InfoArgs = parse_args(Operation::PluginInfo, args)?;
    let fields = check_fields(args.fields.as_deref(), EXTRA_FIELDS)?;
    let (slugs, single) = slugs_argument(args.slug, args.slugs, "wporg_query_plugins")?;
    let mut query = Query::action("plugin_information");
    if single {
        query.request("slug", &slugs[0]);
    } else {
        query.request_list("slugs", &slugs);
    }
    add_fields(&mut query, &fields);
    let answer = api
        .get_json(PATH, query.pairs())
        .await
        .map_err(|e| match e {
            UpstreamError::NotFound(message) if single => {
                ToolFailure::NotFound(plugin_not_found(&slugs[0], &message))
            }
            other => upstream_failure(api, other, |_| {
                plugin_not_found(&slugs.join(", "), "not found")
            }),
        })?;
    let mut plugins = Vec::new();
    let mut not_found = Vec::new();
    for slug in &slugs {
        let raw = if single {
            Some(answer.as_ref())
        } else {
            answer.get(slug.as_str())
        };
        match raw {
            Some(raw) if raw.is_object() && raw.get("error").is_none() => {
                let mut plugin = summarize(raw, &fields);
                plugin
                    .entry("slug")
                    .or_insert_with(|| Value::String(slug.clone()));
                plugins.push(plugin);
            }
            Some(raw) if single => {
                let message = text(raw, "error").unwrap_or_default();
                return Err(ToolFailure::NotFound(plugin_not_found(slug, &message)));
            }
            _ => not_found.push(slug.clone()),
        }
    }
    let text = if single {
        plugins.first().map(details).unwrap_or_default()
    } else {
        let lines: Vec<String> = plugins.iter().map(one_liner).collect();
        let mut text = format!("{} of {} plugins found.", plugins.len(), slugs.len());
        text.push_str(&numbered_lines(&lines, 100));
        if !not_found.is_empty() {
            let _ = write!(
                text,
                "\nNot found: {}. Check these slugs, or search with wporg_query_plugins.",
                not_found.join(", ")
            );
        }
        text
    };
    Ok(ToolOutput {
        text,
        structured: json!({"plugins": plugins, "not_found": not_found}),
    })
}

/// The fields of a plugin worth showing, plus the extras asked for.
fn summarize(raw: &Value, extras: &[String]) -> Map<String, Value> {
    let mut plugin = Map::new();
    let slug = text(raw, "slug");
    put(&mut plugin, "slug", slug.clone());
    put(
        &mut plugin,
        "name",
        raw.get("name")
            .and_then(Value::as_str)
            .map(one_line)
            .filter(|n| !n.is_empty())
            .or_else(|| slug.clone()),
    );
    put(&mut plugin, "version", text(raw, "version"));
    put(
        &mut plugin,
        "author",
        raw.get("author")
            .and_then(Value::as_str)
            .map(one_line)
            .filter(|a| !a.is_empty()),
    );
    put(
        &mut plugin,
        "author_profile",
        https_url(raw, "author_profile"),
    );
    let summary = raw
        .get("short_description")
        .and_then(Value::as_str)
        .or_else(|| raw.get("description").and_then(Value::as_str))
        .or_else(|| raw.pointer("/sections/description").and_then(Value::as_str))
        .map(one_line)
        .filter(|d| !d.is_empty());
    put(
        &mut plugin,
        "short_description",
        summary.map(|s| truncate(&s, SHORT_TEXT_CHARS)),
    );
    put(
        &mut plugin,
        "rating",
        number(raw, "rating").map(|r| r.min(100)),
    );
    put(&mut plugin, "num_ratings", number(raw, "num_ratings"));
    put(
        &mut plugin,
        "active_installs",
        number(raw, "active_installs"),
    );
    put(&mut plugin, "last_updated", text(raw, "last_updated"));
    put(&mut plugin, "requires", text(raw, "requires"));
    put(&mut plugin, "tested", text(raw, "tested"));
    put(&mut plugin, "requires_php", text(raw, "requires_php"));
    let requires_plugins: Vec<String> = raw
        .get("requires_plugins")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(scalar_text).collect())
        .unwrap_or_default();
    if !requires_plugins.is_empty() {
        plugin.insert("requires_plugins".to_owned(), json!(requires_plugins));
    }
    put(&mut plugin, "homepage", https_url(raw, "homepage"));
    put(
        &mut plugin,
        "url",
        slug.map(|s| format!("https://wordpress.org/plugins/{s}/")),
    );
    for name in EXTRA_FIELDS {
        if !extras.iter().any(|e| e == name) {
            continue;
        }
        let Some(value) = raw.get(*name) else {
            continue;
        };
        let value = extra_value(name, value);
        match (*name, &value) {
            ("downloaded", _) => put(&mut plugin, name, scalar_number(&value)),
            ("description", Value::String(d)) => {
                put(&mut plugin, name, Some(truncate(d, SECTION_CHARS)));
            }
            (
                "download_link" | "donate_link" | "support_url" | "preview_link",
                Value::String(url),
            ) => {
                put(&mut plugin, name, Some(to_https(url)));
            }
            (_, Value::Null) => {}
            _ => {
                plugin.insert((*name).to_owned(), value);
            }
        }
    }
    plugin
}

/// `Akismet 5.3 (akismet) by Automattic — rating 96/100, 6,000,000+ installs`.
fn one_liner(plugin: &Map<String, Value>) -> String {
    let get = |k: &str| plugin.get(k).and_then(Value::as_str).unwrap_or_default();
    let mut line = get("name").to_owned();
    if !get("version").is_empty() {
        let _ = write!(line, " {}", get("version"));
    }
    let _ = write!(line, " ({})", get("slug"));
    if !get("author").is_empty() {
        let _ = write!(line, " by {}", get("author"));
    }
    let mut facts = Vec::new();
    if let Some(rating) = plugin.get("rating").and_then(Value::as_u64)
        && plugin
            .get("num_ratings")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            > 0
    {
        facts.push(format!("rating {rating}/100"));
    }
    if let Some(installs) = plugin.get("active_installs").and_then(Value::as_u64) {
        facts.push(format!("{}+ installs", thousands(installs)));
    }
    if !get("tested").is_empty() {
        facts.push(format!("tested up to WordPress {}", get("tested")));
    }
    if !facts.is_empty() {
        let _ = write!(line, " — {}", facts.join(", "));
    }
    line
}

/// A paragraph about one plugin.
fn details(plugin: &Map<String, Value>) -> String {
    let get = |k: &str| plugin.get(k).and_then(Value::as_str).unwrap_or_default();
    let mut out = one_liner(plugin);
    out.push('.');
    if let Some(n) = plugin.get("num_ratings").and_then(Value::as_u64) {
        let _ = write!(out, " {} ratings.", thousands(n));
    }
    if !get("last_updated").is_empty() {
        let _ = write!(out, " Last updated {}.", get("last_updated"));
    }
    if !get("requires").is_empty() || !get("requires_php").is_empty() {
        let _ = write!(
            out,
            " Requires WordPress {}, PHP {}.",
            if get("requires").is_empty() {
                "any"
            } else {
                get("requires")
            },
            if get("requires_php").is_empty() {
                "any"
            } else {
                get("requires_php")
            }
        );
    }
    if !get("url").is_empty() {
        let _ = write!(out, " {}", get("url"));
    }
    if !get("short_description").is_empty() {
        let _ = write!(out, "\n{}", get("short_description"));
    }
    out
}

pub(super) fn tags_input() -> Value {
    tags_input_schema()
}

pub(super) fn tags_output() -> Value {
    tags_output_schema("plugins")
}

/// `wporg.plugin_tags`: declared here, listed in [`crate::catalog::Operation::spec`].
pub(crate) static TAGS: OperationSpec = OperationSpec {
    key: "wporg.plugin_tags",
    default_name: "wporg_plugin_tags",
    title: "Popular WordPress.org plugin tags",
    description: "The most used tags of the WordPress.org plugin directory, with how many plugins \
         carry each. Use it to pick a `tag` for wporg_query_plugins. `number` limits the \
         list (default 30).",
    input_schema: tags_input,
    output_schema: Some(tags_output),
    run: |call| Box::pin(async move { tags(call.api, call.args).await.map(ToolAnswer::from) }),
};

pub(super) async fn tags(
    api: &dyn WordPressApi,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolFailure> {
    let args: TagsArgs = parse_args(Operation::PluginTags, args)?;
    check_range("number", args.number, 1, 500)?;
    let wanted = args.number.unwrap_or(30);
    let mut query = Query::action("hot_tags");
    query.request("number", &wanted);
    let answer = api
        .get_json(PATH, query.pairs())
        .await
        .map_err(|e| upstream_failure(api, e, |m| format!("No plugin tags found ({m}).")))?;
    let tags = hot_tags(&answer, wanted as usize);
    Ok(ToolOutput {
        text: tags_text("plugin", &tags),
        structured: json!({ "tags": tags }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_summaries_strip_html_and_drop_heavy_fields() {
        let raw = json!({
            "name": "Akismet Anti-spam: Spam Protection", "slug": "akismet", "version": "5.3",
            "author": "<a href=\"https://automattic.com\">Automattic &#8211; Anti-spam Team</a>",
            "author_profile": "https://profiles.wordpress.org/automattic/",
            "short_description": "The best <em>anti-spam</em> protection.",
            "rating": 96, "num_ratings": "1000", "active_installs": 6000000,
            "requires": "5.8", "tested": "6.6.2", "requires_php": false,
            "requires_plugins": [],
            "sections": {"description": "<p>Long text</p>", "changelog": "<h4>5.3</h4>"},
            "versions": {"5.3": "https://downloads.wordpress.org/plugin/akismet.5.3.zip"},
            "banners": false, "contributors": {}
        });
        let plain = summarize(&raw, &[]);
        assert_eq!(plain["author"], "Automattic – Anti-spam Team");
        assert_eq!(plain["short_description"], "The best anti-spam protection.");
        assert_eq!(plain["num_ratings"], 1000);
        assert_eq!(plain["url"], "https://wordpress.org/plugins/akismet/");
        for heavy in [
            "sections",
            "versions",
            "banners",
            "contributors",
            "requires_php",
        ] {
            assert!(plain.get(heavy).is_none(), "{heavy} should be dropped");
        }
        assert!(plain.get("requires_plugins").is_none());
        let rich = summarize(&raw, &["sections".to_owned(), "banners".to_owned()]);
        assert_eq!(
            rich["sections"],
            json!({"description": "Long text", "changelog": "5.3"})
        );
        assert_eq!(rich["banners"], json!(false));
    }

    #[test]
    fn browse_and_search_do_not_mix() {
        let args = json!({"browse": "popular", "search": "seo"});
        let args = args.as_object().cloned().unwrap_or_default();
        let parsed: QueryArgs = parse_args(Operation::QueryPlugins, &args).expect("parses");
        assert_eq!(parsed.browse, Some(Browse::Popular));
        let adopt = json!({"browse": "adopt-me"});
        let adopt = adopt.as_object().cloned().unwrap_or_default();
        let parsed: QueryArgs = parse_args(Operation::QueryPlugins, &adopt).expect("parses");
        assert_eq!(parsed.browse.map(Browse::as_str), Some("adopt-me"));
    }
}
