//! A fake api.wordpress.org: a real HTTP server speaking its wire format over a small data set.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use tokio::sync::watch;

/// How a path should misbehave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Answer every request with this HTTP status (and a JSON error body).
    Status(u16),
    /// Answer 200 with a body that is not JSON.
    InvalidJson,
    /// Never answer (until the client gives up or the test ends): for time-outs.
    Hang,
    /// Answer the next request only with this status, then behave normally again.
    FailOnce(u16),
}

/// A running fake WordPress.org. Clones share the server and its records.
#[derive(Clone)]
pub struct FakeWordPress {
    /// `http://127.0.0.1:<port>`, the base URL to configure as the WordPress.org API.
    pub url: String,
    shared: Arc<Shared>,
}

struct Shared {
    records: Mutex<Records>,
    /// How many [`Hold`]s are alive; requests wait while it is above zero.
    holds: watch::Sender<usize>,
    /// How many requests arrived while held, since the first live hold began.
    arrivals: watch::Sender<usize>,
}

#[derive(Default)]
struct Records {
    hits: HashMap<String, usize>,
    total: usize,
    /// The raw query string of the last request per path, decoded when a test asks.
    last_query: HashMap<String, String>,
    saw_authorization: bool,
    failures: HashMap<String, Failure>,
}

impl Shared {
    fn records(&self) -> MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// While alive, requests to the fake wait before answering. Dropping it (or
/// [`release`](Hold::release)) lets them go.
pub struct Hold {
    shared: Arc<Shared>,
}

impl Hold {
    /// Resolves once `n` requests are waiting on this hold (counted since it began).
    pub async fn arrived(&self, n: usize) {
        let mut arrivals = self.shared.arrivals.subscribe();
        let _ = arrivals.wait_for(|count| *count >= n).await;
    }

    /// Lets the waiting requests go.
    pub fn release(self) {}
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.shared
            .holds
            .send_modify(|holds| *holds = holds.saturating_sub(1));
    }
}

impl FakeWordPress {
    /// Starts the fake on `127.0.0.1:0`.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            records: Mutex::new(Records::default()),
            holds: watch::Sender::new(0),
            arrivals: watch::Sender::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the fake WordPress.org binds a port");
        let addr = listener.local_addr().expect("a local address");
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            url: format!("http://{addr}"),
            shared,
        }
    }

    /// How many requests arrived on `path` (e.g. `/themes/info/1.2/`).
    pub fn hits(&self, path: &str) -> usize {
        self.shared
            .records()
            .hits
            .get(path)
            .copied()
            .unwrap_or_default()
    }

    /// How many requests arrived in all.
    pub fn total_hits(&self) -> usize {
        self.shared.records().total
    }

    /// The decoded query pairs of the last request on `path`.
    pub fn last_query(&self, path: &str) -> Option<Vec<(String, String)>> {
        let raw = self.shared.records().last_query.get(path).cloned()?;
        Some(
            url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// Whether any request ever carried an `Authorization` header.
    pub fn saw_authorization_header(&self) -> bool {
        self.shared.records().saw_authorization
    }

    /// Makes `path` misbehave; `None` makes it normal again.
    pub fn fail(&self, path: &str, failure: Option<Failure>) {
        let mut records = self.shared.records();
        match failure {
            Some(failure) => records.failures.insert(path.to_owned(), failure),
            None => records.failures.remove(path),
        };
    }

    /// Holds every request until the returned [`Hold`] is dropped.
    pub fn hold(&self) -> Hold {
        self.shared.holds.send_modify(|holds| {
            if *holds == 0 {
                self.shared.arrivals.send_replace(0);
            }
            *holds += 1;
        });
        Hold {
            shared: Arc::clone(&self.shared),
        }
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let path = uri.path();
    let query = uri.query().unwrap_or_default();
    let pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> =
        url::form_urlencoded::parse(query.as_bytes()).collect();
    let failure = {
        let mut records = shared.records();
        match records.hits.get_mut(path) {
            Some(hits) => *hits += 1,
            None => {
                records.hits.insert(path.to_owned(), 1);
            }
        }
        records.total += 1;
        match records.last_query.get_mut(path) {
            Some(last) => {
                last.clear();
                last.push_str(query);
            }
            None => {
                records.last_query.insert(path.to_owned(), query.to_owned());
            }
        }
        if headers.contains_key(header::AUTHORIZATION) {
            records.saw_authorization = true;
        }
        let failure = records.failures.get(path).copied();
        if let Some(Failure::FailOnce(_)) = failure {
            records.failures.remove(path);
        }
        failure
    };

    let mut holds = shared.holds.subscribe();
    if *holds.borrow_and_update() > 0 {
        shared.arrivals.send_modify(|count| *count += 1);
        let _ = holds.wait_for(|count| *count == 0).await;
    }

    match failure {
        Some(Failure::Status(status) | Failure::FailOnce(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return reply(status, json!({"error": "Simulated failure"}));
        }
        Some(Failure::InvalidJson) => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"info\": {\"page\": 1, <html>Database error",
            )
                .into_response();
        }
        Some(Failure::Hang) => std::future::pending::<()>().await,
        None => {}
    }

    if path == "/themes/info/1.2/" && method != Method::GET {
        let mut response = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "Method not allowed"}),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    let params = Params::parse(&pairs);
    let result = match path {
        "/themes/info/1.2/" => themes(&params),
        "/plugins/info/1.2/" => plugins(&params),
        "/stats/plugin/1.0/downloads.php" => downloads(&params),
        "/core/version-check/1.7/" => Ok(reply(StatusCode::OK, version_check())),
        "/core/stable-check/1.0/" => Ok(reply(StatusCode::OK, stable_check())),
        "/translations/core/1.0/" => translations("core", &params),
        "/translations/plugins/1.0/" => translations("plugins", &params),
        "/translations/themes/1.0/" => translations("themes", &params),
        "/events/1.0/" => events(&params),
        "/patterns/1.0/" => patterns(&params),
        _ => Ok(reply(StatusCode::NOT_FOUND, json!({"error": "Not found"}))),
    };
    result.unwrap_or_else(|message| reply(StatusCode::BAD_REQUEST, json!({ "error": message })))
}

