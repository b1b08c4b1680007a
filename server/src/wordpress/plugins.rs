//! The plugin directory tools: search, details, popular tags and download statistics.

use super::client::{UpstreamError, WordPressApi};
use super::directory::{
    DetailKeys, Directory, Item, LookupArgs, page_and_size, put_extras, put_reach, slugs_argument,
};
use super::support::{
    Query, SHORT_TEXT_CHARS, check_fields, https_url, non_blank, one_line, parse_args, put,
    scalar_text, tags_input_schema, tags_output_schema, text, truncate, upstream_failure,
};
use crate::catalog::{Operation, OperationSpec, ToolAnswer, ToolFailure, ToolOutput};
use serde::Deserialize;
use serde_json::{Map, Value, json};

static PLUGINS: Directory = Directory {
    path: "/plugins/info/1.2/",
    noun: "plugin",
    search_tool: "wporg_query_plugins",
    last_fact: |plugin| {
        let tested = plugin
            .get("tested")
            .and_then(Value::as_str)
            .unwrap_or_default();
        (!tested.is_empty()).then(|| format!("tested up to WordPress {tested}"))
    },
    details: DetailKeys {
        last_updated: true,
        link: "url",
        description: "short_description",
    },
};

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
    PLUGINS.search_output_schema(&plugin_item_schema())
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
    let (page, per_page) = page_and_size(args.page, args.per_page)?;
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
    let answer = PLUGINS.search(api, &query).await?;
    let plugins: Vec<Item> = answer
        .get("plugins")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter(|raw| raw.is_object())
                .map(|raw| summarize(raw, &fields))
                .collect()
        })
        .unwrap_or_default();
    Ok(PLUGINS.page(
        &answer,
        &plugins,
        "Try other or fewer keywords, or a tag from wporg_plugin_tags.",
    ))
}

pub(super) fn info_input() -> Value {
    PLUGINS.lookup_input("akismet", &fields_schema())
}

pub(super) fn info_output() -> Value {
    PLUGINS.lookup_output_schema(
        &plugin_item_schema(),
        "Slugs WordPress.org does not know (or closed plugins).",
    )
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
    let args: LookupArgs = parse_args(Operation::PluginInfo, args)?;
    let fields = check_fields(args.fields.as_deref(), EXTRA_FIELDS)?;
    let (slugs, single) = slugs_argument(args.slug, args.slugs, PLUGINS.search_tool)?;
    let mut query = Directory::lookup_query("plugin_information", &slugs, single);
    add_fields(&mut query, &fields);
    let answer = api
        .get_json(PLUGINS.path, query.pairs())
        .await
        .map_err(|e| match e {
            UpstreamError::NotFound(message) if single => {
                ToolFailure::NotFound(plugin_not_found(&slugs[0], &message))
            }
            other => upstream_failure(api, other, |_| {
                plugin_not_found(&slugs.join(", "), "not found")
            }),
        })?;
    let (plugins, not_found) =
        Directory::found(&answer, &slugs, single, |raw| summarize(raw, &fields));
    if single && plugins.is_empty() {
        let message = text(&answer, "error").unwrap_or_default();
        return Err(ToolFailure::NotFound(plugin_not_found(&slugs[0], &message)));
    }
    Ok(PLUGINS.lookup_output(&slugs, single, &plugins, &not_found))
}

/// The fields of a plugin worth showing, plus the extras asked for.
fn summarize(raw: &Value, extras: &[String]) -> Item {
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
    put_reach(&mut plugin, raw);
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
    put_extras(
        &mut plugin,
        raw,
        EXTRA_FIELDS
            .iter()
            .filter(|name| extras.iter().any(|e| e == *name))
            .map(|name| (*name, *name)),
        &[
            "download_link",
            "donate_link",
            "support_url",
            "preview_link",
        ],
        false,
    );
    plugin
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
    input_schema: tags_input_schema,
    output_schema: Some(tags_output),
    run: |call| {
        Box::pin(async move {
            PLUGINS
                .tags(call.api, Operation::PluginTags, call.args)
                .await
                .map(ToolAnswer::from)
        })
    },
};

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
