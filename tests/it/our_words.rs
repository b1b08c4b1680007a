//! End users and models read Tollgate's words, not a parser's (issue 14.6): every end-user
//! page answers a mangled link with its own page, the sandbox checkout says what is bought and
//! for how much, and a tool's error names the tools as this tenant calls them.

use reqwest::{Method, StatusCode};
use rmcp::model::CallToolRequestParams;
use serde_json::json;
use tollgate_tests::admin::Operator;
use tollgate_tests::browser::OAuthClient;
use tollgate_tests::webdriver::{Chromium, WIDTHS};
use tollgate_tests::{Era, TestApp};

/// What axum's extractors and serde say when they fail; none of it may reach a person.
const PARSER_WORDS: [&str; 6] = [
    "Invalid URL",
    "Cannot parse",
    "Failed to deserialize",
    "missing field",
    "invalid type",
    "UUID parsing failed",
];

#[tokio::test]
async fn bad_links_on_end_user_pages_get_our_pages() {
    let app = TestApp::spawn().await;
    let unknown = uuid::Uuid::new_v4();
    let pages: Vec<(Method, String)> = [
        "/t/demo/pay/bogus",
        "/t/demo/pay/bogus/success",
        "/t/demo/pay/bogus/cancel",
        &format!("/t/demo/pay/{unknown}"),
        &format!("/t/demo/pay/{unknown}/success"),
        "/t/demo/sandbox/checkout/bogus",
        "/t/demo/account",
        "/t/demo/account?user=bogus&expires=soon&sig=x",
        &format!("/t/demo/account?user={unknown}&expires=-1&sig=x"),
        "/t/demo/oauth/authorize",
        "/t/demo/oauth/authorize?client_id=nope",
        "/t/demo/oauth/local",
        "/t/demo/oauth/local?request=bogus",
        "/t/demo/oauth/callback/github",
        "/t/demo/oauth/callback/github?code=x&state=y",
        "/t/nobody/pay/bogus",
    ]
    .into_iter()
    .map(|path| (Method::GET, path.to_owned()))
    .chain([
        (Method::POST, "/t/demo/oauth/consent".to_owned()),
        (Method::POST, "/t/demo/oauth/local".to_owned()),
        (Method::POST, "/t/demo/sandbox/checkout/bogus".to_owned()),
    ])
    .collect();
    for (method, path) in pages {
        let mut request = app
            .http()
            .request(method.clone(), format!("{}{path}", app.url));
        if method == Method::POST {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body("");
        }
        let answer = request.send().await.expect("the page answers");
        let status = answer.status();
        let content_type = answer
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = answer.text().await.expect("a body");
        assert!(status.is_client_error(), "{method} {path}: {status}");
        assert!(
            content_type.starts_with("text/html"),
            "{method} {path}: {content_type}: {body}"
        );
        assert!(body.contains("<h1>"), "{method} {path}: our page: {body}");
        for words in PARSER_WORDS {
            assert!(!body.contains(words), "{method} {path}: {body}");
        }
    }

    // In a browser, at both widths.
    let browser = Chromium::launch().await.expect("Chromium starts");
    for (width, height) in WIDTHS {
        browser
            .set_window_size(width, height)
            .await
            .expect("resize");
        browser
            .goto(&format!("{}/t/demo/pay/bogus", app.url))
            .await
            .expect("the page");
        browser
            .wait_for_text("body", "This payment link is unknown")
            .await
            .expect("our words");
        browser.shot(&format!("words-pay-bogus-{width}")).await;
    }
    let _ = browser.quit().await;
}

async fn tool_id(owner: &Operator, name: &str) -> String {
    let tools = owner.get("/api/v1/tenants/demo/tools").await.body;
    tools
        .as_array()
        .expect("a list")
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["id"].as_str())
        .unwrap_or_else(|| panic!("no tool {name} in {tools}"))
        .to_owned()
}

#[tokio::test]
async fn the_sandbox_checkout_shows_the_item_and_its_price() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    let offer = owner
        .post(
            "/api/v1/tenants/demo/offers",
            json!({"name": "Theme pack", "kind": "one_time", "price_id": "price_sandbox_theme_pack", "amount": 700, "currency": "usd", "calls": 50}),
        )
        .await;
    assert_eq!(offer.status, StatusCode::CREATED, "{:?}", offer.body);
    let themes = tool_id(&owner, "wporg_query_themes").await;
    let priced = owner
        .patch(
            &format!("/api/v1/tenants/demo/tools/{themes}"),
            json!({"offer_id": offer.body["id"]}),
        )
        .await;
    assert_eq!(priced.status, StatusCode::OK, "{:?}", priced.body);

    let tokens = OAuthClient::register(&app, "demo").await.sign_in().await;
    let token = tokens["access_token"].as_str().expect("an access token");
    let user = app
        .mcp_client_with_token("demo", Era::Sessions, token)
        .await;
    let asked = user
        .call_tool(
            CallToolRequestParams::new("wporg_query_themes").with_arguments(
                json!({"search": "portfolio"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await
        .expect("tools/call answers");
    let _ = user.cancel().await;
    let structured = asked.structured_content.expect("a payment answer");
    let link = structured["checkout_url"].as_str().expect("a payment link");

    let browser = Chromium::launch().await.expect("Chromium starts");
    for (width, height) in WIDTHS {
        browser
            .set_window_size(width, height)
            .await
            .expect("resize");
        browser.goto(link).await.expect("the payment page");
        browser
            .click("button.primary")
            .await
            .expect("Continue to checkout");
        browser
            .wait_for_text("p.demo", "TEST MODE")
            .await
            .expect("the sandbox checkout");
        let page = browser.text("body").await.expect("the page");
        assert!(page.contains("Theme pack"), "the item: {page}");
        assert!(page.contains("$7.00 for 50 calls"), "its price: {page}");
        browser
            .shot(&format!("words-sandbox-checkout-{width}"))
            .await;
    }
    let _ = browser.quit().await;
}

#[tokio::test]
async fn a_tool_error_names_the_tools_as_the_tenant_calls_them() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    let search = tool_id(&owner, "wporg_query_plugins").await;
    let renamed = owner
        .patch(
            &format!("/api/v1/tenants/demo/tools/{search}"),
            json!({"name": "find_plugins"}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);

    let tokens = OAuthClient::register(&app, "demo").await.sign_in().await;
    let token = tokens["access_token"].as_str().expect("an access token");
    let user = app
        .mcp_client_with_token("demo", Era::Sessions, token)
        .await;
    let failed = user
        .call_tool(
            CallToolRequestParams::new("wporg_plugin_downloads").with_arguments(
                json!({"slug": "Not A Slug!"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await
        .expect("tools/call answers");
    let _ = user.cancel().await;
    assert_eq!(failed.is_error, Some(true), "{failed:?}");
    let text = failed
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("find_plugins"), "the tenant's name: {text}");
    assert!(
        !text.contains("wporg_query_plugins"),
        "not the catalog's name: {text}"
    );
}