/// The answer to several slugs at once: each slug's object, or `{"error": missing}`.
fn by_slug(slugs: &[String], object: impl Fn(&str) -> Option<Value>, missing: &str) -> Value {
    let map: Map<String, Value> = slugs
        .iter()
        .map(|slug| {
            let value = object(slug).unwrap_or_else(|| json!({"error": missing}));
            (slug.clone(), value)
        })
        .collect();
    Value::Object(map)
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// A 400 with this message.
type Answer = Result<Response, String>;

// ----- request parameters -----

enum Param {
    Scalar(String),
    List(Vec<String>),
    Map(Vec<(String, String)>),
}

/// Query parameters, flat (`search=x`) or nested (`request[search]=x`, `request[tag][]=a`,
/// `request[fields][sections]=true`).
struct Params(HashMap<String, Param>);

impl Params {
    fn parse(pairs: &[(impl AsRef<str>, impl AsRef<str>)]) -> Self {
        let mut params: HashMap<String, Param> = HashMap::new();
        for (key, value) in pairs {
            let (key, value) = (key.as_ref(), value.as_ref());
            let key: Cow<'_, str> = match key.strip_prefix("request[") {
                Some(rest) => Cow::Owned(rest.replacen(']', "", 1)),
                None => Cow::Borrowed(key),
            };
            match key.split_once('[') {
                Some((name, sub)) => {
                    let sub = sub.trim_end_matches(']');
                    if !params.contains_key(name) {
                        let empty = if sub.is_empty() {
                            Param::List(Vec::new())
                        } else {
                            Param::Map(Vec::new())
                        };
                        params.insert(name.to_owned(), empty);
                    }
                    match params.get_mut(name) {
                        Some(Param::List(list)) => list.push(value.to_owned()),
                        Some(Param::Map(map)) => map.push((sub.to_owned(), value.to_owned())),
                        Some(Param::Scalar(_)) | None => {}
                    }
                }
                None => {
                    params.insert(key.into_owned(), Param::Scalar(value.to_owned()));
                }
            }
        }
        Self(params)
    }

    /// A scalar parameter; a list or map where a scalar belongs is bad input.
    fn scalar(&self, name: &str) -> Result<Option<&str>, String> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Param::Scalar(value)) => Ok(Some(value.as_str())),
            Some(_) => Err("Invalid Input".to_owned()),
        }
    }

    fn text(&self, name: &str) -> Result<Option<String>, String> {
        Ok(self
            .scalar(name)?
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty()))
    }

    fn int(&self, name: &str) -> Result<Option<i64>, String> {
        match self.scalar(name)? {
            None => Ok(None),
            Some(value) => value
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("Invalid {name}")),
        }
    }

    /// A list: `x[]=a&x[]=b`, or a comma-separated scalar.
    fn list(&self, name: &str) -> Result<Option<Vec<String>>, String> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Param::Scalar(value)) => Ok(Some(
                value
                    .split(',')
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect(),
            )),
            Some(Param::List(list)) => Ok(Some(list.clone())),
            Some(Param::Map(map)) => Ok(Some(map.iter().map(|(_, v)| v.clone()).collect())),
        }
    }

    fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Whether `field` is on: `request[fields][field]` read as `wp_validate_boolean` reads it
    /// (`false`, `0` and empty are off, anything else on), or in the list form
    /// `request[fields][]=field`, else `default`.
    fn field_on(&self, field: &str, default: bool) -> bool {
        match self.0.get("fields") {
            Some(Param::Map(map)) => map
                .iter()
                .rev()
                .find(|(name, _)| name == field)
                .map_or(default, |(_, value)| {
                    !matches!(value.to_ascii_lowercase().as_str(), "" | "0" | "false")
                }),
            Some(Param::List(list)) => default || list.iter().any(|name| name == field),
            _ => default,
        }
    }
}

/// Page `page` of `items`, with WordPress.org's `info` block.
fn paginate(
    items: Vec<Value>,
    page: Option<i64>,
    per_page: Option<i64>,
    default: i64,
    cap: i64,
) -> (Value, Vec<Value>) {
    let per_page = per_page.filter(|p| *p >= 1).unwrap_or(default).min(cap);
    let page = page.unwrap_or(1).max(1);
    let results = items.len() as i64;
    let pages = ((results + per_page - 1) / per_page).max(1);
    let start = ((page - 1) * per_page).min(results) as usize;
    let end = (start + per_page as usize).min(items.len());
    let slice = items.into_iter().skip(start).take(end - start).collect();
    (
        json!({"page": page, "pages": pages, "results": results}),
        slice,
    )
}

fn contains(haystack: &Value, key: &str, needle: &str) -> bool {
    haystack
        .get(key)
        .and_then(Value::as_str)
        .is_some_and(|v| v.to_lowercase().contains(needle))
}

fn tag_name(slug: &str) -> String {
    slug.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

// ----- themes -----

struct ThemeSeed {
    slug: &'static str,
    name: &'static str,
    version: &'static str,
    author: (&'static str, &'static str),
    rating: u64,
    num_ratings: u64,
    active_installs: u64,
    downloaded: u64,
    last_updated: &'static str,
    created: &'static str,
    requires: &'static str,
    requires_php: &'static str,
    tags: &'static [&'static str],
    description: &'static str,
    featured: bool,
    template: Option<&'static str>,
}

