//! The theme directory tools: search, details, popular tags and feature filters.

use super::client::WordPressApi;
use super::directory::{
    DetailKeys, Directory, Item, LookupArgs, page_and_size, put_extras, put_reach, slugs_argument,
};
use super::support::{
    Query, SECTION_CHARS, SHORT_TEXT_CHARS, check_fields, clean_list, https_url, non_blank,
    one_line, parse_args, put, string_or_list, tags_input_schema, tags_output_schema, text,
    truncate, upstream_failure,
};
use crate::catalog::{Operation, OperationSpec, ToolAnswer, ToolFailure, ToolOutput};
use serde::Deserialize;
use serde_json::{Map, Value, json};

static THEMES: Directory = Directory {
    path: "/themes/info/1.2/",
    noun: "theme",
    search_tool: "wporg_query_themes",
    last_fact: |theme| {
        let updated = theme
            .get("last_updated")
            .and_then(Value::as_str)
            .unwrap_or_default();
        (!updated.is_empty()).then(|| format!("updated {updated}"))
    },
    details: DetailKeys {
        last_updated: false,
        link: "homepage",
        description: "description",
    },
};

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

/// The fields `query_themes` (theme API 1.2) turns on by itself, with `screenshot_url`, which
/// every action has on.
const SEARCH_DEFAULTS: &[&str] = &[
    "screenshot_url",
    "description",
    "rating",
    "homepage",
    "template",
    "extended_author",
    "num_ratings",
    "parent",
    "requires",
    "requires_php",
    "is_commercial",
    "is_community",
    "external_repository_url",
    "external_support_url",
];

/// The fields `theme_information` turns on by itself, with `screenshot_url`.
const DETAILS_DEFAULTS: &[&str] = &[
    "screenshot_url",
    "sections",
    "rating",
    "downloaded",
    "downloadlink",
    "last_updated",
    "homepage",
    "tags",
    "template",
    "extended_author",
    "num_ratings",
    "reviews_url",
    "parent",
    "requires",
    "requires_php",
    "creation_time",
    "is_commercial",
    "is_community",
    "external_repository_url",
    "external_support_url",
];

/// The `request[fields]` of a theme request: what differs from the action's `defaults`, so
/// that the base fields and the asked extras are on and the other extras off. Leaving the
/// defaults unsaid keeps the URL short: a search sends three fields instead of twenty-one,
/// which WordPress.org and this client each parse on every uncached call.
fn add_fields(query: &mut Query, asked: &[String], defaults: &[&str]) {
    let mut wanted: Vec<&str> = BASE_FIELDS.to_vec();
    for (name, upstream, _) in EXTRA_FIELDS {
        if asked.iter().any(|a| a == name) && !wanted.contains(upstream) {
            wanted.push(upstream);
        }
    }
    let on: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|field| !defaults.contains(field))
        .collect();
    let off: Vec<&str> = EXTRA_FIELDS
        .iter()
        .map(|(_, upstream, _)| *upstream)
        .filter(|field| !wanted.contains(field) && defaults.contains(field))
        .collect();
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
    THEMES.search_output_schema(&theme_item_schema())
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
    let (page, per_page) = page_and_size(args.page, args.per_page)?;
    let fields = check_fields(args.fields.as_deref(), &extra_names())?;
    let user = non_blank(args.user);
    if matches!(args.browse, Some(Browse::Favorites)) && user.is_none() {
        return Err(ToolFailure::InvalidArguments(
            "browse=favorites needs `user`, the WordPress.org username whose favourites to list."
                .to_owned(),
        ));
    }
    let mut query = Query::action("query_themes");
    query
        .request_opt("search", non_blank(args.search))
        .request_list("tag", &clean_list(args.tag).unwrap_or_default())
        .request_opt("author", non_blank(args.author))
        .request_opt("browse", args.browse.map(Browse::as_str))
        .request_opt("user", user)
        .request("page", &page)
        .request("per_page", &per_page);
    add_fields(&mut query, &fields, SEARCH_DEFAULTS);
    let answer = THEMES.search(api, &query).await?;
    let themes: Vec<Item> = answer
        .get("themes")
        .and_then(Value::as_array)
        .map(|list| list.iter().map(|raw| summarize(raw, &fields)).collect())
        .unwrap_or_default();
    Ok(THEMES.page(&answer, &themes, "Try fewer or broader keywords or tags."))
}

