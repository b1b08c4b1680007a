//! The other WordPress.org tools: core releases, translations and events.

use super::client::WordPressApi;
use super::support::{
    Query, check_range, check_slug, check_version, float, https_url, non_blank, numbered_lines,
    parse_args, put, text, upstream_failure,
};
use crate::catalog::{Operation, OperationSpec, ToolAnswer, ToolFailure, ToolOutput};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::cmp::Ordering;
use std::fmt::Write as _;

const VERSION_CHECK_PATH: &str = "/core/version-check/1.7/";
const STABLE_CHECK_PATH: &str = "/core/stable-check/1.0/";
const EVENTS_PATH: &str = "/events/1.0/";

// ----- core versions -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CoreArgs {
    version: Option<String>,
}

pub(super) fn core_input() -> Value {
    json!({
        "type": "object",
        "properties": {
            "version": {
                "type": "string", "pattern": "^[0-9]+(\\.[0-9]+){0,2}$",
                "description": "A WordPress version to check, e.g. \"6.4.2\": is it the latest, outdated but secure, or insecure?"
            }
        },
        "additionalProperties": false
    })
}

pub(super) fn core_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "latest": {"type": "string", "description": "The latest WordPress version."},
            "offers": {
                "type": "array",
                "description": "Current update offers from WordPress.org's version check.",
                "items": {
                    "type": "object",
                    "properties": {
                        "version": {"type": "string"},
                        "response": {"type": "string", "description": "upgrade, latest or autoupdate."},
                        "download": {"type": "string", "description": "Zip of the release."},
                        "locale": {"type": "string"},
                        "php_version": {"type": "string", "description": "Minimum PHP."},
                        "mysql_version": {"type": "string", "description": "Minimum MySQL."}
                    },
                    "required": ["version"]
                }
            },
            "secure_versions": {
                "type": "array", "items": {"type": "string"},
                "description": "Versions not known to be insecure (the latest of each maintained branch), newest first."
            },
            "insecure_count": {"type": "integer", "minimum": 0, "description": "How many released versions are insecure."},
            "checked": {
                "type": "object",
                "description": "Only when `version` was given.",
                "properties": {
                    "version": {"type": "string"},
                    "status": {"type": "string", "enum": ["latest", "outdated", "insecure", "unknown"]},
                    "secure": {"type": ["boolean", "null"], "description": "null when WordPress.org does not list the version."}
                },
                "required": ["version", "status", "secure"]
            }
        },
        "required": ["latest", "offers", "secure_versions", "insecure_count"]
    })
}

/// Compares dotted versions numerically (`6.10` > `6.9`; `6.4` == `6.4.0`).
fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |v: &str| -> Vec<u64> {
        let mut parts: Vec<u64> = v.split('.').map(|p| p.parse().unwrap_or(0)).collect();
        while parts.last() == Some(&0) && parts.len() > 1 {
            parts.pop();
        }
        parts
    };
    parts(a).cmp(&parts(b))
}

/// `wporg.core_versions`: declared here, listed in [`crate::catalog::Operation::spec`].
pub(crate) static CORE_VERSIONS: OperationSpec = OperationSpec {
    key: "wporg.core_versions",
    default_name: "wporg_core_versions",
    title: "WordPress releases and security status",
    description: "WordPress core releases: the latest version with its download link and the \
         current update offers, and which versions are still secure. Pass `version` \
         (e.g. \"6.4.2\") to learn whether that version is the latest, outdated but \
         secure, or insecure and must be updated.",
    input_schema: core_input,
    output_schema: Some(core_output),
    run: |call| {
        Box::pin(async move {
            core_versions(call.api, call.args)
                .await
                .map(ToolAnswer::from)
        })
    },
};