const THEMES: &[ThemeSeed] = &[
    ThemeSeed {
        slug: "twentytwentyfour",
        name: "Twenty Twenty-Four",
        version: "1.2",
        author: ("wordpressdotorg", "WordPress.org"),
        rating: 78,
        num_ratings: 60,
        active_installs: 1_000_000,
        downloaded: 3_500_000,
        last_updated: "2024-07-16",
        created: "2023-11-07 19:45:12",
        requires: "6.4",
        requires_php: "7.0",
        tags: &[
            "one-column",
            "custom-colors",
            "block-patterns",
            "full-site-editing",
            "blog",
            "portfolio",
            "style-variations",
            "wide-blocks",
            "accessibility-ready",
        ],
        description: "Twenty Twenty-Four is designed to be flexible, versatile and applicable to any website. Its collection of templates and patterns tailor to different needs, such as presenting a business, blogging and writing or showcasing work. A multitude of possibilities open up with just a few adjustments to color and typography.",
        featured: true,
        template: None,
    },
    ThemeSeed {
        slug: "twentytwentyfive",
        name: "Twenty Twenty-Five",
        version: "1.0",
        author: ("wordpressdotorg", "WordPress.org"),
        rating: 84,
        num_ratings: 25,
        active_installs: 400_000,
        downloaded: 900_000,
        last_updated: "2024-11-13",
        created: "2024-11-12 18:02:45",
        requires: "6.7",
        requires_php: "7.2",
        tags: &[
            "one-column",
            "custom-colors",
            "block-patterns",
            "full-site-editing",
            "blog",
            "news",
            "photography",
            "style-variations",
            "wide-blocks",
        ],
        description: "Twenty Twenty-Five emphasizes simplicity and adaptability. It offers flexible design options, supported by a variety of patterns for different page types, such as services and landing pages, making it ideal for building personal blogs, professional portfolios, online magazines, or business websites.",
        featured: true,
        template: None,
    },
    ThemeSeed {
        slug: "astra",
        name: "Astra",
        version: "4.8.3",
        author: ("brainstormforce", "Brainstorm Force"),
        rating: 98,
        num_ratings: 5_812,
        active_installs: 1_000_000,
        downloaded: 25_000_000,
        last_updated: "2024-10-01",
        created: "2017-03-22 08:12:31",
        requires: "5.3",
        requires_php: "5.3",
        tags: &[
            "custom-background",
            "custom-colors",
            "custom-logo",
            "custom-menu",
            "e-commerce",
            "blog",
            "grid-layout",
            "two-columns",
            "left-sidebar",
            "right-sidebar",
            "footer-widgets",
            "accessibility-ready",
            "rtl-language-support",
            "translation-ready",
            "threaded-comments",
        ],
        description: "Astra is fast, fully customizable & beautiful WordPress theme suitable for blog, personal portfolio, business website and WooCommerce storefront. It is very lightweight (less than 50KB on frontend) and offers unparalleled speed. Built with SEO in mind, Astra comes with Schema.org code integrated and is Native AMP ready so search engines will love your site.",
        featured: false,
        template: None,
    },
    ThemeSeed {
        slug: "kadence",
        name: "Kadence",
        version: "1.2.9",
        author: ("britner", "Kadence WP"),
        rating: 98,
        num_ratings: 430,
        active_installs: 300_000,
        downloaded: 4_000_000,
        last_updated: "2024-09-24",
        created: "2020-08-31 15:20:11",
        requires: "6.0",
        requires_php: "7.2",
        tags: &[
            "translation-ready",
            "two-columns",
            "right-sidebar",
            "left-sidebar",
            "footer-widgets",
            "blog",
            "custom-logo",
            "custom-background",
            "custom-menu",
            "rtl-language-support",
            "editor-style",
            "threaded-comments",
            "custom-colors",
            "featured-images",
            "wide-blocks",
            "full-width-template",
            "theme-options",
            "e-commerce",
            "accessibility-ready",
        ],
        description: "Kadence Theme is a lightweight yet full featured WordPress theme for creating beautiful fast loading and accessible websites easier than ever. It features an easy to use drag and drop header and footer builder to build any type of header in minutes.",
        featured: false,
        template: None,
    },
    ThemeSeed {
        slug: "generatepress",
        name: "GeneratePress",
        version: "3.5.1",
        author: ("edge22", "Tom"),
        rating: 98,
        num_ratings: 1_515,
        active_installs: 500_000,
        downloaded: 9_000_000,
        last_updated: "2024-08-21",
        created: "2014-07-08 12:00:00",
        requires: "5.2",
        requires_php: "7.0",
        tags: &[
            "two-columns",
            "three-columns",
            "one-column",
            "right-sidebar",
            "left-sidebar",
            "footer-widgets",
            "blog",
            "e-commerce",
            "flexible-header",
            "full-width-template",
            "buddypress",
            "custom-header",
            "custom-background",
            "custom-menu",
            "custom-colors",
            "sticky-post",
            "threaded-comments",
            "translation-ready",
            "rtl-language-support",
            "featured-images",
            "theme-options",
        ],
        description: "GeneratePress is a lightweight WordPress theme built with a focus on speed and usability. Performance is important to us, which is why a fresh GeneratePress install adds less than 10kb (gzipped) to your page size.",
        featured: false,
        template: None,
    },
    ThemeSeed {
        slug: "oceanwp",
        name: "OceanWP",
        version: "4.0.2",
        author: ("oceanwp", "OceanWP"),
        rating: 96,
        num_ratings: 4_700,
        active_installs: 600_000,
        downloaded: 12_000_000,
        last_updated: "2024-10-08",
        created: "2016-12-18 11:01:01",
        requires: "5.6",
        requires_php: "7.4",
        tags: &[
            "two-columns",
            "right-sidebar",
            "footer-widgets",
            "blog",
            "news",
            "custom-background",
            "custom-menu",
            "post-formats",
            "rtl-language-support",
            "sticky-post",
            "editor-style",
            "threaded-comments",
            "translation-ready",
            "buddypress",
            "custom-colors",
            "featured-images",
            "full-width-template",
            "theme-options",
            "e-commerce",
            "block-styles",
            "wide-blocks",
            "accessibility-ready",
        ],
        description: "OceanWP is the perfect theme for your project. Lightweight and highly extendable, it will enable you to create almost any type of website such a blog, portfolio, business website and WooCommerce storefront with a beautiful & professional design.",
        featured: false,
        template: None,
    },
    ThemeSeed {
        slug: "hello-elementor",
        name: "Hello Elementor",
        version: "3.1.1",
        author: ("elemntor", "Elementor"),
        rating: 90,
        num_ratings: 320,
        active_installs: 1_000_000,
        downloaded: 40_000_000,
        last_updated: "2024-07-30",
        created: "2019-05-01 09:09:09",
        requires: "6.0",
        requires_php: "7.4",
        tags: &[
            "accessibility-ready",
            "flexible-header",
            "custom-colors",
            "custom-menu",
            "custom-logo",
            "featured-images",
            "rtl-language-support",
            "threaded-comments",
            "translation-ready",
        ],
        description: "Hello Elementor is a lightweight and minimalist WordPress theme that was built specifically to work seamlessly with the Elementor site builder plugin. The theme is free, open-source, and designed for users who want a flexible, easy-to-use, and customizable website.",
        featured: false,
        template: None,
    },
    ThemeSeed {
        slug: "twentig-one",
        name: "Twentig One",
        version: "1.0.6",
        author: ("twentig", "Twentig"),
        rating: 100,
        num_ratings: 8,
        active_installs: 3_000,
        downloaded: 60_000,
        last_updated: "2024-05-02",
        created: "2023-03-14 10:00:00",
        requires: "6.2",
        requires_php: "7.4",
        tags: &[
            "blog",
            "portfolio",
            "one-column",
            "custom-colors",
            "full-site-editing",
            "block-patterns",
            "wide-blocks",
            "style-variations",
        ],
        description: "Twentig One is a child theme of Twenty Twenty-Four with extra patterns &amp; templates for portfolios.",
        featured: false,
        template: Some("twentytwentyfour"),
    },
];

fn theme_object(seed: &ThemeSeed) -> Value {
    let slug = seed.slug;
    let tags: Map<String, Value> = seed
        .tags
        .iter()
        .map(|t| ((*t).to_owned(), Value::String(tag_name(t))))
        .collect();
    let versions: Map<String, Value> = ["1.0", seed.version]
        .iter()
        .map(|v| {
            (
                (*v).to_owned(),
                json!(format!(
                    "https://downloads.wordpress.org/theme/{slug}.{v}.zip"
                )),
            )
        })
        .collect();
    let mut theme = json!({
        "name": seed.name,
        "slug": slug,
        "version": seed.version,
        "preview_url": format!("https://wp-themes.com/{slug}/"),
        "author": {
            "user_nicename": seed.author.0,
            "profile": format!("https://profiles.wordpress.org/{}/", seed.author.0),
            "avatar": format!("https://secure.gravatar.com/avatar/{}?s=96&d=monsterid&r=g", seed.author.0),
            "display_name": seed.author.1,
            "author": seed.author.1,
            "author_url": format!("https://profiles.wordpress.org/{}/", seed.author.0)
        },
        "screenshot_url": format!("//ts.w.org/wp-content/themes/{slug}/screenshot.png?ver={}", seed.version),
        "screenshot_count": 1,
        "screenshots": [format!("//ts.w.org/wp-content/themes/{slug}/screenshot.png?ver={}", seed.version)],
        "ratings": {"1": 1, "2": 0, "3": 1, "4": 3, "5": seed.num_ratings.saturating_sub(5)},
        "rating": seed.rating,
        "num_ratings": seed.num_ratings,
        "reviews_url": format!("https://wordpress.org/support/theme/{slug}/reviews/"),
        "downloaded": seed.downloaded,
        "active_installs": seed.active_installs,
        "last_updated": seed.last_updated,
        "last_updated_time": format!("{} 12:34:56", seed.last_updated),
        "creation_time": seed.created,
        "homepage": format!("https://wordpress.org/themes/{slug}/"),
        "sections": {
            "description": format!("<p>{}</p>", seed.description),
            "features": "<ul><li>Responsive</li><li>Accessible</li></ul>"
        },
        "description": seed.description,
        "download_link": format!("https://downloads.wordpress.org/theme/{slug}.{}.zip", seed.version),
        "tags": tags,
        "versions": versions,
        "requires": seed.requires,
        "requires_php": seed.requires_php,
        "is_commercial": false,
        "external_support_url": false,
        "is_community": false,
        "external_repository_url": "",
        "theme_url": format!("https://wordpress.org/themes/{slug}/"),
        "template": seed.template.unwrap_or(""),
        "parent": false,
        "trac_tickets": []
    });
    if let (Some(parent), Value::Object(map)) = (seed.template, &mut theme) {
        map.insert(
            "parent".to_owned(),
            json!({"slug": parent, "name": "Twenty Twenty-Four", "homepage": format!("https://wordpress.org/themes/{parent}/")}),
        );
    }
    theme
}

/// Every theme's object, built once: a search filters these and copies the ones it answers
/// instead of building all of them per request (the benchmark drives thousands of searches a
/// second through this fake, whose cost it shares with the server measured).
static THEME_OBJECTS: LazyLock<Vec<Value>> =
    LazyLock::new(|| THEMES.iter().map(theme_object).collect());

