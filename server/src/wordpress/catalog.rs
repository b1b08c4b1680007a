//! The catalogue of WordPress.org tools: names, descriptions, schemas, and dispatch.

use super::client::{UpstreamError, WordPressApi};
use super::{plugins, site, themes};
use serde_json::{Map, Value};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// One WordPress.org tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Search the theme directory.
    QueryThemes,
    /// Details of one or more themes.
    ThemeInfo,
    /// The most used theme tags.
    ThemeTags,
    /// The theme feature filters (layout, features, subject).
    ThemeFeatures,
    /// Search the plugin directory.
    QueryPlugins,
    /// Details of one or more plugins.
    PluginInfo,
    /// The most used plugin tags.
    PluginTags,
    /// Daily download counts of a plugin.
    PluginDownloads,
    /// WordPress releases: latest, offers, and which versions are secure.
    CoreVersions,
    /// Language packs of core, a plugin or a theme.
    Translations,
    /// Upcoming WordCamps and meetups near a place.
    Events,
    /// Block patterns from the pattern directory.
    Patterns,
}

/// A tool's successful result.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolOutput {
    /// A short human-readable summary.
    pub text: String,
    /// The structured result: always a JSON object conforming to the output schema.
    pub structured: Value,
}

/// Why a tool call failed. The Display text is shown to the model: it says what went wrong
/// and what to try instead.
#[derive(Debug, thiserror::Error)]
pub enum ToolFailure {
    /// The arguments do not fit the input schema (or each other).
    #[error("Invalid arguments: {0}")]
    InvalidArguments(String),
    /// The theme, plugin or place does not exist; the message names it and what to try.
    #[error("{0}")]
    NotFound(String),
    /// WordPress.org refused the request as malformed, with its message.
    #[error(
        "WordPress.org rejected the request ({0}). Check the arguments against the tool's input \
         schema and try again."
    )]
    Rejected(String),
    /// WordPress.org did not answer in time.
    #[error("{}", timeout_message(*.after))]
    Timeout {
        /// The time limit of one attempt, when known.
        after: Option<Duration>,
    },
    /// Any other upstream failure (5xx, unreadable answer, network).
    #[error("{}", upstream_message(.0))]
    Upstream(UpstreamError),
}

impl ToolFailure {
    /// A short metric label: `invalid_arguments`, `not_found`, `upstream_error` or `timeout`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::InvalidArguments(_) | Self::Rejected(_) => "invalid_arguments",
            Self::NotFound(_) => "not_found",
            Self::Timeout { .. } | Self::Upstream(UpstreamError::Timeout) => "timeout",
            Self::Upstream(_) => "upstream_error",
        }
    }
}

fn timeout_message(after: Option<Duration>) -> String {
    match after {
        Some(limit) => format!(
            "WordPress.org did not answer within {} s; try again in a moment.",
            seconds(limit)
        ),
        None => "WordPress.org did not answer in time; try again in a moment.".to_owned(),
    }
}

fn seconds(limit: Duration) -> String {
    let secs = limit.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0}")
    } else {
        format!("{secs:.1}")
    }
}

fn upstream_message(error: &UpstreamError) -> String {
    match error {
        UpstreamError::NotFound(message) => {
            format!("WordPress.org has no such item ({message}). Check the name or slug.")
        }
        UpstreamError::BadRequest(message) => format!(
            "WordPress.org rejected the request ({message}). Check the arguments and try again."
        ),
        UpstreamError::Status(429) => {
            "WordPress.org is limiting requests right now (HTTP 429); wait a minute and try again."
                .to_owned()
        }
        UpstreamError::Status(status @ 500..=599) => format!(
            "WordPress.org answered with a server error (HTTP {status}); this is usually \
             temporary, so try again in a moment."
        ),
        UpstreamError::Status(status) => format!(
            "WordPress.org answered with an unexpected HTTP status {status}; try again later."
        ),
        UpstreamError::Timeout => timeout_message(None),
        UpstreamError::Unreachable(_) => {
            "WordPress.org could not be reached; try again in a moment.".to_owned()
        }
        UpstreamError::InvalidJson(_) => {
            "WordPress.org sent an answer that could not be read (not valid JSON); try again in a \
             moment."
                .to_owned()
        }
        UpstreamError::TooLarge(_) => {
            "WordPress.org sent a larger answer than Tollgate accepts; narrow the request (fewer \
             results per page, fewer extra fields)."
                .to_owned()
        }
        UpstreamError::InvalidRequest(_) => {
            "The request to WordPress.org could not be built; try different arguments.".to_owned()
        }
    }
}