pub(super) async fn core_versions(
    api: &dyn WordPressApi,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolFailure> {
    let args: CoreArgs = parse_args(Operation::CoreVersions, args)?;
    let version = non_blank(args.version);
    if let Some(version) = &version {
        check_version("version", version)?;
    }
    let no_query: [(String, String); 0] = [];
    let (offers, stable) = futures::future::join(
        api.get_json(VERSION_CHECK_PATH, &no_query),
        api.get_json(STABLE_CHECK_PATH, &no_query),
    )
    .await;
    let not_found = |m: &str| format!("WordPress.org has no release data right now ({m}).");
    let offers = offers.map_err(|e| upstream_failure(api, e, not_found))?;
    let stable = stable.map_err(|e| upstream_failure(api, e, not_found))?;

    let offers: Vec<Map<String, Value>> = offers
        .get("offers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|offer| {
                    let mut out = Map::new();
                    put(&mut out, "version", Some(text(offer, "version")?));
                    put(&mut out, "response", text(offer, "response"));
                    put(&mut out, "download", https_url(offer, "download"));
                    put(&mut out, "locale", text(offer, "locale"));
                    put(&mut out, "php_version", text(offer, "php_version"));
                    put(&mut out, "mysql_version", text(offer, "mysql_version"));
                    Some(out)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut statuses: Vec<(String, String)> = stable
        .as_object()
        .map(|map| {
            map.iter()
                .filter_map(|(v, s)| Some((v.clone(), s.as_str()?.to_ascii_lowercase())))
                .collect()
        })
        .unwrap_or_default();
    statuses.sort_by(|a, b| compare_versions(&b.0, &a.0));
    let latest = statuses
        .iter()
        .find(|(_, s)| s == "latest")
        .map(|(v, _)| v.clone())
        .or_else(|| {
            offers
                .first()
                .and_then(|o| o.get("version")?.as_str().map(str::to_owned))
        })
        .or_else(|| statuses.first().map(|(v, _)| v.clone()))
        .ok_or_else(|| {
            ToolFailure::Upstream(super::client::UpstreamError::InvalidJson(
                "no versions in the version check".to_owned(),
            ))
        })?;
    let secure: Vec<&str> = statuses
        .iter()
        .filter(|(_, s)| s != "insecure")
        .map(|(v, _)| v.as_str())
        .collect();
    let insecure_count = statuses.iter().filter(|(_, s)| s == "insecure").count();

    let mut structured = json!({
        "latest": latest,
        "offers": offers,
        "secure_versions": secure,
        "insecure_count": insecure_count,
    });
    let mut text = format!("The latest WordPress version is {latest}.");
    if let Some(version) = version {
        let status = statuses
            .iter()
            .find(|(v, _)| compare_versions(v, &version) == Ordering::Equal)
            .map_or("unknown", |(_, s)| match s.as_str() {
                "latest" => "latest",
                "outdated" => "outdated",
                "insecure" => "insecure",
                _ => "unknown",
            });
        let secure = match status {
            "latest" | "outdated" => Some(true),
            "insecure" => Some(false),
            _ => None,
        };
        let verdict = match status {
            "latest" => format!(" WordPress {version} is the latest version and secure."),
            "outdated" => format!(
                " WordPress {version} is outdated but has no known vulnerabilities; updating to \
                 {latest} is recommended."
            ),
            "insecure" => format!(
                " WordPress {version} is INSECURE (it has known vulnerabilities): update to \
                 {latest}."
            ),
            _ => format!(
                " WordPress.org does not list version {version}; check the number (e.g. \"6.4.2\")."
            ),
        };
        text.push_str(&verdict);
        if let Value::Object(map) = &mut structured {
            map.insert(
                "checked".to_owned(),
                json!({"version": version, "status": status, "secure": secure}),
            );
        }
    }
    let _ = write!(
        text,
        " Secure releases: {}. {insecure_count} older releases are insecure.",
        secure
            .iter()
            .take(12)
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ToolOutput { text, structured })
}

// ----- translations -----

#[derive(Debug, Deserialize, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Project {
    #[default]
    Core,
    Plugins,
    Themes,
}

impl Project {
    fn as_str(self) -> &'static str {
        match self {
            Self::Core => "core",
            Self::Plugins => "plugins",
            Self::Themes => "themes",
        }
    }

    fn singular(self) -> &'static str {
        match self {
            Self::Core => "core",
            Self::Plugins => "plugin",
            Self::Themes => "theme",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TranslationsArgs {
    #[serde(rename = "type", default)]
    project: Project,
    slug: Option<String>,
    version: Option<String>,
    language: Option<String>,
}

pub(super) fn translations_input() -> Value {
    json!({
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["core", "plugins", "themes"], "default": "core", "description": "Whose translations: WordPress core, a plugin or a theme."},
            "slug": {"type": "string", "pattern": "^[a-z0-9_-]+$", "description": "Plugin or theme slug; required with type plugins or themes."},
            "version": {"type": "string", "maxLength": 20, "description": "Version to get language packs for; default: current."},
            "language": {"type": "string", "maxLength": 40, "description": "Only this locale (\"pt_BR\"), language (\"de\" for all German variants) or English name (\"French\")."}
        },
        "additionalProperties": false
    })
}