/// The theme API's fields that decide which keys an answer carries, with those keys; only
/// `screenshot_url` is on unless an action turns more on.
const THEME_FIELDS: &[(&str, &[&str])] = &[
    ("description", &["description"]),
    ("downloaded", &["downloaded"]),
    ("downloadlink", &["download_link"]),
    ("last_updated", &["last_updated", "last_updated_time"]),
    ("creation_time", &["creation_time"]),
    ("parent", &["parent"]),
    ("rating", &["rating", "num_ratings"]),
    ("ratings", &["ratings"]),
    ("reviews_url", &["reviews_url"]),
    ("screenshot_count", &["screenshot_count"]),
    ("screenshot_url", &["screenshot_url"]),
    ("screenshots", &["screenshots"]),
    ("sections", &["sections"]),
    ("tags", &["tags"]),
    ("template", &["template"]),
    ("versions", &["versions"]),
    ("theme_url", &["theme_url"]),
    ("homepage", &["homepage"]),
    ("active_installs", &["active_installs"]),
    ("requires", &["requires"]),
    ("requires_php", &["requires_php"]),
    ("trac_tickets", &["trac_tickets"]),
    ("is_commercial", &["is_commercial"]),
    ("is_community", &["is_community"]),
    ("external_repository_url", &["external_repository_url"]),
    ("external_support_url", &["external_support_url"]),
];

/// The fields `query_themes` turns on besides `screenshot_url`. Written here from the API's
/// notes, not taken from Tollgate's own lists (`wordpress/themes.rs`), so that a mistake in
/// those shows in the tests.
const QUERY_THEMES_FIELDS: &[&str] = &[
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

/// The fields `theme_information` turns on besides `screenshot_url`.
const THEME_INFORMATION_FIELDS: &[&str] = &[
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

/// A theme as an action answers it: the keys of the fields that are off taken out, and the
/// author as a plain name without `extended_author`, as WordPress.org's `fill_theme` does.
fn theme_with_fields(mut theme: Value, params: &Params, action_fields: &[&str]) -> Value {
    let on = |field: &str| {
        params.field_on(
            field,
            field == "screenshot_url" || action_fields.contains(&field),
        )
    };
    let Value::Object(map) = &mut theme else {
        return theme;
    };
    for (field, keys) in THEME_FIELDS {
        if !on(field) {
            for key in *keys {
                map.remove(*key);
            }
        }
    }
    if !on("extended_author")
        && let Some(name) = map.get("author").and_then(|a| a["user_nicename"].as_str())
    {
        let name = name.to_owned();
        map.insert("author".to_owned(), Value::String(name));
    }
    theme
}

fn find_theme(slug: &str) -> Option<&'static ThemeSeed> {
    THEMES.iter().find(|t| t.slug == slug)
}

fn themes(params: &Params) -> Answer {
    match params.text("action")?.as_deref() {
        Some("query_themes") => query_themes(params),
        Some("theme_information") => theme_information(params),
        Some("hot_tags") => {
            let mut counts: HashMap<&str, u64> = HashMap::new();
            for theme in THEMES {
                for tag in theme.tags {
                    *counts.entry(tag).or_default() += 1;
                }
            }
            // Scale to realistic directory sizes.
            let mut list: Vec<(&str, u64)> = counts.into_iter().map(|(t, c)| (t, c * 1_000 + t.len() as u64)).collect();
            list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            if let Some(number) = params.int("number")? {
                list.truncate(number.max(0) as usize);
            }
            let map: Map<String, Value> = list
                .into_iter()
                .map(|(slug, count)| (slug.to_owned(), json!({"name": tag_name(slug), "slug": slug, "count": count})))
                .collect();
            Ok(reply(StatusCode::OK, Value::Object(map)))
        }
        // Written out by hand to keep WordPress.org's group order (and its quirk: objects).
        Some("feature_list") => Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"Layout":["grid-layout","one-column","two-columns","three-columns","four-columns","left-sidebar","right-sidebar","wide-blocks"],"Features":["accessibility-ready","block-patterns","block-styles","buddypress","custom-background","custom-colors","custom-header","custom-logo","custom-menu","editor-style","featured-image-header","featured-images","flexible-header","footer-widgets","front-page-post-form","full-site-editing","full-width-template","microformats","post-formats","rtl-language-support","sticky-post","style-variations","template-editing","theme-options","threaded-comments","translation-ready"],"Subject":["blog","e-commerce","education","entertainment","food-and-drink","holiday","news","photography","portfolio"]}"#,
        )
            .into_response()),
        Some("get_commercial_shops") => Ok(reply(StatusCode::OK, json!([]))),
        _ => Err("Action not implemented.".to_owned()),
    }
}

fn query_themes(params: &Params) -> Answer {
    let search = params.text("search")?.map(|s| s.to_lowercase());
    let tags: Vec<String> = params
        .list("tag")?
        .unwrap_or_default()
        .into_iter()
        .map(|t| match t.as_str() {
            "fixed-width" => "fixed-layout".to_owned(),
            "flexible-width" => "fluid-layout".to_owned(),
            _ => t,
        })
        .collect();
    if params.has("tag") && tags.is_empty() {
        return Err("Invalid tag".to_owned());
    }
    let author = params.text("author")?;
    let browse = params.text("browse")?;
    let user = params.text("user")?;
    let theme_slug = params.text("theme")?;
    let mut seeds: Vec<(&ThemeSeed, &Value)> = THEMES.iter().zip(THEME_OBJECTS.iter()).collect();
    match browse.as_deref() {
        Some("popular") => seeds.sort_by_key(|(t, _)| std::cmp::Reverse(t.active_installs)),
        Some("new") => seeds.sort_by(|(a, _), (b, _)| b.created.cmp(a.created)),
        Some("updated") => seeds.sort_by(|(a, _), (b, _)| b.last_updated.cmp(a.last_updated)),
        Some("featured") => seeds.retain(|(t, _)| t.featured),
        Some("favorites") => {
            let Some(user) = &user else {
                return Err("A user must be specified for favorites.".to_owned());
            };
            let favourites: &[&str] = if user == "matt" {
                &["twentytwentyfour", "astra"]
            } else {
                &[]
            };
            seeds.retain(|(t, _)| favourites.contains(&t.slug));
        }
        Some("commercial" | "community") => seeds.clear(),
        _ => {}
    }
    let mut items: Vec<Value> = Vec::new();
    for (seed, theme) in seeds {
        if let Some(slug) = &theme_slug
            && seed.slug != slug
        {
            continue;
        }
        if let Some(search) = &search
            && !(contains(theme, "name", search)
                || contains(theme, "slug", search)
                || contains(theme, "description", search))
        {
            continue;
        }
        if !tags.iter().all(|t| seed.tags.contains(&t.as_str())) {
            continue;
        }
        if let Some(author) = &author
            && seed.author.0 != author
        {
            continue;
        }
        items.push(theme.clone());
    }
    let (info, themes) = paginate(items, params.int("page")?, params.int("per_page")?, 24, 999);
    let themes: Vec<Value> = themes
        .into_iter()
        .map(|theme| theme_with_fields(theme, params, QUERY_THEMES_FIELDS))
        .collect();
    Ok(reply(
        StatusCode::OK,
        json!({"info": info, "themes": themes}),
    ))
}

fn theme_information(params: &Params) -> Answer {
    if let Some(slugs) = params.list("slugs")? {
        if slugs.is_empty() || slugs.len() > 100 {
            return Err("Too many slugs requested.".to_owned());
        }
        let map = by_slug(
            &slugs,
            |slug| {
                find_theme(slug).map(|seed| {
                    theme_with_fields(theme_object(seed), params, THEME_INFORMATION_FIELDS)
                })
            },
            "Theme not found",
        );
        return Ok(reply(StatusCode::OK, map));
    }
    let Some(slug) = params.text("slug")? else {
        return Err("Invalid Input".to_owned());
    };
    Ok(match find_theme(&slug) {
        Some(seed) => reply(
            StatusCode::OK,
            theme_with_fields(theme_object(seed), params, THEME_INFORMATION_FIELDS),
        ),
        None => reply(StatusCode::NOT_FOUND, json!({"error": "Theme not found"})),
    })
}

