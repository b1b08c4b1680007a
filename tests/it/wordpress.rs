//! The WordPress.org tool pack through the real server and an MCP client, against the fake API.

use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tollgate::wordpress::Operation;
use tollgate_tests::fake_wporg::Failure;
use tollgate_tests::{Era, McpClient, TestApp, TestOptions};

const THEMES: &str = "/themes/info/1.2/";
const PLUGINS: &str = "/plugins/info/1.2/";

async fn call(client: &McpClient, tool: &str, args: Value) -> CallToolResult {
    let arguments = args.as_object().cloned().unwrap_or_default();
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
        .expect("tools/call answers")
}

/// The structured content of a successful call.
fn ok(result: &CallToolResult) -> &Value {
    assert_ne!(result.is_error, Some(true), "{}", text(result));
    result
        .structured_content
        .as_ref()
        .expect("structured content")
}

/// The text of an error result.
fn failed(result: &CallToolResult) -> String {
    assert_eq!(result.is_error, Some(true), "expected an error: {result:?}");
    text(result)
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether the last request on `path` carried `name=value`.
fn sent(app: &TestApp, path: &str, name: &str, value: &str) -> bool {
    app.wporg
        .last_query(path)
        .unwrap_or_default()
        .iter()
        .any(|(k, v)| k == name && v == value)
}

fn slugs(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["slug"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn demo() -> (TestApp, McpClient) {
    let app = TestApp::spawn().await;
    let client = app.mcp_client("demo", Era::Sessions).await;
    (app, client)
}

#[tokio::test]
async fn query_themes_finds_themes_by_tag_and_sends_nested_request_params() {
    let (app, client) = demo().await;
    let result = call(
        &client,
        "wporg_query_themes",
        json!({"tag": ["full-site-editing", "blog"], "per_page": 2}),
    )
    .await;
    let found = ok(&result);
    assert_eq!(found["results"], 3, "{found}");
    assert_eq!(found["page"], 1);
    assert_eq!(found["pages"], 2);
    assert_eq!(
        slugs(&found["themes"]),
        ["twentytwentyfour", "twentytwentyfive"]
    );
    let summary = text(&result);
    assert!(
        summary.starts_with("Found 3 themes (page 1 of 2)."),
        "{summary}"
    );
    assert!(summary.contains("Twenty Twenty-Four 1.2"), "{summary}");
    assert!(sent(&app, THEMES, "action", "query_themes"));
    assert!(sent(&app, THEMES, "request[tag][]", "full-site-editing"));
    assert!(sent(&app, THEMES, "request[tag][]", "blog"));
    assert!(sent(&app, THEMES, "request[per_page]", "2"));
    assert!(sent(
        &app,
        THEMES,
        "request[fields][active_installs]",
        "true"
    ));
    assert!(!app.wporg.saw_authorization_header());
}

#[tokio::test]
async fn query_themes_summarises_each_theme_for_a_model() {
    let (_app, client) = demo().await;
    let result = call(&client, "wporg_query_themes", json!({"search": "astra"})).await;
    let found = ok(&result);
    let astra = &found["themes"][0];
    assert_eq!(astra["slug"], "astra");
    assert_eq!(astra["name"], "Astra");
    assert_eq!(astra["author"], "Brainstorm Force");
    assert_eq!(astra["rating"], 98);
    assert_eq!(astra["active_installs"], 1_000_000);
    assert_eq!(astra["requires_php"], "5.3");
    assert_eq!(astra["preview_url"], "https://wp-themes.com/astra/");
    assert_eq!(
        astra["screenshot_url"],
        "https://ts.w.org/wp-content/themes/astra/screenshot.png?ver=4.8.3"
    );
    let description = astra["description"].as_str().expect("a description");
    assert!(description.chars().count() <= 300, "{description}");
    assert!(description.starts_with("Astra is fast"), "{description}");
    let summary = text(&result);
    assert!(
        summary.contains(
            "Astra 4.8.3 (astra) by Brainstorm Force — rating 98/100, 1,000,000+ installs"
        ),
        "{summary}"
    );
}

#[tokio::test]
async fn query_themes_drops_heavy_fields_unless_asked() {
    let (app, client) = demo().await;
    let plain = call(&client, "wporg_query_themes", json!({"search": "kadence"})).await;
    let theme = &ok(&plain)["themes"][0];
    for heavy in [
        "sections",
        "versions",
        "screenshots",
        "tags",
        "ratings",
        "download_link",
    ] {
        assert!(theme.get(heavy).is_none(), "{heavy} leaked: {theme}");
    }
    // The search sends only what differs from query_themes' own defaults, which leave the
    // heavy fields off.
    let fields_sent: Vec<String> = app
        .wporg
        .last_query(THEMES)
        .unwrap_or_default()
        .into_iter()
        .filter(|(name, _)| name.starts_with("request[fields]"))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    assert_eq!(
        fields_sent,
        [
            "request[fields][active_installs]=true",
            "request[fields][last_updated]=true",
            "request[fields][parent]=false"
        ]
    );

    let rich = call(
        &client,
        "wporg_query_themes",
        json!({"search": "kadence", "fields": ["sections", "versions", "download_link"]}),
    )
    .await;
    let theme = &ok(&rich)["themes"][0];
    let about = theme["sections"]["description"].as_str().expect("sections");
    assert!(about.starts_with("Kadence Theme is"), "{about}");
    assert!(!about.contains("<p>"), "HTML is stripped: {about}");
    assert_eq!(
        theme["versions"]["1.2.9"],
        "https://downloads.wordpress.org/theme/kadence.1.2.9.zip"
    );
    assert_eq!(
        theme["download_link"],
        "https://downloads.wordpress.org/theme/kadence.1.2.9.zip"
    );
    assert!(theme.get("screenshots").is_none());
    assert!(sent(&app, THEMES, "request[fields][sections]", "true"));
    assert!(sent(&app, THEMES, "request[fields][versions]", "true"));
    assert!(sent(&app, THEMES, "request[fields][downloadlink]", "true"));
}

#[tokio::test]
async fn query_themes_lists_a_users_favourites_and_requires_the_user() {
    let (app, client) = demo().await;
    let result = call(
        &client,
        "wporg_query_themes",
        json!({"browse": "favorites", "user": "matt"}),
    )
    .await;
    assert_eq!(slugs(&ok(&result)["themes"]), ["twentytwentyfour", "astra"]);
    assert!(sent(&app, THEMES, "request[browse]", "favorites"));
    assert!(sent(&app, THEMES, "request[user]", "matt"));

    let hits = app.wporg.total_hits();
    let missing = call(
        &client,
        "wporg_query_themes",
        json!({"browse": "favorites"}),
    )
    .await;
    assert!(failed(&missing).contains("needs `user`"));
    assert_eq!(app.wporg.total_hits(), hits, "invalid calls stay local");
}

#[tokio::test]
async fn theme_info_describes_one_theme() {
    let (app, client) = demo().await;
    let result = call(
        &client,
        "wporg_theme_info",
        json!({"slug": "generatepress"}),
    )
    .await;
    let info = ok(&result);
    assert_eq!(info["not_found"], json!([]));
    let theme = &info["themes"][0];
    assert_eq!(theme["name"], "GeneratePress");
    assert_eq!(theme["version"], "3.5.1");
    assert_eq!(theme["last_updated"], "2024-08-21");
    assert_eq!(
        theme["homepage"],
        "https://wordpress.org/themes/generatepress/"
    );
    assert!(theme.get("sections").is_none());
    let summary = text(&result);
    assert!(summary.contains("GeneratePress 3.5.1"), "{summary}");
    assert!(
        summary.contains("Requires WordPress 5.2, PHP 7.0."),
        "{summary}"
    );
    assert!(sent(&app, THEMES, "action", "theme_information"));
    assert!(sent(&app, THEMES, "request[slug]", "generatepress"));
    assert!(sent(&app, THEMES, "request[fields][sections]", "false"));
}

#[tokio::test]
async fn theme_info_for_several_slugs_lists_the_unknown_ones() {
    let (app, client) = demo().await;
    let result = call(
        &client,
        "wporg_theme_info",
        json!({"slugs": ["astra", "no-such-theme", "oceanwp"], "fields": ["tags"]}),
    )
    .await;
    let info = ok(&result);
    assert_eq!(slugs(&info["themes"]), ["astra", "oceanwp"]);
    assert_eq!(info["not_found"], json!(["no-such-theme"]));
    assert_eq!(info["themes"][1]["tags"]["e-commerce"], "E Commerce");
    let summary = text(&result);
    assert!(summary.contains("2 of 3 themes found."), "{summary}");
    assert!(summary.contains("Not found: no-such-theme."), "{summary}");
    assert!(sent(&app, THEMES, "request[slugs][]", "no-such-theme"));
    // theme_information sends tags by itself: asked for, they are not turned off.
    assert!(!sent(&app, THEMES, "request[fields][tags]", "false"));
    assert!(sent(&app, THEMES, "request[fields][sections]", "false"));
}

#[tokio::test]
async fn theme_info_for_an_unknown_slug_says_how_to_find_the_right_one() {
    let (_app, client) = demo().await;
    let result = call(
        &client,
        "wporg_theme_info",
        json!({"slug": "no-such-theme"}),
    )
    .await;
    assert_eq!(
        failed(&result),
        "Theme \"no-such-theme\" was not found on WordPress.org. Check the slug, or search with \
         wporg_query_themes."
    );
}

#[tokio::test]
async fn theme_tags_lists_the_most_used_tags_first() {
    let (app, client) = demo().await;
    let result = call(&client, "wporg_theme_tags", json!({"number": 3})).await;
    let tags = ok(&result)["tags"].as_array().cloned().unwrap_or_default();
    assert_eq!(tags.len(), 3);
    let counts: Vec<u64> = tags.iter().filter_map(|t| t["count"].as_u64()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    assert_eq!(tags[0]["slug"], "custom-colors");
    assert!(text(&result).contains("custom-colors"));
    assert!(sent(&app, THEMES, "action", "hot_tags"));
    assert!(sent(&app, THEMES, "request[number]", "3"));
}

#[tokio::test]
async fn theme_features_keep_wordpress_orgs_group_order() {
    let (app, client) = demo().await;
    let result = call(
        &client,
        "wporg_theme_features",
        json!({"wp_version": "6.6"}),
    )
    .await;
    let groups = ok(&result)["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = groups.iter().filter_map(|g| g["group"].as_str()).collect();
    assert_eq!(names, ["Layout", "Features", "Subject"]);
    let kinds: Vec<&str> = groups.iter().filter_map(|g| g["kind"].as_str()).collect();
    assert_eq!(kinds, ["layout", "features", "subject"]);
    assert!(
        groups[1]["tags"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("full-site-editing")))
    );
    assert!(text(&result).contains("Subject: blog, e-commerce"));
    assert!(sent(&app, THEMES, "action", "feature_list"));
    assert!(sent(&app, THEMES, "request[wp_version]", "6.6"));
}

#[tokio::test]
async fn query_plugins_searches_and_strips_html_from_authors() {
    let (app, client) = demo().await;
    let result = call(
        &client,
        "wporg_query_plugins",
        json!({"tag": "ecommerce", "per_page": 5}),
    )
    .await;
    let found = ok(&result);
    assert_eq!(found["results"], 2);
    assert_eq!(
        slugs(&found["plugins"]),
        ["woocommerce", "woocommerce-payments"]
    );
    let woo = &found["plugins"][0];
    assert_eq!(woo["author"], "Automattic");
    assert_eq!(woo["tested"], "6.6.2");
    assert_eq!(woo["url"], "https://wordpress.org/plugins/woocommerce/");
    for heavy in [
        "sections",
        "versions",
        "banners",
        "contributors",
        "screenshots",
        "icons",
    ] {
        assert!(woo.get(heavy).is_none(), "{heavy} leaked: {woo}");
    }
    assert_eq!(
        found["plugins"][1]["requires_plugins"],
        json!(["woocommerce"])
    );
    let summary = text(&result);
    assert!(
        summary.contains("WooCommerce 9.3.3 (woocommerce) by Automattic"),
        "{summary}"
    );
    assert!(sent(&app, PLUGINS, "action", "query_plugins"));
    assert!(sent(&app, PLUGINS, "request[tag]", "ecommerce"));
    assert!(sent(&app, PLUGINS, "request[per_page]", "5"));
    assert!(sent(&app, PLUGINS, "request[fields][sections]", "false"));
}

#[tokio::test]
async fn query_plugins_rejects_browse_combined_with_search() {
    let (app, client) = demo().await;
    let result = call(
        &client,
        "wporg_query_plugins",
        json!({"browse": "popular", "search": "seo"}),
    )
    .await;
    let message = failed(&result);
    assert!(message.starts_with("Invalid arguments:"), "{message}");
    assert!(message.contains("cannot be combined"), "{message}");
    assert_eq!(app.wporg.hits(PLUGINS), 0);

    let popular = call(&client, "wporg_query_plugins", json!({"browse": "popular"})).await;
    let names = slugs(&ok(&popular)["plugins"]);
    assert_eq!(names.len(), 8);
    assert!(sent(&app, PLUGINS, "request[browse]", "popular"));
}

#[tokio::test]
async fn plugin_info_drops_readme_sections_unless_asked() {
    let (app, client) = demo().await;
    let plain = call(&client, "wporg_plugin_info", json!({"slug": "akismet"})).await;
    let akismet = &ok(&plain)["plugins"][0];
    assert_eq!(akismet["name"], "Akismet Anti-spam: Spam Protection");
    assert_eq!(akismet["author"], "Automattic - Anti-spam Team");
    assert_eq!(akismet["active_installs"], 6_000_000);
    assert!(akismet.get("sections").is_none());
    assert!(akismet.get("versions").is_none());
    let summary = text(&plain);
    assert!(
        summary.contains("Akismet Anti-spam: Spam Protection 5.3.3"),
        "{summary}"
    );
    assert!(summary.contains("1,036 ratings"), "{summary}");
    assert!(sent(&app, PLUGINS, "request[slug]", "akismet"));
    assert!(sent(&app, PLUGINS, "request[fields][sections]", "false"));

    let rich = call(
        &client,
        "wporg_plugin_info",
        json!({"slug": "akismet", "fields": ["sections", "banners", "versions"]}),
    )
    .await;
    let akismet = &ok(&rich)["plugins"][0];
    let sections = &akismet["sections"];
    assert_eq!(sections["changelog"], "5.3.3\n- Bug fixes.");
    assert_eq!(
        sections["installation"],
        "- Upload the plugin files.\n- Activate the plugin."
    );
    assert!(akismet["banners"]["high"].as_str().is_some());
    assert!(akismet["versions"]["5.3.3"].as_str().is_some());
    assert!(sent(&app, PLUGINS, "request[fields][sections]", "true"));
    assert!(sent(&app, PLUGINS, "request[fields][banners]", "true"));
}

#[tokio::test]
async fn plugin_info_for_several_slugs_reports_each() {
    let (_app, client) = demo().await;
    let result = call(
        &client,
        "wporg_plugin_info",
        json!({"slugs": ["jetpack", "not-a-plugin", "classic-editor"]}),
    )
    .await;
    let info = ok(&result);
    assert_eq!(slugs(&info["plugins"]), ["jetpack", "classic-editor"]);
    assert_eq!(info["not_found"], json!(["not-a-plugin"]));
    assert_eq!(
        info["plugins"][0]["name"], "Jetpack – WP Security, Backup, Speed, & Growth",
        "entities are decoded"
    );
}

#[tokio::test]
async fn plugin_info_for_an_unknown_slug_says_how_to_find_the_right_one() {
    let (_app, client) = demo().await;
    let result = call(
        &client,
        "wporg_plugin_info",
        json!({"slug": "no-such-plugin"}),
    )
    .await;
    assert_eq!(
        failed(&result),
        "Plugin \"no-such-plugin\" was not found on WordPress.org. Check the slug, or search \
         with wporg_query_plugins."
    );
}

#[tokio::test]
async fn plugin_info_rejects_an_invalid_slug_without_asking_upstream() {
    let (app, client) = demo().await;
    let result = call(
        &client,
        "wporg_plugin_info",
        json!({"slug": "Contact Form 7"}),
    )
    .await;
    let message = failed(&result);
    assert!(message.contains("not a valid slug"), "{message}");
    assert!(message.contains("wporg_query_plugins"), "{message}");
    assert_eq!(app.wporg.total_hits(), 0);
}

#[tokio::test]
async fn plugin_tags_lists_the_most_used_tags_first() {
    let (app, client) = demo().await;
    let result = call(&client, "wporg_plugin_tags", json!({"number": 2})).await;
    let tags = ok(&result)["tags"].as_array().cloned().unwrap_or_default();
    let slugs: Vec<&str> = tags.iter().filter_map(|t| t["slug"].as_str()).collect();
    assert_eq!(slugs, ["contact-form", "ecommerce"]);
    assert!(text(&result).starts_with("Top 2 plugin tags"));
    assert!(sent(&app, PLUGINS, "action", "hot_tags"));
    assert!(sent(&app, PLUGINS, "request[number]", "2"));
}

#[tokio::test]
async fn plugin_downloads_lists_days_oldest_first_with_the_total() {
    let (app, client) = demo().await;
    let result = call(
        &client,
        "wporg_plugin_downloads",
        json!({"slug": "woocommerce", "limit": 7}),
    )
    .await;
    let stats = ok(&result);
    let days = stats["days"].as_array().cloned().unwrap_or_default();
    assert_eq!(days.len(), 7);
    assert_eq!(days[0]["date"], "2024-09-25");
    assert_eq!(days[6]["date"], "2024-10-01");
    let total: u64 = days.iter().filter_map(|d| d["downloads"].as_u64()).sum();
    assert_eq!(stats["total"], total);
    assert_eq!(stats["average"], total / 7);
    assert!(text(&result).contains("over 7 days (2024-09-25 to 2024-10-01)"));
    let path = "/stats/plugin/1.0/downloads.php";
    assert!(sent(&app, path, "slug", "woocommerce"));
    assert!(sent(&app, path, "limit", "7"));

    let unknown = call(
        &client,
        "wporg_plugin_downloads",
        json!({"slug": "nope-nope"}),
    )
    .await;
    assert!(failed(&unknown).contains("no download statistics for plugin \"nope-nope\""));
}

#[tokio::test]
async fn core_versions_say_whether_a_version_is_secure() {
    let (app, client) = demo().await;
    let result = call(&client, "wporg_core_versions", json!({"version": "6.4.2"})).await;
    let core = ok(&result);
    assert_eq!(core["latest"], "6.6.2");
    assert_eq!(
        core["checked"],
        json!({"version": "6.4.2", "status": "insecure", "secure": false})
    );
    assert_eq!(core["offers"][0]["response"], "upgrade");
    assert_eq!(
        core["offers"][0]["download"],
        "https://downloads.wordpress.org/release/wordpress-6.6.2.zip"
    );
    let secure = core["secure_versions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(secure.first(), Some(&json!("6.6.2")));
    assert!(secure.contains(&json!("6.5.5")));
    assert!(!secure.contains(&json!("6.4.2")));
    assert_eq!(core["insecure_count"], 11);
    let summary = text(&result);
    assert!(summary.contains("6.4.2 is INSECURE"), "{summary}");
    assert!(summary.contains("update to 6.6.2"), "{summary}");
    assert_eq!(app.wporg.hits("/core/version-check/1.7/"), 1);
    assert_eq!(app.wporg.hits("/core/stable-check/1.0/"), 1);

    let outdated = call(&client, "wporg_core_versions", json!({"version": "6.5.5"})).await;
    assert_eq!(ok(&outdated)["checked"]["status"], "outdated");
    assert_eq!(ok(&outdated)["checked"]["secure"], true);
    let bad = call(&client, "wporg_core_versions", json!({"version": "latest"})).await;
    assert!(failed(&bad).contains("\"6.4.2\""));
}

#[tokio::test]
async fn translations_list_language_packs_for_a_plugin() {
    let (app, client) = demo().await;
    let result = call(
        &client,
        "wporg_translations",
        json!({"type": "plugins", "slug": "akismet", "language": "de"}),
    )
    .await;
    let packs = ok(&result);
    assert_eq!(packs["type"], "plugins");
    assert_eq!(packs["slug"], "akismet");
    assert_eq!(packs["count"], 2);
    let first = &packs["translations"][0];
    assert_eq!(first["language"], "de_DE");
    assert_eq!(first["native_name"], "Deutsch");
    assert_eq!(
        first["package"],
        "https://downloads.wordpress.org/translation/plugin/akismet/5.3.3/de_DE.zip"
    );
    assert!(text(&result).contains("German (Switzerland) (de_CH"));
    assert!(sent(&app, "/translations/plugins/1.0/", "slug", "akismet"));

    let core = call(&client, "wporg_translations", json!({})).await;
    assert_eq!(ok(&core)["count"], 6);
    let missing = call(&client, "wporg_translations", json!({"type": "themes"})).await;
    assert!(failed(&missing).contains("`slug` is required"));
}

#[tokio::test]
async fn events_list_wordcamps_and_meetups_near_a_city() {
    let (app, client) = demo().await;
    let result = call(
        &client,
        "wporg_events",
        json!({"location": "Berlin", "number": 2}),
    )
    .await;
    let found = ok(&result);
    assert_eq!(found["location"]["description"], "Berlin");
    assert_eq!(found["location"]["country"], "DE");
    let events = found["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["type"], "wordcamp");
    assert_eq!(events[1]["title"], "WordCamp Berlin 2025");
    assert_eq!(events[1]["url"], "https://berlin.wordcamp.org/2025/");
    assert_eq!(events[1]["end_date"], "2025-05-17 18:00:00");
    assert_eq!(events[1]["location"], "Berlin, Germany");
    let summary = text(&result);
    assert!(
        summary.contains("2 upcoming WordPress events near Berlin"),
        "{summary}"
    );
    assert!(sent(&app, "/events/1.0/", "location", "Berlin"));
    assert!(sent(&app, "/events/1.0/", "number", "2"));

    let nearby = call(
        &client,
        "wporg_events",
        json!({"latitude": 41.15, "longitude": -8.61}),
    )
    .await;
    assert_eq!(ok(&nearby)["events"][0]["title"], "WordCamp Porto 2025");
}

#[tokio::test]
async fn events_for_an_unknown_place_suggest_what_to_try() {
    let (_app, client) = demo().await;
    let result = call(&client, "wporg_events", json!({"location": "Atlantis"})).await;
    let message = failed(&result);
    assert!(
        message.contains("could not find a place called \"Atlantis\""),
        "{message}"
    );
    assert!(message.contains("latitude and longitude"), "{message}");
    let nowhere = call(&client, "wporg_events", json!({})).await;
    assert!(failed(&nowhere).contains("say where"));
}

#[tokio::test]
async fn patterns_resolve_category_slugs_and_cut_long_markup() {
    let (app, client) = demo().await;
    let result = call(
        &client,
        "wporg_patterns",
        json!({"category": "header", "per_page": 5}),
    )
    .await;
    let found = ok(&result);
    assert_eq!(found["count"], 2);
    let first = &found["patterns"][0];
    assert_eq!(first["id"], 101);
    assert_eq!(first["title"], "Simple header with site title & navigation");
    assert_eq!(first["category_slugs"], json!(["header"]));
    assert_eq!(first["keyword_slugs"], json!(["navigation", "logo"]));
    let long = &found["patterns"][1];
    assert_eq!(long["content_truncated"], true);
    assert!(
        long["content"]
            .as_str()
            .is_some_and(|c| c.chars().count() <= 300)
    );
    assert!(sent(&app, "/patterns/1.0/", "pattern-categories", "2"));
    assert!(sent(&app, "/patterns/1.0/", "per_page", "5"));
    assert!(text(&result).contains("Large header with cover image (id 102) — header"));

    let full = call(
        &client,
        "wporg_patterns",
        json!({"search": "pricing", "include_content": true}),
    )
    .await;
    let pricing = &ok(&full)["patterns"][0];
    assert_eq!(pricing["content_truncated"], false);
    assert!(
        pricing["content"]
            .as_str()
            .is_some_and(|c| c.ends_with("<!-- /wp:group -->"))
    );

    let unknown = call(&client, "wporg_patterns", json!({"category": "nope"})).await;
    assert!(failed(&unknown).contains("header, footer, gallery"));
}

#[tokio::test]
async fn every_tool_answers_with_what_its_output_schema_requires() {
    let (_app, client) = demo().await;
    let calls = [
        (Operation::QueryThemes, json!({"search": "twenty"})),
        (Operation::ThemeInfo, json!({"slug": "astra"})),
        (Operation::ThemeTags, json!({})),
        (Operation::ThemeFeatures, json!({})),
        (Operation::QueryPlugins, json!({"search": "seo"})),
        (Operation::PluginInfo, json!({"slug": "jetpack"})),
        (Operation::PluginTags, json!({})),
        (Operation::PluginDownloads, json!({"slug": "akismet"})),
        (Operation::CoreVersions, json!({})),
        (
            Operation::Translations,
            json!({"type": "themes", "slug": "twentytwentyfour"}),
        ),
        (Operation::Events, json!({"country": "PT"})),
        (Operation::Patterns, json!({"search": "footer"})),
    ];
    assert_eq!(calls.len(), Operation::ALL.len());
    for (op, args) in calls {
        let result = call(&client, op.default_name(), args).await;
        let structured = ok(&result);
        assert!(structured.is_object(), "{op:?}");
        let schema = op.output_schema();
        let required = schema
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for key in required {
            let key = key.as_str().unwrap_or_default();
            assert!(
                structured.get(key).is_some(),
                "{op:?} lacks {key}: {structured}"
            );
        }
        assert!(!text(&result).is_empty(), "{op:?} has a summary");
    }
}

#[tokio::test]
async fn unknown_and_out_of_range_arguments_are_tool_errors() {
    let (app, client) = demo().await;
    let unknown = call(&client, "wporg_query_themes", json!({"serch": "blue"})).await;
    let message = failed(&unknown);
    assert!(message.contains("unknown field `serch`"), "{message}");
    assert!(message.contains("`search`"), "{message}");
    let range = call(&client, "wporg_query_plugins", json!({"per_page": 500})).await;
    assert!(failed(&range).contains("`per_page` must be between 1 and 100"));
    let field = call(
        &client,
        "wporg_plugin_info",
        json!({"slug": "akismet", "fields": ["everything"]}),
    )
    .await;
    assert!(failed(&field).contains("the extra fields available are: sections"));
    let kind = call(&client, "wporg_theme_tags", json!({"number": "ten"})).await;
    assert!(failed(&kind).contains("invalid type"));
    assert_eq!(app.wporg.total_hits(), 0);
}

#[tokio::test]
async fn an_upstream_server_error_is_a_tool_error_that_suggests_retrying() {
    let (app, client) = demo().await;
    app.wporg.fail(THEMES, Some(Failure::Status(500)));
    let result = call(&client, "wporg_theme_info", json!({"slug": "astra"})).await;
    let message = failed(&result);
    assert!(message.contains("HTTP 500"), "{message}");
    assert!(message.contains("try again"), "{message}");
    assert_eq!(app.wporg.hits(THEMES), 1, "500 is not retried");

    app.wporg.fail(THEMES, None);
    let healed = call(&client, "wporg_theme_info", json!({"slug": "astra"})).await;
    ok(&healed);
    assert_eq!(app.wporg.hits(THEMES), 2, "errors are not cached");
}

#[tokio::test]
async fn an_upstream_hang_is_a_tool_error_within_the_timeout() {
    let app = TestApp::spawn_with(TestOptions {
        wporg_timeout_ms: 300,
        ..TestOptions::default()
    })
    .await;
    let client = app.mcp_client("demo", Era::Sessions).await;
    app.wporg.fail(PLUGINS, Some(Failure::Hang));
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        call(&client, "wporg_plugin_info", json!({"slug": "akismet"})),
    )
    .await
    .expect("the call ends long before the test gives up");
    let elapsed = started.elapsed();
    let message = failed(&result);
    assert_eq!(
        message,
        "WordPress.org did not answer within 0.3 s; try again in a moment."
    );
    // One attempt and one retry, each bounded by the 300 ms time-out.
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(app.wporg.hits(PLUGINS), 2, "a time-out is retried once");
}

#[tokio::test]
async fn invalid_json_from_upstream_is_a_tool_error() {
    let (app, client) = demo().await;
    app.wporg.fail(PLUGINS, Some(Failure::InvalidJson));
    let result = call(&client, "wporg_query_plugins", json!({"search": "cache"})).await;
    let message = failed(&result);
    assert!(message.contains("could not be read"), "{message}");
    assert!(message.contains("try again"), "{message}");
}

#[tokio::test]
async fn the_same_call_twice_reaches_upstream_once() {
    let (app, client) = demo().await;
    let args = json!({"search": "cache", "per_page": 3});
    let first = call(&client, "wporg_query_plugins", args.clone()).await;
    let second = call(&client, "wporg_query_plugins", args).await;
    assert_eq!(ok(&first), ok(&second));
    assert_eq!(app.wporg.hits(PLUGINS), 1);
    // Another page is another request.
    call(
        &client,
        "wporg_query_plugins",
        json!({"search": "cache", "per_page": 3, "page": 2}),
    )
    .await;
    assert_eq!(app.wporg.hits(PLUGINS), 2);
}

#[tokio::test]
async fn concurrent_identical_calls_reach_upstream_once() {
    let (app, client) = demo().await;
    let hold = app.wporg.hold();
    let calls = futures::future::join_all(
        (0..16).map(|_| call(&client, "wporg_theme_info", json!({"slug": "kadence"}))),
    );
    let release = async {
        hold.arrived(1).await;
        hold.release();
    };
    let (results, ()) = tokio::join!(calls, release);
    assert_eq!(results.len(), 16);
    for result in &results {
        assert_eq!(ok(result)["themes"][0]["slug"], "kadence");
    }
    assert_eq!(app.wporg.hits(THEMES), 1);
}

#[tokio::test]
async fn a_failed_request_is_retried_once() {
    let (app, client) = demo().await;
    app.wporg.fail(THEMES, Some(Failure::FailOnce(503)));
    let result = call(&client, "wporg_theme_tags", json!({"number": 5})).await;
    assert_eq!(ok(&result)["tags"].as_array().map(Vec::len), Some(5));
    assert_eq!(app.wporg.hits(THEMES), 2);

    app.wporg.fail(PLUGINS, Some(Failure::FailOnce(404)));
    let not_found = call(&client, "wporg_plugin_info", json!({"slug": "akismet"})).await;
    failed(&not_found);
    assert_eq!(app.wporg.hits(PLUGINS), 1, "4xx is never retried");
}