pub(super) fn translations_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["core", "plugins", "themes"]},
            "slug": {"type": "string"},
            "count": {"type": "integer", "minimum": 0},
            "translations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "language": {"type": "string", "description": "Locale code, e.g. de_DE."},
                        "english_name": {"type": "string"},
                        "native_name": {"type": "string"},
                        "version": {"type": "string", "description": "Version the pack is for."},
                        "updated": {"type": "string"},
                        "package": {"type": "string", "description": "Zip of the language pack."}
                    },
                    "required": ["language"]
                }
            }
        },
        "required": ["type", "count", "translations"]
    })
}

fn language_matches(item: &Map<String, Value>, wanted: &str) -> bool {
    let wanted = wanted.to_ascii_lowercase().replace('-', "_");
    let field = |k: &str| {
        item.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    let code = field("language");
    code == wanted
        || code.starts_with(&format!("{wanted}_"))
        || field("english_name") == wanted
        || field("english_name").starts_with(&format!("{wanted} ("))
}

/// `wporg.translations`: declared here, listed in [`crate::catalog::Operation::spec`].
pub(crate) static TRANSLATIONS: OperationSpec = OperationSpec {
    key: "wporg.translations",
    default_name: "wporg_translations",
    title: "WordPress.org translations",
    description: "The language packs available on WordPress.org for WordPress core (`type`: \
         core, the default), a plugin or a theme (`type`: plugins or themes, with \
         `slug`). Each has the locale code, English and native names, translated \
         version, update time and the package download URL. Narrow with `language` \
         (e.g. \"de\" or \"pt_BR\") and `version`.",
    input_schema: translations_input,
    output_schema: Some(translations_output),
    run: |call| {
        Box::pin(async move {
            translations(call.api, call.args)
                .await
                .map(ToolAnswer::from)
        })
    },
};

pub(super) async fn translations(
    api: &dyn WordPressApi,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolFailure> {
    let args: TranslationsArgs = parse_args(Operation::Translations, args)?;
    let slug = non_blank(args.slug);
    let search_tool = match args.project {
        Project::Themes => "wporg_query_themes",
        _ => "wporg_query_plugins",
    };
    match (args.project, &slug) {
        (Project::Core, Some(_)) => {
            return Err(ToolFailure::InvalidArguments(
                "`slug` is for type plugins or themes; leave it out for core.".to_owned(),
            ));
        }
        (Project::Plugins | Project::Themes, None) => {
            return Err(ToolFailure::InvalidArguments(format!(
                "`slug` is required with type {}; find it with {search_tool}.",
                args.project.as_str()
            )));
        }
        (_, Some(slug)) => check_slug(slug, search_tool)?,
        _ => {}
    }
    let version = non_blank(args.version);
    if let Some(version) = &version
        && (version.len() > 20
            || !version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
    {
        return Err(ToolFailure::InvalidArguments(format!(
            "`version` must look like \"6.4.2\" or \"5.3\", got {version:?}."
        )));
    }
    let path = format!("/translations/{}/1.0/", args.project.as_str());
    let mut query = Query::default();
    query.plain_opt("slug", slug.as_deref());
    query.plain_opt("version", version.as_deref());
    let what = match &slug {
        Some(slug) => format!("{} \"{slug}\"", args.project.singular()),
        None => "WordPress core".to_owned(),
    };
    let answer = api.get_json(&path, query.pairs()).await.map_err(|e| {
        upstream_failure(api, e, |_| {
            format!(
                "WordPress.org has no translations for {what}. Check the slug with {search_tool}."
            )
        })
    })?;
    let mut items: Vec<Map<String, Value>> = answer
        .get("translations")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|raw| {
                    let mut item = Map::new();
                    put(&mut item, "language", Some(text(raw, "language")?));
                    put(&mut item, "english_name", text(raw, "english_name"));
                    put(&mut item, "native_name", text(raw, "native_name"));
                    put(&mut item, "version", text(raw, "version"));
                    put(&mut item, "updated", text(raw, "updated"));
                    put(&mut item, "package", https_url(raw, "package"));
                    Some(item)
                })
                .collect()
        })
        .unwrap_or_default();
    let language = non_blank(args.language);
    if let Some(wanted) = &language {
        items.retain(|item| language_matches(item, wanted));
    }
    let text = if items.is_empty() {
        match &language {
            Some(wanted) => format!(
                "No {wanted} translation found for {what}. Leave out `language` to see all \
                 available languages."
            ),
            None => format!(
                "No translations found for {what}. Check the slug with {search_tool}, or try \
                 without `version`."
            ),
        }
    } else {
        let lines: Vec<String> = items
            .iter()
            .map(|item| {
                let get = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default();
                format!(
                    "{} ({}, {}) — version {}, updated {}",
                    get("english_name"),
                    get("language"),
                    get("native_name"),
                    get("version"),
                    get("updated")
                )
            })
            .collect();
        format!(
            "{} language packs for {what}:{}",
            items.len(),
            numbered_lines(&lines, 25)
        )
    };
    let mut structured = json!({
        "type": args.project.as_str(),
        "count": items.len(),
        "translations": items,
    });
    if let (Value::Object(map), Some(slug)) = (&mut structured, slug) {
        map.insert("slug".to_owned(), Value::String(slug));
    }
    Ok(ToolOutput { text, structured })
}