// ----- plugins -----

struct PluginSeed {
    slug: &'static str,
    name: &'static str,
    version: &'static str,
    author: (&'static str, &'static str, &'static str),
    rating: u64,
    num_ratings: u64,
    active_installs: u64,
    downloaded: u64,
    last_updated: &'static str,
    added: &'static str,
    requires: &'static str,
    tested: &'static str,
    requires_php: &'static str,
    requires_plugins: &'static [&'static str],
    tags: &'static [&'static str],
    short_description: &'static str,
    featured: bool,
    banners: bool,
}

const PLUGINS: &[PluginSeed] = &[
    PluginSeed {
        slug: "akismet",
        name: "Akismet Anti-spam: Spam Protection",
        version: "5.3.3",
        author: (
            "automattic",
            "Automattic - Anti-spam Team",
            "https://automattic.com/wordpress-plugins/",
        ),
        rating: 94,
        num_ratings: 1_036,
        active_installs: 6_000_000,
        downloaded: 360_000_000,
        last_updated: "2024-07-02 4:12pm GMT",
        added: "2005-10-20",
        requires: "5.8",
        tested: "6.6.2",
        requires_php: "5.6.20",
        requires_plugins: &[],
        tags: &["antispam", "comments", "contact-form", "form", "spam"],
        short_description: "The best anti-spam protection to block spam comments and spam in a contact form. The most trusted antispam solution for WordPress and WooCommerce.",
        featured: true,
        banners: true,
    },
    PluginSeed {
        slug: "contact-form-7",
        name: "Contact Form 7",
        version: "5.9.8",
        author: (
            "takayukister",
            "Takayuki Miyoshi",
            "https://ideasilo.wordpress.com/",
        ),
        rating: 80,
        num_ratings: 2_100,
        active_installs: 10_000_000,
        downloaded: 340_000_000,
        last_updated: "2024-07-17 2:23am GMT",
        added: "2007-08-02",
        requires: "6.4",
        tested: "6.6.2",
        requires_php: "7.4",
        requires_plugins: &[],
        tags: &["captcha", "contact", "contact-form", "email", "form"],
        short_description: "Just another contact form plugin. Simple but flexible.",
        featured: false,
        banners: true,
    },
    PluginSeed {
        slug: "woocommerce",
        name: "WooCommerce",
        version: "9.3.3",
        author: ("automattic", "Automattic", "https://woocommerce.com"),
        rating: 90,
        num_ratings: 4_450,
        active_installs: 7_000_000,
        downloaded: 200_000_000,
        last_updated: "2024-09-25 5:37pm GMT",
        added: "2011-09-27",
        requires: "6.5",
        tested: "6.6.2",
        requires_php: "7.4",
        requires_plugins: &[],
        tags: &[
            "ecommerce",
            "online-store",
            "sell-online",
            "shop",
            "shopping-cart",
        ],
        short_description: "Everything you need to launch an online store in days and keep it growing for years. From your first sale to millions in revenue, Woo is with you.",
        featured: true,
        banners: true,
    },
    PluginSeed {
        slug: "wordpress-seo",
        name: "Yoast SEO",
        version: "23.6",
        author: ("yoast", "Team Yoast", "https://yoa.st/1uk"),
        rating: 96,
        num_ratings: 27_800,
        active_installs: 10_000_000,
        downloaded: 500_000_000,
        last_updated: "2024-10-01 8:31am GMT",
        added: "2010-10-11",
        requires: "6.5",
        tested: "6.6.2",
        requires_php: "7.2.5",
        requires_plugins: &[],
        tags: &[
            "content-analysis",
            "readability",
            "schema",
            "seo",
            "xml-sitemap",
        ],
        short_description: "Improve your WordPress SEO: Write better content and have a fully optimized WordPress site using the Yoast SEO plugin.",
        featured: false,
        banners: true,
    },
    PluginSeed {
        slug: "jetpack",
        name: "Jetpack – WP Security, Backup, Speed, &amp; Growth",
        version: "13.9",
        author: ("automattic", "Automattic", "https://jetpack.com"),
        rating: 76,
        num_ratings: 1_900,
        active_installs: 4_000_000,
        downloaded: 310_000_000,
        last_updated: "2024-10-01 2:02pm GMT",
        added: "2011-03-19",
        requires: "6.5",
        tested: "6.6.2",
        requires_php: "7.2",
        requires_plugins: &[],
        tags: &["backup", "privacy", "security", "seo", "stats"],
        short_description: "Improve your WP security with powerful one-click tools like backup, WAF, and malware scan. Includes free tools like stats, CDN and social sharing.",
        featured: true,
        banners: true,
    },
    PluginSeed {
        slug: "classic-editor",
        name: "Classic Editor",
        version: "1.6.5",
        author: (
            "wordpressdotorg",
            "WordPress Contributors",
            "https://github.com/WordPress/classic-editor/",
        ),
        rating: 98,
        num_ratings: 1_140,
        active_installs: 10_000_000,
        downloaded: 90_000_000,
        last_updated: "2024-07-31 9:01pm GMT",
        added: "2017-07-25",
        requires: "4.9",
        tested: "6.6.2",
        requires_php: "5.2.4",
        requires_plugins: &[],
        tags: &[
            "classic-editor",
            "editor",
            "gutenberg",
            "restore",
            "tinymce",
        ],
        short_description: "Enables the previous \"classic\" editor and the old-style Edit Post screen with TinyMCE, Meta Boxes, etc. Supports all plugins that extend this screen.",
        featured: false,
        banners: false,
    },
    PluginSeed {
        slug: "wp-super-cache",
        name: "WP Super Cache",
        version: "1.12.4",
        author: ("automattic", "Automattic", "https://automattic.com/"),
        rating: 84,
        num_ratings: 1_400,
        active_installs: 1_000_000,
        downloaded: 130_000_000,
        last_updated: "2024-07-17 1:04pm GMT",
        added: "2007-11-05",
        requires: "6.5",
        tested: "6.6.2",
        requires_php: "7.0",
        requires_plugins: &[],
        tags: &["cache", "performance", "speed", "wp-cache"],
        short_description: "A very fast caching engine for WordPress that produces static html files.",
        featured: false,
        banners: true,
    },
    PluginSeed {
        slug: "woocommerce-payments",
        name: "WooPayments: Integrated WooCommerce Payments",
        version: "8.3.1",
        author: ("woocommerce", "WooCommerce", "https://woocommerce.com/"),
        rating: 72,
        num_ratings: 470,
        active_installs: 600_000,
        downloaded: 9_000_000,
        last_updated: "2024-10-02 10:00am GMT",
        added: "2020-03-02",
        requires: "6.0",
        tested: "6.6.2",
        requires_php: "7.3",
        requires_plugins: &["woocommerce"],
        tags: &[
            "credit-card",
            "ecommerce",
            "payment-gateway",
            "payments",
            "woocommerce",
        ],
        short_description: "Securely accept credit/debit cards and popular payment methods on your WooCommerce store, with no setup costs or monthly fees.",
        featured: false,
        banners: true,
    },
];