/// A JSON Schema object, shared.
type Schema = Arc<Map<String, Value>>;

/// The schemas of every operation, built once, in the order of [`Operation::ALL`].
static SCHEMAS: LazyLock<Vec<(Schema, Schema)>> = LazyLock::new(|| {
    Operation::ALL
        .iter()
        .map(|op| {
            let (input, output) = op.build_schemas();
            (Arc::new(object(input)), Arc::new(object(output)))
        })
        .collect()
});

/// The map of a schema object (schemas are written as objects; anything else is a bug that
/// yields an empty object schema rather than a panic).
fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => {
            let mut map = Map::new();
            map.insert("type".to_owned(), Value::String("object".to_owned()));
            map
        }
    }
}

impl Operation {
    /// Every operation, in catalogue order.
    pub const ALL: [Operation; 12] = [
        Self::QueryThemes,
        Self::ThemeInfo,
        Self::ThemeTags,
        Self::ThemeFeatures,
        Self::QueryPlugins,
        Self::PluginInfo,
        Self::PluginTags,
        Self::PluginDownloads,
        Self::CoreVersions,
        Self::Translations,
        Self::Events,
        Self::Patterns,
    ];

    /// The stable key of the operation, e.g. `wporg.query_themes`.
    pub fn key(self) -> &'static str {
        match self {
            Self::QueryThemes => "wporg.query_themes",
            Self::ThemeInfo => "wporg.theme_info",
            Self::ThemeTags => "wporg.theme_tags",
            Self::ThemeFeatures => "wporg.theme_features",
            Self::QueryPlugins => "wporg.query_plugins",
            Self::PluginInfo => "wporg.plugin_info",
            Self::PluginTags => "wporg.plugin_tags",
            Self::PluginDownloads => "wporg.plugin_downloads",
            Self::CoreVersions => "wporg.core_versions",
            Self::Translations => "wporg.translations",
            Self::Events => "wporg.events",
            Self::Patterns => "wporg.patterns",
        }
    }

    /// The operation with this [`key`](Self::key).
    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.key() == key)
    }

    /// The tool name used unless a tenant renames it, e.g. `wporg_query_themes`.
    pub fn default_name(self) -> &'static str {
        match self {
            Self::QueryThemes => "wporg_query_themes",
            Self::ThemeInfo => "wporg_theme_info",
            Self::ThemeTags => "wporg_theme_tags",
            Self::ThemeFeatures => "wporg_theme_features",
            Self::QueryPlugins => "wporg_query_plugins",
            Self::PluginInfo => "wporg_plugin_info",
            Self::PluginTags => "wporg_plugin_tags",
            Self::PluginDownloads => "wporg_plugin_downloads",
            Self::CoreVersions => "wporg_core_versions",
            Self::Translations => "wporg_translations",
            Self::Events => "wporg_events",
            Self::Patterns => "wporg_patterns",
        }
    }

    /// A human title.
    pub fn title(self) -> &'static str {
        match self {
            Self::QueryThemes => "Search WordPress.org themes",
            Self::ThemeInfo => "WordPress.org theme details",
            Self::ThemeTags => "Popular WordPress.org theme tags",
            Self::ThemeFeatures => "WordPress.org theme feature filters",
            Self::QueryPlugins => "Search WordPress.org plugins",
            Self::PluginInfo => "WordPress.org plugin details",
            Self::PluginTags => "Popular WordPress.org plugin tags",
            Self::PluginDownloads => "WordPress.org plugin daily downloads",
            Self::CoreVersions => "WordPress releases and security status",
            Self::Translations => "WordPress.org translations",
            Self::Events => "WordPress events near a place",
            Self::Patterns => "WordPress.org block patterns",
        }
    }

    /// What the tool does, for a model: when to use it and its main arguments.
    pub fn description(self) -> &'static str {
        match self {
            Self::QueryThemes => {
                "Search the free themes in the WordPress.org theme directory. Use it to find \
                 themes by keyword (`search`), feature tags (`tag`, all must match; see \
                 wporg_theme_features for valid tags), author username (`author`) or a listing \
                 (`browse`: popular, new, updated, featured). Returns one page of results \
                 (`page`, `per_page` up to 100, default 10) with name, slug, version, author, \
                 rating, active installs and a short description. Heavy data (sections, \
                 versions, screenshots, …) is left out unless named in `fields`. Use \
                 wporg_theme_info with a slug for full details."
            }
            Self::ThemeInfo => {
                "Details of WordPress.org themes by slug: version, author, rating, active \
                 installs, last update, required WordPress and PHP versions, links and a short \
                 description. Pass `slug` for one theme or `slugs` for up to 100 at once. Add \
                 `fields` (e.g. [\"sections\", \"versions\", \"tags\"]) for the long description, \
                 changelog-style sections, download links per version and more."
            }
            Self::ThemeTags => {
                "The most used tags of the WordPress.org theme directory, with how many themes \
                 carry each. Use it to pick `tag` values for wporg_query_themes. `number` limits \
                 the list (default 30)."
            }
            Self::ThemeFeatures => {
                "The feature filters of the WordPress.org theme directory, grouped as Layout, \
                 Features and Subject (e.g. full-site-editing, accessibility-ready, blog). These \
                 are the valid `tag` values for wporg_query_themes. Optional `wp_version` gives \
                 the list for an older WordPress."
            }
            Self::QueryPlugins => {
                "Search the free plugins in the WordPress.org plugin directory by keyword \
                 (`search`, also `slug:<slug>` or `block:<block-name>`), `tag` or author \
                 username (`author`), or list one of the directory's `browse` views (popular, \
                 new, updated, featured, beta, blocks, adopt-me; `browse` cannot be combined \
                 with search, tag or author). Returns one page (`page`, `per_page` up to 100, \
                 default 10) with name, slug, version, author, rating, active installs, \
                 compatibility and a short description. Use wporg_plugin_info for full details."
            }
            Self::PluginInfo => {
                "Details of WordPress.org plugins by slug (e.g. \"akismet\"): version, author, \
                 rating, active installs, last update, tested-up-to and required WordPress and \
                 PHP versions, and a short description. Pass `slug` for one plugin or `slugs` \
                 for up to 100. Add `fields` (e.g. [\"sections\", \"versions\", \"banners\"]) \
                 for the readme sections (description, installation, FAQ, changelog), download \
                 links per version, images and more."
            }
            Self::PluginTags => {
                "The most used tags of the WordPress.org plugin directory, with how many plugins \
                 carry each. Use it to pick a `tag` for wporg_query_plugins. `number` limits the \
                 list (default 30)."
            }
            Self::PluginDownloads => {
                "Daily download counts of a WordPress.org plugin over the last `limit` days \
                 (default 30, up to 730), oldest first, with the total. Use it to judge a \
                 plugin's momentum. `slug` is the plugin slug, e.g. \"woocommerce\"."
            }
            Self::CoreVersions => {
                "WordPress core releases: the latest version with its download link and the \
                 current update offers, and which versions are still secure. Pass `version` \
                 (e.g. \"6.4.2\") to learn whether that version is the latest, outdated but \
                 secure, or insecure and must be updated."
            }
            Self::Translations => {
                "The language packs available on WordPress.org for WordPress core (`type`: \
                 core, the default), a plugin or a theme (`type`: plugins or themes, with \
                 `slug`). Each has the locale code, English and native names, translated \
                 version, update time and the package download URL. Narrow with `language` \
                 (e.g. \"de\" or \"pt_BR\") and `version`."
            }
            Self::Events => {
                "Upcoming WordPress events (WordCamps and meetups) near a place, from \
                 WordPress.org. Give `location` (a city name, e.g. \"Berlin\"), or `latitude` and \
                 `longitude`, or a two-letter `country` code. Returns the resolved place and \
                 the events with title, type, date, venue and URL. `number` limits the list \
                 (default 10)."
            }
            Self::Patterns => {
                "Search the WordPress.org block pattern directory by keyword (`search`) and/or \
                 category slug (`category`, e.g. \"header\", \"footer\", \"gallery\"). Returns \
                 each pattern's id, title, categories, keywords, description and block markup \
                 (cut to 300 characters unless `include_content` is true). `per_page` up to \
                 100, default 10."
            }
        }
    }

    /// The JSON Schema (2020-12) of the tool's arguments; built once and shared.
    pub fn input_schema(self) -> Arc<Map<String, Value>> {
        SCHEMAS
            .get(self as usize)
            .map(|(input, _)| Arc::clone(input))
            .unwrap_or_default()
    }

    /// The JSON Schema of the tool's structured result (root `type: object`); built once.
    pub fn output_schema(self) -> Arc<Map<String, Value>> {
        SCHEMAS
            .get(self as usize)
            .map(|(_, output)| Arc::clone(output))
            .unwrap_or_default()
    }

    fn build_schemas(self) -> (Value, Value) {
        match self {
            Self::QueryThemes => (themes::query_input(), themes::query_output()),
            Self::ThemeInfo => (themes::info_input(), themes::info_output()),
            Self::ThemeTags => (themes::tags_input(), themes::tags_output()),
            Self::ThemeFeatures => (themes::features_input(), themes::features_output()),
            Self::QueryPlugins => (plugins::query_input(), plugins::query_output()),
            Self::PluginInfo => (plugins::info_input(), plugins::info_output()),
            Self::PluginTags => (plugins::tags_input(), plugins::tags_output()),
            Self::PluginDownloads => (plugins::downloads_input(), plugins::downloads_output()),
            Self::CoreVersions => (site::core_input(), site::core_output()),
            Self::Translations => (site::translations_input(), site::translations_output()),
            Self::Events => (site::events_input(), site::events_output()),
            Self::Patterns => (site::patterns_input(), site::patterns_output()),
        }
    }

    /// Runs the tool against WordPress.org.
    pub async fn run(
        self,
        api: &dyn WordPressApi,
        args: &Map<String, Value>,
    ) -> Result<ToolOutput, ToolFailure> {
        match self {
            Self::QueryThemes => themes::query(api, args).await,
            Self::ThemeInfo => themes::info(api, args).await,
            Self::ThemeTags => themes::tags(api, args).await,
            Self::ThemeFeatures => themes::features(api, args).await,
            Self::QueryPlugins => plugins::query(api, args).await,
            Self::PluginInfo => plugins::info(api, args).await,
            Self::PluginTags => plugins::tags(api, args).await,
            Self::PluginDownloads => plugins::downloads(api, args).await,
            Self::CoreVersions => site::core_versions(api, args).await,
            Self::Translations => site::translations(api, args).await,
            Self::Events => site::events(api, args).await,
            Self::Patterns => site::patterns(api, args).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_names_round_trip() {
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.key()), Some(op));
            assert_eq!(op.key().replace('.', "_"), op.default_name());
            assert!(!op.title().is_empty());
            assert!(
                op.description().len() > 80,
                "{op:?} needs a real description"
            );
        }
        assert_eq!(Operation::parse("wporg.nope"), None);
    }

    #[test]
    fn schemas_are_closed_objects_with_described_properties() {
        for op in Operation::ALL {
            let input = op.input_schema();
            assert_eq!(input.get("type"), Some(&Value::from("object")), "{op:?}");
            assert_eq!(
                input.get("additionalProperties"),
                Some(&Value::Bool(false)),
                "{op:?}"
            );
            let properties = input
                .get("properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (name, property) in &properties {
                assert!(
                    property.get("description").is_some(),
                    "{op:?}.{name} lacks a description"
                );
            }
            let output = op.output_schema();
            assert_eq!(output.get("type"), Some(&Value::from("object")), "{op:?}");
            assert!(Arc::ptr_eq(&input, &op.input_schema()), "built once");
        }
    }

    #[test]
    fn failures_say_what_to_do() {
        let timeout = ToolFailure::Timeout {
            after: Some(Duration::from_secs(10)),
        };
        assert_eq!(
            timeout.to_string(),
            "WordPress.org did not answer within 10 s; try again in a moment."
        );
        assert_eq!(timeout.outcome(), "timeout");
        let server = ToolFailure::Upstream(UpstreamError::Status(503));
        assert!(server.to_string().contains("try again"));
        assert_eq!(server.outcome(), "upstream_error");
        assert_eq!(
            ToolFailure::Rejected("x".into()).outcome(),
            "invalid_arguments"
        );
        assert_eq!(ToolFailure::NotFound("x".into()).outcome(), "not_found");
    }
}