// ----- events -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsArgs {
    location: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    country: Option<String>,
    locale: Option<String>,
    number: Option<u32>,
}

pub(super) fn events_input() -> Value {
    json!({
        "type": "object",
        "properties": {
            "location": {"type": "string", "maxLength": 100, "description": "A city or place name, e.g. \"Berlin\" or \"Porto, Portugal\"."},
            "latitude": {"type": "number", "minimum": -90, "maximum": 90, "description": "With `longitude`, instead of `location`."},
            "longitude": {"type": "number", "minimum": -180, "maximum": 180, "description": "With `latitude`, instead of `location`."},
            "country": {"type": "string", "pattern": "^[A-Za-z]{2}$", "description": "Two-letter country code, e.g. \"DE\"."},
            "locale": {"type": "string", "pattern": "^[A-Za-z]{2,3}(_[A-Za-z0-9]+)*$", "description": "Locale that helps place names, e.g. \"de_DE\"."},
            "number": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10, "description": "Most events to return."}
        },
        "additionalProperties": false
    })
}

pub(super) fn events_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "location": {
                "type": "object",
                "description": "The place WordPress.org searched around.",
                "properties": {
                    "description": {"type": "string"},
                    "country": {"type": "string"},
                    "latitude": {"type": "number"},
                    "longitude": {"type": "number"}
                }
            },
            "events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string", "description": "wordcamp or meetup."},
                        "title": {"type": "string"},
                        "url": {"type": "string"},
                        "meetup": {"type": "string", "description": "The meetup group, for meetups."},
                        "date": {"type": "string", "description": "Start, local time (YYYY-MM-DD HH:MM:SS)."},
                        "end_date": {"type": "string"},
                        "location": {"type": "string", "description": "Venue or city."},
                        "country": {"type": "string"},
                        "latitude": {"type": "number"},
                        "longitude": {"type": "number"}
                    },
                    "required": ["title"]
                }
            }
        },
        "required": ["location", "events"]
    })
}

/// `wporg.events`: declared here, listed in [`crate::catalog::Operation::spec`].
pub(crate) static EVENTS: OperationSpec = OperationSpec {
    key: "wporg.events",
    default_name: "wporg_events",
    title: "WordPress events near a place",
    description: "Upcoming WordPress events (WordCamps and meetups) near a place, from \
         WordPress.org. Give `location` (a city name, e.g. \"Berlin\"), or `latitude` and \
         `longitude`, or a two-letter `country` code. Returns the resolved place and \
         the events with title, type, date, venue and URL. `number` limits the list \
         (default 10).",
    input_schema: events_input,
    output_schema: Some(events_output),
    run: |call| Box::pin(async move { events(call.api, call.args).await.map(ToolAnswer::from) }),
};