fn plugin_object(seed: &PluginSeed) -> Value {
    let slug = seed.slug;
    let tags: Map<String, Value> = seed
        .tags
        .iter()
        .map(|t| ((*t).to_owned(), Value::String(tag_name(t))))
        .collect();
    let versions: Map<String, Value> = ["1.0", seed.version, "trunk"]
        .iter()
        .map(|v| {
            let file = if *v == "trunk" {
                format!("{slug}.zip")
            } else {
                format!("{slug}.{v}.zip")
            };
            (
                (*v).to_owned(),
                json!(format!("https://downloads.wordpress.org/plugin/{file}")),
            )
        })
        .collect();
    let banners = if seed.banners {
        json!({
            "low": format!("https://ps.w.org/{slug}/assets/banner-772x250.png?rev=2900731"),
            "high": format!("https://ps.w.org/{slug}/assets/banner-1544x500.png?rev=2900731")
        })
    } else {
        json!(false)
    };
    let mut plugin = json!({
        "name": seed.name,
        "slug": slug,
        "version": seed.version,
        "author": format!("<a href=\"{}\">{}</a>", seed.author.2, seed.author.1),
        "author_profile": format!("https://profiles.wordpress.org/{}/", seed.author.0),
        "contributors": {
            seed.author.0: {
                "profile": format!("https://profiles.wordpress.org/{}/", seed.author.0),
                "avatar": "https://secure.gravatar.com/avatar/abc?s=96&d=monsterid&r=g",
                "display_name": seed.author.1
            }
        },
        "requires": seed.requires,
        "tested": seed.tested,
        "requires_php": seed.requires_php,
        "requires_plugins": seed.requires_plugins,
        "compatibility": [],
        "rating": seed.rating,
        "ratings": {"5": seed.num_ratings * 8 / 10, "4": seed.num_ratings / 10, "3": 0, "2": 0, "1": seed.num_ratings / 10},
        "num_ratings": seed.num_ratings,
        "support_url": format!("https://wordpress.org/support/plugin/{slug}/"),
        "support_threads": 25,
        "support_threads_resolved": 20,
        "active_installs": seed.active_installs,
        "downloaded": seed.downloaded,
        "last_updated": seed.last_updated,
        "added": seed.added,
        "homepage": seed.author.2,
        "sections": {
            "description": format!("<p>{}</p><h3>Features</h3><ul><li>Fast</li><li>Free</li></ul>", seed.short_description),
            "installation": "<ol><li>Upload the plugin files.</li><li>Activate the plugin.</li></ol>",
            "faq": "<dl><dt>Is it free?</dt><dd>Yes.</dd></dl>",
            "changelog": format!("<h4>{}</h4><ul><li>Bug fixes.</li></ul>", seed.version),
            "screenshots": "<ol><li><img src=\"https://ps.w.org/x/assets/screenshot-1.png\"></li></ol>",
            "reviews": "<div class=\"review\"><p>Great plugin!</p></div>"
        },
    });
    let more = json!({
        "short_description": seed.short_description,
        "description": format!("<p>{}</p>", seed.short_description),
        "download_link": format!("https://downloads.wordpress.org/plugin/{slug}.{}.zip", seed.version),
        "upgrade_notice": {},
        "screenshots": {"1": {"src": format!("https://ps.w.org/{slug}/assets/screenshot-1.png?rev=1"), "caption": "Settings"}},
        "tags": tags,
        "stable_tag": seed.version,
        "versions": versions,
        "business_model": false,
        "repository_url": "",
        "commercial_support_url": "",
        "donate_link": "https://example.com/donate",
        "banners": banners,
        "icons": {"1x": format!("https://ps.w.org/{slug}/assets/icon-128x128.png?rev=1"), "2x": format!("https://ps.w.org/{slug}/assets/icon-256x256.png?rev=1")},
        "blocks": [],
        "block_assets": [],
        "author_block_count": 0,
        "author_block_rating": 0,
        "blueprints": [],
        "preview_link": "",
        "language_packs": []
    });
    if let (Value::Object(plugin), Value::Object(more)) = (&mut plugin, more) {
        plugin.extend(more);
    }
    plugin
}

fn find_plugin(slug: &str) -> Option<&'static PluginSeed> {
    PLUGINS.iter().find(|p| p.slug == slug)
}

fn valid_plugin_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn plugins(params: &Params) -> Answer {
    match params.text("action")?.as_deref() {
        Some("query_plugins") => query_plugins(params),
        Some("plugin_information") => plugin_information(params),
        Some("hot_tags" | "popular_tags") => {
            let mut counts: HashMap<&str, u64> = HashMap::new();
            for plugin in PLUGINS {
                for tag in plugin.tags {
                    *counts.entry(tag).or_default() += 1;
                }
            }
            let mut list: Vec<(&str, u64)> = counts
                .into_iter()
                .map(|(t, c)| (t, c * 2_500 + t.len() as u64))
                .collect();
            list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            list.truncate(params.int("number")?.unwrap_or(100).max(0) as usize);
            let map: Map<String, Value> = list
                .into_iter()
                .map(|(slug, count)| {
                    (
                        slug.to_owned(),
                        json!({"name": tag_name(slug), "slug": slug, "count": count}),
                    )
                })
                .collect();
            Ok(reply(StatusCode::OK, Value::Object(map)))
        }
        _ => Err("Action not implemented.".to_owned()),
    }
}

fn query_plugins(params: &Params) -> Answer {
    let browse = params.text("browse")?;
    let user = params.text("user")?;
    let search = params.text("search")?.map(|s| s.to_lowercase());
    let tag = params.text("tag")?;
    let author = params.text("author")?;
    let page = params.int("page")?;
    if page.is_some_and(|p| p > 999) {
        return Err("Invalid page".to_owned());
    }
    let mut seeds: Vec<&PluginSeed> = PLUGINS.iter().collect();
    if let Some(browse) = browse {
        match browse.as_str() {
            "popular" => seeds.sort_by_key(|t| std::cmp::Reverse(t.active_installs)),
            "new" => seeds.sort_by(|a, b| b.added.cmp(a.added)),
            "updated" => seeds.sort_by(|a, b| b.last_updated.cmp(a.last_updated)),
            "beta" | "blocks" | "block" | "adopt-me" | "preview" => seeds.clear(),
            "favorites" => {
                let favourites: &[&str] = if user.as_deref() == Some("matt") {
                    &["akismet", "jetpack"]
                } else {
                    &[]
                };
                seeds.retain(|p| favourites.contains(&p.slug));
            }
            // Anything else, "featured" included, is the featured list.
            _ => seeds.retain(|p| p.featured),
        }
    } else if let Some(user) = user {
        let favourites: &[&str] = if user == "matt" {
            &["akismet", "jetpack"]
        } else {
            &[]
        };
        seeds.retain(|p| favourites.contains(&p.slug));
    } else {
        if let Some(search) = &search {
            if let Some(slug) = search.strip_prefix("slug:") {
                seeds.retain(|p| p.slug == slug);
            } else {
                seeds.retain(|p| {
                    p.name.to_lowercase().contains(search.as_str())
                        || p.slug.contains(search.as_str())
                        || p.short_description.to_lowercase().contains(search.as_str())
                        || p.tags.iter().any(|t| t.contains(search.as_str()))
                });
            }
        }
        if let Some(tag) = &tag {
            seeds.retain(|p| p.tags.contains(&tag.as_str()));
        }
        if let Some(author) = &author {
            seeds.retain(|p| p.author.0 == author);
        }
    }
    let items: Vec<Value> = seeds.into_iter().map(plugin_object).collect();
    let (info, plugins) = paginate(items, page, params.int("per_page")?, 24, 250);
    Ok(reply(
        StatusCode::OK,
        json!({"info": info, "plugins": plugins}),
    ))
}