pub(super) fn info_input() -> Value {
    THEMES.lookup_input("twentytwentyfour", &fields_schema("theme"))
}

pub(super) fn info_output() -> Value {
    THEMES.lookup_output_schema(&theme_item_schema(), "Slugs WordPress.org does not know.")
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
    let args: LookupArgs = parse_args(Operation::ThemeInfo, args)?;
    let fields = check_fields(args.fields.as_deref(), &extra_names())?;
    let (slugs, single) = slugs_argument(args.slug, args.slugs, THEMES.search_tool)?;
    let mut query = Directory::lookup_query("theme_information", &slugs, single);
    add_fields(&mut query, &fields, DETAILS_DEFAULTS);
    let answer = api
        .get_json(THEMES.path, query.pairs())
        .await
        .map_err(|e| upstream_failure(api, e, |_| theme_not_found(&slugs.join(", "))))?;
    let (themes, not_found) =
        Directory::found(&answer, &slugs, single, |raw| summarize(raw, &fields));
    if single && themes.is_empty() {
        return Err(ToolFailure::NotFound(theme_not_found(&slugs[0])));
    }
    Ok(THEMES.lookup_output(&slugs, single, &themes, &not_found))
}

/// The fields of a theme worth showing, plus the extras asked for.
pub(super) fn summarize(raw: &Value, extras: &[String]) -> Item {
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
    put_reach(&mut theme, raw);
    put(&mut theme, "requires", text(raw, "requires"));
    put(&mut theme, "requires_php", text(raw, "requires_php"));
    put(&mut theme, "homepage", https_url(raw, "homepage"));
    put(&mut theme, "preview_url", https_url(raw, "preview_url"));
    put(
        &mut theme,
        "screenshot_url",
        https_url(raw, "screenshot_url"),
    );
    put_extras(
        &mut theme,
        raw,
        EXTRA_FIELDS
            .iter()
            .filter(|(name, _, _)| *name != "description" && extras.iter().any(|e| e == name))
            .map(|(name, _, key)| (*name, *key)),
        &["download_link", "reviews_url", "theme_url"],
        true,
    );
    theme
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
    input_schema: tags_input_schema,
    output_schema: Some(tags_output),
    run: |call| {
        Box::pin(async move {
            THEMES
                .tags(call.api, Operation::ThemeTags, call.args)
                .await
                .map(ToolAnswer::from)
        })
    },
};

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
        add_fields(&mut query, &["versions".to_owned()], DETAILS_DEFAULTS);
        let has = |k: &str, v: &str| query.pairs().iter().any(|(a, b)| a == k && b == v);
        assert!(has("request[fields][versions]", "true"));
        assert!(has("request[fields][sections]", "false"));
        assert!(has("request[fields][downloadlink]", "false"));
        assert!(has("request[fields][description]", "true"));
        assert!(!has("request[fields][description]", "false"));
        // What the action sends by itself is not asked again.
        assert!(!has("request[fields][rating]", "true"));
        assert!(!has("request[fields][last_updated]", "true"));
    }

    #[test]
    fn a_search_sends_only_what_differs_from_query_themes_defaults() {
        let mut query = Query::action("query_themes");
        add_fields(&mut query, &[], SEARCH_DEFAULTS);
        let fields: Vec<(&str, &str)> = query
            .pairs()
            .iter()
            .filter(|(name, _)| name.starts_with("request[fields]"))
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("request[fields][last_updated]", "true"),
                ("request[fields][active_installs]", "true"),
                ("request[fields][parent]", "false"),
            ]
        );
        let mut query = Query::action("query_themes");
        add_fields(
            &mut query,
            &["tags".to_owned(), "parent".to_owned()],
            SEARCH_DEFAULTS,
        );
        let has = |k: &str| query.pairs().iter().any(|(a, _)| a == k);
        assert!(has("request[fields][tags]"));
        assert!(!has("request[fields][parent]"), "on by default, and asked");
    }
}