pub(super) async fn events(
    api: &dyn WordPressApi,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolFailure> {
    let args: EventsArgs = parse_args(Operation::Events, args)?;
    check_range("number", args.number, 1, 50)?;
    let location = non_blank(args.location);
    let country = non_blank(args.country);
    let locale = non_blank(args.locale);
    let coordinates = match (args.latitude, args.longitude) {
        (Some(lat), Some(lon)) => {
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(ToolFailure::InvalidArguments(
                    "`latitude` must be within -90..90 and `longitude` within -180..180."
                        .to_owned(),
                ));
            }
            Some((lat, lon))
        }
        (None, None) => None,
        _ => {
            return Err(ToolFailure::InvalidArguments(
                "give both `latitude` and `longitude`, or use `location`.".to_owned(),
            ));
        }
    };
    if location.is_none() && coordinates.is_none() && country.is_none() {
        return Err(ToolFailure::InvalidArguments(
            "say where: give `location` (a city), `latitude` and `longitude`, or `country`."
                .to_owned(),
        ));
    }
    if let Some(country) = &country
        && (country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return Err(ToolFailure::InvalidArguments(format!(
            "`country` must be a two-letter code such as \"DE\", got {country:?}."
        )));
    }
    if let Some(location) = &location
        && location.chars().count() > 100
    {
        return Err(ToolFailure::InvalidArguments(
            "`location` must be at most 100 characters.".to_owned(),
        ));
    }
    let number = args.number.unwrap_or(10);
    let place = location
        .clone()
        .or_else(|| coordinates.map(|(lat, lon)| format!("{lat}, {lon}")))
        .or_else(|| country.clone())
        .unwrap_or_default();
    let mut query = Query::default();
    query
        .plain_opt("location", location.as_deref())
        .plain_opt("latitude", coordinates.map(|c| c.0))
        .plain_opt("longitude", coordinates.map(|c| c.1))
        .plain_opt("country", country.as_deref())
        .plain_opt("locale", locale.as_deref())
        .plain("number", &number);
    let unknown_place = |place: &str| {
        format!(
            "WordPress.org could not find a place called \"{place}\". Try a larger nearby city, \
             add the country (\"Porto, Portugal\"), or give latitude and longitude."
        )
    };
    let answer = api
        .get_json(EVENTS_PATH, query.pairs())
        .await
        .map_err(|e| upstream_failure(api, e, |_| unknown_place(&place)))?;
    let raw_location = answer
        .get("location")
        .and_then(Value::as_object)
        .filter(|map| !map.is_empty());
    let Some(raw_location) = raw_location else {
        return Err(ToolFailure::NotFound(unknown_place(&place)));
    };
    let raw_location = Value::Object(raw_location.clone());
    let mut resolved = Map::new();
    put(
        &mut resolved,
        "description",
        text(&raw_location, "description").or_else(|| location.clone()),
    );
    put(&mut resolved, "country", text(&raw_location, "country"));
    put(&mut resolved, "latitude", float(&raw_location, "latitude"));
    put(
        &mut resolved,
        "longitude",
        float(&raw_location, "longitude"),
    );
    let events: Vec<Map<String, Value>> = answer
        .get("events")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|raw| {
                    let mut event = Map::new();
                    put(&mut event, "type", text(raw, "type"));
                    put(&mut event, "title", Some(text(raw, "title")?));
                    put(&mut event, "url", https_url(raw, "url"));
                    put(&mut event, "meetup", text(raw, "meetup"));
                    put(&mut event, "date", text(raw, "date"));
                    put(&mut event, "end_date", text(raw, "end_date"));
                    if let Some(venue) = raw.get("location") {
                        put(&mut event, "location", text(venue, "location"));
                        put(&mut event, "country", text(venue, "country"));
                        put(&mut event, "latitude", float(venue, "latitude"));
                        put(&mut event, "longitude", float(venue, "longitude"));
                    }
                    Some(event)
                })
                .take(number as usize)
                .collect()
        })
        .unwrap_or_default();
    let near = resolved
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or(&place)
        .to_owned();
    let text = if events.is_empty() {
        format!(
            "No upcoming WordPress events found near {near}. Try a larger city nearby or search \
             by country."
        )
    } else {
        let lines: Vec<String> = events
            .iter()
            .map(|event| {
                let get = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or_default();
                let mut line = format!("{} ({}) — {}", get("title"), get("type"), get("date"));
                if !get("end_date").is_empty() && get("end_date") != get("date") {
                    let _ = write!(line, " to {}", get("end_date"));
                }
                if !get("location").is_empty() {
                    let _ = write!(line, ", {}", get("location"));
                }
                if !get("url").is_empty() {
                    let _ = write!(line, " — {}", get("url"));
                }
                line
            })
            .collect();
        format!(
            "{} upcoming WordPress events near {near}:{}",
            events.len(),
            numbered_lines(&lines, 50)
        )
    };
    Ok(ToolOutput {
        text,
        structured: json!({"location": resolved, "events": events}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("6.10", "6.9"), Ordering::Greater);
        assert_eq!(compare_versions("6.4", "6.4.0"), Ordering::Equal);
        assert_eq!(compare_versions("6.4.1", "6.4"), Ordering::Greater);
        assert_eq!(compare_versions("5.9.9", "6.0"), Ordering::Less);
    }

    #[test]
    fn languages_match_by_code_prefix_or_name() {
        let item = json!({"language": "de_CH", "english_name": "German (Switzerland)"});
        let item = item.as_object().cloned().unwrap_or_default();
        assert!(language_matches(&item, "de"));
        assert!(language_matches(&item, "de_CH"));
        assert!(language_matches(&item, "de-ch"));
        assert!(language_matches(&item, "German"));
        assert!(!language_matches(&item, "d"));
        assert!(!language_matches(&item, "fr"));
    }
}