fn plugin_information(params: &Params) -> Answer {
    if let Some(slugs) = params.list("slugs")? {
        if slugs.len() > 100 {
            return Ok(reply(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"error": "A maximum of 100 plugins can be queried at once."}),
            ));
        }
        if slugs.is_empty() {
            return Err("Invalid Input".to_owned());
        }
        let map = by_slug(
            &slugs,
            |slug| find_plugin(slug).map(plugin_object),
            "Plugin not found.",
        );
        return Ok(reply(StatusCode::OK, map));
    }
    let Some(slug) = params.text("slug")? else {
        return Err("Invalid Input".to_owned());
    };
    if !valid_plugin_slug(&slug) {
        return Err("Invalid plugin slug.".to_owned());
    }
    Ok(match find_plugin(&slug) {
        Some(seed) => reply(StatusCode::OK, plugin_object(seed)),
        None => reply(StatusCode::NOT_FOUND, json!({"error": "Plugin not found."})),
    })
}

// ----- stats -----

/// The civil date of a day number counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Day number of 2024-10-01, the last day of the fake statistics.
const LAST_STATS_DAY: i64 = 19_997;

fn downloads(params: &Params) -> Answer {
    let slug = params.text("slug")?.unwrap_or_default();
    let Some(seed) = find_plugin(&slug) else {
        return Ok(reply(StatusCode::OK, json!([])));
    };
    let limit = params.int("limit")?.unwrap_or(365).clamp(1, 2_000);
    let daily = seed.downloaded / 5_000;
    let map: Map<String, Value> = (0..limit)
        .map(|back| {
            let day = LAST_STATS_DAY - back;
            // Weekends are quieter; counts are strings, as on WordPress.org.
            let count = if day.rem_euclid(7) < 2 {
                daily * 7 / 10
            } else {
                daily
            } + (day.rem_euclid(13) as u64);
            (civil_date(day), Value::String(count.to_string()))
        })
        .collect();
    Ok(reply(StatusCode::OK, Value::Object(map)))
}

// ----- core -----

fn version_check() -> Value {
    let offer = |response: &str, version: &str| {
        json!({
            "response": response,
            "download": format!("https://downloads.wordpress.org/release/wordpress-{version}.zip"),
            "locale": "en_US",
            "packages": {
                "full": format!("https://downloads.wordpress.org/release/wordpress-{version}.zip"),
                "no_content": format!("https://downloads.wordpress.org/release/wordpress-{version}-no-content.zip"),
                "new_bundled": format!("https://downloads.wordpress.org/release/wordpress-{version}-new-bundled.zip"),
                "partial": false,
                "rollback": false
            },
            "current": version,
            "version": version,
            "php_version": "7.2.24",
            "mysql_version": "5.5.5",
            "new_bundled": "6.4",
            "partial_version": false
        })
    };
    json!({
        "offers": [
            offer("upgrade", "6.6.2"),
            offer("autoupdate", "6.6.2"),
            offer("autoupdate", "6.5.5"),
            offer("autoupdate", "6.4.5")
        ],
        "translations": []
    })
}

fn stable_check() -> Value {
    json!({
        "4.9.1": "insecure", "4.9.26": "outdated",
        "5.9.9": "insecure", "5.9.10": "outdated",
        "6.0": "insecure", "6.0.9": "outdated",
        "6.3": "insecure", "6.3.5": "outdated",
        "6.4": "insecure", "6.4.1": "insecure", "6.4.2": "insecure", "6.4.5": "outdated",
        "6.5": "insecure", "6.5.4": "insecure", "6.5.5": "outdated",
        "6.6": "insecure", "6.6.1": "insecure", "6.6.2": "latest"
    })
}

// ----- translations -----

const LANGUAGES: &[(&str, &str, &str, &str)] = &[
    ("de_DE", "German", "Deutsch", "de"),
    ("de_CH", "German (Switzerland)", "Deutsch (Schweiz)", "de"),
    ("fr_FR", "French (France)", "Français", "fr"),
    ("ja", "Japanese", "日本語", "ja"),
    ("pt_BR", "Portuguese (Brazil)", "Português do Brasil", "pt"),
    ("es_ES", "Spanish (Spain)", "Español", "es"),
];

fn translations(kind: &str, params: &Params) -> Answer {
    let slug = params.text("slug")?;
    let (known, version) = match (kind, slug.as_deref()) {
        ("core", _) => (true, "6.6.2"),
        ("plugins", Some(slug)) => match find_plugin(slug) {
            Some(seed) => (true, seed.version),
            None => (false, ""),
        },
        ("themes", Some(slug)) => match find_theme(slug) {
            Some(seed) => (true, seed.version),
            None => (false, ""),
        },
        _ => (false, ""),
    };
    let version = params
        .text("version")?
        .unwrap_or_else(|| version.to_owned());
    let list: Vec<Value> = if known {
        LANGUAGES
            .iter()
            .map(|(code, english, native, iso)| {
                let package = match (kind, slug.as_deref()) {
                    ("core", _) => format!("https://downloads.wordpress.org/translation/core/{version}/{code}.zip"),
                    (_, Some(slug)) => format!(
                        "https://downloads.wordpress.org/translation/{}/{slug}/{version}/{code}.zip",
                        kind.trim_end_matches('s')
                    ),
                    _ => String::new(),
                };
                json!({
                    "language": code,
                    "version": version,
                    "updated": "2024-09-30 08:15:42",
                    "english_name": english,
                    "native_name": native,
                    "package": package,
                    "iso": {"1": iso},
                    "strings": {"continue": "Continue"}
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(reply(StatusCode::OK, json!({ "translations": list })))
}

// ----- events -----

struct Place {
    name: &'static str,
    country: &'static str,
    latitude: f64,
    longitude: f64,
}

const PLACES: &[Place] = &[
    Place {
        name: "Berlin",
        country: "DE",
        latitude: 52.524_37,
        longitude: 13.410_53,
    },
    Place {
        name: "Porto",
        country: "PT",
        latitude: 41.149_61,
        longitude: -8.610_99,
    },
    Place {
        name: "Tokyo",
        country: "JP",
        latitude: 35.689_5,
        longitude: 139.691_71,
    },
];

fn place_events(place: &Place) -> Vec<Value> {
    let event = |kind: &str, title: &str, url: &str, date: &str, end: &str, venue: &str| {
        json!({
            "type": kind,
            "title": title,
            "url": url,
            "meetup": if kind == "meetup" { json!(format!("WordPress Meetup {}", place.name)) } else { json!(null) },
            "meetup_url": if kind == "meetup" { json!(format!("https://www.meetup.com/wordpress-{}/", place.name.to_lowercase())) } else { json!(null) },
            "date": date,
            "end_date": end,
            "start_unix_timestamp": 1_730_000_000,
            "end_unix_timestamp": 1_730_010_000,
            "location": {
                "location": venue,
                "country": place.country,
                "latitude": place.latitude,
                "longitude": place.longitude
            }
        })
    };
    match place.name {
        "Berlin" => vec![
            event(
                "meetup",
                "WordPress Meetup Berlin: Block themes in practice",
                "https://www.meetup.com/wordpress-berlin/events/303000001/",
                "2024-11-05 19:00:00",
                "2024-11-05 21:00:00",
                "Berlin, Germany",
            ),
            event(
                "wordcamp",
                "WordCamp Berlin 2025",
                "https://berlin.wordcamp.org/2025/",
                "2025-05-16 09:00:00",
                "2025-05-17 18:00:00",
                "Berlin, Germany",
            ),
            event(
                "meetup",
                "WordPress Meetup Berlin: Performance night",
                "https://www.meetup.com/wordpress-berlin/events/303000002/",
                "2024-12-03 19:00:00",
                "2024-12-03 21:00:00",
                "Online",
            ),
        ],
        "Porto" => vec![event(
            "wordcamp",
            "WordCamp Porto 2025",
            "https://porto.wordcamp.org/2025/",
            "2025-03-08 09:00:00",
            "2025-03-08 18:00:00",
            "Porto, Portugal",
        )],
        _ => Vec::new(),
    }
}

fn events(params: &Params) -> Answer {
    let number = params.int("number")?.unwrap_or(10).max(1) as usize;
    let location = params.text("location")?;
    let latitude = params.text("latitude")?.and_then(|v| v.parse::<f64>().ok());
    let longitude = params
        .text("longitude")?
        .and_then(|v| v.parse::<f64>().ok());
    let country = params.text("country")?.map(|c| c.to_uppercase());
    let place = if let Some(location) = &location {
        let wanted = location.to_lowercase();
        PLACES.iter().find(|p| {
            wanted == p.name.to_lowercase()
                || wanted.starts_with(&format!("{},", p.name.to_lowercase()))
        })
    } else if let (Some(lat), Some(lon)) = (latitude, longitude) {
        PLACES
            .iter()
            .find(|p| (p.latitude - lat).abs() < 1.0 && (p.longitude - lon).abs() < 1.0)
    } else if let Some(country) = &country {
        PLACES.iter().find(|p| p.country == country)
    } else {
        None
    };
    let Some(place) = place else {
        return Ok(reply(
            StatusCode::OK,
            json!({"sandboxed": false, "error": "no_location_available", "location": [], "events": []}),
        ));
    };
    let mut events = place_events(place);
    events.truncate(number);
    Ok(reply(
        StatusCode::OK,
        json!({
            "sandboxed": false,
            "error": null,
            "location": {
                "description": place.name,
                "latitude": format!("{:.5}", place.latitude),
                "longitude": format!("{:.5}", place.longitude),
                "country": place.country
            },
            "events": events
        }),
    ))
}

// ----- patterns -----

const CATEGORIES: &[(u64, &str, &str)] = &[
    (2, "Header", "header"),
    (3, "Footer", "footer"),
    (6, "Gallery", "gallery"),
    (9, "Call to Action", "call-to-action"),
    (25, "Text", "text"),
];

fn pattern_seeds() -> Vec<Value> {
    let pattern = |id: u64,
                   title: &str,
                   description: &str,
                   categories: &[&str],
                   keywords: &[&str],
                   blocks: usize| {
        let content = format!(
            "<!-- wp:group {{\"layout\":{{\"type\":\"constrained\"}}}} -->\n<div class=\"wp-block-group\">{}</div>\n<!-- /wp:group -->",
            "<!-- wp:paragraph --><p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p><!-- /wp:paragraph -->".repeat(blocks)
        );
        json!({
            "id": id,
            "title": {"rendered": title},
            "content": {"rendered": format!("<div class=\"wp-block-group\">{}</div>", "<p>Lorem ipsum</p>".repeat(blocks)), "protected": false},
            "meta": {
                "spay_email": "",
                "wpop_description": description,
                "wpop_viewport_width": 1200,
                "wpop_block_types": [],
                "wpop_locale": "en_US",
                "wpop_wp_version": "6.4",
                "wpop_contains_block_types": "core/group,core/paragraph"
            },
            "category_slugs": categories,
            "keyword_slugs": keywords,
            "pattern_content": content
        })
    };
    vec![
        pattern(
            101,
            "Simple header with site title &amp; navigation",
            "A header with the site title on the left and navigation on the right.",
            &["header"],
            &["navigation", "logo"],
            1,
        ),
        pattern(
            102,
            "Large header with cover image",
            "A full-width cover image with a big heading.",
            &["header"],
            &["cover", "hero"],
            6,
        ),
        pattern(
            201,
            "Footer with three columns",
            "A footer with links in three columns and a copyright line.",
            &["footer"],
            &["columns", "links"],
            4,
        ),
        pattern(
            301,
            "Image gallery grid",
            "A gallery of six images in a grid.",
            &["gallery"],
            &["images", "grid"],
            8,
        ),
        pattern(
            401,
            "Pricing table",
            "Three pricing plans side by side with buttons.",
            &["call-to-action"],
            &["pricing", "plans"],
            10,
        ),
        pattern(
            501,
            "Two columns of text",
            "Two columns of body text with a heading.",
            &["text"],
            &["columns"],
            3,
        ),
    ]
}

fn patterns(params: &Params) -> Answer {
    if params.has("categories") {
        let list: Vec<Value> = CATEGORIES
            .iter()
            .map(|(id, name, slug)| json!({"id": id, "name": name, "slug": slug}))
            .collect();
        return Ok(reply(StatusCode::OK, Value::Array(list)));
    }
    let search = params.text("search")?.map(|s| s.to_lowercase());
    let category = match params.text("pattern-categories")? {
        Some(id) => {
            let id: u64 = id
                .parse()
                .map_err(|_| "Invalid parameter(s): pattern-categories".to_owned())?;
            Some(CATEGORIES.iter().find(|c| c.0 == id).map_or("", |c| c.2))
        }
        None => None,
    };
    let per_page = params.int("per_page")?.unwrap_or(100);
    if !(1..=100).contains(&per_page) {
        return Ok(reply(
            StatusCode::BAD_REQUEST,
            json!({"code": "rest_invalid_param", "message": "Invalid parameter(s): per_page", "data": {"status": 400}}),
        ));
    }
    let list: Vec<Value> = pattern_seeds()
        .into_iter()
        .filter(|p| {
            category.is_none_or(|slug| {
                p.get("category_slugs")
                    .and_then(Value::as_array)
                    .is_some_and(|c| c.iter().any(|s| s == slug))
            })
        })
        .filter(|p| {
            search.as_ref().is_none_or(|search| {
                p.pointer("/title/rendered")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.to_lowercase().contains(search.as_str()))
                    || p.pointer("/meta/wpop_description")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.to_lowercase().contains(search.as_str()))
                    || p.get("keyword_slugs")
                        .and_then(Value::as_array)
                        .is_some_and(|k| {
                            k.iter()
                                .any(|s| s.as_str().is_some_and(|s| s.contains(search.as_str())))
                        })
            })
        })
        .take(per_page as usize)
        .collect();
    Ok(reply(StatusCode::OK, Value::Array(list)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_flat_parameters_are_read_alike() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let nested = Params::parse(&pairs(&[
            ("action", "query_themes"),
            ("request[search]", "blue"),
            ("request[tag][]", "blog"),
            ("request[tag][]", "news"),
            ("request[fields][sections]", "true"),
        ]));
        assert_eq!(nested.text("search"), Ok(Some("blue".to_owned())));
        assert_eq!(
            nested.list("tag"),
            Ok(Some(vec!["blog".to_owned(), "news".to_owned()]))
        );
        assert!(nested.scalar("fields").is_err(), "a map is not a scalar");
        let flat = Params::parse(&pairs(&[("search", "blue"), ("slugs", "a,b")]));
        assert_eq!(flat.text("search"), Ok(Some("blue".to_owned())));
        assert_eq!(
            flat.list("slugs"),
            Ok(Some(vec!["a".to_owned(), "b".to_owned()]))
        );
    }

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(LAST_STATS_DAY), "2024-10-01");
        assert_eq!(civil_date(LAST_STATS_DAY - 1), "2024-09-30");
    }

    #[test]
    fn pages_count_from_one() {
        let items: Vec<Value> = (0..25).map(|i| json!(i)).collect();
        let (info, page) = paginate(items, Some(3), Some(10), 24, 999);
        assert_eq!(info, json!({"page": 3, "pages": 3, "results": 25}));
        assert_eq!(page.len(), 5);
        let (info, page) = paginate(Vec::new(), None, None, 24, 999);
        assert_eq!(info, json!({"page": 1, "pages": 1, "results": 0}));
        assert!(page.is_empty());
    }
}
